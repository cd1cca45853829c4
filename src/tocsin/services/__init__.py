"""Use cases. They flush, never commit, and make no network calls: the caller
(a request, an engine cycle, a CLI command) owns the transaction."""
