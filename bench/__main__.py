"""``python -m bench [--quick] [--db sqlite|postgresql|all] [--only B1,B5]``."""

from __future__ import annotations

import sys

from bench.runner import main

sys.exit(main())
