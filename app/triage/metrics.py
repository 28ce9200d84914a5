"""The figures of an evaluation: what each labelled mail became, compared with its labels.

How abstentions count (be honest about it): `category_macro_f1` counts an abstained ticket as
wrong (it reached no person); `category_macro_f1_decided` is the same figure on the tickets
that were decided. Topic accuracy is over all human requests, abstained or not, using the topic
stored on the ticket (a request that did not become a ticket counts wrong). Severity accuracy
is among the true faults; critical recall counts a true critical fault as caught when its
ticket is marked critical, abstained or not, since the alert goes out either way.
`abstained`, `wrong_confident`, `human_as_noise` and `total` are counts; the rest are fractions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

CATEGORIES = ("question", "fault", "change_request")
JSON_KEYS = (
    "category_macro_f1", "topic_accuracy", "severity_accuracy", "critical_recall",
    "noise_caught", "human_as_noise", "followups_linked", "abstained", "wrong_confident", "total",
)


@dataclass(frozen=True)
class Outcome:
    """What one labelled mail became in the pipeline."""

    file: str
    row: dict[str, str]
    kind: str
    ticket_id: int | None
    subject: str = ""
    category: str | None = None
    topic: str | None = None
    severity: str | None = None
    confidence: float = 0.0
    abstained: bool = False
    assignee: str | None = None
    reasons: list[Any] = field(default_factory=list)
    new_text: str = ""

    @property
    def is_request(self) -> bool:
        """Labelled a question, fault or change request."""
        return self.row.get("category") in CATEGORIES

    @property
    def wrong(self) -> bool:
        """A request whose ticket has the wrong category or topic (or is no ticket)."""
        return self.is_request and (
            self.kind != "ticket"
            or self.category != self.row["category"]
            or self.topic != self.row["topic"]
        )


def _ratio(good: int, total: int) -> float:
    """good/total, 1.0 when there is nothing to get right."""
    return round(good / total, 4) if total else 1.0


def _followups(outcomes: list[Outcome]) -> tuple[int, int]:
    """(linked to the right ticket, labelled follow-ups)."""
    by_file = {o.file: o for o in outcomes}
    good = total = 0
    for o in outcomes:
        if o.row.get("category") != "followup":
            continue
        total += 1
        parent = by_file.get(o.row.get("thread_of", ""))
        expected = parent.ticket_id if parent else None
        good += o.kind == "followup" and expected is not None and o.ticket_id == expected
    return good, total


def _category_figures(requests: list[Outcome]) -> dict[str, Any]:
    """Macro-F1 both ways, per-class precision and recall, and the confusion matrix."""
    if not requests:  # a folder of noise and follow-ups only: nothing to score
        return {"category_macro_f1": 1.0, "category_macro_f1_decided": 0.0, "per_class": {},
                "confusion": {}}
    truth = [o.row["category"] for o in requests]
    strict = [o.category if o.kind == "ticket" and not o.abstained else "abstained" for o in requests]
    decided = [(t, o.category) for t, o in zip(truth, requests) if o.kind == "ticket" and not o.abstained]
    labels = list(CATEGORIES)
    precision, recall, _, support = precision_recall_fscore_support(
        truth, strict, labels=labels, zero_division=0
    )
    matrix_labels = labels + ["abstained"]
    return {
        "category_macro_f1": round(float(f1_score(truth, strict, labels=labels, average="macro", zero_division=0)), 4),
        "category_macro_f1_decided": round(float(f1_score(
            [t for t, _ in decided], [p for _, p in decided], labels=labels, average="macro",
            zero_division=0)), 4) if decided else 0.0,
        "per_class": {
            label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "support": int(s)}
            for label, p, r, s in zip(labels, precision, recall, support)
        },
        "confusion": {
            "labels": matrix_labels,
            "rows": confusion_matrix(truth, strict, labels=matrix_labels).tolist(),
        },
    }


def _mistakes(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """The mails it got wrong (category, topic or a fault's severity; noise let through; a
    follow-up not attached) or abstained on, worst first: human mail as noise, missed critical faults, confident wrong decisions by
    confidence, then abstentions."""
    rows = []
    for o in outcomes:
        labelled = o.row.get("category")
        missed_critical = o.row.get("severity") == "critical" and labelled == "fault" and o.severity != "critical"
        as_noise = labelled != "noise" and o.kind == "noise"
        wrong_severity = (labelled == "fault" and o.kind == "ticket"
                          and o.severity != o.row.get("severity"))
        abstained = o.is_request and o.abstained  # counted wrong in the strict macro-F1
        missed_noise = labelled == "noise" and o.kind != "noise"
        unlinked = labelled == "followup" and o.kind != "followup"
        if not (o.wrong or missed_critical or as_noise or wrong_severity or abstained
                or missed_noise or unlinked):
            continue
        rank = 0 if as_noise else 1 if missed_critical else 2 if not o.abstained else 3
        rows.append({
            "file": o.file, "subject": o.subject, "kind": o.kind, "rank": rank,
            "expected": f"{labelled}/{o.row.get('topic')}/{o.row.get('severity')}",
            "got": f"{o.category}/{o.topic}/{o.severity}", "confidence": o.confidence,
            "abstained": o.abstained,
            "reasons": [r.get("name") for r in o.reasons if isinstance(r, dict)][:6],
        })
    return sorted(rows, key=lambda r: (r["rank"], -r["confidence"], r["file"]))


def summarise(outcomes: list[Outcome], note: str = "") -> dict[str, Any]:
    """All figures; the keys of JSON_KEYS at the top, the detail under 'details'."""
    requests = [o for o in outcomes if o.is_request]
    faults = [o for o in requests if o.row["category"] == "fault"]
    critical = [o for o in faults if o.row.get("severity") == "critical"]
    noise = [o for o in outcomes if o.row.get("category") == "noise"]
    humans = [o for o in outcomes if o.row.get("category") not in ("noise", None)]
    linked, labelled_followups = _followups(outcomes)
    tickets = [o for o in requests if o.kind == "ticket"]
    category = _category_figures(requests)
    result: dict[str, Any] = {
        "category_macro_f1": category["category_macro_f1"],
        "topic_accuracy": _ratio(sum(o.topic == o.row["topic"] for o in tickets), len(requests)),
        "severity_accuracy": _ratio(sum(o.severity == o.row.get("severity") for o in faults), len(faults)),
        "critical_recall": _ratio(sum(o.severity == "critical" for o in critical), len(critical)),
        "noise_caught": _ratio(sum(o.kind == "noise" for o in noise), len(noise)),
        "human_as_noise": sum(o.kind == "noise" for o in humans),
        "followups_linked": _ratio(linked, labelled_followups),
        "abstained": sum(o.abstained for o in tickets),
        "wrong_confident": sum(o.wrong and not o.abstained for o in requests),
        "total": len(outcomes),
    }
    result["details"] = {
        "note": note,
        "category_macro_f1_decided": category["category_macro_f1_decided"],
        "per_class": category["per_class"],
        "confusion": category["confusion"],
        "requests": len(requests),
        "kinds": dict(Counter(o.kind for o in outcomes)),
        "mistakes": _mistakes(outcomes),
    }
    return result
