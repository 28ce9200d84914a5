"""IMAP IDLE (RFC 2177) for the IMAPClient mailbox adapter, as a mixin of `IMAPClientMailbox`.

Waiting in IDLE is where imaplib's internals show: a notice of new mail can arrive right
behind the server's "+ idling" line, or with the answer to one of our own commands, where
IMAPClient's `idle_check` never sees it. The methods here look for it there first.
"""

from __future__ import annotations

import time

from imapclient import IMAPClient

from app.errors import MailboxError
from app.ingest.imap_errors import mailbox_errors


class IdleMixin:
    """The IDLE half of the `MailboxClient` protocol, on the adapter's connection."""

    client: IMAPClient
    where: str  # host:port, for error messages
    stale: bool  # the server hung up: log in again before the next command
    pending: bool  # the server announced mail while we were busy with a command

    def _reopen(self) -> None:
        """Log in and select again after a hang-up (the adapter's own)."""
        raise NotImplementedError

    def idle_supported(self) -> bool:
        """True when the server advertises IDLE."""
        with mailbox_errors("CAPABILITY", self.where):
            return bool(self.client.has_capability("IDLE"))

    def idle_start(self) -> None:
        """Enter IDLE (after a hang-up, log in again first)."""
        # EXISTS that came with the answer to one of our commands since SELECT: imaplib kept
        # it, nobody read it, and the server will not say it again in IDLE.
        self.pending = bool(getattr(self.client._imap, "untagged_responses", {}).pop(
            "EXISTS", None))
        with mailbox_errors("IDLE", self.where):
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
        with mailbox_errors("IDLE", self.where):
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
        with mailbox_errors("DONE (end of IDLE)", self.where):
            self.client.idle_done()
