"""Transcripts as evidence: hash chain, statements, keys, Merkle log (docs/RECORDS.md)."""
