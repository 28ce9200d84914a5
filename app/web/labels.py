"""Danish names for the codes the web view shows (categories, topics, roles, statuses)."""

from __future__ import annotations

ROLE_NAMES: dict[str, str] = {
    "superuser": "superbruger",
    "administrator": "DUBU-administrator",
    "system_responsible": "systemansvarlig",
    "system_owner": "systemejer",
    "professional_lead": "faglig leder",
}

CATEGORY_NAMES: dict[str, str] = {
    "question": "Spørgsmål",
    "fault": "Fejl",
    "change_request": "Ændringsønske",
}

TOPIC_NAMES: dict[str, str] = {
    "sagsbehandling": "Sagsbehandling",
    "oekonomi": "Økonomi",
    "breve": "Breve",
    "adgang": "Adgang",
    "opsaetning": "Opsætning",
    "ledelsesinformation": "Ledelsesinformation",
    "andet": "Andet",
}

SEVERITY_NAMES: dict[str, str] = {"critical": "Kritisk", "high": "Høj", "normal": "Normal"}

STATUS_NAMES: dict[str, str] = {
    "new": "Ny",
    "open": "Åben",
    "waiting": "Afventer",
    "forwarded": "Videresendt",
    "resolved": "Løst",
    "closed": "Lukket",
}

NOISE_NAMES: dict[str, str] = {
    "autoreply": "Autosvar",
    "bounce": "Returmail",
    "newsletter": "Nyhedsbrev",
    "spam": "Spam",
    "receipt": "Kvittering",
    "calendar": "Kalendersvar",
    "loop": "Løkke",
}

ALL_LABELS: dict[str, dict[str, str]] = {
    "category": CATEGORY_NAMES,
    "topic": TOPIC_NAMES,
    "severity": SEVERITY_NAMES,
    "status": STATUS_NAMES,
    "role": ROLE_NAMES,
    "noise": NOISE_NAMES,
}
