"""Evaluate the whole pipeline on a labelled folder, in a throwaway in-memory database.

Each mail goes through `app.ingest.pipeline.ingest_raw` in date order (parse, noise, follow-up
matching, classification, routing), exactly as in service, and what was stored is compared with
labels.csv (TAXONOMY.md). With `k` folds, threads are kept together; each fold's pipeline uses a
model trained on the other folds' questions, faults and change requests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.pool import StaticPool

from app.db import make_sessionmaker, sync_people
from app.models import Base, InboundMessage, Ticket
from app.runtime import Runtime
from app.settings import Settings
from app.triage.classifier import Classifier, load_classifier
from app.triage.metrics import Outcome, summarise
from app.triage.rules import load_rules, resolve_rules_dir
from app.triage.training import (
    Example,
    folds,
    load_examples,
    read_labels,
    shipped_folder,
    train,
)


@dataclass(frozen=True)
class LabelledMail:
    """One mail of the folder, its labels and when it arrived."""

    file: str
    raw: bytes
    row: dict[str, str]
    arrived: datetime


def _arrival(raw: bytes, fallback: datetime) -> datetime:
    """The Date header as an aware datetime, or the fallback when it is missing or broken."""
    try:
        header = BytesParser(policy=compat32).parsebytes(raw, headersonly=True).get("Date")
        moment = parsedate_to_datetime(str(header)) if header else None
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None:
        return fallback
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_folder(folder: Path, labels: Path | None = None) -> list[LabelledMail]:
    """The labelled mails of a folder, oldest first (file name breaks ties)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    mails = []
    for row in read_labels(folder, labels):
        raw = (folder / row["file"]).read_bytes()
        mails.append(LabelledMail(row["file"], raw, row, _arrival(raw, epoch)))
    return sorted(mails, key=lambda m: (m.arrived, m.file))


def _throwaway_runtime(settings: Settings, classifier: Classifier) -> Runtime:
    """A runtime on a fresh in-memory SQLite database, with the organisation's people."""
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    Base.metadata.create_all(engine)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    runtime.__dict__["classifier"] = classifier  # the cached property, set to this fold's
    with runtime.sessions.begin() as session:
        sync_people(session, settings)
    return runtime


def run_pipeline(settings: Settings, classifier: Classifier, mails: list[LabelledMail]) -> list[Outcome]:
    """Ingest `mails` in order into a throwaway database; what each became, per file."""
    from app.ingest.pipeline import ingest_raw  # the ingest area owns the pipeline

    runtime = _throwaway_runtime(settings, classifier)
    clock = {"now": datetime.now(UTC)}
    runtime.now = lambda: clock["now"]  # the pipeline's clock follows the mails' own dates
    stored: dict[str, tuple[str, int | None]] = {}
    try:
        for mail in mails:
            clock["now"] = mail.arrived
            outcome = ingest_raw(runtime, mail.raw, source="import", received_at=mail.arrived)
            stored[mail.file] = (outcome.kind.value, outcome.ticket_id)
        return _outcomes(runtime, mails, stored)
    finally:
        runtime.dispose()


def _outcomes(
    runtime: Runtime, mails: list[LabelledMail], stored: dict[str, tuple[str, int | None]]
) -> list[Outcome]:
    """Read back each mail's ticket (category, topic, severity, confidence, assignee)."""
    outcomes = []
    with runtime.sessions() as session:
        tickets = {t.id: t for t in session.scalars(select(Ticket))}
        messages = {m.ticket_id: m for m in session.scalars(select(InboundMessage)) if m.kind == "ticket"}
        for mail in mails:
            kind, ticket_id = stored[mail.file]
            ticket = tickets.get(ticket_id) if kind == "ticket" and ticket_id is not None else None
            outcomes.append(
                Outcome(
                    file=mail.file, row=mail.row, kind=kind, ticket_id=ticket_id,
                    subject=ticket.subject if ticket else "",
                    category=ticket.category if ticket else None,
                    topic=ticket.topic if ticket else None,
                    severity=ticket.severity if ticket else None,
                    confidence=ticket.confidence if ticket else 0.0,
                    abstained=bool(ticket.abstained) if ticket else False,
                    assignee=ticket.assignee.email if ticket and ticket.assignee else None,
                    reasons=list(ticket.reasons) if ticket else [],
                    new_text=messages[ticket_id].new_text if ticket and ticket_id in messages else "",
                )
            )
    return outcomes


def _unseen(examples: list[Example], mails: list[LabelledMail]) -> list[Example]:
    """Shipped examples that are not among the mails evaluated (no testing on training data)."""
    from app.triage.training import mail_text

    evaluated = {mail_text(m.raw) for m in mails}
    return [e for e in examples if (e.subject, e.text) not in evaluated]


def evaluate(settings: Settings, folder: Path, labels: Path | None = None, k: int | None = None) -> dict:
    """The figures of the whole pipeline on a labelled folder (see app.triage.metrics)."""
    mails = read_folder(folder, labels)
    if not k or k < 2:
        classifier = load_classifier(settings)
        note = "the configured model" if classifier.model else ""
        if classifier.model is None:
            training = _unseen(load_examples(shipped_folder()), mails)
            if len({e.category for e in training}) >= 2:
                model = train(training, classifier.rules)
                classifier = Classifier(classifier.rules, model, classifier.abstain_below)
                note = f"a model trained on {len(training)} shipped examples not in this folder"
            else:
                note = "rules only (no model, and no shipped examples outside this folder)"
        return summarise(run_pipeline(settings, classifier, mails), note)
    return _cross_validated(settings, folder, labels, mails, k)


def thread_root(row: dict[str, str], rows: dict[str, dict[str, str]]) -> str:
    """The first message of the thread a labelled mail belongs to (itself if it starts one)."""
    file, seen = row["file"], set()
    while rows.get(file, {}).get("thread_of") and file not in seen:
        seen.add(file)
        file = rows[file]["thread_of"]
    return file


def _cross_validated(
    settings: Settings, folder: Path, labels: Path | None, mails: list[LabelledMail], k: int
) -> dict:
    """K folds by thread; each fold's pipeline uses a model trained on the other folds."""
    rules = load_rules(resolve_rules_dir(settings.triage.rules_dir, settings.source))
    examples = {e.group: e for e in load_examples(folder, labels)}
    groups = [thread_root(m.row, {x.file: x.row for x in mails}) for m in mails]
    outcomes: list[Outcome] = []
    for train_idx, test_idx in folds(groups, k):
        training = [examples[mails[i].file] for i in train_idx if mails[i].file in examples]
        classifier = Classifier(rules, train(training, rules), settings.triage.abstain_below)
        outcomes += run_pipeline(settings, classifier, [mails[i] for i in sorted(test_idx)])
    order = {m.file: i for i, m in enumerate(mails)}
    outcomes.sort(key=lambda o: order[o.file])
    return summarise(outcomes, f"{k}-fold cross-validation, threads kept in one fold")
