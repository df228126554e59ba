"""Streaming jobs the benchmarks run (each a ``python -m`` module)."""
