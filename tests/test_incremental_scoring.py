"""A scoring job killed midway keeps what it finished, and its rerun runs only the rest.

Each benchmark whose scoring has an execution cache (MultiPL-E, APPS, DS-1000) is scored by
a real process (tests/scoring_driver.py: the scoring rules' step function under the
rules' job wrapper), which is sent a real SIGKILL or SIGTERM once a few results are in the
cache. The driver counts the programs it sends to the sandbox, so the rerun's executions
are counted from outside: exactly the programs whose results the killed job had not
stored. Every stored entry is complete JSON (entries are written by atomic rename), and no
process of the killed job's sandbox outlives it.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import benchmark_fixture
from test_sandbox import pids_with_environment, wait_for

from ossinstruct.files import write_json_atomic, write_jsonl_atomic

REPO = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).parent / "scoring_driver.py"
DS1000_DATA = REPO.parent / "shared" / "benchmarks" / "ds1000.jsonl.gz"
DS1000_PYTHON = REPO / ".venv-ds1000" / "bin" / "python"
MARKER = "OSSINSTRUCT_TEST_SCORING_JOB"


def cache_entries(work: Path) -> list[Path]:
    """Finished entries (a killed writer can leave only a hidden .tmp file, never a .json)."""
    return sorted((work / "cache").rglob("*.json"))


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def start_driver(work: Path, benchmark: str, settings: dict, log: Path, marker: str) -> subprocess.Popen:
    request = {"benchmark": benchmark, "dir": str(work), "log": str(log), "settings": settings, "workers": 1}
    env = {**os.environ, "PYTHONPATH": str(REPO), MARKER: marker}
    return subprocess.Popen(
        [sys.executable, str(DRIVER), json.dumps(request)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_midway_then_rerun(work: Path, benchmark: str, settings: dict, n_programs: int, sig: int) -> dict:
    """Score, kill with `sig` once 2 results are stored, check what the kill left, rerun;
    returns the rerun's result with "kept" (entries the killed job stored) added."""
    marker = secrets.token_hex(8)
    killed_log, rerun_log = work / "killed.log", work / "rerun.log"
    job = start_driver(work, benchmark, settings, killed_log, marker)
    deadline = time.monotonic() + 300
    while len(cache_entries(work)) < 2 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    running = job.poll() is None
    if running:
        job.send_signal(sig)
    _, stderr = job.communicate(timeout=120)
    assert running, f"the job ended before it could be killed midway (exit {job.returncode}):\n{stderr[-3000:]}"
    assert job.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + signal.SIGTERM), stderr[-3000:]
    if sig == signal.SIGTERM:
        assert "terminated by SIGTERM" in stderr
    assert not (work / "result.json").exists()

    kept = cache_entries(work)
    lines = log_lines(killed_log)
    done = [line for line in lines if line.startswith("done ")]
    assert lines[0] == f"submitted {n_programs}"
    # Each result is stored before its "done" line: at most the one in hand when killed is unlogged.
    assert 2 <= len(kept) < n_programs and len(done) <= len(kept) <= len(done) + 1
    for entry in kept:  # complete JSON, never a truncated file that looks finished
        stored = json.loads(entry.read_text())
        value = stored["result"] if "result" in stored else stored["value"]  # ExecutionCache / APPS's store
        assert stored["key"] == entry.stem and value["status"] in ("pass", "fail")
    # Nothing of the killed job's sandbox is left (after SIGKILL the workers end with their job).
    assert wait_for(lambda: not pids_with_environment(f"{MARKER}={marker}"), timeout_s=60)

    rerun = start_driver(work, benchmark, settings, rerun_log, marker)
    _, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr[-3000:]
    # Executions counted from outside: only the programs the killed job had not stored.
    assert log_lines(rerun_log)[0] == f"submitted {n_programs - len(kept)}"
    assert len([line for line in log_lines(rerun_log) if line.startswith("done ")]) == n_programs - len(kept)
    assert len(cache_entries(work)) == n_programs
    result = json.loads((work / "result.json").read_text())
    result["kept"] = len(kept)
    return result


# ---------------------------------------------------------------- the pool's per-job report


@pytest.mark.parametrize("workers", [1, 2])
def test_the_pool_reports_each_job_as_it_ends(workers):
    from ossinstruct.sandbox.pool import Limits, SandboxPool

    seen, boom = [], []
    with SandboxPool("ossinstruct.sandbox.handlers:echo", workers=workers, limits=Limits(timeout_s=30)) as pool:
        results = pool.run(list(range(6)), on_result=lambda i, r: seen.append((i, r.status, r.value["payload"])))
        assert sorted(seen) == [(i, "ok", i) for i in range(6)] and [r.value["payload"] for r in results] == [*range(6)]

        def fail_on_third(index, result):  # e.g. a full disk when storing: the run stops and says so
            boom.append(index)
            if len(boom) == 3:
                raise OSError("no space left on device")

        with pytest.raises(OSError, match="no space left"):
            pool.run(list(range(20)), on_result=fail_on_third)
        assert len(boom) < 20
        assert [r.value["payload"] for r in pool.run([7, 8])] == [7, 8]  # the pool still works


# ---------------------------------------------------------------- MultiPL-E


