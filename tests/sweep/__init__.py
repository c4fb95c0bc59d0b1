"""Tests of cnnsweep.sweep: search spaces, settings, storage, study, workers and records."""
