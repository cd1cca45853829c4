"""The responders' web app and the public status page: server-rendered Jinja2 + HTMX.

Nothing here is fetched from the internet at run time: HTMX is vendored under
static/, and charts are SVG drawn on the server (web/charts.py)."""
