"""CPR numbers: every labelled one found and masked, nothing else touched."""

from __future__ import annotations

import csv
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from app.triage.cpr import contains_cpr, find_cpr, mask_cpr


def _mail_text(path: Path) -> str:
    """Subject and every text part of a mail, decoded with the standard library."""
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    texts = [str(msg.get("Subject", ""))]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(part.get_content())
            except (LookupError, UnicodeError):
                texts.append(part.get_payload(decode=True).decode("latin-1"))
    return "\n".join(texts)


@pytest.mark.parametrize(
    "text, masked",
    [
        ("Barnet 140612-4387 er flyttet", "Barnet 140612-XXXX er flyttet"),
        ("cpr 1406124387.", "cpr 140612-XXXX."),
        ("CPR-nr.: 290200-1234", "CPR-nr.: 290200-XXXX"),  # 29 Feb 2000 is a real date
        ("(010107-1235)", "(010107-XXXX)"),
        ("cpr.nr.0101071235", "cpr.nr.010107-XXXX"),
    ],
)
def test_cpr_numbers_are_masked(text: str, masked: str) -> None:
    """Both spellings are found and masked to ddmmyy-XXXX."""
    assert contains_cpr(text)
    assert mask_cpr(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "CVR 29189846",
        "Ring på 72 34 61 27 eller +45 23614890",
        "Barnet 140612-XXXX er allerede maskeret",
        "Mødet er 08-04-2024 kl. 10",
        "Kontonummer 12345678901234",
        "Sag NC-123456 er oprettet",
        "Fejl-ID: a41c9e2f-0812-4b7e-bb1a-5e0f7c2d9e13",
        "Korrelations-id 123456-1234-abcd",
        "Nummer 321399-1234 har ingen gyldig dato",  # day 32, month 13
        "300299-1234",  # 30 February
        "Telefon 7234612734",  # ten digits but 72 34 61 is no date (month 34)
        "https://x.example/keep?t=1712919612",  # a Unix time in a link
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    """Phone, CVR, dates, case numbers, masked and invalid numbers are not CPR numbers."""
    assert not contains_cpr(text)
    assert mask_cpr(text) == text


def test_find_returns_numbers_as_written() -> None:
    """find_cpr gives each number in the order it appears."""
    assert find_cpr("a 140612-4387 og b 0912105786") == ["140612-4387", "0912105786"]


def test_dubu_dev_labels(dubu_dev: Path) -> None:
    """Every mail labelled contains_cpr holds one; no other mail does; masking removes them all."""
    with (dubu_dev / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    wrong = []
    for row in rows:
        text = _mail_text(dubu_dev / row["file"])
        if contains_cpr(text) != (row["contains_cpr"] == "1"):
            wrong.append(row["file"])
        masked = mask_cpr(text)
        assert not contains_cpr(masked), row["file"]
        # masking changes the serial digits only: the text keeps its length up to the dash added
        assert len(masked) - len(text) == sum(1 for n in find_cpr(text) if "-" not in n)
    assert wrong == []
