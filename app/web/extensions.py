"""The Flask extensions of the web view, created unbound and bound in `create_app`."""

from __future__ import annotations

from flask import current_app
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from app.runtime import Runtime

login_manager = LoginManager()
csrf = CSRFProtect()

RUNTIME_KEY = "dubu_runtime"


def get_runtime() -> Runtime:
    """The Runtime (settings, database, clock) of the running app."""
    return current_app.extensions[RUNTIME_KEY]
