"""DS-1000's pinned execution environment, the pipeline side: finding its interpreter,
recording its versions, and scoring samples through the sandbox under it.

DS-1000 pins (its environment.yml): Python 3.10, numpy 1.26.4, pandas 1.5.3, scipy 1.12.0,
scikit-learn 1.4.0, matplotlib 3.8.4, torch 2.2.0 (CPU), tensorflow-cpu 2.16.1, and
seaborn 0.13.2, xgboost 2.0.3, gensim 4.3.2, statsmodels 0.14.1 for a few problems.
``envs/ds1000.yaml`` is that env for conda (clusters). ``make ds1000-env`` builds
``.venv-ds1000`` from PyPI with the same pins except two this machine forces: torch
2.13.0 (the CPU build on its disk; any other torch downloads GBs of CUDA) and therefore
Python 3.11 (that wheel is cp311 only). Which interpreter scores, and the versions it
actually has, go into the result file (:func:`environment_report`).

The interpreter is, first found: the ``python`` key of the benchmark's evaluation settings
(e.g. the conda env's bin/python), $OSSINSTRUCT_DS1000_PYTHON, this checkout's
.venv-ds1000/bin/python. None found, or one whose numpy, pandas, scipy, scikit-learn,
matplotlib or tensorflow-cpu differ from the pins, is an error before any sample runs
(``allow_unpinned: true`` in the settings accepts the difference, recorded).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import subprocess
import time
from pathlib import Path

from ossinstruct.benchmarks.ds1000 import execute as dx

log = logging.getLogger("ossinstruct.benchmarks.ds1000.environment")

REPO = Path(__file__).resolve().parents[3]  # ossinstruct/benchmarks/ds1000/environment.py
VENV = REPO / ".venv-ds1000"
PYTHON_VARIABLE = "OSSINSTRUCT_DS1000_PYTHON"
# DS-1000's pins (environment.yml of xlangai/DS-1000). The first six must match exactly.
PINS = {
    "python": "3.10",
    "numpy": "1.26.4",
    "pandas": "1.5.3",
    "scipy": "1.12.0",
    "scikit-learn": "1.4.0",
    "matplotlib": "3.8.4",
    "torch": "2.2.0",
    "tensorflow-cpu": "2.16.1",
    "seaborn": "0.13.2",
    "xgboost": "2.0.3",
    "gensim": "4.3.2",
    "statsmodels": "0.14.1",
}
STRICT = ("numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "tensorflow-cpu")
# What .venv-ds1000 uses instead, and why (recorded beside the versions).
LOCAL_EXCEPTIONS = {
    "torch": "2.13.0: the CPU build on this machine's disk (pip's torch 2.2.0 would download GBs of CUDA builds)",
    "python": "3.11: torch 2.13.0's local wheel is cp311 only",
}
DATA_HOME = REPO / ".ds1000-data"  # `make ds1000-data`; the settings' data_home overrides it
MEMORY_MB = 8192  # RLIMIT_AS of a job: TensorFlow and torch imported already take ~2 GB of address space
PROCESSES = 4096  # RLIMIT_NPROC counts threads; torch and TensorFlow start one pool per core


class Ds1000EnvironmentError(RuntimeError):
    """No usable DS-1000 interpreter: never scored as 0%."""


def find_interpreter(settings: dict) -> tuple[str, str]:
    """(interpreter path, where it came from)."""
    candidates = [
        (settings.get("python"), "evaluation settings key 'python'"),
        (os.environ.get(PYTHON_VARIABLE), f"${PYTHON_VARIABLE}"),
        (str(VENV / "bin" / "python"), "this checkout's .venv-ds1000 (make ds1000-env)"),
    ]
    for path, origin in candidates:
        if not path:
            continue
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path), origin
        if origin != candidates[-1][1]:
            raise Ds1000EnvironmentError(f"DS-1000 interpreter from {origin}: {path} is not an executable file")
    raise Ds1000EnvironmentError(
        "DS-1000 is scored in its pinned environment, and none was found: run `make ds1000-env` (builds "
        ".venv-ds1000 from PyPI), or create the conda env envs/ds1000.yaml and set the ds1000 evaluation "
        f"settings' python (or ${PYTHON_VARIABLE}) to its bin/python"
    )


@functools.lru_cache(maxsize=8)
def interpreter_versions(python: str) -> dict:
    """The versions `python -m ossinstruct.benchmarks.ds1000.execute --versions` reports."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(
            [python, "-m", "ossinstruct.benchmarks.ds1000.execute", "--versions"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=str(REPO),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Ds1000EnvironmentError(f"DS-1000 interpreter {python}: cannot run it ({exc})") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Ds1000EnvironmentError(f"DS-1000 interpreter {python}: version probe failed: {' / '.join(tail)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def environment_report(settings: dict) -> dict:
    """{"interpreter", "found_by", "versions", "pins", "differs_from_pins", "local_exceptions",
    "timeout_s"}; Ds1000EnvironmentError when a strict pin is missing or differs (unless
    the settings say allow_unpinned)."""
    python, origin = find_interpreter(settings)
    versions = interpreter_versions(python)
    differs = {}
    for dist, pinned in PINS.items():
        used = versions.get(dist)
        if used is None or not (used == pinned or used.startswith(pinned + ".") or used.startswith(pinned + "+")):
            differs[dist] = {"pinned": pinned, "used": used}
    strict = {dist: d for dist, d in differs.items() if dist in STRICT}
    missing = [dist for dist in STRICT if versions.get(dist) is None]
    if missing or (strict and not settings.get("allow_unpinned")):
        detail = ", ".join(f"{dist} {d['used']} (pinned {d['pinned']})" for dist, d in strict.items())
        raise Ds1000EnvironmentError(
            f"DS-1000 interpreter {python} ({origin}) does not hold DS-1000's pinned libraries: {detail}. "
            "Rebuild it (`make ds1000-env`, or envs/ds1000.yaml), or set allow_unpinned: true in the ds1000 "
            "evaluation settings to score anyway (recorded in the result)"
        )
    data_home = str(settings.get("data_home") or DATA_HOME)
    return {
        "interpreter": python,
        "data_home": data_home if os.path.isdir(data_home) else None,
        "data_present": dx.data_present(data_home),
        "network": bool(settings.get("network", False)),
        "found_by": origin,
        "versions": versions,
        "pins": dict(PINS),
        "differs_from_pins": differs,
        "local_exceptions": {k: v for k, v in LOCAL_EXCEPTIONS.items() if k in differs},
        "timeout_s": float(settings.get("timeout_s", dx.TIMEOUT_S)),
    }


def preload_modules(report: dict) -> tuple[str, ...]:
    """What each zygote imports: ds1000_exec.PRELOAD and the optional modules the
    interpreter has."""
    optional = report["versions"].get("optional_preload") or []
    return tuple(dx.PRELOAD) + tuple(m for m in dx.OPTIONAL_PRELOAD if m in optional)


@contextlib.contextmanager
def _data_variables(data_home: str | None):
    """SEABORN_DATA and SCIKIT_LEARN_DATA for the zygotes (they inherit the environment),
    and the directory exposed in the sandbox's private /tmp should it lie there."""
    from ossinstruct.sandbox.isolation import EXPOSE_VARIABLE

    saved = {name: os.environ.get(name) for name in (*dx.DATA_VARIABLES, EXPOSE_VARIABLE)}
    if data_home:
        for name in dx.DATA_VARIABLES:
            os.environ[name] = data_home
        os.environ[EXPOSE_VARIABLE] = os.pathsep.join(p for p in (data_home, saved[EXPOSE_VARIABLE]) if p)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execution_key(report: dict, code_context: str, solution: str) -> str:
    """Content hash of what decides a program's result: the interpreter's versions, the
    data and network it gets, the time limit, the problem's code_context, the solution."""
    from ossinstruct.llm.cache import content_key

    versions = {k: v for k, v in report["versions"].items() if k != "executable"}
    return content_key(
        {
            "benchmark": "ds1000",
            "versions": versions,
            "data_present": report["data_present"],
            "network": report["network"],
            "timeout_s": report["timeout_s"],
            "code_context": code_context,
            "solution": solution,
        }
    )


def check_solutions(
    problems: dict[str, dict],
    pairs: list[tuple[str, str]],
    settings: dict,
    *,
    workers: int = 1,
    cache_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """One {status, ...} per (task_id, solution), in order. Each distinct pair runs once:
    DS-1000's test program in the sandbox, in a job forked from a zygote of DS-1000's
    interpreter that has imported the libraries (ds1000_exec.PRELOAD) once. With
    `cache_dir` (evaluation.execution_cache), pass and fail results are stored one JSON
    file per execution_key as each program ends (a killed job keeps them) and reused
    (timeouts, crashes and sandbox errors are rerun)."""
    from ossinstruct.sandbox.cache import ExecutionCache
    from ossinstruct.sandbox.pool import Limits, SandboxPool

    unknown = sorted({tid for tid, _ in pairs if tid not in problems})
    if unknown:
        raise ValueError(f"DS-1000: samples for unknown tasks {unknown[:5]}")
    report = environment_report(settings)
    cache = ExecutionCache(cache_dir) if cache_dir is not None else None
    keys = {pair: execution_key(report, problems[pair[0]]["code_context"], pair[1]) for pair in dict.fromkeys(pairs)}
    outcome: dict[tuple[str, str], dict] = {}
    for pair, key in keys.items():
        hit = cache.get(key) if cache else None
        if hit is not None:
            outcome[pair] = {**hit, "cached": True}
    distinct = [pair for pair in keys if pair not in outcome]
    if not distinct:
        return [dict(outcome[pair]) for pair in pairs]
    context = {"code_context": {tid: problems[tid]["code_context"] for tid in {tid for tid, _ in distinct}}}
    limits = Limits(
        network=report["network"],
        timeout_s=report["timeout_s"],
        memory_mb=int(settings.get("memory_mb", MEMORY_MB)),
        processes=int(settings.get("processes", PROCESSES)),
    )
    missing = [name for name, present in report["data_present"].items() if not present]
    if missing and not report["network"]:
        log.warning(
            "DS-1000: datasets %s are not in %s (`make ds1000-data`) and the sandbox has no network: the "
            "problems that load them fail",
            ", ".join(missing),
            report["data_home"] or settings.get("data_home") or DATA_HOME,
        )

    def store(index: int, job) -> None:  # as each program ends: a killed run keeps what it finished
        pair = distinct[index]
        if job.status == "ok" and isinstance(job.value, dict) and job.value.get("status") in ("pass", "fail"):
            result = dict(job.value)
        elif job.status == "timeout":
            result = {"status": "timeout", "error": job.error}
        elif job.status == "crashed":
            result = {"status": "crashed", "error": (job.error or "")[-4000:]}
        else:
            result = {"status": "sandbox_error", "error": f"unexpected handler result {job.value!r}"[:4000]}
        result["elapsed_s"] = round(job.elapsed_s, 3)
        if cache and result["status"] in ("pass", "fail"):
            cache.put(keys[pair], result)
        outcome[pair] = {**result, "cached": False}

    start = time.monotonic()
    with (
        _data_variables(report["data_home"]),
        SandboxPool(
            dx.HANDLER,
            context,
            workers=max(1, min(workers, len(distinct))),
            limits=limits,
            python=report["interpreter"],
            preload=preload_modules(report),
        ) as pool,
    ):
        pool.run([{"task_id": tid, "solution": solution} for tid, solution in distinct], on_result=store)
    log.info(
        "DS-1000: %d distinct programs scored in %.1f s (%d from the cache)",
        len(distinct),
        time.monotonic() - start,
        len(outcome) - len(distinct),
    )
    return [dict(outcome[pair]) for pair in pairs]
