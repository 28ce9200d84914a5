"""Danish names for the labels the reports show (the stored values are English)."""

from __future__ import annotations

from app.domain import Category, Role, Severity, TicketStatus, Topic

CATEGORY = {
    Category.QUESTION.value: "spørgsmål",
    Category.FAULT.value: "fejl",
    Category.CHANGE_REQUEST.value: "ændringsønske",
}
TOPIC = {
    Topic.SAGSBEHANDLING.value: "sagsbehandling",
    Topic.OEKONOMI.value: "økonomi",
    Topic.BREVE.value: "breve",
    Topic.ADGANG.value: "adgang",
    Topic.OPSAETNING.value: "opsætning",
    Topic.LEDELSESINFORMATION.value: "ledelsesinformation",
    Topic.ANDET.value: "andet",
}
SEVERITY = {
    Severity.CRITICAL.value: "kritisk",
    Severity.HIGH.value: "høj",
    Severity.NORMAL.value: "normal",
}
STATUS = {
    TicketStatus.NEW.value: "ny",
    TicketStatus.OPEN.value: "åben",
    TicketStatus.WAITING.value: "afventer",
    TicketStatus.FORWARDED.value: "videresendt",
    TicketStatus.RESOLVED.value: "løst",
    TicketStatus.CLOSED.value: "lukket",
}
ROLE = {
    Role.SUPERUSER.value: "superbruger",
    Role.ADMINISTRATOR.value: "systemadministrator",
    Role.PROFESSIONAL_LEAD.value: "faglig leder",
    Role.SYSTEM_RESPONSIBLE.value: "systemansvarlig",
    Role.SYSTEM_OWNER.value: "systemejer",
}
NOISE = {
    "autoreply": "autosvar",
    "bounce": "returmail",
    "newsletter": "nyhedsbrev",
    "spam": "spam",
    "receipt": "kvittering",
    "calendar": "kalendersvar",
    "loop": "egen mail (sløjfe)",
}


def danish(table: dict[str, str], value: str | None) -> str:
    """The Danish name of a stored label, or the label itself when it is unknown."""
    if value is None:
        return "ukendt"
    return table.get(value, value)
