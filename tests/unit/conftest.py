"""Unit-test fixtures: a guard that fails any unit test which opens an SMTP connection.

Unit tests never send mail (Indico's pattern): the guard records the attempt and fails the test,
even if the code under test catches the error it raises.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import pytest


class UnexpectedSmtpError(AssertionError):
    """Raised when code under test tries to reach an SMTP server."""


@pytest.fixture(autouse=True)
def no_smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Refuse every SMTP connection; a test that tried one fails at teardown."""
    attempts: list[tuple[str, int]] = []

    def refuse(self: smtplib.SMTP, host: str = "localhost", port: int = 0, *_: Any) -> Any:
        """Record the attempt and refuse it."""
        attempts.append((host, port))
        raise UnexpectedSmtpError(f"unexpected SMTP connection to {host}:{port}")

    monkeypatch.setattr(smtplib.SMTP, "connect", refuse)
    yield attempts
    if attempts:
        pytest.fail(f"the test opened SMTP connections: {attempts}")
