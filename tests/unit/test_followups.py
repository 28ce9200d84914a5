"""Follow-ups: which replies attach to which ticket, and what they do to it (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.db import make_engine, make_sessionmaker, sync_people
from app.domain import MessageKind
from app.ingest.followups import REPLY_PREFIX, quote_holds
from app.ingest.pipeline import IngestOutcome, ingest_raw
from app.models import OutboundMessage, Ticket
from app.runtime import Runtime
from tests.ingest_mails import make_mail, quote

CASEWORKER = "anne.larsen@korsbaek.dk"
SUBJECT = "Fejl når jeg gemmer en handleplan"
BODY = ("Når jeg trykker gem på handleplanen for barnet får jeg fejlbeskeden 'Uventet fejl'.\n"
        "Det er sket tre gange i dag, også efter jeg har logget ud og ind igen.\n"
        "Venlig hilsen Anne")
SERVICE_DESK = "servicedesk@netcompany.example"


@pytest.fixture
def rt(make_settings, sqlite_url: str):
    """A runtime on a fresh SQLite database."""
    settings = make_settings(database={"url": sqlite_url})
    engine = make_engine(sqlite_url)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                      now=lambda: datetime(2024, 4, 16, 8, 0, tzinfo=UTC))
    with runtime.sessions.begin() as session:
        sync_people(session, settings)
    yield runtime
    runtime.dispose()


def ticket_mail(rt: Runtime, message_id: str = "first@korsbaek.dk",
                source: str = "import") -> IngestOutcome:
    """A caseworker's fault, stored as a new ticket."""
    outcome = ingest_raw(rt, make_mail(SUBJECT, BODY, CASEWORKER, message_id=message_id),
                         source=source)
    assert outcome.kind is MessageKind.TICKET
    return outcome


def ticket(rt: Runtime, ticket_id: int) -> Ticket:
    """The ticket as stored now."""
    with rt.sessions() as session:
        return session.get(Ticket, ticket_id)


def outbound_count(rt: Runtime, ticket_id: int) -> int:
    """Outgoing mails queued for a ticket."""
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboundMessage)
                                  .where(OutboundMessage.ticket_id == ticket_id)))


def test_reply_to_our_acknowledgement_is_a_followup_and_gets_no_acknowledgement(rt) -> None:
    first = ticket_mail(rt, source="imap")  # imported history gets no acknowledgement
    with rt.sessions() as session:
        ack = session.scalars(select(OutboundMessage.message_id)
                              .where(OutboundMessage.ticket_id == first.ticket_id)).first()
    assert ack, "a caseworker's new ticket queues an acknowledgement"
    queued = outbound_count(rt, first.ticket_id)
    reply = ingest_raw(rt, make_mail("SV: Kvittering", "Tak, jeg venter.", CASEWORKER,
                                     in_reply_to=ack.strip("<>")), source="imap")
    assert (reply.kind, reply.ticket_id) == (MessageKind.FOLLOWUP, first.ticket_id)
    assert outbound_count(rt, first.ticket_id) == queued


def test_references_to_mail_we_never_saw_make_a_new_ticket(rt) -> None:
    first = ticket_mail(rt)
    stranger = ingest_raw(rt, make_mail("SV: noget", "Hej, et nyt spørgsmål om bevillinger.",
                                        CASEWORKER, in_reply_to="never-seen@example.com",
                                        references=("also-unknown@example.com",)),
                          source="import")
    assert stranger.kind is MessageKind.TICKET and stranger.ticket_id != first.ticket_id


def test_subject_tag_counts_only_for_someone_taking_part(rt) -> None:
    first = ticket_mail(rt)
    tag = f"[DUBU-{first.ticket_id}]"
    outsider = ingest_raw(rt, make_mail(f"{tag} Hjælp med breve", "Hvordan sender jeg et brev?",
                                        "ole.hansen@korsbaek.dk"), source="import")
    assert outsider.kind is MessageKind.TICKET and outsider.ticket_id != first.ticket_id
    requester = ingest_raw(rt, make_mail(f"Ny oplysning {tag}", "Det virker nu igen.",
                                         CASEWORKER), source="import")
    assert (requester.kind, requester.ticket_id) == (MessageKind.FOLLOWUP, first.ticket_id)


def test_reply_subject_with_the_quoted_ticket_text_from_the_requester(rt) -> None:
    first = ticket_mail(rt)
    body = "Jeg har vedhæftet et skærmbillede.\n\n" + quote(BODY)
    reply = ingest_raw(rt, make_mail(f"SV: {SUBJECT}", body, CASEWORKER), source="import")
    assert (reply.kind, reply.ticket_id) == (MessageKind.FOLLOWUP, first.ticket_id)


