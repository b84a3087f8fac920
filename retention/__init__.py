"""Retention rules, legal holds, erasure and the sweeper."""
