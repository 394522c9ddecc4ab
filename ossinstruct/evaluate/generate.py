"""Samples of a benchmark's tasks from a local model, written as samples.jsonl.

The protocol (prompts, stop strings, post-processing) is the benchmark's
(`ossinstruct.benchmarks`, through `ossinstruct.evaluate.prompts`). HumanEval+ and MBPP+
follow the paper's §3.1: greedy, at most 512 new tokens, one sample per task, so pass@1 is
the fraction of tasks whose sample passes. A benchmark with a sampling protocol of its own
(``Benchmark.sampling``: MultiPL-E's Table 2, DS-1000) gets `n_samples` samples per task,
sample i with the request seed i (its own cache key: a killed job keeps every sample it
received), and, where the protocol bounds prompt plus completion (``max_length``, the bigcode
harness's max_length_generation), max_tokens = max_length - the prompt's tokens under the
model's own tokenizer (at least 1).

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

import functools
import hashlib
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ossinstruct.evaluate.prompts import build_prompt, postprocess
from ossinstruct.files import write_jsonl_atomic
from ossinstruct.llm.backends import get_backend
from ossinstruct.llm.backends.base import Request, Response
from ossinstruct.llm.cache import CacheWriter, ResponseCache, request_key
from ossinstruct.llm.models import EMBEDDED_PREFIX
from ossinstruct.logs import Progress

log = logging.getLogger("ossinstruct.evaluate.generate")

ENGINES = ("transformers", "vllm")
# The backends' own dtype defaults, so that leaving dtype out and naming it mean the same key.
DEFAULT_DTYPE = {"transformers": "bfloat16", "vllm": "auto"}
DEFAULT_DECODING = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 512}
# A sampling protocol's keys (Benchmark.sampling): n samples, and a bound on prompt +
# completion tokens in place of max_new_tokens.
SAMPLING_KEYS = ("n_samples", "max_length", "max_length_counts")
# The record of a benchmark scored per sample (MultiPL-E, DS-1000, APPS): `sample` is the
# index 0..n-1; the benchmark's postprocess fields follow `raw`.
SAMPLED_FIELDS = ("task_id", "sample", "benchmark", "style", "prompt", "raw")

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
    "engine",  # the engine and its version that generated the sample ("vllm 0.32.0")
)


class EvalGenerationError(RuntimeError):
    pass


def decoding_params(decoding: dict | None, stop: list[str]) -> dict:
    """Request parameters (the backends' names) from an evaluation decoding block."""
    decoding = {**DEFAULT_DECODING, **{k: v for k, v in (decoding or {}).items() if k not in SAMPLING_KEYS}}
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
        "enforce_eager": settings.get("enforce_eager", False),
    }


def backend_config(engine: str, model: dict, batch_size: int | None) -> dict:
    """The config block the backend is built from (same keys as a teacher block)."""
    config = {**model, "backend": engine}
    if batch_size is not None:
        config["batch_size"] = int(batch_size)
    return config


def _check_problems(problems: list[dict], required: tuple[str, ...] = ("task_id", "prompt", "entry_point")) -> None:
    seen = Counter(p.get("task_id") for p in problems)
    repeated = sorted(str(t) for t, n in seen.items() if n > 1)
    if repeated:
        raise ValueError(f"task ids repeated in the problems: {', '.join(repeated)}")
    for problem in problems:
        missing = [k for k in required if k not in problem]
        if missing:
            raise ValueError(f"problem {problem.get('task_id')!r} lacks {', '.join(missing)}")


def n_samples_of(decoding: dict | None) -> int:
    """Samples per task of a decoding block (1 unless it says n_samples); more than one
    greedy sample would be the same text n times."""
    decoding = decoding or {}
    n = int(decoding.get("n_samples") or 1)
    if n < 1:
        raise ValueError(f"evaluation decoding needs n_samples >= 1, got {n}")
    if n > 1 and float(decoding.get("temperature") or 0.0) == 0.0:
        raise ValueError(f"n_samples {n} at temperature 0: greedy decoding gives the same sample every time")
    return n


