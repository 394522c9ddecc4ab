"""APPS's testing semantics, reimplemented: the check of one sample, as a sandbox handler.

The rules are those of hendrycks/apps eval/testing_util.py and eval/test_one_solution.py
(read, not copied; testing_util imports pyext, which fails on Python 3.11), as they decide
pass or fail. Olausson et al. (2024), the paper's source for the APPS subset, did not
release their own executor (theoxo/self-repair leaves ``exec_sample`` unimplemented), so
APPS's own grader is the reference:

* the program is APPS's import prelude (sys, itertools, collections, math, numpy as np,
  heapq, ...; the names its solutions rely on without importing them) + the solution
  (numpy only when the solution names ``np``: see PRELUDE);
  a solution that does not compile is ``compile_error``;
* standard input problems (no ``fn_name``): each test's input (a list is joined with
  newlines) is the program's input, and its output, split into lines, is compared with
  the expected output by APPS's sequence of fallbacks (:func:`stdout_matches`): whole text
  stripped; lines stripped; line lists with blank lines dropped; every line a float
  within ``numpy.allclose``'s tolerance; and finally the set of lines, each a set of
  whitespace-separated tokens (order-insensitive, as APPS is), also with every token
  rounded to 3 decimals;
* call-based problems (``fn_name``): the function (a method of ``Solution()`` when the
  solution defines ``class Solution``) is called on the test's arguments and compared
  with APPS's rules (ossinstruct/benchmarks/apps/runner.py: tuples as lists, the expected
  value or its first element, dict keys back to ints); an exception while the module runs,
  or no such function, is ``compile_error`` (APPS's -2);
* a per-test time limit of 4 s (APPS's ``timeout``); a sample passes only if every test
  passes, so checking stops at the first test that does not.

Two graders (``evaluation.apps.grader``), both run in a child process of the sandbox job,
never in the pipeline's process:

* ``testing_util`` (default): APPS's own execution model, emulated in ONE child process
  per sample (apps_runner.run_testing_util): exit()/quit() and the other functions of
  reliability_guard disabled; the solution a module named ``tmp_sol`` (not ``__main__``),
  a standard input solution wrapped in ``def code():``; stdin and stdout patched in
  process (``sys.stdin.buffer``, ``os.read(0)``, output of threads that outlive the test
  and writes to the real descriptors are lost, as there); the whole sample limited to
  ``sample_timeout_s`` (test_one_solution.py: ``TIMEOUT`` 10 s, joined with 1 s more).
* ``script`` (this project's earlier grader, an option): one process per test, the
  solution run as a script (``__name__ == "__main__"``, real file descriptors, exit() a
  normal end, APPS's disabled functions available), the alarm killing the process.

Both: output past ``max_output_bytes`` fails the test (containment; APPS has no cap), and
an uncaught exception, a non-zero exit status (script) or death by a signal other than
the alarm is ``runtime_error`` (``sys.exit`` of any status in a standard input program is
a normal end, as in APPS).

Statuses of a sample: pass, fail, timeout, runtime_error, compile_error (and
sandbox_error, given by the caller when the sandbox job itself fails).
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import sys
import time

from ossinstruct.benchmarks.apps import runner as apps_runner
from ossinstruct.benchmarks.apps.runner import output_cap, stdout_matches
from ossinstruct.sandbox.handlers import run_program

STATUSES = ("pass", "fail", "timeout", "runtime_error", "compile_error", "sandbox_error")
# Statuses that depend only on the solution and the tests (not on the machine's load):
# the ones a cache may keep.
CACHED_STATUSES = ("pass", "fail", "runtime_error", "compile_error")
# Part of the cache key: bump it when a change here can change a verdict.
GRADER_VERSION = 2
GRADERS = ("testing_util", "script")
DEFAULT_GRADER = "testing_util"
TIME_LIMIT_S = 4.0  # testing_util's `timeout`, per test
# test_one_solution.py's global timeout of a sample: TIMEOUT = 10, p.join(timeout=TIMEOUT + 1).
SAMPLE_TIMEOUT_S = 11.0
# A test's process gets this much longer than its alarm before run_program kills it:
# interpreter start and the prelude's imports (~0.1 s here) happen before the alarm.
STARTUP_ALLOWANCE_S = 3.0
MAX_OUTPUT_BYTES = 1 << 20
STDERR_TAIL_CHARS = 2000
SOLUTION_FILE = "solution.py"

# The names testing_util's prelude makes available to every solution, imported the same
# way. numpy (`np`) is imported only for a solution that mentions the name np: importing it
# is ~75% of a test process's start-up here, and a solution that never names np cannot
# tell the difference; where numpy is not installed, the name is simply missing.
NUMPY_PRELUDE = "try:\n    import numpy as np\nexcept ImportError:\n    pass\n"
NAMES_NP = re.compile(r"\bnp\b")
PRELUDE = "\n".join(
    [
        "import sys",
        "import time",
        "import itertools",
        "from itertools import accumulate, product, permutations, combinations",
        "import collections",
        "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap",
        "from functools import lru_cache",
        "import math",
        "from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2",
        "import fractions",
        "from typing import List, Tuple",
        "import random",
        "import heapq",
        "from heapq import *",
        "",
    ]
)


# ---------------------------------------------------------------- one sample


def _tail(text: str) -> str:
    return text[-STDERR_TAIL_CHARS:]


def _read_verdict(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            verdict = json.load(f)
    except (OSError, ValueError):
        return None
    return verdict if isinstance(verdict, dict) else None


def _died_of_alarm(run: dict) -> bool:
    return run["timed_out"] or run["returncode"] == -signal.SIGALRM


def _run_test(mode: str, index: int, test_input, expected, payload: dict, limit: float, max_output: int) -> dict:
    """{status, ...} of one test: pass, fail, timeout, runtime_error or compile_error."""
    # Absolute paths: a solution that changes directory must not lose its verdict.
    verdict_file = os.path.abspath(f"verdict-{index}-{secrets.token_hex(4)}.json")
    runner = os.path.abspath(apps_runner.__file__)
    argv = [sys.executable, "-I", runner, mode, os.path.abspath(SOLUTION_FILE), verdict_file, str(limit)]
    program = {"timeout_s": limit + STARTUP_ALLOWANCE_S, "max_output_bytes": output_cap(expected, max_output)}
    if mode == "stdin":
        program["stdin"] = "\n".join(test_input) if isinstance(test_input, list) else str(test_input)
    else:
        test_file = f"test-{index}.json"
        test = {
            "inputs": test_input,
            "expected": expected,
            "fn_name": payload["fn_name"],
            "class_based": "class Solution" in payload["solution"],
        }
        program["files"] = {test_file: json.dumps(test)}
        argv.append(os.path.abspath(test_file))
    run = run_program(None, {"argv": argv, **program})
    verdict = _read_verdict(verdict_file)
    if _died_of_alarm(run):
        return {"status": "timeout", "error": f"test {index}: over the {limit:g} s time limit"}
    if verdict is None and mode == "stdin" and run["returncode"] == 0:
        verdict = {"stage": "done"}  # os._exit(0) after a flush: a normal end for a script
    if verdict is None or verdict.get("stage") != "done":
        stage = (verdict or {}).get("stage")
        status = "compile_error" if stage in ("module", "lookup") else "runtime_error"
        why = (verdict or {}).get("error") or f"exit status {run['returncode']}"
        return {"status": status, "error": f"test {index}: {_tail(why)}", "stderr_tail": _tail(run["stderr"])}
    if run["truncated"]:
        return {"status": "fail", "error": f"test {index}: output over {program['max_output_bytes']} bytes"}
    if mode == "stdin":
        passed = stdout_matches(run["stdout"], expected)
        got = run["stdout"][:300]
    else:
        passed, got = bool(verdict.get("passed")), verdict.get("got", "")
    if passed:
        return {"status": "pass"}
    return {"status": "fail", "error": f"test {index}: wrong answer", "got": got}


def prelude_for(solution: str) -> str:
    """APPS's prelude for `solution` (numpy included where the solution names np)."""
    return PRELUDE + (NUMPY_PRELUDE if NAMES_NP.search(solution) else "")


