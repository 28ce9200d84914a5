"""Records the service keeps about itself: the audit log and the runs of scheduled jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class AuditEvent(Base):
    """Who did what, when: state changes, forwards, log-ins and refusals."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320), default="system")  # email or "system"
    action: Mapped[str] = mapped_column(String(60))
    ticket_id: Mapped[int | None] = mapped_column(Integer)  # kept after retention deletes it
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_action_actor", "action", "actor"),
    )


class JobRun(Base):
    """When a scheduled job last ran for a period (report week, digest day), so none repeats."""

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(40))  # e.g. 2024-W16, 2024-04-09
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run_job_period"),)
