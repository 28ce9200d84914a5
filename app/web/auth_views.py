"""Log-in and log-out (by POST only)."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from app.errors import PermissionDeniedError
from app.services import audit, auth
from app.web.access import LOGIN_AT, Account, current_person, db, login_required, remote_addr
from app.web.extensions import get_runtime

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no `//`) is followed after log-in.

    Whitespace and control characters are refused outright: browsers and Werkzeug drop a tab
    or line break from a URL, so `/<TAB>/evil.example` would become `//evil.example`.
    """
    if not target or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in target):
        return "/"
    parts = urlsplit(target)
    if (target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not parts.scheme and not parts.netloc):
        return target
    return "/"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    """The log-in form; a success starts a fresh session."""
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        person = auth.authenticate(
            db(), email, request.form.get("password", ""),
            remote_addr=remote_addr(), now=get_runtime().now(),
        )
    except PermissionDeniedError as error:
        flash(str(error), "error")
        return render_template("auth/login.html", next=request.form.get("next", ""), email=email), 401
    session.clear()  # no fixation: a new session for the new identity
    login_user(Account(person))
    session[LOGIN_AT] = get_runtime().now().timestamp()  # the lifetime counts from here
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """End the session."""
    person = current_person()
    audit.record(db(), "logout", actor=person, remote_addr=remote_addr())
    # A copy of the cookie (a shared PC, a proxy log) must not outlive the log-out: the new
    # epoch no longer matches any session id issued before.
    person.session_epoch = (person.session_epoch or 0) + 1
    logout_user()
    session.clear()
    flash("Du er logget ud.", "info")
    return redirect("/login", code=303)
