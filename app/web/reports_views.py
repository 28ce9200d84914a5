"""Pages of the reports area: the weekly report with charts, its CSV, the roster, absence."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.domain import Role
from app.errors import InvalidActionError
from app.models import Ticket
from app.reports.charts import report_charts
from app.reports.collect import DONE, build_weekly_report
from app.reports.render import ReportFormat, render_csv
from app.reports.roster import COLUMNS, roster, roster_csv, roster_xlsx
from app.reports.weekly import Week, parse_week, previous_week, week_of_day
from app.services import people
from app.web.access import current_person, db, login_required, role_required
from app.web.extensions import get_runtime

bp = Blueprint("reports", __name__)

REPORT_ROLES = (Role.SYSTEM_RESPONSIBLE, Role.SYSTEM_OWNER)
NAV = (
    ("reports.weekly", "Ugerapport", REPORT_ROLES),
    ("reports.roster", "Rolleoversigt", REPORT_ROLES),
    ("reports.away", "Fravær", ()),
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _chosen_week() -> Week:
    """The week in ?week=2024-W16, or the last complete one."""
    runtime = get_runtime()
    tz = runtime.settings.instance.timezone
    label = request.args.get("week", "").strip()
    return parse_week(label, tz) if label else previous_week(runtime.now(), tz)


def _download(data: str | bytes, filename: str, mimetype: str) -> Response:
    """A file download."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/reports/weekly")
@role_required(*REPORT_ROLES)
def weekly() -> str:
    """The weekly escalation report with its charts."""
    runtime = get_runtime()
    week = _chosen_week()
    report = build_weekly_report(db(), runtime.settings, week)
    tz = runtime.settings.instance.timezone
    following = week_of_day(week.first_day + timedelta(days=7), tz)
    return render_template(
        "reports/weekly.html", report=report, fmt=ReportFormat(runtime.settings),
        charts=report_charts(report, runtime.settings),
        previous_label=week_of_day(week.first_day - timedelta(days=7), tz).label,
        next_label=following.label if following.start <= runtime.now() else None,
    )


@bp.get("/reports/weekly.csv")
@role_required(*REPORT_ROLES)
def weekly_csv() -> Response:
    """The weekly report as CSV."""
    settings = get_runtime().settings
    week = _chosen_week()
    report = build_weekly_report(db(), settings, week)
    return _download(render_csv(report, settings), f"ugerapport-{week.label}.csv",
                     "text/csv; charset=utf-8")


@bp.get("/reports/roster", endpoint="roster")
@role_required(*REPORT_ROLES)
def roster_page() -> str:
    """The role roster for KOMBIT."""
    return render_template("reports/roster.html", entries=roster(db()), columns=COLUMNS)


@bp.get("/reports/roster.csv", endpoint="roster_csv")
@role_required(*REPORT_ROLES)
def roster_csv_download() -> Response:
    """The roster as CSV."""
    return _download(roster_csv(roster(db())), "rolleoversigt.csv", "text/csv; charset=utf-8")


@bp.get("/reports/roster.xlsx", endpoint="roster_xlsx")
@role_required(*REPORT_ROLES)
def roster_xlsx_download() -> Response:
    """The roster as an Excel workbook."""
    return _download(roster_xlsx(roster(db())), "rolleoversigt.xlsx", XLSX)


@bp.route("/away", methods=["GET", "POST"])
@login_required
def away() -> WerkzeugResponse | str:
    """'Jeg er væk til …': mark oneself away (handing open tickets on), or back."""
    runtime = get_runtime()
    person = current_person()
    today = runtime.settings.local_date(runtime.now())
    if request.method == "POST":
        if request.form.get("action") == "back":
            people.mark_back(db(), person, actor=person)
            flash("Du er markeret som tilbage og får nye sager igen.", "info")
        else:
            until = _form_date(request.form.get("until", ""))
            people.mark_away(db(), person, until, today=today, actor=person)
            handed = []
            if request.form.get("hand_on"):
                handed = people.hand_on(db(), runtime.settings, person, today=today, actor=person)
            flash(f"Du er markeret som væk til og med {until:%d.%m.%Y}; "
                  f"{len(handed)} åbne sager er givet videre.", "info")
        return redirect(url_for("reports.away"), code=303)
    open_count = db().scalar(select(func.count(Ticket.id)).where(
        Ticket.assignee_id == person.id, Ticket.status.not_in(DONE)))
    away_until = person.away_until if person.away_until and person.away_until >= today else None
    return render_template("reports/away.html", away_until=away_until, today=today,
                           open_count=open_count or 0)


def _form_date(value: str) -> date:
    """A date from the form (YYYY-MM-DD); a clear error otherwise."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidActionError("Angiv en dato, fx 2024-05-03.") from None
