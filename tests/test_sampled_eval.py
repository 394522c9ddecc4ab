"""Sampled evaluation (MultiPL-E and every benchmark scored per sample): n samples per task
with their own seeds and cache keys, the max_length budget (prompt + completion tokens),
pass@k aggregation per variant, and the workflow's rules, targets and toolchain check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import benchmark_fixture
from test_eval_generate import Spy, tiny_dir  # noqa: F401 - the module fixture

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.evaluate.generate import generate_samples, n_samples_of, token_budget
from ossinstruct.files import read_jsonl

FIXTURE = benchmark_fixture("multipl-e.jsonl")
ROOT = Path(__file__).resolve().parents[1]


def multiple_tasks(languages=("js", "cpp")) -> list[dict]:
    rows = REGISTRY["multipl-e"].load_rows({"source": "file", "path": str(FIXTURE)})
    return [{**r, "task_id": f"{r['language']}/{r['name']}"} for r in rows if r["language"] in languages]


def _model(path) -> dict:
    return {"model": str(path), "dtype": "float32", "device": "cpu"}


def test_n_samples_each_with_its_seed_key_and_budget(tmp_path, tiny_dir, monkeypatch):  # noqa: F811
    """Table 2's protocol on a tiny model: n samples per task at temperature 0.2, sample k
    asked with seed k (distinct cache keys), max_tokens = max_length - prompt tokens; a
    rerun asks for nothing; more samples ask only for the new ones."""
    from test_eval_generate import _tokenizer

    spy = Spy(monkeypatch)
    tasks = multiple_tasks()
    tokenizer = _tokenizer()
    prompt_tokens = [len(tokenizer(t["prompt"].strip())["input_ids"]) for t in tasks]
    max_length = max(prompt_tokens) + 6  # every prompt fits; budgets differ per task
    decoding = {"temperature": 0.2, "top_p": 0.95, "n_samples": 3, "max_length": max_length}
    options = dict(
        benchmark="multipl-e",
        style="completion",
        engine="transformers",
        model=_model(tiny_dir),
        batch_size=4,
        cache_dir=tmp_path / "cache",
    )
    stats = generate_samples(tasks, decoding=decoding, out_path=tmp_path / "s.jsonl", **options)
    records = list(read_jsonl(tmp_path / "s.jsonl"))
    assert [(r["task_id"], r["sample"]) for r in records] == [(t["task_id"], k) for t in tasks for k in range(3)]
    n = len(tasks)
    assert stats["samples"] == 3 * n and stats["requests_sent"] == 3 * n and stats["samples_per_task"] == 3
    seeds = sorted(r.params["seed"] for r in spy.requests)
    assert seeds == [0] * n + [1] * n + [2] * n
    assert len({r.key for r in spy.requests}) == 3 * n
    budgets = {r.prompt: r.params["max_tokens"] for r in spy.requests}
    assert sorted(budgets.values()) == sorted(max_length - n for n in prompt_tokens)
    for record in records:  # no sample goes past its own budget
        assert record["completion_tokens"] <= budgets[record["prompt"]]
        assert record["solution"].endswith(next(t for t in tasks if t["task_id"] == record["task_id"])["tests"])
    # Sampled text differs between seeds on at least one task (temperature 0.2 on a random model).
    by_task = {}
    for r in records:
        by_task.setdefault(r["task_id"], set()).add(r["raw"])
    assert any(len(texts) > 1 for texts in by_task.values())

    spy.requests.clear()
    again = generate_samples(tasks, decoding=decoding, out_path=tmp_path / "again.jsonl", **options)
    assert again["requests_sent"] == 0 and not spy.requests
    assert list(read_jsonl(tmp_path / "again.jsonl")) == records
    more = generate_samples(tasks, decoding={**decoding, "n_samples": 4}, out_path=tmp_path / "more.jsonl", **options)
    assert more["requests_sent"] == n and {r.params["seed"] for r in spy.requests} == {3}


def test_decoding_checks():
    assert n_samples_of({"temperature": 0.2, "n_samples": 50}) == 50
    assert n_samples_of({}) == 1
    with pytest.raises(ValueError, match="greedy"):
        n_samples_of({"temperature": 0.0, "n_samples": 5})
    assert token_budget({"max_length": 512}, 500) == 12
    assert token_budget({"max_length": 512}, 600) == 1  # the prompt alone is past the bound
    assert token_budget({"max_new_tokens": 512}, 600) is None


def test_aggregate_pass_at_k_per_variant_and_overall():
    """pass@1 = mean over tasks of c/n; pass@10 only where every task has 10 samples; the
    overall variant is the mean over every task (not over variants)."""
    from ossinstruct.benchmarks.base import Benchmark
    from ossinstruct.evaluate.metrics import pass_at_k

    class Toy(Benchmark):
        name = "toy"
        variants = ("a", "b")
        overall_variant = "overall"

        def variant_of(self, problem):
            return problem["v"]

    problems = [{"task_id": "1", "v": "a"}, {"task_id": "2", "v": "a"}, {"task_id": "3", "v": "b"}]
    statuses = {
        "1": ["pass"] * 5 + ["fail"] * 5,
        "2": ["fail"] * 10,
        "3": ["pass"] * 10,
    }
    samples = [{"task_id": t, "sample": k} for t, got in statuses.items() for k in range(len(got))]
    checks = [{"status": status} for got in statuses.values() for status in got]
    out = Toy().aggregate(problems, samples, checks, pass_at_k)
    assert out["pass@1"] == {"a": pytest.approx(0.25), "b": 1.0, "overall": pytest.approx(0.5)}
    assert out["pass@10"] == {"a": pytest.approx(0.5), "b": 1.0, "overall": pytest.approx(2 / 3)}
    assert "pass@100" not in out
    assert out["n_tasks_per_variant"] == {"a": 2, "b": 1, "overall": 3}
    assert out["n_passed"] == {"a": 0, "b": 1}
    assert out["statuses"] == {"a": {"fail": 15, "pass": 5}, "b": {"pass": 10}}


def test_multiple_prepare_writes_the_configured_languages_first_problems(tmp_path):
    from conftest import SHARED

    plugin = REGISTRY["multipl-e-greedy"]
    info = plugin.prepare(
        path=str(SHARED / "benchmarks" / "multipl-e"),
        version=None,
        limit=5,
        out_tasks=tmp_path / "t.jsonl",
        out_info=tmp_path / "i.json",
        out_expected=tmp_path / "e.json",
        settings={"languages": ["js", "cpp"]},
    )
    tasks = list(read_jsonl(tmp_path / "t.jsonl"))
    assert [t["task_id"].split("/")[0] for t in tasks] == ["js"] * 5 + ["cpp"] * 5
    assert info["n_tasks_release_per_language"] == {"js": 161, "cpp": 161}
    assert set(info["sha256"]) == {"js", "cpp"} and json.loads((tmp_path / "e.json").read_text()) == {}
    with pytest.raises(Exception, match="humaneval-swift-reworded.json|no such"):
        plugin.prepare(
            path=str(tmp_path),
            version=None,
            limit=None,
            out_tasks=tmp_path / "x.jsonl",
            out_info=tmp_path / "x.json",
            out_expected=tmp_path / "xe.json",
            settings={"languages": ["swift"]},
        )


def test_prompt_styles_follow_the_model_and_the_config():
    plugin = REGISTRY["multipl-e"]
    assert plugin.style_for("completion-paper", {}) == "completion"
    assert plugin.style_for("instruct", {"prompt_style": "completion"}) == "completion"  # the authors' protocol
    assert plugin.style_for("instruct", {"prompt_style": "instruct"}) == "instruct"
    assert plugin.style_for("completion", {"prompt_style": "instruct"}) == "completion"


# ---------------------------------------------------------------- workflow


def _config(**evaluation):
    from ossinstruct.config import load_config

    config = load_config(str(ROOT / "config.yaml"), str(ROOT / "presets" / "demo.yaml"))
    config["evaluation"] = {**config["evaluation"], **evaluation}
    return config


def test_generation_identity_records_the_sampling_protocol_and_style():
    from ossinstruct import workflow as wf
    from ossinstruct.config import validate_config

    config = validate_config(_config(benchmarks=["humaneval", "multipl-e", "multipl-e-greedy"]))
    table2 = wf.eval_generation_identity(config, "demo-gemma-oss", "multipl-e")
    assert table2["prompt"] == "completion"  # an instruct model gets the harness's prompt
    assert table2["sampling"] == {**REGISTRY["multipl-e"].sampling}
    assert table2["sampling"]["n_samples"] == 50 and table2["temperature"] == 0.2
    greedy = wf.eval_generation_identity(config, "demo-gemma-oss", "multipl-e-greedy")
    assert greedy["sampling"]["n_samples"] == 1 and greedy["temperature"] == 0.0
    # HumanEval's identity is unchanged by the sampled benchmarks (no rerun of a finished study).
    assert "sampling" not in wf.eval_generation_identity(config, "demo-gemma-oss", "humaneval")
    targets = wf.eval_targets(config)
    assert "results/eval/reference-solutions/humaneval.json" in targets
    assert not any(t.startswith("results/eval/reference-solutions/multipl-e") for t in targets)
    assert wf.scoring_rule_benchmarks("eval_score_multiple") == ["multipl-e", "multipl-e-greedy"]
    assert wf.eval_limit(config, "multipl-e-greedy") == 2 and wf.eval_limit(config, "humaneval") == 10


def _snakemake(args, cwd, env_extra=None):
    import os
    import subprocess

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("OPENAI_API_KEY", None)
    env.update(env_extra or {})
    return subprocess.run(
        [str(Path(shutil.which("snakemake") or ROOT / ".venv" / "bin" / "snakemake")), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_run_with_swift_and_no_swiftc_fails_before_any_job(tmp_path):
    """The demo with Swift added to MultiPL-E's languages, on a machine without swiftc (PATH
    without it): snakemake stops before its first job, naming swiftc and the config key;
    dropping Swift plans the same run."""
    from conftest import path_without

    preset = tmp_path / "swift.yaml"
    preset.write_text(
        "evaluation:\n  multipl_e:\n    languages: [js, swift]\n"
        f"benchmark_files: {ROOT.parent / 'shared' / 'benchmarks'}\n"
    )
    done = _snakemake(
        ["--configfile", "presets/demo.yaml", str(preset), "--cores", "1", "--directory", str(tmp_path)],
        ROOT,
        {"PATH": path_without("swiftc")},
    )
    assert done.returncode != 0
    assert "swiftc" in done.stderr and "evaluation.multipl_e.languages" in done.stderr
    assert not (tmp_path / "results").exists()  # no job ran
    dry = _snakemake(["--configfile", "presets/demo.yaml", "-n", "--directory", str(tmp_path)], ROOT)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "eval_score_multiple" in dry.stdout


# ---------------------------------------------------------------- summary


def _result(benchmark, model, paper_row, pass_at_1, **extra):
    return {
        "model": model,
        "benchmark": benchmark,
        "pass@1": pass_at_1,
        "n_tasks": 955,
        "limit": None,
        "paper_row": paper_row,
        **extra,
    }


def test_summary_table2_and_the_tables_5_6_average_next_to_the_paper():
    """Table 2's columns come from the paper under its names (javascript, rust for js, rs);
    the greedy run's weighted average is compared with Table 5's row; the Java Pair note of
    the result file reaches the summary once."""
    from ossinstruct.benchmarks.multipl_e.plugin import JAVA_PAIR_NOTE
    from ossinstruct.evaluate.paper import load_paper_results
    from ossinstruct.evaluate.summary.markdown import summary_markdown
    from ossinstruct.evaluate.summary.rows import summary_rows

    six = {"java": 0.40, "js": 0.50, "cpp": 0.41, "php": 0.42, "rs": 0.33, "swift": 0.30}
    results = [
        _result("multipl-e", "ours-CL", "Magicoder-CL-7B", six, notes=[JAVA_PAIR_NOTE]),
        _result(
            "multipl-e-greedy",
            "ours-CL-python",
            "table5:Magicoder-CL-7B-Python-43K",
            {**six, "average": 0.395},
            notes=[JAVA_PAIR_NOTE],
        ),
    ]
    paper = load_paper_results()
    rows = summary_rows(results, paper)
    by = {(r["benchmark"], r["variant"]): r for r in rows}
    assert by[("multipl-e", "js")]["paper"] == 45.9 and by[("multipl-e", "js")]["diff"] == 4.1
    assert by[("multipl-e", "rs")]["paper"] == 30.6 and by[("multipl-e", "java")]["paper"] == 36.4
    assert by[("multipl-e", "java")]["paper_table"] == "table2"
    assert by[("multipl-e-greedy", "average")]["paper"] == 32.7
    assert by[("multipl-e-greedy", "js")]["paper"] is None  # Table 5 prints the average only
    results[0]["data"] = {"sha256": {"js": "a" * 64, "cpp": "b" * 64}}
    text = summary_markdown(rows, paper, results)
    assert "- MultiPL-E data: sha256 cpp bbbbbbbbbbbb, js aaaaaaaaaaaa." in text
    assert text.count("MultiPL-E issue #45") == 1
    assert "## MultiPL-E (greedy)" in text and "## MultiPL-E" in text


def test_summary_finds_tables_3_8_and_9_for_the_per_sample_benchmarks():
    """DS-1000's libraries, DS-1000 insertion's and APPS's difficulties are the paper's
    column keys, in the paper's order, with the overall column last."""
    from ossinstruct.evaluate.paper import load_paper_results
    from ossinstruct.evaluate.summary.rows import summary_rows

    libraries = ("matplotlib", "numpy", "pandas", "pytorch", "scipy", "sklearn", "tensorflow")
    results = [
        _result("ds1000", "ours-CL", "Magicoder-CL-7B", {**dict.fromkeys(libraries, 0.3), "overall": 0.3}),
        _result(
            "ds1000-insertion", "ours-DS", "Magicoder-DS-6.7B", {**dict.fromkeys(libraries[1:], 0.3), "overall": 0.3}
        ),
        _result(
            "apps",
            "ours-CL",
            "Magicoder-CL-7B",
            {"overall": 0.1, "competition": 0.0, "interview": 0.05, "introductory": 0.2},
        ),
    ]
    rows = summary_rows(results, load_paper_results())
    by = {(r["benchmark"], r["variant"]): r for r in rows}
    assert by[("ds1000", "pandas")]["paper"] == 19.0 and by[("ds1000", "overall")]["paper"] == 29.9
    assert (
        by[("ds1000-insertion", "sklearn")]["paper"] == 44.6
        and by[("ds1000-insertion", "numpy")]["paper_table"] == "table9"
    )
    assert by[("apps", "introductory")]["paper"] == 18.3 and by[("apps", "overall")]["paper"] == 7.3
    apps = [r["variant"] for r in rows if r["benchmark"] == "apps"]
    assert apps == ["introductory", "interview", "competition", "overall"]


