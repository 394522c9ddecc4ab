"""APPS (ossinstruct/benchmarks/apps/plugin.py, ossinstruct/benchmarks/apps/check.py): the subset,
the prompts, and the grader's APPS semantics and containment, in the real sandbox.

Fixture: ossinstruct/benchmarks/apps/fixtures/apps.eval.jsonl, six problems in APPS's schema
(solutions and input_output as JSON strings; standard input and call-based, one with
class Solution; all three difficulties), each with a correct reference solution.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import benchmark_fixture

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.benchmarks.apps import check as C
from ossinstruct.benchmarks.apps import plugin as A
from ossinstruct.benchmarks.apps import runner as R
from ossinstruct.files import InputError

FIXTURE = benchmark_fixture("apps.eval.jsonl")
APPS = REGISTRY["apps"]


@pytest.fixture(scope="module")
def rows():
    return APPS.parse_rows(APPS.load_rows({"source": "file", "path": str(FIXTURE)}), "fixture")


@pytest.fixture(scope="module")
def tasks(tmp_path_factory, rows):
    """The fixture prepared as the pipeline prepares it (ids file: every fixture row)."""
    out = tmp_path_factory.mktemp("apps")
    ids = out / "ids.txt"
    ids.write_text("\n".join(str(r["problem_id"]) for r in rows) + "\n")
    APPS.prepare(
        path=str(FIXTURE),
        version=None,
        limit=None,
        out_tasks=out / "tasks.jsonl",
        out_info=out / "info.json",
        out_expected=out / "expected.json",
        settings={"problem_ids": str(ids)},
    )
    problems = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    expected = json.loads((out / "expected.json").read_text())
    return {p["problem_id"]: p for p in problems}, expected


# ---------------------------------------------------------------- comparison semantics


@pytest.mark.parametrize(
    ("stdout", "expected", "passes"),
    [
        ("3 1\n0 4\n", "3 1\n0 4\n", True),
        ("  3 1   \n0 4\n\n\n", "3 1\n0 4\n", True),  # surrounding and trailing whitespace
        ("3 1\n\n0 4\n", "3 1\n0 4\n", True),  # a blank line inside: dropped
        ("1 2 \n", "1 2\n", True),
        ("1.3333333\n", "1.333333333\n", True),  # within allclose's tolerance
        ("1.3334\n", "1.333333333\n", True),  # not within it, but equal rounded to 3 decimals
        ("1.34\n", "1.333333333\n", False),
        ("2 1\n", "1 2\n", True),  # APPS's last fallback ignores token order...
        ("0 4\n3 1\n", "3 1\n0 4\n", True),  # ...and line order
        ("3 2\n0 4\n", "3 1\n0 4\n", False),
        ("", "3\n", False),
        ("3\n", "", False),
        ("31\n", "3 1\n", False),
        ("a\nb\n", ["a", "b"], True),  # a list of lines is joined with newlines
    ],
)
def test_stdout_comparison_decides_as_apps(stdout, expected, passes):
    assert C.stdout_matches(stdout, expected) is passes


def test_call_based_comparison_decides_as_apps():
    assert R.call_output_matches((0, 1), [0, 1])  # tuples are lists
    assert R.call_output_matches(3, [3])  # APPS wraps outputs in a one-element list
    assert R.call_output_matches([(1, 2), (3, 4)], [[[1, 2], [3, 4]]])
    assert not R.call_output_matches(4, [3])
    assert not R.call_output_matches(None, [3])
    assert R.expected_output({"1": "a"}) == [{1: "a"}]  # JSON's string keys back to ints
    assert R.expected_output([{"x": 1}]) == [{"x": 1}]
    assert R.call_arguments([{"2": 3}, 5]) == [{2: 3}]  # APPS's conversion drops the rest
    assert R.call_arguments([[1, 2], 5]) == [[1, 2], 5]

    class Unequal:
        def __eq__(self, other):
            raise ValueError("ambiguous")

    assert not R.call_output_matches(Unequal(), [1])


# ---------------------------------------------------------------- the grader in the sandbox

FLOOD_AND_EXIT = "import sys\nsys.stdout.write('x' * (8 << 20))\n"
ANSWER_4100 = "t=int(input())\nfor _ in range(t):\n    n,k=map(int,input().split())\n    print(n//k,n%k)\n"
# A standard input solution that answers from a thread, after the main code has returned.
THREADED_4100 = (
    "import threading, time\nt=int(input())\nans=[]\nfor _ in range(t):\n    n,k=map(int,input().split())\n"
    "    ans.append(f'{n//k} {n%k}')\ndef later():\n    time.sleep(0.5)\n    print('\\n'.join(ans))\n"
    "threading.Thread(target=later).start()\n"
)


def _samples(tasks):
    """(sample, {grader: expected status}, why) for every case: APPS's own semantics
    (testing_util, the default) and this project's script grader."""
    problems, _ = tasks
    cases = []

    def add(pid, solution, status, why, script=None):
        sample = {"task_id": f"apps/{pid}", "sample": len(cases), "solution": solution}
        cases.append((sample, {"testing_util": status, "script": status if script is None else script}, why))

    for pid in problems:
        add(pid, _reference(pid), "pass", f"reference of {pid}")
    add(4100, "t = int(input())\nfor _ in range(t):\n    print(0, 0)\n", "fail", "wrong answer")
    add(
        4100,
        "t=int(input())\nfor _ in range(t):\n    n,k=map(int,input().split())\n    print('  ',n//k,'  ',n%k,' ')\n"
        "print()\nprint('   ')\n",
        "pass",
        "extra whitespace and blank lines",
    )
    add(
        4101,
        "n=int(input())\nt=list(map(int,input().split()))\nprint((t[-1]-t[0])/(n-1)+1e-9)\n",
        "pass",
        "float within tolerance",
    )
    add(
        4101,
        "n=int(input())\nt=list(map(int,input().split()))\nprint((t[-1]-t[0])/(n-1)+0.01)\n",
        "fail",
        "float off by 0.01",
    )
    add(4100, "while True:\n    print(input())\n", "runtime_error", "reads more input than given")
    add(4100, "while True:\n    pass\n", "timeout", "loops forever")
    add(4100, FLOOD_AND_EXIT, "fail", "floods stdout, then exits")
    # In process the capture's cap ends it; as a script it is killed by the alarm.
    add(4100, "while True:\n    print('x' * 4096)\n", "fail", "floods stdout forever", script="timeout")
    add(4100, "def main(:\n    pass\n", "compile_error", "syntax error")
    # APPS's reliability_guard sets os.kill to None; the script grader's sandbox contains it.
    add(4100, "import os\nos.kill(os.getppid(), 9)\n", "runtime_error", "kills its checker", script="sandbox_error")
    add(4100, ANSWER_4100 + "import sys\nsys.exit(3)\n", "pass", "sys.exit with a status after the answer")
    add(
        4100,
        "t=int(input())\nfor _ in range(t):\n    n,k=map(int,input().split())\n    print(*np.array(divmod(n,k)))\n"
        "assert Counter and deque and gcd and heapq\n",
        "pass",
        "APPS's prelude names, numpy included",
    )
    add(4103, "import os\nos.chdir('/')\n" + _reference(4103), "compile_error", "changes directory", script="pass")
    add(4100, ANSWER_4100 + "import sys\nsys.stdout.close()\n", "runtime_error", "closes stdout", script="pass")
    # The four differences issue 22 lists, APPS's way (testing_util) and the script grader's.
    add(4100, ANSWER_4100 + "exit()\n", "runtime_error", "exit() after answering", script="pass")
    add(4100, ANSWER_4100 + "quit()\n", "runtime_error", "quit() after answering", script="pass")
    add(
        4100,
        "import sys\nd=sys.stdin.buffer.read().split()\nfor i in range(int(d[0])):\n"
        "    n,k=int(d[1+2*i]),int(d[2+2*i])\n    print(n//k,n%k)\n",
        "runtime_error",
        "reads sys.stdin.buffer",
        script="pass",
    )
    add(4100, THREADED_4100, "fail", "answers from a thread after returning", script="pass")
    add(
        4100,
        "def main():\n"
        + "".join("    " + line + "\n" for line in ANSWER_4100.splitlines())
        + "if __name__ == '__main__':\n    main()\n",
        "fail",
        "standard input answer under a __main__ guard",
        script="pass",
    )
    add(
        4103,
        _reference(4103) + "\nif __name__ == '__main__':\n    print(longest_run(list(map(int, input().split()))))\n",
        "pass",
        "call-based solution with a __main__ block reading input",
        script="compile_error",
    )
    add(4103, "def other(arr):\n    return 0\n", "compile_error", "no function fn_name")
    add(4103, "def longest_run(arr):\n    return arr[10]\n", "runtime_error", "raises IndexError")
    add(4103, "def longest_run(arr):\n    return len(set(arr))\n", "fail", "wrong answer")
    add(
        4104,
        "class Solution:\n    def twoSum(self, nums, target):\n        return (0, 1)\n",
        "fail",
        "right on one test only",
    )
    add(4103, "def longest_run(arr):\n    while True:\n        pass\n", "timeout", "call loops forever")
    return cases


