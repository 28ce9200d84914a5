"""detect_noise: one test per rule, the traps around it, and the labelled Danish corpus."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.domain import LOOP_HEADER, NoiseKind
from app.ingest.noise import detect_noise
from app.ingest.parsing import parse_message

DUBU_DEV = Path(__file__).resolve().parents[2] / "app" / "resources" / "dubu-dev"
OWN = ("dubu@korsbaek.dk",)


def make_message(
    body: str = "Hej\n\nJeg kan ikke gemme en underretning.\n\nMvh\nPia\n", **headers: str | None
):
    """A parsed mail from a caseworker, with headers added or replaced (None removes one)."""
    defaults: dict[str, str | None] = {
        "From": "Pia Lauridsen <pla@korsbaek.dk>",
        "To": "DUBU postkasse <dubu@korsbaek.dk>",
        "Subject": "Kan ikke gemme underretning",
        "Date": "Wed, 03 Apr 2024 10:12:00 +0200",
        "Message-ID": "<AM0PR07MB1@eurprd07.prod.outlook.com>",
    }
    merged = {**defaults, **{k.replace("_", "-"): v for k, v in headers.items()}}
    head = "".join(f"{name}: {value}\n" for name, value in merged.items() if value is not None)
    return parse_message((head + "\n" + body).encode("utf-8"))


def verdict(msg, own=OWN):
    """The noise kind of `msg`, or None for a person's mail."""
    found = detect_noise(msg, own_addresses=own)
    return None if found is None else found.kind


def test_a_caseworkers_mail_is_not_noise():
    assert detect_noise(make_message()) is None


def test_outlook_auto_response_suppress_on_a_human_reply_is_not_noise():
    msg = make_message(
        Subject="SV: Kan ikke gemme", X_Auto_Response_Suppress="All", In_Reply_To="<x@korsbaek.dk>"
    )
    assert verdict(msg) is None


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "auto-notified"])
def test_auto_submitted_is_an_autoreply_naming_the_header(value):
    found = detect_noise(make_message(Auto_Submitted=value))
    assert found is not None and found.kind == NoiseKind.AUTOREPLY
    assert found.reason == f"header Auto-Submitted: {value}"


def test_auto_submitted_no_is_a_person():
    assert verdict(make_message(Auto_Submitted="no")) is None


def test_ticket_system_update_on_a_thread_is_not_noise():
    """The service desk's status mail answers our forward: a follow-up, not an auto-reply."""
    msg = make_message(
        Subject="[NC-484702] Status ændret: Løst",
        Auto_Submitted="auto-generated",
        In_Reply_To="<dubu-triage.DUBU-7.fwd.x@korsbaek.dk>",
    )
    assert verdict(msg) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Autoreply", "yes"), ("X-Autorespond", "Out of office"), ("Precedence", "auto_reply")],
)
def test_autoreply_headers(name, value):
    assert verdict(make_message(**{name.replace("-", "_"): value})) == NoiseKind.AUTOREPLY


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("Autosvar: Kan ikke gemme", NoiseKind.AUTOREPLY),
        ("Automatisk svar: SV: Frist", NoiseKind.AUTOREPLY),
        ("Fraværende: Daglig oversigt", NoiseKind.AUTOREPLY),
        ("Out of Office: Question", NoiseKind.AUTOREPLY),
        ("Automatic reply: Question", NoiseKind.AUTOREPLY),
        ("Auto reply: Nyaan", NoiseKind.AUTOREPLY),
        ("AUTO: Pia Lauridsen is out of the office", NoiseKind.AUTOREPLY),
        ("[EXT] Autosvar: Kan ikke gemme", NoiseKind.AUTOREPLY),
        ("Ikke-leverbar: Daglig oversigt", NoiseKind.BOUNCE),
        ("Undeliverable: VS: Sortering", NoiseKind.BOUNCE),
        ("Delivery Status Notification (Failure)", NoiseKind.BOUNCE),
        ("Mail delivery failed: returning message to sender", NoiseKind.BOUNCE),
        ("Returned mail: see transcript for details", NoiseKind.BOUNCE),
        ("Læst: SV: DUBU", NoiseKind.RECEIPT),
        ("Read: Question", NoiseKind.RECEIPT),
        ("Ikke læst: SV: DUBU", NoiseKind.RECEIPT),
        ("Accepteret: Hypercare check-in", NoiseKind.CALENDAR),
        ("Foreløbig accepteret: Superbrugermøde", NoiseKind.CALENDAR),
        ("Accepted: Superuser meeting", NoiseKind.CALENDAR),
        ("Tentative: Superuser meeting", NoiseKind.CALENDAR),
    ],
)
def test_automatic_subjects(subject, kind):
    found = detect_noise(make_message(Subject=subject), own_addresses=OWN)
    assert found is not None and found.kind == kind
    assert subject[:20] in found.reason


