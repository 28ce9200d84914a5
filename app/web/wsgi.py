"""The production entry point for gunicorn, behind one reverse proxy (docs/WEB.md):

    gunicorn --workers 3 --bind 127.0.0.1:8000 'app.web.wsgi:production_app()'
"""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.web import create_app


def production_app() -> Flask:
    """The app from $DUBU_TRIAGE_CONFIG, trusting X-Forwarded-For/-Proto from the proxies.

    DUBU_TRIAGE_PROXIES (default 1) is how many proxies stand in front; the client address
    they pass on is what the log-in rate limit and the audit log see.
    """
    app = create_app()
    proxies = int(os.environ.get("DUBU_TRIAGE_PROXIES", "1"))
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    return app
