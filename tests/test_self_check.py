"""The harness self-check: each benchmark's reference solutions scored through the same
Snakemake rules as a model's samples (eval_data -> eval_reference -> eval_score), and its
row in the summary."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, SHARED

from ossinstruct.config import ConfigError, load_config
from ossinstruct.evaluate.paper import load_paper_results
from ossinstruct.evaluate.summary.markdown import summary_markdown
from ossinstruct.evaluate.summary.rows import summary_rows
from ossinstruct.files import read_jsonl
from ossinstruct.workflow import eval_targets

HUMANEVAL = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"
MBPP = SHARED / "benchmarks" / "MbppPlus.jsonl.gz"


def test_self_check_targets_follow_the_config(tmp_path):
    config = load_config(REPO / "config.yaml", REPO / "presets" / "demo.yaml")
    assert "results/eval/reference-solutions/humaneval.json" in eval_targets(config)
    (tmp_path / "off.yaml").write_text("evaluation: {self_check: false}\n")
    off = load_config(REPO / "config.yaml", REPO / "presets" / "demo.yaml", tmp_path / "off.yaml")
    assert not [t for t in eval_targets(off) if "reference-solutions" in t]
    assert "results/summary.md" in eval_targets(off)
    (tmp_path / "clash.yaml").write_text(
        "evaluation: {models: [{name: reference-solutions, model: x, prompt: completion}]}\n"
    )
    with pytest.raises(ConfigError, match="'reference-solutions' is reserved"):
        load_config(
            REPO / "config.yaml",
            REPO / "presets" / "demo.yaml",
            tmp_path / "clash.yaml",
        )


@pytest.mark.usefixtures("shared_benchmarks")
def test_reference_solutions_score_through_the_rules(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    (tmp_path / "check.yaml").write_text(
        yaml.safe_dump(
            {
                "evaluation": {
                    "benchmarks": ["humaneval", "mbpp"],
                    "limit": 4,
                    "resources": {"score": {"cpus_per_task": 2}},
                    "data": {
                        "humaneval": {"path": str(HUMANEVAL)},
                        "mbpp": {"path": str(MBPP)},
                    },
                }
            }
        )
    )
    targets = [f"results/eval/reference-solutions/{b}.json" for b in ("humaneval", "mbpp")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "unused"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "--configfile",
            "check.yaml",
            "--cores",
            "2",
            *targets,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for benchmark, first in (("humaneval", "HumanEval/0"), ("mbpp", "Mbpp/2")):
        scored = json.loads((tmp_path / targets[0 if benchmark == "humaneval" else 1]).read_text())
        assert scored["model"] == "reference-solutions" and scored["n_tasks"] == 4
        assert scored["n_passed"] == {"base": 4, "plus": 4}, scored["statuses"]
        samples = list(read_jsonl(tmp_path / f"results/eval/reference-solutions/{benchmark}/samples.jsonl"))
        assert samples[0]["task_id"] == first and samples[0]["sanitized"].startswith(samples[0]["prompt"])
        log = (tmp_path / f"results/logs/eval/reference-solutions/{benchmark}.score.log").read_text()
        assert "done in" in log


def test_summary_explains_the_self_check_row():
    result = {
        "model": "reference-solutions",
        "benchmark": "humaneval",
        "pass@1": {"base": 163 / 164, "plus": 163 / 164},
        "n_tasks": 164,
        "limit": None,
        "paper_row": None,
    }
    paper = load_paper_results()
    rows = summary_rows([result], paper)
    text = summary_markdown(rows, paper, [result])
    assert "*reference-solutions* is the harness self-check" in text
    row = next(line for line in text.splitlines() if line.startswith("| reference-solutions |"))
    assert row.count("99.4") == 2
    assert "harness self-check" not in summary_markdown([], paper, [])


@pytest.mark.parametrize(
    ("versions", "stated", "not_stated"),
    [
        ({"humaneval": "v0.1.10", "mbpp": "v0.2.0"}, ["HumanEval v0.1.10: 163/164", "MBPP v0.2.0: 378/378 base"], []),
        (
            {"humaneval": "v0.1.9", "mbpp": "v0.1.0"},
            ["HumanEval v0.1.9: no self-check figure measured here (measured: v0.1.10)", "MBPP v0.1.0: no self-check"],
            ["163/164", "378/378"],
        ),
    ],
)
def test_the_self_check_figures_are_those_of_the_releases_in_force(versions, stated, not_stated):
    """The summary states what the self-check should give for the release each result was
    scored on, never another release's figure (the paper's releases were not measured here)."""
    results = [
        {
            "model": "reference-solutions",
            "benchmark": benchmark,
            "pass@1": {"base": 1.0, "plus": 1.0},
            "n_tasks": 10,
            "limit": None,
            "paper_row": None,
            "data": {"version": version},
        }
        for benchmark, version in versions.items()
    ]
    paper = load_paper_results()
    text = summary_markdown(summary_rows(results, paper), paper, results)
    for line in stated:
        assert line in text, text
    for figure in not_stated:
        assert figure not in text
    from ossinstruct.evaluate import reference

    assert "163/164" not in reference.__doc__ and "378/378" not in reference.__doc__


@pytest.mark.usefixtures("shared_benchmarks")
def test_reference_samples_are_what_the_canonical_scoring_tests_score(tmp_path):
    """tests/test_eval_score.py scores prompt + canonical_solution of every task (163/164 on
    HumanEval+, as evalplus); the self-check's samples are exactly those."""
    from ossinstruct.evaluate.reference import reference_samples

    assert reference_samples("humaneval", HUMANEVAL, tmp_path / "s.jsonl") == 164
    rows = list(read_jsonl(HUMANEVAL))
    samples = list(read_jsonl(tmp_path / "s.jsonl", required=("task_id", "sanitized", "solution")))
    assert [s["task_id"] for s in samples] == [r["task_id"] for r in rows]
    assert all(s["sanitized"] == s["solution"] == r["prompt"] + r["canonical_solution"] for s, r in zip(samples, rows))
