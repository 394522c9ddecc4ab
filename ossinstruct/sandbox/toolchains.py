"""Programs in six languages, compiled and run inside the sandbox, and their toolchains.

Shared by MultiPL-E's scoring (ossinstruct/benchmarks/multipl_e/execution.py) and the
verify step of the curated data (ossinstruct/curate/verify.py), which runs the teacher's
tests in the same languages: one way to compile and run a program, whoever asks.

The protocol follows the evaluators of bigcode-evaluation-harness at be2a44c, the paper
authors' pin (bigcode_eval/tasks/custom_metrics/multiple_metrics/eval_*.py, MultiPL-E's
own; read, not copied): C++ ``g++ -std=c++17``, Java ``javac`` then ``java -ea``
(javatuples on the classpath of BOTH: the harness ran without it, MultiPL-E issue #45),
JavaScript ``node``, PHP ``php``, Rust ``rustc``, Swift ``swiftc``; each step with that
harness's limit for its language (:data:`STEP_LIMITS_S`: e.g. JavaScript 5 s, Rust 15 s
to compile and 5 s to run, Swift 45 s and 5 s); pass = compiled, ran, exit status 0.
JavaScript and PHP get a syntax check first (``node --check``, ``php -l``; the harness has
none) so that a program that does not parse is a compile_error rather than a fail;
pass/fail are unchanged.

Statuses per program: pass, fail, compile_error, timeout, sandbox_error.

Every compile and every run happens inside the existing sandbox (ossinstruct.sandbox:
no network, private tmp, read-only filesystem, rlimits, process-group kill) through
:func:`compile_and_run`, a sandbox handler built on ``handlers.run_program``. The JVM and
V8 reserve large address ranges, so the JVM gets explicit heap, metaspace and code-cache
bounds that fit the sandbox's RLIMIT_AS (tests/test_multiple_exec.py checks that a memory
bomb still dies in every language).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("ossinstruct.sandbox.toolchains")

LANGUAGES = ("java", "js", "cpp", "php", "rs", "swift")
HANDLER = "ossinstruct.sandbox.toolchains:compile_and_run"
STATUSES = ("pass", "fail", "compile_error", "timeout", "sandbox_error")
# Seconds per step and language, as bigcode-evaluation-harness be2a44c's eval_<lang>.py
# gives them (the limits in force, recorded in every MultiPL-E result). "compile" of js and
# php is this project's syntax check (node --check, php -l), given the run's limit.
STEP_LIMITS_S: dict[str, dict[str, float]] = {
    "cpp": {"compile": 15.0, "run": 15.0},  # eval_cpp.py: run() with its default, for g++ and the binary
    "java": {"compile": 15.0, "run": 15.0},  # eval_java.py: run() with its default, for javac and java
    "js": {"compile": 5.0, "run": 5.0},  # eval_javascript.py: subprocess.run(["node", ...], timeout=5)
    "php": {"compile": 15.0, "run": 15.0},  # eval_php.py: run() with its default
    "rs": {"compile": 15.0, "run": 5.0},  # eval_rust.py: rustc timeout=15, the binary timeout=5
    "swift": {"compile": 45.0, "run": 5.0},  # eval_swift.py: swiftc timeout_seconds=45, the binary 5
}
# RLIMIT_AS of each process of a job (compile and run); the JVM flags below keep Java within
# it. swiftc (not runnable here) is reasoned to fit: the limit is per process (driver,
# frontend, linker), a one-file frontend maps hundreds of MB, and glibc falls back to its
# main arena when a per-thread arena's 64 MB reservation fails (docs/benchmarks/multipl-e.md).
MEMORY_MB = 4096
JAVATUPLES_CANDIDATES = ("/usr/share/java/javatuples-1.2.jar", "/usr/share/java/javatuples.jar")
# The JVM reserves its heap, class space and code cache up front: bound each so that
# javac and java start under RLIMIT_AS.
JVM_FLAGS = (
    "-Xmx1g",
    "-Xss8m",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:CompressedClassSpaceSize=64m",
    "-XX:MaxMetaspaceSize=256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
)
# The programs each language needs; the config key language list drops a language.
TOOLCHAINS: dict[str, tuple[str, ...]] = {
    "java": ("javac", "java"),
    "js": ("node",),
    "cpp": ("g++",),
    "php": ("php",),
    "rs": ("rustc",),
    "swift": ("swiftc",),
}
VERSION_ARGS = {"java": "-version", "javac": "-version"}
SOURCE_FILE = {
    "java": "Problem.java",
    "js": "main.js",
    "cpp": "main.cpp",
    "php": "main.php",
    "rs": "main.rs",
    "swift": "main.swift",
}


class ToolchainMissing(RuntimeError):
    """A language's compiler or interpreter is not installed: never scored as 0%."""


