"""Typed, frozen settings read from one TOML file.

The file is named by `--config FILE` or the `DUBU_TRIAGE_CONFIG` environment variable; with
neither, the embedded defaults serve (SQLite in the instance folder, no mailbox). Unknown keys
and missing required ones are an error that names the key and the file. Secrets may come from
the environment: DUBU_TRIAGE_SECRET_KEY, DUBU_TRIAGE_IMAP_PASSWORD, DUBU_TRIAGE_SMTP_PASSWORD,
DUBU_TRIAGE_DATABASE_URL. Nothing is read at import time.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from time import sleep
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from app.domain import Role, Topic
from app.errors import ConfigError

CONFIG_ENV = "DUBU_TRIAGE_CONFIG"
_STRICT = ConfigDict(extra="forbid")

Security = Literal["ssl", "starttls", "none"]


@dataclass(config=_STRICT, frozen=True)
class InstanceSettings:
    """Where the service keeps its files, and what it calls its tickets."""

    path: str = "instance"  # relative paths are taken from the working directory
    secret_key: str = ""  # signs session cookies; DUBU_TRIAGE_SECRET_KEY overrides
    ticket_prefix: str = "DUBU"
    timezone: str = "Europe/Copenhagen"
    base_url: str = "http://127.0.0.1:5000"
    secure_cookies: bool = False  # True behind HTTPS in production


@dataclass(config=_STRICT, frozen=True)
class DatabaseSettings:
    """The SQLAlchemy URL; the default is a SQLite file in the instance folder."""

    url: str = ""


@dataclass(config=_STRICT, frozen=True)
class MailboxSettings:
    """The DUBU mailbox read over IMAP, and how processed mail is marked on the server."""

    host: str = ""
    port: int = 993
    security: Security = "ssl"
    username: str = ""
    password: str = ""  # DUBU_TRIAGE_IMAP_PASSWORD overrides
    folder: str = "INBOX"
    mark: Literal["flag", "move"] = "flag"
    processed_flag: str = "$Triaged"
    processed_folder: str = "Behandlet"
    batch_size: int = Field(default=100, ge=1, le=1000)
    max_size: int = Field(default=30 * 1024 * 1024, ge=1024)  # bytes; larger mail is quarantined
    max_per_run: int = Field(default=5000, ge=1)
    poll_seconds: int = Field(default=60, ge=5)
    idle: bool = True  # IMAP IDLE where the server has it; poll_seconds otherwise
    timeout: float = 60.0
    verify_tls: bool = True
    ca_file: str = ""  # a CA bundle to trust besides the system's (a test server's certificate)


@dataclass(config=_STRICT, frozen=True)
class SmtpSettings:
    """The server outgoing mail leaves through."""

    host: str = ""
    port: int = 587
    security: Security = "starttls"
    username: str = ""
    password: str = ""  # DUBU_TRIAGE_SMTP_PASSWORD overrides
    sender: str = "dubu@korsbaek.dk"
    sender_name: str = "DUBU-support, Korsbæk Kommune"
    timeout: float = 30.0
    send_seconds: int = Field(default=30, ge=1)
    max_attempts: int = Field(default=12, ge=1)
    ack_limit_per_hour: int = Field(default=5, ge=1)  # automatic replies to one address


@dataclass(config=_STRICT, frozen=True)
class AddressSettings:
    """The outside parties the organisation writes to."""

    service_desk: str = "servicedesk@netcompany.example"
    kombit: str = "dubu@kombit.dk"
    user_management: str = "it-brugerstyring@korsbaek.dk"


@dataclass(config=_STRICT, frozen=True)
class TriageSettings:
    """Where the rules and the model live, and when the classifier abstains."""

    rules_dir: str = "routing_rules"
    model_path: str = ""  # default: INSTANCE/model.joblib
    abstain_below: float = Field(default=0.5, ge=0.0, le=1.0)


@dataclass(config=_STRICT, frozen=True)
class HypercareSettings:
    """The period after go-live with a daily digest to all superusers."""

    start: date | None = None
    end: date | None = None
    digest_time: time = time(8, 30)

    def covers(self, day: date) -> bool:
        """True on the days from hypercare's start to its end, both included."""
        return self.start is not None and self.end is not None and self.start <= day <= self.end


@dataclass(config=_STRICT, frozen=True)
class ReportSettings:
    """The weekly escalation report."""

    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    weekly_time: time = time(7, 0)
    recipients: tuple[str, ...] = ()  # default: the system responsible and the system owner


