"""One poll of the mailbox: fetch what is new, store each mail, then mark it on the server.

UIDs with UIDVALIDITY and the last UID kept per folder in `MailboxState`. Mail is fetched in
batches with BODY.PEEK[]; each message is committed by the pipeline, and only after the whole
batch is committed is it marked on the server (flag or move) and last_uid advanced. A crash in
between leaves mail unmarked, to be fetched again and recognised as already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select

from app.db import session_scope
from app.domain import MessageKind
from app.ingest.imap import FetchedMail, MailboxClient, connect
from app.ingest.pipeline import IngestOutcome, ingest_raw, quarantine_raw
from app.models import MailboxState
from app.runtime import Runtime
from app.services import audit
from app.settings import MailboxSettings

log = logging.getLogger(__name__)

# Mail over max_size is still fetched whole (to keep it) up to this multiple; beyond, headers only.
FETCH_OVERSIZE_FACTOR = 4


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


def _fetch_batch(client: MailboxClient, uids: Sequence[int], settings: MailboxSettings,
                 ) -> tuple[list[FetchedMail], set[int]]:
    """Fetch a batch; mail over max_size too (whole if feasible, else its header). Returns the
    mails and the UIDs that are over the size cap."""
    sizes = client.sizes(uids)
    oversize = {u for u in uids if sizes.get(u, 0) > settings.max_size}
    huge = [u for u in oversize if sizes[u] > settings.max_size * FETCH_OVERSIZE_FACTOR]
    whole = [u for u in uids if u not in huge]
    mails = client.fetch(whole) + client.fetch(huge, header_only=True)
    return sorted(mails, key=lambda m: m.uid), oversize


def _store(runtime: Runtime, client: MailboxClient, uidvalidity: int, mail: FetchedMail,
           oversize: bool) -> IngestOutcome:
    """Store one fetched mail: through the pipeline, or straight to quarantine when too big."""
    where = {"source": "imap", "received_at": mail.internaldate, "mailbox": client.name,
             "uidvalidity": uidvalidity, "uid": mail.uid}
    if not oversize:
        return ingest_raw(runtime, mail.raw, **where)  # type: ignore[arg-type]
    limit = runtime.settings.mailbox.max_size
    error = (f"mail of {mail.size} bytes is larger than mailbox.max_size ({limit} bytes); "
             "kept unparsed in quarantine")
    raw = mail.raw
    if mail.header_only:
        error += "; only its header was fetched, the whole mail stays on the server"
        raw = raw + f"\r\n[dubu-triage: body of {mail.size} bytes not fetched]\r\n".encode()
    return quarantine_raw(runtime, raw, error, **where)  # type: ignore[arg-type]


def poll_once(runtime: Runtime, client_factory: ClientFactory | None = None) -> PollSummary:
    """Fetch everything new (at most max_per_run), store each mail once, mark it; MailboxError
    when the server cannot be reached."""
    settings = runtime.settings.mailbox
    summary = PollSummary()
    client = (client_factory or connect)(settings)
    try:
        uidvalidity = client.select()
        uids = client.search_new(_last_uid(runtime, client.name, uidvalidity))
        uids = uids[: settings.max_per_run]
        for start in range(0, len(uids), settings.batch_size):
            batch = uids[start : start + settings.batch_size]
            mails, oversize = _fetch_batch(client, batch, settings)
            for mail in mails:
                summary.add(_store(runtime, client, uidvalidity, mail, mail.uid in oversize))
            # Only now, with every message of the batch committed, is it marked on the server.
            client.mark([m.uid for m in mails])
            _advance(runtime, client.name, uidvalidity, max(batch))
    finally:
        client.close()
    log.info("poll of %s: %s", settings.folder, summary)
    return summary
