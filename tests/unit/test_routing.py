"""Routing per ORGANISATION.md, on plain values."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from app.domain import Category, Classification, Severity, Topic
from app.triage.routing import Candidate, route

TODAY = date(2024, 4, 15)


def korsbaek(**open_tickets: int) -> list[Candidate]:
    """The Korsbæk organisation; open_tickets by first name in lower case."""
    people = [
        ("Birgitte Holm", "system_owner", (), False),
        ("Mads Kjær", "system_responsible", ("sagsbehandling", "oekonomi", "breve", "adgang",
                                            "opsaetning", "ledelsesinformation", "andet"), True),
        ("Lene Mortensen", "superuser", ("sagsbehandling", "breve"), True),
        ("Jonas Friis", "superuser", ("sagsbehandling", "ledelsesinformation"), True),
        ("Hanne Dahl", "superuser", ("oekonomi",), True),
        ("Peter Lund", "superuser", ("sagsbehandling", "breve"), False),
        ("Susanne Vind", "administrator", ("opsaetning",), True),
        ("Karen Bech", "professional_lead", ("adgang",), False),
    ]
    return [
        Candidate(name=name, email=name.lower().replace(" ", ".").replace("æ", "ae") + "@k.dk",
                  role=role, areas=areas, may_forward=fwd,
                  open_tickets=open_tickets.get(name.split()[0].lower(), 0))
        for name, role, areas, fwd in people
    ]


def classified(category: str, topic: str, severity: str = "normal", abstained: bool = False):
    """A classification with the given labels."""
    return Classification(Category(category), Topic(topic), Severity(severity),
                          confidence=0.3 if abstained else 0.9, abstained=abstained)


def test_fewest_open_tickets_wins() -> None:
    """Among the superusers of the area, the one with the fewest open tickets gets it."""
    people = korsbaek(lene=3, jonas=1, peter=2)
    decision = route(classified("question", "sagsbehandling"), people, TODAY)
    assert decision.assignee_email == "jonas.friis@k.dk"
    assert decision.reason == "Område sagsbehandling: Jonas Friis har færrest åbne sager (1)"


def test_ties_are_broken_by_name() -> None:
    """Equal load: alphabetical order decides, so the choice is stable."""
    decision = route(classified("fault", "breve"), korsbaek(lene=2, peter=2), TODAY)
    assert decision.assignee_email == "lene.mortensen@k.dk"


def test_away_superuser_is_skipped_until_and_including_the_date() -> None:
    """away_until >= today means away; the day after, they are back."""
    people = [replace(p, away_until=TODAY) if p.name == "Jonas Friis" else p
              for p in korsbaek(lene=5, jonas=0, peter=5)]
    assert route(classified("question", "sagsbehandling"), people, TODAY).assignee_email == "lene.mortensen@k.dk"
    tomorrow = date(2024, 4, 16)
    assert route(classified("question", "sagsbehandling"), people, tomorrow).assignee_email == "jonas.friis@k.dk"


def test_everyone_away_goes_to_system_responsible() -> None:
    """Nobody of the area available: the system responsible takes it."""
    people = [replace(p, away_until=TODAY) if p.name == "Hanne Dahl" else p for p in korsbaek()]
    decision = route(classified("fault", "oekonomi"), people, TODAY)
    assert decision.assignee_email == "mads.kjaer@k.dk"
    assert "fraværende" in decision.reason


@pytest.mark.parametrize("category", ["question", "fault", "change_request"])
def test_access_goes_to_the_professional_lead(category: str) -> None:
    """Access requests, whatever their category, go to the professional lead."""
    decision = route(classified(category, "adgang"), korsbaek(), TODAY)
    assert decision.assignee_email == "karen.bech@k.dk"


def test_local_configuration_wish_goes_to_the_administrator() -> None:
    """A change request about opsætning is the administrator's."""
    decision = route(classified("change_request", "opsaetning"), korsbaek(), TODAY)
    assert decision.assignee_email == "susanne.vind@k.dk"


def test_configuration_question_goes_to_the_administrator_as_area_owner() -> None:
    """A question about opsætning: the administrator is the superuser of that area."""
    decision = route(classified("question", "opsaetning"), korsbaek(), TODAY)
    assert decision.assignee_email == "susanne.vind@k.dk"


def test_national_change_request_goes_to_system_responsible() -> None:
    """Wishes for DUBU itself go to the system responsible, the single contact to KOMBIT."""
    decision = route(classified("change_request", "breve"), korsbaek(), TODAY)
    assert decision.assignee_email == "mads.kjaer@k.dk"
    assert "KOMBIT" in decision.reason


def test_topic_without_superuser_goes_to_system_responsible() -> None:
    """Topic andet has no superuser in Korsbæk."""
    decision = route(classified("question", "andet"), korsbaek(), TODAY)
    assert decision.assignee_email == "mads.kjaer@k.dk"


def test_abstained_waits_for_manual_triage() -> None:
    """An unsure classification is nobody's yet."""
    decision = route(classified("fault", "sagsbehandling", abstained=True), korsbaek(), TODAY)
    assert decision.assignee_email is None
    assert "manuel visitering" in decision.reason


def test_critical_fault_alerts_all_who_may_forward_and_the_system_responsible() -> None:
    """The alert list: may_forward people plus the system responsible, once each."""
    decision = route(classified("fault", "sagsbehandling", "critical"), korsbaek(), TODAY)
    assert sorted(decision.alert_emails) == sorted([
        "mads.kjaer@k.dk", "lene.mortensen@k.dk", "jonas.friis@k.dk", "hanne.dahl@k.dk",
        "susanne.vind@k.dk",
    ])
    unsure = route(classified("fault", "andet", "critical", abstained=True), korsbaek(), TODAY)
    assert len(unsure.alert_emails) == 5  # an unsure critical fault alerts too


def test_non_critical_alerts_nobody() -> None:
    """High faults and questions alert nobody."""
    assert route(classified("fault", "breve", "high"), korsbaek(), TODAY).alert_emails == ()
    assert route(classified("question", "breve"), korsbaek(), TODAY).alert_emails == ()
