"""The IMAP mailbox behind a small protocol, and its real adapter on IMAPClient.

`poll_once` talks to a `MailboxClient`; integration tests and production use `IMAPClientMailbox`
(IMAPClient against a real server), pure tests may use a fake of the same protocol. Everything
is addressed by UID; every error of the server or the network becomes `MailboxError`, and a
FETCH the server answers with an error (NO, BAD, or a BYE naming why) becomes its subclass
`FetchRefusedError`, so one bad message can be told from a connection that is gone.

The adapter's IDLE methods live in `imap_idle`, its error translation in `imap_errors`, and
the header rebuilt from ENVELOPE in `imap_headers`.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from imapclient.response_types import Envelope

from app.errors import MailboxError
from app.ingest.imap_errors import FetchRefusedError, mailbox_errors, server_refused
from app.ingest.imap_headers import envelope_header
from app.ingest.imap_idle import IdleMixin
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

    def headers(self, uid: int) -> bytes:
        """What the server gives of a message's header (after its body could not be fetched)."""

    def mark(self, uids: Sequence[int]) -> None:
        """Mark messages processed: the keyword flag, or a move to the processed folder."""

    def idle_supported(self) -> bool:
        """True when the server advertises IDLE (RFC 2177)."""

    def idle_start(self) -> None:
        """Enter IDLE on the selected folder."""

    def idle_wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds in IDLE; True when a re-poll is due (new mail)."""

    def idle_done(self) -> None:
        """Leave IDLE."""

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


def _keep_alive(sock: socket.socket) -> None:
    """TCP keep-alive probes after a minute of silence: a firewall that forgets quiet
    connections keeps this one, and a peer that vanished is noticed within two minutes
    instead of at the next IDLE renewal."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 20), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):  # Linux names; elsewhere the system's defaults apply
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


class IMAPClientMailbox(IdleMixin):
    """The real mailbox: IMAPClient with UIDs, PEEK fetches, keyword flags or MOVE."""

    def __init__(self, settings: MailboxSettings) -> None:
        """Connect (TLS as configured) and log in."""
        self.settings = settings
        self.where = f"{settings.host}:{settings.port}"
        self.name = f"{settings.username}@{settings.host}/{settings.folder}"
        self.uidvalidity: int | None = None
        self.stale = False  # the server hung up after refusing a FETCH: log in again first
        self.pending = False  # the server announced mail while we were busy with a command
        self._log_in()

    def _log_in(self) -> None:
        """Open the connection and log in."""
        with mailbox_errors("connect/login", self.where):
            self.client = self._connect()
            self.client.normalise_times = False  # keep INTERNALDATE's own zone
            _keep_alive(self.client.socket())
            try:
                self.client.login(self.settings.username, self.settings.password)
            except BaseException:
                self._drop()
                raise

    def _reopen(self) -> None:
        """Log in and select again after the server hung up; the folder must be the same one."""
        self._drop()
        self._log_in()
        self.stale = False
        before = self.uidvalidity
        if self.select() != before and before is not None:
            raise MailboxError(f"UIDVALIDITY of {self.name} changed while polling; next poll "
                               "starts over")

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
        with mailbox_errors(f"SELECT {self.settings.folder}", self.where):
            info = self.client.select_folder(self.settings.folder)
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        return self.uidvalidity

    def search_new(self, last_uid: int) -> list[int]:
        """Unflagged UIDs above last_uid (flag mode), or everything left in the folder (move)."""
        if self.settings.mark == "move":
            criteria: list[Any] = ["UNDELETED"]  # moved by copy + \Deleted on servers sans MOVE
        else:
            criteria = ["UID", f"{last_uid + 1}:*", "UNKEYWORD", self.settings.processed_flag]
        with mailbox_errors("SEARCH", self.where):
            if self.stale:
                self._reopen()
            uids = self.client.search(criteria)
        # "n:*" always matches the highest UID, even below n: filter here.
        floor = 0 if self.settings.mark == "move" else last_uid
        return sorted(int(uid) for uid in uids if int(uid) > floor)

    def _fetch(self, uids: Sequence[int], parts: list[str]) -> dict[int, dict[bytes, Any]]:
        """UID FETCH; FetchRefusedError when the server answers with an error."""
        if self.stale:
            self._reopen()
        try:
            return dict(self.client.fetch(list(uids), parts))
        except (TimeoutError, IMAPClientError, OSError) as error:
            if isinstance(error, IMAPClientAbortError):
                self.stale = True  # the connection is gone either way
            if server_refused(error):
                raise FetchRefusedError(f"the server refused FETCH {' '.join(parts)}: "
                                        f"{error}") from error
            raise MailboxError(f"IMAP FETCH failed at {self.where}: {error}") from error

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE per UID (cheap: decides what is too big to fetch)."""
        if not uids:
            return {}
        data = self._fetch(uids, ["RFC822.SIZE"])
        return {int(uid): int(item.get(b"RFC822.SIZE", 0)) for uid, item in data.items()}

    def fetch(self, uids: Sequence[int], *, header_only: bool = False) -> list[FetchedMail]:
        """Raw bytes, INTERNALDATE and size; BODY.PEEK so \\Seen stays as the user left it."""
        if not uids:
            return []
        part = "BODY.PEEK[HEADER]" if header_only else "BODY.PEEK[]"
        key = b"BODY[HEADER]" if header_only else b"BODY[]"
        data = self._fetch(uids, [part, "INTERNALDATE", "RFC822.SIZE"])
        return [
            FetchedMail(uid=int(uid), raw=bytes(data[uid].get(key) or b""),
                        internaldate=_aware(data[uid].get(b"INTERNALDATE")),
                        size=int(data[uid].get(b"RFC822.SIZE", 0)), header_only=header_only)
            for uid in sorted(data)
        ]

    def headers(self, uid: int) -> bytes:
        """BODY.PEEK[HEADER], else a header rebuilt from ENVELOPE, else nothing."""
        for part, key in (("BODY.PEEK[HEADER]", b"BODY[HEADER]"), ("ENVELOPE", b"ENVELOPE")):
            try:
                value = self._fetch([uid], [part]).get(uid, {}).get(key)
            except FetchRefusedError:
                continue
            if isinstance(value, Envelope):
                return envelope_header(value)
            if value:
                return bytes(value)
        return b""

    def mark(self, uids: Sequence[int]) -> None:
        """Flag with the processed keyword, or move to the processed folder (made if missing)."""
        if not uids:
            return
        with mailbox_errors("marking processed mail", self.where):
            if self.stale:
                self._reopen()
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
        """Log out; a connection that is already gone is just closed."""
        try:
            self.client.logout()
        except (IMAPClientError, OSError):
            self._drop()  # LOGOUT failed half-way: the socket may still be open


def connect(settings: MailboxSettings) -> MailboxClient:
    """Open the configured mailbox; MailboxError when it cannot be reached or refuses us."""
    if not settings.host:
        raise MailboxError("no mailbox configured: set [mailbox] host in the configuration")
    return IMAPClientMailbox(settings)
