"""Charts of the weekly report, drawn by matplotlib on the server as SVG.

No pyplot and no GUI backend: each chart is a `Figure` of its own (safe in a web worker), saved
as SVG with text turned into paths, so the page needs no fonts or anything else from the network.
The charts are handed to the page as `data:` URIs for `<img>`.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

from app.reports.render import ReportFormat
from app.reports.weekly import WeeklyReport
from app.settings import Settings

BLUE = "#1f5fa8"
ORANGE = "#d9822b"
GREY = "#6b7280"


@dataclass(frozen=True)
class Chart:
    """One chart: what it shows (the alt text) and its SVG."""

    name: str
    title: str
    svg: bytes

    @property
    def data_uri(self) -> str:
        """The SVG as a data: URI an <img> can show without another request."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg).decode("ascii")


def _svg(figure: Figure) -> bytes:
    """Save a figure as SVG, reproducibly (no date, fixed ids)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "dubu-triage", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def _bars(axes: object, labels: list[str], values: list[float], color: str) -> None:
    """Horizontal bars with their value written at the end."""
    positions = range(len(labels))
    bars = axes.barh(list(positions), values, color=color)  # type: ignore[attr-defined]
    axes.set_yticks(list(positions), labels)  # type: ignore[attr-defined]
    axes.invert_yaxis()  # type: ignore[attr-defined]
    axes.bar_label(bars, padding=3)  # type: ignore[attr-defined]
    axes.margins(x=0.15)  # type: ignore[attr-defined]  # room for the value labels
    axes.spines[["top", "right"]].set_visible(False)  # type: ignore[attr-defined]
    axes.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[attr-defined]


def tickets_chart(report: WeeklyReport, fmt: ReportFormat) -> Chart:
    """New tickets of the week by category and by topic."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.3])
    _bars(left, [fmt.category(k) for k in report.by_category],
          list(report.by_category.values()), BLUE)
    left.set_title("Efter kategori")
    _bars(right, [fmt.topic(k) for k in report.by_topic], list(report.by_topic.values()), BLUE)
    right.set_title("Efter område")
    return Chart("tickets", f"Nye sager efter kategori og område ({report.created} i alt)",
                 _svg(figure))


def backlog_chart(report: WeeklyReport) -> Chart:
    """Open tickets at the end of the week by age."""
    figure = Figure(figsize=(6, 2.8), layout="constrained")
    axes = figure.subplots()
    _bars(axes, list(report.backlog), list(report.backlog.values()), ORANGE)
    axes.set_title(f"Åbne sager ved ugens slutning: {report.backlog_total}")
    axes.set_xlabel("antal sager")
    return Chart("backlog", f"Åbne sager efter alder ({report.backlog_total} i alt)",
                 _svg(figure))


def response_chart(report: WeeklyReport) -> Chart:
    """Median and 90th percentile of time to first response and to resolution, in hours."""
    figure = Figure(figsize=(6, 2.8), layout="constrained")
    axes = figure.subplots()
    groups = [("Første svar", report.first_response), ("Løsning", report.resolution)]
    medians = [s.median_hours or 0.0 for _, s in groups]
    p90s = [s.p90_hours or 0.0 for _, s in groups]
    positions = [0.0, 1.0]
    first = axes.barh([p - 0.2 for p in positions], medians, height=0.4, color=BLUE,
                      label="median")
    second = axes.barh([p + 0.2 for p in positions], p90s, height=0.4, color=GREY,
                       label="90 %-fraktil")
    for bars in (first, second):
        axes.bar_label(bars, fmt=lambda value: f"{value:.1f}".replace(".", ","), padding=3)
    axes.set_yticks(positions, [f"{name} ({s.count})" for name, s in groups])
    axes.invert_yaxis()
    axes.set_xlabel("timer")
    axes.set_title("Svartider")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return Chart("response", "Svartider: median og 90 %-fraktil i timer", _svg(figure))


def report_charts(report: WeeklyReport, settings: Settings) -> dict[str, Chart]:
    """Every chart of the report, by name."""
    fmt = ReportFormat(settings)
    charts = (tickets_chart(report, fmt), backlog_chart(report), response_chart(report))
    return {chart.name: chart for chart in charts}