def _reference(pid):
    for line in FIXTURE.read_text().splitlines():
        row = json.loads(line)
        if row["problem_id"] == pid:
            return APPS.reference_solution(row)
    raise KeyError(pid)


@pytest.mark.parametrize("grader", ["testing_util", "script"])
def test_the_grader_passes_references_fails_wrong_code_and_contains_bad_code(tasks, tmp_path, grader):
    problems, expected = tasks
    cases = _samples(tasks)
    samples = [s for s, _, _ in cases]
    settings = {} if grader == "testing_util" else {"grader": grader}
    checks = APPS.check_samples(
        list(problems.values()), samples, expected, workers=2, cache_dir=str(tmp_path / "cache"), settings=settings
    )
    assert len(checks) == len(samples)
    got = {why: check["status"] for (_, _, why), check in zip(cases, checks)}
    assert got == {why: statuses[grader] for _, statuses, why in cases}, checks
    assert all(check["status"] in C.STATUSES for check in checks)
    by_why = {why: check for (_, _, why), check in zip(cases, checks)}
    assert "output over" in by_why["floods stdout, then exits"]["error"]
    assert "EOFError" in by_why["reads more input than given"]["error"]
    assert by_why["right on one test only"]["failed_test"] == 1
    assert by_why["right on one test only"]["n_run"] == 2
    assert "line 1 of the solution" in by_why["syntax error"]["error"]
    if grader == "testing_util":
        assert "NoneType" in by_why["exit() after answering"]["error"]  # exit is None, as reliability_guard sets it
        assert "buffer" in by_why["reads sys.stdin.buffer"]["error"]

    # A second scoring reads the cached verdicts, except timeouts and sandbox errors.
    cacheable = [(s, c) for s, c in zip(samples, checks) if c["status"] in C.CACHED_STATUSES]
    again = APPS.check_samples(
        list(problems.values()),
        [s for s, _ in cacheable],
        expected,
        workers=1,
        cache_dir=str(tmp_path / "cache"),
        settings=settings,
    )
    assert all(c.get("cached") for c in again)
    assert [c["status"] for c in again] == [c["status"] for _, c in cacheable]