@pytest.mark.parametrize(
    "subject",
    [
        "SV: Autosvar: Kan ikke gemme",  # a person answering an auto-reply
        "Afvist: betaling til plejefamilie",  # a fault report, not a calendar answer
        "Read-only adgang til sagen",
        "Tak for hjælpen i går",
    ],
)
def test_human_subjects_that_resemble_automatic_ones(subject):
    assert verdict(make_message(Subject=subject)) is None


def test_declined_meeting_with_calendar_part_is_a_calendar_answer():
    body = (
        "--c\nContent-Type: text/plain\n\nAfvist\n--c\n"
        "Content-Type: text/calendar; method=REPLY\n\nBEGIN:VCALENDAR\nMETHOD:REPLY\n"
        "END:VCALENDAR\n--c--\n"
    )
    msg = make_message(
        body, Subject="Afvist: Møde", Content_Type='multipart/alternative; boundary="c"'
    )
    found = detect_noise(msg)
    assert found is not None and found.kind == NoiseKind.CALENDAR
    assert "METHOD:REPLY" in found.reason


def _report(report_type: str, status_part: str) -> tuple[str, str]:
    """A multipart/report body with a text part and the given machine-readable part."""
    return (
        f"--r\nContent-Type: text/plain\n\nRapport.\n--r\n{status_part}\n--r--\n"
    ), f'multipart/report; report-type={report_type}; boundary="r"'


@pytest.mark.parametrize(
    ("action", "kind"),
    [("failed", NoiseKind.BOUNCE), ("delayed", NoiseKind.BOUNCE), ("delivered", NoiseKind.RECEIPT)],
)
def test_delivery_status_reports(action, kind):
    status = (
        "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.korsbaek.dk\n\n"
        f"Final-Recipient: rfc822; x@kombit.dk\nAction: {action}\nStatus: 5.1.1\n"
    )
    body, ctype = _report("delivery-status", status)
    assert verdict(make_message(body, Subject="Besked", Content_Type=ctype)) == kind


def test_read_receipt_report():
    status = "Content-Type: message/disposition-notification\n\nDisposition: manual-action/MDN-sent-manually; displayed\n"
    body, ctype = _report("disposition-notification", status)
    found = detect_noise(make_message(body, Subject="Besked", Content_Type=ctype))
    assert found is not None and found.kind == NoiseKind.RECEIPT
    assert "disposition-notification" in found.reason


@pytest.mark.parametrize(
    "headers",
    [
        {"From": "MAILER-DAEMON@mx.korsbaek.dk", "Subject": "Besked"},
        {"From": "postmaster@kombit.dk", "Subject": "Besked"},
        {"Return_Path": "<>", "Subject": "Besked"},
    ],
)
def test_mailer_daemon_and_null_sender_are_bounces(headers):
    assert verdict(make_message(**headers)) == NoiseKind.BOUNCE


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X_Spam_Flag": "YES"}, "X-Spam-Flag"),
        ({"X_Spam_Status": "Yes, score=12.3 required=5.0"}, "X-Spam-Status"),
        ({"X_MS_Exchange_Organization_SCL": "6"}, "SCL"),
        ({"X_Forefront_Antispam_Report": "SFV:SPM;SCL:6;CAT:PHSH;"}, "Forefront"),
    ],
)
def test_spam_filter_verdicts(headers, reason):
    found = detect_noise(make_message(**headers))
    assert found is not None and found.kind == NoiseKind.SPAM and reason in found.reason


