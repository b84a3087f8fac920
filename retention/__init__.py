"""Retention rules, legal holds and the sweeper (issue 5)."""
