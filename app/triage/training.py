"""Learning: train the model from the shipped examples and superusers' corrections.

Training data is every labelled mail whose category is question, fault or change_request
(follow-ups and noise are not the classifier's business), read through the same parser as the
pipeline so the model sees what it will see in service: the subject and the new text. Figures
are cross-validated with threads kept in one fold, and measure the whole classifier (rules and
model), since that is what routes tickets. A new model replaces the old one only if it is not
worse (see `better`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import DubuTriageError
from app.models import Correction
from app.settings import Settings
from app.triage.classifier import Classifier
from app.triage.model import TriageModel, fit_model, load_model, save_model
from app.triage.normalise import classifier_text
from app.triage.rules import Rule, load_rules, resolve_rules_dir

CATEGORIES = ("question", "fault", "change_request")


@dataclass(frozen=True)
class Example:
    """One labelled mail as the classifier reads it."""

    subject: str
    text: str
    category: str
    topic: str
    severity: str
    group: str  # examples of one thread share a group, and so a cross-validation fold


@dataclass
class TrainingReport:
    """What `train_and_save` did: the new figures, the old ones, and which model is kept."""

    path: Path
    examples: int
    corrections: int
    new_figures: dict[str, float]
    old_figures: dict[str, float] | None
    kept_old: bool
    notes: list[str] = field(default_factory=list)


def shipped_folder() -> Path:
    """The labelled examples that ship with the project (app/resources/dubu-dev)."""
    return Path(str(resources.files("app") / "resources" / "dubu-dev"))


def read_labels(folder: Path, labels: Path | None = None) -> list[dict[str, str]]:
    """The rows of a labels.csv (default: FOLDER/labels.csv)."""
    path = labels or folder / "labels.csv"
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        raise DubuTriageError(f"{path}: no labels file") from None


def mail_text(raw: bytes) -> tuple[str, str]:
    """Subject and new text of a raw mail, as the pipeline's parser gives them."""
    from app.ingest.parsing import parse_message  # the ingest area owns parsing

    parsed = parse_message(raw)
    return parsed.subject, parsed.new_text or parsed.text


def load_examples(folder: Path, labels: Path | None = None) -> list[Example]:
    """Training examples from a labelled folder: questions, faults and change requests."""
    examples = []
    for row in read_labels(folder, labels):
        if row.get("category") not in CATEGORIES:
            continue
        subject, text = mail_text((folder / row["file"]).read_bytes())
        examples.append(
            Example(subject, text, row["category"], row.get("topic") or "andet",
                    row.get("severity") or "normal", group=row["file"])
        )
    return examples


def correction_examples(session: Session) -> list[Example]:
    """Every superuser's correction, each in a group of its own (the ticket's)."""
    rows = session.scalars(select(Correction).order_by(Correction.id))
    return [
        Example(c.subject, c.text, c.category, c.topic, c.severity,
                group=f"ticket-{c.ticket_id}" if c.ticket_id else f"correction-{c.id}")
        for c in rows
        # Retention blanks the text of a deleted ticket's corrections: nothing left to learn from.
        if c.category in CATEGORIES and (c.subject.strip() or c.text.strip())
    ]


def _dedupe(examples: list[Example]) -> list[Example]:
    """A later label for the same mail (a correction) replaces the earlier one."""
    latest: dict[tuple[str, str], Example] = {}
    for example in examples:
        latest[(example.subject, example.text)] = example
    return list(latest.values())


def _fit(examples: list[Example]) -> TriageModel:
    """Fit the model itself; severity is learnt from faults only."""
    texts = [classifier_text(e.subject, e.text) for e in examples]
    labels: dict[str, list[str | None]] = {
        "category": [e.category for e in examples],
        "topic": [e.topic for e in examples],
        "severity": [e.severity if e.category == "fault" else None for e in examples],
    }
    return fit_model(texts, labels)


def train(examples: list[Example], rules: tuple[Rule, ...] = (), k: int = 3) -> TriageModel:
    """Fit a model, and calibrate the confidence of rules + model on `k` inner folds
    (three are enough to fit two numbers per field).

    The calibration maps a raw confidence to how often decisions that confident were right
    on mail the model had not seen (Platt scaling: two numbers per field).
    """
    model = _fit(examples)
    if len(examples) >= 4 * k:
        model.calibration = _calibration(examples, rules, k)
    return model


def _calibration(
    examples: list[Example], rules: tuple[Rule, ...], k: int
) -> dict[str, tuple[float, float]]:
    """Platt parameters for category and topic from cross-validated raw confidences."""
    seen: dict[str, list[tuple[float, bool]]] = {"category": [], "topic": []}
    for train_idx, test_idx in folds([e.group for e in examples], k):
        classifier = Classifier(rules, _fit([examples[i] for i in train_idx]), 0.0, calibrate=False)
        for i in test_idx:
            got = classifier.classify(examples[i].subject, examples[i].text)
            seen["category"].append((got.category_confidence, got.category == examples[i].category))
            seen["topic"].append((got.topic_confidence, got.topic == examples[i].topic))
    calibration = {}
    for name, pairs in seen.items():
        right = [ok for _, ok in pairs]
        if all(right) or not any(right):
            continue  # nothing to learn the shape from
        raw = np.clip([c for c, _ in pairs], 1e-6, 1 - 1e-6)
        x = np.log(raw / (1 - raw)).reshape(-1, 1)
        platt = LogisticRegression(C=100.0).fit(x, right)
        calibration[name] = (float(platt.coef_[0][0]), float(platt.intercept_[0]))
    return calibration


