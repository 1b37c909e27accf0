"""Benchmarks: speed and memory ratios measured in one run each (`python -m bench NAME`)."""
