"""The Danish mail templates in `mail_templates/`, rendered with Jinja2.

A template's first line is `Emne: <subject>`; everything after the first blank line is the body
(mail_templates/README.md lists each template and the names it uses). Undefined names are an
error, so a caller who forgets a value finds out in a test, not in a caseworker's inbox.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
)

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


def _one_line(value: Any) -> Any:
    """Fold a value printed into a subject onto one line: a subject is one header line."""
    return " ".join(value.split()) if isinstance(value, str) else value


@lru_cache(maxsize=2)
def environment(subject: bool = False) -> Environment:
    """The Jinja2 environment for plain-text mail: no HTML escaping, strict about names.

    The subject's environment folds every value onto one line, so a caseworker's subject with
    a line break in it can neither cut the subject short nor inject a header.
    """
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=StrictUndefined,
        autoescape=False,  # plain text mail; nothing here is ever served as HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_one_line if subject else None,
    )
    env.filters["da"] = danish
    return env


@lru_cache(maxsize=32)
def _compile(name: str) -> tuple[Template, Template]:
    """The subject line and the body of mail_templates/<name>.txt, compiled separately."""
    env = environment()
    assert env.loader is not None
    try:
        source, _, _ = env.loader.get_source(env, f"{name}.txt")
    except TemplateNotFound:
        raise TemplateError(f"no mail template {name!r} in {TEMPLATE_DIR}") from None
    head, _, body = source.lstrip("\n").partition("\n")
    if not head.startswith(SUBJECT_PREFIX):
        raise TemplateError(f"mail template {name!r} must start with an '{SUBJECT_PREFIX}' line")
    try:
        return (
            environment(subject=True).from_string(head[len(SUBJECT_PREFIX) :]),
            env.from_string(body),
        )
    except TemplateSyntaxError as error:
        raise TemplateError(f"mail template {name!r}: {error}") from error


def render(name: str, **context: Any) -> tuple[str, str]:
    """Render mail_templates/<name>.txt with `context`; return (subject, body)."""
    subject_template, body_template = _compile(name)
    try:
        subject = subject_template.render(**context)
        body = body_template.render(**context)
    except Exception as error:  # Jinja raises many kinds; all mean the same here
        raise TemplateError(f"mail template {name!r}: {error}") from error
    return " ".join(subject.split()), body.lstrip("\n").rstrip() + "\n"
