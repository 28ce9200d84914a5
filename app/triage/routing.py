"""Who gets a ticket (ORGANISATION.md), decided from plain values: no database here.

- an abstained classification waits in manual triage (no assignee);
- access (topic adgang, any category) goes to the professional lead;
- a local configuration wish (change request, topic opsaetning) to the DUBU administrator;
- other change requests are national: to the system responsible, who takes them to KOMBIT;
- everything else to the superusers of the topic (the administrator counts for opsaetning):
  the one with the fewest open tickets who is not away, ties broken by name;
- when nobody fits, the system responsible.
A critical fault alerts everyone who may forward faults and the system responsible, at once;
even an abstained one, since a false alarm costs less than a missed one.
The reason is shown to superusers, so it is written in Danish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.domain import Category, Classification, Role, RouteDecision, Severity, Topic

TOPIC_DA = {
    Topic.SAGSBEHANDLING: "sagsbehandling",
    Topic.OEKONOMI: "økonomi",
    Topic.BREVE: "breve",
    Topic.ADGANG: "adgang",
    Topic.OPSAETNING: "opsætning",
    Topic.LEDELSESINFORMATION: "ledelsesinformation",
    Topic.ANDET: "andet",
}

_WHY_ACCESS = "Adgang (brugerstyring), faglig leder"
_WHY_LOCAL_WISH = "Lokalt ændringsønske (opsætning), DUBU-administrator"
_WHY_NATIONAL_WISH = "Nationalt ændringsønske til KOMBIT, systemansvarlig"


@dataclass(frozen=True)
class Candidate:
    """A person as routing sees them: role, areas, absence and current load."""

    name: str
    email: str
    role: str
    areas: tuple[str, ...] = ()
    may_forward: bool = False
    away_until: date | None = None
    open_tickets: int = 0
    active: bool = True
    person_id: int | None = None  # the database row, so the caller need not look it up again

    def is_away(self, today: date) -> bool:
        """Away until and including `away_until`."""
        return self.away_until is not None and self.away_until >= today


def _first(people: Sequence[Candidate], role: Role) -> Candidate | None:
    """The first active person with `role`, by name."""
    found = sorted((p for p in people if p.active and p.role == role), key=lambda p: p.name)
    return found[0] if found else None


def _available(people: Sequence[Candidate], role: Role, today: date) -> Candidate | None:
    """The first active person with `role` who is not away."""
    return _first([p for p in people if not p.is_away(today)], role)


def alert_list(classification: Classification, people: Sequence[Candidate]) -> tuple[str, ...]:
    """Who is alerted at once: for a critical fault, all who may forward and the system responsible."""
    if classification.category != Category.FAULT or classification.severity != Severity.CRITICAL:
        return ()
    chosen = [p for p in people if p.active and (p.may_forward or p.role == Role.SYSTEM_RESPONSIBLE)]
    emails: list[str] = []
    for person in sorted(chosen, key=lambda p: p.name):
        if person.email not in emails:
            emails.append(person.email)
    return tuple(emails)


def _fallback(people: Sequence[Candidate], why: str) -> tuple[str | None, str]:
    """The system responsible, or manual triage when there is none."""
    responsible = _first(people, Role.SYSTEM_RESPONSIBLE)
    if responsible is None:
        return None, f"{why}; ingen systemansvarlig er sat op: venter på manuel visitering"
    return responsible.email, f"{why}; går til systemansvarlig {responsible.name}"


def _to_role(
    people: Sequence[Candidate], role: Role, today: date, what: str
) -> tuple[str | None, str]:
    """A ticket for one role (lead, administrator, system responsible), else the fallback."""
    person = _available(people, role, today)
    if person is not None:
        return person.email, f"{what}: går til {person.name}"
    return _fallback(people, f"{what}: ingen ledig")


def _to_area(
    people: Sequence[Candidate], topic: Topic, today: date
) -> tuple[str | None, str]:
    """The superuser of the topic with the fewest open tickets who is not away."""
    roles = {Role.SUPERUSER} | ({Role.ADMINISTRATOR} if topic == Topic.OPSAETNING else set())
    area = TOPIC_DA[topic]
    pool = [p for p in people if p.active and p.role in roles and topic in p.areas]
    ready = sorted((p for p in pool if not p.is_away(today)), key=lambda p: (p.open_tickets, p.name))
    if ready:
        best = ready[0]
        if len(ready) == 1:
            return best.email, f"Område {area}: {best.name} er den eneste ledige superbruger"
        return best.email, (
            f"Område {area}: {best.name} har færrest åbne sager ({best.open_tickets})"
        )
    why = f"Område {area}: alle superbrugere er fraværende" if pool else (
        f"Område {area}: ingen superbruger har området"
    )
    return _fallback(people, why)


def route(
    classification: Classification, people: Sequence[Candidate], today: date
) -> RouteDecision:
    """Decide the assignee and the alert list for one classified ticket."""
    alerts = alert_list(classification, people)
    if classification.abstained:
        percent = round(classification.confidence * 100)
        return RouteDecision(
            None, f"Usikker klassifikation (sikkerhed {percent} %): venter på manuel visitering",
            alerts,
        )
    topic, category = classification.topic, classification.category
    if topic == Topic.ADGANG:
        email, why = _to_role(people, Role.PROFESSIONAL_LEAD, today, _WHY_ACCESS)
    elif category == Category.CHANGE_REQUEST and topic == Topic.OPSAETNING:
        email, why = _to_role(people, Role.ADMINISTRATOR, today, _WHY_LOCAL_WISH)
    elif category == Category.CHANGE_REQUEST:
        email, why = _to_role(people, Role.SYSTEM_RESPONSIBLE, today, _WHY_NATIONAL_WISH)
    else:
        email, why = _to_area(people, topic, today)
    return RouteDecision(email, why, alerts)
