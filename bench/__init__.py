"""Benchmark harness for Loket (not part of the installed package)."""
