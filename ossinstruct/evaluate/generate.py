"""One sample per task of HumanEval+ or MBPP+ from a local model, written as samples.jsonl.

The protocol (prompts, stop strings, post-processing) is in `ossinstruct.evaluate.prompts`;
decoding is the paper's (§3.1): greedy, at most 512 new tokens, one sample per task, so
pass@1 is the fraction of tasks whose sample passes.

The driver mirrors the teacher stage (`ossinstruct.generate.teacher`): every task becomes a
`Request` keyed by `cache.request_key` over the engine, the model's identity, the prompt
text and the decoding parameters; requests already in the `ResponseCache` are not sent
again; the others go to the existing local backend ("transformers" or "vllm"), and each
response is cached the moment it arrives, so a killed GPU job resumes where it stopped.
The samples file is written atomically, and only once every task has its response.

The model's identity in the key is its spec and revision, its dtype (greedy output
depends on it), and for a local checkpoint the names, sizes and modification times of its
files: a checkpoint retrained in place gets new keys and is never answered from the
cache of its predecessor (a copied checkpoint only costs a regeneration).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from pathlib import Path

from ossinstruct.evaluate.prompts import build_prompt, postprocess
from ossinstruct.files import write_jsonl_atomic
from ossinstruct.llm.backends import get_backend
from ossinstruct.llm.backends.base import Request, Response
from ossinstruct.llm.cache import ResponseCache, request_key
from ossinstruct.llm.models import EMBEDDED_PREFIX
from ossinstruct.logs import Progress

log = logging.getLogger("ossinstruct.evaluate.generate")

ENGINES = ("transformers", "vllm")
# The backends' own dtype defaults, so that leaving dtype out and naming it mean the same key.
DEFAULT_DTYPE = {"transformers": "bfloat16", "vllm": "auto"}
DEFAULT_DECODING = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512}

SAMPLE_FIELDS = (
    "task_id",
    "benchmark",
    "style",
    "prompt",
    "raw",
    "completion",
    "solution",
    "sanitized",
    "finish_reason",
    "completion_tokens",
    "error",
)


class EvalGenerationError(RuntimeError):
    pass


def decoding_params(decoding: dict | None, stop: list[str]) -> dict:
    """Request parameters (the backends' names) from an evaluation decoding block."""
    decoding = {**DEFAULT_DECODING, **(decoding or {})}
    unknown = sorted(set(decoding) - set(DEFAULT_DECODING))
    if unknown:
        raise ValueError(f"unknown evaluation decoding keys {unknown}; known: {', '.join(DEFAULT_DECODING)}")
    params = {
        "temperature": float(decoding["temperature"]),
        "top_p": float(decoding["top_p"]),
        "max_tokens": int(decoding["max_new_tokens"]),
        "stop": list(stop),
    }
    if params["temperature"] < 0 or params["max_tokens"] < 1:
        raise ValueError(f"evaluation decoding needs temperature >= 0 and max_new_tokens >= 1, got {decoding}")
    return params


def checkpoint_fingerprint(spec: str) -> str | None:
    """Hash of the file names, sizes and mtimes of a local checkpoint; None for a hub id or
    an embedded model (those are identified by their spec, revision and checksum)."""
    if spec.startswith(EMBEDDED_PREFIX):
        return None
    path = Path(spec).expanduser()
    if path.is_file():
        files = [(path.name, path)]
    elif path.is_dir():
        files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
    else:
        return None
    digest = hashlib.sha256()
    for name, file in files:
        stat = file.stat()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def model_identity(engine: str, model: dict, temperature: float = 0.0) -> dict:
    """What determines the model's answers (throughput settings such as batch size are left
    out, as in the teacher stage)."""
    identity = {
        "model": model["model"],
        "revision": model.get("revision"),
        "dtype": model.get("dtype") or DEFAULT_DTYPE[engine],
    }
    files = checkpoint_fingerprint(model["model"])
    if files:
        identity["files"] = files
    if temperature > 0:  # only sampled text depends on the seed
        identity["seed"] = int(model.get("seed") or 0)
    return identity


def model_block(settings: dict, model: str, revision: str | None = None, dtype: str | None = None) -> dict:
    """The `model` argument of generate_samples from the config's `evaluation` block."""
    return {
        "model": model,
        "revision": revision,
        "dtype": dtype or settings["dtype"],
        "device": settings["device"],
        "gpu_memory_utilization": settings["gpu_memory_utilization"],
    }


def backend_config(engine: str, model: dict, batch_size: int | None) -> dict:
    """The config block the backend is built from (same keys as a teacher block)."""
    config = {**model, "backend": engine}
    if batch_size is not None:
        config["batch_size"] = int(batch_size)
    return config


def _check_problems(problems: list[dict]) -> None:
    seen = Counter(p.get("task_id") for p in problems)
    repeated = sorted(str(t) for t, n in seen.items() if n > 1)
    if repeated:
        raise ValueError(f"task ids repeated in the problems: {', '.join(repeated)}")
    for problem in problems:
        missing = [k for k in ("task_id", "prompt", "entry_point") if k not in problem]
        if missing:
            raise ValueError(f"problem {problem.get('task_id')!r} lacks {', '.join(missing)}")


def generate_samples(
    problems: list[dict],
    *,
    benchmark: str,
    style: str,
    engine: str,
    model: dict,
    decoding: dict | None = None,
    cache_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    batch_size: int | None = None,
    max_failed_tasks: int = 0,
) -> dict:
    """Write `out_path` (one JSON line per problem, in problem order); return the stats.

    `model` is {"model": spec, "revision"?, "dtype"?, "device"?, ...engine options}
    (a teacher block without "backend"); `batch_size` overrides model["batch_size"] for
    the transformers engine (vLLM schedules its own batches).

    A task whose request failed for good (out of memory on a single prompt, a prompt
    longer than the model's context, a vLLM abort) makes this raise EvalGenerationError
    naming the task ids, writing nothing: the responses received are cached, so the rerun
    asks only for those tasks. A score therefore never silently counts an infrastructure
    failure as a wrong answer. Where a failure is known to be permanent (the prompt does
    not fit a small model's context), `max_failed_tasks` accepts that many: they are
    written with `error` set and an empty completion, and evalplus scores them as failed.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown evaluation engine {engine!r}; known: {', '.join(ENGINES)}")
    if not model.get("model"):
        raise ValueError("the model block needs a `model` spec (checkpoint dir, hub id, or embedded:...)")
    started = time.monotonic()
    _check_problems(problems)
    prompts = [build_prompt(benchmark, problem, style) for problem in problems]
    params = [decoding_params(decoding, prompt.stop) for prompt in prompts]
    temperature = params[0]["temperature"] if params else 0.0
    if temperature > 0:
        log.warning(
            "temperature %s: one sampled answer per task gives a noisy pass@1 (the paper's evaluation is greedy)",
            temperature,
        )
    identity = model_identity(engine, model, temperature)
    identity_text = json.dumps(identity, sort_keys=True)
    requests = [
        Request(key=request_key(engine, identity_text, {"prompt": prompt.text}, p), params=p, prompt=prompt.text)
        for prompt, p in zip(prompts, params)
    ]

    cache = ResponseCache(cache_dir)
    responses, misses = cache.lookup(requests)  # two tasks with the same prompt: one request
    cache_hits = len(responses)
    log.info(
        "%s %s (%s, %s): %d tasks, %d cached, %d to generate",
        benchmark,
        style,
        engine,
        model["model"],
        len(problems),
        cache_hits,
        len(misses),
    )

    tokens_this_run = 0
    generation_s = 0.0
    if misses:
        progress = Progress(log, f"{benchmark}: generated", total=len(misses))

        def on_response(request: Request, response: Response) -> None:
            nonlocal tokens_this_run
            cache.put(request.key, response)  # first: a killed job keeps it
            responses[request.key] = response
            tokens_this_run += response.completion_tokens
            progress.step(failed=response.failed)

        backend = get_backend(backend_config(engine, model, batch_size))
        generation_start = time.monotonic()
        try:
            backend.generate(list(misses.values()), on_response)
        finally:
            backend.close()
        generation_s = time.monotonic() - generation_start
        unanswered = [k for k in misses if k not in responses]
        if unanswered:
            raise EvalGenerationError(f"{out_path}: the {engine} backend gave no answer for {len(unanswered)} requests")

    failed = {
        problem["task_id"]: responses[request.key].error
        for problem, request in zip(problems, requests)
        if responses[request.key].failed
    }
    if len(failed) > max_failed_tasks:
        reasons = Counter(failed.values())
        raise EvalGenerationError(
            f"{out_path}: {len(failed)} of {len(problems)} tasks got no response "
            f"({', '.join(map(str, failed))}); errors: {dict(reasons)}. Nothing was written; "
            "the responses received are cached, so a rerun asks only for these tasks."
        )

    records = []
    for problem, prompt, request in zip(problems, prompts, requests):
        response = responses[request.key]
        raw = None if response.failed else (response.text or "")
        records.append(
            {
                "task_id": problem["task_id"],
                "benchmark": benchmark,
                "style": style,
                "prompt": prompt.text,
                "raw": raw,
                **postprocess(benchmark, problem, style, raw or ""),
                "finish_reason": response.finish_reason,
                "completion_tokens": response.completion_tokens,
                "error": response.error,
            }
        )
    write_jsonl_atomic(out_path, records)

    stats = {
        "benchmark": benchmark,
        "style": style,
        "engine": engine,
        "model": identity,
        "decoding": {k: v for k, v in (params[0] if params else {}).items() if k != "stop"},
        "stop": prompts[0].stop if prompts else [],
        "tasks": len(records),
        "cache_hits": cache_hits,
        "requests_sent": len(misses),
        "failed_tasks": sorted(failed),
        "finish_reasons": dict(sorted(Counter(str(r["finish_reason"]) for r in records).items())),
        "completion_tokens": sum(r["completion_tokens"] for r in records),
        "completion_tokens_this_run": tokens_this_run,
        "generation_s": round(generation_s, 3),
        "tokens_per_s_this_run": round(tokens_this_run / generation_s, 1) if generation_s else None,
        "wall_s": round(time.monotonic() - started, 3),
    }
    log.info(
        "%s: %d samples (%d cached, %d generated, %d failed), %d completion tokens "
        "(%d this run in %.1f s), finish reasons %s; %.1f s in all",
        out_path,
        stats["tasks"],
        cache_hits,
        len(misses),
        len(failed),
        stats["completion_tokens"],
        tokens_this_run,
        generation_s,
        stats["finish_reasons"],
        stats["wall_s"],
    )
    return stats