@pytest.mark.parametrize("grader", ["testing_util", "script"])
def test_a_sample_is_stopped_at_its_global_time_limit(tasks, grader):
    """test_one_solution.py kills a whole sample after its global timeout (10 s + 1 s of
    join, the default here): three tests of 0.8 s each pass one by one, but not together
    within 2 s; without a sample limit they pass."""
    problems, expected = tasks
    slow = "import time\ntime.sleep(0.8)\n" + _reference(4105)
    sample = {"task_id": "apps/4105", "sample": 0, "solution": slow}
    limited = APPS.check_samples(
        list(problems.values()),
        [sample],
        expected,
        workers=1,
        cache_dir=None,
        settings={"grader": grader, "sample_timeout_s": 2},
    )[0]
    assert limited["status"] == "timeout" and "sample" in limited["error"], limited
    unlimited = APPS.check_samples(
        list(problems.values()),
        [sample],
        expected,
        workers=1,
        cache_dir=None,
        settings={"grader": grader, "sample_timeout_s": None},
    )[0]
    assert unlimited["status"] == "pass", unlimited
    assert A.grader_settings({}) == ("testing_util", 11.0) == (C.DEFAULT_GRADER, C.SAMPLE_TIMEOUT_S)


def test_testing_util_wraps_standard_input_code_as_apps_does():
    wrapped = R.wrap_standard_input("import sys\nfrom math import gcd\nx = int(input())\nimport os\nprint(x)")
    assert wrapped == (
        "import sys\nfrom math import gcd\nstdin = sys.stdin\nstdout = sys.stdout\ndef code():\n"
        "\tx = int(input())\n\timport os\n\tprint(x)\n"
    )


