"""The paper's numbers (paper_results.yaml) and the evaluation summary (Markdown, CSV, PNG)."""

import json
import re

import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED, coloured_pixels, require_path

from ossinstruct.evaluate.paper import find_paper_row, load_paper_results
from ossinstruct.evaluate.summary import write_summary
from ossinstruct.evaluate.summary.markdown import CSV_COLUMNS, summary_markdown
from ossinstruct.evaluate.summary.rows import summary_rows, variant_label

PAPER_TEXT = SHARED / "seeds" / "001_8865529d70f6c432.txt"

# Table 1 / Table 4 rows as (HumanEval, HumanEval+, MBPP, MBPP+), checked by hand against
# the paper (the Magicoder README prints the same for the Magicoder models).
EXPECTED = {
    "CodeLlama-Python-7B": (37.8, 34.1, 57.6, 45.4),
    "Magicoder-CL-7B": (60.4, 55.5, 64.2, 52.6),
    "MagicoderS-CL-7B": (70.7, 66.5, 68.4, 56.6),
    "DeepSeek-Coder-Base-6.7B": (47.6, 39.6, 70.2, 56.6),
    "Magicoder-DS-6.7B": (66.5, 60.4, 75.4, 61.9),
    "MagicoderS-DS-6.7B": (76.8, 70.7, 75.7, 64.4),
}


@pytest.fixture(scope="module")
def paper():
    return load_paper_results()


def result(
    model,
    benchmark="humaneval",
    base=0.604,
    plus=0.555,
    paper_row="same",
    limit=None,
    n_tasks=164,
    release=164,
    sha="0123456789abcdef" * 4,
):
    return {
        "model": model,
        "benchmark": benchmark,
        "pass@1": {"base": base, "plus": plus},
        "n_tasks": n_tasks,
        "n_passed": {"base": round(base * n_tasks), "plus": round(plus * n_tasks)},
        "limit": limit,
        "paper_row": model if paper_row == "same" else paper_row,
        "decoding": {"temperature": 0.0},
        "data": {"sha256": sha, "version": "v0.1.10", "n_tasks_release": release},
        "scoring": {"evalplus_version": "0.3.1"},
    }


def write_results(tmp_path, results):
    paths = []
    for r in results:
        path = tmp_path / "eval" / r["model"] / f"{r['benchmark']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r))
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- paper numbers


@pytest.mark.parametrize("row", sorted(EXPECTED))
def test_paper_headline_rows(paper, row):
    table_id, entry = find_paper_row(paper, row, "humaneval")
    assert table_id == ("table4" if "DS" in row or "DeepSeek" in row else "table1")
    scores = entry["scores"]
    got = (scores["humaneval"]["base"], scores["humaneval"]["plus"], scores["mbpp"]["base"], scores["mbpp"]["plus"])
    assert got == EXPECTED[row]
    assert paper["source"]["arxiv"] == "2312.02120"


def _table_lines(text: str, caption_start: str, n_header: int, n_rows: int) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(caption_start))
    return [line for line in lines[start + 1 :] if "\t" in line][n_header : n_header + n_rows]


def _pair(cell: str):
    # "60.4 (55.5)" -> (60.4, 55.5); "-" -> (None, None)
    if cell.strip() == "-":
        return (None, None)
    base, plus = re.fullmatch(r"\s*([\d.]+) \(([\d.]+)\)\s*", cell).groups()
    return (float(base), float(plus))


def test_tables_1_and_4_match_the_paper_text(paper):
    """Every row of Tables 1 and 4, in order, against the text the YAML was transcribed from."""
    require_path(PAPER_TEXT, "the paper's text", "../shared beside the checkout, as CI lays it")
    text = PAPER_TEXT.read_text(encoding="utf-8")
    for table_id, caption, n_rows, size_col in (("table1", "Table 1:", 17, 2), ("table4", "Table 4:", 8, 1)):
        rows = paper["tables"][table_id]["rows"]
        lines = _table_lines(text, caption, 2, n_rows)
        assert len(rows) == len(lines) == n_rows
        for (key, row), line in zip(rows.items(), lines):
            cells = line.split("\t")
            assert cells[size_col] == (row["size"] or "-"), key
            scores = row["scores"]
            assert _pair(cells[size_col + 1 + (table_id == "table4")]) == (
                scores["humaneval"]["base"],
                scores["humaneval"]["plus"],
            ), key
            assert _pair(cells[size_col + 2 + (table_id == "table4")]) == (
                scores["mbpp"]["base"],
                scores["mbpp"]["plus"],
            ), key


def test_table5_ablation_and_qualified_rows(paper):
    table_id, row = find_paper_row(paper, "table5:Magicoder-CL-7B-Python-43K", "humaneval")
    assert table_id == "table5" and row["scores"]["humaneval"] == {"plus": 47.6}
    # A bare key only in an ablation table is found there.
    assert find_paper_row(paper, "Magicoder-CL-7B-Others-32K", "humaneval")[0] == "table5"
    # A known row without numbers for a benchmark: nothing, not an error.
    assert find_paper_row(paper, "Mistral-7B", "apps") == (None, None)