def test_reply_subject_without_the_quote_or_from_a_stranger_is_a_new_ticket(rt) -> None:
    first = ticket_mail(rt)
    unquoted = ingest_raw(rt, make_mail(f"SV: {SUBJECT}", "Samme problem hos mig i dag.",
                                        CASEWORKER), source="import")
    stranger = ingest_raw(rt, make_mail(f"Re: {SUBJECT}", "Også mig.\n\n" + quote(BODY),
                                        "ole.hansen@korsbaek.dk"), source="import")
    assert unquoted.ticket_id != first.ticket_id and unquoted.kind is MessageKind.TICKET
    assert stranger.ticket_id != first.ticket_id and stranger.kind is MessageKind.TICKET


def test_service_desk_reply_by_the_caseworkers_message_id_records_the_nc_case(rt) -> None:
    first = ticket_mail(rt, message_id="orig-123@korsbaek.dk")
    reply = ingest_raw(rt, make_mail(
        "RE: [NC-482913] Fejl når jeg gemmer en handleplan",
        "Vi har modtaget jeres henvendelse og undersøger fejlen.", SERVICE_DESK,
        in_reply_to="nc-internal-77@netcompany.example",
        references=("orig-123@korsbaek.dk", "fwd-9@korsbaek.dk", "nc-internal-77@netcompany.example"),
    ), source="import")
    assert (reply.kind, reply.ticket_id) == (MessageKind.FOLLOWUP, first.ticket_id)
    assert ticket(rt, first.ticket_id).nc_case == "NC-482913"


@pytest.mark.parametrize(("before", "after"), [("resolved", "open"), ("waiting", "open"),
                                               ("closed", "closed"), ("forwarded", "forwarded")])
def test_a_followup_reopens_resolved_and_waiting_tickets_only(rt, before: str, after: str) -> None:
    first = ticket_mail(rt)
    with rt.sessions.begin() as session:
        session.get(Ticket, first.ticket_id).status = before
    reply = ingest_raw(rt, make_mail(f"Re: [DUBU-{first.ticket_id}] {SUBJECT}", "Nu igen.",
                                     CASEWORKER), source="import")
    assert reply.ticket_id == first.ticket_id  # the mail is attached even to a closed ticket
    assert ticket(rt, first.ticket_id).status == after


def test_noise_never_changes_a_ticket(rt) -> None:
    first = ticket_mail(rt)
    with rt.sessions.begin() as session:
        session.get(Ticket, first.ticket_id).status = "resolved"
    before = ticket(rt, first.ticket_id)
    auto = ingest_raw(rt, make_mail(
        f"Automatisk svar: [DUBU-{first.ticket_id}] {SUBJECT}", "Jeg er på ferie til mandag.",
        CASEWORKER, in_reply_to="first@korsbaek.dk",
        headers={"Auto-Submitted": "auto-replied"}), source="import")
    assert auto.kind is MessageKind.NOISE and auto.ticket_id is None
    after = ticket(rt, first.ticket_id)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)


@pytest.mark.parametrize("subject", ["SV: x", "Re: x", "VS: x", "AW: x", "Fwd: x", "RE[2]: x",
                                     "Fw: x", "TR: x"])
def test_reply_prefixes_are_recognised(subject: str) -> None:
    assert REPLY_PREFIX.match(subject)


def test_plain_subjects_are_not_replies() -> None:
    assert not REPLY_PREFIX.match("Svar på fejl i bevilling")
    assert not REPLY_PREFIX.match("Revision af handleplan")


def test_quote_check_is_loose_but_needs_the_ticket_text() -> None:
    outlook = ("Tak\n\nFra: Anne\nSendt: 16. april\n\n" + BODY.replace("\n", "\n\n"))
    assert quote_holds(BODY, "Tak\n\n" + quote(BODY))
    assert quote_holds(BODY, outlook)
    assert not quote_holds(BODY, "Tak\n\n> Et helt andet spørgsmål om bevillinger i dag")


def test_service_desk_counts_as_a_participant_only_once_the_ticket_was_forwarded(rt) -> None:
    first = ticket_mail(rt)
    subject = f"[DUBU-{first.ticket_id}] [NC-500100] Vi undersøger sagen"
    before = ingest_raw(rt, make_mail(subject, "Vi kigger på det.", SERVICE_DESK),
                        source="import")
    assert before.kind is MessageKind.TICKET and before.ticket_id != first.ticket_id
    with rt.sessions.begin() as session:
        forwarded = session.get(Ticket, first.ticket_id)
        forwarded.status, forwarded.forwarded_at = "forwarded", rt.now()
    after = ingest_raw(rt, make_mail(subject, "Fejlen er rettet i produktion.", SERVICE_DESK),
                       source="import")
    assert (after.kind, after.ticket_id) == (MessageKind.FOLLOWUP, first.ticket_id)
    assert ticket(rt, first.ticket_id).nc_case == "NC-500100"
