# ruff: noqa: E501  (the hostile programs are one-liners in their own languages)
"""MultiPL-E execution through the real toolchains in the sandbox (ossinstruct/sandbox/toolchains.py,
ossinstruct/benchmarks/multipl_e/execution.py).

One scoring run (module fixture) holds every program: hand-written correct, wrong and
non-compiling completions of real rows from the shared data (HumanEval_53_add in every
language with a toolchain here, and Java's HumanEval_8_sum_product, which uses javatuples'
Pair), and hostile programs per language. A rerun must be all cache hits.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import SHARED, benchmark_fixture, require_ci_toolchains, require_path, toolchain_languages
from test_sandbox import pids_with_cmdline

from ossinstruct.benchmarks.multipl_e import execution as ex
from ossinstruct.evaluate.metrics import pass_at_k
from ossinstruct.identity import code_identity
from ossinstruct.sandbox import toolchains as mx

DATA = Path(os.environ.get("OSSINSTRUCT_MULTIPLE_DATA", SHARED / "benchmarks" / "multipl-e"))

AVAILABLE = toolchain_languages()

ADD = {  # language: (correct, wrong, non-compiling) completions of HumanEval_53_add
    "java": ("        return x + y;", "        return x - y;", "        return x + ;"),
    "js": ("  return x + y;\n}", "  return x - y;\n}", "  return x + ;\n}"),
    "cpp": ("    return x + y;", "    return x - y;", "    return x + ;"),
    "php": ("  return $x + $y;\n}", "  return $x - $y;\n}", "  return $x + ;\n}"),
    "rs": ("    x + y", "    x - y", "    x + "),
}
SUM_PRODUCT = (
    "        long s = 0, p = 1;\n        for (long n : numbers) { s += n; p *= n; }\n        return Pair.with(s, p);",
    "        return Pair.with(0l, 0l);",
)
TIMEOUT_S = 3  # per run (MultiPL-E's 15 s would make the loops slow); compiles get 60 s on a loaded CI
MEMORY_MB = 2048  # the JVM flags must still let javac and java start under it
SLEEPER = "987654"  # argument of the process a hostile program leaves behind


def row(lang: str, prefix: str) -> dict:
    rows = json.loads((DATA / f"humaneval-{lang}-reworded.json").read_text())
    return next(r for r in rows if r["name"].startswith(prefix))


def program(r: dict, completion: str) -> str:
    return r["prompt"].strip() + "\n" + completion + "\n" + r["tests"]


def hostile(lang: str, outside: str, port: int) -> dict[str, str]:
    """kind: a whole program that exits 0 only if its hostile act succeeded (loop and bomb never exit 0)."""
    if lang == "js":
        return {
            "loop": "while (true) {}",
            "bomb": "let a = []; while (true) a.push(new Array(1e7).fill(1.5));",
            "write": f"require('fs').writeFileSync({outside!r}, 'x');",
            "connect": f"const s = require('net').connect({port}, '127.0.0.1', () => process.exit(0)); s.on('error', () => process.exit(1));",
            "spawn": f"require('child_process').spawn('sleep', ['{SLEEPER}'], {{detached: true, stdio: 'ignore'}}).unref(); process.exit(1);",
        }
    if lang == "php":
        return {
            "loop": "<?php while (true) {}",
            "bomb": "<?php ini_set('memory_limit', '-1'); $a = []; while (true) { $a[] = str_repeat('x', 1 << 26); }",
            "write": f"<?php exit(file_put_contents('{outside}', 'x') === false ? 1 : 0);",
            "connect": f"<?php $s = @fsockopen('127.0.0.1', {port}, $e, $m, 2); exit($s ? 0 : 1);",
            "spawn": f"<?php exec('setsid sleep {SLEEPER} > /dev/null 2>&1 &'); exit(1);",
        }
    if lang == "cpp":
        return {
            "loop": "int main() { volatile long i = 0; while (true) i++; }",
            "bomb": "#include <cstring>\n#include <cstdlib>\nint main() { while (true) { char* p = (char*)malloc(1 << 26); if (!p) return 1; memset(p, 1, 1 << 26); } }",
            "write": f'#include <cstdio>\nint main() {{ FILE* f = fopen("{outside}", "w"); return f ? 0 : 1; }}',
            "connect": "#include <sys/socket.h>\n#include <netinet/in.h>\n#include <arpa/inet.h>\n"
            f"int main() {{ int s = socket(AF_INET, SOCK_STREAM, 0); sockaddr_in a{{}}; a.sin_family = AF_INET; a.sin_port = htons({port}); "
            'inet_pton(AF_INET, "127.0.0.1", &a.sin_addr); return connect(s, (sockaddr*)&a, sizeof a) == 0 ? 0 : 1; }',
            "spawn": f'#include <cstdlib>\nint main() {{ system("setsid sleep {SLEEPER} > /dev/null 2>&1 &"); return 1; }}',
        }
    if lang == "java":
        return {
            "loop": "class Problem { public static void main(String[] a) { while (true) {} } }",
            "bomb": "class Problem { public static void main(String[] a) { java.util.List<long[]> l = new java.util.ArrayList<>(); while (true) l.add(new long[1 << 24]); } }",
            "write": f'class Problem {{ public static void main(String[] a) throws Exception {{ new java.io.FileOutputStream("{outside}").close(); }} }}',
        }
    if lang == "rs":
        return {
            "loop": "fn main() { let mut i: u64 = 0; loop { i = i.wrapping_add(1); std::hint::black_box(i); } }",
            "bomb": "fn main() { let mut v = Vec::new(); loop { v.push(vec![1u8; 1 << 26]); } }",
            "write": f'fn main() {{ std::fs::write("{outside}", "x").unwrap(); }}',
        }
    return {}


def test_every_toolchain_make_toolchains_provides_is_here():
    """java (javac, java, javatuples), js, cpp, php and rs: under CI a failure naming the
    missing tool; elsewhere a skip saying so (the other tests then run the languages here)."""
    require_ci_toolchains(AVAILABLE, skip=True)
    assert AVAILABLE == ["java", "js", "cpp", "php", "rs"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    require_ci_toolchains(AVAILABLE)
    require_path(DATA, "MultiPL-E's rows", "../shared beside the checkout")
    if not AVAILABLE:
        pytest.skip("no MultiPL-E toolchain on this machine (`make toolchains`)")
    outside_dir = tmp_path_factory.mktemp("outside")
    outside_dir.chmod(0o777)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    jobs, expected = [], []
    for lang in AVAILABLE:
        r = row(lang, "HumanEval_53_")
        for completion, status in zip(ADD[lang], ("pass", "fail", "compile_error")):
            jobs.append((lang, program(r, completion)))
            expected.append((f"{lang} add {status}", status))
        if lang == "java":
            r8 = row("java", "HumanEval_8_")
            for completion, status in zip(SUM_PRODUCT, ("pass", "fail")):
                jobs.append((lang, program(r8, completion)))
                expected.append((f"java sum_product (Pair) {status}", status))
        for kind, text in hostile(lang, str(outside_dir / f"escaped-{lang}"), listener.getsockname()[1]).items():
            jobs.append((lang, text))
            expected.append((f"{lang} hostile {kind}", "timeout" if kind == "loop" else "fail"))
    cache = tmp_path_factory.mktemp("exec-cache")
    versions = mx.require_toolchains(AVAILABLE)
    results, stats = ex.score_programs(
        jobs,
        cache_dir=cache,
        versions=versions,
        workers=2,
        timeout_s=TIMEOUT_S,
        compile_timeout_s=60,
        memory_mb=MEMORY_MB,
    )
    stop.set()
    thread.join()
    listener.close()
    return {
        "jobs": jobs,
        "expected": expected,
        "results": results,
        "stats": stats,
        "cache": cache,
        "versions": versions,
        "outside": outside_dir,
        "accepted": accepted,
    }


def test_statuses_are_right(scored):
    got = {name: r["status"] for (name, _), r in zip(scored["expected"], scored["results"])}
    want = dict(scored["expected"])
    for name in want:  # a memory bomb dies of the memory limit, or of the time limit while it swaps in
        if name.endswith("hostile bomb") and got[name] in ("fail", "timeout"):
            got[name] = want[name]
    assert got == want


def test_hostile_programs_are_contained(scored):
    assert list(scored["outside"].iterdir()) == []  # nothing written outside the work dir
    assert scored["accepted"] == []  # no connection reached the host
    assert pids_with_cmdline(SLEEPER) == []  # no spawned process outlives its sample


def test_rerun_is_all_cache_hits(scored):
    stored = [
        (job, r) for job, r in zip(scored["jobs"], scored["results"]) if r["status"] not in ("timeout", "sandbox_error")
    ]
    jobs = [job for job, _ in stored] * 2  # repeats within a run are one entry too
    results, stats = ex.score_programs(
        jobs,
        cache_dir=scored["cache"],
        versions=scored["versions"],
        timeout_s=TIMEOUT_S,
        compile_timeout_s=60,
        memory_mb=MEMORY_MB,
    )
    assert stats == {"samples": len(jobs), "distinct": len(stored), "cached": len(stored), "ran": 0}
    assert all(r["cached"] for r in results)
    assert [r["status"] for r in results] == [r["status"] for _, r in stored] * 2


def test_cache_key_depends_on_toolchain_version():
    a = ex.execution_key("cpp", {"g++": "12"}, "int main(){}")
    assert a == ex.execution_key("cpp", {"g++": "12"}, "int main(){}")
    assert a != ex.execution_key("cpp", {"g++": "13"}, "int main(){}")
    assert a != ex.execution_key("rs", {"g++": "12"}, "int main(){}")


@pytest.fixture
def no_swiftc(monkeypatch):
    """This machine as one without swiftc, whether or not it has one."""
    real = mx.tool_version
    monkeypatch.setattr(mx, "tool_version", lambda tool: None if tool == "swiftc" else real(tool))


def test_missing_swift_fails_naming_the_toolchain_and_config_key(no_swiftc):
    with pytest.raises(mx.ToolchainMissing, match=r"swift needs swiftc.*evaluation\.multipl_e\.languages"):
        mx.require_toolchains(["java", "swift"])


@pytest.mark.parametrize(
    ("n", "c", "k", "value"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (10, 3, 1, 0.3),
        (50, 7, 1, 0.14),
        (5, 2, 2, 0.7),
        (10, 5, 10, 1.0),
        (4, 1, 2, 0.5),
    ],
)
def test_pass_at_k_known_values(n, c, k, value):
    assert pass_at_k(n, c, k) == pytest.approx(value)


def test_pass_at_k_rejects_bad_input():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


# ---------------------------------------------------------------- the benchmark module

FIXTURE = benchmark_fixture("multipl-e.jsonl")


def fixture_rows():
    from ossinstruct.benchmarks import REGISTRY

    return REGISTRY["multipl-e"].load_rows({"source": "file", "path": str(FIXTURE)})


def test_stop_token_truncation_on_real_rows():
    from ossinstruct.benchmarks.multipl_e.plugin import BENCHMARK

    rows = {(r["language"], r["name"][:13]): r for r in fixture_rows()}
    java = rows[("java", "HumanEval_53_")]
    out = BENCHMARK.multiple_postprocess(java, "        return x + y;\n    }\n    public static void junk() {}")
    assert out["completion"] == "        return x + y;"  # cut at "\n    }\n"; the tests close the function
    assert out["program"] == java["prompt"].strip() + "        return x + y;" + "\n" + java["tests"]
    js = rows[("js", "HumanEval_53_")]
    assert BENCHMARK.multiple_postprocess(js, "  return x + y;\n}\n// more\nfunction f() {}")["completion"] == (
        "  return x + y;\n}"
    )
    php = rows[("php", "HumanEval_53_")]
    assert BENCHMARK.multiple_postprocess(php, "  return $x + $y;\n}\nfunction g() {}")["completion"] == (
        "  return $x + $y;\n}"
    )
    prompt = BENCHMARK.build_multiple_prompt(java)
    assert prompt.text == java["prompt"].strip() and prompt.stop == java["stop_tokens"]
    instruct = BENCHMARK.build_multiple_prompt(java, "instruct")
    assert instruct.text.endswith(instruct.response_prefix) and instruct.stop == ["```"]
    assert "@@ Instruction" in instruct.text
    with pytest.raises(ValueError, match="prompt style"):
        BENCHMARK.build_multiple_prompt(java, "chat")


def test_weighted_average_and_harness_export():
    from ossinstruct.benchmarks.multipl_e import plugin as me

    assert me.weighted_average(dict.fromkeys(me.LANGUAGES, 0.5)) == pytest.approx(0.5)
    scores = {"java": 1.0, "js": 0.0, "cpp": 0.0, "php": 0.0, "rs": 0.0, "swift": 0.0}
    assert me.weighted_average(scores) == pytest.approx(158 / 955)
    with pytest.raises(ValueError, match="swift"):
        me.weighted_average({k: v for k, v in scores.items() if k != "swift"})
    rows = [r for r in fixture_rows() if r["language"] == "js"]
    gens = me.bigcode_generations(rows, {rows[0]["name"]: ["  return x + y;\n}", "  return 0;\n}"]})
    assert gens == [[rows[0]["prompt"].strip() + "  return x + y;\n}", rows[0]["prompt"].strip() + "  return 0;\n}"]]
    assert me.harness_keys({"java": 0.25}) == {"multiple-java": {"pass@1": 0.25}}
    assert me.SAMPLING["table2"] == {
        "temperature": 0.2,
        "top_p": 0.95,
        "n_samples": 50,
        "max_length": 512,
        "max_length_counts": "prompt+completion",
    }


def _write_eval_files(tmp_path, rows, completions_per_task):
    """tasks.jsonl, info, expected and samples.jsonl as rules eval_data and eval_generate
    write them, for MultiPL-E rows and {task_id: [completion, ...]}."""
    from ossinstruct.benchmarks.multipl_e.plugin import BENCHMARK
    from ossinstruct.files import write_json_atomic, write_jsonl_atomic

    tasks = [{**r, "task_id": f"{r['language']}/{r['name']}"} for r in rows]
    write_jsonl_atomic(tmp_path / "tasks.jsonl", tasks)
    write_json_atomic(tmp_path / "info.json", {"languages": sorted({r["language"] for r in rows}), "limit": None})
    write_json_atomic(tmp_path / "expected.json", {})
    samples = []
    for task in tasks:
        for k, completion in enumerate(completions_per_task[task["task_id"]]):
            out = BENCHMARK.postprocess(task, "completion", completion)
            samples.append({"task_id": task["task_id"], "sample": k, "raw": completion, **out})
    write_jsonl_atomic(tmp_path / "samples.jsonl", samples)


def _score(tmp_path, name, **kwargs):
    from ossinstruct.evaluate.score import score

    return score(
        "multipl-e",
        model="toy",
        samples_path=tmp_path / "samples.jsonl",
        tasks_path=tmp_path / "tasks.jsonl",
        info=json.loads((tmp_path / "info.json").read_text()),
        expected_path=tmp_path / "expected.json",
        out_result=tmp_path / f"{name}.json",
        out_tasks=tmp_path / f"{name}.tasks.jsonl",
        settings={},
        cache_dir=tmp_path / "cache",
        **kwargs,
    )


def test_multiple_scoring_writes_pass_at_1_per_language_and_the_harness_files(tmp_path):
    """The rule's step (the scorer + MultiplE.check_samples): pass@1 per language by the
    unbiased estimator, the harness keys and --load_generations_path files, the execution
    cache (4 samples, 2 distinct programs per language; none run again on rerun)."""
    require_ci_toolchains(AVAILABLE)
    langs = [lang for lang in ("js", "php") if lang in AVAILABLE]
    if not langs:
        pytest.skip("no node or php here (`make toolchains`)")
    rows = [r for r in fixture_rows() if r["language"] in langs and r["name"].startswith("HumanEval_53_")]
    completions = {f"{r['language']}/{r['name']}": [ADD[r["language"]][0]] * 3 + [ADD[r["language"]][1]] for r in rows}
    _write_eval_files(tmp_path, rows, completions)
    result = _score(tmp_path, "multipl-e", out_exports=tmp_path / "exports")
    assert result["pass@1"] == dict.fromkeys(langs, 0.75)
    assert result["scoring"]["execution"] == {
        "samples": 4 * len(langs),
        "distinct": 2 * len(langs),
        "cached": 0,
        "ran": 2 * len(langs),
    }
    assert result["scoring_protocol"]["toolchains"][langs[0]]
    # The limits in force, recorded as the scoring rule's params hold them (its code identity).
    protocol = code_identity("eval_score_multiple", None, "multipl-e")["benchmark"]["protocol"]
    assert protocol == {"step_limits_s": mx.STEP_LIMITS_S, "memory_mb": mx.MEMORY_MB}
    assert {k: result["scoring_protocol"][k] for k in protocol} == protocol
    on_disk = json.loads((tmp_path / "multipl-e.json").read_text())
    assert on_disk["bigcode_harness"][f"multiple-{langs[0]}"] == {"pass@1": 0.75}
    assert on_disk["n_samples_per_task"] == [4] and on_disk["sampling"]["n_samples"] == 50
    gens = json.loads((tmp_path / "exports" / f"multiple-{langs[0]}.json").read_text())
    assert len(gens) == 1 and len(gens[0]) == 4 and gens[0][0] == rows[0]["prompt"].strip() + ADD[langs[0]][0]
    statuses = [json.loads(line)["status"] for line in (tmp_path / "multipl-e.tasks.jsonl").read_text().splitlines()]
    assert statuses.count("pass") == 3 * len(langs) and statuses.count("fail") == len(langs)
    again = _score(tmp_path, "again")
    assert again["scoring"]["execution"]["ran"] == 0 and again["scoring"]["execution"]["cached"] == 2 * len(langs)
    assert again["pass@1"] == result["pass@1"]


def test_the_result_records_the_step_limits_in_force(tmp_path, monkeypatch):
    """docs/reruns.md: the result file's scoring_protocol is read from the
    constants when scoring runs, not written as a literal: with another JavaScript run limit,
    the result and the rule's params both say so."""
    limits = {lang: dict(v) for lang, v in mx.STEP_LIMITS_S.items()}
    limits["js"]["run"] = 7.0
    monkeypatch.setattr(mx, "STEP_LIMITS_S", limits)
    rows = [r for r in fixture_rows() if r["language"] == "js" and r["name"].startswith("HumanEval_53_")]
    _write_eval_files(tmp_path, rows, {f"js/{r['name']}": [ADD["js"][0]] for r in rows})
    result = _score(tmp_path, "multipl-e")
    assert result["pass@1"] == {"js": 1.0}
    assert result["scoring_protocol"]["step_limits_s"]["js"] == {"compile": 5.0, "run": 7.0}
    protocol = code_identity("eval_score_multiple", None, "multipl-e")["benchmark"]["protocol"]
    assert protocol["step_limits_s"]["js"]["run"] == 7.0