def test_every_paper_row_in_config_resolves(paper):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("paper_row"):
                refs.append(node["paper_row"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    assert refs, "config.yaml names no paper_row"
    for ref in refs:
        table_id, row = find_paper_row(paper, ref, "humaneval")
        assert table_id in ("table1", "table4") and row["scores"]["humaneval"]["plus"] is not None, ref


def test_malformed_paper_results_name_the_key(tmp_path):
    bad = tmp_path / "paper.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "source": {"arxiv": "2312.02120"},
                "benchmark_tables": {"humaneval": ["t1"]},
                "tables": {
                    "t1": {
                        "caption": "c",
                        "metric": "m",
                        "rows": {"X-7B": {"display": "X", "scores": {"humaneval": {"plus": "55.5"}}}},
                    }
                },
            }
        )
    )
    with pytest.raises(ValueError, match=r"paper\.yaml: tables\.t1\.rows\.X-7B\.scores\.humaneval\.plus"):
        load_paper_results(bad)
    bad.write_text("source: {arxiv: '1'}\ntables: {t1: {caption: c, metric: m, rows: {}}}\nbenchmark_tables: {}\n")
    with pytest.raises(ValueError, match=r"tables\.t1\.rows: expected a non-empty mapping"):
        load_paper_results(bad)


# --------------------------------------------------------------------------- summary rows


def test_summary_rows_long_format(paper):
    results = [
        result("Magicoder-CL-7B", base=99 / 164, plus=91 / 164),
        result("MagicoderS-DS-6.7B", base=0.75, plus=0.7),
        result("my-model", paper_row=None, base=0.5, plus=0.25),
        result("Magicoder-CL-7B", benchmark="mbpp", base=0.7, plus=0.5, n_tasks=378, release=378),
    ]
    rows = summary_rows(results, paper)
    assert [(r["model"], r["benchmark"], r["variant"]) for r in rows] == [
        ("Magicoder-CL-7B", "humaneval", "base"),
        ("Magicoder-CL-7B", "humaneval", "plus"),
        ("MagicoderS-DS-6.7B", "humaneval", "base"),
        ("MagicoderS-DS-6.7B", "humaneval", "plus"),
        ("my-model", "humaneval", "base"),
        ("my-model", "humaneval", "plus"),
        ("Magicoder-CL-7B", "mbpp", "base"),
        ("Magicoder-CL-7B", "mbpp", "plus"),
    ]
    by = {(r["model"], r["benchmark"], r["variant"]): r for r in rows}
    first = by["Magicoder-CL-7B", "humaneval", "base"]
    assert (first["ours"], first["paper"], first["diff"], first["label"]) == (60.4, 60.4, 0.0, "HumanEval")
    assert str(first["diff"]) == "0.0"  # never "-0.0"
    assert by["Magicoder-CL-7B", "humaneval", "plus"]["ours"] == 55.5
    assert by["Magicoder-CL-7B", "humaneval", "plus"]["n_passed"] == 91
    ds = by["MagicoderS-DS-6.7B", "humaneval", "plus"]
    assert (ds["ours"], ds["paper"], ds["diff"], ds["paper_table"]) == (70.0, 70.7, -0.7, "table4")
    mbpp = by["Magicoder-CL-7B", "mbpp", "plus"]
    assert (mbpp["label"], mbpp["paper"], mbpp["diff"], mbpp["n_tasks"]) == ("MBPP+", 52.6, -2.6, 378)
    mine = by["my-model", "humaneval", "base"]
    assert (mine["ours"], mine["paper"], mine["diff"], mine["paper_table"]) == (50.0, None, None, None)


def test_markdown_dashes_limits_and_sources(paper):
    full = [result("Magicoder-CL-7B"), result("my-model", paper_row=None, base=0.5, plus=0.25)]
    text = summary_markdown(summary_rows(full, paper), paper, full)
    assert "| my-model | — | 164 | 50.0 | — | — | 25.0 | — | — |" in text
    assert "| Magicoder-CL-7B | Magicoder-CL-7B (Table 1) | 164 | 60.4 | 60.4 | +0.0 | 55.5 | 55.5 | +0.0 |" in text
    assert "not comparable" not in text
    assert "arXiv:2312.02120" in text and "Table 1:" in text
    assert "evalplus 0.3.1" in text and "sha256 0123456789ab (v0.1.10)" in text

    limited = [result("Magicoder-CL-7B", limit=10, n_tasks=10), result("my-model", paper_row=None)]
    text = summary_markdown(summary_rows(limited, paper), paper, limited)
    assert (
        "Magicoder-CL-7B on HumanEval: evaluated on the first 10 of 164 tasks; "
        "not comparable to the paper's full-benchmark numbers."
    ) in text
    assert "my-model on HumanEval: evaluated" not in text
    assert "**10 of 164** ⚠" in text
    # A limit at or above the benchmark's size evaluates everything: no warning.
    everything = [result("Magicoder-CL-7B", limit=500, n_tasks=164)]
    assert "not comparable" not in summary_markdown(summary_rows(everything, paper), paper, everything)


