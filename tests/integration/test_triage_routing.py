"""route_ticket on a real database (SQLite and PostgreSQL): open tickets and absence count."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.domain import Category, Classification, Severity, Topic
from app.models import Person, Ticket
from app.triage.assign import route_ticket

TODAY = date(2024, 4, 15)


def _classification(topic: str, category: str = "question", severity: str = "normal"):
    """A confident classification."""
    return Classification(Category(category), Topic(topic), Severity(severity), 0.9, False)


def _give(session, email: str, count: int, status: str = "open") -> None:
    """Give `email` `count` tickets in `status`."""
    person = session.scalar(select(Person).where(Person.email == email))
    for _ in range(count):
        session.add(Ticket(category="question", topic="sagsbehandling", status=status,
                           assignee_id=person.id))


def test_fewest_open_tickets_counts_only_open_ones(runtime) -> None:
    """Resolved and closed tickets do not count towards a superuser's load."""
    with runtime.sessions.begin() as session:
        _give(session, "lene.mortensen@korsbaek.dk", 1)
        _give(session, "jonas.friis@korsbaek.dk", 5, status="closed")
        _give(session, "jonas.friis@korsbaek.dk", 3, status="resolved")
        _give(session, "peter.lund@korsbaek.dk", 2, status="waiting")
    with runtime.sessions() as session:
        decision = route_ticket(session, runtime.settings, _classification("sagsbehandling"), TODAY)
    assert decision.assignee_email == "jonas.friis@korsbaek.dk"
    assert decision.reason == "Område sagsbehandling: Jonas Friis har færrest åbne sager (0)"


def test_away_and_inactive_people_are_skipped(runtime) -> None:
    """Hanne away and nobody else on økonomi: the system responsible gets it."""
    with runtime.sessions.begin() as session:
        hanne = session.scalar(select(Person).where(Person.email == "hanne.dahl@korsbaek.dk"))
        hanne.away_until = TODAY
    with runtime.sessions() as session:
        decision = route_ticket(session, runtime.settings, _classification("oekonomi", "fault"), TODAY)
    assert decision.assignee_email == "mads.kjaer@korsbaek.dk"


def test_critical_alert_list_from_the_database(runtime) -> None:
    """Everyone who may forward, and the system responsible."""
    with runtime.sessions() as session:
        decision = route_ticket(
            session, runtime.settings, _classification("sagsbehandling", "fault", "critical"), TODAY
        )
    assert set(decision.alert_emails) == {
        "mads.kjaer@korsbaek.dk", "lene.mortensen@korsbaek.dk", "jonas.friis@korsbaek.dk",
        "hanne.dahl@korsbaek.dk", "susanne.vind@korsbaek.dk",
    }
