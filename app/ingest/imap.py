"""The IMAP mailbox behind a small protocol, and its real adapter on IMAPClient.

`poll_once` talks to a `MailboxClient`; integration tests and production use `IMAPClientMailbox`
(IMAPClient against a real server), pure tests may use a fake of the same protocol. Everything
is addressed by UID; every error of the server or the network becomes `MailboxError`, and a
FETCH the server answers with an error (NO, BAD, or a BYE naming why) becomes its subclass
`FetchRefusedError`, so one bad message can be told from a connection that is gone.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from imapclient.response_types import Address, Envelope

from app.errors import MailboxError
from app.settings import MailboxSettings


class FetchRefusedError(MailboxError):
    """The server answered a FETCH with an error instead of the message (Dovecot also hangs up).

    The connection is re-opened before the next command, so the caller may go on.
    """


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


@contextmanager
def _errors(action: str, where: str) -> Iterator[None]:
    """Turn IMAP, TLS and network errors into one clear MailboxError."""
    try:
        yield
    except (TimeoutError, IMAPClientError, OSError) as error:
        raise MailboxError(f"IMAP {action} failed at {where}: {error}") from error


def _keep_alive(sock: socket.socket) -> None:
    """TCP keep-alive probes after a minute of silence: a firewall that forgets quiet
    connections keeps this one, and a peer that vanished is noticed within two minutes
    instead of at the next IDLE renewal."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 20), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):  # Linux names; elsewhere the system's defaults apply
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _refused(error: Exception) -> bool:
    """True when the server itself answered with an error; False when the connection broke.

    imaplib names every network failure "socket error …"; a NO, a BAD, or a BYE carries the
    server's own words instead.
    """
    return isinstance(error, IMAPClientError) and "socket error" not in str(error)


def _address(address: Address) -> bytes:
    """One ENVELOPE address as header text (a group name alone when it has no host)."""
    addr = address.mailbox or b""
    if address.host:
        addr = addr + b"@" + address.host
        return address.name + b" <" + addr + b">" if address.name else addr
    return addr


def _envelope_header(envelope: Envelope) -> bytes:
    """A header rebuilt from ENVELOPE: the fields a person needs to recognise the mail."""
    lines = [b"Date: " + format_datetime(envelope.date).encode()] if envelope.date else []
    for name, value in ((b"Subject", envelope.subject), (b"Message-ID", envelope.message_id),
                        (b"In-Reply-To", envelope.in_reply_to)):
        if value:
            lines.append(name + b": " + value)
    for name, addresses in ((b"From", envelope.from_), (b"To", envelope.to),
                            (b"Cc", envelope.cc)):
        if addresses:
            lines.append(name + b": " + b", ".join(_address(a) for a in addresses))
    # The server's strings are quoted IMAP strings: no line breaks should be there, but a
    # header is rebuilt from them, so make sure.
    lines = [line.replace(b"\r", b" ").replace(b"\n", b" ") for line in lines]
    return b"\r\n".join(lines) + b"\r\n\r\n" if lines else b""


class IMAPClientMailbox:
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
        with _errors("connect/login", self.where):
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
        with _errors(f"SELECT {self.settings.folder}", self.where):
            info = self.client.select_folder(self.settings.folder)
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        return self.uidvalidity

    def search_new(self, last_uid: int) -> list[int]:
        """Unflagged UIDs above last_uid (flag mode), or everything left in the folder (move)."""
        if self.settings.mark == "move":
            criteria: list[Any] = ["UNDELETED"]  # moved by copy + \Deleted on servers sans MOVE
        else:
            criteria = ["UID", f"{last_uid + 1}:*", "UNKEYWORD", self.settings.processed_flag]
        with _errors("SEARCH", self.where):
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
            if _refused(error):
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
                return _envelope_header(value)
            if value:
                return bytes(value)
        return b""

    def mark(self, uids: Sequence[int]) -> None:
        """Flag with the processed keyword, or move to the processed folder (made if missing)."""
        if not uids:
            return
        with _errors("marking processed mail", self.where):
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

    def idle_supported(self) -> bool:
        """True when the server advertises IDLE."""
        with _errors("CAPABILITY", self.where):
            return bool(self.client.has_capability("IDLE"))

    def idle_start(self) -> None:
        """Enter IDLE (after a hang-up, log in again first)."""
        # EXISTS that came with the answer to one of our commands since SELECT: imaplib kept
        # it, nobody read it, and the server will not say it again in IDLE.
        self.pending = bool(getattr(self.client._imap, "untagged_responses", {}).pop(
            "EXISTS", None))
        with _errors("IDLE", self.where):
            if self.stale:
                self._reopen()
            self.client.idle()

    def idle_wait(self, timeout: float) -> bool:
        """Wait in IDLE; True on EXISTS/RECENT, MailboxError on BYE.

        IMAPClient's idle_check returns an empty list at once when the server closed the
        socket; an early empty return is therefore reported as due, and leaving IDLE then
        shows whether the connection is still there.
        """
        if self.pending or self._buffered():
            self.pending = False
            return True  # read with the "+ idling" line; idle_check's poll() cannot see it
        started = time.monotonic()
        with _errors("IDLE", self.where):
            responses = self.client.idle_check(timeout=timeout)
        for response in responses:
            if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                return True
            if response and response[0] == b"BYE":
                self.stale = True
                raise MailboxError(f"the IMAP server at {self.where} hung up: "
                                   f"{b' '.join(r for r in response if isinstance(r, bytes))!r}")
        return not responses and time.monotonic() - started < timeout / 2

    def _buffered(self) -> bool:
        """True when the server's words wait in imaplib's read buffer (or TLS's).

        Dovecot sends a notice of mail that came after our last command right behind its
        "+ idling": both land in the buffer when IMAPClient reads that line, and idle_check,
        which polls the socket, would wait until the next notice (or 25 minutes).
        """
        sock, reader = self.client.socket(), getattr(self.client._imap, "file", None)
        if reader is None or not hasattr(reader, "peek"):
            return False
        sock.setblocking(False)
        try:
            return bool(reader.peek(1))  # the buffer, or one read that does not block
        except OSError:  # nothing to read (a TLS socket says so with an error)
            return False
        finally:
            sock.setblocking(True)
            self.client._set_read_timeout()

    def idle_done(self) -> None:
        """Leave IDLE; MailboxError when the connection turns out to be gone."""
        with _errors("DONE (end of IDLE)", self.where):
            self.client.idle_done()

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
