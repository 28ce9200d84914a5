"""Integration fixtures: a real Dovecot per test session, a fresh mailbox user per test, and a
runtime factory that points the Korsbæk settings at the test database and mailbox."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from app.runtime import Runtime
from tests.conftest import example_config, skip_or_fail
from tests.dovecot import Dovecot, available


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """One private Dovecot (plain and IMAPS listeners) for the whole test session."""
    if available() is None:
        skip_or_fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
    try:
        server = Dovecot()  # as root: the mail folder is handed to `nobody` (DOVECOT.md)
        server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        skip_or_fail(f"could not start a throwaway Dovecot: {error}")
    yield server
    server.stop()


@dataclass
class DovecotMailbox:
    """A fresh, empty mailbox user on the test Dovecot."""

    server: Dovecot
    user: str

    def append(self, messages: Any, folder: str = "INBOX") -> int:
        """Put raw messages into a folder (MULTIAPPEND in chunks)."""
        return self.server.append(self.user, messages, folder)

    def uids(self, *criteria: Any, folder: str = "INBOX") -> list[int]:
        """UIDs matching a SEARCH (default ALL)."""
        return self.server.uids(self.user, folder, criteria or ("ALL",))

    def settings(self, security: str = "none", **extra: Any) -> dict[str, Any]:
        """The [mailbox] section for this user."""
        return self.server.mailbox_settings(self.user, security, **extra)

    def kick(self) -> None:
        """Disconnect this user's IMAP sessions the administrator's way (BYE, then close)."""
        self.server.kick(self.user)

    def kill_sessions(self) -> list[int]:
        """SIGKILL the imap processes serving this user; their pids."""
        return self.server.kill_sessions(self.user)

    def set_readable(self, uid: int, readable: bool) -> None:
        """Make one message unreadable for the server (its FETCH fails), or readable again."""
        self.server.set_readable(self.user, uid, readable)


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> DovecotMailbox:
    """An empty mailbox of its own for this test."""
    return DovecotMailbox(dovecot_server, dovecot_server.new_user())


@pytest.fixture
def make_runtime(make_settings, runtime_for):
    """Factory: a Runtime on the given sections (database, mailbox, ...), people synced."""

    def factory(**sections: dict[str, Any]) -> Runtime:
        return runtime_for(make_settings(**sections))

    return factory


@pytest.fixture
def write_config(tmp_path: Path):
    """Factory: a TOML configuration file like config.example.toml with sections replaced, for
    running `dubu-triage` as a subprocess."""

    def factory(**sections: dict[str, Any]) -> Path:
        data = example_config()
        data["instance"].update(path=str(tmp_path / "instance"), secret_key="test-secret")
        data["triage"]["rules_dir"] = str(Path(__file__).resolve().parents[2] / "routing_rules")
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        path = tmp_path / "config.toml"
        path.write_text(tomli_w.dumps(data))
        return path

    return factory
