"""Execution-verified samples (beyond the paper; issue 17, after SelfCodeAlign).

The paper keeps every parsed sample, correct or not (§2.2). With the tests template
(oss-instruct-chat-tests-v1) each sample carries the teacher's `tests`; this step runs
solution + tests in the sandbox and records per sample:

- ``verify_status``: pass, fail, timeout, no_tests (none given, or none that checks
  anything: :data:`CHECKS`), unsupported_language
- ``verify_language``: the language it was run as (see :func:`sample_language`)
- ``verify_detail``: the runner's own status (pass, fail, compile_error, timeout, crashed,
  sandbox_error), or why nothing ran (the tests' parse reason, the missing toolchain)
- ``verify_stderr``: the tail of the runner's stderr (compile errors included)

Dataset option ``verify`` (config.schema.yaml): ``off`` (default: no step, the paper's
outputs), ``annotate`` (every sample kept, with the fields above), ``require`` (only
``pass`` samples kept; the others go to verify_rejected.jsonl with ``reject_rule: verify``
and a ``reject_reason``, as cleaning writes rejected.jsonl).

Languages. The sample's language is the tag of its solution's first fenced code block
(the teacher may answer a C++ seed in Python), else the seed's ``lang``:

- python: in the sandbox with this interpreter: the solution runs as a module (its
  ``if __name__ == "__main__"`` block does not), then the tests as ``__main__`` with the
  solution's names (so a guarded ``unittest.main()`` finds their TestCases); test_*
  functions and TestCase classes the tests only define are run too. Tests that only
  print check nothing and pass: the template asks for assertions.
- shell: ``bash`` on solution + tests, in the sandbox.
- cpp, java, js, php, rs (rust), swift: MultiPL-E's runners
  (ossinstruct.sandbox.toolchains.build_job / compile_and_run, same flags and limits,
  javatuples on the classpath); a ``main`` of the solution is renamed when the tests have
  their own (C++, Rust); Java's imports are hoisted, ``public`` is dropped from top-level
  types and the tests' class with ``main`` is run; PHP runs with ``zend.assertions=1`` so
  that ``assert`` checks (Debian's php.ini turns them off).
- typescript: unsupported_language. Node 20 cannot run TypeScript (type stripping
  arrived in Node 22.6) and no ``tsc`` is part of this pipeline's toolchains; running a
  "transpile-free subset" would mean deleting type annotations with regexes, which
  mis-parses generics and casts and would turn correct samples into failures.
- csharp, swift without ``swiftc``, anything else: unsupported_language. A language whose
  toolchain is missing on the machine is unsupported_language too (detail names the tool),
  never a fail.

Every run goes through one SandboxPool (no network, private tmp, read-only filesystem,
rlimits, process-group kill) and the execution cache of the MultiPL-E runners
(ossinstruct.sandbox.cache.ExecutionCache: one JSON entry per distinct job and
toolchain; timeouts are never cached).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ossinstruct.files import read_jsonl, write_json_atomic, write_jsonl_atomic

log = logging.getLogger("ossinstruct.curate.verify")

MODES = ("off", "annotate", "require")
STATUSES = ("pass", "fail", "timeout", "no_tests", "unsupported_language")
FIELDS = ("verify_status", "verify_language", "verify_detail", "verify_stderr")
STDERR_TAIL = 1000
RULE_VERIFY = "verify"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_COMPILE_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 4096

# Fence tags and corpus language names -> the runner that runs them.
ALIASES = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "shell": "shell",
    "bash": "shell",
    "sh": "shell",
    "cpp": "cpp",
    "c++": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "java": "java",
    "javascript": "js",
    "js": "js",
    "node": "js",
    "rust": "rs",
    "rs": "rs",
    "php": "php",
    "swift": "swift",
    "typescript": "typescript",
    "ts": "typescript",
    "csharp": "csharp",
    "c#": "csharp",
    "cs": "csharp",
}
MULTIPLE_LANGUAGES = ("cpp", "java", "js", "php", "rs", "swift")  # the toolchains module's runners
SANDBOX_LANGUAGES = ("python", "shell")
SUPPORTED = SANDBOX_LANGUAGES + MULTIPLE_LANGUAGES
WHY_UNSUPPORTED = {
    "typescript": "typescript: node cannot run TypeScript and no tsc is part of the toolchains",
    "csharp": "csharp: no C# toolchain is part of this pipeline",
}

# Tests with none of these words check nothing (a print of the result): no_tests, not a
# vacuous pass. Per language: its assertion, exception and exit-status idioms.
CHECKS = {
    "python": r"\bassert|\braise\b|unittest|\bpytest\b|sys\.exit|\bexit\(",
    "shell": r"\bexit\b|\btest\b|\[|\bfalse\b|\|\||&&|\breturn\b",
    "cpp": r"\bassert|\babort\b|\bexit\b|\bthrow\b|\breturn\s+[1-9]",
    "java": r"\bassert|\bthrow\b|System\.exit",
    "rs": r"\bassert|\bpanic!|\bunreachable!|process::exit|\.unwrap\(|\.expect\(",
    "js": r"\bassert|\bthrow\b|process\.exit|exitCode",
    "php": r"\bassert|\bthrow\b|\bexit\b|\bdie\b",
    "swift": r"\bassert|\bprecondition|fatalError|\bexit\(",
}
FENCE_BLOCK = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([^\s`]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)

# The tests run in this script's own namespace (the __main__ module) with the solution's
# names in it, so `unittest.main()` under an `if __name__ == "__main__"` guard finds the
# tests' TestCase classes and a guarded block of asserts runs; test_* functions and
# TestCase classes the tests only define are run afterwards (pytest style).
PYTHON_DRIVER = """import inspect as _v_inspect, runpy as _v_runpy, sys as _v_sys, unittest as _v_unittest
_v_solution = _v_runpy.run_path("solution.py", run_name="solution")
globals().update({k: v for k, v in _v_solution.items() if not k.startswith("__")})
_v_before = set(globals())
with open("tests.py", encoding="utf-8") as _v_handle:
    _v_code = compile(_v_handle.read(), "tests.py", "exec")
