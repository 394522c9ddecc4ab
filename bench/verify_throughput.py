"""Verification speed: the verify step against a naive one-process-per-sample loop (prints figures).

    .venv/bin/python bench/verify_throughput.py [--per-language 8] [--workers 2]
        [--languages python shell cpp java rs js] [--repeat 3]

Samples: --per-language crafted samples per language (solution + tests, every program
distinct so nothing is deduplicated; 3 in 4 pass, 1 in 4 fails an assertion), in the
languages whose toolchains are installed (php too when `php` is on PATH).

Ours: ossinstruct.curate.verify.verify_samples (one SandboxPool of --workers zygotes, a
fresh empty execution cache), then the same samples again (all cache hits). Naive: for
each sample, in order, each step (compile, run) as a fresh plain subprocess in a
temporary directory, no sandbox, no cache: the commands verify builds, so the work per
sample is the same. CPU (children's user+sys) is measured per step in the naive loop, which
gives the share of CPU spent compiling vs running per language; the pool reports its
jobs' wall time per step.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ossinstruct.curate import verify  # noqa: E402

# language: (fence tag, solution with {k}, passing tests with {k}, failing tests with {k})
PROGRAMS = {
    "python": (
        "python",
        "def add(a, b):\n    return a + b + {k}",
        "assert add(1, 2) == 3 + {k}",
        "assert add(1, 2) == 4 + {k}",
    ),
    "shell": (
        "bash",
        "add() {{ echo $(( $1 + $2 + {k} )); }}",
        '[ "$(add 1 2)" = $(( 3 + {k} )) ] || exit 1',
        '[ "$(add 1 2)" = $(( 4 + {k} )) ] || exit 1',
    ),
    "cpp": (
        "cpp",
        "#include <vector>\nint add(int a, int b) {{ return a + b + {k}; }}",
        "#include <cassert>\nint main() {{ assert(add(1, 2) == 3 + {k}); }}",
        "#include <cassert>\nint main() {{ assert(add(1, 2) == 4 + {k}); }}",
    ),
    "java": (
        "java",
        "public class Solution {{ static int add(int a, int b) {{ return a + b + {k}; }} }}",
        "public class Main {{ public static void main(String[] a) {{ assert Solution.add(1, 2) == 3 + {k}; }} }}",
        "public class Main {{ public static void main(String[] a) {{ assert Solution.add(1, 2) == 4 + {k}; }} }}",
    ),
    "rs": (
        "rust",
        "fn add(a: i32, b: i32) -> i32 {{ a + b + {k} }}",
        "fn main() {{ assert_eq!(add(1, 2), 3 + {k}); }}",
        "fn main() {{ assert_eq!(add(1, 2), 4 + {k}); }}",
    ),
    "js": (
        "javascript",
        "function add(a, b) {{ return a + b + {k}; }}",
        "const assert = require('assert');\nassert.strictEqual(add(1, 2), 3 + {k});",
        "const assert = require('assert');\nassert.strictEqual(add(1, 2), 4 + {k});",
    ),
    "php": (
        "php",
        "<?php\nfunction add($a, $b) {{ return $a + $b + {k}; }}",
        "assert(add(1, 2) === 3 + {k});",
        "assert(add(1, 2) === 4 + {k});",
    ),
}
TOOL = {"python": None, "shell": "bash", "cpp": "g++", "java": "javac", "rs": "rustc", "js": "node", "php": "php"}


def make_samples(languages: list[str], per_language: int) -> list[dict]:
    samples = []
    for k in range(per_language):
        for lang in languages:
            tag, solution, good, bad = PROGRAMS[lang]
            tests = bad if k % 4 == 3 else good
            samples.append(
                {
                    "lang": lang,
                    "solution": f"```{tag}\n{solution.format(k=k)}\n```",
                    "tests": f"```{tag}\n{tests.format(k=k)}\n```",
                }
            )
    return samples


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def naive(samples: list[dict], timeout_s: float, compile_timeout_s: float) -> tuple[float, dict, list[str]]:
    """(wall seconds, {lang: {"compile": cpu s, "run": cpu s}}, statuses)."""
    cpu: dict[str, dict[str, float]] = defaultdict(lambda: {"compile": 0.0, "run": 0.0})
    statuses = []
    start = time.monotonic()
    for s in samples:
        lang = verify.sample_language(s)
        payload = verify.build_payload(
            lang, verify.code_of(s["solution"], lang), verify.code_of(s["tests"], lang), timeout_s, compile_timeout_s
        )
        with tempfile.TemporaryDirectory(prefix="verify-naive-") as work:
            for name, content in payload["files"].items():
                Path(work, name).write_text(content)
            status = "pass"
            for step, argv, limit in (
                ("compile", payload.get("compile"), compile_timeout_s),
                ("run", payload["run"], timeout_s),
            ):
                if not argv:
                    continue
                before = children_cpu()
                try:
                    done = subprocess.run(argv, cwd=work, capture_output=True, timeout=limit, stdin=subprocess.DEVNULL)
                    failed = done.returncode != 0
                except subprocess.TimeoutExpired:
                    failed = True
                cpu[lang][step] += children_cpu() - before
                if failed:
                    status = "fail"
                    break
            statuses.append(status)
    return time.monotonic() - start, dict(cpu), statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--languages", nargs="+", default=list(PROGRAMS))
    parser.add_argument("--timeout-s", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3, help="alternated runs of both loops; medians are printed")
    args = parser.parse_args()
    languages = [lang for lang in args.languages if TOOL[lang] is None or shutil.which(TOOL[lang])]
    skipped = sorted(set(args.languages) - set(languages))
    samples = make_samples(languages, args.per_language)
    print(
        f"{len(samples)} samples: {args.per_language} per language over {', '.join(languages)}"
        + (f" (no toolchain: {', '.join(skipped)})" if skipped else "")
        + f"; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )

    ours_times, naive_times, cached_times = [], [], []
    for rep in range(args.repeat):  # alternated, so that a change of the machine's load hits both
        with tempfile.TemporaryDirectory(prefix="verify-bench-cache-") as cache:
            start = time.monotonic()
            results, stats = verify.verify_samples(
                samples, workers=args.workers, cache_dir=cache, timeout_s=args.timeout_s, compile_timeout_s=30.0
            )
            ours_times.append(time.monotonic() - start)
            start = time.monotonic()
            _, cached = verify.verify_samples(samples, workers=args.workers, cache_dir=cache, timeout_s=args.timeout_s)
            cached_times.append(time.monotonic() - start)
        naive_s, cpu, naive_statuses = naive(samples, args.timeout_s, 30.0)
        naive_times.append(naive_s)
        ours = [r["verify_status"] for r in results]
        assert ours == naive_statuses, "the two loops disagree on a status"
        print(f"  run {rep + 1}: ours {ours_times[-1]:.2f} s, naive {naive_s:.2f} s, load {os.getloadavg()[0]:.2f}")
    ours_s, naive_s, cached_s = (statistics.median(t) for t in (ours_times, naive_times, cached_times))
    passed = sum(1 for s in ours if s == "pass")
    n = len(samples)
    print(f"statuses: {passed} pass, {n - passed} fail (both loops agree); medians of {args.repeat} runs:")
    print(f"ours   ({args.workers} workers, sandboxed): {ours_s:7.2f} s  {n / ours_s:6.2f} samples/s")
    print(f"cached rerun (all {cached['cached']} jobs hit):  {cached_s:7.2f} s  {n / cached_s:6.2f} samples/s")
    print(f"naive  (1 process a step, no sandbox): {naive_s:7.2f} s  {n / naive_s:6.2f} samples/s")
    print(f"speed-up ours / naive: {naive_s / ours_s:.2f}x")
    print(f"ours, jobs' wall time in steps: compile {stats['compile_s']:.2f} s, run {stats['run_s']:.2f} s")
    print("CPU seconds per sample (naive loop's last run, children user+sys): compile / run, compile share")
    total = {"compile": 0.0, "run": 0.0}
    for lang in languages:
        c, r = cpu[lang]["compile"], cpu[lang]["run"]
        total["compile"] += c
        total["run"] += r
        share = 100 * c / (c + r) if c + r else 0.0
        k = args.per_language
        print(f"  {lang:7s} {c / k:6.3f} / {r / k:6.3f}   {share:5.1f}% compile")
    all_cpu = total["compile"] + total["run"]
    print(
        f"  all     compile {100 * total['compile'] / all_cpu:.1f}% of {all_cpu:.1f} CPU s, "
        f"run {100 * total['run'] / all_cpu:.1f}%"
    )


if __name__ == "__main__":
    main()