def figures(examples: list[Example], predicted: list) -> dict[str, float]:
    """Category macro-F1 (decided only, and with abstentions counted wrong), topic accuracy,
    severity accuracy among true faults, critical recall and the abstention rate."""
    decided = [(e, p) for e, p in zip(examples, predicted) if not p.abstained]
    truth = [e.category for e in examples]
    guess = [p.category.value if not p.abstained else "abstained" for p in predicted]
    faults = [(e, p) for e, p in zip(examples, predicted) if e.category == "fault"]
    critical = [(e, p) for e, p in faults if e.severity == "critical"]
    return {
        "category_macro_f1": float(f1_score(truth, guess, labels=list(CATEGORIES), average="macro", zero_division=0)),
        "category_macro_f1_decided": float(
            f1_score([e.category for e, _ in decided], [p.category.value for _, p in decided],
                     labels=list(CATEGORIES), average="macro", zero_division=0)
        ) if decided else 0.0,
        "topic_accuracy": sum(e.topic == p.topic for e, p in zip(examples, predicted)) / max(len(examples), 1),
        "severity_accuracy": sum(e.severity == p.severity for e, p in faults) / max(len(faults), 1),
        "critical_recall": sum(p.severity == "critical" for _, p in critical) / max(len(critical), 1),
        "abstained": sum(p.abstained for p in predicted) / max(len(predicted), 1),
        "wrong_confident": sum(
            (not p.abstained) and (p.category.value != e.category or p.topic.value != e.topic)
            for e, p in zip(examples, predicted)
        ) / max(len(predicted), 1),
    }


def folds(groups: list[str], k: int) -> list[tuple[list[int], list[int]]]:
    """K train/test splits of example indices with each group in one fold."""
    k = max(2, min(k, len(set(groups))))
    splitter = GroupKFold(n_splits=k)
    return [(list(a), list(b)) for a, b in splitter.split(groups, groups=groups)]


def cross_validate(
    examples: list[Example], rules: tuple[Rule, ...], abstain_below: float, k: int = 5
) -> dict[str, float]:
    """Cross-validated figures of the whole classifier (rules + a model trained per fold)."""
    predicted: list = [None] * len(examples)
    for train_idx, test_idx in folds([e.group for e in examples], k):
        classifier = Classifier(rules, train([examples[i] for i in train_idx], rules), abstain_below)
        for i in test_idx:
            predicted[i] = classifier.classify(examples[i].subject, examples[i].text)
    return figures(examples, predicted)


def better(new: dict[str, float], old: dict[str, float] | None) -> bool:
    """True when the new figures are at least as good: critical recall first, then the sum of
    category macro-F1 (abstentions counted wrong) and topic accuracy."""
    if not old:
        return True
    if new.get("critical_recall", 0.0) < old.get("critical_recall", 0.0):
        return False
    score = lambda f: f.get("category_macro_f1", 0.0) + f.get("topic_accuracy", 0.0)
    return score(new) >= score(old) - 1e-9


def train_and_save(
    settings: Settings, session: Session | None = None, folder: Path | None = None, k: int = 5
) -> TrainingReport:
    """Train from the shipped examples (or `folder`) plus corrections; keep the better model."""
    examples = load_examples(folder or shipped_folder())
    corrections = correction_examples(session) if session is not None else []
    examples = _dedupe(examples + corrections)
    if len({e.category for e in examples}) < 2:
        raise DubuTriageError("too few labelled examples to train a model")
    rules = load_rules(resolve_rules_dir(settings.triage.rules_dir, settings.source))
    new_figures = cross_validate(examples, rules, settings.triage.abstain_below, k)
    path = Path(settings.model_path)
    old_figures, notes = _old_figures(path)
    report = TrainingReport(path, len(examples), len(corrections), new_figures, old_figures,
                            kept_old=not better(new_figures, old_figures), notes=notes)
    if not report.kept_old:
        model = train(examples, rules)
        model.figures = new_figures
        save_model(model, path)
    return report


def ensure_model(settings: Settings, session: Session | None = None) -> TrainingReport | None:
    """Train and save a model when there is no usable one (for init and the demo); else None."""
    path = Path(settings.model_path)
    if path.exists():
        try:
            load_model(path)
            return None
        except DubuTriageError:
            pass  # unreadable or outdated: train a new one
    return train_and_save(settings, session=session)


def _old_figures(path: Path) -> tuple[dict[str, float] | None, list[str]]:
    """The figures stored in the current model file, if it is readable."""
    if not path.exists():
        return None, ["no model before"]
    try:
        return load_model(path).figures, []
    except DubuTriageError as error:
        return None, [f"old model unreadable, replaced: {error}"]
