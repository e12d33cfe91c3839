"""Benchmarks of the goldenpath kit; each compares against the raw library in the same run."""
