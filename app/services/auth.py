"""Log-in and passwords of the people of the organisation (argon2 hashes).

Failed log-ins are rate-limited from the audit log itself: the `login_failed` events of an
address and of a client address within a window. Caseworkers have no accounts; they only mail.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import InvalidActionError, NotFoundError, PermissionDeniedError
from app.models import AuditEvent, Person
from app.services import audit

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILS_PER_ADDRESS = 5
MAX_FAILS_PER_CLIENT = 20
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # a longer "password" only makes the server hash megabytes

# argon2id with the RFC 9106 low-memory profile (64 MiB, 3 passes, 4 lanes), named here so a
# new library default cannot weaken it unseen; `authenticate` rehashes older hashes.
_hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
# Verified against when the address is unknown, so a wrong address costs as long as a wrong
# password and the answer time does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash("no such account")

REFUSED = "Forkert e-mailadresse eller adgangskode."
THROTTLED = "For mange mislykkede forsøg. Vent et kvarter, og prøv igen."


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def set_password(session: Session, email: str, password: str, *, by: str = "cli") -> Person:
    """Give the configured person with `email` a new password (recorded, not the password)."""
    person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None:
        raise NotFoundError(f"no person with the address {email} (run init-db with the configuration)")
    _check_password(password, person.email)
    person.password_hash = hash_password(password)
    audit.record(session, "password_set", actor_label=by, detail={"email": person.email})
    return person


def _check_password(password: str, email: str) -> None:
    """The password rules: 10 to 1024 characters, and not the person's own address or name part."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidActionError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidActionError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    local = email.partition("@")[0]
    if len(local) >= 4 and local in password.lower():  # the first thing an attacker tries
        raise InvalidActionError("the password must not contain your e-mail address")


def _recent_failures(session: Session, column: Any, value: str, now: datetime) -> int:
    """How many `login_failed` events of this address or client lie within the window."""
    query = select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "login_failed",
        AuditEvent.at >= now - LOGIN_WINDOW,
        column == value,
    )
    return int(session.scalar(query) or 0)


def is_throttled(session: Session, email: str, remote_addr: str | None, now: datetime) -> bool:
    """True when this address or this client failed too often lately."""
    if _recent_failures(session, AuditEvent.actor, email, now) >= MAX_FAILS_PER_ADDRESS:
        return True
    return bool(remote_addr) and (
        _recent_failures(session, AuditEvent.remote_addr, remote_addr or "", now) >= MAX_FAILS_PER_CLIENT
    )


def _verify(person: Person | None, password: str) -> bool:
    """Check the password against the person's hash (or a dummy, at the same cost)."""
    stored = person.password_hash if person is not None and person.password_hash else None
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    session: Session, email: str, password: str, *, remote_addr: str | None, now: datetime
) -> Person:
    """The person with this address and password; PermissionDeniedError otherwise.

    A failure is recorded as `login_failed` (which is what the rate limit counts); while an
    address or client is throttled the password is not even checked.
    """
    email = email.strip().lower()
    if is_throttled(session, email, remote_addr, now):
        audit.record(session, "login_throttled", actor_label=email, remote_addr=remote_addr, at=now)
        raise PermissionDeniedError(THROTTLED)
    person = session.scalar(select(Person).where(Person.email == email))
    if not _verify(person, password) or person is None or not person.active:
        audit.record(session, "login_failed", actor_label=email, remote_addr=remote_addr, at=now)
        raise PermissionDeniedError(REFUSED)
    if _hasher.check_needs_rehash(person.password_hash or ""):
        person.password_hash = hash_password(password)
    audit.record(session, "login", actor=person, remote_addr=remote_addr, at=now)
    return person
