"""dubu-triage: support-ticket triage for a municipality's DUBU support organisation."""

__version__ = "0.1.0"
