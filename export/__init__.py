"""Data subject requests, export packages and erasure certificates (issue 4)."""