@pytest.mark.parametrize(
    "headers",
    [
        {"X_Spam_Flag": "NO"},
        {"X_Spam_Status": "No, score=0.1"},
        {"X_MS_Exchange_Organization_SCL": "1"},
        {"X_MS_Exchange_Organization_SCL": "-1"},
    ],
)
def test_clean_spam_verdicts_are_a_person(headers):
    assert verdict(make_message(**headers)) is None


PHISH = "<p>Din postkasse er næsten fuld. Bekræft din konto her: https://x.example/login</p>"


def test_phishing_from_a_lookalike_domain():
    msg = make_message(
        PHISH,
        From="Korsbæk IT <it@korsbaek-dk.com>",
        Subject="Handling påkrævet",
        Content_Type="text/html; charset=utf-8",
    )
    found = detect_noise(msg, own_addresses=OWN)
    assert found is not None and found.kind == NoiseKind.SPAM
    assert "korsbaek-dk.com imitates korsbaek.dk" in found.reason


def test_homoglyph_domain_imitating_the_display_name():
    msg = make_message(
        "Bekræft din adgang inden fredag.", From="Netcompany <sd@netcornpany.example>"
    )
    found = detect_noise(msg)
    assert found is not None and found.kind == NoiseKind.SPAM
    assert "netcornpany.example" in found.reason


def test_colleague_writing_about_a_full_mailbox_is_not_spam():
    msg = make_message(PHISH, Subject="RE: postkassen", Content_Type="text/html; charset=utf-8")
    assert verdict(msg) is None


def test_bait_phrase_alone_is_not_enough():
    msg = make_message(
        "Kan I bekræfte min adgang til DUBU? Min adgangskode udløber i morgen.",
        From="Ekstern konsulent <k@konsulent.example>",
    )
    assert verdict(msg) is None


def test_newsletter_headers():
    found = detect_noise(make_message(List_Id="DUBU-nyt <dubu-nyt.kombit.dk>", Precedence="bulk"))
    assert found is not None and found.kind == NoiseKind.NEWSLETTER
    assert "List-Id" in found.reason
    assert verdict(make_message(Precedence="bulk")) == NoiseKind.NEWSLETTER
    assert verdict(make_message(Precedence="list")) == NoiseKind.NEWSLETTER


def test_unsubscribe_footer_marks_a_newsletter_but_not_a_reply():
    body = "Nyt kursus i barnets lov.\n\nØnsker du ikke at modtage flere nyheder, så afmeld her."
    assert verdict(make_message(body, Subject="Kurser i efteråret")) == NoiseKind.NEWSLETTER
    reply = make_message(body, Subject="SV: Kurser", In_Reply_To="<a@korsbaek.dk>")
    assert verdict(reply) is None


def test_a_persons_post_to_a_discussion_list_is_not_noise():
    msg = make_message(
        List_Id="<superbrugere.korsbaek.dk>",
        Precedence="list",
        List_Post="<mailto:superbrugere@korsbaek.dk>",
        List_Unsubscribe="<mailto:superbrugere-leave@korsbaek.dk>",
    )
    assert verdict(msg) is None


def test_our_own_mail_is_a_loop():
    assert verdict(make_message(**{LOOP_HEADER.replace("-", "_"): "DUBU-7"})) == NoiseKind.LOOP
    ours = make_message(Message_ID="<dubu-triage.DUBU-7.ack.x1@korsbaek.dk>")
    assert verdict(ours) == NoiseKind.LOOP
    mine = make_message(From="DUBU postkasse <DUBU@korsbaek.dk>")
    found = detect_noise(mine, own_addresses=("DUBU@Korsbaek.dk",))
    assert found is not None and found.kind == NoiseKind.LOOP and "dubu@korsbaek.dk" in found.reason


