"""Tests of cnnsweep.report: collecting, evaluating, drawing and building reports."""
