-- A plain GET of the URL given to wrk (the status page benchmark); counts what is not a 200.
wrk.method = "GET"
wrk.headers["Accept-Encoding"] = "identity"
