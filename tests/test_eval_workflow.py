"""The whole pipeline through Snakemake, offline, seeds to summary: a local corpus, a
teacher served on 127.0.0.1, a curated set, a tiny model fine-tuned on it, the tiny base
and the fine-tuned model evaluated on the first tasks of the real HumanEval+, and the
summary. Then what a config change reruns: a scoring setting only rescoring, a paper row
only the summary, a decoding setting regeneration."""

import gzip
import json
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import SHARED, coloured_pixels, write_tree
from test_identity import clone
from test_train import _tokenizer
from test_workflow import CORPUS, OFFLINE_ENV, contaminating_responder, planned_jobs, snakemake

from ossinstruct.files import read_jsonl
from ossinstruct.llm.fakeserver import FakeServer

HUMANEVAL = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"
LIMIT = 3


def tiny_model(path):
    """A random Llama with a character tokenizer and room for HumanEval prompts."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_config(
    workdir, base_url, base, *, factor=4.0, max_new_tokens=8, paper_row="CodeLlama-Python-7B", data_dir="benchmarks"
):
    (workdir / "config.yaml").write_text(
        yaml.safe_dump(
            {
                # As presets/demo.yaml: the offline data in config (a directory relative to the
                # working directory), for decontamination (HumanEval+'s texts) and evaluation.
                "benchmark_files": str(data_dir),
                "decontamination": {"benchmarks": ["humaneval"]},
                "seeds": {"shard_size": 3},
                "corpora": {
                    # Relative to the working directory, as the model and the data: the study
                    # directory moves as a whole.
                    "src": {"source": "local", "path": "corpus", "languages": {"python": {"quota": 4}}}
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
                "datasets": [{"name": "oss", "generations": [{"teacher": "fake", "corpus": "src"}]}],
                "models": [
                    {
                        "name": "tiny-oss",
                        "base": str(base),
                        "paper_row": "Magicoder-CL-7B",
                        "stages": [{"dataset": "oss", "max_length": 1024}],
                        "training": {
                            "max_steps": 1,
                            "effective_batch_size": 2,
                            "per_device_batch_size": 2,
                            "warmup_steps": 0,
                            "bf16": False,
                        },
                        "resources": {"gpu": 0, "cpus_per_task": 1},
                    }
                ],
                "evaluation": {
                    "benchmarks": ["humaneval"],
                    "limit": LIMIT,
                    "engine": "transformers",
                    "device": "cpu",
                    "dtype": "float32",
                    "decoding": {"max_new_tokens": max_new_tokens},
                    "models": [
                        {"name": "tiny-base", "model": str(base), "prompt": "completion", "paper_row": paper_row}
                    ],
                    "scoring": {"gt_time_limit_factor": factor, "memory_mb": 1024},
                    "resources": {"generate": {"gpu": 0, "cpus_per_task": 1}, "score": {"cpus_per_task": 2}},
                },
            }
        )
    )


@pytest.mark.slow
@pytest.mark.usefixtures("shared_benchmarks")
def test_seeds_to_summary_and_what_a_change_reruns(tmp_path):
    """README: the whole pipeline through Snakemake from seeds to the summary, and "a change
    rebuilds only the outputs it affects": the exact results the fixture implies (a tiny
    random model passes no task), nothing to do after the run (also with evalplus's
    override variable pointing at the same data, as `make demo` used to set it, and in
    another checkout at another path with the study copied there), a moved
    data directory reruns nothing (data files are keyed on their sha256), new data content
    reruns what reads it, and what a scoring, paper-row or decoding change reruns."""
    write_tree(tmp_path / "corpus", CORPUS)
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(HUMANEVAL, tmp_path / "benchmarks" / HUMANEVAL.name)
    tiny_model(tmp_path / "tiny-base-model")
    base = "tiny-base-model"
    env = {"OSSI_TEST_KEY": "sk-test-123"}
    with FakeServer(contaminating_responder, require_api_key="sk-test-123") as server:
        write_config(tmp_path, server.base_url, base)
        snakemake("--cores", "2", cwd=tmp_path, env=env)

        results = tmp_path / "results"
        for model, style in (("tiny-oss", "instruct"), ("tiny-base", "completion")):
            result = json.loads((results / "eval" / model / "humaneval.json").read_text())
            assert result["model"] == model and result["benchmark"] == "humaneval"
            assert result["n_tasks"] == LIMIT and result["limit"] == LIMIT
            # A tiny random model writes 8 random characters: no task passes.
            assert result["pass@1"] == {"base": 0.0, "plus": 0.0} and result["n_passed"] == {"base": 0, "plus": 0}
            assert result["decoding"]["max_new_tokens"] == 8 and result["decoding"]["prompt"] == style
            assert result["data"]["version"] == "v0.1.10" and result["scoring"]["evalplus_version"] == "0.3.1"
            samples = list(read_jsonl(results / "eval" / model / "humaneval" / "samples.jsonl"))
            assert [s["task_id"] for s in samples] == [f"HumanEval/{i}" for i in range(LIMIT)]
            assert all(s["style"] == style and "sanitized" in s and "raw" in s for s in samples)
            statuses = list(read_jsonl(results / "eval" / model / "humaneval" / "tasks.jsonl"))
            assert [(s["base_status"], s["plus_status"]) for s in statuses] == [("fail", "skipped")] * LIMIT
        instruct = list(read_jsonl(results / "eval" / "tiny-oss" / "humaneval" / "samples.jsonl"))[0]
        assert instruct["prompt"].startswith("You are an exceptionally intelligent coding assistant")
        assert "Write a solution to the following problem:" in instruct["prompt"]

        # The train rule's log holds everything its processes printed; its curves are kept.
        train_log = (results / "logs" / "train" / "tiny-oss.log").read_text()
        assert "ossinstruct train (rank 0): started" in train_log and "ossinstruct train (rank 0): done in" in train_log
        assert list((results / "logs" / "train" / "tiny-oss.tensorboard").glob("events.out.tfevents.*"))

        # The harness self-check: the reference solutions through the same scoring step.
        reference = json.loads((results / "eval" / "reference-solutions" / "humaneval.json").read_text())
        assert reference["n_passed"] == {"base": LIMIT, "plus": LIMIT} and reference["paper_row"] is None
        summary = (results / "summary.md").read_text()
        assert "tiny-oss" in summary and "tiny-base" in summary and "60.4" in summary  # Magicoder-CL-7B's row
        row = next(line for line in summary.splitlines() if line.startswith("| reference-solutions |"))
        assert row.count("100.0") == 2  # base and plus
        assert f"first {LIMIT} of 164" in summary
        assert coloured_pixels(results / "summary.png") > 100  # the paper's bars at least
        assert "Nothing to be done" in snakemake("-n", cwd=tmp_path, env=env).stdout
        # docs/reruns.md: the same study in another checkout of the code at another
        # path (a clone, new modification times), the study directory copied there as
        # `cp -a` does: nothing to do with the project's default invocation.
        other = clone(tmp_path / "second-checkout")
        (other / "study").mkdir()
        for name in ("config.yaml", "corpus", "benchmarks", "tiny-base-model", "results", ".snakemake"):
            copy_entry = shutil.copytree if (tmp_path / name).is_dir() else shutil.copy2
            copy_entry(tmp_path / name, other / "study" / name)
        moved = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(other / "Snakefile"), "-n"],
            cwd=other / "study",
            env={**OFFLINE_ENV, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert moved.returncode == 0 and "Nothing to be done" in moved.stdout, moved.stdout + moved.stderr
        # The data as `make demo` used to pass it (evalplus's variable, another path to a copy).
        copy = tmp_path / "copy" / HUMANEVAL.name
        copy.parent.mkdir()
        shutil.copy(HUMANEVAL, copy)
        override = {**env, "HUMANEVAL_OVERRIDE_PATH": str(copy)}
        assert "Nothing to be done" in snakemake("-n", cwd=tmp_path, env=override).stdout

        # The data directory moves (another path, absolute now): nothing to do.
        moved = tmp_path / "elsewhere" / "shared-benchmarks"
        moved.parent.mkdir()
        (tmp_path / "benchmarks").rename(moved)
        write_config(tmp_path, server.base_url, base, data_dir=moved)
        assert "Nothing to be done" in snakemake("-n", cwd=tmp_path, env=env).stdout
        # Other content at that path: the benchmark's strings and evaluation data rerun.
        with gzip.open(HUMANEVAL, "rt") as src, gzip.open(moved / HUMANEVAL.name, "wt") as dst:
            dst.writelines(src.readlines()[: LIMIT + 1])
        jobs = planned_jobs(snakemake("-n", cwd=tmp_path, env=env).stdout)
        assert jobs["benchmark_strings"] == 1 and jobs["eval_data"] == 1 and jobs["humaneval_similarity"] == 1
        shutil.copy(HUMANEVAL, moved / HUMANEVAL.name)
        assert "Nothing to be done" in snakemake("-n", cwd=tmp_path, env=env).stdout

        # A scoring setting reruns scoring (and the summary), never generation.
        write_config(tmp_path, server.base_url, base, factor=6.0, data_dir=moved)
        jobs = planned_jobs(snakemake("-n", cwd=tmp_path, env=env).stdout)
        assert jobs == {"eval_score": 3, "eval_summary": 1, "all": 1}  # the self-check's too

        # Another paper row redraws the summary only.
        write_config(tmp_path, server.base_url, base, paper_row="DeepSeek-Coder-Base-6.7B", data_dir=moved)
        jobs = planned_jobs(snakemake("-n", cwd=tmp_path, env=env).stdout)
        assert jobs == {"eval_summary": 1, "all": 1}

        # A decoding setting regenerates and rescores; training and data stay.
        write_config(tmp_path, server.base_url, base, max_new_tokens=16, data_dir=moved)
        jobs = planned_jobs(snakemake("-n", cwd=tmp_path, env=env).stdout)
        assert jobs == {"eval_generate_model": 2, "eval_generate": 2, "eval_score": 2, "eval_summary": 1, "all": 1}
