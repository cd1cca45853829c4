"""Pure rules: no I/O, no SQLAlchemy, no FastAPI; time is always a parameter."""
