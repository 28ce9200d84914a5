"""Rules from routing_rules/*.toml: each rule type, folding, validation with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import RulesError
from app.triage.rules import fire, load_rules, load_rules_file

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, body: str, name: str = "test.toml") -> Path:
    """A rules folder with one file."""
    (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


KEYWORD_RULE = """
[[rule]]
name = "fault-hangs"
description = "DUBU hangs"
field = "category"
label = "fault"
weight = 2
keywords = ["hænger", "virker ikke"]
unless = ["virker igen"]
"""


def test_keyword_rule_matches_both_spellings_and_word_endings(tmp_path: Path) -> None:
    """'hænger' matches 'haenger' and 'hængerne'; multi-word keywords allow any whitespace."""
    rules = load_rules(_write(tmp_path, KEYWORD_RULE))
    assert [h.rule.name for h in fire(rules, "Brevet haenger", "")] == ["fault-hangs"]
    assert fire(rules, "", "Siden\n virker   ikke")[0].matched == "virker ikke"
    assert fire(rules, "", "Det hængerne") != []
    assert fire(rules, "", "Anhænger") == []  # not at a word start


def test_unless_silences_a_rule(tmp_path: Path) -> None:
    """A rule does not fire when one of its 'unless' words occurs."""
    rules = load_rules(_write(tmp_path, KEYWORD_RULE))
    assert fire(rules, "Virker ikke", "Nu virker igen det hele") == []


def test_subject_hits_weigh_more(tmp_path: Path) -> None:
    """Words in the subject count half again."""
    rules = load_rules(_write(tmp_path, KEYWORD_RULE))
    assert fire(rules, "hænger", "")[0].weight == 3.0
    assert fire(rules, "", "hænger")[0].weight == 2.0


def test_pattern_rule_and_where(tmp_path: Path) -> None:
    """Regular expressions run on folded text; where=subject ignores the body."""
    rules = load_rules(_write(tmp_path, """
[[rule]]
name = "critical-payments"
description = "Payment run stopped"
field = "severity"
label = "critical"
weight = 5
where = "subject"
patterns = ['udbetalingskoers\\w*.{0,40}(stoppet|fejlet)']
"""))
    assert fire(rules, "Udbetalingskørslen er stoppet", "") != []
    assert fire(rules, "Hej", "Udbetalingskørslen er stoppet") == []


@pytest.mark.parametrize(
    "body, message",
    [
        ('[[rule]]\nname = "x"\ndescription = "d"\nfield = "colour"\nlabel = "fault"\nkeywords = ["a"]',
         "field must be one of"),
        ('[[rule]]\nname = "x"\ndescription = "d"\nfield = "category"\nlabel = "bug"\nkeywords = ["a"]',
         "'bug' is not a category label"),
        ('[[rule]]\nname = "x"\ndescription = "d"\nfield = "topic"\nlabel = "breve"\npatterns = ["(unclosed"]',
         "bad regular expression"),
        ('[[rule]]\nname = "x"\ndescription = "d"\nfield = "topic"\nlabel = "breve"',
         "needs 'keywords' or 'patterns'"),
        ('[[rule]]\nname = "x"\ndescription = "d"\nfield = "topic"\nlabel = "breve"\nkeyword = ["a"]',
         "unknown key(s) keyword"),
        ('[[rule]]\nname = "x"\ndescription = "d"\nfield = "topic"\nlabel = "breve"\nweight = 0\nkeywords = ["a"]',
         "weight must be"),
        ('[[rule]]\nname = "x"\nfield = "topic"\nlabel = "breve"\nkeywords = ["a"]',
         "missing or empty 'description'"),
        ('[rule]\nname = "x"', "array of tables"),
        ('rule = [', "not valid TOML"),
    ],
)
def test_invalid_rules_name_file_and_rule(tmp_path: Path, body: str, message: str) -> None:
    """Every mistake is a RulesError that names the file (and the rule, where there is one)."""
    path = _write(tmp_path, body, "bad.toml") / "bad.toml"
    with pytest.raises(RulesError) as caught:
        load_rules_file(path)
    assert message in str(caught.value)
    assert "bad.toml" in str(caught.value)
    if 'name = "x"' in body and "[[rule]]" in body:
        assert "rule 'x'" in str(caught.value)


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    """A rule name is unique in the whole folder."""
    _write(tmp_path, KEYWORD_RULE, "a.toml")
    _write(tmp_path, KEYWORD_RULE, "b.toml")
    with pytest.raises(RulesError, match="already used in a.toml"):
        load_rules(tmp_path)


def test_shipped_rules_are_valid_and_cover_every_field() -> None:
    """routing_rules/ loads, and has rules for category, topic and severity."""
    rules = load_rules(ROOT / "routing_rules")
    assert {r.field for r in rules} == {"category", "topic", "severity"}


@pytest.mark.parametrize(
    "subject, text",
    [
        ("DUBU er nede!!", "Vi får Service Unavailable på alle pc'er."),
        ("Kan ikke gemme underretning", "Jeg kan ikke gemme en ny underretning, der kommer en fejl."),
        ("HASTER", "Udbetalingskørslen til plejefamilier er fejlet i nat."),
        ("Underretninger", "Der er ikke kommet nogen underretninger ind fra portalen siden i går."),
        ("Alle breve fejler", "Det er ikke kun mig – hele teamet kan ikke sende."),
    ],
)
def test_shipped_critical_rules_fire_on_critical_situations(subject: str, text: str) -> None:
    """The critical situations of TAXONOMY.md fire a critical rule."""
    rules = load_rules(ROOT / "routing_rules")
    assert any(h.rule.label == "critical" for h in fire(rules, subject, text))


def test_shipped_critical_rules_stay_quiet_on_ordinary_mail() -> None:
    """A question about notifications of concern is no emergency."""
    rules = load_rules(ROOT / "routing_rules")
    hits = fire(rules, "Lynguide til underretninger?", "Hvor finder jeg guiden til underretninger?")
    assert not any(h.rule.label == "critical" for h in hits)


def test_relative_rules_folder_is_found_from_anywhere(tmp_path: Path, monkeypatch) -> None:
    """Started outside the project, the default 'routing_rules' still means the project's."""
    from app.triage.rules import resolve_rules_dir

    monkeypatch.chdir(tmp_path)
    assert resolve_rules_dir("routing_rules") == ROOT / "routing_rules"
    (tmp_path / "routing_rules").mkdir()
    assert resolve_rules_dir("routing_rules") == tmp_path / "routing_rules"  # the working dir first


