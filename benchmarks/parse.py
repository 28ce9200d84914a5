"""Parsing speed: mails per second through parse_message (+ detect_noise) over all corpora.

Run from the project root:

    .venv/bin/python benchmarks/parse.py                # 3 rounds over every corpus mail
    .venv/bin/python benchmarks/parse.py --rounds 5 --corpus dubu-dev

It reads every mail file of ../shared/corpora/* (dubu-dev included; the same selection as
tests/integration/test_corpora_parsing.py) into memory once, then times, per round:
(1) the standard library alone with `policy.compat32` (parse only), (2) `policy.default`
with `get_body()` + `get_content()` (DOVECOT.md's ~930 mails/s baseline), (3) our
`parse_message` (headers, charsets, MIME walk, HTML to text, new-text extraction) and
(4) `parse_message` + `detect_noise`. The best round is reported, as mails/s and MB/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.ingest.noise import detect_noise
from app.ingest.parsing import parse_message
from tests.integration.test_corpora_parsing import corpus_files

CORPORA = ROOT.parent / "shared" / "corpora"


def load(corpus: str | None) -> list[bytes]:
    """The raw bytes of every selected mail (dubu-dev read from the project's resources)."""
    paths = (
        []
        if corpus not in (None, "dubu-dev")
        else sorted((ROOT / "app" / "resources" / "dubu-dev").glob("*.eml"))
    )
    if corpus != "dubu-dev":
        paths += [
            p
            for p in corpus_files(CORPORA)
            if corpus is None or p.relative_to(CORPORA).parts[0] == corpus
        ]
    return [p.read_bytes() for p in paths]


def stdlib_compat32(raw: bytes) -> object:
    """The standard library's fast parse, nothing decoded."""
    return message_from_bytes(raw, policy=policy.compat32)


def stdlib_default(raw: bytes) -> object:
    """The standard library's modern parse and body text, as DOVECOT.md measured it."""
    msg = message_from_bytes(raw, policy=policy.default)
    try:
        body = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
        return body.get_content() if body is not None else None
    except (LookupError, KeyError, ValueError):  # unknown charsets raise here
        return None


def ours_with_noise(raw: bytes) -> object:
    """The first two pipeline steps: parse, then noise detection."""
    return detect_noise(parse_message(raw), own_addresses=("dubu@korsbaek.dk",))


def best_rate(step: Callable[[bytes], object], mails: list[bytes], rounds: int) -> float:
    """The best of `rounds` timings, as mails per second."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in mails:
            step(raw)
        best = min(best, time.perf_counter() - start)
    return len(mails) / best


def main() -> None:
    """Load, time each step, print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", default=None, help="one corpus folder name, e.g. zammad")
    args = parser.parse_args()
    mails = load(args.corpus)
    megabytes = sum(len(m) for m in mails) / 1e6
    print(f"{len(mails)} mails, {megabytes:.1f} MB, best of {args.rounds} rounds")
    steps = [
        ("stdlib compat32 parse only", stdlib_compat32),
        ("stdlib default + get_body/get_content", stdlib_default),
        ("parse_message", parse_message),
        ("parse_message + detect_noise", ours_with_noise),
    ]
    for name, step in steps:
        rate = best_rate(step, mails, args.rounds)
        print(f"{name:40s} {rate:8.0f} mails/s {rate * megabytes / len(mails):6.1f} MB/s")


if __name__ == "__main__":
    main()