exec(_v_code, globals())
_v_new = {k: v for k, v in list(globals().items()) if k not in _v_before and not k.startswith("_v_")}
for _v_name, _v_value in _v_new.items():
    if _v_name.startswith("test") and _v_inspect.isfunction(_v_value):
        if not _v_inspect.signature(_v_value).parameters:
            _v_value()
_v_cases = [v for v in _v_new.values() if isinstance(v, type) and issubclass(v, _v_unittest.TestCase)]
if _v_cases:
    _v_suite = _v_unittest.TestSuite(_v_unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in _v_cases)
    if not _v_unittest.TextTestRunner(stream=_v_sys.stderr, verbosity=0).run(_v_suite).wasSuccessful():
        _v_sys.exit(1)
"""


# --------------------------------------------------------------------------- programs


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(tag, code) of each closed fenced block of a markdown text, in order."""
    return [(m.group(2).lower(), m.group(3)) for m in FENCE_BLOCK.finditer(text or "")]


def sample_language(sample: dict) -> str:
    """The runner name of a sample: its solution's first tagged fence, else its seed's lang."""
    for tag, _ in code_blocks(sample.get("solution") or ""):
        if tag:
            return ALIASES.get(tag, tag)
    lang = str(sample.get("lang") or "").lower()
    return ALIASES.get(lang, lang)


def code_of(text: str, language: str) -> str:
    """The code of a section: its fenced blocks in `language` (or untagged), joined; the
    whole text when it has no fence."""
    blocks = code_blocks(text)
    if not blocks:
        return (text or "").strip() + "\n"
    chosen = [code for tag, code in blocks if not tag or ALIASES.get(tag, tag) == language]
    return "\n".join(chosen or [code for _, code in blocks])


