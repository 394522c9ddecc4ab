"""MultiPL-E scoring speed: the project's scorer against a naive loop (prints figures).

    .venv/bin/python bench/multiple_scoring.py [--languages java js cpp php rs]
        [--problems 20] [--samples 20] [--workers 2] [--no-naive]

Samples: for each language, the first --problems rows of ../shared/benchmarks/multipl-e and
--samples completions per problem, drawn (fixed seed) from four variants with weights
0.70 / 0.15 / 0.10 / 0.05, as a temperature-0.2 model repeats itself. Every variant
compiles whatever the return type (a throw / panic, plus a variant comment), so each
distinct program pays a real compile and run (and fails: timing only).

Ours: ossinstruct.benchmarks.multipl_e.execution.score_programs (sandboxed, each distinct program
once, a fresh empty execution cache). Naive: one fresh compile and run per sample with
plain subprocess in a temporary directory, no sandbox, no cache. Same run, same machine.
Also prints, per language, the cost of one distinct program that sizes the scoring jobs
(docs/benchmarks/multipl-e.md, "Sizing the scoring jobs"): CPU seconds (the children's user+sys), worker seconds
(the job's compile + run time inside its sandbox job) and the largest resident set of any
process so far (ru_maxrss of the waited-for children: run one language per invocation for
a per-language figure). --no-naive skips the naive loop (the cost figures only).
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ossinstruct.benchmarks.multipl_e import execution  # noqa: E402
from ossinstruct.benchmarks.multipl_e import plugin as me  # noqa: E402
from ossinstruct.sandbox import toolchains as mx  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "multipl-e"
BODY = {
    "java": '        throw new RuntimeException("no");',
    "cpp": "    throw 1;",
    "rs": '    panic!("no")',
    "js": '  throw new Error("no");\n}',
    "php": '  throw new Exception("no");\n}',
    "swift": '    fatalError("no")',
}
COMMENT = {"php": "#", "rs": "//", "js": "//", "java": "//", "cpp": "//", "swift": "//"}
WEIGHTS = (0.70, 0.15, 0.10, 0.05)


def samples(lang: str, n_problems: int, n_samples: int, rng: random.Random) -> list[tuple[str, str]]:
    rows = me.load_language_rows(DATA, lang)[:n_problems]
    jobs = []
    for row in rows:
        for _ in range(n_samples):
            v = rng.choices(range(len(WEIGHTS)), WEIGHTS)[0]
            completion = f"{COMMENT[lang]} variant {v}\n" + BODY[lang]
            jobs.append((lang, me.program_of(row, "\n" + completion)))
    return jobs


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def naive(jobs: list[tuple[str, str]]) -> None:
    for lang, program in jobs:
        job = mx.build_job(lang, program)
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in job["files"].items():
                Path(tmp, name).write_text(text)
            for argv in (job["compile"], job["run"]):
                if argv is None:
                    continue
                try:
                    done = subprocess.run(argv, cwd=tmp, capture_output=True, timeout=job["timeout_s"])
                except subprocess.TimeoutExpired:
                    break
                if done.returncode != 0 and argv is job["compile"]:
                    break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", nargs="+", default=["java", "js", "cpp", "php", "rs"])
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop (cost figures only)")
    args = parser.parse_args()
    versions = mx.require_toolchains(args.languages)
    rng = random.Random(0)
    by_lang = {lang: samples(lang, args.problems, args.samples, rng) for lang in args.languages}
    all_jobs = [j for lang in args.languages for j in by_lang[lang]]
    distinct = {lang: len({p for _, p in by_lang[lang]}) for lang in args.languages}
    shape = f"{args.problems} problems x {args.samples} samples x {len(args.languages)} languages"
    print(f"samples: {len(all_jobs)} ({shape})")
    print(f"distinct programs: {distinct} (total {sum(distinct.values())})")
    ours_s, cpu, worker, rss = 0.0, {}, {}, {}
    with tempfile.TemporaryDirectory() as cache:
        for lang in args.languages:
            c0, t0 = children_cpu(), time.perf_counter()
            results, stats = execution.score_programs(
                by_lang[lang], cache_dir=cache, versions=versions, workers=args.workers
            )
            ours_s += time.perf_counter() - t0
            cpu[lang] = (children_cpu() - c0) / stats["ran"]
            ran = {r["key"]: r for r in results if not r.get("cached")}
            worker[lang] = sum(r.get("compile_s", 0.0) + r.get("run_s", 0.0) for r in ran.values()) / len(ran)
            rss[lang] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            # php -l reports HumanEval_23's redeclared strlen as a compile error (no completion passes it)
            bad = [r["status"] for r in results if r["status"] not in ("fail", "compile_error")]
            if bad:
                print(f"  {lang}: unexpected statuses {sorted(set(bad))}")
    print(f"ours:  {ours_s:7.1f} s  {len(all_jobs) / ours_s:7.2f} samples/s (sandboxed, {args.workers} workers, cache)")
    if not args.no_naive:
        t0 = time.perf_counter()
        naive(all_jobs)
        naive_s = time.perf_counter() - t0
        rate = len(all_jobs) / naive_s
        print(f"naive: {naive_s:7.1f} s  {rate:7.2f} samples/s (no sandbox, one compile+run per sample)")
        print(f"speed-up: {naive_s / ours_s:.1f}x")
    print("CPU seconds per distinct program: " + ", ".join(f"{lang} {s:.2f}" for lang, s in cpu.items()))
    print("worker seconds per distinct program: " + ", ".join(f"{lang} {s:.2f}" for lang, s in worker.items()))
    print("largest resident set so far (MB): " + ", ".join(f"{lang} {s:.0f}" for lang, s in rss.items()))


if __name__ == "__main__":
    main()
