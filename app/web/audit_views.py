"""The audit log, for the system responsible and the system owner."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.services.accounts import audit_page
from app.web.access import current_person, db, login_required, remote_addr
from app.web.forms import int_arg

bp = Blueprint("audit", __name__)

NAV = (("audit.index", "Revisionslog", ("system_responsible", "system_owner")),)


@bp.route("/audit")
@login_required
def index() -> str:
    """Newest events first, filterable by action and actor."""
    action = request.args.get("action", "")[:60]
    actor = request.args.get("actor", "")[:320]
    page = audit_page(db(), current_person(), action=action, actor=actor, page=int_arg("page"),
                      remote_addr=remote_addr())
    return render_template("audit/index.html", page=page, action=action, actor=actor)