_C_MAIN = re.compile(r"\bint\s+main\s*\(")
_RUST_MAIN = re.compile(r"\bfn\s+main\s*\(\s*\)")
_JAVA_TOP = re.compile(
    r"^(?:public\s+)?((?:(?:final|abstract|static|sealed)\s+)*)(class|interface|enum|record)\s+(\w+)", re.MULTILINE
)
_JAVA_IMPORT = re.compile(r"^\s*(import\s+[\w.*\s]+;|package\s+[\w.]+;)[ \t]*\n?", re.MULTILINE)


def _java_program(solution: str, tests: str) -> tuple[str, str | None]:
    """(one compilation unit, the class whose main runs: the tests', else the solution's)."""
    imports: list[str] = []

    def strip(code: str) -> str:
        def take(m: re.Match) -> str:
            if m.group(1).startswith("import") and m.group(1) not in imports:
                imports.append(m.group(1))
            return ""

        code = _JAVA_IMPORT.sub(take, code)
        return _JAVA_TOP.sub(lambda m: f"{m.group(1)}{m.group(2)} {m.group(3)}", code)

    def main_class(code: str) -> str | None:
        tops = list(_JAVA_TOP.finditer(code))
        for i, m in enumerate(tops):
            end = tops[i + 1].start() if i + 1 < len(tops) else len(code)
            if re.search(r"static\s+void\s+main\s*\(", code[m.start() : end]):
                return m.group(3)
        return None

    solution, tests = strip(solution), strip(tests)
    program = "\n".join(imports) + "\n\n" + solution + "\n\n" + tests
    return program, main_class(tests) or main_class(solution)


def build_payload(language: str, solution: str, tests: str, timeout_s: float, compile_timeout_s: float) -> dict | str:
    """The compile_and_run payload of solution + tests, or a reason string when the
    program cannot be assembled (a Java sample without a main class)."""
    from ossinstruct.sandbox import toolchains as tc

    if language == "python":
        files = {"solution.py": solution, "tests.py": tests, "driver.py": PYTHON_DRIVER}
        run = [sys.executable, "-E", "-s", "driver.py"]
        return {"language": language, "files": files, "compile": None, "run": run, "timeout_s": timeout_s}
    if language == "shell":
        files = {"main.sh": solution.rstrip("\n") + "\n\n" + tests}
        return {
            "language": language,
            "files": files,
            "compile": None,
            "run": ["bash", "main.sh"],
            "timeout_s": timeout_s,
        }
    main_class = None
    if language == "cpp":
        if _C_MAIN.search(tests):
            solution = _C_MAIN.sub("int solution_main_unused(", solution)
        program = solution + "\n" + tests
    elif language == "rs":
        if _RUST_MAIN.search(tests):
            solution = _RUST_MAIN.sub("#[allow(dead_code)]\nfn solution_main_unused()", solution)
        program = solution + "\n" + tests
    elif language == "java":
        program, main_class = _java_program(solution, tests)
        if main_class is None:
            return "java: neither the tests nor the solution have a class with a main method"
    elif language == "php":
        head = re.sub(r"\?>\s*$", "", solution.strip())
        if not head.startswith("<?php"):
            head = "<?php\n" + head
        program = head + "\n" + re.sub(r"^\s*<\?php", "", tests)
    else:  # js, swift
        program = solution + "\n" + tests
    job = tc.build_job(language, program, timeout_s, compile_timeout_s)
    if main_class:
        job["run"] = [*job["run"][:-1], main_class]
    if language == "php":
        job["run"] = ["php", "-d", "zend.assertions=1", "-d", "assert.exception=1", *job["run"][1:]]
    return job


# --------------------------------------------------------------------------- toolchains


def toolchains(languages: Sequence[str]) -> dict[str, dict]:
    """{language: {tool: version or None}} of the languages' runners (python: this
    interpreter; shell: bash)."""
    import platform

    from ossinstruct.sandbox import toolchains as tc

    versions: dict[str, dict] = {}
    multiple = [lang for lang in languages if lang in MULTIPLE_LANGUAGES]
    versions.update(tc.toolchain_versions(multiple))
    if "python" in languages:
        versions["python"] = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    if "shell" in languages:
        versions["shell"] = {"bash": tc.tool_version("bash")}
    return versions


