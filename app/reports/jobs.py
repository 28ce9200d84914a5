"""Scheduled jobs of the reports area (weekly report, hypercare digest, retention)."""

from __future__ import annotations

from typing import Any


def register_jobs(scheduler: Any, runtime: Any) -> None:
    """Add this area's jobs to the worker's scheduler (filled in by the reports work)."""
