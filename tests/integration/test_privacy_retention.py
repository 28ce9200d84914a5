"""Privacy review of retention: what the mail said goes with the ticket, and old noise goes too.

A deleted ticket's forward and correction records keep who, when, where to and why, but not
the subject, text or attachment names. Suppressed noise older than the period is deleted with
its files; quarantine is kept. Both databases.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.models import AuditEvent, Blob, Correction, Forward, InboundMessage
from app.reports.retention import run_retention
from app.services import forwarding, ticket_actions
from tests.web.factories import attach, make_message, make_ticket, person

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=500)  # beyond 13 months
YOUNG = NOW - timedelta(days=100)
LENE = "lene.mortensen@korsbaek.dk"


def _worked_ticket(runtime, child: str, at: datetime) -> int:
    """A fault forwarded with an attachment and reclassified, then closed at `at`."""
    with runtime.sessions.begin() as s:
        lene = person(s, LENE)
        ticket = make_ticket(s, subject=f"Brev til {child} fejler", created_at=at - timedelta(days=3),
                             text=f"Moren til {child} kan ikke se brevet.")
        scan = attach(s, ticket.messages[0], f"afgørelse {child}.pdf", child.encode())
        ticket_actions.reclassify(s, lene, ticket.id, category="fault", topic="breve",
                                  severity="high", now=at - timedelta(days=2))
        forwarding.send_forward(s, runtime.settings, lene, ticket.id, "netcompany",
                                reason="Brevet kan ikke sendes", attachment_ids=[scan.id],
                                now=at - timedelta(days=1))
        ticket.status, ticket.closed_at = "closed", at
        return ticket.id


def test_deleted_tickets_leave_who_when_and_why_but_not_what_the_mail_said(runtime) -> None:
    old_id = _worked_ticket(runtime, "Emil Hansen", OLD)
    young_id = _worked_ticket(runtime, "Ida Berg", YOUNG)
    with runtime.sessions.begin() as s:
        assert [e.ticket_id for e in run_retention(s, runtime.settings, NOW).tickets] == [old_id]
    with runtime.sessions() as s:
        old_forward, young_forward = s.scalars(select(Forward).order_by(Forward.at)).all()
        assert old_forward.ticket_id is None
        assert (old_forward.subject, old_forward.body_sent) == ("", "")
        assert "Emil" not in str(old_forward.attachments_sent)
        assert [set(a) for a in old_forward.attachments_sent] == [{"sha256"}]
        assert old_forward.by.email == LENE and old_forward.reason == "Brevet kan ikke sendes"
        assert old_forward.to_addr == runtime.settings.addresses.service_desk
        old_fix, young_fix = s.scalars(select(Correction).order_by(Correction.at)).all()
        assert (old_fix.subject, old_fix.text, old_fix.ticket_id) == ("", "", None)
        assert (old_fix.category, old_fix.by_id) == ("fault", person(s, LENE).id)
        # The ticket that stays keeps everything.
        assert young_forward.ticket_id == young_id and "Ida Berg" in young_forward.subject
        assert "Ida" in str(young_forward.attachments_sent) and young_fix.text.startswith("Moren")
        # The audit log outlives retention: it never had the names, subjects or texts.
        details = str([(e.action, e.detail) for e in s.scalars(select(AuditEvent))])
        assert "Emil" not in details and "Ida" not in details and "ticket.forwarded" in details


def test_old_noise_is_deleted_with_its_files_and_quarantine_is_kept(runtime) -> None:
    with runtime.sessions.begin() as s:
        old = make_message(s, kind="noise", subject="Nyhedsbrev", received_at=OLD, noise_kind="newsletter")
        attach(s, old, "program.pdf", b"%PDF only in the old newsletter")
        young = make_message(s, kind="noise", subject="Fraværende", received_at=YOUNG, noise_kind="autoreply")
        quarantined = make_message(s, kind="quarantined", subject="Ulæselig", received_at=OLD,
                                   error="kunne ikke læses")
        restored_ticket = make_ticket(s, subject="Gendannet", status="open", created_at=OLD)
        restored = make_message(s, kind="noise", ticket=restored_ticket, received_at=OLD,
                                noise_kind="autoreply", restored_at=OLD)
        ids = {"old": old.id, "young": young.id, "quarantined": quarantined.id, "restored": restored.id}
        old_raw = old.raw_sha256
    with runtime.sessions.begin() as s:
        dry = run_retention(s, runtime.settings, NOW, dry_run=True)
        assert dry.noise == 1 and dry.blobs == 2
    with runtime.sessions.begin() as s:
        assert s.get(InboundMessage, ids["old"]) is not None  # the dry run changed nothing
        result = run_retention(s, runtime.settings, NOW)
        assert (result.noise, result.blobs) == (1, 2)
    with runtime.sessions() as s:
        kept = set(s.scalars(select(InboundMessage.id)))
        assert ids["old"] not in kept
        assert {ids["young"], ids["quarantined"], ids["restored"]} <= kept
        assert s.get(Blob, old_raw) is None
        assert s.get(Blob, hashlib.sha256(b"%PDF only in the old newsletter").hexdigest()) is None
        run = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run")).one()
        assert run.detail["noise"] == 1 and "Nyhedsbrev" not in str(run.detail)


def test_deleted_mail_leaves_no_trace_in_the_sqlite_file(make_settings, sqlite_url: str,
                                                          runtime_for) -> None:
    """After retention, the words of a deleted child's case are nowhere in the database file:
    not in a table, not in the search index, not in free pages."""
    from pathlib import Path

    settings = make_settings(database={"url": sqlite_url})
    rt = runtime_for(settings)
    engine = rt.engine
    marker = "Snehvide Zorrovej"
    _worked_ticket(rt, marker, OLD)
    file = Path(sqlite_url.removeprefix("sqlite:///"))

    def in_file() -> bool:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return marker.encode() in file.read_bytes()

    with engine.connect() as conn:  # Debian's SQLite has it on by default; ours is explicit
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    assert in_file()  # the test can see the words while the ticket lives
    with rt.sessions.begin() as s:
        assert len(run_retention(s, settings, NOW).tickets) == 1
    assert not in_file()
