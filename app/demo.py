"""`dubu-triage demo`: a working instance on a fresh machine with no configuration.

./demo-instance holds a SQLite database, a trained model, the bundled Korsbæk mails imported,
and demo passwords for the Korsbæk people (config.example.toml is the source of the people when
it is there; a copy of the list below serves an installed package). A second run re-uses it all.
"""

from __future__ import annotations

import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.db import init_db, session_scope, sync_people
from app.models import InboundMessage, Person
from app.runtime import Runtime, open_runtime
from app.services.auth import set_password
from app.settings import Settings, settings_from_dict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_MAIL = Path(__file__).resolve().parent / "resources" / "dubu-dev"
PASSWORD_FILE = "demo-passwords.txt"

_PEOPLE: list[dict[str, Any]] = [  # the [[people]] of config.example.toml, for installs without it
    {"name": "Birgitte Holm", "email": "birgitte.holm@korsbaek.dk", "role": "system_owner"},
    {"name": "Mads Kjær", "email": "mads.kjaer@korsbaek.dk", "role": "system_responsible",
     "areas": ["sagsbehandling", "oekonomi", "breve", "adgang", "opsaetning",
               "ledelsesinformation", "andet"], "may_forward": True},
    {"name": "Lene Mortensen", "email": "lene.mortensen@korsbaek.dk", "role": "superuser",
     "areas": ["sagsbehandling", "breve"], "may_forward": True},
    {"name": "Jonas Friis", "email": "jonas.friis@korsbaek.dk", "role": "superuser",
     "areas": ["sagsbehandling", "ledelsesinformation"], "may_forward": True},
    {"name": "Hanne Dahl", "email": "hanne.dahl@korsbaek.dk", "role": "superuser",
     "areas": ["oekonomi"], "may_forward": True},
    {"name": "Peter Lund", "email": "peter.lund@korsbaek.dk", "role": "superuser",
     "areas": ["sagsbehandling", "breve"]},
    {"name": "Susanne Vind", "email": "susanne.vind@korsbaek.dk", "role": "administrator",
     "areas": ["opsaetning"], "may_forward": True},
    {"name": "Karen Bech", "email": "karen.bech@korsbaek.dk", "role": "professional_lead",
     "areas": ["adgang"]},
]


@dataclass(frozen=True)
class Demo:
    """What the demo made: its settings, the address to open and the accounts."""

    settings: Settings
    url: str
    accounts: tuple[tuple[str, str, str], ...]  # (email, role, password)
    imported: str


def demo_people() -> list[dict[str, Any]]:
    """The people of config.example.toml, or the copy above."""
    example = PROJECT_ROOT / "config.example.toml"
    if example.exists():
        with example.open("rb") as handle:
            return list(tomllib.load(handle).get("people", [])) or _PEOPLE
    return _PEOPLE


def demo_settings(folder: Path, host: str, port: int) -> Settings:
    """Settings for the demo: SQLite in `folder`, no mailbox, no SMTP server."""
    rules = PROJECT_ROOT / "routing_rules"
    return settings_from_dict({
        "instance": {"path": str(folder), "base_url": f"http://{host}:{port}", "secure_cookies": False},
        "database": {"url": f"sqlite:///{folder / 'dubu-triage.db'}"},
        "smtp": {"host": ""},
        "triage": {"rules_dir": str(rules) if rules.is_dir() else "routing_rules"},
        "hypercare": {"start": "2024-04-08", "end": "2024-05-03"},
        "people": demo_people(),
    }, source="demo")


def _passwords(folder: Path, emails: list[str]) -> dict[str, str]:
    """The demo passwords, made once and kept in the instance folder (mode 600)."""
    file = folder / PASSWORD_FILE
    known: dict[str, str] = {}
    if file.exists():
        for line in file.read_text().splitlines():
            email, _, password = line.partition(" ")
            known[email] = password
    fresh = {e: secrets.token_urlsafe(9) for e in emails if e not in known}
    if fresh:
        known.update(fresh)
        file.write_text("".join(f"{e} {p}\n" for e, p in known.items()))
        file.chmod(0o600)
    return known


def _train(runtime: Runtime) -> None:
    """Train the model once, if the triage module offers it."""
    if runtime.settings.model_path.exists():
        return
    try:
        from app.triage.training import train_and_save
    except ImportError:
        return
    train_and_save(runtime.settings, k=3)


def _import(runtime: Runtime) -> str:
    """Import the bundled mails unless the database already has mail."""
    with session_scope(runtime.sessions) as session:
        if session.scalar(select(func.count(InboundMessage.id))):
            return "the bundled mail was imported before"
    from app.ingest.importer import import_paths

    return str(import_paths(runtime, [BUNDLED_MAIL]))


def prepare_demo(folder: Path, host: str = "127.0.0.1", port: int = 5000) -> Demo:
    """Make (or re-use) the demo instance in `folder`."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(folder, host, port)
    runtime = open_runtime(settings)
    try:
        init_db(runtime.engine)
        with session_scope(runtime.sessions) as session:
            sync_people(session, settings)
        _train(runtime)
        imported = _import(runtime)
        with session_scope(runtime.sessions) as session:
            people = list(session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.id)))
            passwords = _passwords(folder, [p.email for p in people])
            for person in people:
                set_password(session, person.email, passwords[person.email], by="demo")
            accounts = tuple((p.email, p.role, passwords[p.email]) for p in people)
    finally:
        runtime.dispose()
    return Demo(settings, settings.instance.base_url, accounts, imported)
