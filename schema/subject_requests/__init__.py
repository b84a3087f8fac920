"""Data subject requests, their export downloads, erasure certificates and the
recipients that have not acknowledged an erasure."""
