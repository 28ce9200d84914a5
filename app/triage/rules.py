"""The administrator's rules in `routing_rules/*.toml`: small objects with name, description, check().

A rule gives evidence for one label of one field (category, topic or severity) when its
keywords or regular expressions occur in a mail's subject or new text. Text is folded first
(`app.triage.normalise.fold`), so "hænger" and "haenger" are the same to a rule. Every file is
validated when it is loaded; a mistake is a RulesError naming the file and the rule. The file
format is described in docs/TRIAGE.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain import Category, Severity, Topic
from app.errors import RulesError
from app.triage.normalise import fold

FIELDS: dict[str, frozenset[str]] = {
    "category": frozenset(c.value for c in Category),
    "topic": frozenset(t.value for t in Topic),
    "severity": frozenset(s.value for s in Severity),
}
WHERE = ("any", "subject", "text")
SUBJECT_BOOST = 1.5
MAX_RULE_CHARS = 20000  # what a person writes in one mail; pasted logs beyond it are skipped
MAX_SUBJECT_CHARS = 500  # a subject longer than this is a broken header, not more meaning
_KEYS = {"name", "description", "field", "label", "weight", "where", "keywords", "patterns", "unless"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class MailText:
    """The folded subject and new text of one mail, prepared once for every rule."""

    subject: str
    text: str
    both: str

    @classmethod
    def of(cls, subject: str, text: str) -> MailText:
        """Fold subject and text for matching (a very long text only in part, for speed)."""
        subject = fold((subject or "")[:MAX_SUBJECT_CHARS])
        text = fold((text or "")[:MAX_RULE_CHARS])
        return cls(subject=subject, text=text, both=f"{subject}\n{text}")

    def part(self, where: str) -> str:
        """The part a rule looks at."""
        if where == "subject":
            return self.subject
        if where == "text":
            return self.text
        return self.both


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired, the words that made it fire, and whether they were in the subject."""

    rule: Rule
    matched: str
    in_subject: bool = False

    @property
    def weight(self) -> float:
        """The rule's weight; words in the subject count half again, since writers put the
        point of a mail there."""
        return self.rule.weight * (SUBJECT_BOOST if self.in_subject else 1.0)


@dataclass(frozen=True)
class Rule:
    """Evidence for `label` of `field` when any keyword or pattern occurs, and no `unless` does.

    Keywords match at the start of a word and may go on ("underretning" matches
    "underretningerne"; "*rapport" also matches the end of "ledelsesrapporten"); patterns are
    regular expressions on the folded text.
    """

    name: str
    description: str
    field: str
    label: str
    weight: float
    where: str
    matchers: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...]
    source: str

    def check(self, mail: MailText) -> RuleHit | None:
        """The hit when this rule fires on `mail`, else None."""
        haystack = mail.part(self.where)
        if any(u.search(haystack) for u in self.unless):
            return None
        subject = mail.subject if self.where != "text" else ""
        for matcher in self.matchers:
            found = matcher.search(subject) if subject else None
            if found:
                return RuleHit(rule=self, matched=found.group(0), in_subject=True)
            found = matcher.search(haystack)
            if found:
                return RuleHit(rule=self, matched=found.group(0))
        return None


def _alternation(words: set[str]) -> str:
    """Folded keywords as one alternation, longest first, spaces matching any whitespace."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(piece) for piece in word.split(" ")) for word in ordered)


def _keywords(words: list[str]) -> re.Pattern[str]:
    """Keywords as one pattern: folded, at a word start, spaces matching any whitespace.

    A keyword written with a leading `*` may also end a compound: Danish writes
    "ledelsesrapporten" and "udbetalingslisten" as one word, so `*rapport` matches both
    "rapporten" and "ledelsesrapporten". One alternation per rule rather than one pattern per
    keyword: a mail is searched once. Longer keywords come first, so the words reported are
    the most specific that matched.
    """
    starts = {fold(w) for w in words if not w.startswith("*")}
    tails = {fold(w[1:]) for w in words if w.startswith("*") and w[1:].strip()}
    parts = [f"(?<!\\w)(?:{_alternation(starts)})"] if starts else []
    parts += [f"(?:{_alternation(tails)})"] if tails else []
    return re.compile("|".join(parts))


def _strings(where: str, value: Any, key: str) -> list[str]:
    """A list of non-empty strings, or a RulesError saying which key is wrong."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesError(f"{where}: '{key}' must be a list of non-empty strings")
    return value