# ---------------------------------------------------------------- the subset


def _synthetic_split(n_per_difficulty=(100, 300, 100)):
    rows, pid = [], 0
    for difficulty, n in zip(A.DIFFICULTIES, n_per_difficulty):
        for _ in range(n):
            rows.append({"problem_id": pid, "difficulty": difficulty, "n_tests": 1})
            pid += 1
    return rows


def test_the_default_subset_is_a_deterministic_stratified_sample():
    rows = _synthetic_split()
    chosen = A.stratified_subset(rows, seed=0)
    counts = {d: sum(r["difficulty"] == d for r in chosen) for d in A.DIFFICULTIES}
    assert counts == {"introductory": 60, "interview": 180, "competition": 60}
    assert len({r["problem_id"] for r in chosen}) == 300
    ids = [r["problem_id"] for r in chosen]
    # The row order of the file does not matter; the seed does.
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    assert [r["problem_id"] for r in A.stratified_subset(shuffled, seed=0)] == ids
    assert [r["problem_id"] for r in A.stratified_subset(rows, seed=1)] != ids
    # Difficulty order, each stratum sorted by id; not simply the first ids of each.
    assert [r["difficulty"] for r in chosen] == ["introductory"] * 60 + ["interview"] * 180 + ["competition"] * 60
    assert ids[:60] == sorted(ids[:60]) and ids[:60] != list(range(60))
    with pytest.raises(InputError, match="60 competition problems wanted but the split has only 59"):
        A.stratified_subset(_synthetic_split((100, 300, 59)))


def test_select_flags_the_approximation_and_honours_an_ids_file(tmp_path):
    rows = _synthetic_split()
    rows.append({"problem_id": 999, "difficulty": "interview", "n_tests": 0})
    chosen, subset = APPS.select(rows, {"subset_seed": 3})
    assert subset["subset_approximation"] is True and subset["subset"].startswith("approximation")
    assert subset["n_problems_per_difficulty"] == {"introductory": 60, "interview": 180, "competition": 60}
    assert subset["n_untested_rows_excluded"] == 1 and 999 not in {r["problem_id"] for r in chosen}

    ids = tmp_path / "ids.txt"
    ids.write_text("# Olausson et al.'s subset\n450\n7  # a comment\n\n123\n")
    chosen, subset = APPS.select(rows, {"problem_ids": str(ids)})
    assert [r["problem_id"] for r in chosen] == [450, 7, 123]
    assert subset["subset_approximation"] is False and str(ids) in subset["subset"]
    (tmp_path / "ids.json").write_text("[5, 6]")
    assert [r["problem_id"] for r in APPS.select(rows, {"problem_ids": str(tmp_path / "ids.json")})[0]] == [5, 6]


