"""CLI commands of the triage area: evaluate, retrain, rules check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from app.cli import get_settings

_FIGURES = (
    ("category_macro_f1", "category macro-F1 (abstained counted wrong)"),
    ("category_macro_f1_decided", "category macro-F1 (decided tickets only)"),
    ("topic_accuracy", "topic accuracy"),
    ("severity_accuracy", "severity accuracy (faults)"),
    ("critical_recall", "critical recall"),
    ("abstained", "abstained (share of requests)"),
    ("wrong_confident", "wrong and confident (share of requests)"),
)


def _print_report(result: dict[str, Any], worst: int) -> None:
    """The human-readable evaluation: figures, per class, confusion matrix, mistakes."""
    details = result["details"]
    click.echo(f"Evaluated {result['total']} mails ({details['note']}); kinds: {details['kinds']}")
    click.echo(f"  category macro-F1 (abstained counted wrong): {result['category_macro_f1']:.3f}")
    click.echo(f"  category macro-F1 (decided tickets only):    {details['category_macro_f1_decided']:.3f}")
    for label, figures in details["per_class"].items():
        click.echo(f"    {label:15} precision {figures['precision']:.3f}  recall {figures['recall']:.3f}"
                   f"  ({figures['support']})")
    for key in ("topic_accuracy", "severity_accuracy", "critical_recall", "noise_caught",
                "followups_linked"):
        click.echo(f"  {key.replace('_', ' '):44} {result[key]:.3f}")
    for key in ("human_as_noise", "abstained", "wrong_confident"):
        click.echo(f"  {key.replace('_', ' '):44} {result[key]} of {details['requests']} requests"
                   if key != "human_as_noise" else f"  {'human mail taken for noise':44} {result[key]}")
    confusion = details["confusion"]
    if confusion:
        labels = confusion["labels"]
        click.echo("  confusion (rows: labelled, columns: decided):")
        click.echo("    " + " " * 15 + "".join(f"{label[:10]:>11}" for label in labels))
        for label, row in zip(labels[:-1], confusion["rows"]):
            click.echo(f"    {label:15}" + "".join(f"{n:>11}" for n in row))
    mistakes = details["mistakes"]
    click.echo(f"  mistakes ({len(mistakes)}), worst first:")
    for m in mistakes[:worst]:
        flag = " (abstained)" if m["abstained"] else ""
        click.echo(f"    {m['file']}: expected {m['expected']}, got {m['got']} [{m['kind']}] "
                   f"conf {m['confidence']:.2f}{flag}  {m['subject'][:60]!r}")


@click.command("evaluate")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The labels file (default: FOLDER/labels.csv).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of the figures.")
@click.option("--cv", "k", type=click.IntRange(min=2), default=None,
              help="K-fold cross-validation; a thread stays in one fold.")
@click.option("--worst", type=int, default=25, show_default=True, help="Mistakes to list.")
@click.pass_context
def evaluate_command(ctx: click.Context, folder: Path, labels: Path | None, as_json: bool,
                     k: int | None, worst: int) -> None:
    """Run the whole pipeline over a labelled FOLDER in a throwaway database and print figures."""
    from app.triage.evaluation import evaluate
    from app.triage.metrics import JSON_KEYS

    result = evaluate(get_settings(ctx), folder, labels, k)
    if as_json:
        click.echo(json.dumps({key: result[key] for key in JSON_KEYS}))
    else:
        _print_report(result, worst)


def _figure_lines(new: dict[str, float], old: dict[str, float] | None) -> list[str]:
    """The new figures beside the old model's, one line each."""
    lines = [f"  {'':44} {'new':>7} {'old':>7}"]
    for key, label in _FIGURES:
        old_value = f"{old[key]:7.3f}" if old and key in old else "      –"
        lines.append(f"  {label:44} {new.get(key, 0.0):7.3f} {old_value}")
    return lines


@click.command("retrain")
@click.option("--folds", "k", type=click.IntRange(min=2), default=5, show_default=True)
@click.pass_context
def retrain_command(ctx: click.Context, k: int) -> None:
    """Train a model from the shipped examples and corrections; keep the old one if it is better."""
    from app.db import make_engine, make_sessionmaker
    from app.triage.training import train_and_save

    settings = get_settings(ctx)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            report = train_and_save(settings, session=session, k=k)
    finally:
        engine.dispose()
    click.echo(f"Trained on {report.examples} examples ({report.corrections} corrections), "
               f"{k}-fold cross-validated:")
    for line in _figure_lines(report.new_figures, report.old_figures):
        click.echo(line)
    for note in report.notes:
        click.echo(f"  note: {note}")
    if report.kept_old:
        click.echo(f"The new model is worse: kept the old one at {report.path}")
    else:
        click.echo(f"Saved the new model to {report.path}")


@click.group("rules")
def rules_group() -> None:
    """The classification rules in routing_rules/."""


@rules_group.command("check")
@click.argument("folder", required=False,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def rules_check_command(ctx: click.Context, folder: Path | None, labels: Path | None) -> None:
    """Validate the rules; with a labelled FOLDER, print what each rule matched there."""
    from app.triage.rulecheck import check_rules
    from app.triage.rules import resolve_rules_dir

    settings = get_settings(ctx)
    rules_dir = resolve_rules_dir(settings.triage.rules_dir, settings.source)
    for line in check_rules(rules_dir, folder, labels):
        click.echo(line)


COMMANDS: tuple[click.Command, ...] = (evaluate_command, retrain_command, rules_group)
