"""What reruns on a finished demo study, at a given commit (docs/reruns.md).

    .venv/bin/python bench/reruns.py [--commit HEAD] [--results DIR]
    .venv/bin/python bench/reruns.py --since OLD [--commit HEAD]

Clones this repository at --commit into a temporary directory with `git clone` (its files
get fresh modification times, as in any clone; ../shared beside it), and finishes the demo
there: every output of presets/demo.yaml's DAG made empty and stamped with
`snakemake --touch --forceall`, which records each job's params as a real run does; or,
with --results DIR, a finished demo's results/ (hard links, modification times kept) and
.snakemake/ (copied) from the checkout DIR. Then it dry-runs two scenarios, each with the
checkout's own settings (plain `snakemake --configfile presets/demo.yaml`) and with
`--rerun-triggers params input software-env`:

  another checkout   a second clone at another path, results/ and .snakemake/ copied in
                     with their modification times (cp -a), and a third with cp -r (new
                     modification times, in the order cp copies);
  code change        the first clone with MultiPL-E's step time limit set to 1 s
                     (the JavaScript run limit in STEP_LIMITS_S, ossinstruct/sandbox/toolchains.py).

With --since OLD, the demo is finished at commit OLD instead (by snakemake --touch) and
its results/ and .snakemake/ copied (cp -a) into a clone at --commit: what an upgrade from
OLD to --commit reruns (nothing, after a change that moves or refactors code without
changing what it computes: issue 25's move of the benchmarks into their folders).

Prints the planned jobs of each (Snakemake's total: rule all included), by rule. Job counts, not timings: the
machine's load does not change them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEMO = ["--configfile", "presets/demo.yaml"]
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
}


def snakemake(checkout: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *DEMO, *args], cwd=checkout, env=ENV, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} in {checkout} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def planned(checkout: Path, *args: str) -> Counter:
    rules = re.findall(r"^(?:local)?rule (\w+):$", snakemake(checkout, "-n", *args), re.M)
    return Counter(rules)


def clone(commit: str, root: Path) -> Path:
    root.mkdir(parents=True)
    checkout = root / "ossinstruct"
    subprocess.run(["git", "clone", "-q", str(REPO), str(checkout)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=checkout, check=True)
    (root / "shared").symlink_to(SHARED)
    return checkout


def finish_by_touch(checkout: Path) -> None:
    text = snakemake(checkout, "-n", "--forceall")
    rules = "".join(p.read_text() for p in (checkout / "rules").glob("*.smk"))
    directories = re.findall(r"directory\(wf\.([A-Z_]+)\)", rules)
    sys.path.insert(0, str(checkout))
    from ossinstruct import workflow

    patterns = [re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(getattr(workflow, n)))) for n in directories]
    for line in text.splitlines():
        if line.startswith("    output: "):
            for output in line[len("    output: ") :].split(", "):
                path = checkout / output
                if any(p.fullmatch(output) for p in patterns):
                    path.mkdir(parents=True, exist_ok=True)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
    snakemake(checkout, "--touch", "--forceall", "--cores", "1")


def show(label: str, jobs: Counter) -> None:
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(jobs.items()))
    print(f"  {label:<44} {sum(jobs.values()):>3} jobs{': ' + rules if rules else ''}")


def upgrade(since: str, commit: str) -> None:
    """The demo finished at `since`, then dry-run by a clone at `commit`."""
    old = subprocess.run(["git", "rev-parse", since], cwd=REPO, capture_output=True, text=True, check=True)
    old = old.stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        first = clone(old, Path(tmp) / "old")
        finish_by_touch(first)
        print(f"demo finished at {old[:12]} by snakemake --touch")
        show(f"finished study, same checkout ({old[:12]})", planned(first))
        second = clone(commit, Path(tmp) / "new")
        for name in ("results", ".snakemake"):
            subprocess.run(["cp", "-a", str(first / name), str(second / name)], check=True)
        print(f"its results/ and .snakemake/ (cp -a) in a clone at {commit[:12]}:")
        show("default invocation", planned(second))
        show("--profile slurm", planned(second, "--profile", "slurm"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--results", type=Path, help="a checkout where the demo finished: its results/, .snakemake/")
    parser.add_argument("--since", help="finish the demo at this older commit; dry-run --commit on its results")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", args.commit], cwd=REPO, capture_output=True, text=True, check=True)
    commit = commit.stdout.strip()
    if args.since:
        upgrade(args.since, commit)
        return
    with tempfile.TemporaryDirectory() as tmp:
        first = clone(commit, Path(tmp) / "first")
        if args.results:
            subprocess.run(["cp", "-al", str(args.results / "results"), str(first / "results")], check=True)
            shutil.copytree(args.results / ".snakemake", first / ".snakemake", symlinks=True)
        else:
            finish_by_touch(first)
        triggers = ["--rerun-triggers", "params", "input", "software-env"]
        print(f"commit {commit[:12]}; demo finished by {'a real run' if args.results else 'snakemake --touch'}")
        show("finished study, same checkout", planned(first))
        second = clone(commit, Path(tmp) / "second")
        for name in ("results", ".snakemake"):
            subprocess.run(["cp", "-a", str(first / name), str(second / name)], check=True)
        print("another checkout (second clone at another path, cp -a):")
        show("default invocation", planned(second))
        show("--rerun-triggers params input software-env", planned(second, *triggers))
        third = clone(commit, Path(tmp) / "third")
        for name in ("results", ".snakemake"):
            subprocess.run(["cp", "-r", str(first / name), str(third / name)], check=True)
        print("another checkout, copied with cp -r (new modification times, in copy order):")
        show("default invocation", planned(third))
        path = first / "ossinstruct" / "sandbox" / "toolchains.py"
        path.write_text(
            path.read_text().replace('"js": {"compile": 5.0, "run": 5.0}', '"js": {"compile": 5.0, "run": 1.0}')
        )
        print("code change (MultiPL-E's JavaScript run limit = 1 s):")
        show("default invocation", planned(first))
        show("--rerun-triggers params input software-env", planned(first, *triggers))


if __name__ == "__main__":
    main()
