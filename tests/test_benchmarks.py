"""The benchmark plug-in contract (ossinstruct/benchmarks/), checked for every benchmark in
the registry, and a new benchmark as one folder and one registry line: a throwaway
benchmark, written into a temporary folder, registered and taken through the config, the
workflow's targets, its data, the self-check's samples, the scorer and the summary.

Fixtures: each benchmark folder's fixtures/{name}.jsonl, a few rows in the benchmark's real
schema (its decontamination source); for an evaluated benchmark, {name}.eval.jsonl when its
evaluation reads another schema (MBPP+ vs the original MBPP), else the same file.
ds1000-insertion.jsonl: the non-Matplotlib rows of ds1000.jsonl (insertion has none).
HumanEval+ and MBPP+ rows are copied from the EvalPlus release files (Apache-2.0).
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO, require_ci_toolchains, require_path, toolchain_languages, write_tree

from ossinstruct import benchmarks as B
from ossinstruct.benchmarks.evalplus.plugin import EvalPlusBenchmark

PAPER_RESULTS = Path(__file__).parents[1] / "ossinstruct" / "evaluate" / "paper_results.yaml"
NAMES = list(B.REGISTRY)
EVALUATED = list(B.EVALUATED)


def fixture(benchmark, evaluation=False) -> Path:
    """The benchmark's fixture: fixtures/{name}.jsonl beside its plug-in (the evaluation's
    {name}.eval.jsonl where there is one and `evaluation`)."""
    folder = Path(sys.modules[type(benchmark).__module__].__file__).parent / "fixtures"
    path = folder / f"{benchmark.name}.jsonl"
    if evaluation and (folder / f"{benchmark.name}.eval.jsonl").is_file():
        path = folder / f"{benchmark.name}.eval.jsonl"
    assert path.is_file(), f"benchmark {benchmark.name} has no fixture {path}"
    return path


def _rows(benchmark, evaluation=False):
    return benchmark.load_rows({"source": "file", "path": str(fixture(benchmark, evaluation))})


@pytest.mark.parametrize("name", NAMES)
def test_each_benchmark_declares_its_source_and_paper(name):
    benchmark = B.REGISTRY[name]
    assert benchmark.name == name and benchmark.display
    module = type(benchmark).__module__
    doc = __import__(module, fromlist=["_"]).__doc__
    assert doc and re.search(r"arXiv \d{4}\.\d{4,5}", doc) and "@" in doc, f"{module}: paper and citation"
    assert B.validate_source(name, benchmark.default_source) == benchmark.default_source
    assert benchmark.default_source["revision"]
    # The config's schema and defaults come from the registry.
    from ossinstruct.config import schema

    assert name in schema()["$defs"]["benchmark_name"]["enum"]


@pytest.mark.parametrize("name", NAMES)
def test_each_benchmark_loads_its_fixture_and_yields_strings(name):
    benchmark = B.REGISTRY[name]
    rows = _rows(benchmark)
    strings = B.benchmark_strings(name, rows, min_length=1)
    assert strings and {s["benchmark"] for s in strings} == {name}
    assert all(s["text"] and s["task_id"] and s["field"] for s in strings)
    # Every row gives at least one string.
    assert len({s["task_id"] for s in strings}) == len(rows)
    # A row of another schema is an error naming the benchmark, not a silent empty list.
    with pytest.raises(ValueError, match=name):
        B.benchmark_strings(name, [{"unrelated": "x"}])


@pytest.mark.parametrize("name", NAMES)
def test_the_env_override_switches_the_one_loader_to_a_file(name, tmp_path):
    benchmark = B.REGISTRY[name]
    if not benchmark.env_override:
        assert B.resolve_source(name, environ={}) == benchmark.default_source
        return
    path = fixture(benchmark)
    spec = B.resolve_source(name, environ={benchmark.env_override: str(path)})
    assert spec == {"source": "file", "path": str(path)}
    assert benchmark.load_rows(spec) == _rows(benchmark)


@pytest.mark.parametrize("name", NAMES)
def test_each_prompt_style_builds_a_prompt(name):
    benchmark = B.REGISTRY[name]
    if not benchmark.evaluated:
        assert not benchmark.prompt_styles and not benchmark.scoring_handler
        return
    rows = _rows(benchmark, evaluation=True)
    # A fill-in-the-middle benchmark gets a tokenizer with FIM tokens (DeepSeek-Coder's).
    tokenizer = [_fim_tokenizer()] if benchmark.needs_tokenizer else []
    for style in benchmark.prompt_styles:
        for row in rows:
            prompt = benchmark.build_prompt(row, style, *tokenizer)
            assert prompt.text and prompt.text.endswith(prompt.response_prefix)
            assert prompt.stop
            out = benchmark.postprocess(row, style, "    return 1\n```\ntrailing")
            assert "trailing" not in out["completion"] or style != "instruct"
    with pytest.raises(ValueError, match="prompt style"):
        benchmark.build_prompt(rows[0], "no-such-style")


def _fim_tokenizer():
    """A tiny tokenizer with DeepSeek-Coder's FIM tokens (no download)."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")), unk_token="<unk>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"]})
    return tokenizer