def test_multiple_scoring_with_swift_fails_before_any_job(tmp_path, monkeypatch, no_swiftc):
    def no_jobs(*args, **kwargs):
        raise AssertionError("a job ran")

    monkeypatch.setattr(ex, "score_programs", no_jobs)
    swift = [r for r in fixture_rows() if r["language"] == "swift"]
    _write_eval_files(tmp_path, swift, {f"swift/{r['name']}": ["    return x + y"] for r in swift})
    with pytest.raises(mx.ToolchainMissing, match=r"swiftc.*evaluation\.multipl_e\.languages"):
        _score(tmp_path, "r")
    assert not (tmp_path / "r.json").exists()


def test_the_config_default_includes_swift_and_the_error_says_how_to_drop_it(no_swiftc):
    from ossinstruct.config import load_config

    config = load_config(str(Path(__file__).parents[1] / "config.yaml"))
    assert config["evaluation"]["multipl_e"]["languages"] == list(mx.LANGUAGES)
    with pytest.raises(mx.ToolchainMissing, match=r"swift needs swiftc.*evaluation\.multipl_e\.languages"):
        mx.require_toolchains(config["evaluation"]["multipl_e"]["languages"])
    assert mx.require_toolchains([x for x in AVAILABLE if x in ("js", "php")]) is not None


