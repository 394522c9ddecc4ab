"""Runs one APPS sample's tests: the program of the grader's child process.

Started by ossinstruct.benchmarks.apps.check (itself a sandbox job), in the job's work dir.
Standard library only: it starts in ~20 ms (plus the prelude). Two modes, one per grader
(``evaluation.apps.grader``):

``testing_util`` (the default): ``python -I apps_runner.py testing_util SOLUTION TESTS
VERDICT TIME_LIMIT SAMPLE_LIMIT MAX_OUTPUT`` runs EVERY test of the sample in this one
process, with hendrycks/apps eval/testing_util.py's semantics (read, not copied):
reliability_guard first (``exit``/``quit``, ``os.kill``, ``os.chdir``, ``subprocess.Popen``
... set to None; ``resource`` and four other modules unimportable); the solution executed
as a module named ``tmp_sol`` (pyext's RuntimeModule, so ``__name__ != "__main__"``), a
standard input solution first wrapped in ``def code():`` (its leading import lines stay at
module level, as APPS's transformation does); each test under a SIGALRM whose handler
raises (so a broad ``except`` can swallow it, as there); standard input patched in process
as APPS's call_method does (``sys.stdin`` a StringIO of the input, ``open`` a mock_open of
it, and ``readline``/``readlines``/``read`` of the stdin object the solution captured at
import), stdout captured in a StringIO (``sys.stdin.buffer``, the real descriptors and
output written by threads after the test returned are not seen, as there); SystemExit
inside a standard input test is a normal end, anywhere else it ends the sample with no
result (APPS's whole sample fails). The sample's wall time since the solution started is
checked against SAMPLE_LIMIT (test_one_solution.py's global timeout) after every test.

``script``: ``python -I apps_runner.py script|call SOLUTION VERDICT TIME_LIMIT [TEST]``,
this project's earlier grader, once per test: ``stdin`` runs the solution as a script
(``__name__ == "__main__"``, real file descriptors, exit() allowed) on the test's input,
and the caller compares stdout; ``call`` executes the module, looks the function up (on
``Solution()`` when the solution defines ``class Solution``), calls it and compares here.
Time: SIGALRM keeps its default action (terminate), so even a loop inside C code dies on
time; the caller reads death by SIGALRM as a timeout.

The verdict (a small JSON object) goes to the file VERDICT, never to stdout, which belongs
to the solution. No verdict file means the process died (a signal, os._exit) before it
could write one.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import signal
import sys
import time
import traceback
import types

ERROR_TAIL_CHARS = 2000


def _write_verdict(path: str, verdict: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(verdict, f)


def _arm(seconds: float) -> None:
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


def _flush_stdout() -> None:
    try:  # the solution may have closed or replaced sys.stdout
        sys.stdout.flush()
    except Exception:
        pass


def _error_tail() -> str:
    return traceback.format_exc()[-ERROR_TAIL_CHARS:]


def _fresh_module(path: str) -> dict:
    return {"__name__": "__main__", "__file__": path, "__builtins__": builtins}


def int_keys(value):
    """JSON gives dicts string keys; APPS turns them back into ints where they all are
    (testing_util's `{int(k): v ...}` conversions). Non-integer keys: unchanged."""
    try:
        return {int(k): v for k, v in value.items()}
    except (ValueError, TypeError):
        return value


def call_arguments(inputs: list) -> list:
    """The arguments of a call-based test. As in APPS, a first argument that is a dict
    with integer-like keys replaces the argument list by [that dict with int keys]."""
    if inputs and isinstance(inputs[0], dict):
        converted = int_keys(inputs[0])
        if converted is not inputs[0]:
            return [converted]
    return inputs


def expected_output(expected):
    """The expected output of a call-based test with APPS's dict-key conversions."""
    if isinstance(expected, dict):
        converted = int_keys(expected)
        return [converted] if converted is not expected else expected
    if isinstance(expected, list) and expected and isinstance(expected[0], dict):
        converted = int_keys(expected[0])
        return [converted] if converted is not expected[0] else expected
    return expected


def call_output_matches(output, expected) -> bool:
    """APPS's call-based comparison: tuples count as lists; the output may equal the
    expected value or, since APPS stores outputs wrapped in a one-element list, its first
    element; a list of tuples may equal the first element as a list of lists. A comparison
    that raises (numpy arrays) does not match."""
    if isinstance(output, tuple):
        output = list(output)
    try:
        if output == expected:
            return True
        if isinstance(expected, list) and expected and output == expected[0]:
            return True
    except Exception:
        return False
    try:
        if isinstance(output[0], tuple) and isinstance(expected, list) and expected:
            return [list(x) for x in output] == expected[0]
    except Exception:
        pass
    return False


def run_stdin(solution_path: str, verdict_path: str, limit: float) -> int:
    with open(solution_path, encoding="utf-8") as f:
        code = compile(f.read(), solution_path, "exec")
    sys.argv = [solution_path]
    _arm(limit)
    try:
        exec(code, _fresh_module(solution_path))
    except SystemExit:
        pass  # APPS catches SystemExit: exit() ends the program, whatever its status
    except BaseException:
        _disarm()
        _flush_stdout()
        _write_verdict(verdict_path, {"stage": "run", "error": _error_tail()})
        return 1
    _disarm()
    _flush_stdout()
    _write_verdict(verdict_path, {"stage": "done"})
    return 0


def run_call(solution_path: str, verdict_path: str, limit: float, test_path: str) -> int:
    with open(test_path, encoding="utf-8") as f:
        test = json.load(f)
    with open(solution_path, encoding="utf-8") as f:
        source = f.read()
    code = compile(source, solution_path, "exec")
    module = _fresh_module(solution_path)
    sys.argv = [solution_path]
    _arm(limit)
    try:
        exec(code, module)
        target = module["Solution"]() if test["class_based"] else None
    except BaseException:
        _disarm()
        _write_verdict(verdict_path, {"stage": "module", "error": _error_tail()})
        return 1
    _disarm()
    fn_name = test["fn_name"]
    method = getattr(target, fn_name, None) if target is not None else module.get(fn_name)
    if not callable(method):
        where = "class Solution" if target is not None else "the solution"
        _write_verdict(verdict_path, {"stage": "lookup", "error": f"{where} defines no function {fn_name!r}"})
        return 1
    arguments = call_arguments(test["inputs"])
    _arm(limit)
    try:
        output = method(*arguments)
    except BaseException:
        _disarm()
        _write_verdict(verdict_path, {"stage": "run", "error": _error_tail()})
        return 1
    _disarm()
    passed = call_output_matches(output, expected_output(test["expected"]))
    try:
        got = repr(output)[:300]
    except Exception:
        got = "<unprintable>"
    _write_verdict(verdict_path, {"stage": "done", "passed": bool(passed), "got": got})
    return 0


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


def output_cap(expected, max_output: int) -> int:
    """The bytes of stdout kept: `max_output`, or more where the expected output is large."""
    size = len(json.dumps(expected, ensure_ascii=False).encode("utf-8"))
    return max(max_output, 2 * size + 65536)


# ---------------------------------------------------------------- testing_util semantics

# What testing_util.reliability_guard sets to None (it is called with no memory limit).
GUARDED = {
    "builtins": ("exit", "quit", "help"),
    "os": (
        "kill",
        "system",
        "putenv",
        "remove",
        "removedirs",
        "rmdir",
        "fchdir",
        "setuid",
        "fork",
        "forkpty",
        "killpg",
        "rename",
        "renames",
        "truncate",
        "replace",
        "unlink",
        "fchmod",
        "fchown",
        "chmod",
        "chown",
        "chroot",
        "lchflags",
        "lchmod",
        "lchown",
        "getcwd",
        "chdir",
    ),
    "shutil": ("rmtree", "move", "chown"),
    "subprocess": ("Popen",),
}
BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")
MODULE_NAME = "tmp_sol"  # pyext.RuntimeModule.from_string("tmp_sol", ...)


class TimeoutException(Exception):
    """Raised by the per-test alarm, as testing_util's handler raises its own."""


class OutputLimit(BaseException):
    """A test's captured stdout grew past the cap (containment: APPS has no cap)."""


def reliability_guard() -> None:
    import shutil
    import subprocess

    modules = {"builtins": builtins, "os": os, "shutil": shutil, "subprocess": subprocess}
    os.environ["OMP_NUM_THREADS"] = "1"
    for module, names in GUARDED.items():
        for name in names:
            setattr(modules[module], name, None)
    for name in BLOCKED_MODULES:
        sys.modules[name] = None


def wrap_standard_input(solution: str) -> str:
    """testing_util's transformation of a standard input solution: every line that does not
    start with "from " or "import " is indented by a tab, and from the first indented line
    on the code is the body of ``def code():`` (later import lines move into it too),
    preceded by ``stdin = sys.stdin`` and ``stdout = sys.stdout`` at module level."""
    out, started = [], False
    for line in solution.split("\n"):
        is_import = line.startswith("from ") or line.startswith("import ")
        if not is_import and not started:
            out.append("stdin = sys.stdin\nstdout = sys.stdout\ndef code():\n")
            started = True
        out.append(("\t" if started else "") + line + "\n")
    return "".join(out)


class _Capture(io.StringIO):
    """testing_util's Capturing buffer, with a size cap; its close() is the no-op lambda of
    one argument APPS installs (so ``sys.stdout.close()`` raises TypeError there too)."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap, self.size, self.overflowed = cap, 0, False
        self.close = lambda x: 1

    def write(self, text):
        self.size += len(text)
        if self.size > self.cap:
            self.overflowed = True
            raise OutputLimit(f"output over {self.cap} characters")
        return super().write(text)


def _standard_input_call(method, text: str):
    """testing_util's call_method: patches entered in its decorators' order (read,
    readlines, readline of the stdin object of the moment, then sys.stdin, then open)."""
    import contextlib
    from unittest import mock

    lines = iter(text.split("\n"))
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch("sys.stdin.read", lambda *args: text))
        stack.enter_context(mock.patch("sys.stdin.readlines", lambda *args: text.split("\n")))
        stack.enter_context(mock.patch("sys.stdin.readline", lambda *args: next(lines)))
        stack.enter_context(mock.patch("sys.stdin", io.StringIO(text)))
        stack.enter_context(mock.patch("builtins.open", mock.mock_open(read_data=text)))
        try:
            return method()
        except SystemExit:
            return None


def _raise_timeout(signum, frame):
    raise TimeoutException("alarm went off")


def run_testing_util(
    solution_path: str, tests_path: str, verdict_path: str, limit: float, sample_limit: float, max_output: int
) -> int:
    """All tests of one sample in this process, as testing_util.run_test runs them; see the
    module docstring. Verdict: {"results": [True | False | -1 | -2 ...], "status",
    "failed_test"?, "error"?, "got"?}; checking stops at the first test that does not pass."""
    _open, _dump, _exit, _monotonic = open, json.dump, os._exit, time.monotonic
    with _open(solution_path, encoding="utf-8") as f:
        solution = f.read()
    with _open(tests_path, encoding="utf-8") as f:
        tests = json.load(f)
    prelude, fn_name = tests["prelude"], tests["fn_name"]
    if "import numpy as np" in prelude:  # imported before the clock, as APPS's grader had it loaded
        try:
            import numpy  # noqa: F401
        except ImportError:
            pass
    verdict: dict = {"results": []}

    def finish(status: str, **extra) -> int:
        verdict.update(status=status, **extra)
        with _open(verdict_path, "w", encoding="utf-8") as f:
            _dump(verdict, f)
        try:
            sys.stdout.flush()
        except Exception:
            pass
        _exit(0)
        return 0  # not reached

    reliability_guard()
    signal.signal(signal.SIGALRM, _raise_timeout)
    program = prelude + (solution if fn_name else wrap_standard_input(solution))
    started = _monotonic()
    module = types.ModuleType(MODULE_NAME)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        exec(compile(program, solution_path, "exec"), module.__dict__)
        target = module.Solution() if fn_name and "class Solution" in solution else module
        signal.setitimer(signal.ITIMER_REAL, 0)
    except Exception:
        signal.setitimer(signal.ITIMER_REAL, 0)
        verdict["results"].append(-2)
        return finish("compile_error", error=_error_tail())
    except BaseException:  # SystemExit at import: run_test's caller gets no result
        signal.setitimer(signal.ITIMER_REAL, 0)
        return finish("runtime_error", error="the solution ended the grader (no result, as in APPS): " + _error_tail())
    try:
        method = getattr(target, fn_name or "code")
    except Exception:
        verdict["results"].append(-2)
        return finish("compile_error", error=f"no function {fn_name or 'code'!r}: " + _error_tail())
    for index, (test_input, expected) in enumerate(zip(tests["inputs"], tests["outputs"])):
        status, extra = _one_test(method, fn_name, test_input, expected, limit, max_output)
        verdict["results"].append({"pass": True, "fail": False}.get(status, -1))
        if status == "escaped":
            return finish("runtime_error", failed_test=index, **extra)
        if status != "pass":
            return finish(status, failed_test=index, **extra)
        if sample_limit and _monotonic() - started > sample_limit:
            return finish("timeout", failed_test=index, error=f"over the sample's {sample_limit:g} s time limit")
    return finish("pass")


def _one_test(method, fn_name, test_input, expected, limit: float, max_output: int) -> tuple[str, dict]:
    """(status, details) of one test: pass, fail, timeout, runtime_error, or escaped (a
    BaseException left the test: APPS's whole sample then has no result)."""
    try:
        if fn_name:
            arguments = call_arguments(test_input)
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                output = method(*arguments)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if call_output_matches(output, expected_output(expected)):
                return "pass", {}
            try:
                got = repr(output)[:300]
            except Exception:
                got = "<unprintable>"
            return "fail", {"error": "wrong answer", "got": got}
        text = "\n".join(test_input) if isinstance(test_input, list) else str(test_input)
        capture, saved = _Capture(output_cap(expected, max_output)), sys.stdout
        sys.stdout = capture
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                _standard_input_call(method, text)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            sys.stdout = saved
        if capture.overflowed:
            return "fail", {"error": f"output over {capture.cap} characters"}
        if stdout_matches(capture.getvalue(), expected):
            return "pass", {}
        return "fail", {"error": "wrong answer", "got": capture.getvalue()[:300]}
    except TimeoutException:
        return "timeout", {"error": f"over the {limit:g} s time limit"}
    except OutputLimit as exc:
        return "fail", {"error": str(exc)}
    except Exception:
        return "runtime_error", {"error": _error_tail()}
    except BaseException:
        return "escaped", {"error": "the solution ended the grader (no result, as in APPS): " + _error_tail()}


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "testing_util":
        return run_testing_util(argv[1], argv[2], argv[3], float(argv[4]), float(argv[5]), int(argv[6]))
    solution_path, verdict_path, limit = argv[1], argv[2], float(argv[3])
    if mode == "stdin":
        return run_stdin(solution_path, verdict_path, limit)
    if mode == "call":
        return run_call(solution_path, verdict_path, limit, argv[4])
    raise SystemExit(f"apps_runner: unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
