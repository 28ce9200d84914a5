"""The Danish mail templates: subjects, what each tells its reader, and strictness about names."""

from __future__ import annotations

import pytest

from app.mail.templates import TemplateError, danish, render

ACK = {
    "ref": "DUBU-42",
    "subject": "Kan ikke gemme handleplan",
    "requester_name": "Anne Hansen",
    "category": "fault",
    "topic": "sagsbehandling",
    "severity": "high",
    "has_cpr": False,
    "organisation": "DUBU-support, Korsbæk Kommune",
}


def test_acknowledgement_names_the_ticket_and_warns_about_cpr() -> None:
    """The caseworker sees the ticket tag, their own subject and the CPR reminder, in Danish."""
    subject, body = render("acknowledgement", **ACK)
    assert subject == "[DUBU-42] Vi har modtaget din henvendelse: Kan ikke gemme handleplan"
    assert "Kære Anne Hansen" in body
    assert "registreret som DUBU-42" in body
    assert "Send aldrig CPR-numre" in body
    assert "[DUBU-42]" in body  # how to reply so the answer finds the ticket
    assert body.endswith("\n") and "{{" not in body and "{%" not in body


@pytest.mark.parametrize(
    "category, topic, severity, expected",
    [
        ("question", "breve", "normal", "En superbruger svarer dig"),
        ("question", "adgang", "normal", "Den faglige leder"),
        ("fault", "oekonomi", "high", "Netcompanys servicedesk"),
        ("fault", "sagsbehandling", "critical", "kritisk fejl"),
        ("change_request", "opsaetning", "normal", "DUBU-administratoren"),
        ("change_request", "sagsbehandling", "normal", "KOMBIT"),
    ],
)
def test_acknowledgement_says_what_happens_next(
    category: str, topic: str, severity: str, expected: str
) -> None:
    """Each kind of request is told who handles it next (ORGANISATION.md)."""
    _, body = render(
        "acknowledgement", **{**ACK, "category": category, "topic": topic, "severity": severity}
    )
    assert expected in body


def test_acknowledgement_mentions_a_cpr_number_only_when_there_was_one() -> None:
    """The extra warning appears for mail that held a CPR number, and only then."""
    _, with_cpr = render("acknowledgement", **{**ACK, "has_cpr": True})
    _, without = render("acknowledgement", **ACK)
    assert "Din mail indeholdt et CPR-nummer" in with_cpr
    assert "Din mail indeholdt et CPR-nummer" not in without


def test_acknowledgement_without_name_or_subject_still_reads_well() -> None:
    """A sender without a display name and a mail without subject give sensible text."""
    subject, body = render("acknowledgement", **{**ACK, "requester_name": "", "subject": ""})
    assert subject == "[DUBU-42] Vi har modtaget din henvendelse: (uden emne)"
    assert body.startswith("Hej\n")


def test_critical_alert_links_to_the_ticket() -> None:
    """The alert names ticket, requester, severity in Danish and links to the web view."""
    subject, body = render(
        "critical_alert", ref="DUBU-7", subject="Underretninger kan ikke oprettes",
        requester="abc@korsbaek.dk", requester_name="Anne B. Clausen", category="fault",
        topic="sagsbehandling", severity="critical", assignee=None,
        link="https://dubu-triage.korsbaek.dk/tickets/7",
    )
    assert subject.startswith("[DUBU-7] KRITISK")
    assert "Anne B. Clausen <abc@korsbaek.dk>" in body
    assert "Alvor:        kritisk" in body
    assert "https://dubu-triage.korsbaek.dk/tickets/7" in body
    assert "manuel visitering" in body


def test_forward_netcompany_carries_the_masked_text_and_reason() -> None:
    """The service desk gets the masked text, the severity in Danish, the reason and our ref."""
    subject, body = render(
        "forward_netcompany", ref="DUBU-9", subject="Fejl ved udbetaling",
        masked_text="Barnet 140612-XXXX får ikke udbetalt.", severity="high",
        reason="Betalinger til plejefamilie fejler", forwarded_by="Hanne Dahl",
    )
    assert subject == "DUBU-9: Fejl ved udbetaling"
    assert "140612-XXXX" in body and "Alvor:       høj" in body
    assert "Betalinger til plejefamilie fejler" in body and "NC-" in body


@pytest.mark.parametrize(
    "name, context",
    [
        ("reply", {"ref": "DUBU-3", "subject": "Brevskabelon", "body": "Sådan gør du.",
                   "author_name": "Lene Mortensen"}),
        ("forward_kombit", {"ref": "DUBU-4", "subject": "Nyt felt", "masked_text": "Ønske",
                            "severity": "normal", "reason": "Landsdækkende",
                            "forwarded_by": "Mads Kjær"}),
        ("weekly_report", {"period": "uge 16 2024", "body": "Tal"}),
        ("hypercare_digest", {"day": "9. april 2024", "body": "Nye sager"}),
    ],
)
def test_every_template_renders_a_subject_and_its_body(name: str, context: dict) -> None:
    """Each template gives a one-line subject and a body that contains what it was given."""
    subject, body = render(name, **context)
    assert subject and "\n" not in subject
    assert all(str(value) in body or str(value) in subject for value in context.values())


def test_reply_keeps_the_ticket_tag_in_the_subject() -> None:
    """A superuser's reply is tagged, so the caseworker's answer threads even without headers."""
    subject, body = render("reply", ref="DUBU-3", subject="Brevskabelon", body="Svar",
                           author_name="Lene Mortensen")
    assert subject == "[DUBU-3] Brevskabelon"
    assert body.startswith("Svar\n") and "Lene Mortensen" in body


def test_a_missing_name_is_an_error_not_an_empty_gap() -> None:
    """A caller who forgets a value hears about it instead of mailing a broken text."""
    context = dict(ACK)
    del context["ref"]
    with pytest.raises(TemplateError, match="ref"):
        render("acknowledgement", **context)


def test_an_unknown_template_is_an_error() -> None:
    """Asking for a template that does not exist names it."""
    with pytest.raises(TemplateError, match="no_such"):
        render("no_such")


def test_a_value_cannot_inject_a_header_through_the_subject() -> None:
    """Line breaks in a subject value are folded into spaces."""
    subject, _ = render("reply", ref="DUBU-1", subject="Hej\r\nBcc: evil@example.org",
                        body="x", author_name="Lene")
    assert subject == "[DUBU-1] Hej Bcc: evil@example.org"


def test_a_template_without_subject_line_is_refused(monkeypatch, tmp_path) -> None:
    """The format is enforced: the first line must be the subject."""
    from app.mail import templates

    (tmp_path / "broken.txt").write_text("Hej\n\nTekst\n")
    monkeypatch.setattr(templates, "TEMPLATE_DIR", tmp_path)
    templates.environment.cache_clear()
    templates._compile.cache_clear()
    try:
        with pytest.raises(TemplateError, match="Emne:"):
            render("broken")
    finally:
        templates.environment.cache_clear()
        templates._compile.cache_clear()


def test_danish_labels() -> None:
    """Labels are shown in Danish; unknown values pass through."""
    assert danish("change_request") == "ændringsønske"
    assert danish("oekonomi") == "økonomi"
    assert danish("something") == "something"