def javatuples_jar() -> str | None:
    override = os.environ.get("OSSINSTRUCT_JAVATUPLES")
    for path in ((override,) if override else ()) + JAVATUPLES_CANDIDATES:
        if path and os.path.isfile(path):
            return path
    return None


def tool_version(tool: str) -> str | None:
    """The first line of `tool`'s version output; None when it is not on PATH (also used by
    ossinstruct.curate.verify for bash)."""
    path = shutil.which(tool)
    if path is None:
        return None
    arg = VERSION_ARGS.get(tool, "--version")
    try:
        done = subprocess.run([path, arg], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0].strip() if text else None


def toolchain_versions(languages: Sequence[str] = LANGUAGES) -> dict[str, dict[str, str | None]]:
    """{language: {tool: first line of its version output, or None when missing}}; Java
    also names the javatuples jar (None when missing)."""
    out: dict[str, dict[str, str | None]] = {}
    for lang in languages:
        out[lang] = {tool: tool_version(tool) for tool in TOOLCHAINS[lang]}
        if lang == "java":
            out[lang]["javatuples"] = javatuples_jar()
    return out


def missing_toolchains(versions: dict[str, dict[str, str | None]]) -> dict[str, list[str]]:
    return {
        lang: [tool for tool, v in tools.items() if v is None]
        for lang, tools in versions.items()
        if None in tools.values()
    }


def require_toolchains(languages: Sequence[str], config_key: str = "evaluation.multipl_e.languages") -> dict:
    """The versions of the languages' toolchains; ToolchainMissing naming the tool and the
    config key that drops the language when any is missing (checked before any job)."""
    versions = toolchain_versions(languages)
    missing = missing_toolchains(versions)
    if missing:
        parts = [f"{lang} needs {', '.join(tools)}" for lang, tools in missing.items()]
        raise ToolchainMissing(
            f"MultiPL-E: toolchain missing: {'; '.join(parts)} (not on PATH). Install it (`make toolchains` "
            f"installs php-cli and javatuples on Debian; there is no Swift for Debian bookworm), or drop the "
            f"language from {config_key} (now {list(languages)}). A missing toolchain is never scored as 0%."
        )
    return versions


