"""One poll of the mailbox: fetch what is new, store each mail, then mark it on the server.

UIDs with UIDVALIDITY and the last UID kept per folder in `MailboxState`. Mail is fetched in
batches with BODY.PEEK[]; each message is committed by the pipeline, and only after the whole
batch is committed is it marked on the server (flag or move) and last_uid advanced. A crash in
between leaves mail unmarked, to be fetched again and recognised as already stored.

A batch FETCH the server refuses is fetched again one message at a time. A message that still
cannot be fetched is kept in quarantine as a placeholder (what the server gives of its header,
source "imap-unfetched"), left unmarked, and last_uid stays below it, so every poll tries it
again; once it can be fetched, the placeholder gives way to the real message. docs/INGEST.md
tells the whole story.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import session_scope
from app.domain import MessageKind
from app.ingest.imap import FetchedMail, FetchRefusedError, MailboxClient, connect
from app.ingest.pipeline import IngestOutcome, ingest_raw, quarantine_raw
from app.ingest.store import refill_from_raw, store_blob
from app.models import AttachmentRecord, Blob, InboundMessage, MailboxState
from app.runtime import Runtime
from app.services import audit
from app.settings import MailboxSettings

log = logging.getLogger(__name__)

# Mail over max_size is still fetched whole (to keep it) up to this multiple; beyond, headers only.
FETCH_OVERSIZE_FACTOR = 4
UNFETCHED = "imap-unfetched"  # InboundMessage.source of a placeholder for unfetchable mail
SINGLE_TRIES = 2  # one message alone: a second try, so a passing hiccup is not quarantined


@dataclass
class PollSummary:
    """Counts of one poll or import; `str()` is the line the CLI prints."""

    fetched: int = 0
    tickets: int = 0
    followups: int = 0
    noise: int = 0
    quarantined: int = 0
    duplicates: int = 0

    def add(self, outcome: IngestOutcome) -> None:
        """Count one message by what it became (a duplicate only as already stored)."""
        self.fetched += 1
        if outcome.duplicate:
            self.duplicates += 1
        elif outcome.kind is MessageKind.TICKET:
            self.tickets += 1
        elif outcome.kind is MessageKind.FOLLOWUP:
            self.followups += 1
        elif outcome.kind is MessageKind.NOISE:
            self.noise += 1
        else:
            self.quarantined += 1

    def as_dict(self) -> dict[str, int]:
        """The counts under the keys of `poll-once --json`."""
        return asdict(self)

    def __str__(self) -> str:
        """fetched N: T tickets, F follow-ups, S noise, Q quarantined, D already stored."""
        return (
            f"fetched {self.fetched}: {self.tickets} tickets, {self.followups} follow-ups, "
            f"{self.noise} noise, {self.quarantined} quarantined, {self.duplicates} already stored"
        )


@dataclass
class PollRun:
    """One poll: the counts, how many mails are new, which UIDs could not be fetched, and
    whether max_per_run left mail for the next run."""

    summary: PollSummary = field(default_factory=PollSummary)
    new: int = 0
    unfetched: list[int] = field(default_factory=list)
    truncated: bool = False

    def add(self, outcome: IngestOutcome) -> None:
        """Count one message."""
        self.summary.add(outcome)
        self.new += 0 if outcome.duplicate else 1


ClientFactory = Callable[[MailboxSettings], MailboxClient]


def _last_uid(runtime: Runtime, mailbox: str, uidvalidity: int) -> int:
    """The last UID stored for this folder; a changed UIDVALIDITY starts again from zero."""
    with session_scope(runtime.sessions) as session:
        state = session.scalars(select(MailboxState).where(MailboxState.mailbox == mailbox)).first()
        if state is None:
            session.add(MailboxState(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=0))
            return 0
        if state.uidvalidity != uidvalidity:
            # UIDs now mean other messages; Message-ID idempotency keeps re-reads harmless.
            audit.record(session, "mailbox.uidvalidity_changed", detail={
                "mailbox": mailbox, "old": state.uidvalidity, "new": uidvalidity})
            state.uidvalidity, state.last_uid = uidvalidity, 0
        return int(state.last_uid)


def _advance(runtime: Runtime, mailbox: str, uidvalidity: int, uid: int) -> None:
    """Remember that everything up to `uid` is stored and marked."""
    with session_scope(runtime.sessions) as session:
        state = session.scalars(select(MailboxState).where(MailboxState.mailbox == mailbox)).one()
        if state.uidvalidity == uidvalidity and uid > state.last_uid:
            state.last_uid = uid


def _fetch_each(client: MailboxClient, uids: Sequence[int], header_only: bool,
                ) -> tuple[list[FetchedMail], dict[int, str]]:
    """Fetch a batch; when the server refuses it, one message at a time. Returns the mails
    and, per UID that could not be fetched alone either, the server's answer."""
    try:
        return client.fetch(uids, header_only=header_only), {}
    except FetchRefusedError as error:
        if len(uids) > 1:
            log.warning("FETCH of %d mails refused (%s); fetching them one by one", len(uids),
                        error)
    mails: list[FetchedMail] = []
    failed: dict[int, str] = {}
    for uid in uids:
        for attempt in range(1, SINGLE_TRIES + 1):
            try:
                mails += client.fetch([uid], header_only=header_only)
                break
            except FetchRefusedError as error:
                if attempt == SINGLE_TRIES:
                    failed[uid] = str(error)
    return mails, failed