@pytest.mark.parametrize("name", EVALUATED)
def test_the_scoring_handler_names_a_function(name):
    module, _, function = B.REGISTRY[name].scoring_handler.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_paper_tables_agree_with_paper_results():
    """A benchmark the paper reports names its tables, as paper_results.yaml does (one the
    paper has no numbers for names none, in neither); the paper's five all have tables."""
    paper = yaml.safe_load(PAPER_RESULTS.read_text())
    for name in EVALUATED:
        benchmark = B.REGISTRY[name]
        assert benchmark.variants
        assert list(benchmark.paper_tables) == paper["benchmark_tables"].get(name, [])
    assert all(B.REGISTRY[name].paper_tables for name in paper["benchmark_tables"])
    assert set(paper["benchmark_tables"]) == set(EVALUATED)


@pytest.mark.parametrize("name", EVALUATED)
def test_reference_solution_passes_in_the_sandbox_and_a_corrupted_one_fails(name, tmp_path):
    from ossinstruct.benchmarks.evalplus.data import expected_outputs
    from ossinstruct.evaluate.metrics import pass_at_k

    benchmark = B.REGISTRY[name]
    if name in ("ds1000", "ds1000-insertion"):  # executed under DS-1000's pinned interpreter
        _ds1000_reference_passes_and_corrupted_fails(benchmark)
        return
    if name == "apps":  # its tests are in the expected file, its subset needs a config
        _apps_reference_passes_and_corrupted_fails(benchmark, tmp_path)
        return
    if benchmark.per_sample_scoring:
        _per_sample_reference_check(benchmark, tmp_path)
        return
    if not isinstance(benchmark, EvalPlusBenchmark):
        pytest.fail(f"{name}: add its family's reference and corrupted solutions to this test")
    problems = [benchmark.deserialize(row) for row in _rows(benchmark, evaluation=True)]
    expected = {p["task_id"]: expected_outputs(benchmark, p) for p in problems}
    references = [benchmark.reference_solution(p) for p in problems]
    # The entry point redefined to return None: the benchmark's tests must notice.
    corrupted = [
        f"{ref}\n\ndef {p['entry_point']}(*args, **kwargs):\n    return None\n" for p, ref in zip(problems, references)
    ]
    samples = [
        {"task_id": p["task_id"], "sample": 0, "solution": solution}
        for p, solution in zip(problems + problems, references + corrupted)
    ]
    scoring = {"solution": "raw", "min_time_limit": 1.0, "gt_time_limit_factor": 4.0, "memory_mb": 4096}
    checks = benchmark.check_samples(problems, samples, expected, workers=1, cache_dir=None, settings=scoring)
    n = len(problems)
    passed = benchmark.aggregate(problems, samples[:n], checks[:n], pass_at_k)
    failed = benchmark.aggregate(problems, samples[n:], checks[n:], pass_at_k)
    assert passed["n_passed"] == {"base": n, "plus": n} and [c["status"] for c in checks[:n]] == ["pass"] * n
    assert failed["n_passed"] == {"base": 0, "plus": 0} and all(c["status"] != "pass" for c in checks[n:])


