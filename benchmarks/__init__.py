"""Reproducible benchmarks (run as scripts: ``python -m benchmarks.<name> --help``)."""
