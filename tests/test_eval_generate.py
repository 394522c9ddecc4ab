"""Evaluation sample generation: both engines, the response cache, failures, kill/resume.

The transformers engine runs a tiny randomly initialised Llama with a character-level
tokenizer built here (as in test_transformers_backend.py). The vLLM engine runs for real,
under .venv-vllm, in tests/test_vllm.py.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import torch

from ossinstruct.evaluate import generate as evalgen  # noqa: E402
from ossinstruct.evaluate.generate import (  # noqa: E402
    SAMPLE_FIELDS,
    EvalGenerationError,
    generate_samples,
)
from ossinstruct.evaluate.prompts import build_prompt, postprocess  # noqa: E402
from ossinstruct.files import read_jsonl  # noqa: E402
from ossinstruct.llm.backends.hf_transformers import TransformersBackend  # noqa: E402

SPECIALS = ["<eos>", "<bos>", "<unk>"]
CHARS = [chr(c) for c in range(32, 127)] + ["\n"]

# Small problems in the real HumanEval+ schema (short: one token per character).
PROBLEMS = [
    {"task_id": "HumanEval/0", "entry_point": "add", "prompt": 'def add(a, b):\n    """Add two numbers."""\n'},
    {"task_id": "HumanEval/1", "entry_point": "neg", "prompt": 'def neg(x):\n    """Negate x."""\n'},
    {"task_id": "HumanEval/2", "entry_point": "twice", "prompt": 'def twice(s):\n    """Repeat s twice."""\n'},
    {"task_id": "HumanEval/3", "entry_point": "first", "prompt": 'def first(xs):\n    """First item."""\n'},
]
MAX_NEW = 12
DECODING = {"temperature": 0.0, "max_new_tokens": MAX_NEW}


def _tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers import models as tok_models
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    path = tmp_path_factory.mktemp("tiny-eval")
    tokenizer = _tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=0,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)  # no near-ties: batched and alone pick the same argmax
        model.lm_head.weight[: len(SPECIALS)] = 0.0  # never emits eos: runs to max_new_tokens
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _model(tiny_dir, **extra) -> dict:
    return {"model": str(tiny_dir), "dtype": "float32", "device": "cpu", **extra}


class Spy:
    """Wraps get_backend: counts backends built and records every request and response."""

    def __init__(self, monkeypatch):
        self.built = 0
        self.requests = []
        self.responses = {}
        original = evalgen.get_backend

        def get_backend(config):
            self.built += 1
            backend = original(config)
            generate = backend.generate

            def spying_generate(requests, on_response):
                self.requests.extend(requests)

                def record(request, response):
                    self.responses[request.key] = response
                    on_response(request, response)

                return generate(requests, record)

            backend.generate = spying_generate
            return backend

        monkeypatch.setattr(evalgen, "get_backend", get_backend)


def _run(tmp_path, tiny_dir, name="samples.jsonl", cache="cache", **kwargs):
    options = {
        "benchmark": "humaneval",
        "style": "instruct",
        "engine": "transformers",
        "model": _model(tiny_dir),
        "decoding": DECODING,
        "batch_size": 3,
        **kwargs,
    }
    out = tmp_path / name
    stats = generate_samples(PROBLEMS, cache_dir=tmp_path / cache, out_path=out, **options)
    return list(read_jsonl(out)), stats


# ------------------------------------------------------------------------ transformers


def test_transformers_samples_file_prompts_and_cache(tmp_path, tiny_dir, monkeypatch):
    spy = Spy(monkeypatch)
    records, stats = _run(tmp_path, tiny_dir)

    assert [r["task_id"] for r in records] == [p["task_id"] for p in PROBLEMS]
    assert all(tuple(r) == SAMPLE_FIELDS for r in records)
    assert spy.built == 1 and len(spy.requests) == len(PROBLEMS)
    for problem, record, request in zip(PROBLEMS, records, spy.requests):
        expected = build_prompt("humaneval", problem, "instruct")
        # What reached the backend is build_prompt's text, with its stop strings.
        assert request.prompt == expected.text == record["prompt"]
        assert request.params == {"temperature": 0.0, "top_p": 1.0, "max_tokens": MAX_NEW, "stop": ["```"]}
        response = spy.responses[request.key]
        assert response.prompt_tokens == len(expected.text) + 1  # a token a char, plus <bos>
        assert record["raw"] == response.text and record["raw"]
        assert record["completion_tokens"] == response.completion_tokens <= MAX_NEW
        assert record["finish_reason"] in ("stop", "length") and record["error"] is None
        assert record["benchmark"] == "humaneval" and record["style"] == "instruct"
        assert {k: record[k] for k in ("completion", "solution", "sanitized")} == postprocess(
            "humaneval", problem, "instruct", record["raw"]
        )
        assert record["solution"].startswith(problem["prompt"])
    assert stats["tasks"] == 4 and stats["requests_sent"] == 4 and stats["cache_hits"] == 0
    assert stats["completion_tokens"] == sum(r["completion_tokens"] for r in records) > 0

    # Second run, same cache: nothing is sent, no model is even loaded, same file.
    before = (tmp_path / "samples.jsonl").read_bytes()
    records2, stats2 = _run(tmp_path, tiny_dir, name="again.jsonl")
    assert spy.built == 1 and len(spy.requests) == len(PROBLEMS)
    assert stats2["requests_sent"] == 0 and stats2["cache_hits"] == 4
    assert (tmp_path / "again.jsonl").read_bytes() == before


@pytest.mark.parametrize("style", ["instruct", "completion"])
def test_greedy_is_deterministic_across_runs_and_batch_sizes(tmp_path, tiny_dir, style):
    first, _ = _run(tmp_path, tiny_dir, name="a.jsonl", cache="c1", batch_size=3, style=style)
    second, _ = _run(tmp_path, tiny_dir, name="b.jsonl", cache="c2", batch_size=1, style=style)
    assert [r["raw"] for r in first] == [r["raw"] for r in second]
    assert first == second
    if style == "completion":
        # The tiny model's continuations differ only where the prompts' last characters
        # do: here, so rows were not mixed up by padding or batching.
        assert len({r["raw"] for r in first}) > 1


def test_completion_style_prompt_reaches_the_backend(tmp_path, tiny_dir, monkeypatch):
    spy = Spy(monkeypatch)
    records, _ = _run(tmp_path, tiny_dir, style="completion")
    for problem, record, request in zip(PROBLEMS, records, spy.requests):
        expected = build_prompt("humaneval", problem, "completion")
        assert request.prompt == expected.text == problem["prompt"].strip() + "\n"
        assert request.params["stop"] == expected.stop
        assert record["solution"] == expected.text + record["completion"]
        assert record["style"] == "completion"


def test_a_failed_task_writes_nothing_and_the_rerun_asks_only_for_it(tmp_path, tiny_dir, monkeypatch):
    spy = Spy(monkeypatch)
    original = TransformersBackend._generate_batch

    def failing(self, batch):
        if any("neg(x)" in request.prompt for request, _ in batch):
            raise RuntimeError("simulated device error")
        return original(self, batch)

    monkeypatch.setattr(TransformersBackend, "_generate_batch", failing)
    with pytest.raises(EvalGenerationError, match=r"1 of 4 tasks.*HumanEval/1\b") as info:
        _run(tmp_path, tiny_dir, batch_size=1)
    assert "HumanEval/0" not in str(info.value) and "simulated device error" in str(info.value)
    assert not (tmp_path / "samples.jsonl").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.setattr(TransformersBackend, "_generate_batch", original)
    spy.requests.clear()
    records, stats = _run(tmp_path, tiny_dir, batch_size=1)
    assert [r.prompt for r in spy.requests] == [build_prompt("humaneval", PROBLEMS[1], "instruct").text]
    assert stats["cache_hits"] == 3 and stats["requests_sent"] == 1
    assert all(r["error"] is None for r in records)


def test_accepted_failures_are_written_with_their_error(tmp_path, tiny_dir):
    # A permanent failure: a prompt longer than the model's 1024 positions.
    problems = [
        *PROBLEMS[:2],
        {"task_id": "HumanEval/9", "entry_point": "big", "prompt": "def big():\n    " + "x = 1\n    " * 90 + "\n"},
    ]
    options = {
        "benchmark": "humaneval",
        "style": "instruct",
        "engine": "transformers",
        "model": _model(tiny_dir),
        "decoding": DECODING,
        "cache_dir": tmp_path / "c",
        "out_path": tmp_path / "s.jsonl",
    }
    with pytest.raises(EvalGenerationError, match=r"1 of 3 tasks.*HumanEval/9.*does not fit"):
        generate_samples(problems, **options)
    assert not (tmp_path / "s.jsonl").exists()
    stats = generate_samples(problems, max_failed_tasks=1, **options)
    records = list(read_jsonl(tmp_path / "s.jsonl"))
    assert stats["failed_tasks"] == ["HumanEval/9"]
    assert stats["cache_hits"] == 2 and stats["requests_sent"] == 1
    bad = records[2]
    assert bad["raw"] is None and bad["completion"] == "" and bad["finish_reason"] is None
    assert "does not fit" in bad["error"] and bad["solution"] == problems[2]["prompt"]
    assert all(r["error"] is None and r["raw"] for r in records[:2])


KILLED_CHILD = """
import json, sys, time
from pathlib import Path
from ossinstruct.llm.backends.hf_transformers import TransformersBackend
from ossinstruct.evaluate.generate import generate_samples