def token_budget(decoding: dict | None, prompt_tokens: int) -> int | None:
    """max_tokens of one request under a max_length (prompt + completion) bound; None when
    the decoding has none (max_new_tokens applies)."""
    max_length = (decoding or {}).get("max_length")
    if not max_length:
        return None
    return max(1, int(max_length) - int(prompt_tokens))


@dataclass
class SamplePlan:
    """One benchmark's samples from one model, before any generation: the prompts, and one
    request per (task, sample) with its cache key."""

    benchmark: str
    style: str
    engine: str
    model: dict
    problems: list[dict]
    prompts: list
    base_params: list[dict]
    decoding: dict | None
    n_samples: int
    identity: dict
    slots: list[tuple[int, int, Request]] = field(default_factory=list)  # (problem index, sample, request)
    # evalplus 1895d2f's tab replacement of completion-paper samples (HumanEval+/MBPP+,
    # CodeLlama-Python; ossinstruct.evaluate.prompts.postprocess): the samples, not the requests
    tabs_to_spaces: bool = False

    @property
    def requests(self) -> list[Request]:
        return [request for _, _, request in self.slots]

    @property
    def temperature(self) -> float:
        return self.base_params[0]["temperature"] if self.base_params else 0.0


def plan_samples(
    problems: list[dict],
    *,
    benchmark: str,
    style: str,
    engine: str,
    model: dict,
    decoding: dict | None = None,
    tokenizer=None,
    tabs_to_spaces: bool = False,
) -> SamplePlan:
    """The requests of `problems` under the benchmark's protocol (see generate_samples)."""
    from ossinstruct.benchmarks import evaluated

    if engine not in ENGINES:
        raise ValueError(f"unknown evaluation engine {engine!r}; known: {', '.join(ENGINES)}")
    if not model.get("model"):
        raise ValueError("the model block needs a `model` spec (checkpoint dir, hub id, or embedded:...)")
    plugin = evaluated(benchmark)
    _check_problems(problems, ("task_id",) if plugin.per_sample_scoring else ("task_id", "prompt", "entry_point"))
    n_samples = n_samples_of(decoding)
    if tokenizer is None and (plugin.needs_tokenizer or (decoding or {}).get("max_length")):
        tokenizer = model_tokenizer(model["model"], model.get("revision"))
    prompts = [build_prompt(benchmark, problem, style, tokenizer=tokenizer) for problem in problems]
    base_params = [decoding_params(decoding, prompt.stop) for prompt in prompts]
    if (decoding or {}).get("max_length"):
        for prompt, p in zip(prompts, base_params):
            p["max_tokens"] = token_budget(decoding, len(tokenizer(prompt.text, add_special_tokens=True)["input_ids"]))
    temperature = base_params[0]["temperature"] if base_params else 0.0
    if temperature > 0 and n_samples == 1:
        log.warning(
            "temperature %s: one sampled answer per task gives a noisy pass@1 (the paper's evaluation is greedy)",
            temperature,
        )
    identity = model_identity(engine, model, temperature)
    identity_text = json.dumps(identity, sort_keys=True)
    plan = SamplePlan(benchmark, style, engine, model, problems, prompts, base_params, decoding, n_samples, identity)
    plan.tabs_to_spaces = tabs_to_spaces
    # One request per (task, sample); sample i of a sampled run asks with seed i, so each
    # sample has its own cache key (sample 0 of a greedy run keeps the old key: no seed).
    for i, (prompt, p) in enumerate(zip(prompts, base_params)):
        for k in range(n_samples):
            params = {**p, "seed": k} if n_samples > 1 else p
            key = request_key(engine, identity_text, {"prompt": prompt.text}, params)
            plan.slots.append((i, k, Request(key=key, params=params, prompt=prompt.text)))
    return plan


