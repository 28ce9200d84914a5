"""Ingest speed: mails per second from a real Dovecot into SQLite, beside a plain IMAP fetch.

Run from the project root:

    .venv/bin/python benchmarks/ingest.py              # 2,000 mails, batches of 100
    .venv/bin/python benchmarks/ingest.py --mails 500 --batch 200

It starts a throwaway Dovecot (tests/dovecot.py), appends N mails made from the 240 labelled
dubu-dev mails (each copy with a Message-ID of its own), then times (1) a plain batched
IMAPClient `BODY.PEEK[]` fetch of all of them, and (2) one `poll_once` into a fresh SQLite
database (parse, noise, follow-ups, classify, route, store, outbox, mark on the server).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import init_db, make_engine, make_sessionmaker, sync_people
from app.ingest.fetch import poll_once
from app.runtime import Runtime
from app.settings import settings_from_dict
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


def make_runtime(server: Dovecot, user: str, workdir: Path, batch: int) -> Runtime:
    """A runtime on a fresh, migrated SQLite database polling the benchmark mailbox."""
    with (ROOT / "config.example.toml").open("rb") as handle:
        data = tomllib.load(handle)
    url = f"sqlite:///{workdir / 'bench.db'}"
    data["instance"]["path"] = str(workdir)
    data["database"]["url"] = url
    data["triage"]["rules_dir"] = str(ROOT / "routing_rules")
    data["mailbox"].update(server.mailbox_settings(user, batch_size=batch, max_per_run=100000))
    settings = settings_from_dict(data, source="benchmark")
    engine = make_engine(url)
    init_db(engine)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    with runtime.sessions.begin() as session:
        sync_people(session, settings)
    return runtime


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    server = Dovecot()
    server.start()
    try:
        user = server.new_user()
        mails = make_mails(args.mails)
        start = time.perf_counter()
        server.append(user, mails)
        print(f"appended {len(mails)} mails ({sum(map(len, mails)) / 1e6:.1f} MB) "
              f"in {time.perf_counter() - start:.1f} s")
        count, seconds = plain_fetch(server, user, args.batch)
        print(f"plain IMAPClient BODY.PEEK[] fetch: {count} mails in {seconds:.2f} s "
              f"= {count / seconds:.0f} mails/s")
        with tempfile.TemporaryDirectory() as tmp:
            runtime = make_runtime(server, user, Path(tmp), args.batch)
            runtime.classifier  # noqa: B018 - load rules and model before the clock starts
            start = time.perf_counter()
            summary = poll_once(runtime)
            seconds = time.perf_counter() - start
            runtime.dispose()
        print(f"poll_once into SQLite: {summary}")
        print(f"  {summary.fetched} mails in {seconds:.2f} s = {summary.fetched / seconds:.0f} "
              f"mails/s ({1000 * seconds / max(summary.fetched, 1):.1f} ms per mail)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
