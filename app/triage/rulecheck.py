"""`dubu-triage rules check`: validate the rules and show what each matches in a labelled folder.

For every rule: how many requests (questions, faults, change requests) it fired on, how many of
those carry the rule's label (its precision), and the files where it was wrong, so an
administrator sees at once which rule is too eager. Severity rules are judged on faults only,
since only faults get a severity.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from app.triage.rules import Rule, fire, load_rules
from app.triage.training import CATEGORIES, Example, load_examples


def _labelled(rule: Rule, example: Example) -> str:
    """The example's label for the rule's field."""
    return str(getattr(example, rule.field))


def check_rules(rules_dir: str | Path, folder: Path | None = None,
                labels: Path | None = None) -> list[str]:
    """Lines to print: the rules found per file, and with a folder, each rule's matches."""
    rules = load_rules(rules_dir)
    per_file = Counter(rule.source for rule in rules)
    lines = [f"{len(rules)} rules are valid in {rules_dir}: "
             + ", ".join(f"{name} ({count})" for name, count in sorted(per_file.items()))]
    if folder is None:
        return lines
    examples = load_examples(folder, labels)
    hits: dict[str, list[tuple[Example, str]]] = {rule.name: [] for rule in rules}
    for example in examples:
        for hit in fire(rules, example.subject, example.text):
            if hit.rule.field != "severity" or example.category == "fault":
                hits[hit.rule.name].append((example, hit.matched))
    lines.append(f"Matches in {len(examples)} labelled requests ({', '.join(CATEGORIES)}) of {folder}:")
    for rule in rules:
        matched = hits[rule.name]
        right = [e for e, _ in matched if _labelled(rule, e) == rule.label]
        wrong = [(e, words) for e, words in matched if _labelled(rule, e) != rule.label]
        precision = f"{len(right) / len(matched):.0%}" if matched else "–"
        lines.append(f"  {rule.source}: {rule.name} → {rule.field}={rule.label}: "
                     f"fired on {len(matched)}, right on {len(right)} ({precision})")
        for example, words in wrong[:8]:
            lines.append(f"      wrong on {example.group} ({_labelled(rule, example)}): «{words}»")
        if len(wrong) > 8:
            lines.append(f"      … and {len(wrong) - 8} more")
    return lines
