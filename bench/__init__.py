"""Benchmarks: run with `make bench`; results go to docs/performance.md."""
