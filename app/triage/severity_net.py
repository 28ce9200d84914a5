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
    "plejemo",  # plejemor, plejemødrene (folded: plejemoedrene)
    "plejefa",  # plejefar, plejefædrene
    "foster",
    "carer",
    "residential",
    "care home",
)
MONEY = re.compile(r"penge|betal|vederlag|koers|plejeloen|payment|payroll|money|\bpaid\b|\bpay\b")
# Payments count as a process, not one payment: plural, the run, the file, the fee
# ("betalingerne", "udbetalingskørslen", "betalingsfilen", "plejevederlaget"). One rejected payment
# or a supplier's missing account is one case. An emergency placement is as pressing.
PAYMENTS = re.compile(
    r"^(\w*(ud)?betaling(er|erne|s?koers\w*|sfil\w*|sliste\w*)|udbetalt|\w*vederlag\w*|"
    r"plejeloen\w*|akut\w*anbring\w*|payments|payroll)$"
)
_PEOPLE = r"(os|sammen|brugere|kolleg\w*|medarbejdere|sagsbehandlere|raadgivere|i \w+)"
_PLACES = (
    r"(afdeling\w*|team\w*|huset|forvaltning\w*|kommunen|myndighed\w*|gruppe\w*|kontor\w*|enhed\w*"
    r"|\d+\.? sal|sal(en)?|etage\w*)"
)
MANY = re.compile(
    rf"\b(alle {_PEOPLE}|allesammen|samtlige|ingen (af (os|de andre|mine|vores) ?\w*|i \w+|kan|kunne"
    rf"|kolleg\w*|brugere)|nogen af os|hele {_PLACES}|flere (kolleg\w*|brugere|medarbejdere|"
    rf"sagsbehandlere|teams?|afdelinger)|(kan|kunne) ingen|ikke kun (mig|hos mig|for mig)|"
    rf"flere af os|vi er flere|akut\w* anbring\w*|everyone|nobody|no one|none of us|"
    rf"the whole (team|floor|department|office)|all of us|"
    # a count of people: "vi er 23", "23 i Familieafdelingen", "12 people are stuck"
    rf"vi er \d+|\d{{2,}} (i|af|paa|brugere|medarbejdere|kolleg\w*|sagsbehandlere|people|users|"
    rf"staff|colleagues|of us))\b"
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
    r"|cannot|can.t|not working|failed|failing|fails"
    # consequences: the work is gone, people wait, the money never came
    r"|(er|blev|var) (\w+ )?vaek|forsvandt|lukker ned|vil ikke gemme|gemmer ikke"
    r"|sidder fast|(staar|sidder) (bare )?og (venter|loader)|koerer rundt"
    r"|not (been )?paid|unpaid|(just |all )?gone|missing|lost|stuck|disappeared|vanished"
    r"|won.t (save|load|open)|doesn.t (save|load|open)"
    r"|(did|does|has|have|was|were)( not|n.t) (\w+ )?(receive\w*|arrive\w*|go out|come through|"
    r"work\w*|load\w*|open\w*|save\w*|been (paid|sent|received)))\b"
)
SYSTEM = re.compile(
    r"\b(dubu|systemet|serveren|portalen|det hele|digital post|serviceplatformen|nemlog-?in)\b"
)
DOWN = re.compile(
    r"\b(nede|utilgaengelig\w*|ude af drift|gaaet ned|ligger ned|service unavailable|"
    r"(kan|kunne) (stadig |slet )?ikke (naas|tilgaas|aabnes|indlaeses)|timeout|timed? out|"
    r"is down|503|(er|bliver|blev) (bare |helt |kun )?(hvid|blank|sort)|hvid\w* skaerm\w*|"
    r"blank\w* (skaerm|side)\w*|white screen|blank (screen|page)|"
    r"(staar|sidder) (bare )?og loader|loader (bare )?(og loader|hele tiden|i det uendelige))\b"
)
# Consequences that are critical in themselves, told by what happens to people rather than by
# what DUBU does: the money never came, a carer cannot pay the rent, carers are phoning, an
# institution threatens to end the placements. A threat is put as a condition ("hvis ikke
# pengene er der"), so these count in a "hvis" sentence too.
CONSEQUENCE = re.compile(
    r"\b(((kan|kunne)( \w+)? ikke|can.t|cannot|unable to) (betale|pay) (\w+ )?"
    r"(husleje\w*|regning\w*|rent|bills)"
    r"|(ingen|intet|no) (\w+ ){0,2}(penge|pengene|udbetalinger|betalinger|vederlag|money|payments?)"
    r"|ikke (\w+ )?(faaet|modtaget|received|had) (\w+ )?"
    r"(penge|pengene|betaling\w*|vederlag\w*|payment\w*)"
    r"|(ingen|intet|ikke)( \w+){0,8} (ind )?paa (\w+ )?kontoen"
    r"|opsige (\w+ )?(aftale\w*|anbringels\w*|kontrakt\w*)"
    r"|(stoppe|afslutte|ophaeve) (\w+ )?anbringels\w*"
    r"|(end|terminate|cancel) (the |our |their |all )?(placements?|agreements?|contracts?)"
    r"|(plejefamili\w*|plejeforaeldre\w*|plejemo\w*|carers|foster \w+|opholdssted\w*)( \w+){0,3} "
    r"(ringer|har ringet|i telefonen|phoning|calling|ringing))\b"
)
# A sentence about how a list or a field looks (sorting, order, dates, labels, colours) is no
# critical failure, though it names notifications and says "kan ikke": only lost work counts.
COSMETIC = re.compile(
    # Danish stems also inside compounds ("modtagedatoen", "kolonneoverskriften"); "visning"
    # only as a word, since "henvisning" (a referral) is casework
    r"(sorter|raekkefoelge|dato|stavefejl|label|etiket|farve|kolonne|overskrift|skrifttype)\w*"
    r"|\b(visning\w*|vises forkert|vist forkert|ikon\w*|layout|sort(ed|ing)|order|typo|"
    r"colou?rs?|columns?|dates?)\b"
)
LOST = re.compile(
    r"\b(forsvund\w*|forsvandt|forsvinder|(er|blev|var) (\w+ )?vaek|gone|lost|missing|"
    r"disappeared|vanished)\b"
)
# "it's just gone" after a sentence about a notification: the pronoun carries the stake over.
PRONOUN = re.compile(r"\b(it|den|det|de|dem|they|them)\b")
HOW_TO = re.compile(r"\b(hvordan|i tilfaelde af)\b")
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
# A full stop after a number is an ordinal ("hele 2. sal"), not the end of a sentence.
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\b\d\.)(?<!\b\d\d\.)\s+|\s*[\r\n]+\s*")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class NetHit:
    """Why the net fired: the word of what is at stake and the failure words beside it."""

    stake: str
    failure: str

    @property
    def consequence(self) -> bool:
        """Whether the hit tells what already happened to people or work (the money did not
        come, the notification is gone): a report of a fault, however politely it asks."""
        return self.stake == "consequence" or LOST.fullmatch(self.failure) is not None

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
    consequence = CONSEQUENCE.search(sentence)
    if consequence and not HOW_TO.search(sentence):
        return NetHit(stake="consequence", failure=consequence.group(0))
    if NOT_A_FAILURE.search(sentence):
        return None
    down = DOWN.search(sentence)
    system = SYSTEM.search(sentence)
    if down and system:
        return NetHit(stake=system.group(0), failure=down.group(0))
    failures = _failures(sentence)
    if not failures:
        return None
    for at, stake in _stakes(sentence):
        for where, failure in failures:
            if abs(where - at) <= WINDOW:
                return NetHit(stake=stake, failure=failure)
    return None


def _failures(sentence: str) -> list[tuple[int, str]]:
    """Word positions and words of failure in `sentence`; in a sentence about looks (sorting,
    dates, labels) only lost work counts."""
    pattern = LOST if COSMETIC.search(sentence) else FAILS
    return [(_word_index(sentence, m.start()), m.group(0)) for m in pattern.finditer(sentence)]


def _carried_over(previous: str, sentence: str) -> NetHit | None:
    """Work lost in `sentence` that a pronoun ties to a notification or payments named in the
    sentence before ("… a notification of concern. I clicked finish and it's just gone")."""
    lost = LOST.search(sentence)
    if lost is None or not PRONOUN.search(sentence) or NOT_A_FAILURE.search(sentence):
        return None
    stakes = [word for _, word in _stakes(previous) if not MANY.fullmatch(word)]
    return NetHit(stake=stakes[0], failure=lost.group(0)) if stakes else None


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
    for at, sentence in enumerate(parts):
        hit = _check_sentence(sentence) or (at > 1 and _carried_over(parts[at - 1], sentence))
        if hit:
            return hit
    return None
