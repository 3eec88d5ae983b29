"""Benchmarks: each prints a table of measured figures against the product's targets, asserts nothing."""
