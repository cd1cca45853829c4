"""Ingest endpoints for Opsgenie, Grafana and generic JSON webhooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ingest"])