# ---------------------------------------------------------------- the harness's limits and result

# bigcode-evaluation-harness at be2a44c (the paper authors' pin),
# bigcode_eval/tasks/custom_metrics/multiple_metrics/eval_<lang>.py, as read there:
# safe_subprocess.run defaults to 15 s; eval_javascript.py runs node with timeout=5;
# eval_rust.py compiles with timeout=15 and runs with timeout=5; eval_swift.py compiles with
# timeout_seconds=45 and runs with 5; eval_cpp.py, eval_java.py and eval_php.py use the default.
HARNESS_LIMITS = {
    "cpp": (15, 15),
    "java": (15, 15),
    "js": (None, 5),
    "php": (None, 15),
    "rs": (15, 5),
    "swift": (45, 5),
}


def test_each_language_gets_the_harness_s_limits_and_the_result_records_them():
    for lang, (compile_s, run_s) in HARNESS_LIMITS.items():
        limits = mx.STEP_LIMITS_S[lang]
        assert limits["run"] == run_s
        # js and php compile nothing there: our syntax check gets the run's limit.
        assert limits["compile"] == (compile_s if compile_s is not None else run_s)
        job = mx.build_job(lang, "x")
        assert (job["compile_timeout_s"], job["timeout_s"]) == (limits["compile"], limits["run"])
    # An explicit limit (verify's) still overrides.
    assert mx.build_job("js", "x", 10, 30)["timeout_s"] == 10
    from ossinstruct.benchmarks.multipl_e.plugin import BENCHMARK

    assert BENCHMARK.scoring_protocol({"languages": ["js", "swift"]})["step_limits_s"] == {
        "js": {"compile": 5.0, "run": 5.0},
        "swift": {"compile": 45.0, "run": 5.0},
    }


