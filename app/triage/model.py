"""The statistical half of the classifier: scikit-learn on Danish support mail.

One feature space serves three heads (category, topic, severity among faults):
- stems: Snowball Danish stems, folded (æ/ø/å = ae/oe/aa), single words and pairs;
- characters: 3–5 letter n-grams inside words of the folded text, which survive typos and
  compound words ("underretningsportalen" shares most n-grams with "underretning").
Each head is a logistic regression with balanced class weights. The model file is a joblib
dump of a dict with a format version, the time it was trained, its figures and the model,
so an old or foreign file is recognised and refused instead of misread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from threadpoolctl import threadpool_limits

from app.errors import DubuTriageError
from app.triage.normalise import fold, stems

FORMAT_VERSION = 1
HEADS = ("category", "topic", "severity")
# Stop words carry no intent; folded, since features are folded.
_STOP = frozenset(
    fold(w)
    for w in ["og", "i", "jeg", "det", "at", "en", "den", "til", "er", "som", "på", "de", "med", "han", "af", "for", "ikke", "der", "var", "mig", "sig", "men", "et", "har", "om", "vi", "min", "havde", "ham", "hun", "nu", "over", "da", "fra", "du", "ud", "sin", "dem", "os", "op", "man", "hans", "hvor", "eller", "hvad", "skal", "selv", "her", "alle", "vil", "blev", "kunne", "ind", "når", "være", "dog", "noget", "ville", "jo", "deres", "efter", "ned", "skulle", "denne", "end", "dette", "mit", "også", "under", "have", "dig", "anden", "hende", "mine", "alt", "meget", "sit", "sine", "vor", "mod", "disse", "hvis", "din", "nogle", "hos", "blive", "mange", "ad", "bliver", "hendes", "været", "thi", "jer", "sådan", "hej", "mvh", "venlig", "hilsen", "tak", "the", "a", "an", "and", "or", "of", "to", "in", "is", "it", "for", "on", "that", "this", "with", "be", "are", "was", "i", "you", "we"]
)


def stem_features(doc: str) -> list[str]:
    """Stems of a document (stop words out) and pairs of neighbouring stems."""
    tokens = [s for s in stems(doc) if s not in _STOP and not s.isdigit()]
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def build_features() -> FeatureUnion:
    """The feature space shared by the three heads."""
    return FeatureUnion(
        [
            ("stems", TfidfVectorizer(analyzer=stem_features, sublinear_tf=True, min_df=1)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", preprocessor=fold, ngram_range=(3, 5),
                    sublinear_tf=True, min_df=2, max_features=60000,
                ),
            ),
        ]
    )


def build_head(c: float = 30.0) -> LogisticRegression:
    """One classifier head; C chosen by cross-validation on the shipped examples."""
    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000, solver="newton-cg")


@dataclass
class TriageModel:
    """A fitted feature space and its heads, with what it was trained on and how well it did."""

    features: FeatureUnion
    heads: dict[str, LogisticRegression]
    trained_at: datetime
    examples: int
    figures: dict[str, float] = field(default_factory=dict)
    # Platt scaling per field, fitted on cross-validated decisions of rules + model:
    # P(right) = sigmoid(a * logit(raw confidence) + b). Absent: the raw confidence.
    calibration: dict[str, tuple[float, float]] = field(default_factory=dict)

    def calibrate(self, head: str, raw: float) -> float:
        """The probability that a decision with this raw confidence is right."""
        if head not in self.calibration:
            return raw
        a, b = self.calibration[head]
        raw = min(max(raw, 1e-6), 1 - 1e-6)
        return float(1.0 / (1.0 + np.exp(-(a * np.log(raw / (1 - raw)) + b))))

    def vectorize(self, text: str) -> Any:
        """The sparse feature row of one classifier text.

        The same as `features.transform`, without FeatureUnion's parallel machinery, which
        costs more than the work itself for one short document.
        """
        parts = [vectorizer.transform([text]) for _, vectorizer in self.features.transformer_list]
        return sparse.hstack(parts, format="csr")

    def probabilities(self, head: str, row: Any) -> dict[str, float] | None:
        """Label → probability from one head, or None when the model has no such head."""
        model = self.heads.get(head)
        if model is None:
            return None
        probs = model.predict_proba(row)[0]
        return {str(label): float(p) for label, p in zip(model.classes_, probs)}

    def top_words(self, head: str, row: Any, label: str, n: int = 5) -> list[tuple[str, float]]:
        """The features of `row` that weighed most for `label`, with their contribution."""
        model = self.heads.get(head)
        if model is None or label not in model.classes_:
            return []
        classes = list(model.classes_)
        coef = model.coef_[0] if len(classes) == 2 else model.coef_[classes.index(label)]
        if len(classes) == 2 and label == classes[0]:
            coef = -coef
        row = row.tocsr()
        contributions = row.data * coef[row.indices]
        order = np.argsort(-contributions)[:n]
        names = self.feature_names()
        return [
            (names[row.indices[i]], float(contributions[i])) for i in order if contributions[i] > 0
        ]

    def feature_names(self) -> np.ndarray:
        """Readable names of the features ("stems__underretning", "chars__ fejl")."""
        cached = getattr(self, "_names", None)
        if cached is None:
            cached = self.features.get_feature_names_out()
            self._names = cached
        return cached


def fit_model(texts: list[str], labels: dict[str, list[str | None]], c: float = 30.0) -> TriageModel:
    """Fit the feature space and one head per field; None labels are left out of that head."""
    features = build_features()
    heads: dict[str, LogisticRegression] = {}
    # One BLAS thread: on a small problem, more threads only fight each other (10x slower here).
    with threadpool_limits(limits=1):
        matrix = features.fit_transform(texts)
        for head in HEADS:
            rows = [i for i, label in enumerate(labels.get(head, [])) if label is not None]
            targets = [labels[head][i] for i in rows]
            if len(set(targets)) < 2:
                continue  # a head needs two labels to learn anything
            heads[head] = build_head(c).fit(matrix[rows], targets)
    return TriageModel(
        features=features, heads=heads, trained_at=datetime.now().astimezone(), examples=len(texts)
    )


def save_model(model: TriageModel, path: Path) -> None:
    """Write the model file atomically: a versioned dict, so a reader can refuse what it cannot read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": FORMAT_VERSION,
        "sklearn_version": sklearn.__version__,
        "trained_at": model.trained_at.isoformat(),
        "examples": model.examples,
        "figures": dict(model.figures),
        "calibration": dict(model.calibration),
        "features": model.features,
        "heads": model.heads,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    joblib.dump(payload, tmp, compress=3)
    tmp.replace(path)


def load_model(path: Path) -> TriageModel:
    """Read a model file; a missing, foreign or outdated one is a DubuTriageError."""
    try:
        payload = joblib.load(path)
    except FileNotFoundError:
        raise DubuTriageError(f"{path}: no model file") from None
    except Exception as error:  # noqa: BLE001 - a damaged file can fail in many ways
        raise DubuTriageError(f"{path}: not a readable model file: {error}") from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise DubuTriageError(f"{path}: model format is not version {FORMAT_VERSION}; retrain")
    return TriageModel(
        features=payload["features"], heads=payload["heads"],
        trained_at=datetime.fromisoformat(payload["trained_at"]),
        examples=int(payload["examples"]), figures=dict(payload["figures"]),
        calibration=dict(payload.get("calibration", {})),
    )
