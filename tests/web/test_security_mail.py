"""Security review, outgoing mail: what a stranger's mail can smuggle into the mail we send.

A file name or Message-ID may carry an encoded CR LF (RFC 2231 `%0D%0A`, RFC 2047); forwarded
to the service desk through the real SMTP server (aiosmtpd), it must stay one header value.
"""

from __future__ import annotations

from app.mail.outbox import send_pending
from app.services import forwarding
from tests.web.factories import T0, attach, make_ticket, person

LENE = "lene.mortensen@korsbaek.dk"
INJECTED = "X-Injected: yes"


def test_line_breaks_from_a_strangers_mail_cannot_add_headers_to_a_forward(
    make_settings, db_url, smtp_server, smtp_settings, runtime_for
) -> None:
    settings = make_settings(database={"url": db_url}, smtp=smtp_settings)
    rt = runtime_for(settings, now=T0)
    with rt.sessions.begin() as s:
        ticket = make_ticket(s, subject="Fejl ved gem")
        ticket.messages[0].message_id = f"orig@korsbaek.dk>\r\n{INJECTED}\r\nBcc: evil@example.com"
        record = attach(s, ticket.messages[0], f'log.txt"\r\n{INJECTED}\r\n\r\nsmuggled body',
                        b"log", f"text/plain\r\n{INJECTED}")
        tid, aid = ticket.id, record.id
    with rt.sessions.begin() as s:
        forwarding.send_forward(s, settings, person(s, LENE), tid, "netcompany",
                                reason="Blokerer", attachment_ids=[aid], now=T0)
    assert send_pending(rt).sent == 1
    [mail] = smtp_server.wait_for(1)
    assert mail["X-Injected"] is None and mail["Bcc"] is None
    [part] = list(mail.iter_attachments())
    assert part["X-Injected"] is None and part.get_content_type() == "application/octet-stream"
    assert "\n" not in part.get_filename() and part.get_content() == b"log"
    assert "smuggled body" not in mail.get_body(("plain",)).get_content()
    assert mail["To"].addresses[0].addr_spec == settings.addresses.service_desk


def test_our_sender_name_arrives_readable(make_settings, db_url, smtp_server, smtp_settings,
                                          runtime_for) -> None:
    """The name was encoded twice (formataddr, then Flask-Mail): clients showed `=?utf-8?q?…`."""
    from app.mail.outbox import enqueue

    settings = make_settings(database={"url": db_url}, smtp=smtp_settings)
    rt = runtime_for(settings, now=T0)
    with rt.sessions.begin() as s:
        enqueue(s, settings, kind="reply", to=["anne.hansen@korsbaek.dk"], subject="Svar",
                body_text="Hej", now=T0)
    assert send_pending(rt).sent == 1
    [mail] = smtp_server.wait_for(1)
    [sender] = mail["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("DUBU-support, Korsbæk Kommune", settings.smtp.sender)
