"""APPS scoring speed: test processes per second, numpy imported only where named vs always.

    .venv/bin/python bench/apps_scoring.py [--copies 10] [--workers 2]

Samples: the reference solutions of ossinstruct/benchmarks/apps/fixtures/apps.eval.jsonl (six
problems, 17 tests, standard input and call-based), each --copies times (a comment makes
each copy distinct); all pass. Both runs go through Apps.check_samples (the sandbox, one
process per test, no cache). Baseline: the same solutions with a comment naming np, so
that every test process imports numpy as APPS's prelude always did. Same run, same machine;
prints the load average too (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ossinstruct.benchmarks import REGISTRY  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "ossinstruct" / "benchmarks" / "apps" / "fixtures" / "apps.eval.jsonl"


def run(apps, problems, expected, samples, workers):
    n_tests = sum(len(expected[s["task_id"]]["inputs"]) for s in samples)
    start = time.monotonic()
    checks = apps.check_samples(problems, samples, expected, workers=workers, cache_dir=None, settings={})
    elapsed = time.monotonic() - start
    assert all(c["status"] == "pass" for c in checks), [c for c in checks if c["status"] != "pass"][:3]
    return n_tests, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    apps = REGISTRY["apps"]
    raw = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    rows = apps.parse_rows(raw, str(FIXTURE))
    problems = [{"task_id": f"apps/{r['problem_id']}", "difficulty": r["difficulty"]} for r in rows]
    expected = {f"apps/{r['problem_id']}": apps.tests_of(r) for r in rows}

    def samples(marker):
        return [
            {"task_id": f"apps/{r['problem_id']}", "sample": k, "solution": apps.reference_solution(r) + marker(k)}
            for k in range(args.copies)
            for r in raw
        ]

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    n_ours, ours = run(apps, problems, expected, samples(lambda k: f"\n# copy {k}\n"), args.workers)
    n_base, base = run(apps, problems, expected, samples(lambda k: f"\n# copy {k} (np)\n"), args.workers)
    print(f"numpy where named: {n_ours} test processes in {ours:.1f} s ({n_ours / ours:.1f}/s)")
    print(f"numpy always:      {n_base} test processes in {base:.1f} s ({n_base / base:.1f}/s)")
    print(f"ratio: {base / ours:.1f}x; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
