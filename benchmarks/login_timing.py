"""Does the log-in's answer time tell which addresses have accounts?

    .venv/bin/python benchmarks/login_timing.py                 # 40 tries per case, SQLite
    .venv/bin/python benchmarks/login_timing.py --tries 100

Calls `app.services.auth.authenticate` in-process (no network) with a wrong password for: a
known address, an unknown address, a known address without a password yet, and an inactive
person; each try in its own rolled-back transaction so the rate limit never starts. Prints the
median and 95th percentile per case; the cases should differ by noise only (every one costs one
argon2id verification), and the right password is shown beside them for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import update

from app.db import init_db, make_engine, make_sessionmaker, sync_people
from app.errors import PermissionDeniedError
from app.models import Person
from app.services.auth import authenticate, hash_password
from benchmarks.queue_page import _settings

PASSWORD = "korrekt-hest-batteri"
CASES = {
    "known address, wrong password": ("lene.mortensen@korsbaek.dk", "forkert-kodeord"),
    "unknown address": ("ingen.her@korsbaek.dk", "forkert-kodeord"),
    "known address, no password set": ("peter.lund@korsbaek.dk", "forkert-kodeord"),
    "inactive person, right password": ("karen.bech@korsbaek.dk", PASSWORD),
    "right password (for scale)": ("lene.mortensen@korsbaek.dk", PASSWORD),
}


def _prepare(folder: Path):  # type: ignore[no-untyped-def]
    """A migrated SQLite database with Korsbæk's people; one without a password, one inactive."""
    settings = _settings(f"sqlite:///{folder / 'bench.db'}", folder)
    engine = make_engine(settings.database_url)
    init_db(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        sync_people(session, settings)
        session.flush()
        session.execute(update(Person).values(password_hash=hash_password(PASSWORD)))
        session.execute(update(Person).where(Person.email == "peter.lund@korsbaek.dk")
                        .values(password_hash=None))
        session.execute(update(Person).where(Person.email == "karen.bech@korsbaek.dk")
                        .values(active=False))
    return engine, sessions


def _time(sessions, email: str, password: str, tries: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds per try; each try is rolled back, so no try is throttled."""
    times = []
    for n in range(tries):
        with sessions() as session:
            start = time.perf_counter()
            try:
                authenticate(session, email, password, remote_addr=f"10.0.{n // 250}.{n % 250}",
                             now=datetime.now(UTC))
            except PermissionDeniedError:
                pass
            times.append((time.perf_counter() - start) * 1000)
            session.rollback()
    return times


def main() -> None:
    """Run each case `--tries` times, interleaved, and print median and p95."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine, sessions = _prepare(Path(folder))
        results: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(args.tries):  # interleaved, so a busy moment hits every case alike
            for name, (email, password) in CASES.items():
                results[name] += _time(sessions, email, password, 1)
        engine.dispose()
    print(f"{'case':36} {'median ms':>10} {'p95 ms':>8}")
    for name, times in results.items():
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{name:36} {statistics.median(times):10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
