"""The benchmark suite: every performance target (B1-B9 of docs/performance.md) measured
against its floor in one run. Entry point: ``python -m bench`` (``make bench``,
``make bench-quick``)."""
