"""Benchmarks of mmed (figures, not tests): `python -m benchmarks.run` writes docs/BENCHMARKS.md."""
