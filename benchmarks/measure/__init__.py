"""The benchmarks, one module each, and what they share; ``benchmarks.run`` is their command."""