# --------------------------------------------------------------------------- verification


def _result(status: str, language: str, detail: str | None, stderr: str = "") -> dict:
    return {
        "verify_status": status,
        "verify_language": language,
        "verify_detail": detail,
        "verify_stderr": (stderr or "")[-STDERR_TAIL:],
    }


def verify_samples(
    samples: Sequence[dict],
    *,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    compile_timeout_s: float = DEFAULT_COMPILE_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    versions: dict | None = None,
) -> tuple[list[dict], dict]:
    """(one result dict of :data:`FIELDS` per sample, in order; run stats). Each distinct
    job runs once, and not at all when the execution cache has it."""
    from ossinstruct.llm.cache import content_key
    from ossinstruct.sandbox import toolchains as tc
    from ossinstruct.sandbox.cache import ExecutionCache
    from ossinstruct.sandbox.pool import Limits, SandboxPool

    languages = [sample_language(s) for s in samples]
    wanted = sorted({lang for s, lang in zip(samples, languages) if s.get("tests") and lang in SUPPORTED})
    versions = {**toolchains(wanted), **(versions or {})}
    # javatuples is MultiPL-E's library, not the JDK: a sample never needs it.
    needed = {lang: {t: v for t, v in versions[lang].items() if t != "javatuples"} for lang in wanted}
    missing = tc.missing_toolchains(needed)
    cache = ExecutionCache(cache_dir) if cache_dir is not None else None

    results: list[dict | None] = [None] * len(samples)
    todo: dict[str, dict] = {}
    keys: list[str | None] = [None] * len(samples)
    by_key: dict[str, dict] = {}
    for i, (sample, lang) in enumerate(zip(samples, languages)):
        if not sample.get("tests"):
            results[i] = _result("no_tests", lang, sample.get("tests_reason") or "the sample has no tests")
        elif lang not in SUPPORTED:
            why = WHY_UNSUPPORTED.get(lang, f"{lang or 'unknown'}: no runner for this language")
            results[i] = _result("unsupported_language", lang, why)
        elif lang in missing:
            why = f"{lang}: toolchain missing on this machine ({', '.join(missing[lang])})"
            results[i] = _result("unsupported_language", lang, why)
        else:
            solution = code_of(sample.get("solution") or "", lang)
            tests = code_of(sample["tests"], lang)
            if not re.search(CHECKS[lang], tests):
                results[i] = _result(
                    "no_tests", lang, "the tests check nothing (no assertion, exception or exit status)"
                )
                continue
            payload = build_payload(lang, solution, tests, timeout_s, compile_timeout_s)
            if isinstance(payload, str):
                results[i] = _result("fail", lang, "not_assembled", payload)
                continue
            key = content_key({"verify": payload, "toolchain": versions[lang]})
            keys[i] = key
            if key in by_key or key in todo:
                continue
            hit = cache.get(key) if cache else None
            if hit is not None:
                by_key[key] = {**hit, "cached": True}
            else:
                todo[key] = payload
    started = time.monotonic()
    if todo:
        limits = Limits(timeout_s=timeout_s + compile_timeout_s + 10, memory_mb=memory_mb)
        exposed = sorted(
            {d for p in todo.values() for t in tc.TOOLCHAINS.get(p["language"], ()) if (d := tc.resolve_tool(t)[1])}
        )
        with (
            tc.exposed_to_sandbox(exposed),
            SandboxPool(tc.HANDLER, None, workers=workers, limits=limits) as pool,
        ):
            done = pool.run(list(todo.values()))
        for key, job in zip(todo, done):
            if job.status == "ok" and isinstance(job.value, dict):
                result = job.value
            elif job.status == "timeout":
                result = {"status": "timeout", "stderr": job.error or ""}
            else:  # the job process died (a memory bomb, a killed sandbox): contained, not passed
                result = {"status": "crashed", "stderr": job.error or ""}
            if cache and result["status"] != "crashed":
                cache.put(key, result)
            by_key[key] = {**result, "cached": False}
    compile_s = run_s = 0.0
    for i, key in enumerate(keys):
        if key is None:
            continue
        run = by_key[key]
        detail = run["status"]
        status = {"pass": "pass", "timeout": "timeout"}.get(detail, "fail")
        results[i] = _result(status, languages[i], detail, run.get("stderr", ""))
        if not run.get("cached"):
            compile_s += run.get("compile_s", 0.0)
            run_s += run.get("run_s", 0.0)
    stats = {
        "samples": len(samples),
        "with_tests": sum(1 for s in samples if s.get("tests")),
        "distinct_jobs": len(by_key),
        "cached": sum(1 for r in by_key.values() if r.get("cached")),
        "ran": len(todo),
        "wall_s": round(time.monotonic() - started, 3),
        "compile_s": round(compile_s, 3),
        "run_s": round(run_s, 3),
        "toolchains": {lang: versions[lang] for lang in wanted},
    }
    return results, stats


