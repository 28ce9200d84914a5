"""html_to_text, normalise_subject, extract_new_text and quoted_text on mail as people write it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.ingest.parsing import parse_message
from app.ingest.text import extract_new_text, html_to_text, normalise_subject, quoted_text

DUBU_DEV = Path(__file__).resolve().parents[2] / "app" / "resources" / "dubu-dev"

QUESTION = "Hvordan opretter jeg en ny plejefamilie som leverandør i DUBU?"
ORIGINAL = "Vi har en ny plejefamilie, og jeg kan ikke finde leverandørbilledet."


def test_html_to_text_keeps_words_and_drops_markup():
    html = (
        '<?xml version="1.0" encoding="utf-8"?><html><head><style>p{color:red}</style></head>'
        "<body><div><p>Hej&nbsp;Pia</p><ul><li>Første</li><li>Anden</li></ul>"
        "<table><tr><td>Sag</td><td>Frist</td></tr></table></div></body></html>"
    )
    text = html_to_text(html)
    assert "Hej" in text and "Pia" in text
    assert "Første" in text and "Anden" in text
    assert "Sag" in text and "Frist" in text
    assert "color" not in text and "<" not in text
    assert not text.startswith(" ")
    assert html_to_text("") == ""


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("SV: SV: VS: Kan ikke gemme", "Kan ikke gemme"),
        ("Re: RE: Sv: Fwd: Fw: FW: AW: WG: Vs: Kan ikke gemme", "Kan ikke gemme"),
        ("Videresendt: Kan ikke gemme", "Kan ikke gemme"),
        ("[EXT] SV: [DUBU-123] Kan ikke   gemme", "Kan ikke gemme"),
        ("SV: [NC-484702] Digital Post afvist [DUBU-7]", "Digital Post afvist"),
        ("Re[2]: Kan ikke gemme", "Kan ikke gemme"),
        ("Svar på spørgsmål om ydelser", "Svar på spørgsmål om ydelser"),
        ("Reservation af mødelokale", "Reservation af mødelokale"),
        ("", ""),
    ],
)
def test_normalise_subject(subject, expected):
    assert normalise_subject(subject) == expected


def test_quoted_lines_are_not_new_text():
    text = f"{QUESTION}\n\nDen 3. apr. 2024 kl. 10.12 skrev Pia Lauridsen <pla@korsbaek.dk>:\n\n> {ORIGINAL}\n"
    assert extract_new_text(text) == QUESTION
    assert ORIGINAL in quoted_text(text)


def test_wrapped_attribution_and_interleaved_answers():
    text = (
        "Den 3. apr. 2024 kl. 10.12 skrev Pia Lauridsen <\npla@korsbaek.dk>:\n"
        f"> {ORIGINAL}\n\nSvar: brug leverandørmodulet.\n\n> Er der en vejledning?\n\n"
        "Ja, på intranettet.\n"
    )
    new = extract_new_text(text)
    assert "Svar: brug leverandørmodulet." in new and "Ja, på intranettet." in new
    assert ORIGINAL not in new and "skrev" not in new
    assert "Er der en vejledning?" in quoted_text(text)


@pytest.mark.parametrize(
    "separator",
    [
        "-----Oprindelig meddelelse-----\nFra: Pia Lauridsen\nSendt: 3. april 2024 10:12",
        "-----Original Message-----\nFrom: Pia Lauridsen\nSent: Wednesday, April 3, 2024",
        "________________________________\nFra: Pia Lauridsen <pla@korsbaek.dk>",
        (
            "Fra: Pia Lauridsen <pla@korsbaek.dk>\nSendt: 3. april 2024 10:12\nTil: DUBU postkasse\n"
            "Emne: Ny plejefamilie"
        ),
        (
            "From: Pia Lauridsen <pla@korsbaek.dk>\nSent: Wednesday, April 3, 2024 10:12 AM\n"
            "To: DUBU\nSubject: Ny plejefamilie"
        ),
        "On Wed, Apr 3, 2024 at 10:12 AM Pia Lauridsen <pla@korsbaek.dk> wrote:",
    ],
)
def test_outlook_and_client_quote_headers_start_the_quote(separator):
    text = f"Hej\n\n{QUESTION}\n\n{separator}\n\n{ORIGINAL}\n"
    assert extract_new_text(text) == f"Hej\n\n{QUESTION}"
    assert ORIGINAL in quoted_text(text)


def test_own_sentence_ending_in_skrev_is_not_a_quote():
    text = f"Borgeren skrev:\n\n{ORIGINAL}\n\nHvad gør jeg?"
    assert extract_new_text(text) == text
    assert quoted_text(text) == ""


@pytest.mark.parametrize(
    "closing",
    [
        "Med venlig hilsen\n\nTrine Højgaard\nRådgiver, Familieteamet\nTlf. 72 34 61 27",
        "Venlig hilsen\nRasmus",
        "Mvh Marianne Toft\nØkonomikonsulent",
        "mvh\nTrine",
        "Hilsen Kasper",
        "/Lars\n\nLars Holst\nØkonomikonsulent",
        "Best regards,\nOliver Bennett\nSocial worker",
        "-- \nTrine Højgaard\nKorsbæk Kommune",
        "Trine Højgaard\nRådgiver, Familieteamet\nKorsbæk Kommune",
        "Sendt fra min iPhone",
        "Hent Outlook til iOS",
        (
            "Venlig hilsen\nPia\n\nDenne e-mail kan indeholde fortrolige oplysninger. Hvis du ikke "
            "er den rette modtager, bedes du slette den."
        ),
        "Tænk på miljøet, før du printer denne e-mail.",
        (
            "This e-mail may contain confidential information. If you are not the intended "
            "recipient, please delete it."
        ),
    ],
)
def test_signatures_footers_and_disclaimers_are_not_new_text(closing):
    text = f"Hej\n\n{QUESTION}\n\n{closing}\n"
    assert extract_new_text(text) == f"Hej\n\n{QUESTION}"


def test_a_paragraph_that_merely_says_hilsen_is_kept():
    text = (
        "Hej\n\nMed venlig hilsen fra hele teamet vil vi gerne takke for kurset, men vi kan "
        "stadig ikke finde lynguiderne nogen steder i DUBU.\n\nTrine"
    )
    assert "Med venlig hilsen fra hele teamet" in extract_new_text(text)


def test_closing_above_a_long_passage_is_not_a_signature():
    body = "\n".join(
        f"Punkt {i}: dette er en lang beskrivelse af fejlen i sagen nr. {i}." for i in range(15)
    )
    text = f"Hilsen\n\n{body}"
    assert extract_new_text(text) == text


def test_mail_that_is_all_quote_returns_the_text():
    text = f"> {ORIGINAL}\n> {QUESTION}"
    assert extract_new_text(text) == text
    assert extract_new_text("Sendt fra min iPhone") == "Sendt fra min iPhone"
    assert extract_new_text("") == ""


def _dubu_dev() -> list[dict[str, str]]:
    """The labels of the labelled corpus."""
    with (DUBU_DEV / "labels.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_dubu_dev_replies_do_not_repeat_the_mail_they_answer():
    """A follow-up's new text never holds the first words of the ticket it answers."""
    checked = 0
    for row in _dubu_dev():
        if not row["thread_of"]:
            continue
        reply = parse_message((DUBU_DEV / row["file"]).read_bytes())
        original = parse_message((DUBU_DEV / row["thread_of"]).read_bytes())
        line = next(line for line in original.new_text.split("\n") if len(line) > 40)[:60]
        assert line not in reply.new_text, row["file"]
        if line in reply.text:
            assert line in quoted_text(reply.text), row["file"]
            checked += 1
    assert checked >= 10


