"""Outbox speed: mails per second queued, and sent to a real SMTP server (aiosmtpd).

Run from the project root:

    .venv/bin/python benchmarks/outbox_send.py                    # 1,000 mails, SQLite
    .venv/bin/python benchmarks/outbox_send.py --mails 2000 --senders 2
    .venv/bin/python benchmarks/outbox_send.py --database-url postgresql+psycopg://postgres@127.0.0.1/DB

It uses a fresh SQLite database in a temporary folder, or the (empty) database that
--database-url names, migrated first. It queues N Danish acknowledgement-sized mails with
`enqueue` in one transaction, then times `send_pending` draining them through one SMTP
connection per sender into an in-process aiosmtpd on the loopback interface. Each mail is
claimed in a transaction of its own and marked sent in the next, as in production, so the
figure is the outbox's cost, not the network's.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import init_db, make_engine, make_sessionmaker
from app.mail.outbox import enqueue, send_pending
from app.mail.templates import render
from app.runtime import Runtime
from app.settings import settings_from_dict


def smtp_server() -> tuple[Any, list[int], int]:
    """An aiosmtpd server counting what it receives; (controller, counter, port)."""
    from aiosmtpd.controller import Controller

    received = [0]

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:
            received[0] += 1
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, received, port


def queue(runtime: Runtime, count: int) -> float:
    """Queue `count` acknowledgements in one transaction; the seconds it took."""
    subject, body = render("acknowledgement", ref="DUBU-1", subject="Kan ikke gemme handleplan",
                           requester_name="Anne Hansen", category="fault", topic="sagsbehandling",
                           severity="high", has_cpr=False)
    started = time.perf_counter()
    with runtime.sessions.begin() as session:
        for i in range(count):
            enqueue(session, runtime.settings, kind="ack", to=[f"user{i}@korsbaek.dk"],
                    subject=subject, body_text=body, ticket_id=None,
                    in_reply_to=f"case-{i}@korsbaek.dk", automatic=True,
                    now=runtime.now() - timedelta(seconds=1))
    return time.perf_counter() - started


def drain(runtimes: list[Runtime], count: int) -> float:
    """Send everything with one thread per runtime; the seconds it took."""
    threads = [threading.Thread(target=send_pending, args=(rt, count + 1)) for rt in runtimes]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def main() -> None:
    """Parse the arguments, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=1, help="concurrent send_pending calls")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    controller, received, port = smtp_server()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        settings = settings_from_dict({
            "instance": {"path": folder}, "database": {"url": url},
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none"}})
        engine = make_engine(url)
        init_db(engine)  # create, or upgrade an existing one
        engines = [engine] + [make_engine(url) for _ in range(args.senders - 1)]
        runtimes = [Runtime(settings, e, make_sessionmaker(e), now=lambda: datetime.now(UTC))
                    for e in engines]
        queued = queue(runtimes[0], args.mails)
        sent = drain(runtimes, args.mails)
        controller.stop()
        for rt in runtimes:
            rt.dispose()
    backend = url.split(":", 1)[0]
    print(f"{backend}: queued {args.mails} mails in {queued:.2f} s "
          f"({args.mails / queued:.0f}/s); sent {received[0]} in {sent:.2f} s "
          f"({received[0] / sent:.0f}/s) with {args.senders} sender(s)")
    if received[0] != args.mails:
        sys.exit(f"expected {args.mails} mails at the server, got {received[0]}")


if __name__ == "__main__":
    main()
