"""A worker killed with SIGKILL at random points of a batch loses and duplicates nothing.

`dubu-triage poll-once` runs as a subprocess against a real Dovecot and a real database; it is
killed after random delays, restarted, killed again, and finally let run to the end.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import make_engine
from app.models import InboundMessage, Ticket
from tests.ingest_mails import make_mail

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]
CLI = str(Path(sys.executable).parent / "dubu-triage")
KILLS = 5


def big_mailbox(dubu_dev: Path) -> tuple[list[bytes], set[str]]:
    """The 240 labelled mails and 260 more questions: raw bytes and their Message-IDs."""
    raws = [p.read_bytes() for p in sorted(dubu_dev.glob("*.eml"))]
    extra = {f"crash-{i}@korsbaek.dk": make_mail(
        f"Spørgsmål {i} om aktivitetsflow", f"Hvordan ændrer jeg aktivitetsflow nummer {i}?",
        f"sagsbehandler{i % 17}@korsbaek.dk", message_id=f"crash-{i}@korsbaek.dk")
        for i in range(260)}
    return raws + list(extra.values()), set(extra)


def run_and_maybe_kill(config: Path, db_url: str, kill_at: int | None,
                       rng: random.Random) -> tuple[int, str]:
    """Run poll-once; SIGKILL it a random moment after `kill_at` messages are stored (unless it
    finished first). Waiting on progress, not on a clock, keeps the kills inside the batches
    however slow the machine is. Returns (return code, output)."""
    proc = subprocess.Popen([CLI, "--config", str(config), "poll-once"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if kill_at is not None:
        while proc.poll() is None and stored_count(db_url) < kill_at:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out.decode(errors="replace")


def stored_count(db_url: str) -> int:
    """How many inbound messages the database holds now."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(InboundMessage)))
    finally:
        engine.dispose()


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    dovecot, write_config, db_url: str, dubu_dev: Path
) -> None:
    raws, extra_ids = big_mailbox(dubu_dev)
    dovecot.append(raws)
    config = write_config(database={"url": db_url}, mailbox=dovecot.settings(batch_size=20))
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    progress: list[tuple[int, int]] = []  # (return code, messages stored after the run)
    for n in range(KILLS):
        # Each kill a random number of messages further into the mailbox.
        low = n * len(raws) // KILLS + 1
        kill_at = rng.randint(low, low + len(raws) // KILLS - 2)
        rc, out = run_and_maybe_kill(config, db_url, kill_at, rng)
        assert rc in (0, -signal.SIGKILL), f"seed {seed}: {out[-3000:]}"
        progress.append((rc, stored_count(db_url)))
    print(f"seed {seed}: (return code, stored) after each run: {progress}")
    mid_run = [n for rc, n in progress if rc == -signal.SIGKILL and 0 < n < len(raws)]
    assert len(mid_run) >= KILLS - 1, f"seed {seed}: too few runs killed mid-way: {progress}"
    rc, out = run_and_maybe_kill(config, db_url, None, rng)
    assert rc == 0, out[-3000:]
    rc, out = run_and_maybe_kill(config, db_url, None, rng)
    assert out.strip().splitlines()[-1].startswith("fetched 0:"), out
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ids = list(conn.scalars(select(InboundMessage.message_id)))
            uids = list(conn.scalars(select(InboundMessage.uid)))
            total = conn.scalar(select(func.count()).select_from(InboundMessage))
            # One transaction per mail: no ticket without the message that opened it.
            orphans = conn.scalar(select(func.count()).select_from(Ticket).where(
                ~Ticket.id.in_(select(InboundMessage.ticket_id).where(
                    InboundMessage.ticket_id.is_not(None)))))
    finally:
        engine.dispose()
    assert total == len(raws) == len(set(ids)), f"seed {seed}"
    assert extra_ids <= set(ids)
    assert orphans == 0
    assert sorted(u for u in uids if u is not None) == list(range(1, len(raws) + 1))
    assert dovecot.uids("UNKEYWORD", "$Triaged") == []
