"""The captured payloads of ../shared/protocols, copied into tests/fixtures/protocols."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protocols"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


def captured_requests(name: str) -> list[dict[str, Any]]:
    """Requests recorded by the capture server: method, path, headers, body as sent."""
    data = load(name)
    requests: list[dict[str, Any]] = data["requests"] if isinstance(data, dict) else data
    return requests
