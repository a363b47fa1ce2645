"""The box's web page, served by `edge run`: cameras with their live picture and counts, the line editor, and
/metrics for Prometheus (app.py: routes; auth.py: password, sessions, CSRF; lines.py: saving box.toml;
state.py: what the page shows; server.py: uvicorn in a thread; static/: the page itself)."""
