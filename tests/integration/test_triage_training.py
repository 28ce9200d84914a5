"""Learning and evaluation end to end: retrain keeps the better model, corrections count,
the CLI commands print what they promise."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner

from app.cli import main
from app.db import make_engine, make_sessionmaker
from app.models import Correction
from app.triage.model import FORMAT_VERSION
from app.triage.training import shipped_folder, train_and_save


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 90 shipped mails and their labels: enough to train, quick to evaluate."""
    folder = tmp_path_factory.mktemp("labelled")
    with (shipped_folder() / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:90]
    with (folder / "labels.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        shutil.copy(shipped_folder() / row["file"], folder / row["file"])
    return folder


def _set_figures(path: Path, value: float) -> None:
    """Pretend the stored model scored `value` on every figure."""
    payload = joblib.load(path)
    payload["figures"] = {k: value for k in payload["figures"]}
    joblib.dump(payload, path)


def test_retrain_keeps_the_better_model(make_settings, small_folder: Path, tmp_path: Path) -> None:
    """No model: saved. A better old model: kept. A worse one: replaced."""
    path = tmp_path / "model.joblib"
    settings = make_settings(triage={"model_path": str(path)})
    first = train_and_save(settings, folder=small_folder, k=3)
    assert not first.kept_old and first.old_figures is None
    payload = joblib.load(path)
    assert payload["format_version"] == FORMAT_VERSION and payload["trained_at"]
    assert payload["figures"] == first.new_figures

    _set_figures(path, 1.0)
    second = train_and_save(settings, folder=small_folder, k=3)
    assert second.kept_old
    assert joblib.load(path)["figures"]["category_macro_f1"] == 1.0

    _set_figures(path, 0.0)
    third = train_and_save(settings, folder=small_folder, k=3)
    assert not third.kept_old
    assert joblib.load(path)["figures"] == third.new_figures


def test_corrections_are_training_data(make_settings, sqlite_url: str, small_folder: Path,
                                       tmp_path: Path) -> None:
    """Every stored correction is counted among the examples."""
    settings = make_settings(database={"url": sqlite_url},
                             triage={"model_path": str(tmp_path / "m.joblib")})
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine).begin() as session:
        for i in range(3):
            session.add(Correction(
                old_category="question", old_topic="andet", old_severity="normal",
                category="change_request", topic="opsaetning", severity="normal",
                subject=f"Ny journalfrase nr. {i}", text="Vi mangler en journalfrase til møder."))
    with make_sessionmaker(engine)() as session:
        report = train_and_save(settings, session=session, folder=small_folder, k=3)
    engine.dispose()
    assert report.corrections == 3


def test_cli_retrain_rules_check_and_evaluate(make_settings, small_folder: Path,
                                              tmp_path: Path) -> None:
    """The three commands, as an administrator runs them."""
    import tomli_w

    settings = make_settings(triage={"model_path": str(tmp_path / "m.joblib")})
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps({
        "instance": {"path": str(tmp_path / "instance")},
        "database": {"url": settings.database_url},
        "triage": {"rules_dir": settings.triage.rules_dir, "model_path": str(tmp_path / "m.joblib")},
    }))
    runner = CliRunner()
    checked = runner.invoke(main, ["--config", str(config), "rules", "check", str(small_folder)])
    assert checked.exit_code == 0, checked.output
    assert "rules are valid" in checked.output and "critical-dubu-down" in checked.output

    evaluated = runner.invoke(main, ["--config", str(config), "evaluate", str(small_folder), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(evaluated.output)
    assert list(figures) == [
        "category_macro_f1", "topic_accuracy", "severity_accuracy", "critical_recall",
        "noise_caught", "human_as_noise", "followups_linked", "abstained", "wrong_confident", "total",
    ]
    assert figures["total"] == 90 and figures["human_as_noise"] == 0
    assert figures["critical_recall"] == 1.0


def test_cli_rules_check_reports_an_invalid_rule(make_settings, tmp_path: Path) -> None:
    """A broken rules folder is one clear line naming file and rule, exit code 2."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "x.toml").write_text('[[rule]]\nname = "oops"\ndescription = "d"\nfield = "topic"\n'
                                  'label = "nowhere"\nkeywords = ["a"]\n')
    import tomli_w

    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps({"instance": {"path": str(tmp_path / "i")},
                                     "triage": {"rules_dir": str(rules)}}))
    result = CliRunner().invoke(main, ["--config", str(config), "rules", "check"])
    assert result.exit_code == 2
    assert "x.toml: rule 'oops': 'nowhere' is not a topic label" in result.output


def test_ensure_model_trains_only_when_needed(make_settings, tmp_path: Path) -> None:
    """No model: one is trained from the shipped examples; a usable one is left alone."""
    from app.triage.classifier import load_classifier
    from app.triage.training import ensure_model

    settings = make_settings(triage={"model_path": str(tmp_path / "m.joblib")})
    report = ensure_model(settings)
    assert report is not None and not report.kept_old and report.examples > 150
    assert load_classifier(settings).model is not None
    assert ensure_model(settings) is None


def test_cross_validation_keeps_each_thread_in_one_fold(small_folder: Path) -> None:
    """A follow-up is never evaluated in another fold than the ticket it belongs to."""
    from app.triage.evaluation import read_folder, thread_root
    from app.triage.training import folds

    mails = read_folder(small_folder)
    rows = {m.file: m.row for m in mails}
    groups = [thread_root(m.row, rows) for m in mails]
    assert any(m.row["thread_of"] for m in mails)
    assert [m.arrived for m in mails] == sorted(m.arrived for m in mails)  # date order
    for _, test in folds(groups, 5):
        in_fold = {mails[i].file for i in test}
        for i in test:
            assert groups[i] == mails[i].file or groups[i] in in_fold


def test_corrections_blanked_by_retention_teach_nothing(sqlite_url: str) -> None:
    """Retention blanks a deleted ticket's correction text; such a row is no training example."""
    from app.triage.training import correction_examples

    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        for subject, text in (("", ""), ("Kan ikke gemme", "Fejl ved gem")):
            session.add(Correction(old_category="question", old_topic="andet",
                                   old_severity="normal", category="fault",
                                   topic="sagsbehandling", severity="high",
                                   subject=subject, text=text))
    with sessions() as session:
        examples = correction_examples(session)
    engine.dispose()
    assert [e.subject for e in examples] == ["Kan ikke gemme"]
