"""Forwarding a ticket to Netcompany or KOMBIT: form and preview, then send.

The view only parses the form; the right, the masking and the record are the service's.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.services import forwarding, tickets
from app.web.access import current_person, db, login_required, remote_addr
from app.web.extensions import get_runtime
from app.web.forms import form_ints

bp = Blueprint("forwarding", __name__, url_prefix="/tickets")

TARGET_NAMES = {"netcompany": "Netcompany Servicedesk", "kombit": "KOMBIT"}


def _render(ticket_id: int, target: str, reason: str, chosen: list[int], confirmed: bool) -> str:
    """The form with the preview of exactly what will be sent."""
    draft = forwarding.draft_forward(
        db(), get_runtime().settings, current_person(), ticket_id, target,
        reason=reason, attachment_ids=chosen, remote_addr=remote_addr(),
    )
    return render_template(
        "forwarding/preview.html", t=tickets.get_ticket(db(), ticket_id), draft=draft,
        target=target, target_name=TARGET_NAMES[target], confirmed=confirmed,
        prefix=get_runtime().settings.instance.ticket_prefix,
    )


@bp.route("/<int:ticket_id>/forward/<any(netcompany, kombit):target>")
@login_required
def form(ticket_id: int, target: str) -> str:
    """Start: no reason yet, no attachments chosen."""
    return _render(ticket_id, target, "", [], confirmed=False)


@bp.route("/<int:ticket_id>/forward/<any(netcompany, kombit):target>/preview", methods=["POST"])
@login_required
def preview(ticket_id: int, target: str) -> str:
    """Show exactly what will be sent with the reason and attachments chosen."""
    reason = request.form.get("reason", "")
    if not reason.strip():
        flash("Skriv en begrundelse for videresendelsen.", "error")
    return _render(ticket_id, target, reason, form_ints("attachment"), confirmed=bool(reason.strip()))


@bp.route("/<int:ticket_id>/forward/<any(netcompany, kombit):target>", methods=["POST"])
@login_required
def send(ticket_id: int, target: str) -> Response:
    """Send: the service checks the right again, masks, records and queues the mail."""
    runtime = get_runtime()
    record = forwarding.send_forward(
        db(), runtime.settings, current_person(), ticket_id, target,
        reason=request.form.get("reason", ""), attachment_ids=form_ints("attachment"),
        now=runtime.now(), remote_addr=remote_addr(),
    )
    flash(f"Sendt til {TARGET_NAMES[target]} ({record.to_addr}).", "info")
    return redirect(url_for("tickets.show", ticket_id=ticket_id), code=303)
