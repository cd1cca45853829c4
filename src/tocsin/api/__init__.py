"""REST API under /api/v1; the only layer that knows HTTP status codes."""
