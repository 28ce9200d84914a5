"""The web view's services against both databases: queue, actions, forwarding, refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.errors import InvalidActionError, PermissionDeniedError
from app.models import AuditEvent, Correction, Forward, OutboundMessage
from app.services import forwarding, ticket_actions, tickets
from app.services.tickets import QueueFilter
from tests.web.factories import T0, attach, make_ticket, person

LENE = "lene.mortensen@korsbaek.dk"
PETER = "peter.lund@korsbaek.dk"
MADS = "mads.kjaer@korsbaek.dk"
OWNER = "birgitte.holm@korsbaek.dk"


def test_queue_views_filters_search_and_paging(runtime) -> None:
    with runtime.sessions.begin() as s:
        lene = person(s, LENE)
        for i in range(60):
            make_ticket(s, subject=f"Sag {i}", topic="oekonomi" if i % 2 else "breve",
                        assignee=lene if i < 5 else None)
        make_ticket(s, subject="Kritisk: underretning", severity="critical", text="kan ikke oprette")
        make_ticket(s, subject="Gammel", status="closed")
    with runtime.sessions() as s:
        lene = person(s, LENE)
        first = tickets.list_queue(s, lene, QueueFilter())
        assert len(first.rows) == 50 and first.has_next
        second = tickets.list_queue(s, lene, QueueFilter(page=2))
        assert len(second.rows) == 11 and not second.has_next
        assert {t.subject for t in first.rows}.isdisjoint({t.subject for t in second.rows})
        assert len(tickets.list_queue(s, lene, QueueFilter(view="mine")).rows) == 5
        areas = tickets.list_queue(s, lene, QueueFilter(view="areas", page=1)).rows
        assert {t.topic for t in areas} <= {"sagsbehandling", "breve"}
        assert tickets.list_queue(s, lene, QueueFilter(view="all", q="gammel")).rows[0].status == "closed"
        found = tickets.list_queue(s, lene, QueueFilter(q="KAN IKKE OPRETTE")).rows
        assert [t.subject for t in found] == ["Kritisk: underretning"]
        ranked = tickets.list_queue(s, lene, QueueFilter(sort="severity")).rows
        assert ranked[0].severity == "critical"
        assert tickets.list_queue(s, lene, QueueFilter(q="100%_")).rows == []


def test_queue_shows_hypercare_tickets_first(runtime) -> None:
    """During and after go-live, the superusers can put the hypercare weeks' tickets on top."""
    with runtime.sessions.begin() as s:
        make_ticket(s, subject="Efter hypercare, kritisk", severity="critical")
        make_ticket(s, subject="Hypercare, normal", hypercare=True)
        make_ticket(s, subject="Hypercare, høj", severity="high", hypercare=True)
    with runtime.sessions() as s:
        rows = tickets.list_queue(s, person(s, LENE), QueueFilter(sort="hypercare")).rows
        assert [t.subject for t in rows] == [
            "Hypercare, høj", "Hypercare, normal", "Efter hypercare, kritisk"]


def test_reclassify_reply_and_status(runtime) -> None:
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, category="question", text="Hvordan opretter jeg en handleplan?")
        tid = ticket.id
        lene = person(s, LENE)
        ticket_actions.reclassify(s, lene, tid, category="fault", topic="breve", severity="high", now=T0)
        out = ticket_actions.reply(s, runtime.settings, lene, tid, "Prøv igen nu.", now=T0)
        ticket_actions.set_status(s, lene, tid, "resolved", now=T0)
    with runtime.sessions() as s:
        ticket = tickets.get_ticket(s, tid)
        assert (ticket.category, ticket.topic, ticket.severity, ticket.status) == ("fault", "breve", "high", "resolved")
        assert ticket.first_response_at is not None and ticket.resolved_at is not None
        correction = s.scalars(select(Correction)).one()
        assert correction.text.startswith("Hvordan") and correction.old_category == "question"
        sent = s.get(OutboundMessage, out.id)
        assert f"[DUBU-{tid}]" in sent.subject and sent.in_reply_to == ticket.messages[0].message_id
        assert "Prøv igen nu." in sent.body_text
        assert [m.id for m in tickets.list_outbox(s).rows] == [out.id]  # pending until sent
        sent.status = "failed"
        assert tickets.failed_mail_count(s) == 1


def test_system_owner_reads_but_cannot_act(runtime) -> None:
    with runtime.sessions.begin() as s:
        tid = make_ticket(s).id
    with runtime.sessions.begin() as s, pytest.raises(PermissionDeniedError):
        ticket_actions.add_note(s, person(s, OWNER), tid, "hej", now=T0)
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "action_refused")) == 1