@functools.lru_cache(maxsize=4)
def model_tokenizer(spec: str, revision: str | None = None):
    """The model's tokenizer (loaded once per process: a job plans several benchmarks)."""
    from ossinstruct.llm.models import load_tokenizer

    return load_tokenizer(spec, revision)


@dataclass
class ResponseRun:
    """The responses to a set of requests: from the cache, or generated in this run."""

    responses: dict[str, Response]
    sent_keys: set[str]  # generated in this run
    tokens: int = 0
    generation_s: float = 0.0
    engine_startup_s: float | None = None


def fetch_responses(
    requests: list[Request],
    *,
    engine: str,
    model: dict,
    cache_dir: str | os.PathLike,
    batch_size: int | None = None,
    label: str,
    cached_only: str | None = None,
) -> ResponseRun:
    """Every request's response: the cached ones read, the others generated by one backend
    (one model load) and cached as they arrive, by background writers (CacheWriter) so
    that the engine never waits on the filesystem. With `cached_only` set nothing is
    generated: a response missing from the cache raises EvalGenerationError whose message
    ends with that text."""
    cache = ResponseCache(cache_dir)
    responses, misses = cache.lookup(requests)  # two tasks with the same prompt: one request
    run = ResponseRun(responses, sent_keys=set(misses))
    log.info("%s (%s, %s): %d requests, %d cached", label, engine, model["model"], len(requests), len(responses))
    if not misses:
        return run
    if cached_only is not None:
        raise EvalGenerationError(
            f"{label}: {len(misses)} of {len(misses) + len(responses)} responses are not in the cache "
            f"{cache_dir}; {cached_only}"
        )
    progress = Progress(log, f"{label}: generated", total=len(misses))
    start = time.monotonic()
    backend = get_backend(backend_config(engine, model, batch_size))
    try:
        with CacheWriter(cache) as writer:

            def on_response(request: Request, response: Response) -> None:
                writer.put(request.key, response)  # first: a killed job keeps it
                responses[request.key] = response
                run.tokens += response.completion_tokens
                progress.step(failed=response.failed)

            backend.generate(list(misses.values()), on_response)
        run.engine_startup_s = getattr(backend, "startup_s", None)  # model load, engine start
        run.generation_s = time.monotonic() - start - (run.engine_startup_s or 0.0)
    finally:
        backend.close()
    unanswered = [k for k in misses if k not in responses]
    if unanswered:
        raise EvalGenerationError(f"{label}: the {engine} backend gave no answer for {len(unanswered)} requests")
    return run


def failed_tasks(plan: SamplePlan, responses: dict[str, Response]) -> dict[str, str]:
    """task id -> the error of its first failed request."""
    failed: dict[str, str] = {}
    for i, _, request in plan.slots:
        if responses[request.key].failed:
            failed.setdefault(plan.problems[i]["task_id"], responses[request.key].error)
    return failed


def write_samples(
    plan: SamplePlan,
    run: ResponseRun,
    out_path: str | os.PathLike,
    *,
    max_failed_tasks: int = 0,
    started: float | None = None,
) -> dict:
    """Write the samples file of `plan` from `run`'s responses (atomically); the stats."""
    from ossinstruct.benchmarks import evaluated

    responses = run.responses
    failed = failed_tasks(plan, responses)
    if len(failed) > max_failed_tasks:
        reasons = Counter(failed.values())
        raise EvalGenerationError(
            f"{out_path}: {len(failed)} of {len(plan.problems)} tasks got no response "
            f"({', '.join(map(str, failed))}); errors: {dict(reasons)}. Nothing was written; "
            "the responses received are cached, so a rerun asks only for these tasks."
        )
    sampled = evaluated(plan.benchmark).per_sample_scoring
    records = []
    for i, k, request in plan.slots:
        problem, prompt = plan.problems[i], plan.prompts[i]
        response = responses[request.key]
        raw = None if response.failed else (response.text or "")
        head = {"task_id": problem["task_id"]}
        if sampled:
            head["sample"] = k
        records.append(
            {
                **head,
                "benchmark": plan.benchmark,
                "style": plan.style,
                "prompt": prompt.text,
                "raw": raw,
                **postprocess(plan.benchmark, problem, plan.style, raw or "", tabs_to_spaces=plan.tabs_to_spaces),
                "finish_reason": response.finish_reason,
                "completion_tokens": response.completion_tokens,
                "error": response.error,
                "engine": (response.extra or {}).get("engine"),
            }
        )
    write_jsonl_atomic(out_path, records)
    stats = plan_stats(plan, run, records, failed)
    if started is not None:
        stats["wall_s"] = round(time.monotonic() - started, 3)
    log.info(
        "%s: %d samples (%d cached, %d generated, %d failed), %d completion tokens, finish reasons %s",
        out_path,
        len(records),
        stats["cache_hits"],
        stats["requests_sent"],
        len(failed),
        stats["completion_tokens"],
        stats["finish_reasons"],
    )
    return stats


