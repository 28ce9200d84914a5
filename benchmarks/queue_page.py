"""How fast the queue page answers with 100,000 tickets in the database.

(Named queue_page.py, not queue.py: a script called queue.py would shadow the standard
library module `queue` for everything it imports.)

    .venv/bin/python benchmarks/queue_page.py                       # SQLite in a temporary folder
    .venv/bin/python benchmarks/queue_page.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_queue
    .venv/bin/python benchmarks/queue_page.py --tickets 100000 --requests 200

The database is made and filled here (a PostgreSQL database named in the URL must exist and is
emptied first). Each page is requested in-process through Flask's test client as a logged-in
superuser, so the figures are the app's and the database's time, not a network's. It prints the
median and 95th percentile per page beside a trivial page (the log-in form, no database).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text

from app.db import init_db, make_engine, make_sessionmaker, sync_people
from app.models import Base, Blob, InboundMessage, Person, Ticket
from app.runtime import Runtime
from app.services.auth import hash_password
from app.settings import settings_from_dict

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "trivial (log-in form)": "/login",
    "queue: all open, newest": "/",
    "queue: mine": "/?view=mine",
    "queue: my areas": "/?view=areas",
    "queue: manual triage": "/?view=triage",
    "queue: all open by severity": "/?sort=severity",
    "queue: all tickets, newest": "/?view=all",
    "queue: all tickets, page 200": "/?view=all&page=200",
    "queue: open faults, critical": "/?category=fault&severity=critical",
    "search all: no match": "/?view=all&q=netv%C3%A6rksm%C3%B8de",
    "search all: one requester": "/?view=all&q=cw123%40korsbaek",
    "search all: one ticket's subject": "/?view=all&q=Sag+4242%3A",
    "search all: word in every mail": "/?view=all&q=sp%C3%B8rgsm%C3%A5l",
    "search open: word in every mail": "/?q=sp%C3%B8rgsm%C3%A5l",
    "search all: 2 chars (plain scan)": "/?view=all&q=zq",
}


def _settings(url: str, folder: Path):  # type: ignore[no-untyped-def]
    """Korsbæk's people from config.example.toml on the benchmark database."""
    import tomllib

    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["instance"].update(path=str(folder), secret_key="bench", secure_cookies=False)
    data["database"]["url"] = url
    data["triage"]["rules_dir"] = str(ROOT / "routing_rules")
    return settings_from_dict(data, source="benchmark")


def fill(runtime: Runtime, count: int, seed: int = 7) -> None:
    """`count` tickets over three years, each with its first mail; ~8 % still open."""
    rng = random.Random(seed)
    start = datetime(2024, 4, 8, tzinfo=UTC)
    topics = ["sagsbehandling", "oekonomi", "breve", "adgang", "opsaetning", "ledelsesinformation", "andet"]
    with runtime.sessions.begin() as s:
        people = [p.id for p in s.scalars(select(Person))] + [None] * 2
        s.add(Blob(sha256="0" * 64, size=1, data=b"x"))
    for first in range(0, count, 5000):
        tickets, mails = [], []
        for n in range(first + 1, min(count, first + 5000) + 1):
            at = start + timedelta(minutes=n * 15 + rng.randint(0, 14))
            category = rng.choice(["question", "question", "fault", "change_request"])
            severity = rng.choice(["critical", "high", "normal", "normal"]) if category == "fault" else "normal"
            status = rng.choice(["new", "open", "waiting", "forwarded"]) if rng.random() < 0.08 else rng.choice(["resolved", "closed"])
            tickets.append({
                "id": n, "subject": f"Sag {n}: DUBU {rng.choice(topics)}",
                "requester": f"cw{n % 700}@korsbaek.dk", "requester_name": "Sagsbehandler",
                "category": category, "topic": rng.choice(topics), "severity": severity,
                "status": status, "assignee_id": rng.choice(people), "confidence": 0.8,
                "abstained": False, "reasons": [], "created_at": at, "updated_at": at,
            })
            mails.append({
                "message_id": f"bench{n}@korsbaek.dk", "raw_sha256": "0" * 64, "raw_size": 1,
                "kind": "ticket", "ticket_id": n, "sender": f"cw{n % 700}@korsbaek.dk",
                "subject": f"Sag {n}", "text": "Hej, jeg har et spørgsmål om DUBU.\n" * 3,
                "received_at": at, "stored_at": at,
            })
        with runtime.sessions.begin() as s:
            s.execute(insert(Ticket), tickets)
            s.execute(insert(InboundMessage), mails)
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.begin() as conn:
            conn.execute(text("SELECT setval('ticket_id_seq', (SELECT max(id) FROM ticket))"))
            conn.execute(text("ANALYZE"))
    else:
        with runtime.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def measure(runtime: Runtime, requests: int) -> dict[str, list[float]]:
    """Request each page `requests` times as Lene (a superuser); milliseconds per request."""
    from app.web import create_app

    with runtime.sessions.begin() as s:
        lene = s.scalars(select(Person).where(Person.email == "lene.mortensen@korsbaek.dk")).one()
        lene.password_hash = hash_password("benchmark-password")
    app = create_app(runtime=runtime)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"email": "lene.mortensen@korsbaek.dk", "password": "benchmark-password", "csrf_token": token})
    times: dict[str, list[float]] = {}
    for name, path in PAGES.items():
        for _ in range(5):  # warm caches and the connection pool
            client.get(path).close()
        samples = []
        for _ in range(requests):
            began = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (path, response.status_code)
            response.close()
        times[name] = samples
    return times


def main() -> None:
    """Fill, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    init_db(engine)
    settings = _settings(url, folder)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    with runtime.sessions.begin() as s:
        sync_people(s, settings)
    began = time.perf_counter()
    fill(runtime, args.tickets)
    print(f"{engine.dialect.name}: {args.tickets} tickets filled in {time.perf_counter() - began:.1f} s")
    for name, samples in measure(runtime, args.requests).items():
        p95 = statistics.quantiles(samples, n=20)[-1]
        print(f"{name:32} median {statistics.median(samples):6.1f} ms   p95 {p95:6.1f} ms")
    runtime.dispose()
    shutil.rmtree(folder, ignore_errors=True)  # the SQLite file is ~140 MB at 100k tickets


if __name__ == "__main__":
    main()