def pass_rates(samples: Sequence[dict]) -> dict:
    """{"by_status": {status: n}, "by_language": {lang: {status: n, ..., "total", "pass_rate"}}}
    of verified samples; pass_rate is pass / samples with tests that ran (pass, fail,
    timeout), None when none ran."""
    by_status = Counter(s["verify_status"] for s in samples)
    by_language: dict[str, Counter] = {}
    for s in samples:
        by_language.setdefault(s["verify_language"] or "unknown", Counter())[s["verify_status"]] += 1
    languages = {}
    for lang, counts in sorted(by_language.items()):
        ran = counts["pass"] + counts["fail"] + counts["timeout"]
        languages[lang] = {
            **{k: counts[k] for k in STATUSES},
            "total": sum(counts.values()),
            "pass_rate": round(counts["pass"] / ran, 4) if ran else None,
        }
    ran = by_status["pass"] + by_status["fail"] + by_status["timeout"]
    return {
        "by_status": {k: by_status[k] for k in STATUSES},
        "by_language": languages,
        "pass_rate": round(by_status["pass"] / ran, 4) if ran else None,
    }


def verify_dataset(
    samples_path: str,
    mode: str,
    out_samples: str,
    out_rejected: str,
    out_report: str,
    *,
    workers: int = 1,
    cache_dir: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    compile_timeout_s: float = DEFAULT_COMPILE_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> dict:
    """The `verify` step of a dataset: its decontaminated samples -> verified.jsonl
    (annotate: all, with :data:`FIELDS`; require: the passing ones, reindexed),
    verify_rejected.jsonl (require: the others, with reject_rule and reject_reason) and
    verify_report.json (counts per status and per language, run stats)."""
    if mode not in ("annotate", "require"):
        raise ValueError(f"verify: mode {mode!r} runs no verification; one of annotate, require")
    samples = list(read_jsonl(samples_path, what="sample"))
    results, stats = verify_samples(
        samples,
        workers=workers,
        cache_dir=cache_dir,
        timeout_s=timeout_s,
        compile_timeout_s=compile_timeout_s,
        memory_mb=memory_mb,
    )
    verified = [{**s, **r} for s, r in zip(samples, results)]
    kept, rejected = verified, []
    if mode == "require":
        kept = [s for s in verified if s["verify_status"] == "pass"]
        rejected = [
            {
                **s,
                "reject_rule": RULE_VERIFY,
                "reject_reason": f"verify_status={s['verify_status']}: {s['verify_detail']}",
            }
            for s in verified
            if s["verify_status"] != "pass"
        ]
        kept = [{**s, "index": i} for i, s in enumerate(kept)]
    report = {
        "mode": mode,
        "total": len(samples),
        "kept": len(kept),
        "dropped": len(rejected),
        **pass_rates(verified),
        "run": stats,
        "limits": {"timeout_s": timeout_s, "compile_timeout_s": compile_timeout_s, "memory_mb": memory_mb},
    }
    write_jsonl_atomic(out_samples, kept)
    write_jsonl_atomic(out_rejected, rejected)
    write_json_atomic(out_report, report)
    log.info("%s: %s (%d kept, %d dropped)", samples_path, report["by_status"], len(kept), len(rejected))
    return report