def _fetch_batch(client: MailboxClient, uids: Sequence[int], settings: MailboxSettings,
                 ) -> tuple[list[FetchedMail], dict[int, str]]:
    """Fetch a batch; mail over max_size too (whole if feasible, else its header)."""
    try:
        sizes = client.sizes(uids)
    except FetchRefusedError:
        sizes = {}  # unknown: fetched whole, and judged by the size the FETCH reports
    huge = [u for u in uids if sizes.get(u, 0) > settings.max_size * FETCH_OVERSIZE_FACTOR]
    mails, failed = _fetch_each(client, [u for u in uids if u not in huge], False)
    heads, failed_heads = _fetch_each(client, huge, True)
    return sorted(mails + heads, key=lambda m: m.uid), failed | failed_heads


def _size(count: int) -> str:
    """A size as a Danish reader expects it: kB below a megabyte, MB with a decimal comma."""
    if count < 1024 * 1024:
        return f"{-(-count // 1024)} kB"
    return f"{count / (1024 * 1024):.1f} MB".replace(".", ",")


def _oversize_error(mail: FetchedMail, settings: MailboxSettings) -> str:
    """Why an oversize mail is in quarantine: Danish for the superusers, the figures after."""
    error = (f"For stor til at blive behandlet: mailen fylder {_size(mail.size)}, grænsen er "
             f"{_size(settings.max_size)} (mailbox.max_size). ")
    detail = f"mail of {mail.size} bytes is larger than mailbox.max_size ({settings.max_size} bytes)"
    if not mail.header_only:
        return error + f"Hele mailen er gemt her uåbnet. [{detail}; kept unparsed in quarantine]"
    place = (f"flyttet til mappen {settings.processed_folder}" if settings.mark == "move" else
             f"i mappen {settings.folder}, markeret {settings.processed_flag}")
    return error + (f"Kun brevhovedet er hentet; hele mailen ligger stadig på IMAP-serveren "
                    f"({place}). [{detail}; only its header was fetched, the whole mail stays "
                    "on the server]")


def _store(runtime: Runtime, client: MailboxClient, uidvalidity: int, mail: FetchedMail,
           ) -> IngestOutcome:
    """Store one fetched mail: through the pipeline, or straight to quarantine when too big."""
    where = {"source": "imap", "received_at": mail.internaldate, "mailbox": client.name,
             "uidvalidity": uidvalidity, "uid": mail.uid}
    settings = runtime.settings.mailbox
    if mail.size <= settings.max_size and not mail.header_only:
        return ingest_raw(runtime, mail.raw, **where)  # type: ignore[arg-type]
    raw = mail.raw
    if mail.header_only:
        raw = raw + f"\r\n[dubu-triage: body of {mail.size} bytes not fetched]\r\n".encode()
    return quarantine_raw(runtime, raw, _oversize_error(mail, settings),
                          **where)  # type: ignore[arg-type]


def _store_unfetched(runtime: Runtime, client: MailboxClient, uidvalidity: int, uid: int,
                     error: str) -> IngestOutcome:
    """Keep a placeholder for mail that cannot be fetched: its header as far as the server
    gives it, and the server's answer. The mail itself stays unmarked on the server."""
    note = (f"[dubu-triage: mailen med UID {uid} (UIDVALIDITY {uidvalidity}) i {client.name} "
            "kunne ikke hentes; kun brevhovedet er gemt]\r\n").encode()
    raw = (client.headers(uid) or b"\r\n") + note
    text = ("Kunne ikke hentes fra IMAP-serveren; prøves igen ved hver kørsel, og lykkes det, "
            f"erstattes denne post af mailen selv. Serverens svar: {error}")
    log.warning("mail UID %d of %s could not be fetched: %s", uid, client.name, error)
    return quarantine_raw(runtime, raw, text, source=UNFETCHED, mailbox=client.name,
                          uidvalidity=uidvalidity, uid=uid)