def test_an_ids_file_in_olausson_et_al_s_forms(tmp_path):
    """theoxo/self-repair names APPS problems by number (src/apps/get_completions.py reads a
    JSON list and zero-pads it: test/0042) and, in its data, by prob_path (<APPS_DIR>/test/NNNN)."""
    rows = _synthetic_split()
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps([7, "0042", "test/0123", "/data/APPS/test/0450", "/data/APPS/test/0451/"]))
    assert [r["problem_id"] for r in APPS.select(rows, {"problem_ids": str(ids)})[0]] == [7, 42, 123, 450, 451]
    (tmp_path / "ids.txt").write_text("test/0009\n0010  # zero-padded\n/apps/test/11\n")
    assert [r["problem_id"] for r in APPS.select(rows, {"problem_ids": str(tmp_path / "ids.txt")})[0]] == [9, 10, 11]
    (tmp_path / "train.txt").write_text("train/0001\n")
    with pytest.raises(InputError, match=r"train\.txt line 1: 'train/0001' is a train-split problem"):
        APPS.select(rows, {"problem_ids": str(tmp_path / "train.txt")})
    (tmp_path / "twice.txt").write_text("42\ntest/0042\n")
    with pytest.raises(InputError, match=r"line 2: problem id 42 is listed twice"):
        APPS.select(rows, {"problem_ids": str(tmp_path / "twice.txt")})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"evaluation\.apps\.problem_ids: cannot read"),
        ("1\nabc\n", r"evaluation\.apps\.problem_ids: .*ids\.txt line 2: 'abc' is not a problem id"),
        ("1\n1\n", r"ids\.txt line 2: problem id 1 is listed twice"),
        ("# nothing\n", r"lists no problem ids"),
        ("1\n5000\n6000\n", r"2 id\(s\) of .*ids\.txt are not in the APPS test split: 5000, 6000"),
        ("999\n", r"problem\(s\) 999 of .*ids\.txt have no tests"),
        ("[1, 2.5]", r"ids\.txt item 2: 2\.5 is not a problem id"),
    ],
)
def test_a_bad_ids_file_is_a_clear_error(tmp_path, content, message):
    rows = _synthetic_split()
    rows.append({"problem_id": 999, "difficulty": "interview", "n_tests": 0})
    ids = tmp_path / "ids.txt"
    if content is not None:
        ids.write_text(content)
    with pytest.raises(InputError, match=message):
        APPS.select(rows, {"problem_ids": str(ids)})


def test_prepare_writes_tasks_tests_and_provenance(tmp_path, rows):
    split = tmp_path / "split.jsonl"
    # Enough rows for the default subset: the fixture's rows copied under new ids.
    with split.open("w") as f:
        for copy in range(60):
            for row in FIXTURE.read_text().splitlines():
                r = json.loads(row)
                r["problem_id"] = copy * 1000 + r["problem_id"] % 1000
                f.write(json.dumps(r) + "\n")
    out = {name: tmp_path / name for name in ("tasks.jsonl", "info.json", "expected.json")}
    info = APPS.prepare(
        path=str(split),
        version=None,
        limit=None,
        out_tasks=out["tasks.jsonl"],
        out_info=out["info.json"],
        out_expected=out["expected.json"],
        settings={"subset_seed": 0, "problem_ids": None},
    )
    assert info["n_tasks"] == 300 and info["n_rows_split"] == 360 and info["subset_approximation"]
    assert info["n_tasks_release"] == 300  # the subset is the benchmark the paper scored
    assert info["sha256"] and json.loads(out["info.json"].read_text()) == info
    tasks = [json.loads(line) for line in out["tasks.jsonl"].read_text().splitlines()]
    expected = json.loads(out["expected.json"].read_text())
    assert [t["task_id"] for t in tasks] == info["task_ids"] and set(expected) == set(info["task_ids"])
    assert {APPS.variant_of(t) for t in tasks} == set(A.DIFFICULTIES)
    call = next(t for t in tasks if t["problem_id"] % 1000 == 104)
    assert call["fn_name"] == "twoSum" and expected[call["task_id"]]["outputs"][0] == [0, 1]
    extras = APPS.result_extras(info, {}, {})
    assert extras["subset_approximation"] is True and "approximation" in extras["subset"]
    assert extras["notes"] == [f"APPS: {info['subset']}."]
    from ossinstruct.evaluate.summary.rows import result_notes

    assert result_notes([extras]) == extras["notes"]
    # limit: the first N tasks of the subset.
    limited = APPS.prepare(
        path=str(split),
        version=None,
        limit=4,
        out_tasks=tmp_path / "t4.jsonl",
        out_info=tmp_path / "i4.json",
        out_expected=tmp_path / "e4.json",
        settings={},
    )
    assert limited["task_ids"] == info["task_ids"][:4] and limited["n_tasks_release"] == 300


