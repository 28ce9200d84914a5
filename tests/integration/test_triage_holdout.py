"""The triage on mail it was not trained on: tests/data/holdout (131 mails written apart from
dubu-dev, and further batches in holdout/second, third and fourth), and dubu-dev itself under
cross-validation, all through the whole pipeline.

The floors are the figures reached when this test was written (docs/TRIAGE.md) minus a small
margin, so a change that fits the shipped examples better but mail in general worse fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.triage.evaluation import evaluate

HOLDOUT = Path(__file__).resolve().parents[1] / "data" / "holdout"

# Reached: macro-F1 0.967, topic 0.962, severity 1.0, critical recall 1.0, 7 abstained and
# 1 wrong-and-confident of 104 requests.
HOLDOUT_FLOORS = {"category_macro_f1": 0.93, "topic_accuracy": 0.93, "severity_accuracy": 0.95}
HOLDOUT_CEILINGS = {"abstained": 10, "wrong_confident": 3}
# The second batch (30 requests) was measured blind once (macro-F1 0.827, topic 0.867, critical
# recall 0.5), then reached 0.873, 0.900 and 1.0 after the fixes that taught.
SECOND_FLOORS = {"category_macro_f1": 0.84, "topic_accuracy": 0.86, "severity_accuracy": 0.9}
# The third batch (60 mails, 50 requests) was written without seeing the classifier and measured
# blind once: macro-F1 0.941, topic 0.940, severity 0.773, critical recall 0.8 (8 of 10). Two
# general gaps it showed were then closed (outage words; a "question" that says the payments
# have stopped), giving 0.957, 0.940, 0.864 and 1.0: it is no longer blind.
THIRD_FLOORS = {"category_macro_f1": 0.93, "topic_accuracy": 0.92, "severity_accuracy": 0.84}
# The fourth batch (60 mails, 50 requests; Danish and English) was written without seeing the
# classifier and measured blind once: macro-F1 0.940, topic 0.880, severity 0.591, critical recall
# 0.455 (5 of 11: consequences such as "carers not paid" or "it's just gone" were missed, and
# sentences about how the notification list is sorted raised false alarms). After the net learnt
# consequence words, English and a cosmetic exclusion: 0.973, 0.880, 1.0 and 1.0; noise caught
# 0.8 -> 1.0 (a provider's name as display name on a foreign domain is a phishing mark).
# No longer blind.
FOURTH_FLOORS = {"category_macro_f1": 0.95, "topic_accuracy": 0.86, "severity_accuracy": 0.95}
# The targets for dubu-dev under 5-fold cross-validation.
DEV_FLOORS = {"category_macro_f1": 0.92, "topic_accuracy": 0.88, "followups_linked": 0.95}


def _unconfigured(make_settings, tmp_path: Path):
    """Settings without a model file, so evaluate trains on the shipped examples."""
    return make_settings(triage={"model_path": str(tmp_path / "no-model.joblib")})


def test_holdout_figures_do_not_regress(make_settings, tmp_path: Path) -> None:
    """Unseen mail: every critical fault found, no caseworker taken for noise, floors held."""
    figures = evaluate(_unconfigured(make_settings, tmp_path), HOLDOUT)
    assert figures["total"] == 131
    assert figures["critical_recall"] == 1.0
    assert figures["human_as_noise"] == 0
    assert figures["noise_caught"] == 1.0
    assert figures["followups_linked"] == 1.0
    for key, floor in HOLDOUT_FLOORS.items():
        assert figures[key] >= floor, (key, figures[key])
    for key, ceiling in HOLDOUT_CEILINGS.items():
        assert figures[key] <= ceiling, (key, figures[key])


def test_second_holdout_batch_figures_do_not_regress(make_settings, tmp_path: Path) -> None:
    """The second batch of unseen requests: every critical fault found, floors held."""
    figures = evaluate(_unconfigured(make_settings, tmp_path), HOLDOUT / "second")
    assert figures["total"] == 30
    assert figures["critical_recall"] == 1.0
    for key, floor in SECOND_FLOORS.items():
        assert figures[key] >= floor, (key, figures[key])


def test_third_holdout_batch_figures_do_not_regress(make_settings, tmp_path: Path) -> None:
    """The third batch: every critical fault found, nobody taken for noise, floors held."""
    figures = evaluate(_unconfigured(make_settings, tmp_path), HOLDOUT / "third")
    assert figures["total"] == 60
    assert figures["critical_recall"] == 1.0
    assert figures["human_as_noise"] == 0 and figures["followups_linked"] == 1.0
    for key, floor in THIRD_FLOORS.items():
        assert figures[key] >= floor, (key, figures[key])


def test_fourth_holdout_batch_figures_do_not_regress(make_settings, tmp_path: Path) -> None:
    """The fourth batch: every critical fault found, nobody taken for noise, floors held."""
    figures = evaluate(_unconfigured(make_settings, tmp_path), HOLDOUT / "fourth")
    assert figures["total"] == 60
    assert figures["critical_recall"] == 1.0
    assert figures["noise_caught"] == 1.0  # 042: phishing under Microsoft's name, foreign domain
    assert figures["human_as_noise"] == 0 and figures["followups_linked"] == 1.0
    for key, floor in FOURTH_FLOORS.items():
        assert figures[key] >= floor, (key, figures[key])


@pytest.mark.slow
def test_dubu_dev_cross_validated_targets(make_settings, tmp_path: Path, dubu_dev: Path) -> None:
    """The issue's targets on dubu-dev still hold with the rules tuned for mail in general."""
    figures = evaluate(_unconfigured(make_settings, tmp_path), dubu_dev, k=5)
    assert figures["critical_recall"] == 1.0
    assert figures["human_as_noise"] == 0
    for key, floor in DEV_FLOORS.items():
        assert figures[key] >= floor, (key, figures[key])