def _ds1000_reference_passes_and_corrupted_fails(benchmark):
    # DS-1000's programs run under its pinned interpreter (tests/test_ds1000.py: real rows,
    # per library); here the fixture's rows that check a result.
    require_path(REPO / ".venv-ds1000" / "bin" / "python", "DS-1000's execution env", "`make ds1000-env`")
    problems = [p for p in benchmark.tasks_from_rows(_rows(benchmark, evaluation=True)) if p["library"] != "matplotlib"]
    references = [benchmark.reference_solution(p) for p in problems]
    corrupted = [ref + "\nresult = None\n" for ref in references]
    samples = [
        {"task_id": p["task_id"], "sample": 0, "solution": solution}
        for p, solution in zip(problems + problems, references + corrupted)
    ]
    checks = benchmark.check_samples(problems, samples, {}, workers=1, cache_dir=None, settings={})
    n = len(problems)
    assert [c["status"] for c in checks[:n]] == ["pass"] * n, checks[:n]
    assert [c["status"] for c in checks[n:]] == ["fail"] * n, checks[n:]


def _apps_reference_passes_and_corrupted_fails(benchmark, tmp_path):
    """APPS: the tasks its prepare writes from the fixture (every row, by an ids file), its
    reference solutions pass and corrupted ones fail, with the tests of its expected file."""
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(str(row["problem_id"]) for row in _rows(benchmark, evaluation=True)))
    benchmark.prepare(
        path=str(fixture(benchmark, evaluation=True)),
        version=None,
        limit=None,
        out_tasks=tmp_path / "tasks.jsonl",
        out_info=tmp_path / "info.json",
        out_expected=tmp_path / "expected.json",
        settings={"problem_ids": str(ids)},
    )
    problems = benchmark.load_tasks(tmp_path / "tasks.jsonl")
    expected = benchmark.load_expected(tmp_path / "expected.json")
    references = [benchmark.reference_solution(p) for p in problems]
    samples = [{"task_id": p["task_id"], "sample": 0, "solution": ref} for p, ref in zip(problems, references)]
    samples += [
        {"task_id": p["task_id"], "sample": 1, "solution": benchmark.corrupted_solution(p, ref)}
        for p, ref in zip(problems, references)
    ]
    checks = benchmark.check_samples(problems, samples, expected, workers=1, cache_dir=None, settings={})
    n = len(problems)
    assert [c["status"] for c in checks[:n]] == ["pass"] * n, checks[:n]
    assert [c["status"] for c in checks[n:]] == ["fail"] * n, checks[n:]


# MultiPL-E has no reference solutions: hand-written correct and wrong completions of its
# fixture's HumanEval_53_add rows (the languages with a toolchain here).
MULTIPLE_ADD = {
    "java": ("        return x + y;", "        return x - y;"),
    "js": ("  return x + y;\n}", "  return x - y;\n}"),
    "cpp": ("    return x + y;", "    return x - y;"),
    "php": ("  return $x + $y;\n}", "  return $x - $y;\n}"),
    "rs": ("    x + y", "    x - y"),
}


def _per_sample_reference_check(benchmark, tmp_path):
    """Per-sample benchmarks: the tasks its prepare writes from the fixture; correct samples
    (its reference solutions, or MultiPL-E's hand-written ones) pass, corrupted ones fail."""
    if not benchmark.has_reference_solutions:
        langs = toolchain_languages(tuple(MULTIPLE_ADD))
        require_ci_toolchains(langs)
        rows = [r for r in _rows(benchmark) if r["language"] in langs and r["name"].startswith("HumanEval_53_")]
        if not rows:
            pytest.skip("no MultiPL-E toolchain here (`make toolchains`)")
        problems = [{**r, "task_id": f"{r['language']}/{r['name']}"} for r in rows]
        good = [MULTIPLE_ADD[p["language"]][0] for p in problems]
        bad = [MULTIPLE_ADD[p["language"]][1] for p in problems]
        samples = [
            {"task_id": p["task_id"], "sample": k, **benchmark.postprocess(p, "completion", text)}
            for k, texts in enumerate((good, bad))
            for p, text in zip(problems, texts)
        ]
    else:
        benchmark.prepare(
            path=str(fixture(benchmark, evaluation=True)),
            version=None,
            limit=None,
            out_tasks=tmp_path / "tasks.jsonl",
            out_info=tmp_path / "info.json",
            out_expected=tmp_path / "expected.json",
            settings={},
        )
        from ossinstruct.files import read_jsonl

        problems = list(read_jsonl(tmp_path / "tasks.jsonl"))
        references = [benchmark.reference_solution(p) for p in problems]
        samples = [{"task_id": p["task_id"], "sample": 0, "solution": ref} for p, ref in zip(problems, references)]
        samples += [
            {"task_id": p["task_id"], "sample": 1, "solution": benchmark.corrupted_solution(p, ref)}
            for p, ref in zip(problems, references)
        ]
    checks = benchmark.check_samples(problems, samples, {}, workers=1, cache_dir=None, settings={})
    n = len(problems)
    assert [c["status"] for c in checks[:n]] == ["pass"] * n
    assert all(c["status"] != "pass" for c in checks[n:])


