"""CPR detection on mail as the pipeline parses it: the contains_cpr labels of dubu-dev."""

from __future__ import annotations

import csv
from pathlib import Path

from app.ingest.parsing import parse_message
from app.triage.cpr import contains_cpr, mask_cpr


def test_parsed_mail_agrees_with_the_labels(dubu_dev: Path) -> None:
    """Subject or text holds a CPR number exactly when labelled so; masking leaves none."""
    with (dubu_dev / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    disagree = []
    for row in rows:
        parsed = parse_message((dubu_dev / row["file"]).read_bytes())
        found = contains_cpr(parsed.subject) or contains_cpr(parsed.text)
        if found != (row["contains_cpr"] == "1"):
            disagree.append(row["file"])
        assert not contains_cpr(mask_cpr(parsed.text))
    assert disagree == []
