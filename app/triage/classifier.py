"""The classifier: the administrator's rules and the trained model, combined, with confidence.

For each field the model gives a probability per label (without a model: an even start). Each
rule that fires adds its weight to the log-odds of its label, and the result is normalised
again, so a rule can tip a close call or, with a heavy weight, overrule the model. The
confidence of a field is the probability of the label chosen; the classification's confidence is
the lower of category and topic, the two that decide routing. Below `abstain_below` the ticket
waits in manual triage. Severity is decided for faults only; a critical signal is also evidence
of a fault, because a fault counts as one even when it is phrased as a question (TAXONOMY.md).
Behind the rules, the critical-risk net (`app.triage.severity_net`) raises a fault, or an
abstained ticket where a fault is likely, to critical when a sentence says a critical process or
many people are blocked: a missed critical fault costs more than a false alarm.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain import Category, Classification, Reason, Severity, Topic
from app.errors import DubuTriageError
from app.settings import Settings
from app.triage.model import TriageModel, load_model
from app.triage.normalise import classifier_text
from app.triage.rules import Rule, RuleHit, fire, load_rules, resolve_rules_dir
from app.triage.severity_net import NetHit, critical_risk

log = logging.getLogger(__name__)

LABELS: dict[str, tuple[str, ...]] = {
    "category": tuple(c.value for c in Category),
    "topic": tuple(t.value for t in Topic),
    "severity": tuple(s.value for s in Severity),
}
# The model learnt from a few hundred mails; the rules were written for Danish support mail in
# general. Cross-validation (docs/TRIAGE.md) showed the combination generalises best when the
# model's log-probabilities are flattened (a temperature) and the rules weigh half again.
MODEL_TEMPERATURE = 1.5
RULE_SCALE = 1.5
# Without a model the rules are the only evidence, so each counts for more; and an even start
# leans slightly to "andet" and "normal", which are right when nothing is known.
RULES_ONLY_SCALE = 2.0
RULES_ONLY_PRIOR = {"topic": {"andet": 0.5}, "severity": {"normal": 1.0}}
# A critical severity signal adds at most this much evidence that the mail is a fault.
CRITICAL_FAULT_EVIDENCE = 2.0
MODEL_WORDS = 4
# When no topic rule names a part of DUBU, the mail leans to "andet" by this much (log-odds):
# the model alone tends to the commonest topic of its training mail, sagsbehandling.
NO_TOPIC_EVIDENCE = 1.0
# A change-request rule that fires beside a fault rule counts this share of its weight.
WISH_BESIDE_FAULT = 0.4
# An abstained ticket that the critical-risk net flags is made a critical fault (so the alert
# goes out) when the fault probability is at least this: a person triages it anyway.
NET_FAULT_LIKELY = 0.2
NET_WEIGHT = 1.0  # shown with the net's reason; the net overrides, it does not weigh


@dataclass(frozen=True)
class Decision:
    """One field decided: the label, its confidence and the full distribution."""

    label: str
    confidence: float
    probabilities: dict[str, float]


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    """Normalise log-scores into probabilities."""
    top = max(scores.values())
    exp = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def _precedence(field: str, hit: RuleHit, hits: list[RuleHit]) -> float:
    """How much of a rule's weight counts, given the other rules that fired.

    TAXONOMY.md: a fault beats a change request. A wish written into a fault report ("det
    virker ikke, og i øvrigt ville det være smart hvis…") must not outweigh the fault, so
    change-request evidence counts for less when a fault rule fired too. Likewise a critical
    situation is urgent by nature: when a critical rule fired, the urgency words of the "high"
    rules ("haster", "i morgen") are not evidence against it (a missed critical fault costs more
    than a false alarm).
    """
    if field == "severity" and hit.rule.label == "high":
        critical = any(h.rule.field == "severity" and h.rule.label == "critical" for h in hits)
        return 0.0 if critical else 1.0
    if field != "category" or hit.rule.label != "change_request":
        return 1.0
    fault = any(h.rule.field == "category" and h.rule.label == "fault" for h in hits)
    return WISH_BESIDE_FAULT if fault else 1.0


def combine(
    field: str, probs: dict[str, float] | None, hits: list[RuleHit], net_fired: bool = False
) -> Decision:
    """Model probabilities (or an even start) plus rule evidence → one decision for `field`;
    `net_fired` (the critical-risk net found a critical consequence) counts as a critical rule."""
    labels = LABELS[field]
    if probs is None:
        prior = RULES_ONLY_PRIOR.get(field, {})
        scores = {label: prior.get(label, 0.0) for label in labels}
        scale = RULES_ONLY_SCALE
    else:
        scores = {
            label: math.log(max(probs.get(label, 0.0), 1e-6)) / MODEL_TEMPERATURE
            for label in labels
        }
        scale = RULE_SCALE
    for hit in hits:
        if hit.rule.field == field:
            scores[hit.rule.label] += hit.weight * scale * _precedence(field, hit, hits)
    if field == "topic" and probs is not None and not any(h.rule.field == "topic" for h in hits):
        scores["andet"] += NO_TOPIC_EVIDENCE  # TAXONOMY.md: "andet" is also "impossible to tell"
    if field == "category":
        critical = [h.weight for h in hits if h.rule.field == "severity" and h.rule.label == "critical"]
        # "it's just gone", "carers not paid": a critical consequence told as a question is a fault
        critical += [CRITICAL_FAULT_EVIDENCE] if net_fired else []
        if critical:
            scores["fault"] += min(max(critical), CRITICAL_FAULT_EVIDENCE) * scale
    final = _softmax(scores)
    label = max(labels, key=lambda k: (final[k], -labels.index(k)))
    return Decision(label=label, confidence=final[label], probabilities=final)


class Classifier:
    """Rules plus, where a model file exists, the trained model."""

    def __init__(
        self, rules: tuple[Rule, ...], model: TriageModel | None, abstain_below: float,
        calibrate: bool = True,
    ):
        """Keep the rules, the model (or None: rules only) and the abstention threshold;
        `calibrate=False` gives raw confidences (used to fit the calibration)."""
        self.rules = rules
        self.model = model
        self.abstain_below = abstain_below
        self.calibrate = calibrate

    def classify(self, subject: str, text: str) -> Classification:
        """Category, topic and (for faults) severity of a mail's subject and new text.

        Never raises: a mail that cannot be classified is returned abstained, for a person.
        """
        try:
            return self._classify(subject or "", text or "")
        except Exception:
            log.exception("classification failed; the ticket goes to manual triage")
            return Classification(
                category=Category.QUESTION, topic=Topic.ANDET, severity=Severity.NORMAL,
                confidence=0.0, abstained=True,
                reasons=(Reason("default", "classification failed", "category", "question", 0.0),),
                category_confidence=0.0, topic_confidence=0.0, severity_confidence=0.0,
            )

    def _classify(self, subject: str, text: str) -> Classification:
        """The work of classify(), allowed to raise."""
        hits = fire(self.rules, subject, text)
        row = self.model.vectorize(classifier_text(subject, text)) if self.model else None
        net = critical_risk(subject, text)
        category = self._calibrated(
            combine("category", self._probs("category", row), hits, bool(net and net.consequence))
        )
        topic = self._calibrated(combine("topic", self._probs("topic", row), hits), "topic")
        if category.label == Category.FAULT:
            severity = combine("severity", self._probs("severity", row), hits)
        else:
            severity = Decision(Severity.NORMAL.value, 1.0, {Severity.NORMAL.value: 1.0})
        confidence = category.confidence * topic.confidence
        raised: tuple[Reason, ...] = ()
        if net is not None and self._net_applies(category, confidence):
            category, severity, raised = _raised(category, severity, net)
        return Classification(
            category=Category(category.label), topic=Topic(topic.label),
            severity=Severity(severity.label), confidence=round(confidence, 4),
            abstained=confidence < self.abstain_below,
            reasons=raised + self._reasons(hits, row, category, topic, severity),
            category_confidence=round(category.confidence, 4),
            topic_confidence=round(topic.confidence, 4),
            severity_confidence=round(severity.confidence, 4),
        )

    def _net_applies(self, category: Decision, confidence: float) -> bool:
        """Whether the critical-risk net may raise this ticket: a fault; or, where a fault is
        likely, a question (a "question" that says the payments have stopped is a fault put
        politely: prefer a false alarm) or an abstained ticket (a person triages it anyway)."""
        if category.label == Category.FAULT:
            return True
        likely = category.probabilities.get(Category.FAULT.value, 0.0) >= NET_FAULT_LIKELY
        return likely and (category.label == Category.QUESTION or confidence < self.abstain_below)

    def _calibrated(self, decision: Decision, field: str = "category") -> Decision:
        """The decision with its confidence calibrated, when the model carries a calibration."""
        if self.model is None or not self.calibrate:
            return decision
        confidence = self.model.calibrate(field, decision.confidence)
        return Decision(decision.label, confidence, decision.probabilities)

    def _probs(self, head: str, row: Any) -> dict[str, float] | None:
        """The model's probabilities for one head, or None in rules-only mode."""
        if self.model is None or row is None:
            return None
        return self.model.probabilities(head, row)

    def _reasons(
        self, hits: list[RuleHit], row: Any, *decisions: Decision
    ) -> tuple[Reason, ...]:
        """The rules that fired for the chosen labels, then the words that weighed most."""
        chosen = dict(zip(("category", "topic", "severity"), (d.label for d in decisions)))
        reasons = [
            Reason("rule", h.rule.name, h.rule.field, h.rule.label, h.weight)
            for h in hits
            if chosen.get(h.rule.field) == h.rule.label
        ]
        if self.model is not None and row is not None:
            for field in ("category", "topic"):
                for name, weight in self.model.top_words(field, row, chosen[field], MODEL_WORDS):
                    reasons.append(Reason("model", _readable(name), field, chosen[field], weight))
        return tuple(reasons)


def _raised(
    category: Decision, severity: Decision, net: NetHit
) -> tuple[Decision, Decision, tuple[Reason, ...]]:
    """Category fault and severity critical, with the net's reason, unless the rules and model
    already made the ticket a critical fault (then the net adds nothing)."""
    fault, critical = Category.FAULT.value, Severity.CRITICAL.value
    if category.label == fault and severity.label == critical:
        return category, severity, ()
    if category.label != fault:  # abstained with a fault likely: the alert must go out
        category = Decision(fault, category.probabilities.get(fault, 0.0), category.probabilities)
    severity = Decision(critical, severity.probabilities.get(critical, 0.0), severity.probabilities)
    return category, severity, (Reason("rule", net.name, "severity", critical, NET_WEIGHT),)


def _readable(feature: str) -> str:
    """A feature name as a superuser reads it: the stem or the letters, without the prefix."""
    kind, _, value = feature.partition("__")
    return f"«{value.strip()}»" if kind == "chars" else value


def load_classifier(settings: Settings) -> Classifier:
    """The rules from settings.triage.rules_dir and the model file, if there is a usable one."""
    rules = load_rules(resolve_rules_dir(settings.triage.rules_dir, settings.source))
    model: TriageModel | None = None
    path = Path(settings.model_path)
    if path.exists():
        try:
            model = load_model(path)
        except DubuTriageError as error:
            log.warning("rules only: %s", error)
    return Classifier(rules, model, settings.triage.abstain_below)