def resolve_tool(tool: str) -> tuple[str, str | None]:
    """(the path to run, a directory the sandbox must expose or None). A rustup proxy
    (~/.cargo/bin/rustc -> rustup) is resolved to the toolchain's own rustc, whose sysroot
    is exposed: the proxy needs a writable rustup home, the sandbox has none."""
    path = shutil.which(tool)
    if path is None:
        return tool, None
    if os.path.basename(os.path.realpath(path)).startswith("rustup"):
        try:
            real = subprocess.run(["rustup", "which", tool], capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            real = ""
        if real and os.path.isfile(real):
            return real, os.path.dirname(os.path.dirname(os.path.realpath(real)))
    return path, None


@contextlib.contextmanager
def exposed_to_sandbox(directories: list[str]):
    """Within this block, sandbox jobs see `directories` read-only (a toolchain outside the
    interpreter's own paths: rustup's sysroot)."""
    from ossinstruct.sandbox.isolation import EXPOSE_VARIABLE

    old = os.environ.get(EXPOSE_VARIABLE)
    if directories:
        os.environ[EXPOSE_VARIABLE] = os.pathsep.join([*directories, *([old] if old else [])])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(EXPOSE_VARIABLE, None)
        else:
            os.environ[EXPOSE_VARIABLE] = old


def step_limits(language: str, timeout_s: float | None = None, compile_timeout_s: float | None = None) -> tuple:
    """(run, compile) seconds of a language's steps: the harness's (:data:`STEP_LIMITS_S`)
    unless given (ossinstruct.curate.verify gives its own)."""
    if language not in TOOLCHAINS:
        raise ValueError(f"unknown MultiPL-E language {language!r}; known: {', '.join(LANGUAGES)}")
    limits = STEP_LIMITS_S[language]
    return (
        float(limits["run"] if timeout_s is None else timeout_s),
        float(limits["compile"] if compile_timeout_s is None else compile_timeout_s),
    )


def build_job(
    language: str, program: str, timeout_s: float | None = None, compile_timeout_s: float | None = None
) -> dict:
    """The payload of :func:`compile_and_run` for one program; limits as :func:`step_limits`."""
    timeout_s, compile_timeout_s = step_limits(language, timeout_s, compile_timeout_s)
    source = SOURCE_FILE[language]
    compile_argv: list[str] | None = None
    if language == "cpp":
        compile_argv = ["g++", "-std=c++17", source, "-o", "main"]
        run_argv = ["./main"]
    elif language == "rs":
        compile_argv = [resolve_tool("rustc")[0], source, "-o", "main"]
        run_argv = ["./main"]
    elif language == "swift":
        compile_argv = ["swiftc", source, "-o", "main"]
        run_argv = ["./main"]
    elif language == "java":
        jar = javatuples_jar() or JAVATUPLES_CANDIDATES[0]
        compile_argv = ["javac", *(f"-J{f}" for f in JVM_FLAGS), "-encoding", "UTF8", "-cp", jar, "-d", ".", source]
        run_argv = ["java", *JVM_FLAGS, "-ea", "-cp", f".:{jar}", "Problem"]
    elif language == "js":  # a syntax check first, so that a program that does not parse is a compile_error
        compile_argv = ["node", "--check", source]
        run_argv = ["node", source]
    else:  # php: likewise php -l
        compile_argv = ["php", "-l", source]
        run_argv = ["php", source]
    return {
        "language": language,
        "files": {source: program},
        "compile": compile_argv,
        "run": run_argv,
        "timeout_s": timeout_s,
        "compile_timeout_s": compile_timeout_s,
    }


def _tail(text: str, n: int = 2000) -> str:
    return text[-n:]


def compile_and_run(context: Any, payload: dict) -> dict:
    """Sandbox handler: write the program, compile it (if the language compiles), run it.
    Returns {"status", "returncode", "stdout", "stderr" (tails), "compile_s", "run_s"}."""
    from ossinstruct.sandbox.handlers import run_program

    timeout_s = float(payload["timeout_s"])
    compile_timeout_s = float(payload.get("compile_timeout_s", timeout_s))
    compile_s = 0.0
    if payload.get("compile"):
        start = time.monotonic()
        built = run_program(
            None, {"argv": payload["compile"], "files": payload["files"], "timeout_s": compile_timeout_s}
        )
        compile_s = time.monotonic() - start
        if built["timed_out"]:
            return {
                "status": "timeout",
                "returncode": built["returncode"],
                "stdout": "",
                "stderr": _tail(built["stderr"]),
                "compile_s": compile_s,
                "run_s": 0.0,
                "step": "compile",
            }
        if built["returncode"] != 0:
            return {
                "status": "compile_error",
                "returncode": built["returncode"],
                "stdout": _tail(built["stdout"]),
                "stderr": _tail(built["stderr"]),
                "compile_s": compile_s,
                "run_s": 0.0,
            }
        files = None
    else:
        files = payload["files"]
    start = time.monotonic()
    ran = run_program(None, {"argv": payload["run"], "files": files or {}, "timeout_s": timeout_s})
    run_s = time.monotonic() - start
    out, err = ran["stdout"], ran["stderr"]
    if ran["timed_out"]:
        status = "timeout"
    elif ran["returncode"] == 0:
        status = "pass"
    else:
        status = "fail"
    return {
        "status": status,
        "returncode": ran["returncode"],
        "stdout": _tail(out),
        "stderr": _tail(err),
        "compile_s": compile_s,
        "run_s": run_s,
    }
