"""Throughput, memory and concurrency benchmarks of the pipelines against the sandbox.

`python -m bench --rows 1000000` (or `make bench`); see bench/README.md for the method."""
