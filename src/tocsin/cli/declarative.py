"""Config as code: `tocsin validate` and `tocsin apply`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add validate and apply to the `tocsin` app."""
