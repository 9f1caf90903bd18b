"""`python -m acceptance` (what `make acceptance` runs)."""

from __future__ import annotations

import sys

from acceptance.cli import main

sys.exit(main())
