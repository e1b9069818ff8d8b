"""Synthetic sources with a known truth: Sentinel-2 L2A series and seizure tables (for the demo, tests, benchmarks)."""
