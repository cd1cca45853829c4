"""Incident roles shipped by default; teams rename or add their own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoleDefinition:
    key: str
    name: str
    description: str


DEFAULT_ROLES = (
    RoleDefinition("commander", "Incident commander", "Owns the response and its decisions"),
    RoleDefinition("communications", "Communications lead", "Status updates, customers and stakeholders"),
    RoleDefinition("scribe", "Technical lead / scribe", "Drives the technical work and keeps the timeline"),
    RoleDefinition("ops", "Ops", "Infrastructure and operations"),
    RoleDefinition("dev", "Dev", "Application changes and rollbacks"),
)