def test_a_malformed_row_names_its_problem(tmp_path):
    bad = json.loads(FIXTURE.read_text().splitlines()[0])
    bad["input_output"] = '{"inputs": ["1"], "outputs": []}'
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(InputError, match=r"problem_id 4100.*1 inputs but 0 outputs"):
        APPS.parse_rows(APPS.load_rows({"source": "file", "path": str(path)}), str(path))
    bad["input_output"], bad["difficulty"] = "{}", "easy"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(InputError, match=r"difficulty 'easy' is not one of introductory"):
        APPS.parse_rows(APPS.load_rows({"source": "file", "path": str(path)}), str(path))


# ---------------------------------------------------------------- prompts


def test_completion_prompts_are_apps_format(tasks):
    problems, _ = tasks
    stdin, call, solution_class = problems[4100], problems[4103], problems[4104]
    prompt = APPS.build_prompt(stdin, "completion")
    assert prompt.text == "\nQUESTION:\n" + stdin["question"] + "\nUse Standard Input format\nANSWER:\n"
    assert prompt.response_prefix == "" and prompt.stop == ["\nQUESTION:"]
    assert APPS.build_prompt(call, "completion").text == (
        "\nQUESTION:\n" + call["question"] + "\ndef longest_run(arr):\n\t\nUse Call-Based format\nANSWER:\n"
    )
    assert APPS.build_prompt(solution_class, "completion").text.endswith(
        "\nclass Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        "
        "\nUse Call-Based format\nANSWER:\n"
    )
    assert APPS.build_prompt(call, "completion-paper") == APPS.build_prompt(call, "completion")
    out = APPS.postprocess(call, "completion", "def longest_run(arr):\n    return 0\n\nQUESTION:\nNext problem")
    assert out == {
        "completion": "def longest_run(arr):\n    return 0\n",
        "solution": "def longest_run(arr):\n    return 0\n",
    }


def test_instruct_prompts_are_the_magicoder_template(tasks):
    from ossinstruct.curate.trainset import MAGICODER_PROMPT

    problems, _ = tasks
    stdin, call = problems[4100], problems[4103]
    header = MAGICODER_PROMPT.split("{instruction}")[0]
    prompt = APPS.build_prompt(stdin, "instruct")
    assert prompt.text == (
        header
        + "Write a solution to the following problem:\n"
        + stdin["question"].strip()
        + "\n\nUse Standard Input format"
        + MAGICODER_PROMPT.split("{instruction}")[1]
        + "```python\n"
    )
    assert prompt.response_prefix == "```python\n" and prompt.stop == ["```"]
    text = APPS.build_prompt(call, "instruct").text
    assert text.startswith(header + "Write a solution to the following problem:\n" + call["question"].strip())
    assert (
        "\n\nStart from this code:\n```python\ndef longest_run(arr):\n```\n\nUse Call-Based format\n\n@@ Response\n"
        in text
    )
    assert APPS.postprocess(call, "instruct", "def f():\n    return 1\n```\nExplanation")["solution"] == (
        "def f():\n    return 1\n"
    )
    # A model that opens the fence again: the code is still the block's.
    assert APPS.postprocess(call, "instruct", "```python\nx = 1\n```\n")["solution"] == "x = 1\n"
    with pytest.raises(ValueError, match="prompt style"):
        APPS.build_prompt(call, "chat")


def test_config_block_defaults_and_rejects_unknown_keys():
    from ossinstruct.config import ConfigError, validate_config

    config = validate_config({})
    assert config["evaluation"]["apps"] == {
        "problem_ids": None,
        "subset_seed": 0,
        "memory_mb": 4096,
        "grader": "testing_util",
        "sample_timeout_s": 11,
    }
    with pytest.raises(ConfigError, match="grader"):
        validate_config({"evaluation": {"apps": {"grader": "exec"}}})
    with pytest.raises(ConfigError, match="apps"):
        validate_config({"evaluation": {"apps": {"problem_id": "x.txt"}}})


