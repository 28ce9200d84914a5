"""Domain errors mapped to HTTP answers, with Danish error pages.

PermissionDeniedError → 403 (the refusal the service recorded is committed, nothing else was
changed); NotFoundError → 404; InvalidActionError → a flash and back to the page on a form
post, 400 otherwise. The last two roll the request's work back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.errors import InvalidActionError, NotFoundError, PermissionDeniedError


def _rollback() -> None:
    """Undo the request's work before answering with an error."""
    session = g.get("db")
    if session is not None:
        session.rollback()


def _page(status: int, title: str, message: str) -> tuple[str, int]:
    """The error page with a Danish title and message."""
    return render_template("error.html", title=title, message=message, status=status), status


def safe_back_url(fallback: str) -> str:
    """The page the form was posted from, if it is ours; else `fallback`."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if referrer and parts.netloc == request.host and parts.path.startswith("/"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return fallback


def _back_to() -> str:
    """Where a refused form goes back to: its ticket or mail (browsers send no Referer here)."""
    args = request.view_args or {}
    if "ticket_id" in args:
        return url_for("tickets.show", ticket_id=args["ticket_id"])
    if "message_id" in args:
        return url_for("queue.message", message_id=args["message_id"])
    return safe_back_url("/")


def _record_csrf_refusal(error: CSRFError) -> None:
    """Write `csrf_refused` to the audit log: who (if anyone is logged in), where, from where."""
    from flask_login import current_user

    from app.services import audit
    from app.web.access import db, remote_addr

    person = current_user.person if current_user.is_authenticated else None
    audit.record(db(), "csrf_refused", actor=person, actor_label="anonymous",
                 detail={"path": request.path, "method": request.method,
                         "why": str(error.description)[:200]},
                 remote_addr=remote_addr())


def register_error_pages(app: Flask) -> None:
    """Install the handlers on `app`."""

    @app.errorhandler(PermissionDeniedError)
    def _forbidden(error: PermissionDeniedError) -> tuple[str, int]:
        """403; the service has recorded the refusal, which is committed after this."""
        return _page(403, "Ingen adgang", str(error) or "Du har ikke ret til dette.")

    @app.errorhandler(NotFoundError)
    def _not_found(error: NotFoundError) -> tuple[str, int]:
        """404 for something that does not exist."""
        _rollback()
        return _page(404, "Findes ikke", str(error) or "Siden findes ikke.")

    @app.errorhandler(InvalidActionError)
    def _invalid(error: InvalidActionError) -> Response | tuple[str, int]:
        """Back to the form with the reason on a post; 400 otherwise."""
        _rollback()
        if request.method == "POST":
            flash(str(error), "error")
            return redirect(_back_to(), code=303)
        return _page(400, "Ikke muligt", str(error))

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        """400 for a form without a valid CSRF token; recorded, as it may be a forged request."""
        _rollback()
        _record_csrf_refusal(error)
        return _page(400, "Formularen er udløbet", "Genindlæs siden og prøv igen.")

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int] | HTTPException:
        """Danish pages for the other HTTP errors (404 of unknown paths, 405, …)."""
        if error.code is None or error.code < 400:
            return error
        _rollback()
        return _page(error.code, error.name, error.description or "")
