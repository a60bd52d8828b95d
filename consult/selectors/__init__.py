"""Reads only: pure queries, no writes and no service imports (see docs/ARCHITECTURE.md)."""
