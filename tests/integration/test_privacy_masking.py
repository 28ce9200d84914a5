"""Privacy review: CPR numbers masked where mail leaves the municipality and where text is kept.

Both databases. Replies to caseworkers of the municipality keep CPR numbers on purpose (they
must know which child's case is meant); everything that leaves for another domain is masked.
"""

from __future__ import annotations

from sqlalchemy import select

from app.models import AuditEvent, Correction, Forward, OutboundMessage
from app.services import forwarding, ticket_actions
from tests.web.factories import T0, attach, make_ticket, person

LENE = "lene.mortensen@korsbaek.dk"
CPR = "140612-4387"
MASKED = "140612-XXXX"


def test_forward_reason_is_masked_in_the_mail_the_record_and_the_audit_log(runtime) -> None:
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject="Fejl i sag", text="Kan ikke gemme.")
        record = forwarding.send_forward(
            s, runtime.settings, person(s, LENE), ticket.id, "netcompany",
            reason=f"Barnet {CPR} venter på en afgørelse", now=T0,
        )
        s.flush()
        forward_id, outbound_id = record.id, record.outbound_id
    with runtime.sessions() as s:
        forward = s.get(Forward, forward_id)
        assert forward.reason == f"Barnet {MASKED} venter på en afgørelse"
        assert CPR not in s.get(OutboundMessage, outbound_id).body_text
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.forwarded.netcompany")).one()
        assert CPR not in str(event.detail) and MASKED in event.detail["reason"]


def test_corrections_keep_the_words_but_not_the_cpr_numbers(runtime) -> None:
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject=f"Underretning om {CPR}", category="question",
                             text="Jeg kan ikke gemme underretningen på 1406124387 i DUBU.")
        ticket_actions.reclassify(s, person(s, LENE), ticket.id, category="fault",
                                  topic="sagsbehandling", severity="high", now=T0)
    with runtime.sessions() as s:
        correction = s.scalars(select(Correction)).one()
        assert correction.subject == f"Underretning om {MASKED}"
        assert correction.text == f"Jeg kan ikke gemme underretningen på {MASKED} i DUBU."


def _reply_to(runtime, requester: str) -> OutboundMessage:
    """Reply to a ticket from `requester` whose subject and answer name a CPR number."""
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject=f"Sag om {CPR}", requester=requester)
        out = ticket_actions.reply(s, runtime.settings, person(s, LENE), ticket.id,
                                   f"Sagen om {CPR} er rettet.", now=T0)
        out_id = out.id
    with runtime.sessions() as s:
        return s.get(OutboundMessage, out_id)


def test_a_reply_to_a_caseworker_of_the_municipality_keeps_the_cpr_number(runtime) -> None:
    sent = _reply_to(runtime, "anne.hansen@korsbaek.dk")
    assert CPR in sent.subject and f"Sagen om {CPR} er rettet." in sent.body_text
    sub = _reply_to(runtime, "anne@boern.korsbaek.dk")
    assert CPR in sub.body_text


def test_a_reply_to_an_address_outside_the_municipality_is_masked(runtime) -> None:
    for address in ("someone@gmail.example", "x@korsbaek.dk.evil.example", "y@notkorsbaek.dk"):
        sent = _reply_to(runtime, address)
        assert CPR not in sent.subject + sent.body_text, address
        assert f"Sagen om {MASKED} er rettet." in sent.body_text


def test_cpr_numbers_written_with_a_space_or_a_typographic_dash_are_masked_too(runtime) -> None:
    """`140612 4387` (how many write it) and `140612–4387` (Word, PDFs) must not leave either."""
    written = ["140612 4387", "140612\u00a04387", "140612\u20134387", "140612\u20114387"]
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, subject=f"Barn {written[0]}", text="\n".join(written) + "\n")
        draft = forwarding.draft_forward(s, runtime.settings, person(s, LENE), ticket.id, "netcompany")
    assert "4387" not in draft.subject + draft.body
    assert draft.body.count(MASKED) == len(written) + 1  # and once in the quoted subject


def test_the_kombit_forward_is_masked_like_the_service_desk_one(runtime) -> None:
    """Change requests leave for KOMBIT: subject, text, reason and file names masked."""
    with runtime.sessions.begin() as s:
        ticket = make_ticket(s, category="change_request", topic="sagsbehandling",
                             subject=f"Ønske: vis {CPR} i overblikket", text=f"Fx barnet {CPR}.\n")
        image = attach(s, ticket.messages[0], f"eksempel {CPR}.png", b"png", "image/png")
        mads = person(s, "mads.kjaer@korsbaek.dk")  # the system responsible
        record = forwarding.send_forward(s, runtime.settings, mads, ticket.id, "kombit",
                                         reason=f"Som i sag {CPR}", attachment_ids=[image.id], now=T0)
        s.flush()
        out = s.get(OutboundMessage, record.outbound_id)
        sent = " ".join([out.subject, out.body_text, record.reason, str(record.attachments_sent)])
    assert out.to_addrs == [runtime.settings.addresses.kombit]
    assert CPR not in sent and sent.count(MASKED) >= 5


def test_any_mail_to_an_outside_address_is_masked_on_its_way_out(
    make_settings, db_url, smtp_server, smtp_settings, runtime_for
) -> None:
    """The outbox is the one way out: whatever queued a mail, an outside recipient gets no CPR."""
    from app.mail.outbox import enqueue, send_pending

    settings = make_settings(database={"url": db_url}, smtp=smtp_settings)
    rt = runtime_for(settings, now=T0)
    with rt.sessions.begin() as s:
        for to in ("anne.hansen@korsbaek.dk", "konsulent@firma.example"):
            enqueue(s, settings, kind="ack", to=[to], subject=f"Sag {CPR}", body_text=f"Barn {CPR}\n",
                    now=T0)
    assert send_pending(rt).sent == 2
    mails = {m["To"].addresses[0].addr_spec: m for m in smtp_server.wait_for(2)}
    inside, outside = mails["anne.hansen@korsbaek.dk"], mails["konsulent@firma.example"]
    assert inside["Subject"] == f"Sag {CPR}" and CPR in inside.get_content()
    assert outside["Subject"] == f"Sag {MASKED}" and CPR not in outside.get_content()
