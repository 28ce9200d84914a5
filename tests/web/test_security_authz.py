"""Security review, authorisation: objects by id, tampered forms, refusals in the audit log.

tests/web/test_web_access_matrix.py checks every route × role; these check what a logged-in
person can reach by changing ids and fields the forms do not offer.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.errors import PermissionDeniedError
from app.models import AuditEvent, Forward, Note, OutboundMessage, Ticket
from app.services import people
from tests.web.conftest import csrf_token, log_in
from tests.web.factories import T0, attach, make_message, make_ticket, person

LENE = "lene.mortensen@korsbaek.dk"  # superuser with the forwarding right
PETER = "peter.lund@korsbaek.dk"  # superuser without it
OWNER = "birgitte.holm@korsbaek.dk"  # system owner: reads only


def _events(runtime, action: str) -> list[AuditEvent]:
    with runtime.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_an_attachment_is_only_served_under_its_own_ticket(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        mine, other = make_ticket(s), make_ticket(s)
        aid = attach(s, other.messages[0], "journal.pdf", b"%PDF other").id
        noise = make_message(s, kind="noise", noise_kind="spam")
        noise_aid = attach(s, noise, "spam.pdf", b"%PDF spam").id
        ids = (mine.id, other.id)
    log_in(client, PETER)
    assert client.get(f"/tickets/{ids[0]}/attachments/{aid}").status_code == 404
    assert client.get(f"/tickets/{ids[0]}/attachments/{noise_aid}").status_code == 404
    assert client.get(f"/tickets/{ids[1]}/attachments/{aid}").status_code == 200


def test_a_tampered_reply_still_goes_only_to_the_caseworker(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        tid = make_ticket(s, requester="anne.hansen@korsbaek.dk").id
    log_in(client, PETER)
    token = csrf_token(client, f"/tickets/{tid}")
    client.post(f"/tickets/{tid}/reply", data={
        "body": "Svar", "csrf_token": token, "to": "evil@example.com", "cc": "evil@example.com",
        "requester": "evil@example.com",
    })
    with web_runtime.sessions() as s:
        out = s.scalars(select(OutboundMessage)).one()
        assert (out.to_addrs, out.cc_addrs) == (["anne.hansen@korsbaek.dk"], [])
        assert s.get(Ticket, tid).requester == "anne.hansen@korsbaek.dk"


def test_a_forward_takes_neither_another_address_nor_another_tickets_attachments(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        ticket, other = make_ticket(s), make_ticket(s)
        own = attach(s, ticket.messages[0], "skærmbillede.png", b"png", "image/png").id
        foreign = attach(s, other.messages[0], "underretning.pdf", b"%PDF secret").id
        tid = ticket.id
    log_in(client, LENE)
    token = csrf_token(client, f"/tickets/{tid}")
    answer = client.post(f"/tickets/{tid}/forward/netcompany", data={
        "reason": "Blokerer", "attachment": [str(own), str(foreign)], "csrf_token": token,
        "to": "evil@example.com",
    })
    assert answer.status_code == 303
    with web_runtime.sessions() as s:
        out = s.scalars(select(OutboundMessage)).one()
        assert out.to_addrs == [web_runtime.settings.addresses.service_desk]
        assert out.attachment_ids == [own]
        assert [a["filename"] for a in s.scalars(select(Forward)).one().attachments_sent] == ["skærmbillede.png"]


def test_a_forged_forward_is_refused_and_recorded_without_mail_content(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        tid = make_ticket(s, subject="Fejl for barnet Emil", text="Emil 140612-4387\n").id
    log_in(client, PETER)
    token = csrf_token(client, f"/tickets/{tid}")
    answer = client.post(f"/tickets/{tid}/forward/netcompany",
                         data={"reason": "Blokerer", "csrf_token": token})
    assert answer.status_code == 403
    (event,) = _events(web_runtime, "forward_refused")
    assert (event.actor, event.ticket_id, event.remote_addr) == (PETER, tid, "127.0.0.1")
    assert event.at is not None and event.detail["right"] == "forward_netcompany"
    assert "Emil" not in str(event.detail) and "4387" not in str(event.detail)
    with web_runtime.sessions() as s:
        assert s.scalars(select(OutboundMessage)).all() == [] and s.get(Ticket, tid).status == "new"


def test_the_system_owner_changes_nothing_and_each_try_is_recorded(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        tid = make_ticket(s).id
    log_in(client, OWNER)
    token = csrf_token(client, f"/tickets/{tid}")
    for action, data in (("reply", {"body": "x"}), ("notes", {"body": "x"}), ("status", {"status": "closed"}),
                         ("assign", {"assignee": ""})):
        assert client.post(f"/tickets/{tid}/{action}", data={**data, "csrf_token": token}).status_code == 403
    whats = sorted(e.detail["what"] for e in _events(web_runtime, "action_refused"))
    assert whats == ["assign", "note", "reply", "status"]
    with web_runtime.sessions() as s:
        assert s.get(Ticket, tid).status == "new" and s.scalars(select(Note)).all() == []


def test_a_ticket_cannot_be_parked_with_someone_who_only_reads(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        tid = make_ticket(s).id
        owner_id = person(s, OWNER).id
    log_in(client, PETER)
    page = client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert f'<option value="{owner_id}"' not in page  # not offered ...
    token = csrf_token(client, f"/tickets/{tid}")
    client.post(f"/tickets/{tid}/assign", data={"assignee": str(owner_id), "csrf_token": token})
    with web_runtime.sessions() as s:
        assert s.get(Ticket, tid).assignee_id is None  # ... and refused when forged


def test_a_post_without_csrf_token_is_refused_and_recorded(client, web_runtime) -> None:
    with web_runtime.sessions.begin() as s:
        tid = make_ticket(s).id
    log_in(client, PETER)
    answer = client.post(f"/tickets/{tid}/notes", data={"body": "forfalsket"})
    assert answer.status_code == 400
    (event,) = _events(web_runtime, "csrf_refused")
    assert event.actor == PETER and event.detail["path"] == f"/tickets/{tid}/notes"
    assert "forfalsket" not in str(event.detail)
    with web_runtime.sessions() as s:
        assert s.scalars(select(Note)).all() == []


def test_absence_services_let_a_person_change_only_their_own(web_runtime) -> None:
    """The view passes the logged-in person; the service checks it, not the view."""
    today = date(2024, 4, 10)
    with web_runtime.sessions() as s:
        lene, peter = person(s, LENE), person(s, PETER)
        with pytest.raises(PermissionDeniedError):
            people.mark_away(s, peter, today, today=today, actor=lene)
        with pytest.raises(PermissionDeniedError):
            people.hand_on(s, web_runtime.settings, peter, today=today, actor=lene)
        assert peter.away_until is None
        people.mark_away(s, lene, today, today=today, actor=lene)  # one's own: fine
        people.mark_away(s, peter, today, today=today)  # the CLI (no actor): fine
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "action_refused")).all()
        assert [(e.actor, e.detail["what"]) for e in refused] == [(LENE, "away"), (LENE, "hand_on")]


def test_send_again_needs_the_right_to_work_tickets(web_runtime) -> None:
    """The outbox's "send again" is a service too: the system owner is refused, and it is recorded."""
    from app.mail.outbox import enqueue, retry_failed

    with web_runtime.sessions.begin() as s:
        row = enqueue(s, web_runtime.settings, kind="reply", to=["anne.hansen@korsbaek.dk"],
                      subject="Svar", body_text="Hej")
        row.status = "failed"
        row_id = row.id
    with web_runtime.sessions() as s:
        with pytest.raises(PermissionDeniedError):
            retry_failed(s, row_id, by=person(s, OWNER), now=T0)
        assert retry_failed(s, row_id, by=person(s, PETER), now=T0).status == "pending"
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "action_refused")).one()
        assert (refused.actor, refused.detail["what"]) == (OWNER, "retry mail")