@dataclass(config=_STRICT, frozen=True)
class RetentionSettings:
    """How long closed tickets are kept."""

    closed_months: int = Field(default=13, ge=1)
    run_time: time = time(2, 30)


@dataclass(config=_STRICT, frozen=True)
class PersonSettings:
    """One person of the support organisation."""

    name: str
    email: str
    role: Role
    areas: tuple[Topic, ...] = ()
    may_forward: bool = False
    phone: str = ""
    away_until: date | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        """Addresses are compared in lower case throughout."""
        if "@" not in value:
            raise ValueError("not an e-mail address")
        return value.strip().lower()


@dataclass(config=_STRICT, frozen=True)
class Settings:
    """Everything the service is configured with."""

    instance: InstanceSettings = InstanceSettings()
    database: DatabaseSettings = DatabaseSettings()
    mailbox: MailboxSettings = MailboxSettings()
    smtp: SmtpSettings = SmtpSettings()
    addresses: AddressSettings = AddressSettings()
    triage: TriageSettings = TriageSettings()
    hypercare: HypercareSettings = HypercareSettings()
    reports: ReportSettings = ReportSettings()
    retention: RetentionSettings = RetentionSettings()
    people: tuple[PersonSettings, ...] = ()
    source: str = "<defaults>"  # the file the settings came from

    @property
    def instance_path(self) -> Path:
        """The instance folder, absolute."""
        return Path(self.instance.path).expanduser().resolve()

    @property
    def database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the instance folder."""
        return self.database.url or f"sqlite:///{self.instance_path / 'dubu-triage.db'}"

    @property
    def model_path(self) -> Path:
        """Where the trained classifier is kept."""
        return Path(self.triage.model_path or self.instance_path / "model.joblib")

    @property
    def mail_domain(self) -> str:
        """The domain our Message-IDs are made in: that of our own address."""
        return self.smtp.sender.rpartition("@")[2] or "localhost"

    def local_date(self, moment: datetime) -> date:
        """The municipality's calendar date of a moment (weeks, digests, absence, hypercare)."""
        return moment.astimezone(ZoneInfo(self.instance.timezone)).date()

    def person(self, email: str) -> PersonSettings | None:
        """The configured person with this address, if any."""
        email = email.lower()
        return next((p for p in self.people if p.email == email), None)


def _env_overrides(data: dict) -> dict:
    """Apply secrets from the environment on top of the file's values."""
    env = {
        ("instance", "secret_key"): "DUBU_TRIAGE_SECRET_KEY",
        ("mailbox", "password"): "DUBU_TRIAGE_IMAP_PASSWORD",
        ("smtp", "password"): "DUBU_TRIAGE_SMTP_PASSWORD",
        ("database", "url"): "DUBU_TRIAGE_DATABASE_URL",
    }
    for (section, key), var in env.items():
        if os.environ.get(var):
            data.setdefault(section, {})[key] = os.environ[var]
    return data


def _describe(error: ValidationError, source: str) -> str:
    """Turn pydantic's errors into one message naming each key and the file."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        if item["type"] == "unexpected_keyword_argument" or item["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'")
        elif item["type"] == "missing":
            lines.append(f"missing key '{key}'")
        else:
            lines.append(f"key '{key}': {item['msg']}")
    return f"{source}: " + "; ".join(lines)


def settings_from_dict(data: dict, source: str = "<dict>") -> Settings:
    """Build settings from a parsed TOML document (also used by tests)."""
    data = _env_overrides({k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()})
    if "people" in data:
        data["people"] = tuple(data["people"])
    try:
        settings = Settings(**data, source=source)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None
    except TypeError as error:  # a section that is not a table
        raise ConfigError(f"{source}: {error}") from None
    return settings


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read the settings from `path`, else $DUBU_TRIAGE_CONFIG, else the embedded defaults."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return settings_from_dict({}, source="<defaults>")
    file = Path(chosen)
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{file}: configuration file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML: {error}") from None
    return settings_from_dict(data, source=str(file))


def secret_key(settings: Settings) -> str:
    """The key that signs sessions: configured, or kept in the instance folder."""
    if settings.instance.secret_key:
        return settings.instance.secret_key
    key_file = settings.instance_path / "secret_key"
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:  # created readable by us alone, and only once: several processes may start together
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process made it; wait until its key is written
            existing = key_file.read_text().strip()
            if existing:
                return existing
            sleep(0.01)
        raise ConfigError(f"{key_file}: the secret key file is empty") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
