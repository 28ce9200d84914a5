"""Log-in and role checks for views, and the request's database session.

Permission to *act* is decided in the services (app/services/*); `role_required` only keeps
whole pages away from roles that have no business there, and records the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request, session
from flask_login import UserMixin, current_user
from sqlalchemy.orm import Session

from app.domain import Role
from app.errors import PermissionDeniedError
from app.models import Person
from app.services import audit
from app.web.extensions import get_runtime, login_manager

F = TypeVar("F", bound=Callable[..., Any])


class Account(UserMixin):
    """The logged-in person as Flask-Login sees it.

    The id carries the tail of the password hash, so changing a password ends every other
    session of that person, and the person's session epoch, so logging out ends them all.
    """

    def __init__(self, person: Person) -> None:
        """Wrap a Person loaded in this request's session."""
        self.person = person

    def get_id(self) -> str:
        """`<person id>:<session epoch>:<hash tail>`, stored in the signed session cookie."""
        return session_id(self.person)

    @property
    def is_active(self) -> bool:
        """Only active people of the configuration may use the view."""
        return bool(self.person.active)


def db() -> Session:
    """The request's one session, opened on first use; committed once, after the view."""
    if "db" not in g:
        g.db = get_runtime().sessions()
    return g.db  # type: ignore[no-any-return]


def current_person() -> Person:
    """The logged-in Person (views behind `login_required` or `role_required` only)."""
    return current_user.person  # type: ignore[no-any-return]


def remote_addr() -> str | None:
    """The client's address as the WSGI server saw it (ProxyFix handles proxies)."""
    return request.remote_addr


def session_id(person: Person) -> str:
    """What a session of `person` is known by; it changes at log-out and with the password."""
    return f"{person.id}:{person.session_epoch or 0}:{(person.password_hash or '')[-16:]}"


LOGIN_AT = "login_at"  # the session key of the log-in's time (a POSIX timestamp)


def _expired() -> bool:
    """True when the session's log-in lies further back than the session lifetime.

    Flask's own limit counts from the cookie's last signing, which every flash message renews;
    this one counts from the log-in, so a session ends after a working day whatever happens.
    """
    started = session.get(LOGIN_AT)
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    return not isinstance(started, int | float) or get_runtime().now().timestamp() - started > lifetime


@login_manager.user_loader
def _load_account(user_id: str) -> Account | None:
    """Find the session's person; a log-out, a new password, an inactive person or age ends it."""
    person_id = user_id.partition(":")[0]
    if not person_id.isdigit() or _expired():
        return None
    person = db().get(Person, int(person_id))
    if person is None or not person.active or session_id(person) != user_id:
        return None
    return Account(person)


def role_required(*roles: Role | str) -> Callable[[F], F]:
    """Decorator: the view needs a logged-in person with one of `roles` (none: any role).

    Not logged in → redirect to the log-in page; a wrong role → 403, recorded in the audit
    log as `access_refused`.
    """
    allowed = {str(Role(r)) for r in roles}

    def decorate(view: F) -> F:
        """Wrap one view."""

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            """Check log-in and role, then run the view."""
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            person = current_person()
            if allowed and person.role not in allowed:
                audit.record(
                    db(),
                    "access_refused",
                    actor=person,
                    detail={"path": request.path, "method": request.method},
                    remote_addr=remote_addr(),
                )
                raise PermissionDeniedError("Din rolle giver ikke adgang til denne side.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


login_required = role_required()
