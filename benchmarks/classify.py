"""Benchmark: classification time per mail and model load time (goals: ≤ 5 ms, ≤ 1 s).

Run from the project root:

    .venv/bin/python benchmarks/classify.py [--model PATH] [--rounds 5]

Without --model it trains a model from the shipped examples into a temporary file first (that
training is not timed). It then times `load_classifier` (rules + model file, as a process does
at start) and `Classifier.classify` on the subject and new text of every labelled request of
app/resources/dubu-dev, several rounds, and prints the mean, median and 95th percentile.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.settings import settings_from_dict
from app.triage.classifier import load_classifier
from app.triage.model import save_model
from app.triage.rules import load_rules
from app.triage.training import load_examples, shipped_folder, train


def main() -> None:
    """Time model loading and classification; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an existing model file (default: train one)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    examples = load_examples(shipped_folder())
    rules_dir = str(ROOT / "routing_rules")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or Path(tmp) / "model.joblib"
        if args.model is None:
            save_model(train(examples, load_rules(rules_dir)), path)
        settings = settings_from_dict({"triage": {"rules_dir": rules_dir, "model_path": str(path)}})
        loads = []
        for _ in range(3):
            started = time.perf_counter()
            classifier = load_classifier(settings)
            loads.append(time.perf_counter() - started)
        assert classifier.model is not None, "the model did not load"
        classifier.classify("warm-up", "første kald bygger caches")
        times = []
        for _ in range(args.rounds):
            for example in examples:
                started = time.perf_counter()
                classifier.classify(example.subject, example.text)
                times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"model load: {min(loads):.3f} s best, {max(loads):.3f} s worst of {len(loads)} "
          f"(file {path.name})")
    print(f"classify: {statistics.mean(times):.2f} ms mean, {statistics.median(times):.2f} ms median, "
          f"{times[int(len(times) * 0.95)]:.2f} ms p95 over {len(times)} classifications "
          f"({len(examples)} mails x {args.rounds})")


if __name__ == "__main__":
    main()