def check(context, payload: dict) -> dict:
    """The check of one sample (a sandbox handler). payload: {"solution": code,
    "fn_name": str | None, "inputs": [...], "outputs": [...], "grader"? (testing_util),
    "sample_timeout_s"? (11; None: no limit), "time_limit_s"? (4), "max_output_bytes"?}.
    Returns {"status", "n_tests", "n_run", ...}: the first test that does not pass decides
    (`failed_test`, `error`)."""
    inputs, outputs = payload["inputs"], payload["outputs"]
    if len(inputs) != len(outputs):
        raise ValueError(f"APPS tests: {len(inputs)} inputs but {len(outputs)} outputs")
    limit = float(payload.get("time_limit_s") or TIME_LIMIT_S)
    max_output = int(payload.get("max_output_bytes") or MAX_OUTPUT_BYTES)
    prelude = prelude_for(payload["solution"])
    program = prelude + payload["solution"]
    result = {"n_tests": len(inputs), "n_run": 0}
    try:
        compile(program, SOLUTION_FILE, "exec")
    except SyntaxError as exc:
        line = (exc.lineno or 0) - prelude.count("\n")  # the solution's own line number
        where = f" (line {line} of the solution)" if line > 0 else ""
        return {**result, "status": "compile_error", "error": f"{type(exc).__name__}: {exc.msg}{where}"}
    except ValueError as exc:  # source with null bytes
        return {**result, "status": "compile_error", "error": f"{type(exc).__name__}: {exc}"}
    if not inputs:
        return {**result, "status": "fail", "error": "the problem has no tests"}
    grader = payload.get("grader") or DEFAULT_GRADER
    if grader not in GRADERS:
        raise ValueError(f"APPS grader {grader!r} is not one of {', '.join(GRADERS)}")
    sample_limit = payload.get("sample_timeout_s", SAMPLE_TIMEOUT_S)
    if grader == "testing_util":
        with open(SOLUTION_FILE, "w", encoding="utf-8") as f:
            f.write(payload["solution"])
        return {**result, **_run_testing_util(payload, prelude, limit, sample_limit, max_output)}
    with open(SOLUTION_FILE, "w", encoding="utf-8") as f:
        f.write(program)
    mode = "call" if payload.get("fn_name") else "stdin"
    started = time.monotonic()
    for index, (test_input, expected) in enumerate(zip(inputs, outputs)):
        outcome = _run_test(mode, index, test_input, expected, payload, limit, max_output)
        result["n_run"] = index + 1
        if outcome["status"] != "pass":
            return {**result, **outcome, "failed_test": index}
        if sample_limit and time.monotonic() - started > sample_limit:
            why = f"test {index}: over the sample's {sample_limit:g} s time limit"
            return {**result, "status": "timeout", "error": why, "failed_test": index}
    return {**result, "status": "pass"}


