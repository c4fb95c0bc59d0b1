"""End-to-end tests: real commands and real sweeps in subprocesses, on small data."""