def test_dubu_dev_new_text_drops_closings_and_footers():
    for row in _dubu_dev():
        msg = parse_message((DUBU_DEV / row["file"]).read_bytes())
        last = msg.new_text.strip().split("\n")[-1].strip().lower()
        assert last not in ("med venlig hilsen", "venlig hilsen", "mvh", "hilsen"), row["file"]
        assert "sendt fra min iphone" not in msg.new_text.lower(), row["file"]
        assert "kan indeholde fortrolige oplysninger" not in msg.new_text, row["file"]


def test_dash_dash_name_signs_off():
    assert extract_new_text(f"{QUESTION}\n\n    --Geoff Maciolek\n    MYCOMPANY, LLC") == QUESTION
    assert extract_new_text(f"{QUESTION}\n-- a note in a list -- not a signature") != QUESTION


def test_a_writers_own_rule_of_underscores_is_not_a_quote():
    text = f"{QUESTION}\n\n____________________\n\nSagsnummer: 2024-113\nFrist: fredag"
    assert "Sagsnummer: 2024-113" in extract_new_text(text)


@pytest.mark.parametrize(
    "quote_html",
    [
        (
            '<div style="border-top:solid #E1E1E1 1.0pt"><p><b>Fra:</b> Pia Lauridsen '
            "&lt;pla@korsbaek.dk&gt;<br><b>Sendt:</b> 3. april 2024 10:12<br><b>Til:</b> DUBU "
            "postkasse<br><b>Emne:</b> Ny plejefamilie</p></div><p>{original}</p>"
        ),
        (
            '<div class="gmail_quote"><div>Den ons. 3. apr. 2024 kl. 10.12 skrev Pia Lauridsen '
            "&lt;pla@korsbaek.dk&gt;:</div><blockquote><p>{original}</p></blockquote></div>"
        ),
    ],
)
def test_html_only_replies_lose_their_quote(quote_html):
    html = f"<html><body><p>Hej</p><p>{QUESTION}</p>{quote_html.format(original=ORIGINAL)}</body></html>"
    raw = (
        "From: a@korsbaek.dk\nSubject: SV: Ny plejefamilie\nContent-Type: text/html; "
        f"charset=utf-8\n\n{html}"
    ).encode()
    msg = parse_message(raw)
    assert ORIGINAL in msg.text
    assert ORIGINAL not in msg.new_text
    assert QUESTION in msg.new_text
    assert ORIGINAL in quoted_text(msg.text)


def test_name_skrev_above_quoted_lines_is_dropped_with_the_quote():
    text = f"{QUESTION}\n\nPia Lauridsen skrev:\n> {ORIGINAL}\n"
    assert extract_new_text(text) == QUESTION
    assert quoted_text(text) == ORIGINAL
