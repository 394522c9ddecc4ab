"""A failed job's log file holds its traceback and a one-line cause (also through Snakemake
and on SLURM, where stderr is elsewhere); long steps log progress with rate and ETA."""

import os
import shutil
import subprocess
import sys
import textwrap

import yaml
from conftest import REPO, SHARED

from ossinstruct.logs import Progress, format_seconds, one_line_cause

OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
HUMANEVAL_PLUS = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"


def test_snakemake_job_failure_leaves_traceback_and_cause_in_its_log(tmp_path):
    # The case: MBPP+ evaluation data pointed at the HumanEval+ file.
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    (tmp_path / "mistake.yaml").write_text(
        yaml.safe_dump(
            {
                "evaluation": {
                    "benchmarks": ["mbpp"],
                    "data": {"mbpp": {"path": str(HUMANEVAL_PLUS)}},
                }
            }
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "--configfile",
            "mistake.yaml",
            "--cores",
            "1",
            "results/eval/data/mbpp.jsonl",
        ],
        # The config's teacher key is checked at start-up, though this target needs none.
        cwd=tmp_path,
        env={**OFFLINE_ENV, "OPENAI_API_KEY": "unused"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "eval" / "data" / "mbpp.log").read_text()
    assert "INFO rule eval_data (benchmark=mbpp): started" in log
    assert "Traceback (most recent call last)" in log and "prepare_benchmark" in log
    cause = [line for line in log.splitlines() if " cause: " in line]
    assert len(cause) == 1
    assert cause[0].endswith(
        f"cause: {HUMANEVAL_PLUS}: line 1: task HumanEval/0 is not from MBPP+ (expected task ids Mbpp/...; "
        "this looks like a HumanEval+ file); check --path / evaluation.data.mbpp.path"
    )
    assert not (tmp_path / "results" / "eval" / "data" / "mbpp.jsonl").exists()


def run_logged(tmp_path, body: str, log_name: str = "job.log"):
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from ossinstruct.logs import logged_job
        with logged_job({str(tmp_path / log_name)!r}, "rule demo (shard=3)") as log:
            log.info("working")
        """)
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)


def test_unexpected_error_logs_traceback_and_cause_to_file_and_stderr(tmp_path):
    result = run_logged(
        tmp_path,
        """
        def inner():
            return {}["sanitized"]
        inner()
        """,
    )
    assert result.returncode == 1
    log = (tmp_path / "job.log").read_text()
    assert "rule demo (shard=3): working" in log
    assert 'return {}["sanitized"]' in log and "KeyError: 'sanitized'" in log  # the full traceback
    assert log.rstrip().splitlines()[-1].endswith("cause: KeyError: missing key 'sanitized'")
    assert "Traceback" in result.stderr and "cause: KeyError" in result.stderr


def test_input_error_is_one_line_on_stderr_and_traceback_only_in_log(tmp_path):
    result = run_logged(
        tmp_path,
        """
        from ossinstruct.files import read_jsonl
        list(read_jsonl("/nonexistent/seeds.jsonl", what="seed"))
        """,
    )
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if "INFO" not in line]
    assert error_lines == ["error: /nonexistent/seeds.jsonl: no such file (expected a JSON Lines file of seeds)"]
    log = (tmp_path / "job.log").read_text()
    assert "Traceback" in log and "cause: /nonexistent/seeds.jsonl: no such file" in log


def test_successful_job_logs_start_and_done(tmp_path):
    result = run_logged(tmp_path, "pass\n")
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "job.log").read_text()
    assert "started (host" in log and "working" in log and "done in" in log


def test_one_line_cause_keeps_only_the_first_line():
    assert one_line_cause(RuntimeError("boom\nmore detail")) == "RuntimeError: boom"
    assert one_line_cause(ValueError()) == "ValueError"


def test_progress_lines_have_count_rate_and_eta(monkeypatch):
    clock = iter([0.0, 5.0, 12.0, 12.0, 20.0])  # start, step, step, its line, done
    monkeypatch.setattr("ossinstruct.logs.time.monotonic", lambda: next(clock))
    lines = []
    progress = Progress(None, "expected outputs", total=10, every_s=10, printer=lines.append)
    progress.step()  # t=5: not yet
    progress.step(2)  # t=12: 3/10 at 0.25/s, 28 s left
    assert lines == ["expected outputs: 3/10 (30%) tasks, 0.2/s, 12 s elapsed, ETA 28 s"]
    progress.done()  # t=20
    assert lines[-1] == "expected outputs: 3 tasks in 20.0 s"
    assert format_seconds(3725) == "1 h 02 min" and format_seconds(61) == "1 min 01 s"


def test_progress_writes_the_last_step_and_counts_failures(monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 2.0])  # start, step, last step, its line
    monkeypatch.setattr("ossinstruct.logs.time.monotonic", lambda: next(clock))
    lines = []
    progress = Progress(None, "shard", total=2, unit="requests", printer=lines.append)
    progress.step(failed=True)
    progress.step(failed=False)
    progress.done()  # the last step's line already closed it
    assert lines == ["shard: 2/2 (100%) requests, 1.0/s, 2 s elapsed, ETA 0 s, 1 failed"]


def test_train_failure_lands_in_its_log(tmp_path):
    log = tmp_path / "train.log"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ossinstruct",
            "train",
            "--base-model",
            "x",
            "--train-file",
            str(tmp_path / "missing.jsonl"),
            "--output-dir",
            str(tmp_path / "out"),
            "--log",
            str(log),
        ],
        cwd=REPO,
        env=OFFLINE_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert f"cause: {tmp_path / 'missing.jsonl'}: no such file" in log.read_text()
    assert "Traceback" in log.read_text()


def test_sandbox_pool_reports_each_finished_job():
    """Scoring logs progress from this callback (one step per checked sample)."""
    from ossinstruct.sandbox.pool import Limits, SandboxPool

    for workers in (1, 2):
        done = []
        with SandboxPool(
            "ossinstruct.sandbox.handlers:echo",
            workers=workers,
            limits=Limits(timeout_s=30),
        ) as pool:
            results = pool.run(list(range(5)), on_done=lambda done=done: done.append(len(done)))
        assert [r.status for r in results] == ["ok"] * 5 and done == [0, 1, 2, 3, 4]


def test_sigterm_is_logged_and_partial_files_are_removed(tmp_path):
    """A SLURM time limit or scancel sends SIGTERM: the job unwinds (an atomic write in
    progress leaves nothing) and its log says why it stopped."""
    out = tmp_path / "shard.jsonl"
    result = run_logged(
        tmp_path,
        f"""
        import os, signal, time
        from ossinstruct.files import atomic_path
        with atomic_path({str(out)!r}) as tmp:
            tmp.write_text("half a shard")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        """,
    )
    assert result.returncode == 143
    log = (tmp_path / "job.log").read_text()
    assert (
        log.rstrip()
        .splitlines()[-1]
        .endswith(
            "cause: terminated by SIGTERM (a time limit, a preemption or a "
            "cancel); finished work and cached responses are kept: rerun to resume"
        )
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.log", "job.py"]
