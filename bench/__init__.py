"""Benchmark of the platform: a data set generator, a load driver and `python bench/run.py`.

See BENCHMARKS.md for how to run it and what the figures mean.
"""
