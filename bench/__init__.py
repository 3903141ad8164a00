"""Benchmarks: each module has ``run() -> list[dict]``; ``python bench/run.py`` prints them all."""