def _run_testing_util(payload: dict, prelude: str, limit: float, sample_limit: float | None, max_output: int) -> dict:
    """{status, n_run, ...} of a sample under the testing_util grader: one child process
    (apps_runner.run_testing_util) runs every test; killed past the sample's time limit."""
    verdict_file = os.path.abspath(f"verdict-{secrets.token_hex(4)}.json")
    tests_file = os.path.abspath("tests.json")
    tests = {k: payload[k] for k in ("inputs", "outputs", "fn_name")}
    with open(tests_file, "w", encoding="utf-8") as f:
        json.dump({**tests, "prelude": prelude}, f)
    runner = os.path.abspath(apps_runner.__file__)
    argv = [sys.executable, "-I", runner, "testing_util", os.path.abspath(SOLUTION_FILE), tests_file, verdict_file]
    argv += [str(limit), str(sample_limit or 0), str(max_output)]
    # Without a sample limit every test may use its full alarm (and a swallowed alarm, one more).
    wall = (sample_limit or len(tests["inputs"]) * 2 * limit) + limit + STARTUP_ALLOWANCE_S
    run = run_program(None, {"argv": argv, "timeout_s": wall, "max_output_bytes": 1 << 16})
    verdict = _read_verdict(verdict_file)
    if verdict is None:
        if run["timed_out"]:
            return {"status": "timeout", "error": f"the sample ran past its {wall:g} s limit (no result, as in APPS)"}
        why = f"the grader's process died (exit status {run['returncode']}) with no result"
        return {"status": "runtime_error", "error": why, "stderr_tail": _tail(run["stderr"])}
    results = verdict.get("results") or []
    out = {"status": verdict.get("status"), "n_run": len(results), "results": results}
    for key in ("failed_test", "error", "got"):
        if key in verdict:
            out[key] = _tail(str(verdict[key])) if key == "error" else verdict[key]
    if out["status"] not in STATUSES:
        return {"status": "runtime_error", "error": f"unexpected verdict {verdict!r}"[-STDERR_TAIL_CHARS:]}
    return out


def check_budget_s(
    n_tests: int,
    limit: float = TIME_LIMIT_S,
    sample_limit: float | None = SAMPLE_TIMEOUT_S,
    grader: str = DEFAULT_GRADER,
) -> float:
    """The sandbox time limit of one sample's job: the sample's own limit (testing_util), or
    every test with its full time (script, or no sample limit), plus a margin."""
    if grader == "testing_util":
        inner = (sample_limit or n_tests * 2 * limit) + limit + STARTUP_ALLOWANCE_S
        return math.ceil(inner + 30.0)
    per_tests = n_tests * (limit + STARTUP_ALLOWANCE_S)
    return math.ceil(min(per_tests, (sample_limit or per_tests) + limit + STARTUP_ALLOWANCE_S) + 30.0)
