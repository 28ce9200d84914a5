"""Two processes' worth of ingestion at once: the same mails stored once, none quarantined."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from app.domain import MessageKind
from app.ingest.pipeline import ingest_raw
from app.models import InboundMessage, Ticket
from tests.ingest_mails import make_mail


def test_the_same_mails_ingested_concurrently_are_stored_once(make_runtime, db_url: str) -> None:
    raws = [make_mail(f"Spørgsmål {i}", f"Hvordan finder jeg ydelse {i}?",
                      message_id=f"race-{i}@korsbaek.dk") for i in range(6)]
    runtimes = [make_runtime(database={"url": db_url}) for _ in range(4)]

    def ingest_all(index: int) -> list:
        """One worker's pass over the same mails, in its own order."""
        order = raws[index % len(raws):] + raws[: index % len(raws)]
        return [ingest_raw(runtimes[index], raw, source="import") for raw in order]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [o for batch in pool.map(ingest_all, range(4)) for o in batch]
    assert not [o for o in outcomes if o.kind is MessageKind.QUARANTINED]
    assert sum(not o.duplicate for o in outcomes) == len(raws)
    with runtimes[0].sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == len(raws)
        assert session.scalar(select(func.count()).select_from(Ticket)) == len(raws)
