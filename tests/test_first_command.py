"""The first command on a cluster, tried as a new user would (issue 21's last section).

- The start-up checks (onstart) look at the jobs the command will run: a seeds-only run
  of the full study needs neither OPENAI_API_KEY nor swiftc; a run with a generation job
  needs the key; an out-of-date MultiPL-E result needs the toolchains as a missing one does.
- Toolchains are checked by the scoring job itself, where it runs, before it reads anything.
- `--profile slurm` where no SLURM controller answers: one clear error, no job submitted.
- A wrong evaluation.data.<benchmark>.path fails check-config and the dry-run up front;
  the jobs' own messages name a file as a file (MultiPL-E) and the file (DS-1000).
- `tensorboard --logdir results/logs/train` starts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ossinstruct import workflow as wf
from ossinstruct.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "benchmarks"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/benchmarks")
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def snakemake(args, cwd=REPO, env_extra=None, drop=("OPENAI_API_KEY",), timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    for name in drop:
        env.pop(name, None)
    env.update(env_extra or {})
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- checks of the planned jobs


def test_the_planned_jobs_decide_what_is_checked():
    jobs = [
        ("seeds", {"corpus": "starcoderdata", "lang": "python", "shard": "00000"}),
        ("generate", {"teacher": "gpt-3.5-turbo-1106", "corpus": "starcoderdata", "lang": "rust", "shard": "00001"}),
        ("eval_score_multiple", {"model": "m", "benchmark": "multipl-e"}),
        ("eval_score_sampled", {"model": "m", "benchmark": "ds1000"}),
    ]
    assert wf.teachers_of_jobs(jobs) == {"gpt-3.5-turbo-1106"}
    assert wf.teachers_of_jobs(jobs[:1]) == set()
    assert wf.multiple_scoring_jobs(jobs) == [{"model": "m", "benchmark": "multipl-e"}]
    assert wf.multiple_scoring_jobs([jobs[0], jobs[3]]) == []


@pytest.mark.skipif(shutil.which("swiftc") is not None, reason="swiftc is installed here")
def test_a_seeds_only_run_of_the_full_study_needs_no_key_and_no_swiftc(tmp_path):
    """The issue's command: on a machine without swiftc and without OPENAI_API_KEY, the
    seeds target of the full study starts its first job, the language's seed pool (here it
    then fails: the hub is offline)."""
    done = snakemake(
        ["results/seeds/starcoderdata/python/00000.jsonl", "--cores", "1", "--directory", str(tmp_path)]
        + ["--configfile", str(REPO / "config.yaml")]
    )
    output = done.stdout + done.stderr
    assert "toolchain missing" not in output and "Missing API key" not in output, output[-3000:]
    # The job ran (and failed offline: reading the pool from the hub needs the network).
    assert "rule seed_pool:" in output, output[-3000:]
    assert (tmp_path / "results" / "logs" / "seeds" / "starcoderdata" / "python" / "pool.log").is_file()


def test_a_run_with_a_generation_job_needs_the_teachers_key(tmp_path):
    done = snakemake(
        ["results/generations/gpt-3.5-turbo-1106/starcoderdata/python/00000.jsonl", "--cores", "1"]
        + ["--directory", str(tmp_path), "--configfile", str(REPO / "config.yaml")]
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Missing API key environment variable(s): OPENAI_API_KEY (teacher gpt-3.5-turbo-1106)" in output
    assert not (tmp_path / "results").exists()  # stopped before the seeds job


def _eval_files(root: Path, model: str) -> dict[str, Path]:
    paths = {
        "tasks": root / wf.EVAL_TASKS.format(benchmark="multipl-e-greedy"),
        "info": root / wf.EVAL_DATA_INFO.format(benchmark="multipl-e-greedy"),
        "expected": root / wf.EVAL_EXPECTED.format(benchmark="multipl-e-greedy"),
        "samples": root / wf.EVAL_SAMPLES.format(model=model, benchmark="multipl-e-greedy"),
        "result": root / wf.EVAL_RESULT.format(model=model, benchmark="multipl-e-greedy"),
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    return paths


@pytest.mark.skipif(shutil.which("swiftc") is not None, reason="swiftc is installed here")
def test_an_out_of_date_multiple_result_needs_the_toolchains(tmp_path):
    """Both models' MultiPL-E results exist (only existence was checked before); one is
    older than its samples, so its scoring job is planned and the missing swiftc stops the
    run before any job, naming swiftc and the config key; the old result is untouched."""
    preset = tmp_path / "swift.yaml"
    preset.write_text(f"evaluation:\n  multipl_e:\n    languages: [js, swift]\nbenchmark_files: {SHARED}\n")
    base = _eval_files(tmp_path, "gemma-3-270m-base")
    _eval_files(tmp_path, "demo-gemma-oss")
    now = time.time()
    for name, age in (("tasks", 300), ("info", 300), ("expected", 300), ("result", 200), ("samples", 100)):
        os.utime(base[name], (now - age, now - age))
    args = [str(base["result"].relative_to(tmp_path)), "--rerun-triggers", "mtime", "--directory", str(tmp_path)]
    args += ["--configfile", "presets/demo.yaml", str(preset)]
    dry = snakemake([*args, "-n"])
    assert dry.returncode == 0, dry.stderr[-3000:]
    stats = dry.stdout[dry.stdout.index("Job stats:") :].split("total")[0].split()
    assert stats[-2:] == ["eval_score_multiple", "1"], dry.stdout[-2000:]  # the only planned job
    done = snakemake([*args, "--cores", "1"])
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "swift needs swiftc" in output and "evaluation.multipl_e.languages" in output
    assert base["result"].stat().st_mtime == pytest.approx(now - 200, abs=1)
    assert not (tmp_path / "results" / "logs").exists()  # no job ran


# ---------------------------------------------------------------- toolchains in the scoring job


def test_the_scoring_job_checks_its_own_toolchains_before_reading_anything(tmp_path):
    """The scoring step on a machine whose PATH has no node (a compute node without it):
    it fails at once with the onstart check's message, before it reads the samples (there
    are none: reading them first would be a different error) or starts a sandbox."""
    request = {"benchmark": "multipl-e", "dir": str(tmp_path), "log": str(tmp_path / "log"), "settings": {}}
    request["settings"] = {"languages": ["js"]}
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "scoring_driver.py"), json.dumps(request)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PATH": str(tmp_path / "empty-bin")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "MultiPL-E: toolchain missing: js needs node" in done.stderr
    assert "evaluation.multipl_e.languages" in done.stderr and "samples.jsonl" not in done.stderr
    assert (tmp_path / "log").read_text() == ""  # no program was sent to a sandbox


# ---------------------------------------------------------------- --profile slurm without SLURM


def fake_scontrol(bin_dir: Path, output: str, status: int) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "scontrol"
    script.write_text(f"#!/bin/sh\necho '{output}'\nexit {status}\n")
    script.chmod(0o755)


def test_the_slurm_controller_check(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert "scontrol is not on PATH" in wf.slurm_controller_problem()
    fake_scontrol(tmp_path / "down", "Slurmctld(primary) at head is DOWN", 1)
    monkeypatch.setenv("PATH", str(tmp_path / "down"))
    assert wf.slurm_controller_problem() == "`scontrol ping` says: Slurmctld(primary) at head is DOWN"
    fake_scontrol(tmp_path / "up", "Slurmctld(primary) at head is UP", 0)
    monkeypatch.setenv("PATH", str(tmp_path / "up"))
    assert wf.slurm_controller_problem() is None


def test_profile_slurm_without_a_controller_says_so_once(tmp_path):
    """`snakemake --profile slurm` where no controller answers: one error saying so and how
    to run locally, no sinfo/sacct error, no job submitted."""
    fake_scontrol(tmp_path / "bin", "Slurmctld(primary) at head is DOWN", 1)
    work = tmp_path / "work"
    work.mkdir()
    done = snakemake(
        [
            "--profile",
            "slurm",
            "--configfile",
            "presets/demo.yaml",
            "--directory",
            str(work),
            "results/seeds/stdlib/python/00000.jsonl",
        ],
        env_extra={"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"},
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert output.count("no SLURM controller is reachable from this machine") == 1, output[-3000:]
    assert "without --profile slurm, with --cores N" in output
    assert "sacct" not in output and "sinfo" not in output and "sbatch" not in output
    assert not (work / "results").exists()


# ---------------------------------------------------------------- data paths up front


@pytest.mark.parametrize(
    ("benchmark", "path", "message"),
    [
        ("multipl-e", "{shared}/ds1000.jsonl.gz", r"is a file, not a directory; MultiPL-E's offline data"),
        ("multipl-e", "{tmp}/nowhere", r"does not exist; MultiPL-E's offline data"),
        ("multipl-e", "{tmp}/only-js", r"has no humaneval-java-reworded.json, humaneval-cpp-reworded.json"),
        ("humaneval", "{tmp}/nowhere.jsonl.gz", r"file .*nowhere.jsonl.gz does not exist"),
        ("ds1000", "{shared}/multipl-e", r"is a directory; DS-1000 reads one file"),
    ],
)
def test_a_wrong_evaluation_data_path_is_a_config_error(tmp_path, benchmark, path, message):
    (tmp_path / "only-js").mkdir()
    shutil.copy(SHARED / "multipl-e" / "humaneval-js-reworded.json", tmp_path / "only-js")
    preset = tmp_path / "bad.yaml"
    path = path.format(shared=SHARED, tmp=tmp_path)
    preset.write_text(json.dumps({"evaluation": {"data": {benchmark: {"path": path}}}}))
    with pytest.raises(ConfigError, match=rf"config key evaluation\.data\.{benchmark}\.path: .*{message}"):
        load_config(str(REPO / "config.yaml"), str(preset))


def test_check_config_and_the_dry_run_fail_on_a_wrong_data_path(tmp_path):
    preset = tmp_path / "bad.yaml"
    preset.write_text(f"evaluation:\n  data:\n    multipl-e: {{path: {SHARED / 'ds1000.jsonl.gz'}}}\n")
    check = subprocess.run(
        [sys.executable, "-m", "ossinstruct", "check-config", "--config", "config.yaml", "--config", str(preset)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 2
    assert "config key evaluation.data.multipl-e.path:" in check.stderr and "is a file" in check.stderr
    dry = snakemake(["-n", "--configfile", str(preset)])
    assert dry.returncode != 0
    assert "Invalid configuration: config key evaluation.data.multipl-e.path:" in dry.stdout + dry.stderr
    fine = tmp_path / "fine.yaml"
    fine.write_text(f"evaluation:\n  data:\n    multipl-e: {{path: {SHARED / 'multipl-e'}}}\n")
    load_config(str(REPO / "config.yaml"), str(fine))  # the real directory passes


def test_the_jobs_own_messages_name_the_file(tmp_path):
    """The data rule's messages, for a path given on the command line (eval-data --path):
    MultiPL-E calls a file a file and points at its README section; DS-1000 names the file
    (one line, exit status 2, no traceback)."""
    from ossinstruct.benchmarks.multipl_e.plugin import BENCHMARK as MULTIPLE
    from ossinstruct.files import InputError

    with pytest.raises(InputError, match=r"ds1000.jsonl.gz is a file, not a directory.*docs/benchmarks/multipl-e.md"):
        MULTIPLE.language_rows(str(SHARED / "ds1000.jsonl.gz"), "js")
    done = subprocess.run(
        [sys.executable, "-m", "ossinstruct", "eval-data", "--benchmark", "ds1000"]
        + ["--path", str(SHARED / "HumanEvalPlus.jsonl.gz"), "--out-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: {SHARED / 'HumanEvalPlus.jsonl.gz'}: not DS-1000's release file" in done.stderr
    assert "evaluation.data.ds1000.path" in done.stderr


# ---------------------------------------------------------------- tensorboard


def test_tensorboard_starts_on_the_training_logs(tmp_path):
    """The README's `tensorboard --logdir results/logs/train` starts and serves (tensorboard
    2.20 imports pkg_resources: the pinned setuptools still has it)."""
    tensorboard = shutil.which("tensorboard") or str(Path(sys.executable).parent / "tensorboard")
    logdir = tmp_path / "results" / "logs" / "train"
    logdir.mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [tensorboard, "--logdir", "results/logs/train", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, page = time.monotonic() + 120, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode("utf-8", "replace")
                break
            except OSError:
                time.sleep(0.5)
        if page is None:
            server.kill()
            raise AssertionError(f"tensorboard did not start:\n{server.communicate()[0][-3000:]}")
        assert "<tf-tensorboard" in page or "TensorBoard" in page
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(30)
