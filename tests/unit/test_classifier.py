"""The classifier: rules only without a model, rules + model with one; abstention and reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain import Category, Severity, Topic
from app.triage.classifier import Classifier, combine, load_classifier
from app.triage.model import load_model, save_model
from app.triage.rules import fire, load_rules
from app.triage.training import load_examples, shipped_folder, train

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "routing_rules")


@pytest.fixture(scope="module")
def model():
    """A model trained once on the shipped examples."""
    return train(load_examples(shipped_folder()), RULES, k=3)


def test_rules_only_without_a_model_file(make_settings, tmp_path: Path) -> None:
    """A missing model file is no error: the rules decide alone."""
    settings = make_settings(triage={"model_path": str(tmp_path / "none.joblib")})
    classifier = load_classifier(settings)
    assert classifier.model is None
    result = classifier.classify("DUBU er nede!!", "Vi får Service Unavailable på alle pc'er.")
    assert (result.category, result.severity) == (Category.FAULT, Severity.CRITICAL)
    assert {r.name for r in result.reasons} >= {"critical-dubu-down"}
    assert all(r.source == "rule" for r in result.reasons)


def test_an_unreadable_model_file_falls_back_to_rules(make_settings, tmp_path: Path) -> None:
    """A damaged or foreign model file is logged and ignored, not fatal."""
    path = tmp_path / "model.joblib"
    path.write_bytes(b"not a model")
    classifier = load_classifier(make_settings(triage={"model_path": str(path)}))
    assert classifier.model is None


def test_abstains_below_the_threshold() -> None:
    """With nothing to go on, the classifier says it is unsure; the threshold decides."""
    unsure = Classifier(RULES, None, abstain_below=0.5).classify("Paraply", "Hej, se vedhæftede.")
    assert unsure.abstained and unsure.confidence < 0.5
    bold = Classifier(RULES, None, abstain_below=0.0).classify("Paraply", "Hej, se vedhæftede.")
    assert not bold.abstained and bold.confidence == unsure.confidence


@pytest.mark.parametrize(
    "subject, text",
    [("", ""), ("\x00\x01", "\ud800 broken surrogate"), ("😀" * 50, "🙂" * 5000),
     ("x" * 10000, "ø" * 200000), ("Re: SV: VS:", "> quoted only")],
)
def test_never_raises_on_odd_text(subject: str, text: str, model) -> None:
    """Whatever a mail holds, a classification comes back."""
    for classifier in (Classifier(RULES, None, 0.5), Classifier(RULES, model, 0.5)):
        result = classifier.classify(subject, text)
        assert 0.0 <= result.confidence <= 1.0


def test_a_fault_phrased_as_a_question_is_a_fault(model) -> None:
    """TAXONOMY.md: 'er det kun mig?' with a broken DUBU is a fault, and critical when many are hit."""
    result = Classifier(RULES, model, 0.5).classify(
        "Er DUBU nede?", "Er det kun mig? Ingen af os kan komme ind i DUBU, vi får Service Unavailable."
    )
    assert result.category == Category.FAULT and result.severity == Severity.CRITICAL


def test_model_reasons_name_words_and_rules(model) -> None:
    """Reasons hold the rules that fired and the words that weighed most."""
    result = Classifier(RULES, model, 0.5).classify(
        "Forslag: nyt felt til tolkebehov", "Det ville være godt hvis vi kunne registrere tolkebehov."
    )
    assert result.category == Category.CHANGE_REQUEST
    sources = {r.source for r in result.reasons}
    assert sources == {"rule", "model"}
    assert any(r.source == "model" and r.field == "category" and r.weight > 0 for r in result.reasons)


def test_questions_and_topics_on_new_wording(model) -> None:
    """Mail not in the examples, in ordinary caseworker Danish, spelt without æøå."""
    classifier = Classifier(RULES, model, 0.5)
    question = classifier.classify("Hvordan laver jeg et udtraek?",
                                   "Hej. Hvordan laver jeg et udtraek over alle aabne sager i mit team?")
    assert (question.category, question.topic) == (Category.QUESTION, Topic.LEDELSESINFORMATION)
    fault = classifier.classify("Bevilling kan ikke gemmes",
                                "Naar jeg trykker gem paa bevillingen kommer der en fejlbesked.")
    assert (fault.category, fault.topic) == (Category.FAULT, Topic.OEKONOMI)


def test_rule_weight_overrules_a_confident_model() -> None:
    """A heavy rule tips the decision; a light one only nudges it."""
    probs = {"question": 0.9, "fault": 0.05, "change_request": 0.05}
    heavy = fire(RULES, "DUBU er nede", "")
    assert combine("category", probs, heavy).label == "fault"
    assert combine("category", probs, []).label == "question"


def test_model_file_round_trip(model, tmp_path: Path) -> None:
    """The file carries format version, training time, figures and calibration."""
    model.figures = {"category_macro_f1": 0.9}
    path = tmp_path / "m.joblib"
    save_model(model, path)
    again = load_model(path)
    assert again.figures == {"category_macro_f1": 0.9}
    assert again.trained_at == model.trained_at
    assert again.calibration == model.calibration


@pytest.mark.parametrize(
    "subject, text, expected",
    [
        ("Vi kan ikke oprette underretninger",
         "Siden kl. 8 har ingen i Modtagelsen kunnet oprette nye underretninger. Vi får en fejl.",
         "fault/critical"),
        ("Underetning kan ikke gemes", "jeg kan ikke gemme underetningen, der kommer fejl 500",
         "fault/critical"),
        ("betalinger til opholdssteder",
         "Udbetalingerne til opholdsstederne er ikke gået ud i dag. Kørslen står som fejlet.",
         "fault/critical"),
        ("Digital Post virker ikke for nogen",
         "Ingen breve går ud, hverken for mig eller kollegerne. Alle får fejlen 'Forsendelse afvist'.",
         "fault/critical"),
        ("DUBU is down", "Hi, DUBU has been down since 9 am for everyone in our team. Error 503.",
         "fault/critical"),
        ("Ekstremt langsomt", "DUBU er ekstremt langsomt for hele afdelingen i dag, vi kan reelt ikke arbejde.",
         "fault/critical"),
        ("Kan ikke logge ind", "Jeg kan ikke logge ind i DUBU i dag, jeg får adgang nægtet. Kollegerne kan godt.",
         "fault/high"),
        ("Underretning om barn i anden kommune",
         "Hvordan registrerer jeg en underretning, når jeg ikke kan finde barnet i CPR?",
         "question/normal"),
        ("Spørgsmål + forslag",
         "Det virker ikke når jeg sender brevet, og i øvrigt ville det være smart hvis man kunne se kvitteringen.",
         "fault/normal"),
        ("Journalfrase", "Hej Susanne, kan du oprette journalfrasen 'Hjemmebesøg uanmeldt'? Mvh Kim",
         "change_request/normal"),
    ],
)
def test_unseen_wording(subject: str, text: str, expected: str, model) -> None:
    """Mail written for this test, not taken from the examples: typos, English, mixed intents."""
    result = Classifier(RULES, model, 0.5).classify(subject, text)
    assert f"{result.category.value}/{result.severity.value}" == expected


def test_a_wish_inside_a_fault_report_does_not_make_it_a_change_request() -> None:
    """TAXONOMY.md: fault beats change request, even when the wish rule is the heavier."""
    probs = {"question": 0.34, "fault": 0.33, "change_request": 0.33}
    hits = fire(RULES, "Et par ting", "Målene kommer ikke med på udskriften. Det ville også være "
                "dejligt med et ønske om påmindelser.")
    assert {h.rule.label for h in hits} >= {"fault", "change_request"}
    assert combine("category", probs, hits).label == "fault"


def test_urgency_words_do_not_turn_a_critical_fault_into_a_high_one() -> None:
    """'HASTER' beside a blocked notification of concern: still critical."""
    probs = {"normal": 0.2, "high": 0.75, "critical": 0.05}
    hits = fire(RULES, "HASTER kan ikke gemme", "Jeg kan ikke gemme underretningen, fristen er i morgen.")
    assert combine("severity", probs, hits).label == "critical"


def test_a_conditional_wish_leaves_the_question_first(model) -> None:
    """'How do I…? If that is impossible, it would be nice…' is a question (question beats wish)."""
    result = Classifier(RULES, model, 0.5).classify(
        "Ydelser der udløber",
        "Hvordan finder jeg alle ydelser der udløber inden for tre måneder? Hvis det ikke kan lade "
        "sig gøre, ville det være rart med en liste.",
    )
    assert result.category == Category.QUESTION


def test_no_topic_words_leans_to_andet() -> None:
    """With no rule naming a part of DUBU, 'andet' (impossible to tell) wins a close call."""
    probs = {"sagsbehandling": 0.4, "andet": 0.3, "oekonomi": 0.3}
    assert combine("topic", probs, []).label == "andet"
    hits = fire(RULES, "", "Hvordan journaliserer jeg et journalnotat?")
    assert combine("topic", probs, hits).label == "sagsbehandling"
