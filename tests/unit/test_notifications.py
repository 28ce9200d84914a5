"""Who may get automatic mail, what our Message-IDs look like, back-off, and the built message."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from app.domain import LOOP_HEADER, is_our_message_id
from app.mail.notifications import never_acknowledged
from app.mail.outbox import backoff, new_message_id
from app.mail.sender import Outgoing, OutgoingAttachment, build_message, mail_app
from app.settings import Settings


@pytest.fixture
def korsbaek(make_settings) -> Settings:
    """The Korsbæk example settings."""
    return make_settings()


@pytest.mark.parametrize(
    "address, reason",
    [
        ("servicedesk@netcompany.example", "the Netcompany service desk"),
        ("noreply@netcompany.example", "the Netcompany service desk"),
        ("DUBU@kombit.dk", "KOMBIT"),
        ("jens@kombit.dk", "KOMBIT"),
        ("dubu@korsbaek.dk", "our own address"),
        ("", "no sender address"),
    ],
)
def test_never_acknowledged(korsbaek: Settings, address: str, reason: str) -> None:
    """The service desk, KOMBIT and our own mailbox never get automatic replies."""
    assert never_acknowledged(korsbaek, address) == reason


@pytest.mark.parametrize(
    "address", ["anne.hansen@korsbaek.dk", "abc@korsbaek.dk", "lene.mortensen@korsbaek.dk"]
)
def test_caseworkers_and_our_people_may_be_acknowledged(korsbaek: Settings, address: str) -> None:
    """Caseworkers, and configured superusers who write a ticket themselves, get one."""
    assert never_acknowledged(korsbaek, address) is None


def test_message_ids_name_their_ticket_and_are_recognised_as_ours(korsbaek: Settings) -> None:
    """A Message-ID names prefix, ticket and kind, is unique, and is known as ours."""
    first = new_message_id(korsbaek, 123, "ack")
    second = new_message_id(korsbaek, 123, "ack")
    assert first.startswith("dubu-triage.DUBU-123.ack.") and first.endswith("@korsbaek.dk")
    assert first != second
    assert is_our_message_id(first) and is_our_message_id(f"<{first}>")
    assert new_message_id(korsbaek, None, "alert").startswith("dubu-triage.DUBU-0.alert.")


def test_backoff_doubles_and_is_capped() -> None:
    """Retries wait 1, 2, 4 … minutes, never more than six hours."""
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(30) == timedelta(hours=6)


def test_built_message_carries_our_headers_and_attachments(korsbaek: Settings) -> None:
    """The mail as bytes: our Message-ID, threading headers, loop header, Danish text, a file."""
    outgoing = Outgoing(
        message_id="dubu-triage.DUBU-5.ack.abc@korsbaek.dk",
        to=("anne@korsbaek.dk",),
        cc=(),
        subject="[DUBU-5] Vi har modtaget din henvendelse: Bevilling på børn",
        body_text="Kære Anne\nSend aldrig CPR-numre.\n",
        body_html=None,
        in_reply_to="orig@korsbaek.dk",
        references=("older@korsbaek.dk", "orig@korsbaek.dk"),
        extra_headers=(("Auto-Submitted", "auto-replied"),),
        attachments=(OutgoingAttachment("skærmbillede.png", "image/png", b"\x89PNG\r\n"),),
    )
    app = mail_app(korsbaek)
    with app.app_context():
        raw = build_message(outgoing, korsbaek).as_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Message-ID"] == "<dubu-triage.DUBU-5.ack.abc@korsbaek.dk>"
    assert msg["In-Reply-To"] == "<orig@korsbaek.dk>"
    assert msg["References"] == "<older@korsbaek.dk> <orig@korsbaek.dk>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg[LOOP_HEADER] == "korsbaek.dk"
    assert msg["Subject"] == outgoing.subject
    assert msg["From"].addresses[0].addr_spec == "dubu@korsbaek.dk"
    assert msg["From"].addresses[0].display_name == "DUBU-support, Korsbæk Kommune"
    body = msg.get_body(("plain",))
    assert body is not None and "Send aldrig CPR-numre." in body.get_content()
    files = list(msg.iter_attachments())
    assert [f.get_filename() for f in files] == ["skærmbillede.png"]
    assert files[0].get_content() == b"\x89PNG\r\n"


def test_long_lines_and_danish_letters_survive_the_line_limit(korsbaek: Settings) -> None:
    """A 3,000-character paragraph goes out in lines within RFC 5322's limit, and reads back."""
    paragraph = "Barnets handleplan kan ikke gemmes, og fejlen kommer igen og igen. " * 45
    outgoing = Outgoing(
        message_id="dubu-triage.DUBU-6.forward_nc.abc@korsbaek.dk", to=("sd@netcompany.example",),
        cc=(), subject="DUBU-6: Fejl", body_text=f"Før:\n{paragraph}\nÆØÅ æøå\n", body_html=None,
        in_reply_to=None, references=(), extra_headers=(),
    )
    with mail_app(korsbaek).app_context():
        raw = build_message(outgoing, korsbaek).as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = message_from_bytes(raw, policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == outgoing.body_text  # CRLF is SMTP's line ending