def test_a_starred_keyword_also_ends_a_compound(tmp_path: Path) -> None:
    """'*rapport' finds "ledelsesrapporten"; a plain keyword still needs a word start."""
    rules = load_rules(_write(tmp_path, """
[[rule]]
name = "topic-reports"
description = "Reports"
field = "topic"
label = "ledelsesinformation"
keywords = ["*rapport", "statistik"]
"""))
    assert fire(rules, "", "Ledelsesrapporten viser 0")[0].matched == "rapport"
    assert fire(rules, "Rapporter", "") != []
    assert fire(rules, "", "Årsstatistikken") == []  # not starred: a word start is needed
    assert fire(rules, "", "Statistikken") != []


@pytest.mark.parametrize(
    "text, fires",
    [
        ("Skabelonen fletter ikke barnets navn ind.", True),
        ("Når jeg udskriver, kommer målene for barnet ikke med.", True),
        ("Tallene i rapporten passer slet ikke.", True),
        ("Det ville være godt, hvis man ikke skulle skrive det to gange.", False),
        ("Alt virker som det skal, det er bare et ønske.", False),
    ],
)
def test_shipped_rules_read_danish_inverted_negation(text: str, fires: bool) -> None:
    """Danish puts 'ikke' after the verb and its subject: still a fault, a wish is not."""
    rules = load_rules(ROOT / "routing_rules")
    assert any(h.rule.name == "fault-negated-verb" for h in fire(rules, "", text)) is fires


@pytest.mark.parametrize(
    "subject, text",
    [
        ("Underretningsmodulet hænger", "Når vi åbner en ny underretning, drejer hjulet bare."),
        ("Vagten", "Jeg kan ikke åbne de nye underretninger i aften."),
        ("Bevillinger væk", "Så går der ingen penge ud til institutionerne den 1."),
        ("Plejefamilier", "Syv plejefamilier har ringet, de har ikke fået deres vederlag."),
        ("Digital Post", "Fra hele Børn og Familie kan vi ikke sende breve i dag."),
        ("er det kun mig?", "Ingen af de andre på gangen kan komme ind i DUBU."),
        ("Slow", "DUBU is extremely slow for everyone on the 3rd floor, none of us can work."),
        ("Vederlag", "Alle vederlag til plejefamilierne står som stoppet på betalingsoversigten."),
        ("Smidt ud", "Vi er smidt ud alle sammen, og nu kan ingen af os logge på igen."),
        ("Portalen", "Der er ikke landet en eneste underretning fra portalen siden fredag."),
    ],
)
def test_shipped_critical_rules_fire_on_more_wordings(subject: str, text: str) -> None:
    """Critical situations in wordings beyond the shipped examples: compounds, inversions, English."""
    rules = load_rules(ROOT / "routing_rules")
    assert any(h.rule.label == "critical" for h in fire(rules, subject, text))


@pytest.mark.parametrize(
    "text",
    [
        "Det gælder alle netværksplejefamilier i kommunen, at taksten er ændret.",
        "Kan man se hvornår en betaling er gået ud til plejefamilien?",
        "Tallene for underretninger i rapporten passer ikke.",
    ],
)
def test_shipped_critical_rules_stay_quiet_on_near_misses(text: str) -> None:
    """Foster families, payments and notifications named without anything blocked: not critical."""
    rules = load_rules(ROOT / "routing_rules")
    assert not any(h.rule.label == "critical" for h in fire(rules, "", text))