def test_forward_masks_and_records(runtime) -> None:
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject="Fejl for barn 010203-1234", text="CPR 0102031234 mangler\n",
                             severity="critical")
        attach(s, ticket.messages[0], "journal 010203-1234.pdf", b"%PDF")
        tid = ticket.id
    with runtime.sessions.begin() as s:
        lene = person(s, LENE)
        draft = forwarding.draft_forward(s, runtime.settings, lene, tid, "netcompany")
        assert "010203-XXXX" in draft.subject and "1234" not in draft.subject
        assert "010203-XXXX" in draft.body and "0102031234" not in draft.body
        assert draft.attachments[0].filename == "journal 010203-XXXX.pdf" and not draft.included
        with pytest.raises(InvalidActionError):
            forwarding.send_forward(s, runtime.settings, lene, tid, "netcompany", reason=" ", now=T0)
        forwarding.send_forward(s, runtime.settings, lene, tid, "netcompany", reason="Blokerer", now=T0)
    with runtime.sessions() as s:
        record = s.scalars(select(Forward)).one()
        assert record.by.email == LENE and record.reason == "Blokerer" and record.attachments_sent == []
        out = s.get(OutboundMessage, record.outbound_id)
        assert out.to_addrs == ["servicedesk@netcompany.example"] and out.kind == "forward_nc"
        assert out.references == [tickets.get_ticket(s, tid).messages[0].message_id]
        assert tickets.get_ticket(s, tid).status == "forwarded"


def test_forward_refused_without_the_right(runtime) -> None:
    with runtime.sessions.begin() as s:
        tid = make_ticket(s).id
        kombit = make_ticket(s, category="change_request", topic="opsaetning").id
    with runtime.sessions.begin() as s:
        with pytest.raises(PermissionDeniedError):
            forwarding.send_forward(s, runtime.settings, person(s, PETER), tid, "netcompany",
                                    reason="x", now=T0)
        with pytest.raises(PermissionDeniedError):
            forwarding.draft_forward(s, runtime.settings, person(s, LENE), kombit, "kombit")
        with pytest.raises(InvalidActionError):  # local configuration wishes stay local
            forwarding.draft_forward(s, runtime.settings, person(s, MADS), kombit, "kombit")
    with runtime.sessions() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "forward_refused").order_by(AuditEvent.id)).all()
        assert [e.actor for e in refused] == [PETER, LENE]
        assert s.scalar(select(func.count(Forward.id))) == 0


def test_restore_noise_as_ticket(runtime) -> None:
    from tests.web.factories import make_message

    with runtime.sessions.begin() as s:
        mid = make_message(s, kind="noise", subject="Fraværende: kan ikke gemme underretning",
                           text="Jeg kan ikke gemme en underretning, DUBU giver fejl.\n",
                           noise_kind="autoreply", noise_reason="subject").id
    with runtime.sessions.begin() as s:
        ticket = ticket_actions.restore(s, runtime, person(s, LENE), mid, now=T0)
        tid = ticket.id
        with pytest.raises(InvalidActionError):  # only once
            ticket_actions.restore(s, runtime, person(s, LENE), mid, now=T0)
    with runtime.sessions() as s:
        restored = tickets.get_message(s, mid)
        assert restored.ticket_id == tid and restored.kind == "ticket" and restored.restored_at
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "message.restored")).one().actor == LENE


def test_failed_logins_are_limited_per_client_address(runtime) -> None:
    from app.services import auth

    with runtime.sessions.begin() as s:
        for n in range(auth.MAX_FAILS_PER_CLIENT):
            with pytest.raises(PermissionDeniedError):
                auth.authenticate(s, f"guess{n}@korsbaek.dk", "x", remote_addr="198.51.100.7", now=T0)
        assert auth.is_throttled(s, "new@korsbaek.dk", "198.51.100.7", T0)
        assert not auth.is_throttled(s, "new@korsbaek.dk", "198.51.100.8", T0)
        assert not auth.is_throttled(s, "new@korsbaek.dk", "198.51.100.7", T0 + auth.LOGIN_WINDOW * 2)


def test_ticked_attachment_leaves_with_its_cpr_masked(make_settings, db_url, smtp_server,
                                                       smtp_settings, runtime_for) -> None:
    """A CPR number in an attachment's file name never reaches the service desk."""
    from app.mail.outbox import send_pending

    settings = make_settings(database={"url": db_url}, smtp=smtp_settings)
    rt = runtime_for(settings, now=T0)
    with rt.sessions.begin() as s:
        ticket = make_ticket(s, subject="Underretning kan ikke gemmes", severity="critical")
        record = attach(s, ticket.messages[0], "underretning 010203-1234.pdf", b"%PDF-1.4")
        tid, attachment_id = ticket.id, record.id
    with rt.sessions.begin() as s:
        forwarding.send_forward(s, settings, person(s, LENE), tid, "netcompany",
                                reason="Blokerer", attachment_ids=[attachment_id], now=T0)
    assert send_pending(rt).sent == 1
    [mail] = smtp_server.wait_for(1)
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "underretning 010203-XXXX.pdf"
    assert part.get_content() == b"%PDF-1.4"
    assert "010203-1234" not in mail.as_string()
