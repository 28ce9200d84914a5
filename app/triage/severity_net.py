"""The critical-risk net: a second line of defence behind the critical severity rules.

The rules in `routing_rules/severity.toml` are phrases; a critical fault written in words they do
not know was missed (docs/TRIAGE.md: 0.5 critical recall on a blind batch). TAXONOMY.md asks for
the opposite trade: "Critical faults must not be missed: prefer a false alarm". So this net does
not look for phrases but for two kinds of words near each other, in one sentence:

- **what is at stake**: a process with child-safety or legal weight, found inside Danish
  compounds too (underretning*, plejefamili*, opholdssted*, institution*, udbetal*, betaling*,
  vederlag*), or **many people** (alle os / ingen af os / hele afdelingen / flere kolleger);
- **that it fails**: blocking words and negations ("kan ikke", "virker ikke", "fejler", "går ikke
  igennem", "bliver ikke", "stoppet", "afvist", "forsvundet"), in either word order.

DUBU itself being down ("nede", "utilgængelig", "ude af drift") needs only the system named.
A sentence that is hypothetical ("hvis …"), asks how to do something ("hvordan …"), or says
the trouble is over ("virker igen", "er løst") does not count. The classifier applies the net to
faults only (and to abstained tickets where a fault is likely); see `app.triage.classifier`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.triage.normalise import fold

# Words closer than this (in words, within one sentence) count as one statement.
WINDOW = 10
MAX_CHARS = 8000  # the net reads what a person writes; long pasted logs add only noise

# Stems found anywhere in a word, so compounds count ("underretningsmodulet"); "underetning" is
# the commonest misspelling. A notification of concern blocked is critical in itself.
NOTIFICATION = ("underretning", "underetning", "notification")
# Foster families and institutions are at stake when their money is: "plejefamilien" alone, in a
# validation error on one case, is not the payday of every foster family.
RECIPIENTS = (
    "plejefamili",
    "plejeforaeldre",
    "opholdssted",
    "institution",
    "aflastningsfamili",
    "foster",
)
MONEY = re.compile(r"penge|betal|vederlag|koers|plejeloen|payment|money")
# Payments count as a process, not one payment: plural, the run, the file, the fee
# ("betalingerne", "udbetalingskørslen", "betalingsfilen", "plejevederlaget"). One rejected payment
# or a supplier's missing account is one case. An emergency placement is as pressing.
PAYMENTS = re.compile(
    r"^(\w*(ud)?betaling(er|erne|s?koers\w*|sfil\w*|sliste\w*)|udbetalt|\w*vederlag\w*|"
    r"plejeloen\w*|akut\w*anbring\w*|payments)$"
)
_PEOPLE = r"(os|sammen|brugere|kolleg\w*|medarbejdere|sagsbehandlere|raadgivere|i \w+)"
_PLACES = (
    r"(afdeling\w*|team\w*|huset|forvaltning\w*|kommunen|myndighed\w*|gruppe\w*|kontor\w*|enhed\w*)"
)
MANY = re.compile(
    rf"\b(alle {_PEOPLE}|allesammen|samtlige|ingen (af (os|de andre|mine|vores) ?\w*|i \w+|kan|kunne"
    rf"|kolleg\w*|brugere)|nogen af os|hele {_PLACES}|flere (kolleg\w*|brugere|medarbejdere|"
    rf"sagsbehandlere|teams?|afdelinger)|(kan|kunne) ingen|ikke kun (mig|hos mig|for mig)|"
    rf"flere af os|vi er flere|akut\w* anbring\w*|everyone|nobody|no one|none of us)\b"
)
FAILS = re.compile(
    r"\b((kan|kunne)( \w+){0,3} (slet |stadig |heller |overhovedet )?ikke|samme fejl\w*|ikke (kan|kunne)|(virker|fungerer|"
    r"reagerer) (slet |stadig |overhovedet )?ikke|fejl(er|et|ede)|(gaar|gik|kommer|kom) (stadig |slet )?"
    r"ikke|ikke (muligt|lykkedes)|lykkes ikke|(faar|giver|kommer) (\w+ )?fejl\w*|intet gaar|(bliver|blev) (\w+ )?ikke|(er|har) (\w+ )?ikke (blevet|vaeret)"
    r"|ikke (\w+ )?(modtaget|faaet|kommet|landet|sendt|udbetalt|registreret|gemt|oprettet|(gaaet|kommet) (ud|af sted))"
    r"|(faar|modtager) ikke|stoppe[td]"
    r"|standse[td]?|afvis(t|es|ning)|forsvund\w*|forsvinder|haenger|fryser|laast|spaerret"
    r"|ingen( \w+){0,3} (kan|kunne|kommer|faar)|(kan|kunne) ingen"
    r"|smidt (af|ud)|kastet (af|ud)|(svarer|loader) (stadig |slet )?ikke"
    r"|cannot|can.t|not working|failed|failing|fails)\b"
)
SYSTEM = re.compile(
    r"\b(dubu|systemet|serveren|portalen|det hele|digital post|serviceplatformen|nemlog-?in)\b"
)
DOWN = re.compile(
    r"\b(nede|utilgaengelig\w*|ude af drift|gaaet ned|ligger ned|service unavailable|"
    r"(kan|kunne) (stadig |slet )?ikke (naas|tilgaas|aabnes|indlaeses)|timeout|timed? out|"
    r"is down|503)\b"
)
# A sentence that is a condition, a how-to question, or about one person or one case.
NOT_A_FAILURE = re.compile(
    r"\b(hvis|hvordan|i tilfaelde af|(?<!ikke )kun (mig|for mig|hos mig|i en|paa en|den ene)"
    r"|(?<!ikke )(en|et) enkelt)\b"
)
# A mail that says the trouble is over, anywhere, is no alarm; "as soon as it works again" or
# "if it is not solved" is not over.
RESOLVED = re.compile(
    r"\b((virker|fungerer|koerer) (det |de |nu |alt )*(igen|fint nu)|er (nu )?loest)\b"
)
NOT_YET = re.compile(r"\b(hvis|naar|saa snart|indtil|til|ikke|ikke er|om)\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s*[\r\n]+\s*")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class NetHit:
    """Why the net fired: the word of what is at stake and the failure words beside it."""

    stake: str
    failure: str

    @property
    def name(self) -> str:
        """The reason's name as a superuser reads it in the web view."""
        return f"critical-net: {self.stake} + {self.failure}"