def test_a_program_running_past_its_language_s_limit_times_out(tmp_path):
    """JavaScript and Rust programs get 5 s to run (15 s for C++): a 7 s program is a timeout."""
    require_ci_toolchains(AVAILABLE)
    programs = {
        "js": "const t = Date.now(); while (Date.now() - t < 7000) {}",
        "rs": "fn main() { std::thread::sleep(std::time::Duration::from_secs(7)); }",
    }
    jobs = [(lang, text) for lang, text in programs.items() if lang in AVAILABLE]
    if not jobs:
        pytest.skip("no node or rustc here (`make toolchains`)")
    results, _ = ex.score_programs(jobs, versions=mx.require_toolchains([lang for lang, _ in jobs]), workers=2)
    assert [r["status"] for r in results] == ["timeout"] * len(jobs), results
    assert all(r["run_s"] < 6.5 for r in results if "run_s" in r)


SWIFTC_STAND_IN = """#!/bin/sh
# A stand-in for swiftc (Swift has no Debian package): "compiles" main.swift into a program
# that exits 0 when the source returns x + y, 1 otherwise.
if [ "$1" = "--version" ]; then echo "swiftc stand-in (tests/test_multiple_exec.py)"; exit 0; fi
if grep -q "return x + y" "$1"; then code=0; else code=1; fi
printf '#!/bin/sh\\nexit %s\\n' "$code" > "$3"
chmod +x "$3"
"""


