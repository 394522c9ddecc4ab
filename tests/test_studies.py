"""The paper's §4 and Appendix C.3 studies as presets (Tables 5, 6, 7, 10): each one
validates on top of config.yaml, targets exactly its table's cells, and, run after a
finished main study, schedules only its new jobs (no seed drawn, no teacher request sent
and no checkpoint trained twice)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPO
from test_workflow import OFFLINE_ENV, planned_jobs

from ossinstruct.benchmarks import EVALUATED, REGISTRY
from ossinstruct.config import evaluated_models, load_config
from ossinstruct.evaluate.paper import find_paper_row, load_paper_results
from ossinstruct.evaluate.summary.markdown import summary_markdown
from ossinstruct.evaluate.summary.rows import summary_rows
from ossinstruct.workflow import all_targets

STUDIES = ["table5", "table6", "table7", "table10"]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]

# The jobs each study adds to a finished main study. Every study reruns the summary (its
# own table); Tables 6 and 7 add a dataset, so Figure 3 (similarity to HumanEval) is
# redrawn with it. Evaluation generation is one job per model (eval_generate_model, its
# params every benchmark's identity): a main-study model evaluated on another set of
# benchmarks reruns it, which generates only what is not cached (nothing, for a subset),
# and its samples files are written again from the cache and rescored.
NEW_JOBS = {
    # Tables 5 and 6: MultiPL-E greedy (multipl-e-greedy) is new for every model, the main
    # study's included (it evaluates Table 2's sampled protocol); its data once.
    "table5": {
        "train": 2,
        "eval_data": 1,
        "eval_generate_model": 4,  # the 2 new models; the 2 of the main study get MultiPL-E greedy
        "eval_generate": 4 + 4,  # HumanEval+ of all 4 (2 new, 2 from the cache); MultiPL-E for all 4
        "eval_score": 4,
        "eval_score_multiple": 4,
        "eval_summary": 1,
        "all": 1,
    },
    # Magicoder-CL-7B is evaluated on HumanEval+ only here: its samples come from the cache.
    "table10": {
        "train": 1,
        "eval_generate_model": 2,
        "eval_generate": 2,
        "eval_score": 2,
        "eval_summary": 1,
        "all": 1,
    },
    "table6": {
        "mine_comment_pairs": 80,  # one per seed shard: the seed documents, read again
        "comment_pairs": 1,
        "decontamination_match": 5,
        "decontamination_merge": 1,
        "training_set": 1,
        "dataset_card": 1,
        "humaneval_similarity": 1,
        "train": 1,
        "eval_data": 1,
        "eval_generate_model": 3,
        "eval_generate": 3 + 3,  # HumanEval+ of all 3 (2 from the cache); MultiPL-E for all 3
        "eval_score": 3,
        "eval_score_multiple": 3,
        "eval_summary": 1,
        "all": 1,
    },
    "table7": {
        "prefetch": 1,  # Mixtral's weights: the teacher's and its own evaluation's one download
        "generate": 20,  # Mixtral on 20 of the main study's 80 seed shards: no new seeds
        "clean_generations": 1,
        "decontamination_match": 5,
        "decontamination_merge": 1,
        "training_set": 1,
        "dataset_card": 1,
        "humaneval_similarity": 1,
        "train": 1,
        # the student and the teacher, on HumanEval+ and MBPP+; CodeLlama-Python-7B's from the cache
        "eval_generate_model": 3,
        "eval_generate": 6,
        "eval_score": 6,
        "eval_summary": 1,
        "all": 1,
    },
}


def study_config(name: str) -> dict:
    return load_config(REPO / "config.yaml", REPO / "presets" / f"{name}.yaml")


@pytest.mark.parametrize("name", STUDIES)
def test_preset_validates_and_every_model_names_a_row_of_its_table(name):
    config = study_config(name)
    paper = load_paper_results()
    table_rows = paper["tables"][name]["rows"]
    rows = {m: spec["paper_row"] for m, spec in evaluated_models(config).items()}
    assert all(row and row.startswith(f"{name}:") for row in rows.values()), rows
    for row in rows.values():
        find_paper_row(paper, row, "humaneval")
    # Every row of the paper's table is a model here (its cells are the targets).
    assert sorted(row.split(":", 1)[1] for row in rows.values()) == sorted(table_rows)


@pytest.mark.parametrize("name", STUDIES)
def test_preset_targets_are_the_tables_cells(name):
    config = study_config(name)
    main = load_config(REPO / "config.yaml")
    targets = set(all_targets(config))
    evals = {t for t in targets if t.startswith("results/eval/") and t.count("/") == 3}
    # The table's columns that this project evaluates (MultiPL-E joins when it is).
    columns = {b for row in load_paper_results()["tables"][name]["rows"].values() for b in row["scores"]}
    benchmarks = [b for b in EVALUATED if b in columns]
    assert benchmarks and config["evaluation"]["benchmarks"] == benchmarks
    expected = {f"results/eval/{m}/{b}.json" for m in evaluated_models(config) for b in benchmarks}
    expected |= {
        f"results/eval/reference-solutions/{b}.json" for b in benchmarks if REGISTRY[b].has_reference_solutions
    }
    assert evals == expected
    # The main study's shared specs are the same: the same checkpoint / evaluation files.
    shared = {m["name"]: m for m in main["models"]}
    for model in config["models"]:
        if model["name"] in shared:
            same = {k: v for k, v in model.items() if k != "paper_row"}
            assert same == {k: v for k, v in shared[model["name"]].items() if k != "paper_row"}
    assert config["datasets"][: len(main["datasets"])] == main["datasets"]


def outputs_of_dry_run(text: str) -> set[str]:
    outputs = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("output: "):
            outputs.update(p.strip() for p in line[len("output: ") :].split(","))
    return outputs


def directory_outputs() -> list[re.Pattern]:
    """The outputs the rules declare as directory(wf.NAME), as patterns of paths."""
    from ossinstruct import workflow

    names = re.findall(r"directory\(wf\.([A-Z_]+)\)", "".join(p.read_text() for p in (REPO / "rules").glob("*.smk")))
    assert "CHECKPOINT" in names
    return [re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(getattr(workflow, n)))) for n in names]


@pytest.fixture(scope="module")
def finished_main_study(tmp_path_factory):
    """A work directory where the main study (config.yaml) is finished: every output of
    its DAG exists (empty files, checkpoint directories), stamped by `snakemake --touch
    --forceall`, which also records each job's params and code as a real run does."""
    root = tmp_path_factory.mktemp("main-study")
    shutil.copy(REPO / "config.yaml", root / "config.yaml")
    shutil.copytree(REPO / "presets", root / "presets")
    env = {**OFFLINE_ENV, "OPENAI_API_KEY": "sk-not-used"}  # --touch sends no request

    def run(*args):
        result = subprocess.run([*SNAKEMAKE, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    outputs = outputs_of_dry_run(run("-n"))
    assert len(outputs) > 300
    directories = directory_outputs()
    for output in sorted(outputs):
        path = root / output
        if any(pattern.fullmatch(output) for pattern in directories):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    # --forceall: every job is touched and has its params recorded. Without it, a job whose
    # empty output happened to be made after its inputs was up to date, so not touched and
    # with no record, and then no changed params could rerun it (the order of a set).
    run("--touch", "--forceall", "--cores", "1")
    assert len(list((root / ".snakemake" / "metadata").iterdir())) >= len(outputs)
    assert "Nothing to be done" in run("-n")
    return root, run


@pytest.mark.parametrize("name", STUDIES)
def test_study_after_the_main_study_schedules_only_its_new_jobs(finished_main_study, name):
    root, run = finished_main_study
    output = run("-n", "--configfile", f"presets/{name}.yaml")
    assert planned_jobs(output) == NEW_JOBS[name]
    # None of the main study's seeds, generations or checkpoints is rebuilt.
    for line in output.splitlines():
        if line.strip().startswith("output: "):
            assert "results/seeds/" not in line
            assert "gpt-3.5-turbo-1106" not in line
            for model in ("Magicoder-CL-7B,", "CodeLlama-Python-7B/"):
                assert f"results/checkpoints/{model}" not in line


def test_slurm_profile_dry_run_gives_mixtral_two_gpus(finished_main_study):
    root, run = finished_main_study
    shutil.copytree(REPO / "slurm", root / "slurm", dirs_exist_ok=True)
    env = {**OFFLINE_ENV, "OPENAI_API_KEY": "sk-not-used"}
    result = subprocess.run(
        [*SNAKEMAKE, "--profile", "slurm", "-n", "--configfile", "presets/table7.yaml"],
        cwd=root,
        env={**env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    jobs, rule, output = [], None, None
    for line in result.stdout.splitlines():
        if re.fullmatch(r"(local)?rule \w+:", line):
            rule = line.split()[-1].rstrip(":")
        elif line.startswith("    output: "):
            output = line.split(": ", 1)[1]
        elif line.startswith("    resources: "):
            jobs.append((rule, output, line.split(": ", 1)[1]))
    generate = [resources for rule, _, resources in jobs if rule == "generate"]
    assert len(generate) == 20 and all("gpu=2," in resources for resources in generate)
    evaluations = {output.split("/")[2]: resources for rule, output, resources in jobs if rule == "eval_generate_model"}
    assert evaluations["Mixtral-8x7B-Instruct-v0.1"].endswith("gpu=2")  # tensor parallel over 2
    assert evaluations["Magicoder-CL-Mixtral-7B"].endswith("gpu=1")


# --------------------------------------------------------------------------- the summary's table sections


def humaneval_result(model: str, plus: float, paper_row: str, limit=None) -> dict:
    return {
        "model": model,
        "benchmark": "humaneval",
        "pass@1": {"base": plus + 0.05, "plus": plus},
        "n_tasks": 164 if limit is None else limit,
        "limit": limit,
        "paper_row": paper_row,
        "data": {"sha256": "ab" * 32, "version": "v0.1.9", "n_tasks_release": 164},
    }


def section(markdown: str, title: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("## ", "---"))), len(lines))
    return lines[start:end]


def test_summary_prints_a_studys_table_with_ours_beside_the_papers_cells():
    paper = load_paper_results()
    results = [
        humaneval_result("Magicoder-CL-7B", 0.5, "table5:Magicoder-CL-7B-Both-75K"),
        humaneval_result("Magicoder-CL-7B-Python-43K", 0.42, "table5:Magicoder-CL-7B-Python-43K", limit=10),
        humaneval_result("CodeLlama-Python-7B", 0.33, "table5:CodeLlama-Python-7B"),
        humaneval_result("Other", 0.1, "Magicoder-DS-6.7B"),  # a Table 1/4 row: no section of its own
        {
            "model": "CodeLlama-Python-7B",
            "benchmark": "multipl-e-greedy",
            "pass@1": {**dict.fromkeys(["java", "javascript", "cpp", "php", "swift", "rust"], 0.3), "average": 0.301},
            "n_tasks": 950,
            "limit": None,
            "paper_row": "table5:CodeLlama-Python-7B",
        },
    ]
    rows = summary_rows(results, paper)
    markdown = summary_markdown(rows, paper, results)
    table = section(markdown, "## Table 5 of the paper, reproduced")
    assert not any(line.startswith("## Table 1 of the paper") for line in markdown.splitlines())
    assert table[4] == "| Paper's row | Our model | HumanEval+ ours | paper | MultiPL-E (greedy) average ours | paper |"
    cells = {line.split(" | ")[0].lstrip("| "): line for line in table if line.startswith("| ") and "ours" not in line}
    # Each of the paper's rows, in its order, with its own number; ours where computed.
    assert list(cells) == [
        "CODELLAMA-PYTHON",
        "Magicoder-CL (Python (43K))",
        "Magicoder-CL (Others (32K))",
        "Magicoder-CL (Both (75K))",
    ]
    assert cells["CODELLAMA-PYTHON"].endswith("| CodeLlama-Python-7B | 33.0 | 34.1 | 30.1 | 29.6 |")
    assert "| 42.0 ⚠ | 47.6 |" in cells["Magicoder-CL (Python (43K))"]  # a partial run is flagged
    assert cells["Magicoder-CL (Others (32K))"].endswith(
        "| not computed | not computed | 44.5 | not computed | 38.3 |"
    )  # no model points at it in this run
    assert "| Magicoder-CL-7B | 50.0 | 55.5 |" in cells["Magicoder-CL (Both (75K))"]


def test_every_study_summary_has_its_table_section(tmp_path):
    from ossinstruct.evaluate.summary import write_summary

    paper = load_paper_results()
    for name in STUDIES:
        config = study_config(name)
        results = [humaneval_result(m, 0.3, spec["paper_row"]) for m, spec in evaluated_models(config).items()]
        paths = []
        for r in results:
            path = tmp_path / name / f"{r['model']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(r))
            paths.append(path)
        md = tmp_path / name / "summary.md"
        write_summary(paths, md, tmp_path / name / "summary.csv", tmp_path / name / "summary.png", paper=paper)
        number = paper["tables"][name]["number"]
        table = section(md.read_text(), f"## Table {number} of the paper, reproduced")
        body = [line for line in table if line.startswith("| ") and "ours |" not in line]
        assert len(body) == len(paper["tables"][name]["rows"])
        assert all("| 30.0 |" in line for line in body)  # every row has our HumanEval+ number


def test_eval_generate_step_gives_vllm_the_models_tensor_parallel_size(monkeypatch, tmp_path):
    from ossinstruct.evaluate import generate as eval_generate
    from ossinstruct.evaluate.steps import eval_generate_step
    from ossinstruct.workflow import eval_generation_identity

    seen = {}
    monkeypatch.setattr(eval_generate, "generate_samples", lambda problems, **kw: seen.update(kw["model"]))
    (tmp_path / "tasks.jsonl").write_text('{"task_id": "HumanEval/0", "prompt": "def f():\\n"}\n')
    config = study_config("table7")
    for model, tp in (("Mixtral-8x7B-Instruct-v0.1", 2), ("CodeLlama-Python-7B", 1)):
        generation = eval_generation_identity(config, model, "humaneval")
        eval_generate_step(config, generation, tasks_path=tmp_path / "tasks.jsonl", out_path=tmp_path / "s.jsonl")
        assert seen["tensor_parallel_size"] == tp and seen["model"] == evaluated_models(config)[model]["model"]
        assert "tensor_parallel_size" not in generation  # not part of the samples' identity


def test_max_shards_takes_the_first_seed_shards_and_names_a_bad_language(tmp_path):
    from ossinstruct.config import ConfigError
    from ossinstruct.workflow import dataset_generation_shards

    config = study_config("table7")
    shards = dataset_generation_shards(config, "oss-instruct-mixtral")
    assert len(shards) == 20 and shards[0].endswith("mixtral-8x7b-instruct/starcoderdata/python/00000.jsonl")
    assert sum("/python/" in s for s in shards) == 12 and shards[11].endswith("/python/00011.jsonl")
    assert len(dataset_generation_shards(config, "oss-instruct")) == 80  # the main teacher's: all
    bad = tmp_path / "bad.yaml"
    bad.write_text("generations: [{teacher: gpt-3.5-turbo-1106, corpus: starcoderdata, max_shards: {go: 1}}]\n")
    with pytest.raises(ConfigError, match="generations.0.max_shards: corpus 'starcoderdata' has no language 'go'"):
        load_config(REPO / "config.yaml", bad)
