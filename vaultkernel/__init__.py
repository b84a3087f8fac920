"""The kernel: what every domain package uses and that knows none of them.

Database and unit of work, clock, the base domain error, AES-GCM sealing, the policy file
model, jobs (leases), settings, the mailer, logging and the request id. It imports no
domain package, no ``schema`` and no ``membervault`` (``tests/test_layout.py``).
"""
