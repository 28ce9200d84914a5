"""The critical-risk net: critical faults in wordings no rule knows, and near misses it must leave.

Every sentence here was written for this test (not taken from dubu-dev or the holdout sets).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.domain import Category, Role, Severity
from app.triage.classifier import NET_FAULT_LIKELY, Classifier
from app.triage.routing import Candidate, route
from app.triage.rules import fire, load_rules
from app.triage.severity_net import critical_risk

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "routing_rules")
# Without the severity rules, only the net can make a ticket critical; without the category rules
# too, a rules-only classifier has no idea of the category and abstains.
NO_SEVERITY = tuple(r for r in RULES if r.field != "severity")
TOPIC_ONLY = tuple(r for r in RULES if r.field == "topic")


@pytest.mark.parametrize(
    "subject, text",
    [
        (
            "Modtagelsen",
            (
                "Underretningsmodulet smider os ud, hver gang vi trykker gem, så de nye "
                "underretninger bliver slet ikke registreret."
            ),
        ),
        (
            "Underretning",
            "Den underretning som skolen sendte i morges er forsvundet fra indbakken.",
        ),
        (
            "Hjælp",
            (
                "Vores henvendelser fra politiet lander ikke, og underetninger fra sundhedsplejen "
                "kan vi overhovedet ikke åbne."
            ),
        ),
        ("Penge", "Plejeforældrene ringer: de har ikke fået deres vederlag for marts."),
        ("Kørsel", "Nattens udbetalingskørsel er standset halvvejs, og intet er sendt til banken."),
        ("Døgninstitution", "Betalingerne til døgninstitutionerne blev afvist af NemKonto i nat."),
        ("Fejl i DUBU", "Det er ikke kun mig, Per og Hanne har præcis samme fejl når de gemmer."),
        ("Alle er ramt", "Siden frokost kan hele teamet ikke åbne sagerne."),
        ("Login", "Ingen i Familieafdelingen kan komme ind i dag."),
        ("Sort skærm", "DUBU er utilgængelig fra alle vores pc'er."),
        ("Digital Post nede?", "Breve sendes ikke."),
        ("Akut", "Jeg kan ikke registrere en akutanbringelse, barnet er hos os nu."),
        ("Payments", "The payments to our foster families failed last night."),
        # "as soon as it works again" is not "it works again"
        (
            "Underretninger",
            "Vi kan ikke oprette underretninger; giv besked, så snart det virker igen.",
        ),
        # an outage in everyday words: thrown out, unreachable, timing out
        ("DUBU", "Hele kontoret blev smidt ud af DUBU kl. 10, og nu kan ingen af os komme ind."),
        ("Langsomt", "DUBU kan ikke nås fra rådhuset, alle får timeout."),
    ],
)
def test_the_net_catches_critical_wordings(subject: str, text: str) -> None:
    """A critical process or many people blocked, in varied Danish (and English) words."""
    hit = critical_risk(subject, text)
    assert hit is not None, (subject, text)
    assert hit.name.startswith("critical-net: ")


@pytest.mark.parametrize(
    "subject, text",
    [
        # one person, one case, nothing critical at stake
        ("Journalnotat", "Jeg kan ikke gemme mit journalnotat, der kommer en rød boks."),
        ("Betaling", "En enkelt betaling til en plejefamilie er afvist, der mangler en NemKonto."),
        ("Plejefamilie", "Jeg kan ikke vælge plejefamilien som modtager af brevet."),
        # hypothetical, how-to, or over
        ("Spørgsmål", "Hvad gør vi, hvis betalingskørslen til opholdsstederne fejler?"),
        (
            "Vejledning",
            "Hvordan registrerer jeg en underretning, når barnet ikke kan findes i CPR?",
        ),
        ("Løst", "Underretningerne kommer ikke ind? Jo, nu virker det igen, tak."),
        # the words, but not near each other, or not failing
        ("Tak", "Underretningen er modtaget. Senere på dagen kunne jeg ikke finde min kaffe."),
        ("Nederst", "Feltet nederst på siden er tomt."),
        ("Alle breve", "Jeg vil gerne se alle mine breve samlet."),
        ("Udlogget", "Jeg blev smidt ud af DUBU en enkelt gang i går, men det gik fint bagefter."),
    ],
)
def test_the_net_leaves_near_misses(subject: str, text: str) -> None:
    """Words of the net in sentences that are not a critical failure."""
    assert critical_risk(subject, text) is None, (subject, text)


def test_the_net_raises_a_fault_to_critical_with_its_reason() -> None:
    """A fault the rules call high (urgency words) becomes critical, and the reason says why."""
    subject, text = (
        "HASTER",
        "Plejevederlagene er ikke gået af sted, og familierne mangler pengene i dag.",
    )
    assert not any(h.rule.label == "critical" for h in fire(RULES, subject, text))
    result = Classifier(RULES, None, 0.5).classify(subject, text)
    assert (result.category, result.severity) == (Category.FAULT, Severity.CRITICAL)
    net = [r for r in result.reasons if r.name.startswith("critical-net")]
    assert net and net[0].field == "severity" and "plejevederlagene" in net[0].name


def test_the_net_does_not_touch_a_question() -> None:
    """A confident question that names a critical process stays a question."""
    result = Classifier(NO_SEVERITY, None, 0.5).classify(
        "Spørgsmål om vederlag",
        "Hvor kan jeg se, om plejefamiliens vederlag er stoppet efter flytningen?",
    )
    assert critical_risk("", "Plejefamiliens vederlag er stoppet.") is not None
    assert not result.abstained and result.category == Category.QUESTION
    assert result.severity == Severity.NORMAL
    assert not any(r.name.startswith("critical-net") for r in result.reasons)


def test_an_abstained_ticket_that_looks_critical_still_alerts() -> None:
    """With no category evidence the ticket abstains (an even start: fault is as likely as
    anything); the net makes it a critical fault, so the alert goes out while it waits."""
    subject, text = "Opholdsstederne", "Betalingerne til opholdsstederne er røget ud af kørslen."
    assert critical_risk(subject, text) is None  # "røget ud" is not a failure word…
    quiet = Classifier(TOPIC_ONLY, None, 0.5).classify(subject, text)
    assert quiet.abstained and quiet.severity == Severity.NORMAL
    text = text[:-1] + ", så de bliver ikke sendt i dag."  # …but "bliver ikke" is
    result = Classifier(TOPIC_ONLY, None, 0.5).classify(subject, text)
    assert result.abstained and NET_FAULT_LIKELY <= 1 / 3
    assert (result.category, result.severity) == (Category.FAULT, Severity.CRITICAL)
    people = [
        Candidate("Åse", "aase@korsbaek.dk", Role.SUPERUSER.value, ("oekonomi",), may_forward=True),
        Candidate("Bo", "bo@korsbaek.dk", Role.SYSTEM_RESPONSIBLE.value),
    ]
    decision = route(result, people, date(2026, 11, 30))
    assert decision.assignee_email is None  # manual triage…
    assert set(decision.alert_emails) == {"aase@korsbaek.dk", "bo@korsbaek.dk"}  # …and alerted
    assert route(quiet, people, date(2026, 11, 30)).alert_emails == ()


def test_the_net_leaves_a_confident_non_fault_alone() -> None:
    """A change request that mentions failing payments is not raised."""
    subject, text = (
        "Ønske",
        "Vi ønsker en mail til os, når betalingerne til en plejefamilie afvises.",
    )
    assert critical_risk(subject, text) is not None
    result = Classifier(NO_SEVERITY, None, 0.5).classify(subject, text)
    assert (
        not result.abstained
        and result.category == Category.CHANGE_REQUEST
        and result.severity == Severity.NORMAL
    )


@pytest.mark.parametrize(
    "subject, text",
    [
        # the payment stake told by its consequences
        ("Vederlag", "En plejefar har ringet tre gange i dag, han kan ikke betale sin husleje."),
        ("Pengene", "Der er ingen penge kommet ind hos familien Holm denne måned."),
        ("Konto", "Ingen af vores aflastere har set noget komme ind på kontoen i går."),
        ("Bosted", "Bostedet Lyngly vil opsige anbringelsen, hvis ikke regningen er betalt fredag."),
        ("Manglende betaling", "Hytten har ikke fået betaling siden maj for de to piger."),
        ("Telefonen", "Plejeforældrene ringer hele formiddagen om pengene."),
        # many people, or DUBU down, told by what they see
        ("Skærmen", "DUBU er helt hvid på alle skærme i modtagelsen."),
        ("Loader", "Systemet står bare og loader, vi har genstartet to gange."),
        ("Etagen", "Hele 3. sal kan ikke få DUBU frem siden kl. 9."),
        ("Login", "Vi er 17 herude der sidder og venter på at komme ind."),
        ("Ingen", "Ingen kan åbne en sag i eftermiddag."),
        # English
        ("Concern", "The notification of concern I saved an hour ago is missing from the case."),
        ("Carers", "Our foster carers have not been paid this month."),
        ("Payroll", "The payroll to the care homes failed overnight."),
        ("Help", "Everyone in the team is stuck on the sign-in page."),
        ("Residential", "The residential homes did not receive any payments on Friday."),
        # a pronoun carries the notification into the next sentence
        (
            "Væk",
            "Jeg skrev en lang underretning fra børnehaven ind. Da jeg trykkede afslut, var den væk.",
        ),
    ],
)
def test_the_net_catches_consequences_and_english(subject: str, text: str) -> None:
    """Critical faults told by what happens to people and work, in Danish and English."""
    assert critical_risk(subject, text) is not None, (subject, text)


@pytest.mark.parametrize(
    "subject, text",
    [
        # cosmetic: how the list of notifications looks, not whether they can be handled
        ("Sortering", "Underretningerne sorteres efter navn, og man kan ikke vælge dato i stedet."),
        ("Dato", "Modtagedatoen på underretningen kan ikke rettes, den viser i går."),
        ("Label", "Der står en forkert label på underretningsfanen, den kan ikke skjules."),
        ("Colour", "The notification of concern list cannot change the column colours."),
        # a how-to about the rent is no consequence
        ("Spørgsmål", "Hvordan hjælper vi en plejemor, der ikke kan betale husleje?"),
        # a pronoun sentence without a stake before it
        ("Kaffe", "Jeg satte kaffen på bordet. Da jeg kom tilbage, var den væk."),
    ],
)
def test_the_net_leaves_cosmetic_near_misses(subject: str, text: str) -> None:
    """Notifications named in a sentence about sorting, dates or labels: no alarm."""
    assert critical_risk(subject, text) is None, (subject, text)


def test_cosmetic_near_miss_is_not_critical_by_rule() -> None:
    """The critical notification rule leaves a sentence about the list's sorting alone, but still
    fires when notifications cannot be registered."""
    cosmetic = fire(
        RULES, "Listen", "Listen over underretninger er sorteret forkert, og man kan ikke vende den."
    )
    blocked = fire(RULES, "Listen", "Vi kan ikke registrere underretninger i dag.")
    assert not any(h.rule.label == "critical" for h in cosmetic)
    assert any(h.rule.name == "critical-notification-blocked" for h in blocked)


def test_lost_work_told_as_a_question_is_a_critical_fault() -> None:
    """A question rule fires ("where …?"), but the notification is gone: a critical fault."""
    subject, text = (
        "Where is it?",
        "Where did my notification of concern go? I pressed save and now it has disappeared.",
    )
    result = Classifier(RULES, None, 0.5).classify(subject, text)
    assert (result.category, result.severity) == (Category.FAULT, Severity.CRITICAL)


def test_writer_saying_not_urgent_keeps_a_fault_normal() -> None:
    """"Ikke akut" is the writer's own judgement: evidence for normal severity."""
    hits = fire(RULES, "Lille ting", "Lille ting, ikke akut: knappen står skævt i journalen.")
    assert any(h.rule.label == "normal" for h in hits)


@pytest.mark.parametrize(
    "subject, text",
    [
        ("Quick question", "Is it right that the foster carers have not been paid yet this month?"),
        ("Kan det passe?", "Kan det passe, at ingen penge er kommet ud til plejefamilierne i dag?"),
        ("Bare et spørgsmål", "Er det normalt at underretningen fra tandplejen er væk igen?"),
    ],
)
def test_a_consequence_asked_politely_is_a_critical_fault(subject: str, text: str) -> None:
    """Rules only, no model: a question that tells a critical consequence is a critical fault,
    with the net's reason."""
    result = Classifier(RULES, None, 0.5).classify(subject, text)
    assert (result.category, result.severity) == (Category.FAULT, Severity.CRITICAL), result
    assert any(r.name.startswith("critical-net") or r.label == "critical" for r in result.reasons)
