"""APPS's testing semantics, reimplemented: the check of one sample, as a sandbox handler.

The rules are those of hendrycks/apps eval/testing_util.py (read, not copied; it imports
pyext, which fails on Python 3.11), as its ``run_test`` decides pass or fail:

* the program is APPS's import prelude (sys, itertools, collections, math, numpy as np,
  heapq, ...; the names its solutions rely on without importing them) + the solution
  (numpy only when the solution names ``np``: see PRELUDE);
  a solution that does not compile is ``compile_error``;
* standard input problems (no ``fn_name``): each test's input (a list is joined with
  newlines) is the program's stdin, and its stdout, split into lines, is compared with the
  expected output by APPS's sequence of fallbacks (:func:`stdout_matches`): whole text
  stripped; lines stripped; line lists with blank lines dropped; every line a float
  within ``numpy.allclose``'s tolerance; and finally the set of lines, each a set of
  whitespace-separated tokens (order-insensitive, as APPS is), also with every token
  rounded to 3 decimals;
* call-based problems (``fn_name``): the function (a method of ``Solution()`` when the
  solution defines ``class Solution``) is called on the test's arguments and compared
  with APPS's rules (ossinstruct/evaluate/apps_runner.py: tuples as lists, the expected
  value or its first element, dict keys back to ints); an exception while the module runs,
  or no such function, is ``compile_error`` (APPS's -2);
* a per-test time limit of 4 s (APPS's ``timeout``); a sample passes only if every test
  passes, so checking stops at the first test that does not.

Differences from testing_util, each because its way cannot be contained or is a quirk of
running code in-process: every test runs in its own process (apps_runner.py; APPS ran all
in the grader's process under signal.alarm), standard input programs run as scripts
(APPS wrapped the code in a function, so ``if __name__ == "__main__":`` blocks and
``global`` statements misbehaved there), output past ``max_output_bytes`` fails the test,
and an uncaught exception, a non-zero exit status or death by a signal other than the
alarm is ``runtime_error`` (``sys.exit`` of any status is a normal end, as in APPS).

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

from ossinstruct.evaluate import apps_runner
from ossinstruct.sandbox.handlers import run_program

STATUSES = ("pass", "fail", "timeout", "runtime_error", "compile_error", "sandbox_error")
# Statuses that depend only on the solution and the tests (not on the machine's load):
# the ones a cache may keep.
CACHED_STATUSES = ("pass", "fail", "runtime_error", "compile_error")
# Part of the cache key: bump it when a change here can change a verdict.
GRADER_VERSION = 1
TIME_LIMIT_S = 4.0  # testing_util's `timeout`, per test
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


# ---------------------------------------------------------------- stdout comparison


def _allclose(got: list[float], want: list[float]) -> bool:
    """numpy.allclose's default test (rtol 1e-5, atol 1e-8, equal infinities match)."""
    if len(got) != len(want):
        return False
    return all(a == b or abs(a - b) <= 1e-8 + 1e-5 * abs(b) for a, b in zip(got, want))


def _token_sets(lines: list[str]) -> set[frozenset]:
    return {frozenset(line.split()) for line in lines}


def stdout_matches(stdout: str, expected) -> bool:
    """Whether a standard input program's stdout passes a test expecting `expected` (a
    string, or a list of lines joined with newlines), by testing_util's fallbacks in order."""
    if isinstance(expected, list):
        expected = "\n".join(expected)
    lines = stdout.splitlines()
    want = expected.strip()
    # 1. the whole output, then the output with every line stripped, against the expected text
    if "\n".join(lines).strip() == want or "\n".join(line.strip() for line in lines).strip() == want:
        return True
    # 2. line lists: expected lines (empty ones dropped, then stripped) against the output's
    #    lines, then against its non-empty lines
    want_lines = [line.strip() for line in expected.split("\n") if line]
    if lines == want_lines:
        return True
    nonempty = [line for line in lines if line]
    if nonempty == want_lines:
        return True
    # 3. every line one number, all within allclose's tolerance
    try:
        if _allclose([float(x) for x in nonempty], [float(x) for x in want_lines]):
            return True
    except ValueError:
        pass
    # 4. order-insensitive: the set of lines, each the set of its tokens (lines without a
    #    token dropped from the output only, as APPS does)
    got_sets = [line for line in nonempty if line.split()]
    if _token_sets(got_sets) == _token_sets(want_lines):
        return True
    # 5. the same with every token a number rounded to 3 decimals
    try:
        rounded = {frozenset(round(float(t), 3) for t in line.split()) for line in got_sets}
        return rounded == {frozenset(round(float(t), 3) for t in line.split()) for line in want_lines}
    except (ValueError, OverflowError):
        return False


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


def output_cap(expected, max_output: int) -> int:
    """The bytes of stdout kept: `max_output`, or more where the expected output is large."""
    size = len(json.dumps(expected, ensure_ascii=False).encode("utf-8"))
    return max(max_output, 2 * size + 65536)


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
    "fn_name": str | None, "inputs": [...], "outputs": [...], "time_limit_s"?,
    "max_output_bytes"?}. Returns {"status", "n_tests", "n_run", ...}: the first test that
    does not pass decides (`failed_test`, `error`)."""
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
    with open(SOLUTION_FILE, "w", encoding="utf-8") as f:
        f.write(program)
    mode = "call" if payload.get("fn_name") else "stdin"
    for index, (test_input, expected) in enumerate(zip(inputs, outputs)):
        outcome = _run_test(mode, index, test_input, expected, payload, limit, max_output)
        result["n_run"] = index + 1
        if outcome["status"] != "pass":
            return {**result, **outcome, "failed_test": index}
    return {**result, "status": "pass"}


def check_budget_s(n_tests: int, limit: float = TIME_LIMIT_S) -> float:
    """The sandbox time limit of one sample's job: every test may use its full time."""
    return math.ceil(n_tests * (limit + STARTUP_ALLOWANCE_S) + 30.0)
