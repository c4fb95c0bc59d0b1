"""Tests of cnnsweep.data: the catalog, the official formats, sources, cache and loading."""
