"""Benchmarks: what the token mechanism costs, and what its single-flight refresh saves."""
