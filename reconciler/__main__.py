"""``python -m reconciler``: the same entry point as the ``wix-secrets`` console script."""

from __future__ import annotations

import sys

from reconciler.cli import main

if __name__ == "__main__":
    sys.exit(main())
