"""MultiPL-E's samples, compiled and run: every distinct program once, through the execution
cache (ossinstruct/sandbox/cache.py), each in the sandbox by the shared toolchains module
(ossinstruct/sandbox/toolchains.py: bigcode-evaluation-harness be2a44c's commands and
limits per language).

Results are cached per distinct (language, toolchain versions, program, run time limit):
one JSON file per entry, written by atomic rename as each program ends, so that a scoring
job killed midway (a time limit, a preemption) keeps every result it finished and its
retry runs only the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ossinstruct.llm.cache import content_key
from ossinstruct.sandbox import toolchains as tc
from ossinstruct.sandbox.cache import ExecutionCache
from ossinstruct.sandbox.pool import Limits, SandboxPool


def execution_key(language: str, versions: dict, program: str, timeout_s: float | None = None) -> str:
    """Content hash of what determines a result: language, toolchain versions, program, run
    time limit (the language's, :data:`~ossinstruct.sandbox.toolchains.STEP_LIMITS_S`, unless given)."""
    timeout_s = tc.step_limits(language, timeout_s)[0]
    return content_key({"language": language, "toolchain": versions, "program": program, "timeout_s": timeout_s})


def score_programs(
    jobs: Sequence[tuple[str, str]],
    *,
    cache_dir: str | os.PathLike | None = None,
    versions: dict | None = None,
    workers: int = 1,
    timeout_s: float | None = None,
    compile_timeout_s: float | None = None,
    memory_mb: int = tc.MEMORY_MB,
) -> tuple[list[dict], dict]:
    """Score (language, program) pairs, each step under its language's limit
    (:data:`~ossinstruct.sandbox.toolchains.STEP_LIMITS_S`; `timeout_s` / `compile_timeout_s` override it for every
    language). Each distinct program is run once (and not at all when the cache has it).
    Returns (results in order, each with its execution `key`, and stats {"distinct",
    "cached", "ran"})."""
    languages = sorted({lang for lang, _ in jobs})
    if versions is None:
        versions = tc.require_toolchains(languages)
    cache = ExecutionCache(cache_dir) if cache_dir is not None else None
    keys = [execution_key(lang, versions[lang], program, timeout_s) for lang, program in jobs]
    results_by_key: dict[str, dict] = {}
    todo: dict[str, tuple[str, str]] = {}
    cached = 0
    for key, (lang, program) in zip(keys, jobs):
        if key in results_by_key or key in todo:
            continue
        hit = cache.get(key) if cache else None
        if hit is not None:
            results_by_key[key] = {**hit, "cached": True}
            cached += 1
        else:
            todo[key] = (lang, program)
    if todo:
        # The sandbox's backstop: the slowest language's compile and run, and a margin.
        longest = max(sum(tc.step_limits(lang, timeout_s, compile_timeout_s)) for lang, _ in todo.values())
        limits = Limits(timeout_s=longest + 10, memory_mb=memory_mb)
        todo_keys = list(todo)
        payloads = [tc.build_job(lang, program, timeout_s, compile_timeout_s) for lang, program in todo.values()]
        exposed = sorted(
            {
                d
                for lang in {lang for lang, _ in todo.values()}
                for t in tc.TOOLCHAINS[lang]
                if (d := tc.resolve_tool(t)[1])
            }
        )

        def store(index: int, job) -> None:  # as each program ends: a killed run keeps what it finished
            if job.status == "ok" and isinstance(job.value, dict):
                result = job.value
            elif job.status == "timeout":
                result = {"status": "timeout", "error": job.error}
            else:
                result = {"status": "sandbox_error", "error": job.error}
            if cache:
                cache.put(todo_keys[index], result)
            results_by_key[todo_keys[index]] = {**result, "cached": False}

        with tc.exposed_to_sandbox(exposed), SandboxPool(tc.HANDLER, None, workers=workers, limits=limits) as pool:
            pool.run(payloads, on_result=store)
    stats = {"samples": len(jobs), "distinct": len(results_by_key), "cached": cached, "ran": len(todo)}
    return [{**results_by_key[k], "key": k} for k in keys], stats
