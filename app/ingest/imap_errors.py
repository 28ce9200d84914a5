"""How the IMAP adapter reports failure: every server, TLS or network error becomes MailboxError.

A FETCH the server answers with an error (NO, BAD, or a BYE naming why) becomes its subclass
`FetchRefusedError`, so one bad message can be told from a connection that is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from imapclient.exceptions import IMAPClientError

from app.errors import MailboxError


class FetchRefusedError(MailboxError):
    """The server answered a FETCH with an error instead of the message (Dovecot also hangs up).

    The connection is re-opened before the next command, so the caller may go on.
    """


@contextmanager
def mailbox_errors(action: str, where: str) -> Iterator[None]:
    """Turn IMAP, TLS and network errors into one clear MailboxError."""
    try:
        yield
    except (TimeoutError, IMAPClientError, OSError) as error:
        raise MailboxError(f"IMAP {action} failed at {where}: {error}") from error


def server_refused(error: Exception) -> bool:
    """True when the server itself answered with an error; False when the connection broke.

    imaplib names every network failure "socket error …"; a NO, a BAD, or a BYE carries the
    server's own words instead.
    """
    return isinstance(error, IMAPClientError) and "socket error" not in str(error)