def plan_stats(plan: SamplePlan, run: ResponseRun, records: list[dict], failed: dict[str, str]) -> dict:
    keys = {request.key for request in plan.requests}
    sent = keys & run.sent_keys
    first = plan.base_params[0] if plan.base_params else {}
    stats = {
        "benchmark": plan.benchmark,
        "style": plan.style,
        "engine": plan.engine,
        "engine_versions": engine_versions(records),
        "model": plan.identity,
        "decoding": {k: v for k, v in first.items() if k != "stop"},
        "stop": plan.prompts[0].stop if plan.prompts else [],
        "tabs_to_spaces": plan.tabs_to_spaces,
        "tasks": len(plan.problems),
        "samples_per_task": plan.n_samples,
        "samples": len(records),
        "cache_hits": len(keys) - len(sent),
        "requests_sent": len(sent),
        "failed_tasks": sorted(failed),
        "finish_reasons": dict(sorted(Counter(str(r["finish_reason"]) for r in records).items())),
        "completion_tokens": sum(r["completion_tokens"] for r in records),
        "completion_tokens_this_run": sum(run.responses[key].completion_tokens for key in sent),
    }
    if (plan.decoding or {}).get("max_length"):
        stats["decoding"]["max_tokens"] = "max_length - prompt tokens"
        stats["decoding"]["max_length"] = int(plan.decoding["max_length"])
    return stats


def engine_versions(records) -> dict[str, int]:
    """{engine and version: samples} of samples records ("unknown" for responses cached
    before the engine was recorded); the result files carry it."""
    return dict(sorted(Counter(r.get("engine") or "unknown" for r in records).items()))


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
    tokenizer=None,
    cached_only: str | None = None,
    tabs_to_spaces: bool = False,
) -> dict:
    """Write `out_path` (one JSON line per problem and sample, in problem order); return the stats.

    `model` is {"model": spec, "revision"?, "dtype"?, "device"?, ...engine options}
    (a teacher block without "backend"); `batch_size` overrides model["batch_size"] for
    the transformers engine (vLLM schedules its own batches). `decoding` may carry a
    sampling protocol (n_samples, max_length: see the module docstring); `tokenizer` (the
    model's) is loaded here when a max_length or a fill-in-the-middle prompt needs it.
    `cached_only` (rule eval_generate, after eval_generate_model): see fetch_responses.
    `tabs_to_spaces`: evalplus 1895d2f's tab replacement of completion-paper samples
    (HumanEval+/MBPP+, CodeLlama-Python; ossinstruct.evaluate.prompts.postprocess).

    A task whose request failed for good (out of memory on a single prompt, a prompt
    longer than the model's context, a vLLM abort) makes this raise EvalGenerationError
    naming the task ids, writing nothing: the responses received are cached, so the rerun
    asks only for those tasks. A score therefore never silently counts an infrastructure
    failure as a wrong answer. Where a failure is known to be permanent (the prompt does
    not fit a small model's context), `max_failed_tasks` accepts that many: they are
    written with `error` set and an empty completion, and evalplus scores them as failed.
    """
    started = time.monotonic()
    plan = plan_samples(
        problems,
        benchmark=benchmark,
        style=style,
        engine=engine,
        model=model,
        decoding=decoding,
        tokenizer=tokenizer,
        tabs_to_spaces=tabs_to_spaces,
    )
    label = f"{benchmark} {style}"
    run = fetch_responses(
        plan.requests,
        engine=engine,
        model=model,
        cache_dir=cache_dir,
        batch_size=batch_size,
        label=label,
        cached_only=cached_only,
    )
    stats = write_samples(plan, run, out_path, max_failed_tasks=max_failed_tasks, started=started)
    stats.update(run_stats(run))
    return stats