def test_the_scorer_writes_the_weighted_average_and_the_java_pair_note(tmp_path, monkeypatch):
    """multipl-e-greedy through the scorer (evaluate/score.py, the sandbox, the execution cache)
    on samples of all six languages: the result file it writes has the Tables 5/6 average
    weighted by problem count, computed from its own pass@1, and the note on the paper's
    Java column; the Java problem using Pair passes (javatuples on both classpaths). Swift
    runs through a stand-in swiftc (no Swift toolchain exists for Debian); the other five
    languages through their real toolchains."""
    from ossinstruct.benchmarks.multipl_e import plugin as me
    from ossinstruct.evaluate.paper import load_paper_results
    from ossinstruct.evaluate.score import score
    from ossinstruct.evaluate.summary.markdown import summary_markdown
    from ossinstruct.evaluate.summary.rows import summary_rows

    require_ci_toolchains(AVAILABLE, skip=True)
    bin_dir = Path(tempfile.mkdtemp(prefix="osi-swiftc-", dir=Path(__file__).resolve().parents[1]))
    try:
        bin_dir.chmod(0o755)  # sandbox jobs run as nobody
        (bin_dir / "swiftc").write_text(SWIFTC_STAND_IN)
        (bin_dir / "swiftc").chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        rows = [r for r in fixture_rows() if r["name"].startswith(("HumanEval_53_", "HumanEval_8_"))]
        assert sorted({r["language"] for r in rows}) == sorted(me.LANGUAGES)
        completions = {}
        for r in rows:
            lang = r["language"]
            if r["name"].startswith("HumanEval_8_"):
                completions[f"{lang}/{r['name']}"] = [SUM_PRODUCT[0]]
            elif lang == "js":
                completions[f"{lang}/{r['name']}"] = [ADD["js"][1]]  # wrong: JavaScript scores 0
            else:
                completions[f"{lang}/{r['name']}"] = [ADD.get(lang, ("    return x + y",))[0]]
        _write_eval_files(tmp_path, rows, completions)
        result = score(
            "multipl-e-greedy",
            model="toy",
            samples_path=tmp_path / "samples.jsonl",
            tasks_path=tmp_path / "tasks.jsonl",
            info=json.loads((tmp_path / "info.json").read_text()),
            expected_path=tmp_path / "expected.json",
            out_result=tmp_path / "multipl-e-greedy.json",
            out_tasks=tmp_path / "multipl-e-greedy.tasks.jsonl",
            settings={},
            cache_dir=tmp_path / "cache",
        )
    finally:
        shutil.rmtree(bin_dir)
    on_disk = json.loads((tmp_path / "multipl-e-greedy.json").read_text())
    assert on_disk["pass@1"] == result["pass@1"]
    per_language = {lang: on_disk["pass@1"][lang] for lang in me.LANGUAGES}
    assert per_language == {"java": 1.0, "js": 0.0, "cpp": 1.0, "php": 1.0, "rs": 1.0, "swift": 1.0}
    assert on_disk["pass@1"]["average"] == pytest.approx((158 + 161 + 161 + 156 + 158) / 955)
    assert on_disk["average_weighted"] == on_disk["pass@1"]["average"]
    assert on_disk["notes"] == [me.JAVA_PAIR_NOTE]
    assert on_disk["scoring_protocol"]["step_limits_s"] == mx.STEP_LIMITS_S
    assert "stand-in" in on_disk["scoring_protocol"]["toolchains"]["swift"]["swiftc"]
    summary = summary_markdown(summary_rows([on_disk]), load_paper_results(), [on_disk])
    assert me.JAVA_PAIR_NOTE in summary and "MultiPL-E (greedy) average" in summary
