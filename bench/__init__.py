"""Benchmarks (``make bench``): figures with ratios to baselines measured in the same run."""
