"""The `tocsin` command: local commands (serve, migrate, token, validate, apply)
work on the database; the rest talk to a server over HTTP like `gh` does."""
