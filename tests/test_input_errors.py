"""Input mistakes give one line naming the file, the line or task, and what was expected
(the deliberate mistakes of issue 12, through the CLI, and the shared JSONL reader)."""

import gzip
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, SHARED

from ossinstruct.files import InputError, read_jsonl

OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
HUMANEVAL_PLUS = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"
DEMO = ["--config", "config.yaml", "--config", "presets/demo.yaml"]


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "ossinstruct", *map(str, args)],
        cwd=REPO,
        env=OFFLINE_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def the_error(result) -> str:
    """Exit status 2 and exactly one non-progress line on stderr: the error."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def test_eval_data_mbpp_pointed_at_the_humaneval_file(tmp_path):
    error = the_error(
        cli(
            "eval-data",
            "--benchmark",
            "mbpp",
            "--path",
            HUMANEVAL_PLUS,
            "--out-dir",
            tmp_path,
        )
    )
    assert error == (
        f"{HUMANEVAL_PLUS}: line 1: task HumanEval/0 is not from MBPP+ (expected task ids Mbpp/...; "
        "this looks like a HumanEval+ file); check --path / evaluation.data.mbpp.path"
    )
    assert not list(tmp_path.iterdir())


def eval_data_dir(tmp_path):
    """eval-data's three files for the first HumanEval+ task (the expected outputs are not
    read before the samples are checked)."""
    with gzip.open(HUMANEVAL_PLUS, "rt") as f:
        task = json.loads(f.readline())
    data = tmp_path / "data"
    data.mkdir()
    (data / "humaneval.jsonl").write_text(json.dumps(task) + "\n")
    (data / "humaneval.json").write_text(json.dumps({"limit": 1}))
    (data / "humaneval.expected.pkl").write_bytes(b"")
    return data, task


def test_eval_score_sample_missing_a_field(tmp_path):
    data, task = eval_data_dir(tmp_path)
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": task["task_id"], "sanitized": task["prompt"]}) + "\n")
    error = the_error(
        cli(
            "eval-score",
            *DEMO,
            "--benchmark",
            "humaneval",
            "--samples",
            samples,
            "--data-dir",
            data,
            "--model",
            "m",
            "-o",
            tmp_path / "r.json",
        )
    )
    assert error == (
        f"{samples}: line 1 (task HumanEval/0): sample has no field 'solution' (expected the fields task_id, solution)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data",
        "samples.jsonl",
    ]  # nothing written


def test_eval_score_without_eval_data_output(tmp_path):
    error = the_error(
        cli(
            "eval-score",
            *DEMO,
            "--benchmark",
            "humaneval",
            "--samples",
            tmp_path / "s.jsonl",
            "--data-dir",
            tmp_path / "nowhere",
            "--model",
            "m",
            "-o",
            tmp_path / "r.json",
        )
    )
    assert error.startswith(f"{tmp_path / 'nowhere' / 'humaneval.json'}: no such file (expected eval-data's output")


def test_generate_with_a_missing_seeds_file(tmp_path):
    error = the_error(
        cli(
            "generate",
            *DEMO,
            "--teacher",
            "gemma-3-270m",
            "--seeds",
            tmp_path / "seeds.jsonl",
            "-o",
            tmp_path / "gen.jsonl",
        )
    )
    assert error == f"{tmp_path / 'seeds.jsonl'}: no such file (expected a JSON Lines file of seeds)"


def test_clean_with_a_truncated_line(tmp_path):
    shard = tmp_path / "shard.jsonl"
    full = json.dumps({"status": "ok", "problem": "p", "solution": "s"})
    shard.write_text(full + "\n" + full[:25] + "\n")  # a copy cut short
    error = the_error(
        cli(
            "clean",
            "--shards",
            shard,
            "-o",
            tmp_path / "c.jsonl",
            "--rejected",
            tmp_path / "r.jsonl",
        )
    )
    assert error == (
        f"{shard}: line 2: the line ends at column 26 before its JSON object does (truncated?); "
        "expected one generation record per line as a JSON object"
    )
    shard.write_text(full + "\n" + full.replace(":", "=", 1) + "\n")
    error = the_error(
        cli(
            "clean",
            "--shards",
            shard,
            "-o",
            tmp_path / "c.jsonl",
            "--rejected",
            tmp_path / "r.jsonl",
        )
    )
    assert error == (
        f"{shard}: line 2: not valid JSON (Expecting ':' delimiter at column 10); "
        "expected one generation record per line as a JSON object"
    )


def test_decontaminate_samples_missing_file(tmp_path):
    error = the_error(
        cli(
            "decontaminate",
            *DEMO,
            "--benchmark",
            "humaneval",
            "--samples",
            tmp_path / "clean.jsonl",
            "--out-dir",
            tmp_path / "dc",
        )
    )
    assert error == f"{tmp_path / 'clean.jsonl'}: no such file (expected a JSON Lines file of samples)"


def test_unknown_corpus_names_the_option():
    assert the_error(
        cli(
            "seeds",
            *DEMO,
            "--corpus",
            "nope",
            "--lang",
            "python",
            "--shard",
            "0",
            "-o",
            "/tmp/x",
        )
    ) == ("--corpus 'nope': no such corpus under `corpora`")


def test_read_jsonl_checks_each_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n[1, 2]\n')
    with pytest.raises(
        InputError,
        match=r"x\.jsonl: line 3: a JSON list, expected a row as a JSON object",
    ):
        list(read_jsonl(path, what="row"))
    path.write_text('{"a": 1}\n{"b": 2}\n')
    with pytest.raises(InputError, match=r"line 2: row has no field 'a' \(expected the fields a\)"):
        list(read_jsonl(path, required=("a",), what="row"))
    gz = tmp_path / "x.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write('{"a": 1}\n{"a": 2}\n')
    assert [r["a"] for r in read_jsonl(gz, required=("a",))] == [1, 2]
    gz.write_bytes(gzip.compress(b'{"a": 1}\n')[:-12])  # a cut-off download
    with pytest.raises(InputError, match=r"x\.jsonl\.gz: line \d+: bad gzip data"):
        list(read_jsonl(gz))
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(InputError, match=r"bin\.jsonl: line 1: not UTF-8 text"):
        list(read_jsonl(tmp_path / "bin.jsonl"))
    with pytest.raises(InputError, match="is a directory"):
        list(read_jsonl(tmp_path))


def test_train_config_json_that_is_not_json(tmp_path):
    error = the_error(
        cli(
            "train",
            "--config-json",
            "{bad",
            "--train-file",
            "t.jsonl",
            "--output-dir",
            tmp_path,
            "--base-model",
            "m",
        )
    )
    assert error == (
        "--config-json: not valid JSON (Expecting property name enclosed in double quotes at column 2); "
        "expected TrainConfig fields as a JSON object"
    )


def test_eval_reference_given_the_other_benchmark(tmp_path):
    error = the_error(
        cli(
            "eval-reference",
            "--benchmark",
            "mbpp",
            "--tasks",
            HUMANEVAL_PLUS,
            "-o",
            tmp_path / "s.jsonl",
        )
    )
    assert error.startswith(f"{HUMANEVAL_PLUS}: line 1: task HumanEval/0 is not from MBPP+")
