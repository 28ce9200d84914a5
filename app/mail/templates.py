"""The Danish mail templates in `mail_templates/`, rendered with Jinja2.

A template's first line is `Emne: <subject>`; everything after the first blank line is the body
(mail_templates/README.md lists each template and the names it uses). Undefined names are an
error, so a caller who forgets a value finds out in a test, not in a caseworker's inbox.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from app.errors import DubuTriageError

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "mail_templates"
SUBJECT_PREFIX = "Emne:"

# Danish names for the labels of TAXONOMY.md, for use in templates as `value | da`.
DANISH = {
    "question": "spørgsmål",
    "fault": "fejl",
    "change_request": "ændringsønske",
    "critical": "kritisk",
    "high": "høj",
    "normal": "normal",
    "sagsbehandling": "sagsbehandling",
    "oekonomi": "økonomi",
    "breve": "breve",
    "adgang": "adgang",
    "opsaetning": "opsætning",
    "ledelsesinformation": "ledelsesinformation",
    "andet": "andet",
    "new": "ny",
    "open": "åben",
    "waiting": "afventer",
    "forwarded": "videresendt",
    "resolved": "løst",
    "closed": "lukket",
}


class TemplateError(DubuTriageError):
    """A mail template is missing, malformed, or was rendered without a value it needs."""


def danish(value: object) -> str:
    """The Danish word for a category, topic, severity or status label (else the value)."""
    text = str(value.value if hasattr(value, "value") else value)
    return DANISH.get(text, text)


@lru_cache(maxsize=4)
def environment(folder: str = str(TEMPLATE_DIR)) -> Environment:
    """The Jinja2 environment for plain-text mail: no HTML escaping, strict about names."""
    env = Environment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=False,  # plain text mail; nothing here is ever served as HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["da"] = danish
    return env


def split_subject(rendered: str, name: str) -> tuple[str, str]:
    """Split a rendered template into its one-line subject and its body."""
    head, _, body = rendered.lstrip("\n").partition("\n")
    if not head.startswith(SUBJECT_PREFIX):
        raise TemplateError(f"mail template {name!r} must start with an '{SUBJECT_PREFIX}' line")
    # A subject is one header line: newlines in a value would let text inject headers.
    subject = " ".join(head[len(SUBJECT_PREFIX) :].split())
    return subject, body.lstrip("\n").rstrip() + "\n"


def render(name: str, **context: Any) -> tuple[str, str]:
    """Render mail_templates/<name>.txt with `context`; return (subject, body)."""
    try:
        template = environment().get_template(f"{name}.txt")
    except TemplateNotFound:
        raise TemplateError(f"no mail template {name!r} in {TEMPLATE_DIR}") from None
    try:
        rendered = template.render(**context)
    except Exception as error:  # noqa: BLE001 - Jinja raises many kinds; all mean the same here
        raise TemplateError(f"mail template {name!r}: {error}") from error
    return split_subject(rendered, name)
