"""Benchmarks, run by `make bench` (bench/run.py); see bench/README.md."""