def test_the_prelude_imports_numpy_only_for_solutions_that_name_np():
    assert "import numpy as np" in C.prelude_for("print(np.zeros(3))")
    assert "import numpy as np" not in C.prelude_for("import numpy\nprint(numpy.zeros(3))  # snp")
    assert "from heapq import *" in C.prelude_for("") and C.prelude_for("").endswith("\n")


def test_the_generic_scorer_gives_pass_at_1_per_difficulty_and_the_subset_flag(tasks, tmp_path):
    """The scorer (evaluate/score.py) on APPS: the self-check's reference
    samples pass; an interview task's corrupted sample halves interview's pass@1."""
    from ossinstruct.evaluate.reference import reference_samples
    from ossinstruct.evaluate.score import score
    from ossinstruct.files import read_jsonl, write_jsonl_atomic

    ids = tmp_path / "ids.txt"
    ids.write_text("4100\n4103\n4104\n4105\n")
    paths = {name: tmp_path / name for name in ("tasks.jsonl", "info.json", "expected.json")}
    info = APPS.prepare(
        path=str(FIXTURE),
        version=None,
        limit=None,
        out_tasks=paths["tasks.jsonl"],
        out_info=paths["info.json"],
        out_expected=paths["expected.json"],
        settings={"problem_ids": str(ids)},
    )
    assert reference_samples("apps", paths["tasks.jsonl"], tmp_path / "samples.jsonl") == 4
    samples = list(read_jsonl(tmp_path / "samples.jsonl"))
    problems = {p["task_id"]: p for p in read_jsonl(paths["tasks.jsonl"])}
    for s in samples:
        if s["task_id"] == "apps/4104":
            s["solution"] = APPS.corrupted_solution(problems["apps/4104"], s["solution"])
    write_jsonl_atomic(tmp_path / "samples.jsonl", samples)
    result = score(
        "apps",
        model="reference-solutions",
        samples_path=tmp_path / "samples.jsonl",
        tasks_path=paths["tasks.jsonl"],
        info=info,
        expected_path=paths["expected.json"],
        out_result=tmp_path / "apps.json",
        out_tasks=tmp_path / "apps.tasks.jsonl",
        settings={"problem_ids": str(ids)},
        workers=2,
    )
    assert result["pass@1"] == {"introductory": 1.0, "interview": 0.5, "competition": 1.0, "overall": 0.75}
    assert result["subset_approximation"] is False and result["subset"] == f"problem_ids file {ids}"
    assert result["notes"] == [] and result["data"]["n_tasks_release"] == result["n_tasks"] == 4
    assert result["statuses"]["interview"] == {"fail": 1, "pass": 1}
    assert json.loads((tmp_path / "apps.json").read_text())["pass@1"] == result["pass@1"]


def test_the_workflow_scores_the_self_check_on_apps(tmp_path):
    """Snakemake's eval_data, eval_reference and eval_score_sampled for APPS on the fixture
    (a local data file and an ids file in the config): every reference passes."""
    import os
    import shutil
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "presets" / "demo.yaml").read_text())
    (tmp_path / "ids.txt").write_text("4100\n4103\n4104\n4105\n")
    config["evaluation"].update(
        benchmarks=["apps"],
        data={"apps": {"path": str(FIXTURE)}},
        apps={"problem_ids": str(tmp_path / "ids.txt")},
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [snakemake, "--cores", "2", "--configfile", str(tmp_path / "config.yaml"), "--directory", str(tmp_path)]
        + ["results/eval/reference-solutions/apps.json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "results/eval/reference-solutions/apps.json").read_text())
    assert result["pass@1"] == {"introductory": 1.0, "interview": 1.0, "competition": 1.0, "overall": 1.0}
    assert result["n_tasks"] == 4 and result["subset_approximation"] is False
