"""The weekly report as Danish text, CSV and HTML (the same figures in each)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.domain import ticket_ref
from app.reports.labels import CATEGORY, NOISE, SEVERITY, TOPIC, danish
from app.reports.spreadsheet import write_csv
from app.reports.weekly import DurationStats, WeeklyReport
from app.settings import Settings

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
FIELD_NAMES = {"category": "kategori", "topic": "område", "severity": "alvor"}


class ReportFormat:
    """Formatting helpers the text renderer and the HTML templates share."""

    def __init__(self, settings: Settings) -> None:
        """Bind to the municipality's timezone and ticket prefix."""
        self.zone = ZoneInfo(settings.instance.timezone)
        self.prefix = settings.instance.ticket_prefix
        self.category = lambda value: danish(CATEGORY, value)
        self.topic = lambda value: danish(TOPIC, value)
        self.severity = lambda value: danish(SEVERITY, value)
        self.noise = lambda value: danish(NOISE, value) if value else "uden art"
        self.field = lambda value: FIELD_NAMES.get(value, value)

    def hours(self, value: float | None) -> str:
        """Hours with a Danish decimal comma; a dash when there is nothing to measure."""
        return "–" if value is None else f"{value:.1f}".replace(".", ",")

    def day(self, moment: datetime) -> str:
        """A date on the municipality's clock, Danish style."""
        return moment.astimezone(self.zone).strftime("%d.%m.%Y")

    def ref(self, ticket_id: int | None) -> str:
        """The ticket's name (DUBU-123), or a dash for a ticket retention has removed."""
        return "–" if ticket_id is None else ticket_ref(self.prefix, ticket_id)

    def period(self, report: WeeklyReport) -> str:
        """The week in words: 'uge 16 2024 (15.04.2024–21.04.2024)'."""
        week = report.week
        year, number = week.label.split("-W")
        return f"uge {int(number)} {year} ({week.first_day:%d.%m.%Y}–{week.last_day:%d.%m.%Y})"

    def title(self, report: WeeklyReport) -> str:
        """The report's heading."""
        return f"Ugerapport for DUBU-support, {self.period(report)}"

    def stats(self, stats: DurationStats) -> str:
        """One line of response-time figures."""
        if not stats.count:
            return "ingen sager"
        return (
            f"{stats.count} sager, median {self.hours(stats.median_hours)} timer, "
            f"90 %-fraktil {self.hours(stats.p90_hours)} timer"
        )

    def counts(self, counts: dict[str, int], name: object) -> str:
        """Label counts on one line: 'fejl 4, spørgsmål 5'."""
        return ", ".join(f"{name(k)} {v}" for k, v in counts.items())  # type: ignore[operator]


def _lines_forwards(report: WeeklyReport, fmt: ReportFormat) -> list[str]:
    """The Netcompany section of the text report."""
    lines = [(f"Fejl hos Netcompanys servicedesk: {len(report.forwards)}, "
             f"heraf {len(report.waiting_forwards)} uden svar endnu")]
    for f in report.forwards:
        waiting = "  AFVENTER SVAR" if f.waiting else ""
        lines.append(
            f"  {fmt.ref(f.ticket_id)}  {f.nc_case or 'intet NC-nr.'}  videresendt "
            f"{fmt.day(f.forwarded_at)}  {f.age_days} dage  {f.status}{waiting}  {f.subject}"
        )
    return lines


def render_text(report: WeeklyReport, settings: Settings, *, title: bool = True) -> str:
    """The report as plain Danish text (the CLI's default; the mail's body without the title)."""
    fmt = ReportFormat(settings)
    lines = [
        *([fmt.title(report), ""] if title else []),
        f"Nye sager: {report.created}",
        f"  Efter kategori: {fmt.counts(report.by_category, fmt.category)}",
        f"  Efter område: {fmt.counts(report.by_topic, fmt.topic)}",
        f"  Fejl efter alvor: {fmt.counts(report.fault_severity, fmt.severity)}",
        f"  Til manuel triage (usikker klassifikation): {report.abstained}",
        f"  Rettet af en superbruger: {report.corrected_created} af {report.created}",
        (f"  Rettelser i ugen: {report.corrections} "
        f"({fmt.counts(report.corrections_by_field, fmt.field)})"), "",
        "Svartider",
        f"  Første svar: {fmt.stats(report.first_response)}",
        f"  Løsning: {fmt.stats(report.resolution)}", "",
        *_lines_forwards(report, fmt), "",
        f"Ændringsønsker sendt til KOMBIT: {len(report.kombit)}",
        *[f"  {fmt.ref(k.ticket_id)}  {fmt.day(k.sent_at)}  {k.by}  {k.subject}"
          for k in report.kombit], "",
        f"Åbne sager ved ugens slutning: {report.backlog_total}",
        *[f"  {name}: {count}" for name, count in report.backlog.items()], "",
        f"Frasorteret mail (støj): {report.noise_total}"
        + (f" ({fmt.counts(report.noise, fmt.noise)})" if report.noise else ""),
        f"Mail i karantæne: {report.quarantined}",
    ]
    return "\n".join(lines) + "\n"


def csv_rows(report: WeeklyReport, settings: Settings) -> list[tuple[str, str, str, str]]:
    """The report as (section, item, value, note) rows; numbers with a decimal point."""
    fmt = ReportFormat(settings)
    rows: list[tuple[str, str, str, str]] = [("uge", report.week.label, "", "")]
    rows.append(("nye_sager", "i alt", str(report.created), ""))
    for section, counts in (("kategori", report.by_category), ("område", report.by_topic),
                            ("alvor_fejl", report.fault_severity), ("åbne_efter_alder",
                            report.backlog), ("støj", report.noise),
                            ("rettelser", report.corrections_by_field)):
        rows.extend((section, key, str(value), "") for key, value in counts.items())
    rows.append(("manuel_triage", "i alt", str(report.abstained), ""))
    rows.append(("rettet", "nye sager rettet", str(report.corrected_created), ""))
    rows.append(("karantæne", "i alt", str(report.quarantined), ""))
    for name, stats in (("første_svar", report.first_response), ("løsning", report.resolution)):
        rows.append((name, "antal", str(stats.count), ""))
        for item, value in (("median_timer", stats.median_hours), ("p90_timer", stats.p90_hours)):
            rows.append((name, item, "" if value is None else f"{value:.2f}", ""))
    for f in report.forwards:
        note = f"{fmt.day(f.forwarded_at)}; {f.age_days} dage; {f.status}"
        rows.append(("netcompany", fmt.ref(f.ticket_id), f.nc_case or "",
                     note + ("; afventer svar" if f.waiting else "")))
    for k in report.kombit:
        rows.append(("kombit", fmt.ref(k.ticket_id), fmt.day(k.sent_at), f"{k.by}; {k.subject}"))
    return rows


def render_csv(report: WeeklyReport, settings: Settings) -> str:
    """The report as CSV with a header row."""
    return write_csv(("sektion", "emne", "værdi", "bemærkning"), csv_rows(report, settings))


def template_environment() -> Environment:
    """A Jinja environment on the web templates, for HTML rendered outside a request."""
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def render_html(report: WeeklyReport, settings: Settings) -> str:
    """The report as one self-contained HTML page, charts inline (no network needed)."""
    from app.reports.charts import report_charts

    template = template_environment().get_template("reports/weekly_standalone.html")
    return template.render(report=report, fmt=ReportFormat(settings),
                           charts=report_charts(report, settings))