def run_stats(run: ResponseRun) -> dict:
    return {
        "generation_s": round(run.generation_s, 3),
        "tokens_per_s_this_run": round(run.tokens / run.generation_s, 1) if run.generation_s else None,
        "engine_startup_s": round(run.engine_startup_s, 1) if run.engine_startup_s is not None else None,
    }


def generate_for_model(
    plans: dict[str, SamplePlan],
    *,
    engine: str,
    model: dict,
    cache_dir: str | os.PathLike,
    batch_size: int | None = None,
    identities: dict[str, dict] | None = None,
) -> dict:
    """Rule eval_generate_model: every benchmark's responses of one model, generated with one
    model load (the requests of all benchmarks go to the engine together) and cached; the
    samples files are then written per benchmark from the cache (rule eval_generate). A
    benchmark whose identity changed costs only its new requests and this load; the others'
    responses are read back. Raises EvalGenerationError naming every benchmark with failed
    tasks, after generating all of them. Returns the manifest: per benchmark, its
    identity (`identities`, the workflow's) and its counts; the engine, its start-up and
    throughput."""
    started = time.monotonic()
    requests = [request for plan in plans.values() for request in plan.requests]
    run = fetch_responses(
        requests,
        engine=engine,
        model=model,
        cache_dir=cache_dir,
        batch_size=batch_size,
        label=f"{len(plans)} benchmarks",
    )
    problems = {}
    benchmarks = {}
    for name, plan in plans.items():
        failed = failed_tasks(plan, run.responses)
        if failed:
            problems[name] = failed
        keys = {request.key for request in plan.requests}
        sent = keys & run.sent_keys
        engines = Counter((run.responses[k].extra or {}).get("engine") or "unknown" for k in keys)
        benchmarks[name] = {
            "identity": (identities or {}).get(name),
            "style": plan.style,
            "tasks": len(plan.problems),
            "samples_per_task": plan.n_samples,
            "requests": len(keys),
            "cache_hits": len(keys) - len(sent),
            "requests_sent": len(sent),
            "failed_tasks": sorted(failed),
            "completion_tokens_this_run": sum(run.responses[k].completion_tokens for k in sent),
            "engine_versions": dict(sorted(engines.items())),
        }
    if problems:
        detail = "; ".join(
            f"{name}: {len(failed)} tasks ({', '.join(list(failed)[:5])}{', ...' if len(failed) > 5 else ''}), "
            f"errors {dict(Counter(failed.values()))}"
            for name, failed in problems.items()
        )
        raise EvalGenerationError(
            f"{model['model']}: tasks without a response: {detail}. The responses received are cached, "
            "so a rerun asks only for these."
        )
    manifest = {
        "engine": engine,
        "model": plans[next(iter(plans))].identity if plans else model_identity(engine, model),
        "benchmarks": benchmarks,
        "requests": len({r.key for r in requests}),
        "requests_sent": len(run.sent_keys),
        "completion_tokens_this_run": run.tokens,
        **run_stats(run),
        "wall_s": round(time.monotonic() - started, 3),
    }
    log.info(
        "%s: %d benchmarks, %d requests (%d sent), %d tokens in %.1f s",
        model["model"],
        len(plans),
        manifest["requests"],
        manifest["requests_sent"],
        run.tokens,
        run.generation_s,
    )
    return manifest