def multiple_files(work: Path, n: int) -> None:
    """One JavaScript task (HumanEval_53_add), n distinct samples that busy-wait 0.3 s;
    even samples pass, odd ones fail."""
    from ossinstruct.benchmarks.multipl_e.plugin import BENCHMARK

    row = next(
        json.loads(line)
        for line in benchmark_fixture("multipl-e.jsonl").read_text().splitlines()
        if json.loads(line)["language"] == "js" and json.loads(line)["name"].startswith("HumanEval_53_")
    )
    task = {**row, "task_id": f"js/{row['name']}"}
    write_jsonl_atomic(work / "tasks.jsonl", [task])
    write_json_atomic(work / "info.json", {"languages": ["js"], "limit": None})
    write_json_atomic(work / "expected.json", {})
    samples = []
    for k in range(n):
        body = f"  const end = Date.now() + 300; while (Date.now() < end) {{}}  // sample {k}\n"
        completion = body + ("  return x + y;\n}" if k % 2 == 0 else "  return x - y;\n}")
        samples.append(
            {"task_id": task["task_id"], "sample": k, **BENCHMARK.postprocess(task, "completion", completion)}
        )
    write_jsonl_atomic(work / "samples.jsonl", samples)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_multiple_scoring_killed_midway_keeps_its_results(tmp_path, sig):
    from ossinstruct.sandbox import toolchains as mx

    if mx.missing_toolchains(mx.toolchain_versions(["js"])):
        if os.environ.get("CI"):
            pytest.fail("node is missing (this machine kind has it)")
        pytest.skip("node is not installed here")
    n = 12
    multiple_files(tmp_path, n)
    result = kill_midway_then_rerun(tmp_path, "multipl-e", {"languages": ["js"]}, n, sig)
    assert result["scoring"]["execution"] == {
        "samples": n,
        "distinct": n,
        "cached": result["kept"],
        "ran": n - result["kept"],
    }
    assert result["statuses"] == {"js": {"fail": n // 2, "pass": n // 2}}
    assert result["pass@1"] == {"js": 0.5}


# ---------------------------------------------------------------- APPS


def test_apps_scoring_killed_midway_keeps_its_results(tmp_path):
    from ossinstruct.benchmarks.apps.plugin import BENCHMARK as APPS

    ids = tmp_path / "ids.txt"
    ids.write_text("4100\n")
    fixture = benchmark_fixture("apps.eval.jsonl")
    APPS.prepare(
        path=str(fixture),
        version=None,
        limit=None,
        out_tasks=tmp_path / "tasks.jsonl",
        out_info=tmp_path / "info.json",
        out_expected=tmp_path / "expected.json",
        settings={"problem_ids": str(ids)},
    )
    task = json.loads((tmp_path / "tasks.jsonl").read_text().splitlines()[0])
    reference = APPS.reference_solution(next(json.loads(x) for x in fixture.read_text().splitlines()))
    n = 8
    samples = []
    for k in range(n):  # each of the problem's 3 tests sleeps 0.2 s; even samples pass
        solution = f"import time\ntime.sleep(0.2)  # sample {k}\n" + reference
        if k % 2:
            solution = APPS.corrupted_solution(task, solution)
        samples.append({"task_id": task["task_id"], "sample": k, "completion": solution, "solution": solution})
    write_jsonl_atomic(tmp_path / "samples.jsonl", samples)
    result = kill_midway_then_rerun(tmp_path, "apps", {"problem_ids": str(ids)}, n, signal.SIGKILL)
    assert result["statuses"] == {"introductory": {"fail": n // 2, "pass": n // 2}}


# ---------------------------------------------------------------- DS-1000


def test_ds1000_scoring_killed_midway_keeps_its_results(tmp_path):
    if not (DS1000_PYTHON.is_file() and DS1000_DATA.is_file()):
        why = "DS-1000's execution env .venv-ds1000 (`make ds1000-env`) or its data is absent"
        if os.environ.get("CI"):
            pytest.fail(why + " (.ci/run builds it)")
        pytest.skip(why)
    from ossinstruct.benchmarks.ds1000.plugin import BENCHMARK as DS1000

    with gzip.open(DS1000_DATA, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    tasks = DS1000.tasks_from_rows(rows)
    # A numpy problem whose solution is top-level code (lines can be put before it).
    task = next(
        t
        for t in tasks
        if t["library"] == "numpy"
        and "BEGIN SOLUTION" in t["prompt"]
        and "### BEGIN SOLUTION" not in t["prompt"]
        and not t["reference_code"].startswith((" ", "\t"))
    )
    write_jsonl_atomic(tmp_path / "tasks.jsonl", [task])
    write_json_atomic(tmp_path / "info.json", {"selection": "one problem"})
    write_json_atomic(tmp_path / "expected.json", {})
    n = 8
    samples = []
    for k in range(n):  # even samples: the reference after a 0.3 s sleep; odd ones raise
        solution = f"import time\ntime.sleep(0.3)  # sample {k}\n"
        solution += task["reference_code"] if k % 2 == 0 else "raise ValueError('wrong')\n"
        samples.append({"task_id": task["task_id"], "sample": k, "completion": solution, "solution": solution})
    write_jsonl_atomic(tmp_path / "samples.jsonl", samples)
    result = kill_midway_then_rerun(tmp_path, "ds1000", {"python": str(DS1000_PYTHON)}, n, signal.SIGKILL)
    assert result["statuses"] == {"numpy": {"fail": n // 2, "pass": n // 2}}
