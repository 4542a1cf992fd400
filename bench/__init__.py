"""Vigil's benchmarks (never part of `make test`): see bench/README.md."""