def _compile(where: str, data: dict[str, Any], key: str) -> list[re.Pattern[str]]:
    """Keywords or regular expressions of one key, compiled."""
    if key not in data:
        return []
    items = _strings(where, data[key], key)
    if key == "patterns":
        try:
            return [re.compile(p) for p in items]
        except re.error as error:
            raise RulesError(f"{where}: bad regular expression: {error}") from None
    return [_keywords(items)]


def _build_rule(path: Path, index: int, data: Any) -> Rule:
    """One validated rule from one `[[rule]]` table."""
    name = data.get("name") if isinstance(data, dict) else None
    where = f"{path}: rule {name!r}" if name else f"{path}: rule #{index + 1}"
    if not isinstance(data, dict):
        raise RulesError(f"{where}: a rule must be a table")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise RulesError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("name", "description", "field", "label"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise RulesError(f"{where}: missing or empty '{key}'")
    if not _NAME.match(data["name"]):
        raise RulesError(f"{where}: a name is lower-case letters, digits, '-', '_' and '.'")
    field = data["field"]
    if field not in FIELDS:
        raise RulesError(f"{where}: field must be one of {', '.join(FIELDS)}, not {field!r}")
    if data["label"] not in FIELDS[field]:
        raise RulesError(f"{where}: {data['label']!r} is not a {field} label")
    weight = data.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= 10:
        raise RulesError(f"{where}: weight must be a number above 0 and at most 10")
    place = data.get("where", "any")
    if place not in WHERE:
        raise RulesError(f"{where}: where must be one of {', '.join(WHERE)}")
    matchers = _compile(where, data, "keywords") + _compile(where, data, "patterns")
    if not matchers:
        raise RulesError(f"{where}: needs 'keywords' or 'patterns'")
    return Rule(
        name=data["name"], description=data["description"].strip(), field=field,
        label=data["label"], weight=float(weight), where=place, matchers=tuple(matchers),
        unless=tuple(_compile(where, data, "unless")), source=path.name,
    )


def load_rules_file(path: Path) -> list[Rule]:
    """The rules of one TOML file: `[[rule]]` tables, nothing else."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(f"{path}: cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise RulesError(f"{path}: not valid TOML: {error}") from None
    extra = sorted(set(data) - {"rule"})
    if extra:
        raise RulesError(f"{path}: unknown top-level key(s) {', '.join(extra)}; use [[rule]]")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise RulesError(f"{path}: 'rule' must be an array of tables ([[rule]])")
    return [_build_rule(path, i, table) for i, table in enumerate(tables)]


def load_rules(folder: str | Path) -> tuple[Rule, ...]:
    """Every rule in `folder/*.toml`, in file order; names must be unique across files."""
    directory = Path(folder)
    if not directory.is_dir():
        raise RulesError(f"{directory}: the rules folder does not exist")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        for rule in load_rules_file(path):
            if rule.name in seen:
                raise RulesError(
                    f"{path}: rule {rule.name!r}: the name is already used in {seen[rule.name]}"
                )
            seen[rule.name] = path.name
            rules.append(rule)
    return tuple(rules)


def resolve_rules_dir(folder: str | Path, config_source: str = "") -> Path:
    """Where a configured rules folder is: an absolute path as it is; a relative one is looked
    for in the working directory, then beside the configuration file, then in the project
    (next to the `app` package), so the service finds its rules wherever it is started."""
    path = Path(folder).expanduser()
    if path.is_absolute():
        return path
    candidates = [Path.cwd() / path]
    if config_source and Path(config_source).is_file():
        candidates.append(Path(config_source).resolve().parent / path)
    candidates.append(Path(__file__).resolve().parents[2] / path)
    return next((c for c in candidates if c.is_dir()), candidates[0])


def fire(rules: tuple[Rule, ...], subject: str, text: str) -> list[RuleHit]:
    """The hits of every rule on one mail."""
    mail = MailText.of(subject, text)
    return [hit for rule in rules if (hit := rule.check(mail)) is not None]
