"""Ingest speed: mails per second from a real Dovecot into SQLite, beside a plain IMAP fetch.

Run from the project root:

    .venv/bin/python benchmarks/ingest.py              # 2,000 mails, batches of 100
    .venv/bin/python benchmarks/ingest.py --mails 500 --batch 200
    .venv/bin/python benchmarks/ingest.py --mails 0 --idle 30   # only the IDLE latency

It starts a throwaway Dovecot (tests/dovecot.py), appends N mails made from the 240 labelled
dubu-dev mails (each copy with a Message-ID of its own), then times (1) a plain batched
IMAPClient `BODY.PEEK[]` fetch of all of them, and (2) one `poll_once` into a fresh SQLite
database (parse, noise, follow-ups, classify, route, store, outbox, mark on the server).
With `--idle K` it then runs the worker's IDLE loop (`watch_job`) on an empty mailbox and
appends K mails one at a time, timing each from the end of its APPEND until it is stored.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from app.db import init_db, make_engine, make_sessionmaker, sync_people
from app.ingest.fetch import poll_once
from app.models import InboundMessage, MailboxState
from app.runtime import Runtime
from app.settings import settings_from_dict
from app.worker import watch_job
from tests.dovecot import Dovecot

DEV = ROOT / "app" / "resources" / "dubu-dev"
_MID = re.compile(rb"^Message-ID:[^\r\n]*", re.IGNORECASE | re.MULTILINE)


def make_mails(count: int) -> list[bytes]:
    """`count` mails cycled from dubu-dev, the n-th copy with a Message-ID of its own."""
    sources = [p.read_bytes() for p in sorted(DEV.glob("*.eml"))]
    mails = []
    for n in range(count):
        raw = sources[n % len(sources)]
        if n >= len(sources):
            new = b"Message-ID: <bench-%d@korsbaek.dk>" % n
            raw = _MID.sub(new, raw, count=1) if _MID.search(raw) else new + b"\r\n" + raw
        mails.append(raw)
    return mails


def plain_fetch(server: Dovecot, user: str, batch: int) -> tuple[int, float]:
    """A plain batched BODY.PEEK[] fetch of every mail: (mails, seconds)."""
    start = time.perf_counter()
    client = server.client(user)
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    fetched = 0
    for i in range(0, len(uids), batch):
        data = client.fetch(uids[i : i + batch], ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"])
        fetched += len(data)
    client.logout()
    return fetched, time.perf_counter() - start


def make_runtime(server: Dovecot, user: str, workdir: Path, batch: int,
                 poll_seconds: int = 60) -> Runtime:
    """A runtime on a fresh, migrated SQLite database polling the benchmark mailbox."""
    with (ROOT / "config.example.toml").open("rb") as handle:
        data = tomllib.load(handle)
    url = f"sqlite:///{workdir / f'bench-{user}.db'}"
    data["instance"]["path"] = str(workdir)
    data["database"]["url"] = url
    data["triage"]["rules_dir"] = str(ROOT / "routing_rules")
    data["mailbox"].update(server.mailbox_settings(user, batch_size=batch, max_per_run=100000,
                                                   poll_seconds=poll_seconds))
    settings = settings_from_dict(data, source="benchmark")
    engine = make_engine(url)
    init_db(engine)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    with runtime.sessions.begin() as session:
        sync_people(session, settings)
    return runtime


def _stored(runtime: Runtime) -> int:
    """Inbound mails stored so far."""
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def idle_latency(server: Dovecot, workdir: Path, count: int) -> list[float]:
    """Seconds from the end of each APPEND until the IDLE loop has stored the mail."""
    user = server.new_user()
    runtime = make_runtime(server, user, workdir, 100, poll_seconds=3600)
    runtime.classifier  # noqa: B018 - load rules and model before the clock starts
    stop = threading.Event()
    thread = threading.Thread(target=watch_job, args=(runtime, stop), daemon=True)
    thread.start()
    with runtime.sessions() as session:  # the first poll is done when the folder is known
        while session.scalar(select(func.count()).select_from(MailboxState)) == 0:
            time.sleep(0.01)
    time.sleep(0.5)  # and IDLE follows within milliseconds
    latencies = []
    for n, raw in enumerate(make_mails(count), start=1):
        server.append(user, [raw])
        start = time.perf_counter()
        while _stored(runtime) < n:
            time.sleep(0.005)
        latencies.append(time.perf_counter() - start)
    stop.set()
    thread.join(10)
    runtime.dispose()
    return latencies


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--idle", type=int, default=0, help="mails for the IDLE latency")
    args = parser.parse_args()
    server = Dovecot()
    server.start()
    try:
        if args.mails:
            throughput(server, args.mails, args.batch)
        if args.idle:
            with tempfile.TemporaryDirectory() as tmp:
                waits = sorted(idle_latency(server, Path(tmp), args.idle))
            print(f"IDLE: {len(waits)} mails appended one at a time, stored after "
                  f"median {statistics.median(waits):.2f} s, max {waits[-1]:.2f} s "
                  f"(min {waits[0]:.2f} s)")
    finally:
        server.stop()


def throughput(server: Dovecot, count: int, batch: int) -> None:
    """Print the plain fetch and the poll_once figures for `count` mails."""
    user = server.new_user()
    mails = make_mails(count)
    start = time.perf_counter()
    server.append(user, mails)
    print(f"appended {len(mails)} mails ({sum(map(len, mails)) / 1e6:.1f} MB) "
          f"in {time.perf_counter() - start:.1f} s")
    fetched, seconds = plain_fetch(server, user, batch)
    print(f"plain IMAPClient BODY.PEEK[] fetch: {fetched} mails in {seconds:.2f} s "
          f"= {fetched / seconds:.0f} mails/s")
    with tempfile.TemporaryDirectory() as tmp:
        runtime = make_runtime(server, user, Path(tmp), batch)
        runtime.classifier  # noqa: B018 - load rules and model before the clock starts
        start, cpu = time.perf_counter(), time.process_time()
        summary = poll_once(runtime)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        runtime.dispose()
    print(f"poll_once into SQLite: {summary}")
    print(f"  {summary.fetched} mails in {seconds:.2f} s = {summary.fetched / seconds:.0f} "
          f"mails/s ({1000 * seconds / max(summary.fetched, 1):.1f} ms per mail)")
    # On a shared machine the wall clock also counts other people's work; this does not.
    print(f"  of which this process's CPU: {cpu:.2f} s "
          f"({1000 * cpu / max(summary.fetched, 1):.1f} ms per mail)")


if __name__ == "__main__":
    main()
