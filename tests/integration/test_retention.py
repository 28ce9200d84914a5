"""Retention removes exactly the tickets closed longer than the period, with their mail and the
stored files nothing else uses; the audit keeps that it happened. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cli import main
from app.models import (
    AttachmentRecord,
    AuditEvent,
    Blob,
    Correction,
    Forward,
    InboundMessage,
    Note,
    OutboundMessage,
    Ticket,
)
from app.reports.retention import run_retention
from app.runtime import Runtime
from tests.integration.test_report_figures import _config_file
from tests.integration.test_report_history import add_forward, add_message, add_ticket, person

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
SHARED_PDF = b"%PDF-1.4 the same guide, attached to two tickets"
TABLES = (Ticket, InboundMessage, AttachmentRecord, Note, OutboundMessage, Blob, Forward, Correction)


def counts(session: Session) -> dict[str, int]:
    """Rows per table."""
    return {t.__name__: int(session.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES}


def closed_ticket(session: Session, closed_days_ago: int, subject: str, **kwargs: object) -> Ticket:
    """A ticket closed so many days before NOW (created a month earlier)."""
    created = NOW - (closed_days_ago + 30) * DAY
    return add_ticket(session, created_at=created, response_after=DAY, resolved_after=29 * DAY,
                      closed_after=30 * DAY, subject=subject, **kwargs)  # type: ignore[arg-type]


def populate(session: Session) -> dict[str, int]:
    """Two tickets past the period (13 months ≈ 395 days) and four that must stay."""
    lene = person(session, "lene.mortensen@korsbaek.dk")
    old = closed_ticket(session, 500, "Barnets CPR 010203-1234 i sag", assignee=lene,
                        attachments=(b"unique scan of a letter", SHARED_PDF))
    add_message(session, kind="followup", ticket=old, received_at=old.created_at + DAY,
                sender="servicedesk@netcompany.example", attachments=(b"log file from NC",))
    session.add(Note(ticket_id=old.id, author_id=lene.id, body="ring til mor", created_at=old.created_at))
    add_forward(session, old, target="netcompany", at=old.created_at + DAY, by=lene)
    session.add(Correction(ticket_id=old.id, by_id=lene.id, old_category="question",
                           old_topic="andet", old_severity="normal", category="fault",
                           topic="andet", severity="normal", subject=old.subject))
    borderline_old = closed_ticket(session, 400, "lige over grænsen")  # 13 months < 400 days
    young = closed_ticket(session, 380, "lige under grænsen", attachments=(SHARED_PDF,))
    resolved_only = add_ticket(session, created_at=NOW - 900 * DAY, resolved_after=DAY)
    still_open = add_ticket(session, created_at=NOW - 900 * DAY)
    # Noise within the period (older noise goes too: tests/integration/test_privacy_retention.py).
    add_message(session, kind="noise", received_at=NOW - 300 * DAY, noise_kind="spam")
    session.flush()
    return {"old": old.id, "borderline": borderline_old.id, "young": young.id,
            "resolved": resolved_only.id, "open": still_open.id}


def test_retention_deletes_exactly_what_is_due(runtime: Runtime) -> None:
    """Dry run changes nothing; the real run removes two tickets and all that is theirs only."""
    with runtime.sessions.begin() as session:
        ids = populate(session)
    with runtime.sessions.begin() as session:
        before = counts(session)
        dry = run_retention(session, runtime.settings, NOW, dry_run=True)
        assert [e.ticket_id for e in dry.tickets] == [ids["old"], ids["borderline"]]
        assert (dry.tickets[0].messages, dry.tickets[0].attachments, dry.tickets[0].notes,
                dry.tickets[0].outbound) == (2, 3, 1, 1)
        assert dry.blobs == 5  # 3 raw mails and 2 attachments; the shared guide stays
    with runtime.sessions.begin() as session:
        assert counts(session) == before
        result = run_retention(session, runtime.settings, NOW)
        assert len(result.tickets) == 2 and result.blobs == 5
    with runtime.sessions() as session:
        after = counts(session)
        assert set(session.scalars(select(Ticket.id))) == {ids["young"], ids["resolved"], ids["open"]}
        assert after["InboundMessage"] == before["InboundMessage"] - 3
        assert after["AttachmentRecord"] == before["AttachmentRecord"] - 3
        assert (after["Note"], after["OutboundMessage"]) == (0, 0)
        assert after["Blob"] == before["Blob"] - 5
        assert session.get(Blob, hashlib.sha256(SHARED_PDF).hexdigest()) is not None
        kept = session.scalars(select(InboundMessage.ticket_id)).all()
        assert set(kept) == {ids["young"], ids["resolved"], ids["open"], None}  # noise stays
        forward = session.scalars(select(Forward)).one()
        assert (forward.ticket_id, forward.outbound_id) == (None, None)
        assert session.scalars(select(Correction.ticket_id)).one() is None
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "retention.ticket_deleted").order_by(AuditEvent.ticket_id)).all()
        assert [e.ticket_id for e in events] == [ids["old"], ids["borderline"]]
        assert events[0].detail["messages"] == 2 and events[0].detail["attachments"] == 3
        assert "CPR" not in str([e.detail for e in events]) and "mor" not in str(events[0].detail)
    with runtime.sessions.begin() as session:
        assert run_retention(session, runtime.settings, NOW).tickets == ()


def test_cli_dry_run_lists_what_would_go(runtime: Runtime, tmp_path: Path) -> None:
    """`dubu-triage retention --dry-run` names the tickets and deletes nothing."""
    with runtime.sessions.begin() as session:
        ids = populate(session)
    config = str(_config_file(tmp_path, runtime.settings.database_url))
    answer = CliRunner().invoke(main, ["--config", config, "retention", "--dry-run"])
    assert answer.exit_code == 0, answer.output
    assert f"DUBU-{ids['old']}\t" in answer.output and f"DUBU-{ids['borderline']}\t" in answer.output
    assert f"DUBU-{ids['young']}\t" not in answer.output
    assert "would delete 2 tickets" in answer.output
    assert "0 suppressed noise mails" in answer.output  # populate's noise is young enough to stay
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 5
    real = CliRunner().invoke(main, ["--config", config, "retention"])
    assert "deleted 2 tickets" in real.output
