"""The IMAP mailbox behind a small protocol, and its real adapter on IMAPClient.

`poll_once` talks to a `MailboxClient`; integration tests and production use `IMAPClientMailbox`
(IMAPClient against a real server), pure tests may use a fake of the same protocol. Everything
is addressed by UID; every error of the server or the network becomes `MailboxError`.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from app.errors import MailboxError
from app.settings import MailboxSettings


@dataclass(frozen=True)
class FetchedMail:
    """One message as the server gave it: raw bytes (or only its header) and its arrival time."""

    uid: int
    raw: bytes
    internaldate: datetime | None
    size: int
    header_only: bool = False  # True when the body was too big to fetch


class MailboxClient(Protocol):
    """What polling needs from an IMAP server."""

    name: str  # user@host/folder: the key of MailboxState and of stored UIDs

    def select(self) -> int:
        """Select the configured folder; return its UIDVALIDITY."""

    def search_new(self, last_uid: int) -> list[int]:
        """UIDs of the messages that still need processing, ascending."""

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each message."""

    def fetch(self, uids: Sequence[int], *, header_only: bool = False) -> list[FetchedMail]:
        """The raw messages (BODY.PEEK[], never setting \\Seen) with INTERNALDATE."""

    def mark(self, uids: Sequence[int]) -> None:
        """Mark messages processed: the keyword flag, or a move to the processed folder."""

    def close(self) -> None:
        """Log out; never raises."""


def _tls_context(settings: MailboxSettings) -> ssl.SSLContext:
    """A TLS context that verifies the server unless configured not to."""
    context = ssl.create_default_context()
    if settings.ca_file:
        context.load_verify_locations(cafile=settings.ca_file)
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _aware(value: Any) -> datetime | None:
    """INTERNALDATE as an aware datetime (IMAPClient gives naive local time unless told)."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def _errors(action: str, where: str) -> Iterator[None]:
    """Turn IMAP, TLS and network errors into one clear MailboxError."""
    try:
        yield
    except (TimeoutError, IMAPClientError, OSError) as error:
        raise MailboxError(f"IMAP {action} failed at {where}: {error}") from error


class IMAPClientMailbox:
    """The real mailbox: IMAPClient with UIDs, PEEK fetches, keyword flags or MOVE."""

    def __init__(self, settings: MailboxSettings) -> None:
        """Connect (TLS as configured) and log in."""
        self.settings = settings
        self.where = f"{settings.host}:{settings.port}"
        self.name = f"{settings.username}@{settings.host}/{settings.folder}"
        with _errors("connect/login", self.where):
            self.client = self._connect()
            self.client.normalise_times = False  # keep INTERNALDATE's own zone
            try:
                self.client.login(settings.username, settings.password)
            except BaseException:
                self._drop()
                raise

    def _drop(self) -> None:
        """Close the connection without a LOGOUT (after a refused log-in)."""
        try:
            self.client.shutdown()
        except (IMAPClientError, OSError):
            pass

    def _connect(self) -> IMAPClient:
        """Open the connection: IMAPS, plain upgraded with STARTTLS, or plain."""
        s = self.settings
        if s.security == "ssl":
            return IMAPClient(
                s.host, port=s.port, ssl=True, ssl_context=_tls_context(s), timeout=s.timeout
            )
        client = IMAPClient(s.host, port=s.port, ssl=False, timeout=s.timeout)
        if s.security == "starttls":
            try:
                client.starttls(_tls_context(s))
            except BaseException:
                client.shutdown()
                raise
        return client

    def select(self) -> int:
        """Select the folder read-write; return UIDVALIDITY."""
        with _errors(f"SELECT {self.settings.folder}", self.where):
            info = self.client.select_folder(self.settings.folder)
        return int(info[b"UIDVALIDITY"])

    def search_new(self, last_uid: int) -> list[int]:
        """Unflagged UIDs above last_uid (flag mode), or everything left in the folder (move)."""
        if self.settings.mark == "move":
            criteria: list[Any] = ["UNDELETED"]  # moved by copy + \Deleted on servers sans MOVE
        else:
            criteria = ["UID", f"{last_uid + 1}:*", "UNKEYWORD", self.settings.processed_flag]
        with _errors("SEARCH", self.where):
            uids = self.client.search(criteria)
        # "n:*" always matches the highest UID, even below n: filter here.
        floor = 0 if self.settings.mark == "move" else last_uid
        return sorted(int(uid) for uid in uids if int(uid) > floor)

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE per UID (cheap: decides what is too big to fetch)."""
        if not uids:
            return {}
        with _errors("FETCH RFC822.SIZE", self.where):
            data = self.client.fetch(list(uids), ["RFC822.SIZE"])
        return {int(uid): int(item.get(b"RFC822.SIZE", 0)) for uid, item in data.items()}

    def fetch(self, uids: Sequence[int], *, header_only: bool = False) -> list[FetchedMail]:
        """Raw bytes, INTERNALDATE and size; BODY.PEEK so \\Seen stays as the user left it."""
        if not uids:
            return []
        part = "BODY.PEEK[HEADER]" if header_only else "BODY.PEEK[]"
        key = b"BODY[HEADER]" if header_only else b"BODY[]"
        with _errors("FETCH", self.where):
            data = self.client.fetch(list(uids), [part, "INTERNALDATE", "RFC822.SIZE"])
        mails = []
        for uid in sorted(data):
            item = data[uid]
            mails.append(
                FetchedMail(
                    uid=int(uid),
                    raw=bytes(item.get(key) or b""),
                    internaldate=_aware(item.get(b"INTERNALDATE")),
                    size=int(item.get(b"RFC822.SIZE", 0)),
                    header_only=header_only,
                )
            )
        return mails

    def mark(self, uids: Sequence[int]) -> None:
        """Flag with the processed keyword, or move to the processed folder (made if missing)."""
        if not uids:
            return
        with _errors("marking processed mail", self.where):
            if self.settings.mark == "move":
                self._ensure_folder(self.settings.processed_folder)
                self._move(list(uids), self.settings.processed_folder)
            else:
                self.client.add_flags(list(uids), [self.settings.processed_flag], silent=True)

    def _move(self, uids: list[int], folder: str) -> None:
        """UID MOVE; on a server without MOVE, copy, then delete and expunge only these UIDs."""
        if self.client.has_capability("MOVE"):
            self.client.move(uids, folder)
            return
        self.client.copy(uids, folder)
        self.client.delete_messages(uids, silent=True)
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge(uids)
        # Without UIDPLUS the \Deleted mail is left for the server's own expunge: a plain
        # EXPUNGE could remove mail somebody else marked deleted.

    def _ensure_folder(self, folder: str) -> None:
        """Create the processed folder the first time it is needed."""
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)

    def close(self) -> None:
        """Log out, ignoring a connection that is already gone."""
        try:
            self.client.logout()
        except (IMAPClientError, OSError):
            pass


def connect(settings: MailboxSettings) -> MailboxClient:
    """Open the configured mailbox; MailboxError when it cannot be reached or refuses us."""
    if not settings.host:
        raise MailboxError("no mailbox configured: set [mailbox] host in the configuration")
    return IMAPClientMailbox(settings)
