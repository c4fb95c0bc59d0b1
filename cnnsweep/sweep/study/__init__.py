"""The study as stored truth."""