def test_a_registered_benchmark_is_known_to_the_config_without_a_schema_edit(
    monkeypatch,
):
    from ossinstruct.benchmarks.base import Benchmark
    from ossinstruct.config import ConfigError, load_config, schema, validate_config

    class Toy(Benchmark):
        name = "toy"
        display = "Toy"
        default_source = {"source": "file", "path": str(fixture(B.REGISTRY["gsm8k"]))}
        decontaminated_by_default = False

        def raw_strings(self, rows):
            for i, row in enumerate(rows):
                yield str(i), "question", row["question"]

    config = load_config(str(Path(__file__).parents[1] / "config.yaml"))
    with pytest.raises(ConfigError, match="toy"):
        validate_config(
            {
                **config,
                "decontamination": {**config["decontamination"], "benchmarks": ["toy"]},
            }
        )
    monkeypatch.setitem(B.REGISTRY, "toy", Toy())
    schema.cache_clear()
    try:
        assert "toy" in schema()["$defs"]["benchmark_name"]["enum"]
        assert "toy" not in schema()["properties"]["decontamination"]["properties"]["benchmarks"]["default"]
        validate_config(
            {
                **config,
                "decontamination": {**config["decontamination"], "benchmarks": ["toy"]},
            }
        )
        assert B.load_benchmark_strings("toy")[1]
    finally:
        monkeypatch.undo()
        schema.cache_clear()


# ---------------------------------------------------------------- a new benchmark: one folder, one line

# The folder of a throwaway benchmark, as a contributor would write it under
# ossinstruct/benchmarks/: the plug-in, its sandbox handler and its fixture. Nothing else in
# the package is edited: the registry line is the test's.
TOY_PLUGIN = '''"""Toy: a throwaway benchmark of three one-function problems (tests/test_benchmarks.py).

Nobody et al., "A Toy Benchmark", arXiv 0000.00000 (2099).

    @misc{toy2099, title={A Toy Benchmark}, author={Nobody}, year={2099}}
"""

from pathlib import Path
from typing import ClassVar

from ossinstruct.benchmarks.base import Benchmark, EvalPrompt, require_fields
from ossinstruct.files import write_json_atomic, write_jsonl_atomic

FIXTURE = Path(__file__).parent / "fixtures" / "toy.jsonl"


class Toy(Benchmark):
    name = "toy"
    display = "Toy"
    paper = "Nobody 2099, arXiv 0000.00000"
    default_source: ClassVar[dict] = {"source": "file", "path": str(FIXTURE)}
    decontaminated_by_default = False
    prompt_styles = ("instruct", "completion", "completion-paper")
    variants = ("easy", "hard")
    overall_variant = "overall"
    scoring_handler = "toy_bench.check:check"
    has_reference_solutions = True

    def raw_strings(self, rows):
        require_fields(self.name, rows, ("id", "question"))
        for row in rows:
            yield row["id"], "question", row["question"]

    def prepare(self, *, path, version, limit, out_tasks, out_info, out_expected, settings):
        rows = self.load_rows({"source": "file", "path": str(path or FIXTURE)})
        require_fields(self.name, rows, ("id", "level", "question", "solution", "tests"))
        rows = rows[:limit] if limit else rows
        keep = ("level", "question", "solution")
        tasks = [{"task_id": r["id"], **{k: r[k] for k in keep}} for r in rows]
        write_jsonl_atomic(out_tasks, tasks)
        write_json_atomic(out_expected, {r["id"]: r["tests"] for r in rows})
        info = {"benchmark": self.name, "n_tasks": len(tasks), "limit": limit, "version": version}
        write_json_atomic(out_info, info)
        return info

    def build_prompt(self, problem, style, tokenizer=None):
        self.check_style(style)
        return EvalPrompt(text=problem["question"] + "\\n", response_prefix="", stop=["\\n\\n\\n"])

    def postprocess(self, problem, style, generated_text, tabs_to_spaces=False):
        return {"completion": generated_text, "solution": generated_text}

    def variant_of(self, problem):
        return problem["level"]

    def scoring_payload(self, problem, solution, expected, settings):
        return {"program": solution + "\\n" + expected[problem["task_id"]]}

    def reference_solution(self, problem):
        return problem["solution"]


BENCHMARK = Toy()
'''

