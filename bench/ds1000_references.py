"""Validation: DS-1000's 1000 reference solutions through the scoring path, in its pinned
environment (target: at least 99% pass). Lists every failure and why.

    .venv/bin/python bench/ds1000_references.py [--data ../shared/benchmarks/ds1000.jsonl.gz]
        [--workers 2] [--limit N] [--out results/benchmarks/ds1000_references.json]

Opt-in (minutes): not a test. Needs `make ds1000-env` (or --python / evaluation settings).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ossinstruct.benchmarks.ds1000 import environment as ds1000_env  # noqa: E402
from ossinstruct.benchmarks.ds1000 import plugin as ds  # noqa: E402
from ossinstruct.files import write_json_atomic  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "ds1000.jsonl.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--python", default=None, help="DS-1000 interpreter (default: .venv-ds1000)")
    parser.add_argument("--out", default=None, help="also write the figures and failures as JSON here")
    args = parser.parse_args()
    settings = {"python": args.python} if args.python else {}
    rows = ds.BENCHMARK.load_rows({"source": "file", "path": args.data})
    tasks = ds.BENCHMARK.tasks_from_rows(rows, args.limit)
    problems = {t["task_id"]: t for t in tasks}
    report = ds1000_env.environment_report(settings)
    start = time.monotonic()
    results = ds1000_env.check_solutions(
        problems, [(t["task_id"], t["reference_code"]) for t in tasks], settings, workers=args.workers
    )
    seconds = time.monotonic() - start
    passed = Counter()
    total = Counter(t["library"] for t in tasks)
    failures = []
    for task, result in zip(tasks, results):
        if result["status"] == "pass":
            passed[task["library"]] += 1
        else:
            failures.append(
                {
                    "task_id": task["task_id"],
                    "library": task["library"],
                    "status": result["status"],
                    "error": (result.get("error") or "")[-600:],
                }
            )
    summary = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n_tasks": len(tasks),
        "passed": sum(passed.values()),
        "pass_rate": sum(passed.values()) / len(tasks),
        "per_library": {lib: f"{passed[lib]}/{n}" for lib, n in total.items()},
        "seconds": round(seconds, 1),
        "workers": args.workers,
        "environment": report,
        "failures": failures,
    }
    print(
        f"DS-1000 references: {summary['passed']}/{len(tasks)} pass ({100 * summary['pass_rate']:.1f}%) "
        f"in {seconds:.0f} s with {args.workers} workers"
    )
    for lib, figure in summary["per_library"].items():
        print(f"  {lib:11s} {figure}")
    print(f"interpreter {report['interpreter']}; differs from DS-1000's pins: {report['differs_from_pins']}")
    for failure in failures:
        print(f"FAIL {failure['task_id']} ({failure['library']}) {failure['status']}: {failure['error'][-300:]}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.out, summary)
    return 0 if summary["pass_rate"] >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
