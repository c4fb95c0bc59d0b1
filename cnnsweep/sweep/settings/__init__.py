"""What the user asked."""
