"""Benchmarks: each prints medians and the ratio against a named peer run the same way in the same run."""