TOY_CHECK = '''"""Toy's sandbox handler: the solution and its tests run in the sandbox job's process."""


def check(context, payload):
    try:
        exec(compile(payload["program"], "<sample>", "exec"), {})
    except BaseException as exc:  # a failed assertion, an error, SystemExit: the sample fails
        return {"status": "fail", "error": type(exc).__name__}
    return {"status": "pass"}
'''

TOY_ROWS = [
    {
        "id": "toy/1",
        "level": "easy",
        "question": "Write add(a, b), the sum of two numbers.",
        "solution": "def add(a, b):\n    return a + b\n",
        "tests": "assert add(1, 2) == 3\n",
    },
    {
        "id": "toy/2",
        "level": "easy",
        "question": "Write double(x), twice its argument.",
        "solution": "def double(x):\n    return 2 * x\n",
        "tests": "assert double(4) == 8\n",
    },
    {
        "id": "toy/3",
        "level": "hard",
        "question": "Write fib(n), the n-th Fibonacci number (fib(0) = 0, fib(1) = 1).",
        "solution": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
        "tests": "assert [fib(n) for n in range(7)] == [0, 1, 1, 2, 3, 5, 8]\n",
    },
]


@pytest.fixture
def toy(monkeypatch):
    """The toy benchmark's folder, importable (the sandbox jobs too: under the repository,
    since /tmp is private in the sandbox), and its registry line."""
    root = Path(tempfile.mkdtemp(prefix="osi-new-benchmark-", dir=REPO))
    try:
        write_tree(
            root,
            {
                "toy_bench/__init__.py": '"""Toy: plugin.py, check.py, fixtures/toy.jsonl."""\n',
                "toy_bench/plugin.py": TOY_PLUGIN,
                "toy_bench/check.py": TOY_CHECK,
                "toy_bench/fixtures/toy.jsonl": "".join(json.dumps(row) + "\n" for row in TOY_ROWS),
            },
        )
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # sandbox jobs run as nobody
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setenv("PYTHONPATH", str(root))  # the sandbox's zygote imports the handler
        plugin = importlib.import_module("toy_bench.plugin").BENCHMARK
        from ossinstruct.config import schema

        # The registry line, and what ossinstruct/benchmarks/__init__.py derives from the
        # registry when it is imported.
        monkeypatch.setitem(B.REGISTRY, "toy", plugin)
        monkeypatch.setattr(B, "BENCHMARKS", tuple(B.REGISTRY))
        monkeypatch.setattr(B, "EVALUATED", tuple(n for n, b in B.REGISTRY.items() if b.evaluated))
        schema.cache_clear()
        yield plugin
    finally:
        monkeypatch.undo()
        schema.cache_clear()
        for name in [m for m in sys.modules if m == "toy_bench" or m.startswith("toy_bench.")]:
            del sys.modules[name]
        shutil.rmtree(root)


