"""Audit trail of administrative changes and, later, the hash-chained access log."""
