"""Small helpers that read plain values out of a request's query string or form."""

from __future__ import annotations

from flask import request

from app.errors import InvalidActionError
from app.services.tickets import QUEUE_VIEWS, SORTS, QueueFilter


def int_arg(name: str, default: int = 1) -> int:
    """A positive integer query argument; junk gives the default."""
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and 0 < int(value) < 1_000_000 else default


def queue_filter() -> QueueFilter:
    """The queue's view, filters, search and page from the query string."""
    args = request.args
    view = args.get("view", "open")
    sort = args.get("sort", "newest")
    return QueueFilter(
        view=view if view in QUEUE_VIEWS else "open",
        category=args.get("category", "")[:30],
        topic=args.get("topic", "")[:30],
        severity=args.get("severity", "")[:20],
        status=args.get("status", "")[:20],
        assignee=args.get("assignee", "")[:12],
        q=args.get("q", "")[:200],
        sort=sort if sort in SORTS else "newest",
        page=int_arg("page"),
    )


def form_int(name: str, *, optional: bool = False) -> int | None:
    """An integer form field; empty is None when optional, else an error."""
    value = request.form.get(name, "").strip()
    if not value and optional:
        return None
    if not value.isdigit():
        raise InvalidActionError("Ugyldigt valg.")
    return int(value)


def form_ints(name: str) -> list[int]:
    """Every integer value of a repeated form field (ticked checkboxes)."""
    return [int(v) for v in request.form.getlist(name) if v.isdigit()]