def test_an_infilling_benchmark_runs_on_the_models_marked_infilling_only():
    """config.yaml runs DS-1000 insertion (Table 9) on the four DeepSeek-Coder models
    (`infilling: true`) and the self-check; every model runs DS-1000 completion. A preset
    that replaces the models (the demo) carries no stale model names."""
    from ossinstruct import workflow as wf
    from ossinstruct.config import load_config, validate_config

    config = validate_config(load_config(str(ROOT / "config.yaml")))
    targets = wf.eval_targets(config)
    insertion = sorted(t.split("/")[2] for t in targets if t.endswith("/ds1000-insertion.json"))
    assert insertion == sorted(
        [
            "DeepSeek-Coder-Base-6.7B",
            "Magicoder-DS-6.7B",
            "MagicoderS-DS-6.7B",
            "reference-solutions",
            "released-Magicoder-S-DS-6.7B",
        ]
    )
    assert sum(t.endswith("/ds1000.json") for t in targets) == 9  # every model and the self-check
    demo = _config(benchmarks=["humaneval", "ds1000-insertion"])
    demo["evaluation"]["models"][0]["infilling"] = True
    demo = validate_config(demo)
    assert [t for t in wf.eval_targets(demo) if t.endswith("/ds1000-insertion.json")] == [
        "results/eval/gemma-3-270m-base/ds1000-insertion.json",
        "results/eval/reference-solutions/ds1000-insertion.json",
    ]


def test_samples_file_errors_name_the_file_and_the_tasks(tmp_path):
    from ossinstruct.benchmarks.base import ScoringError
    from ossinstruct.files import write_jsonl_atomic

    def samples_by_task(path, task_ids):
        return REGISTRY["multipl-e"].load_samples(path, task_ids, {})

    path = tmp_path / "samples.jsonl"
    write_jsonl_atomic(path, [{"task_id": "js/a", "sample": 0, "solution": "x"}])
    with pytest.raises(ScoringError, match=r"samples.jsonl: no sample for 1 task\(s\) in force: js/b"):
        samples_by_task(path, ["js/a", "js/b"])
    with pytest.raises(ScoringError, match="samples for tasks not in force: js/a"):
        samples_by_task(path, [])
    write_jsonl_atomic(path, [{"task_id": "js/a", "sample": 0, "solution": "x"}] * 2)
    with pytest.raises(ScoringError, match="js/a has sample 0 twice"):
        samples_by_task(path, ["js/a"])
