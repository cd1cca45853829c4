"""Commands that talk to a Tocsin server over HTTP."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the remote commands to the `tocsin` app."""
