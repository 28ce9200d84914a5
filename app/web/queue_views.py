"""The queue: tickets by view with filters and search; suppressed noise and quarantine."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.services import ticket_actions, tickets
from app.services.accounts import rights_of
from app.web.access import current_person, db, login_required, remote_addr
from app.web.extensions import get_runtime
from app.web.forms import int_arg, queue_filter
from app.web.labels import CATEGORY_NAMES, SEVERITY_NAMES, STATUS_NAMES, TOPIC_NAMES

bp = Blueprint("queue", __name__)

NAV = (
    ("queue.index", "Køen", ()),
    ("queue.noise", "Frasorteret", ()),
    ("queue.quarantine", "Karantæne", ()),
    ("queue.outbox", "Udbakke", ()),
)

VIEW_NAMES = {
    "mine": "Mine sager",
    "areas": "Mine områder",
    "open": "Alle åbne",
    "triage": "Manuel visitering",
    "all": "Alle sager",
}


@bp.route("/")
@login_required
def index() -> str:
    """The ticket queue."""
    f = queue_filter()
    page = tickets.list_queue(db(), current_person(), f)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "queue/index.html", page=page, f=f, args=args, views=VIEW_NAMES,
        people=tickets.people(db()), categories=CATEGORY_NAMES, topics=TOPIC_NAMES,
        severities=SEVERITY_NAMES, statuses=STATUS_NAMES, failed=tickets.failed_mail_count(db()),
    )


def _messages(kind: str, title: str) -> str:
    """A list of stored mail of one kind."""
    q = request.args.get("q", "")[:200]
    page = tickets.list_messages(db(), kind, q, int_arg("page"))
    return render_template("queue/messages.html", page=page, q=q, title=title, kind=kind,
                           endpoint=request.endpoint)


@bp.route("/noise")
@login_required
def noise() -> str:
    """Suppressed automatic mail (out-of-office, bounces, newsletters, …)."""
    return _messages("noise", "Frasorteret mail")


@bp.route("/quarantine")
@login_required
def quarantine() -> str:
    """Mail that could not be handled, kept raw."""
    return _messages("quarantined", "Karantæne")


@bp.route("/outbox")
@login_required
def outbox() -> str:
    """Outgoing mail not sent yet, and mail given up on after every retry."""
    page = tickets.list_outbox(db(), int_arg("page"))
    return render_template("queue/outbox.html", page=page)


@bp.route("/messages/<int:message_id>")
@login_required
def message(message_id: int) -> str:
    """One stored mail (noise or quarantine) shown as text."""
    inbound = tickets.get_message(db(), message_id)
    return render_template("queue/message.html", m=inbound, rights=rights_of(current_person()))


@bp.route("/messages/<int:message_id>/restore", methods=["POST"])
@login_required
def restore(message_id: int) -> Response:
    """Make a suppressed or quarantined mail a ticket."""
    runtime = get_runtime()
    ticket = ticket_actions.restore(db(), runtime, current_person(), message_id,
                                    now=runtime.now(), remote_addr=remote_addr())
    return redirect(url_for("tickets.show", ticket_id=ticket.id), code=303)
