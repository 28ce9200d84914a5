"""A ticket: its history, classification, attachments, and the superusers' actions on it."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from app.errors import NotFoundError
from app.models import Blob
from app.services import ticket_actions, tickets
from app.services.accounts import Right, may, rights_of
from app.web.access import current_person, db, login_required, remote_addr
from app.web.extensions import get_runtime
from app.web.forms import form_int
from app.web.labels import CATEGORY_NAMES, SEVERITY_NAMES, STATUS_NAMES, TOPIC_NAMES
from app.web.rendering import clean_html, download_name, download_type

bp = Blueprint("tickets", __name__, url_prefix="/tickets")


@bp.route("/<int:ticket_id>")
@login_required
def show(ticket_id: int) -> str:
    """Every message in order, the classification and the actions allowed."""
    page = tickets.ticket_page(db(), ticket_id)
    return render_template(
        "tickets/show.html", t=page.ticket, entries=page.entries, forwards=page.forwards,
        rights=rights_of(current_person()), people=[p for p in page.people if may(p, Right.WORK)],
        categories=CATEGORY_NAMES, topics=TOPIC_NAMES,
        severities=SEVERITY_NAMES, statuses=STATUS_NAMES, clean_html=clean_html,
        prefix=get_runtime().settings.instance.ticket_prefix,
    )


@bp.route("/<int:ticket_id>/attachments/<int:attachment_id>")
@login_required
def attachment(ticket_id: int, attachment_id: int) -> Response:
    """An attachment, always as a download with a safe content type."""
    record = tickets.get_attachment(db(), attachment_id)
    if record.message.ticket_id != ticket_id:
        raise NotFoundError("Bilaget findes ikke på denne sag.")
    blob = db().get(Blob, record.sha256)
    response = send_file(
        BytesIO(blob.data if blob else b""), mimetype=download_type(record.content_type),
        as_attachment=True, download_name=download_name(record.filename), max_age=0,
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "no-store"
    return response


def _back(ticket_id: int, message: str) -> Response:
    """Back to the ticket page with a confirmation."""
    flash(message, "info")
    return redirect(url_for("tickets.show", ticket_id=ticket_id), code=303)


def _ctx() -> dict[str, Any]:
    """The acting person, the clock and the client address, for a service call."""
    return {"now": get_runtime().now(), "remote_addr": remote_addr()}


@bp.route("/<int:ticket_id>/assign", methods=["POST"])
@login_required
def assign(ticket_id: int) -> Response:
    """Give the ticket to someone (or back to manual triage)."""
    ticket_actions.assign(db(), current_person(), ticket_id, form_int("assignee", optional=True), **_ctx())
    return _back(ticket_id, "Sagen er tildelt.")


@bp.route("/<int:ticket_id>/reclassify", methods=["POST"])
@login_required
def reclassify(ticket_id: int) -> Response:
    """Correct category, topic and severity (the model learns from it)."""
    form = request.form
    ticket_actions.reclassify(db(), current_person(), ticket_id, category=form.get("category", ""),
                              topic=form.get("topic", ""), severity=form.get("severity", ""), **_ctx())
    return _back(ticket_id, "Klassifikationen er rettet.")


@bp.route("/<int:ticket_id>/notes", methods=["POST"])
@login_required
def note(ticket_id: int) -> Response:
    """Add an internal note."""
    ticket_actions.add_note(db(), current_person(), ticket_id, request.form.get("body", ""), **_ctx())
    return _back(ticket_id, "Noten er gemt.")


@bp.route("/<int:ticket_id>/reply", methods=["POST"])
@login_required
def reply(ticket_id: int) -> Response:
    """Answer the caseworker by mail."""
    ticket_actions.reply(db(), get_runtime().settings, current_person(), ticket_id,
                         request.form.get("body", ""), **_ctx())
    return _back(ticket_id, "Svaret er lagt i udbakken og sendes om lidt.")


@bp.route("/<int:ticket_id>/status", methods=["POST"])
@login_required
def status(ticket_id: int) -> Response:
    """Set the ticket's status."""
    ticket_actions.set_status(db(), current_person(), ticket_id, request.form.get("status", ""), **_ctx())
    return _back(ticket_id, "Status er ændret.")


@bp.route("/<int:ticket_id>/reopen", methods=["POST"])
@login_required
def reopen(ticket_id: int) -> Response:
    """Open a resolved or closed ticket again."""
    ticket_actions.reopen(db(), current_person(), ticket_id, **_ctx())
    return _back(ticket_id, "Sagen er genåbnet.")