args = json.loads(sys.argv[1])
original = TransformersBackend._run_batch
calls = []

def run_batch(self, batch, on_response):
    calls.append(len(batch))
    if len(calls) == 2:  # the first batch is answered (and cached): stop here to be killed
        print("second batch", flush=True)
        time.sleep(120)
    return original(self, batch, on_response)

TransformersBackend._run_batch = run_batch
generate_samples(args["problems"], benchmark="humaneval", style="instruct", engine="transformers",
                 model=args["model"], decoding=args["decoding"], batch_size=3,
                 cache_dir=args["cache"], out_path=args["out"])
print("finished", flush=True)
"""


def test_a_killed_run_leaves_no_samples_file_and_resumes(tmp_path, tiny_dir, monkeypatch):
    """README: "Every response is cached under cache_dir as the teacher's are, so a killed
    job resumes without regenerating", and a killed job never leaves a truncated file that
    looks finished. A real process is killed with SIGKILL in the middle of generation (its
    second batch); no samples file or temp file remains, the first batch's responses are
    cached (written in the background while the second batch runs), and the rerun sends
    only the rest and writes what an uninterrupted run writes."""
    import signal
    import subprocess

    out = tmp_path / "samples.jsonl"
    args = {
        "problems": PROBLEMS,
        "model": _model(tiny_dir),
        "decoding": DECODING,
        "cache": str(tmp_path / "cache"),
        "out": str(out),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line == "second batch\n", (line, child.stderr.read() if child.poll() is not None else "")
        # The cache writers put the first batch's responses on disk while the engine is on
        # the second one (CacheWriter): wait for them, then kill mid-batch.
        deadline = time.monotonic() + 60
        while len(list((tmp_path / "cache").rglob("*.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    cached = {p.stem for p in (tmp_path / "cache").rglob("*.json")}
    assert len(cached) == 3, "the first batch's responses arrived and were cached"

    spy = Spy(monkeypatch)
    records, stats = _run(tmp_path, tiny_dir, batch_size=3)
    assert stats["cache_hits"] == 3 and stats["requests_sent"] == 1
    assert len(spy.requests) == 1 and spy.requests[0].key not in cached
    uninterrupted, _ = _run(tmp_path, tiny_dir, name="fresh.jsonl", cache="fresh")
    assert records == uninterrupted


def test_the_cache_key_follows_the_model(tmp_path, tiny_dir, monkeypatch):
    spy = Spy(monkeypatch)
    _run(tmp_path, tiny_dir)
    assert len(spy.requests) == 4
    # Throughput settings do not change the key.
    _run(tmp_path, tiny_dir, batch_size=2)
    assert len(spy.requests) == 4
    # A different dtype, decoding or checkpoint content does.
    _run(tmp_path, tiny_dir, model=_model(tiny_dir, dtype="bfloat16"))
    assert len(spy.requests) == 8
    _run(tmp_path, tiny_dir, decoding={"max_new_tokens": MAX_NEW - 1})
    assert len(spy.requests) == 12
    retrained = tiny_dir / "config.json"
    stat = retrained.stat()
    try:
        os.utime(retrained, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        _run(tmp_path, tiny_dir)
        assert len(spy.requests) == 16
    finally:
        os.utime(retrained, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_bad_arguments_are_named(tmp_path, tiny_dir):
    with pytest.raises(ValueError, match="unknown evaluation engine 'openai'"):
        _run(tmp_path, tiny_dir, engine="openai")
    with pytest.raises(ValueError, match=r"unknown evaluation decoding keys \['max_tokens'\]"):
        _run(tmp_path, tiny_dir, decoding={"max_tokens": 5})
    with pytest.raises(ValueError, match=re.escape("unknown benchmark 'humaneval+'")):
        _run(tmp_path, tiny_dir, benchmark="humaneval+")
    with pytest.raises(ValueError, match="repeated.*HumanEval/0"):
        generate_samples(
            [PROBLEMS[0], PROBLEMS[0]],
            benchmark="humaneval",
            style="instruct",
            engine="transformers",
            model=_model(tiny_dir),
            cache_dir=tmp_path,
            out_path=tmp_path / "x.jsonl",
        )
    assert not list(tmp_path.glob("*.jsonl"))


# ------------------------------------------------------------------------ one job per model


def test_one_generation_job_per_model_then_samples_from_the_cache(tmp_path, tiny_dir, monkeypatch):
    """Rule eval_generate_model's step: the requests of every benchmark of a model go to one
    backend (one model load); a task that fails in one benchmark fails the job naming that
    benchmark, after the others' responses are cached; the rerun sends only that task; rule
    eval_generate's step then writes each samples file from the cache alone, identical to a
    direct run, and a response missing from the cache is an error that says what to do."""
    from ossinstruct.evaluate.generate import generate_for_model, plan_samples

    spy = Spy(monkeypatch)
    model = _model(tiny_dir, batch_size=4)

    def plans():
        return {
            style: plan_samples(
                PROBLEMS, benchmark="humaneval", style=style, engine="transformers", model=model, decoding=DECODING
            )
            for style in ("instruct", "completion")
        }

    original = TransformersBackend._generate_batch

    def failing(self, batch):
        if any(request.prompt.startswith("def neg") for request, _ in batch):  # completion style only
            raise RuntimeError("simulated device error")
        return original(self, batch)

    monkeypatch.setattr(TransformersBackend, "_generate_batch", failing)
    options = {"engine": "transformers", "model": model, "cache_dir": tmp_path / "cache", "batch_size": 1}
    with pytest.raises(EvalGenerationError, match=r"completion: 1 tasks \(HumanEval/1\).*simulated device error"):
        generate_for_model(plans(), **options)
    assert spy.built == 1 and len(spy.requests) == 2 * len(PROBLEMS)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2 * len(PROBLEMS) - 1

    monkeypatch.setattr(TransformersBackend, "_generate_batch", original)
    manifest = generate_for_model(plans(), identities={"instruct": {"id": 1}}, **options)
    assert spy.built == 2 and manifest["requests"] == 2 * len(PROBLEMS) and manifest["requests_sent"] == 1
    assert manifest["benchmarks"]["completion"]["requests_sent"] == 1
    assert manifest["benchmarks"]["instruct"] == {
        **manifest["benchmarks"]["instruct"],
        "identity": {"id": 1},
        "cache_hits": len(PROBLEMS),
        "requests_sent": 0,
        "engine_versions": {f"transformers {transformers_version()}": len(PROBLEMS)},
    }

    hint = "rerun the model's generation job"
    for style in ("instruct", "completion"):
        out = tmp_path / f"{style}.jsonl"
        generate_samples(
            PROBLEMS, benchmark="humaneval", style=style, out_path=out, cached_only=hint, decoding=DECODING, **options
        )
        direct = tmp_path / f"direct-{style}.jsonl"
        generate_samples(PROBLEMS, benchmark="humaneval", style=style, out_path=direct, decoding=DECODING, **options)
        assert out.read_bytes() == direct.read_bytes()
    assert spy.built == 2, "writing the samples files loaded no model"
    with pytest.raises(EvalGenerationError, match=r"4 of 4 responses are not in the cache .*" + hint):
        generate_samples(
            PROBLEMS,
            benchmark="humaneval",
            style="instruct",
            out_path=tmp_path / "x.jsonl",
            cached_only=hint,
            decoding={**DECODING, "max_new_tokens": MAX_NEW + 1},
            **options,
        )
    assert not (tmp_path / "x.jsonl").exists() and spy.built == 2


def transformers_version() -> str:
    import transformers

    return transformers.__version__
