"""Runs ONE APPS test of one solution: the program of a single test's process.

Started by ossinstruct.evaluate.apps_check (itself a sandbox job) as
``python -I apps_runner.py MODE SOLUTION VERDICT TIME_LIMIT [TEST]``, in the job's work dir,
once per test, so that a solution that loops, reads past its input or floods stdout only
takes down this process. Standard library only: it starts in ~20 ms (plus the prelude).

MODE ``stdin``: the solution runs as a script (``__name__ == "__main__"``) on the test's
input (stdin is a file, so reading past it gives EOF, never a hang); the caller compares
stdout. MODE ``call``: the solution module is executed, the function ``fn_name`` is looked
up (on ``Solution()`` when the solution defines ``class Solution``, as APPS's
testing_util decides), called on the test's arguments, and compared here, with Python's
``==`` on the real objects, to the expected output.

Time: SIGALRM keeps its default action (terminate), armed with the time limit just before
the solution's code runs (and re-armed for the call), so even a loop inside C code dies
on time; the caller reads death by SIGALRM as a timeout.

The verdict (a small JSON object) goes to the file VERDICT, never to stdout, which belongs
to the solution: {"stage": "done"} (stdin), {"stage": "done", "passed": bool, "got": repr}
(call), or {"stage": "module" | "lookup" | "run", "error": traceback tail}. No verdict
file means the process died (a signal, os._exit) before it could write one.
"""

from __future__ import annotations

import builtins
import json
import signal
import sys
import traceback

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


def main(argv: list[str]) -> int:
    mode, solution_path, verdict_path, limit = argv[0], argv[1], argv[2], float(argv[3])
    if mode == "stdin":
        return run_stdin(solution_path, verdict_path, limit)
    if mode == "call":
        return run_call(solution_path, verdict_path, limit, argv[4])
    raise SystemExit(f"apps_runner: unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
