"""The benchmark plug-in contract (ossinstruct/benchmarks/), checked for every benchmark in
the registry: a new benchmark module is covered by adding its fixture.

Fixtures: tests/fixtures/benchmarks/{name}.jsonl, a few rows in the benchmark's real
schema (its decontamination source); for an evaluated benchmark, {name}.eval.jsonl when its
evaluation reads another schema (MBPP+ vs the original MBPP), else the same file.
ds1000-insertion.jsonl: the non-Matplotlib rows of ds1000.jsonl (insertion has none).
HumanEval+ and MBPP+ rows are copied from the EvalPlus release files (Apache-2.0).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, require_ci_toolchains, require_path, toolchain_languages

from ossinstruct import benchmarks as B
from ossinstruct.benchmarks.evalplus.plugin import EvalPlusBenchmark

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
PAPER_RESULTS = Path(__file__).parents[1] / "ossinstruct" / "evaluate" / "paper_results.yaml"
NAMES = list(B.REGISTRY)
EVALUATED = list(B.EVALUATED)


def _rows(benchmark, evaluation=False):
    path = FIXTURES / f"{benchmark.name}.jsonl"
    if evaluation and (FIXTURES / f"{benchmark.name}.eval.jsonl").is_file():
        path = FIXTURES / f"{benchmark.name}.eval.jsonl"
    assert path.is_file(), f"benchmark {benchmark.name} has no fixture {path}"
    return benchmark.load_rows({"source": "file", "path": str(path)})


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
    path = FIXTURES / f"{name}.jsonl"
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
    tokenizer = [_fim_tokenizer()] if getattr(benchmark, "needs_tokenizer", False) else []
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
    import importlib

    module, _, function = B.REGISTRY[name].scoring_handler.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_paper_tables_agree_with_paper_results():
    paper = yaml.safe_load(PAPER_RESULTS.read_text())
    for name in EVALUATED:
        benchmark = B.REGISTRY[name]
        assert benchmark.variants and benchmark.paper_tables
        assert list(benchmark.paper_tables) == paper["benchmark_tables"][name]


@pytest.mark.parametrize("name", EVALUATED)
def test_reference_solution_passes_in_the_sandbox_and_a_corrupted_one_fails(name, tmp_path):
    from ossinstruct.benchmarks.evalplus.data import expected_outputs
    from ossinstruct.evaluate.score import check_solutions, pass_at_1

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
    expected = {p["task_id"]: expected_outputs(name, p) for p in problems}
    references = [benchmark.reference_solution(p) for p in problems]
    # The entry point redefined to return None: the benchmark's tests must notice.
    corrupted = [
        f"{ref}\n\ndef {p['entry_point']}(*args, **kwargs):\n    return None\n" for p, ref in zip(problems, references)
    ]
    checks = check_solutions(name, problems + problems, references + corrupted, expected, workers=1)
    n = len(problems)
    assert pass_at_1(checks[:n])["n_passed"] == {"base": n, "plus": n}
    assert pass_at_1(checks[n:])["n_passed"] == {"base": 0, "plus": 0}


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
        path=str(FIXTURES / "apps.eval.jsonl"),
        version=None,
        limit=None,
        out_tasks=tmp_path / "tasks.jsonl",
        out_info=tmp_path / "info.json",
        out_expected=tmp_path / "expected.json",
        settings={"problem_ids": str(ids)},
    )
    from ossinstruct.evaluate.sampled_score import load_expected_file

    from ossinstruct.files import read_jsonl

    problems = list(read_jsonl(tmp_path / "tasks.jsonl"))
    expected = load_expected_file(tmp_path / "expected.json")
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
    fixture = FIXTURES / f"{benchmark.name}.eval.jsonl"
    fixture = fixture if fixture.is_file() else FIXTURES / f"{benchmark.name}.jsonl"
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
            path=str(fixture),
            version=None,
            limit=None,
            out_tasks=tmp_path / "tasks.jsonl",
            out_info=tmp_path / "info.json",
            out_expected=tmp_path / "expected.json",
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
        default_source = {"source": "file", "path": str(FIXTURES / "gsm8k.jsonl")}
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