def test_different_data_between_runs_is_flagged(paper):
    runs = [result("Magicoder-CL-7B"), result("my-model", paper_row=None, sha="f" * 64)]
    text = summary_markdown(summary_rows(runs, paper), paper, runs)
    assert "differs between runs" in text


# --------------------------------------------------------------------------- files


def test_write_summary_files(tmp_path, saved_figures):
    """README: results/summary.md / .csv / .png: the figure draws, per panel, our pass@1
    and the paper's for each row of the CSV (checked on the plotted bars), and is not blank."""
    results = [
        result("Magicoder-CL-7B"),
        result("my-model", paper_row=None, base=0.5, plus=0.25, limit=20, n_tasks=20),
        result("Magicoder-CL-7B", benchmark="mbpp", base=0.65, plus=0.5, n_tasks=378, release=378),
    ]
    paths = write_results(tmp_path, results)
    out = tmp_path / "out"
    rows = write_summary(paths, out / "summary.md", out / "summary.csv", out / "summary.png")

    frame = pd.read_csv(out / "summary.csv")
    assert list(frame.columns) == list(CSV_COLUMNS)
    back = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert back == [{k: r[k] for k in CSV_COLUMNS} for r in rows]
    assert len(back) == 6

    png = (out / "summary.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert coloured_pixels(out / "summary.png") > 100
    panels = {
        ax.get_title(): sorted(round(p.get_height(), 6) for p in ax.patches)
        for ax in saved_figures[-1].axes
        if ax.get_title()
    }
    expected: dict = {}
    for r in rows:
        heights = expected.setdefault(variant_label(r["benchmark"], r["variant"]), [])
        heights += [round(r["ours"], 6)] + ([round(r["paper"], 6)] if r["paper"] is not None else [])
    assert panels == {title: sorted(h) for title, h in expected.items()}
    assert len(panels) == 4 and any(h for h in panels.values())
    md = (out / "summary.md").read_text()
    assert "my-model on HumanEval: evaluated on the first 20 of 164 tasks" in md
    assert "## MBPP" in md and "| MBPP+ |" in md
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv", "summary.md", "summary.png"]


def test_paper_rows_from_config_override_the_results(tmp_path):
    paths = write_results(tmp_path, [result("run-a", paper_row=None)])
    out = tmp_path / "out"
    rows = write_summary(paths, out / "s.md", out / "s.csv", out / "s.png", paper_rows={"run-a": "MagicoderS-CL-7B"})
    assert [r["paper"] for r in rows] == [70.7, 66.5]


def test_empty_summary(tmp_path):
    """README: results/summary.* without results: a note, the CSV header, a figure with no bars."""
    out = tmp_path / "out"
    assert write_summary([], out / "s.md", out / "s.csv", out / "s.png") == []
    assert "No evaluation results." in (out / "s.md").read_text()
    assert list(pd.read_csv(out / "s.csv").columns) == list(CSV_COLUMNS)
    assert (out / "s.png").read_bytes().startswith(b"\x89PNG")
    assert coloured_pixels(out / "s.png") == 0  # no bars: "no evaluation results"


# --------------------------------------------------------------------------- errors


def test_missing_key_names_the_file_and_key(tmp_path):
    broken = result("Magicoder-CL-7B")
    del broken["pass@1"]
    paths = write_results(tmp_path, [broken])
    with pytest.raises(ValueError) as err:
        write_summary(paths, tmp_path / "s.md", tmp_path / "s.csv", tmp_path / "s.png")
    assert str(paths[0]) in str(err.value) and "pass@1: missing key" in str(err.value)
    assert not (tmp_path / "s.md").exists()


def test_percent_instead_of_fraction_is_rejected(tmp_path):
    paths = write_results(tmp_path, [result("Magicoder-CL-7B", base=60.4)])
    with pytest.raises(ValueError, match=r"pass@1\.base: expected a fraction 0\.\.1, got 60\.4"):
        write_summary(paths, tmp_path / "s.md", tmp_path / "s.csv", tmp_path / "s.png")


def test_unknown_paper_row_lists_known_rows(tmp_path):
    paths = write_results(tmp_path, [result("run-a", paper_row="Magicoder-CL-7b")])
    with pytest.raises(ValueError) as err:
        write_summary(paths, tmp_path / "s.md", tmp_path / "s.csv", tmp_path / "s.png")
    message = str(err.value)
    assert str(paths[0]) in message and "'Magicoder-CL-7b'" in message
    assert "known rows:" in message and "Magicoder-CL-7B" in message and "MagicoderS-DS-6.7B" in message
    with pytest.raises(ValueError, match=r"no table 'table99'.*tables: table1"):
        summary_rows([result("run-a", paper_row="table99:Magicoder-CL-7B")], load_paper_results())


def test_two_results_for_one_model_and_benchmark(paper):
    with pytest.raises(ValueError, match="a second result for model 'Magicoder-CL-7B' on 'humaneval'"):
        summary_rows([result("Magicoder-CL-7B"), result("Magicoder-CL-7B")], paper)
