"""Benchmarks of tuneflows against Ray Tune 2.x (see benchmarks/README.md)."""
