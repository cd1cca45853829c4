"""Inbound formats → domain signals. Pure translation: no database, no HTTP.

Each module parses one sender's body (validated with pydantic straight from
the raw bytes) and returns `Signal`s, or raises `BadPayload` naming the field.
"""