def test_a_new_benchmark_is_one_folder_and_one_registry_line(toy, tmp_path):
    """The toy benchmark, known to nothing but the registry, goes through the config, the
    workflow's targets and scoring rule, the study's plan, its data (rule eval_data's step), the self-check's
    samples (eval_reference's), the scorer in the sandbox (eval_score_sampled's step) and the
    summary; its decontamination strings load through the one loader."""
    from ossinstruct import workflow as wf
    from ossinstruct.config import REFERENCE_MODEL, load_config, validate_config
    from ossinstruct.evaluate.reference import reference_samples
    from ossinstruct.evaluate.steps import eval_data_step, eval_score_step
    from ossinstruct.evaluate.summary import write_summary
    from ossinstruct.files import read_jsonl, write_jsonl_atomic
    from ossinstruct.identity import code_identity

    base = load_config(str(REPO / "config.yaml"), str(REPO / "presets" / "demo.yaml"))
    config = validate_config({**base, "evaluation": {**base["evaluation"], "benchmarks": ["toy"]}})
    model = next(iter(wf.evaluated_models(config)))
    targets = wf.eval_targets(config)
    assert f"results/eval/{model}/toy.json" in targets and f"results/eval/{REFERENCE_MODEL}/toy.json" in targets
    assert "toy" in wf.scoring_rule_benchmarks("eval_score_sampled")
    # The study's plan (python -m ossinstruct plan) counts and sizes its jobs from the plug-in.
    from ossinstruct import plan as P

    toy_jobs = [j for j in P.study_jobs(config) if dict(j.wildcards).get("benchmark") == "toy"]
    assert {j.rule for j in toy_jobs} == {"eval_data", "eval_reference", "eval_generate", "eval_score_sampled"}
    minutes, how = P.estimated_minutes(config, next(j for j in toy_jobs if j.rule == "eval_score_sampled"))
    assert minutes > 1 and how.startswith(f"{toy.release_tasks} x 1 samples")
    assert code_identity("eval_score_sampled", config, "toy")["benchmark"] == {"name": "toy", "version": 1}
    assert B.load_benchmark_strings("toy")[1][0]["text"] == TOY_ROWS[0]["question"]

    data = tmp_path / "data"
    info = eval_data_step(
        config,
        "toy",
        path=None,
        version=None,
        limit=None,
        out_tasks=data / "toy.jsonl",
        out_info=data / "toy.json",
        out_expected=data / "toy.expected.pkl",
    )
    assert info["n_tasks"] == 3
    files = {
        "tasks_path": data / "toy.jsonl",
        "info_path": data / "toy.json",
        "expected_path": data / "toy.expected.pkl",
    }
    results = []
    for name, corrupt in ((REFERENCE_MODEL, ()), ("toy-model", ("toy/3",))):
        samples = tmp_path / name / "samples.jsonl"
        assert reference_samples("toy", data / "toy.jsonl", samples) == 3
        if corrupt:  # a model whose hard answer is wrong
            rows = [
                {**s, "solution": toy.corrupted_solution(s, s["solution"])} if s["task_id"] in corrupt else s
                for s in read_jsonl(samples)
            ]
            write_jsonl_atomic(samples, rows)
        result = eval_score_step(
            "toy",
            model=name,
            samples_path=samples,
            **files,
            out_result=tmp_path / name / "toy.result.json",
            out_tasks=tmp_path / name / "tasks.jsonl",
            workers=1,
            generation={"model": name},
            settings=wf.benchmark_settings(config, "toy"),
        )
        results.append(tmp_path / name / "toy.result.json")
        expected = {"easy": 1.0, "hard": 1.0, "overall": 1.0} if not corrupt else {"easy": 1.0, "hard": 0.0}
        assert {k: result["pass@1"][k] for k in expected} == expected
    assert result["pass@1"]["overall"] == pytest.approx(2 / 3) and result["n_passed"] == {"easy": 2, "hard": 0}
    statuses = [t["status"] for t in read_jsonl(tmp_path / "toy-model" / "tasks.jsonl")]
    assert statuses == ["pass", "pass", "fail"]

    rows = write_summary(results, tmp_path / "summary.md", tmp_path / "summary.csv", tmp_path / "summary.png")
    assert {(r["model"], r["label"], r["ours"]) for r in rows} >= {
        ("toy-model", "Toy hard", 0.0),
        ("toy-model", "Toy overall", 66.7),
        (REFERENCE_MODEL, "Toy easy", 100.0),
    }
    markdown = (tmp_path / "summary.md").read_text()
    assert "## Toy" in markdown and "Toy: no self-check figure measured here" not in markdown
    assert "Toy (release not recorded): no self-check figure measured here." in markdown
