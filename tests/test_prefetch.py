"""Compute nodes without internet (docs/study.md, "Before the first run: prefetch"): the downloads
the study's jobs need, fetched first by the localrule prefetch into a shared cache, then
every job offline, failing at once, naming what is missing and the command, when something
is not cached. The hub is tests/fakehub.py on 127.0.0.1 (huggingface_hub's real client,
cache layout and completeness check, through HF_ENDPOINT)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SHARED
from fakehub import FakeHub
from test_eval_generate import tiny_dir  # noqa: F401 - the fixture
from test_workflow import snakemake

from ossinstruct import prefetch, study_downloads
from ossinstruct.config import load_config, validate_config

HUMANEVAL = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"


def online_env(hub, **extra) -> dict:
    """A child's environment with the hub at `hub` and no offline switch of the tests'."""
    env = {k: v for k, v in os.environ.items() if k not in (*prefetch.OFFLINE_SWITCHES, prefetch.OFFLINE_ENV)}
    unset = dict.fromkeys(prefetch.OFFLINE_SWITCHES, "")  # empty: off (test_workflow's helper sets them)
    return {**env, **unset, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", **extra}


def test_the_studys_downloads_and_who_needs_them():
    config = load_config(REPO / "config.yaml")
    items = study_downloads.study_items(config)
    assert sorted(items) == [
        "dataset/codeparrot/apps@main",
        "dataset/google-research-datasets/mbpp@main",
        "dataset/nuprl/MultiPL-E@d23b094346c5dbda1080a74bb2a24c18adbf7409",
        "dataset/openai/gsm8k@main",
        "dataset/openai/openai_humaneval@main",
        "dataset/theblackcat102/evol-codealpaca-v1@main",
        "dataset/xlangai/DS-1000@4416080ac5cb80bdf7576aefb8f9a0b4d5426a44",
        "evalplus/HumanEvalPlus@v0.1.9",
        "evalplus/MbppPlus@v0.1.0",
        "model/codellama/CodeLlama-7b-Python-hf@main",
        "model/deepseek-ai/deepseek-coder-6.7b-base@main",
        "model/ise-uiuc/Magicoder-S-CL-7B@main",
        "model/ise-uiuc/Magicoder-S-DS-6.7B@main",
        "tiktoken/cl100k_base",
    ]
    # One download for the base model that is trained and evaluated as it is.
    assert items["model/codellama/CodeLlama-7b-Python-hf@main"].why == (
        "models (Magicoder-CL-7B).base",
        "evaluation.models (CodeLlama-Python-7B)",
    )
    assert items["dataset/codeparrot/apps@main"].spec["allow_patterns"] == ["test.jsonl"]
    # Which jobs wait for which: the first stage's base, not the second stage (a checkpoint).
    assert study_downloads.markers_for(config, "train", "Magicoder-CL-7B") == [
        "results/cache/downloads/ready/model/codellama/CodeLlama-7b-Python-hf@main.json"
    ]
    assert study_downloads.markers_for(config, "train", "MagicoderS-CL-7B") == []
    assert study_downloads.markers_for(config, "generate", "gpt-3.5-turbo-1106") == [
        "results/cache/downloads/ready/tiktoken/cl100k_base.json"
    ]
    # Offline files in benchmark_files (the demo) need no download.
    demo = load_config(REPO / "config.yaml", REPO / "presets" / "demo.yaml")
    assert study_downloads.study_items(demo) == {}


def test_safetensors_repositories_skip_their_duplicate_weights():
    files = ["config.json", "model-00001-of-00002.safetensors", "pytorch_model-00001-of-00002.bin", "tokenizer.model"]
    assert "*.bin" in prefetch.model_ignore_patterns(files)
    assert "*.bin" not in prefetch.model_ignore_patterns(["config.json", "pytorch_model.bin"])


def test_jobs_run_offline_with_the_shared_cache_and_prefetch_goes_online(tmp_path):
    config = validate_config({"downloads": {"cache_dir": str(tmp_path / "dl")}})
    env = prefetch.job_environment(config, environ={"HF_HUB_OFFLINE": "1", "HF_HOME": "/home/u/hf"})
    assert env["HF_HUB_CACHE"] == str(tmp_path / "dl" / "huggingface" / "hub")
    assert env["TIKTOKEN_CACHE_DIR"] == str(tmp_path / "dl" / "tiktoken")
    assert env["HF_TOKEN_PATH"] == "/home/u/hf/token"  # `hf auth login`'s token still found
    assert env["OSSINSTRUCT_OFFLINE"] == env["HF_DATASETS_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    # HF_HUB_OFFLINE was the user's: prefetch leaves it (and then cannot fetch, as asked).
    assert env[prefetch.SET_BY_WORKFLOW_ENV] == "HF_DATASETS_OFFLINE,TRANSFORMERS_OFFLINE"
    online = validate_config({"downloads": {"cache_dir": str(tmp_path / "dl"), "offline_jobs": False}})
    assert "HF_HUB_OFFLINE" not in prefetch.job_environment(online, environ={})


def _hub_repos(tiny: Path) -> dict:
    model = {p.name: p.read_bytes() for p in tiny.iterdir() if p.is_file()}
    model["pytorch_model.bin"] = b"a duplicate of the safetensors weights"
    return {
        ("model", "org/tiny-coder"): model,
        ("dataset", "org/evol-like"): {
            "data.jsonl": b"".join(
                json.dumps({"instruction": f"Do {i}.", "output": f"print({i})"}).encode() + b"\n" for i in range(5)
            )
        },
    }


@pytest.mark.slow
def test_prefetch_then_offline_jobs_and_the_not_cached_message(tmp_path, tiny_dir):  # noqa: F811
    """Through Snakemake: rule prefetch fetches the hub model of an evaluation and an
    Evol-Instruct dataset (safetensors only), then the jobs run with the hub offline and
    read them from the cache; with the cache's snapshot gone, the job fails at once naming
    the model and the command, and `python -m ossinstruct prefetch --item` brings it back."""
    if not HUMANEVAL.is_file():
        pytest.fail(f"no {HUMANEVAL}")
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(HUMANEVAL, tmp_path / "benchmarks" / HUMANEVAL.name)
    config = {
        "benchmark_files": "benchmarks",
        "datasets": [{"name": "evol", "evol": {"source": "huggingface", "dataset": "org/evol-like"}}],
        "models": [],
        "generations": [],
        "decontamination": {"benchmarks": ["humaneval"]},
        "evaluation": {
            "benchmarks": ["humaneval"],
            "limit": 2,
            "engine": "transformers",
            "device": "cpu",
            "dtype": "float32",
            "decoding": {"max_new_tokens": 4},
            "models": [{"name": "tiny-hub", "model": "org/tiny-coder", "revision": "main", "prompt": "completion"}],
            "resources": {"generate": {"gpu": 0, "cpus_per_task": 1}},
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    samples = "results/eval/tiny-hub/humaneval/samples.jsonl"
    clean = "results/datasets/evol/clean.jsonl"
    with FakeHub(_hub_repos(tiny_dir)) as hub:
        env = online_env(hub)
        dry = snakemake("-n", samples, clean, cwd=tmp_path, env=env).stdout
        assert dry.count("rule prefetch:") == 2
        snakemake("--cores", "2", samples, clean, cwd=tmp_path, env=env)
        fetched = [p for m, p in hub.requests if m == "GET" and "/resolve/" in p]
        assert not any(p.endswith("pytorch_model.bin") for p in fetched)  # safetensors only
        # The jobs themselves asked the hub nothing: prefetch did, first (model info,
        # tree listing and files of both repositories).
        asked = len(hub.requests)
        snakemake("--cores", "2", "--forcerun", "eval_generate", "ingest_evol", samples, clean, cwd=tmp_path, env=env)
        assert len(hub.requests) == asked
    records = [json.loads(line) for line in (tmp_path / samples).read_text().splitlines()]
    assert [r["task_id"] for r in records] == ["HumanEval/0", "HumanEval/1"]
    assert len((tmp_path / clean).read_text().splitlines()) == 5
    cache = tmp_path / "results/cache/downloads"
    marker = json.loads((cache / "ready/model/org/tiny-coder@main.json").read_text())
    assert marker["commit"] and marker["files"] >= 3 and marker["ignore_patterns"][0] == "*.bin"
    log = (tmp_path / "results/logs/prefetch/model/org/tiny-coder@main.log").read_text()
    assert "fetching model/org/tiny-coder@main (needed by config key evaluation.models (tiny-hub))" in log

    # The model's files deleted (a cleaned cache), and the samples' cached responses (with
    # them the job needs no model): the job fails at once, naming it.
    shutil.rmtree(cache / "huggingface/hub/models--org--tiny-coder")
    shutil.rmtree(tmp_path / "results/cache/llm")
    # The model's generation job (rule eval_generate_model) is the one that loads it.
    failed = snakemake("--cores", "1", "--forcerun", "eval_generate_model", samples, cwd=tmp_path, check=False)
    assert failed.returncode != 0
    job_log = (tmp_path / "results/logs/eval/tiny-hub/generate.log").read_text()
    assert "model org/tiny-coder (revision main) is not in the download cache" in job_log
    assert "`python -m ossinstruct prefetch --item model/org/tiny-coder@main`" in job_log
    with FakeHub(_hub_repos(tiny_dir)) as hub:
        cli = [sys.executable, "-m", "ossinstruct", "prefetch", "--config", "config.yaml"]
        subprocess.run([*cli, "--item", "model/org/tiny-coder@main"], cwd=tmp_path, env=online_env(hub), check=True)
    snakemake("--cores", "1", "--forcerun", "eval_generate_model", samples, cwd=tmp_path)
    listing = subprocess.run([*cli, "--list"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "fetched  model/org/tiny-coder@main  (config key evaluation.models (tiny-hub))" in listing


def _script(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_evalplus_release_and_tiktoken_bpe_from_local_servers(tmp_path):
    """The release file (gzip on GitHub) and the BPE file are fetched from stand-in URLs
    into the places the jobs read: the evalplus file parsed, the BPE file where tiktoken
    itself looks; offline without them, each names its item and the command."""
    bpe = b"IQ== 0\nIg== 1\nIw== 2\n"  # tiktoken's format: base64 token, rank
    release = HUMANEVAL.read_bytes()  # the v0.1.10 release file, as GitHub serves it (gzip)
    assert release[:2] == b"\x1f\x8b"
    static = {"/releases/HumanEvalPlus.jsonl.gz": release, "/encodings/test.tiktoken": bpe}
    root = tmp_path / "dl"
    with FakeHub(static=static) as server:
        info = prefetch.fetch_evalplus(
            "HumanEvalPlus", "v0.1.10", root, url=server.url + "/releases/HumanEvalPlus.jsonl.gz"
        )
        url = server.url + "/encodings/test.tiktoken"
        import hashlib

        tk = prefetch.fetch_tiktoken("test", root, url=url, sha256=hashlib.sha256(bpe).hexdigest())
        with pytest.raises(ValueError, match="differs from tiktoken's"):
            prefetch.fetch_tiktoken("other", root / "x", url=url, sha256="0" * 64)
    assert info["tasks"] == 164 and Path(info["path"]) == root / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl"
    # tiktoken reads the file from its cache, with the network gone.
    code = f"import tiktoken.load as L, sys; print(L.load_tiktoken_bpe({url!r}, {hashlib.sha256(bpe).hexdigest()!r}))"
    out = _script(code, {**os.environ, "TIKTOKEN_CACHE_DIR": str(root / "tiktoken")})
    assert out.returncode == 0 and out.stdout.strip() == "{b'!': 0, b'\"': 1, b'#': 2}", out.stderr
    assert Path(tk["path"]).parent == root / "tiktoken"

    # Offline without them: one clear error each, before any library tries the network.
    env = {**os.environ, prefetch.OFFLINE_ENV: "1", prefetch.DOWNLOADS_ENV: str(tmp_path / "empty")}
    env["TIKTOKEN_CACHE_DIR"] = str(tmp_path / "empty" / "tiktoken")
    code = (
        "from ossinstruct.generate.teacher import _tiktoken_count\n"
        "try:\n    _tiktoken_count('x', 'gpt-3.5-turbo-1106')\nexcept Exception as e:\n    print(e)\n"
        "from ossinstruct.benchmarks import REGISTRY\n"
        "from ossinstruct.benchmarks.evalplus.data import _download_release\n"
        "try:\n    _download_release(REGISTRY['humaneval'], 'v0.1.9')\nexcept Exception as e:\n    print(e)\n"
    )
    out = _script(code, env).stdout
    assert "tiktoken's cl100k_base BPE file is not in the download cache" in out
    assert "`python -m ossinstruct prefetch --item tiktoken/cl100k_base`" in out
    assert "HumanEvalPlus v0.1.9 (evalplus's release file) is not in the download cache" in out
    assert "--item evalplus/HumanEvalPlus@v0.1.9" in out


def test_an_offline_job_reads_a_hub_benchmark_from_its_snapshot(tmp_path):
    """The decontamination and evaluation loaders read a prefetched hub dataset from the
    local snapshot when the job runs offline (the same rows the hub gives)."""
    rows = [{"question": f"What is {i}?", "answer": f"#### {i}"} for i in range(3)]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    with FakeHub({("dataset", "org/gsm-like"): {"main/test.jsonl": data}}) as hub:
        env = online_env(hub)
        code = (
            "from ossinstruct import prefetch\n"
            f"print(prefetch.fetch(prefetch.dataset_item('org/gsm-like', 'main', 'x'), {str(tmp_path)!r})['files'])"
        )
        assert _script(code, env).stdout.strip() == "1"
    offline = {
        **os.environ,
        prefetch.OFFLINE_ENV: "1",
        prefetch.DOWNLOADS_ENV: str(tmp_path),
        "HF_HUB_CACHE": str(tmp_path / "huggingface" / "hub"),
        "HF_DATASETS_CACHE": str(tmp_path / "datasets-cache"),
    }
    code = (
        "from ossinstruct.benchmarks import load_rows\n"
        "spec = {'source': 'huggingface', 'dataset': 'org/gsm-like', 'revision': 'main', 'split': 'test',"
        " 'data_files': 'main/test.jsonl'}\n"
        "print([r['question'] for r in load_rows('gsm8k', spec)])\n"
        "try:\n    load_rows('gsm8k', {**spec, 'dataset': 'org/not-fetched'})\nexcept Exception as e:\n    print(e)\n"
    )
    out = _script(code, offline)
    assert "['What is 0?', 'What is 1?', 'What is 2?']" in out.stdout, out.stderr
    assert "dataset org/not-fetched (revision main) is not in the download cache" in out.stdout