def _drop_blob_if_unused(session: Session, sha256: str) -> None:
    """Delete raw bytes nothing refers to any more."""
    session.flush()
    used = session.scalar(select(func.count()).select_from(InboundMessage).where(
        InboundMessage.raw_sha256 == sha256)) or session.scalar(select(func.count()).select_from(
            AttachmentRecord).where(AttachmentRecord.sha256 == sha256))
    blob = session.get(Blob, sha256)
    if not used and blob is not None:
        session.delete(blob)


def _replace_placeholders(runtime: Runtime, mailbox: str, uidvalidity: int,
                          mails: Sequence[FetchedMail]) -> set[int]:
    """Clear the way for mail that could not be fetched before and now can.

    An untouched placeholder is deleted, so the mail goes through the pipeline as if new. One
    a person already made a ticket of keeps its ticket and gets the real bytes instead; its
    UID is returned, as that mail is stored now.
    """
    by_uid = {m.uid: m for m in mails}
    if not by_uid:
        return set()
    with session_scope(runtime.sessions) as session:
        rows = session.scalars(select(InboundMessage).where(
            InboundMessage.mailbox == mailbox, InboundMessage.uidvalidity == uidvalidity,
            InboundMessage.uid.in_(list(by_uid)), InboundMessage.source == UNFETCHED)).all()
        done: set[int] = set()
        for row in rows:
            mail, old_sha = by_uid[int(row.uid or 0)], row.raw_sha256
            detail = {"message_id": row.message_id, "mailbox": mailbox, "uid": row.uid}
            if row.ticket_id is None:
                session.delete(row)
            else:
                row.raw_sha256, row.raw_size, row.source = store_blob(session, mail.raw), \
                    len(mail.raw), "imap"
                session.flush()
                refill_from_raw(session, row)
                if row.ticket is not None:  # made from a bare placeholder: name it now
                    row.ticket.subject = row.ticket.subject or row.subject
                    row.ticket.requester = row.ticket.requester or row.sender
                done.add(mail.uid)
            _drop_blob_if_unused(session, old_sha)
            audit.record(session, "message.unfetched_replaced", detail=detail)
        return done


def _poll_batch(runtime: Runtime, client: MailboxClient, uidvalidity: int,
                batch: Sequence[int], run: PollRun) -> None:
    """Fetch, store and mark one batch; unfetchable mail gets a placeholder, stays unmarked."""
    mails, failed = _fetch_batch(client, batch, runtime.settings.mailbox)
    refilled = _replace_placeholders(runtime, client.name, uidvalidity, mails)
    for mail in mails:
        if mail.uid in refilled:
            run.add(IngestOutcome(MessageKind.TICKET, "", None, duplicate=True, error=None))
        else:
            run.add(_store(runtime, client, uidvalidity, mail))
    for uid, error in sorted(failed.items()):
        run.add(_store_unfetched(runtime, client, uidvalidity, uid, error))
    # Only now, with every message of the batch committed, is it marked on the server.
    client.mark([m.uid for m in mails])
    run.unfetched += sorted(failed)
    # last_uid stays below mail not fetched yet, so the next poll's search still finds it.
    floor = min(run.unfetched) - 1 if run.unfetched else max(batch)
    _advance(runtime, client.name, uidvalidity, min(max(batch), floor))


def poll_mailbox(runtime: Runtime, client: MailboxClient,
                 stop: threading.Event | None = None) -> PollRun:
    """Select the folder, then fetch, store and mark everything new (at most max_per_run) on
    an open connection, ending early between batches when `stop` is set; MailboxError when
    the connection fails."""
    settings = runtime.settings.mailbox
    run = PollRun()
    uidvalidity = client.select()
    uids = client.search_new(_last_uid(runtime, client.name, uidvalidity))
    run.truncated = len(uids) > settings.max_per_run
    uids = uids[: settings.max_per_run]
    for start in range(0, len(uids), settings.batch_size):
        if stop is not None and stop.is_set():
            run.truncated = True
            break
        _poll_batch(runtime, client, uidvalidity, uids[start : start + settings.batch_size], run)
    log.info("poll of %s: %s", settings.folder, run.summary)
    return run


def poll_once(runtime: Runtime, client_factory: ClientFactory | None = None) -> PollSummary:
    """Connect, poll (`poll_mailbox`), log out; MailboxError when the server cannot be reached."""
    client = (client_factory or connect)(runtime.settings.mailbox)
    try:
        return poll_mailbox(runtime, client).summary
    finally:
        client.close()