def _word_index(sentence: str, position: int) -> int:
    """The number of words before character `position`: distance is counted in words."""
    return len(_WORD.findall(sentence[:position]))


def _stakes(sentence: str) -> list[tuple[int, str]]:
    """Word positions and words of what is at stake in `sentence` (processes or many people)."""
    money = MONEY.search(sentence) is not None
    stems = NOTIFICATION + (RECIPIENTS if money else ())
    found = [
        (i, word)
        for i, word in enumerate(_WORD.findall(sentence))
        if PAYMENTS.match(word) or any(stem in word for stem in stems)
    ]
    found += [(_word_index(sentence, m.start()), m.group(0)) for m in MANY.finditer(sentence)]
    return found


def _check_sentence(sentence: str) -> NetHit | None:
    """The hit in one folded sentence, or None."""
    if NOT_A_FAILURE.search(sentence):
        return None
    down = DOWN.search(sentence)
    system = SYSTEM.search(sentence)
    if down and system:
        return NetHit(stake=system.group(0), failure=down.group(0))
    failures = [(_word_index(sentence, m.start()), m.group(0)) for m in FAILS.finditer(sentence)]
    if not failures:
        return None
    for at, stake in _stakes(sentence):
        for where, failure in failures:
            if abs(where - at) <= WINDOW:
                return NetHit(stake=stake, failure=failure)
    return None


def _resolved(sentence: str) -> bool:
    """Whether `sentence` says the trouble is over (not that it will be, or if it is)."""
    found = RESOLVED.search(sentence)
    return found is not None and not NOT_YET.search(
        sentence[max(0, found.start() - 30) : found.start()]
    )


def sentences(subject: str, text: str) -> list[str]:
    """The folded subject and the folded sentences of the text (line breaks end sentences too,
    since caseworkers write lists and short lines without full stops)."""
    lines = _SENTENCE.split((text or "")[:MAX_CHARS])
    return [s for s in (fold(subject or ""), *(fold(line) for line in lines)) if s]


def critical_risk(subject: str, text: str) -> NetHit | None:
    """The first sentence of subject + new text that says a critical process or many people are
    blocked, or that DUBU is down; None when no sentence does."""
    parts = sentences(subject, text)
    if any(_resolved(part) for part in parts):
        return None
    for sentence in parts:
        hit = _check_sentence(sentence)
        if hit is not None:
            return hit
    return None
