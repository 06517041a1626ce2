"""wix-secrets: a declarative GitOps reconciler for the Wix Secrets Manager.

This module holds only the version; importing it must stay free of side effects and heavy imports
so that ``wix-secrets --version`` starts fast.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
