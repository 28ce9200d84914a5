"""The ingest commands as a user runs them: init-db, import, export --format jsonl, poll-once."""

from __future__ import annotations

import csv
import json
import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.ingest_mails import make_mail

EXPORT_KEYS = {"message_id", "subject", "kind", "ticket", "category", "topic", "severity",
               "confidence", "abstained", "assignee", "status", "noise_reason", "nc_case",
               "has_cpr"}


@pytest.fixture
def cli(tmp_path: Path):
    """Run `dubu-triage --config FILE ...` in-process; returns the click result."""
    runner = CliRunner()

    def run(config: Path, *args: str):
        result = runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return run


def test_import_a_folder_then_export_jsonl(cli, write_config, tmp_path: Path,
                                           dubu_dev: Path) -> None:
    config = write_config(database={"url": f"sqlite:///{tmp_path / 'cli.db'}"})
    assert "model trained on 184 examples" in cli(config, "init-db").stdout
    assert "model ready" in cli(config, "init-db").stdout  # a second run keeps the model
    folder = tmp_path / "mails"
    folder.mkdir()
    labels = list(csv.DictReader((dubu_dev / "labels.csv").read_text().splitlines()))[:40]
    for row in labels:
        (folder / row["file"]).write_bytes((dubu_dev / row["file"]).read_bytes())
    result = cli(config, "import", str(folder))
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("fetched 40: ") and line.endswith("0 already stored"), line
    assert cli(config, "import", str(folder)).stdout.strip().endswith("40 already stored")
    records = [json.loads(x) for x in cli(config, "export", "--format", "jsonl").stdout.splitlines()]
    assert len(records) == 40
    assert all(EXPORT_KEYS <= set(r) for r in records)
    tickets = [r for r in records if r["kind"] == "ticket"]
    assert tickets and all(r["ticket"].startswith("DUBU-") and r["category"] for r in tickets)
    noise = [r for r in records if r["kind"] == "noise"]
    assert all(r["noise_reason"] and r["ticket"] is None for r in noise)
    labelled_noise = sum(1 for row in labels if row["category"] == "noise")
    assert len(noise) >= labelled_noise * 0.7, (len(noise), labelled_noise)
    cprs = {row["file"] for row in labels if row["contains_cpr"] == "1"}
    assert sum(r["has_cpr"] for r in records) >= len(cprs) * 0.8


def test_import_an_mbox_file(cli, write_config, tmp_path: Path) -> None:
    config = write_config(database={"url": f"sqlite:///{tmp_path / 'cli.db'}"})
    cli(config, "init-db", "--skip-model")
    box = mailbox.mbox(str(tmp_path / "gammel.mbox"))
    for i in range(3):
        box.add(make_mail(f"Spørgsmål {i}", f"Hvordan finder jeg bevilling {i}?"))
    box.flush()
    box.close()
    out = cli(config, "import", "--json", str(tmp_path / "gammel.mbox")).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {
        "fetched": 3, "tickets": 3, "followups": 0, "noise": 0, "quarantined": 0, "duplicates": 0}


@pytest.mark.dovecot
def test_poll_once_json(cli, write_config, tmp_path: Path, dovecot) -> None:
    dovecot.append([make_mail(), make_mail("Autosvar: ferie", "Jeg er væk",
                                           headers={"Auto-Submitted": "auto-replied"})])
    config = write_config(database={"url": f"sqlite:///{tmp_path / 'cli.db'}"},
                          mailbox=dovecot.settings())
    cli(config, "init-db", "--skip-model")
    out = cli(config, "poll-once", "--json").stdout
    assert json.loads(out.strip().splitlines()[-1]) == {
        "fetched": 2, "tickets": 1, "followups": 0, "noise": 1, "quarantined": 0, "duplicates": 0}
    assert cli(config, "poll-once").stdout.strip() == (
        "fetched 0: 0 tickets, 0 follow-ups, 0 noise, 0 quarantined, 0 already stored")


def test_an_unreachable_mailbox_is_one_clear_line(write_config, tmp_path: Path) -> None:
    from tests.conftest import free_port

    config = write_config(database={"url": f"sqlite:///{tmp_path / 'cli.db'}"},
                          mailbox={"host": "127.0.0.1", "port": free_port(), "security": "none",
                                   "timeout": 5})
    result = CliRunner().invoke(main, ["--config", str(config), "poll-once"])
    assert result.exit_code == 2
    assert "error: IMAP connect/login failed at 127.0.0.1" in result.output
