"""The superusers' web view (Flask): `create_app` builds it from settings.

No migrations, network calls or scheduler here (STYLE.md 1, 8): the database must already
exist (`dubu-triage init-db`), and the worker is a process of its own.
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta

from flask import Flask, Response, g

from app.runtime import Runtime, open_runtime
from app.settings import Settings, load_settings, secret_key

log = logging.getLogger(__name__)

# Every blueprint of the view; a module that does not exist yet is skipped with a log line.
BLUEPRINT_MODULES: tuple[str, ...] = (
    "app.web.auth_views",
    "app.web.queue_views",
    "app.web.ticket_views",
    "app.web.forwarding_views",
    "app.web.audit_views",
    "app.web.reports_views",
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app for `settings` (default: the configured ones) or an open Runtime."""
    from app.web import access  # noqa: F401 - installs the user loader
    from app.web.error_pages import register_error_pages
    from app.web.extensions import RUNTIME_KEY, csrf, login_manager

    if runtime is None:
        runtime = open_runtime(settings or load_settings())
    settings = runtime.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME="dubu_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.instance.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.instance.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        # Flask-WTF's strict mode demands a Referer on HTTPS posts, but Referrer-Policy:
        # no-referrer means browsers send none: every form would fail. The token and
        # SameSite=Lax cookies carry the protection.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,  # forms only; nothing large is uploaded
    )
    app.extensions[RUNTIME_KEY] = runtime
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log ind for at se siden."
    login_manager.session_protection = "strong"
    _register_request_hooks(app)
    register_error_pages(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """Import each blueprint module and register its `bp`; skip those not written yet.

    A module may declare `NAV = ((endpoint, label, roles), ...)`: links for the main menu,
    shown to the given roles (an empty tuple: to everyone logged in).
    """
    nav: list[tuple[str, str, tuple[str, ...]]] = []
    for name in BLUEPRINT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            log.info("blueprint module %s does not exist yet; skipped", name)
            continue
        app.register_blueprint(module.bp)
        nav.extend((e, label, tuple(str(r) for r in roles)) for e, label, roles in getattr(module, "NAV", ()))
    _register_template_context(app, tuple(nav))


def _register_template_context(app: Flask, nav: tuple[tuple[str, str, tuple[str, ...]], ...]) -> None:
    """What every template may use: the menu for the current person, Danish role names."""
    from flask_login import current_user

    from app.web.extensions import RUNTIME_KEY
    from app.web.labels import ROLE_NAMES

    app.add_template_filter(_label, "label")
    app.add_template_filter(_localtime(app), "localtime")

    @app.context_processor
    def _context() -> dict[str, object]:
        """Menu links the logged-in person's role may see."""
        role = current_user.person.role if current_user.is_authenticated else None
        links = [(e, label) for e, label, roles in nav if not roles or role in roles]
        prefix = app.extensions[RUNTIME_KEY].settings.instance.ticket_prefix
        return {"nav_links": links, "role_names": ROLE_NAMES, "ticket_prefix": prefix}


def _register_request_hooks(app: Flask) -> None:
    """One session per request (opened by access.db()), committed in one place; headers."""

    @app.after_request
    def _commit_and_harden(response: Response) -> Response:
        """Commit the request's work (an error page rolled back already), then add headers."""
        session = g.pop("db", None)
        if session is not None:
            try:
                session.commit()
            finally:
                session.close()
        _security_headers(response, https=bool(app.config["SESSION_COOKIE_SECURE"]))
        return response

    @app.teardown_request
    def _close_session(_error: BaseException | None) -> None:
        """An unhandled error leaves the session here: roll it back and close it."""
        session = g.pop("db", None)
        if session is not None:
            session.rollback()
            session.close()


def _security_headers(response: Response, *, https: bool) -> None:
    """A strict CSP and friends; pages with child-welfare data are never cached.

    Behind TLS (`instance.secure_cookies`) browsers are told to use HTTPS only, so the session
    cookie never travels over a downgraded plain-HTTP connection.
    """
    headers = response.headers
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html" or "Content-Disposition" in headers:
        headers.setdefault("Cache-Control", "no-store")


def _label(value: str | None, kind: str) -> str:
    """The Danish name of a code (`{{ t.topic|label('topic') }}`); unknown codes as they are."""
    from app.web.labels import ALL_LABELS

    return ALL_LABELS.get(kind, {}).get(value or "", value or "–")


def _localtime(app: Flask):  # type: ignore[no-untyped-def]
    """A filter showing a UTC time in the municipality's timezone: 28.11.2026 14:05."""
    from zoneinfo import ZoneInfo

    from app.web.extensions import RUNTIME_KEY

    zone = ZoneInfo(app.extensions[RUNTIME_KEY].settings.instance.timezone)

    def localtime(value: object, fmt: str = "%d.%m.%Y %H:%M") -> str:
        """Format one datetime; None as a dash."""
        if value is None or not hasattr(value, "astimezone"):
            return "–"
        return value.astimezone(zone).strftime(fmt)  # type: ignore[union-attr]

    return localtime
