"""Purposes, the policy file, consent ledger and access decisions."""
