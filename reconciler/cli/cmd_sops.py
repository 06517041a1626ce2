"""Placeholder while the sops commands are being written (replaced in this same change)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    return None
