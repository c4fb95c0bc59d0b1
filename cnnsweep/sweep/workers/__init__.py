"""Where worker loops run."""
