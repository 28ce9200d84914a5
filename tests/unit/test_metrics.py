"""The evaluation report's figures: what `dubu-triage evaluate` prints must add up."""

from app.triage.metrics import Outcome, summarise


def outcome(n: int, label: str, got: str | None, severity: str = "normal",
            got_severity: str = "normal", abstained: bool = False) -> Outcome:
    """One labelled request and what the pipeline made of it."""
    row = {"file": f"{n:03}.eml", "category": label, "topic": "andet", "severity": severity,
           "noise_kind": "", "thread_of": "", "contains_cpr": "0", "language": "da"}
    return Outcome(file=row["file"], row=row, kind="ticket", ticket_id=n, category=got,
                   topic="andet", severity=got_severity, confidence=0.9, abstained=abstained)


def test_confusion_rows_add_up_to_each_class_and_severity_mistakes_are_listed() -> None:
    """Each confusion row sums to the mails of that class; a fault with the wrong severity is
    among the mistakes even when its category and topic are right."""
    outcomes = [
        outcome(1, "question", "question"),
        outcome(2, "question", "fault"),
        outcome(3, "question", "question", abstained=True),
        outcome(4, "fault", "fault", "critical", "critical"),
        outcome(5, "fault", "fault", "high", "normal"),
        outcome(6, "change_request", "change_request"),
    ]
    details = summarise(outcomes)["details"]
    confusion = details["confusion"]
    assert confusion["labels"] == ["question", "fault", "change_request", "abstained"]
    assert confusion["rows"][:3] == [[1, 1, 0, 1], [0, 2, 0, 0], [0, 0, 1, 0]]
    assert {m["file"] for m in details["mistakes"]} == {"002.eml", "003.eml", "005.eml"}


def test_noise_let_through_and_unattached_follow_ups_are_mistakes() -> None:
    """A phishing mail that became a ticket, and a reply that became a new ticket, are listed."""
    phish = outcome(7, "noise", "question")
    reply = outcome(8, "followup", "question")
    fine = Outcome(file="009.eml", row={**phish.row, "file": "009.eml"}, kind="noise",
                   ticket_id=None)
    listed = {m["file"] for m in summarise([phish, reply, fine])["details"]["mistakes"]}
    assert listed == {"007.eml", "008.eml"}