def test_reply_to_our_acknowledgement_is_not_a_loop():
    msg = make_message(
        Subject="SV: [DUBU-7] Kvittering", In_Reply_To="<dubu-triage.DUBU-7.ack.x1@korsbaek.dk>"
    )
    assert verdict(msg) is None


def test_challenge_response_is_an_autoreply():
    body = (
        "I use Boxbe to manage my inbox. Please verify you are human so your message "
        "can be delivered to me."
    )
    assert verdict(make_message(body, Subject="Re: Kan ikke gemme")) == NoiseKind.AUTOREPLY


def test_dubu_dev_noise_is_found_with_its_kind_and_people_are_never_noise():
    with (DUBU_DEV / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    noise = [r for r in rows if r["category"] == "noise"]
    assert len(noise) == 31
    for row in rows:
        found = detect_noise(
            parse_message((DUBU_DEV / row["file"]).read_bytes()), own_addresses=OWN
        )
        if row["category"] == "noise":
            assert found is not None, row["file"]
            assert found.kind.value == row["noise_kind"], (row["file"], found.reason)
            assert found.reason
        else:
            assert found is None, (row["file"], found)


@pytest.mark.parametrize(
    "body",
    [
        "Hej\n\nKan I afmeld Jens fra DUBU-kurset på torsdag?\n\nMvh\nPia",
        "Hi,\n\nHow do I unsubscribe a family from Digital Post letters in DUBU?\n\nOliver",
        "Hej\n\nKan borgeren opt-out af Digital Post, og hvordan ser vi det i DUBU?",
    ],
)
def test_a_person_asking_about_unsubscribing_is_not_a_newsletter(body):
    assert verdict(make_message(body, Subject="Spørgsmål om afmelding")) is None


def test_legitimate_html_notices_are_not_phishing():
    """One or two marks are not enough: a real password notice, a school's own domain."""
    notice = make_message(
        PHISH,
        From="Netcompany <noreply@netcompany.com>",
        Subject="Din adgangskode udløber",
        Content_Type="text/html; charset=utf-8",
    )
    assert verdict(notice) is None
    school = make_message(
        "<p>Vi har et spørgsmål om en elev.</p>",
        From="Korsbæk Skole <kontor@korsbaek-skole.dk>",
        Content_Type="text/html; charset=utf-8",
    )
    assert verdict(school) is None


def test_provider_name_on_a_foreign_domain_with_bait_is_phishing():
    """A provider's name as display name, a foreign domain, a suspension threat, HTML only."""
    msg = make_message(
        "<p>Your mailbox pia@korsbaek.dk will be suspended tonight. Sign in to keep it:</p>"
        "<p>https://outlook-quota-check.example/keep</p>",
        From="Outlook Support Team <alerts@outlook-quota-check.example.net>",
        Subject="Your mailbox will be suspended",
        Content_Type="text/html; charset=utf-8",
    )
    found = detect_noise(msg, own_addresses=OWN)
    assert found is not None and found.kind == NoiseKind.SPAM
    assert "display name 'outlook' from outlook-quota-check.example.net" in found.reason
    foreign = make_message(
        "<p>Din postkasse vil blive lukket i aften, medmindre du bekræfter din konto.</p>",
        From="Microsoft Office <kontakt@sikker-postkasse.example>",
        Subject="Vigtigt",
        Content_Type="text/html; charset=utf-8",
    )
    found = detect_noise(foreign, own_addresses=OWN)
    assert found is not None and found.kind == NoiseKind.SPAM
    assert "display name 'microsoft' from sikker-postkasse.example" in found.reason


def test_provider_name_alone_is_not_phishing():
    """A real provider writing plainly, or a provider's name with only one more mark: a person."""
    real = make_message(
        "<p>Your mailbox will be suspended unless you confirm your account.</p>",
        From="Microsoft 365 <no-reply@microsoft.com>",
        Content_Type="text/html; charset=utf-8",
    )
    assert verdict(real) is None
    consultant = make_message(
        "<p>Vi kigger på jeres fejl i dag.</p>",
        From="Netcompany konsulent via Teams <noreply@teams.example>",
        Content_Type="text/html; charset=utf-8",
    )
    assert verdict(consultant) is None
