"""The role roster KOMBIT asks for: name, e-mail, phone and role of each active person.

Read from the Person table (seeded from the configuration); exported as CSV or as an Excel
workbook (openpyxl), with Danish role names and column headings.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import Role
from app.models import Person
from app.reports.labels import ROLE, danish
from app.reports.spreadsheet import write_csv

COLUMNS = ("Navn", "E-mail", "Telefon", "Rolle")
# KOMBIT reads the roster top-down: the responsible roles first, then the superusers.
ROLE_ORDER = (
    Role.SYSTEM_OWNER.value,
    Role.SYSTEM_RESPONSIBLE.value,
    Role.ADMINISTRATOR.value,
    Role.PROFESSIONAL_LEAD.value,
    Role.SUPERUSER.value,
)


@dataclass(frozen=True)
class RosterEntry:
    """One line of the roster."""

    name: str
    email: str
    phone: str
    role: str  # Danish role name

    def as_row(self) -> tuple[str, str, str, str]:
        """The entry in the order of COLUMNS."""
        return (self.name, self.email, self.phone, self.role)


def roster(session: Session) -> list[RosterEntry]:
    """Every active person, by role and then by name."""
    people = session.scalars(select(Person).where(Person.active.is_(True)))
    rank = {role: index for index, role in enumerate(ROLE_ORDER)}
    ordered = sorted(people, key=lambda p: (rank.get(p.role, len(rank)), p.name.lower()))
    return [RosterEntry(p.name, p.email, p.phone, danish(ROLE, p.role)) for p in ordered]


def roster_csv(entries: list[RosterEntry]) -> str:
    """The roster as CSV with a header row."""
    return write_csv(COLUMNS, (entry.as_row() for entry in entries))


def roster_xlsx(entries: list[RosterEntry]) -> bytes:
    """The roster as an Excel workbook: one sheet, a bold header row, readable column widths."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Rolleoversigt"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for entry in entries:
        sheet.append(entry.as_row())
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"  # openpyxl would store "=…" as a formula
    for index, heading in enumerate(COLUMNS):
        width = max([len(heading)] + [len(entry.as_row()[index]) for entry in entries])
        sheet.column_dimensions[chr(ord("A") + index)].width = width + 2
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
