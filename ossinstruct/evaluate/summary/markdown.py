"""summary.md and summary.csv: our pass@1 next to the paper's.

summary.md: the partial-run and protocol warnings first, then one table per benchmark (per
variant: ours | paper | Δ), then the paper's tables that a study's models name explicitly
("tableN:row"), reproduced cell by cell, then the sources (the paper's tables, what scored
the results, the benchmark data's hashes), and, for presets/verified.yaml, the study of
execution-verified data. summary.csv: the long-format rows (rows.py), one per (model,
benchmark, variant).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.config import REFERENCE_MODEL
from ossinstruct.evaluate.summary.rows import (
    benchmark_name,
    benchmark_order,
    difference,
    is_partial,
    protocol_notes,
    result_notes,
    variant_label,
    variant_order,
)
from ossinstruct.files import atomic_path

DASH = "—"

CSV_COLUMNS = (
    "model",
    "benchmark",
    "variant",
    "label",
    "ours",
    "paper",
    "diff",
    "n_tasks",
    "n_tasks_release",
    "limit",
    "n_passed",
    "paper_row",
    "paper_table",
    "data_version",
    "prompt",
)


# --------------------------------------------------------------------------- Markdown


def _cell(value, signed: bool = False) -> str:
    if value is None:
        return DASH
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def _table_name(table_id: str | None, paper: dict) -> str:
    if table_id is None:
        return ""
    number = paper["tables"][table_id].get("number")
    return f"Table {number}" if number is not None else table_id


def _tasks_cell(row: Mapping) -> str:
    if not is_partial(row):
        return str(row["n_tasks"])
    total = f" of {row['n_tasks_release']}" if row["n_tasks_release"] is not None else ""
    return f"**{row['n_tasks']}{total}** ⚠"


def partial_note(row: Mapping) -> str:
    """The warning for a run over a subset of the tasks."""
    name = benchmark_name(row["benchmark"])
    if row["n_tasks_release"] is not None:
        scope = f"the first {row['n_tasks']} of {row['n_tasks_release']} tasks"
    else:
        scope = f"the first {row['n_tasks']} tasks only (limit {row['limit']})"
    return f"{row['model']} on {name}: evaluated on {scope}; not comparable to the paper's full-benchmark numbers."


def summary_markdown(rows: Sequence[dict], paper: dict, results: Sequence[dict] = ()) -> str:
    """summary.md: the partial-run warnings first, then one table per benchmark (per
    variant: ours | paper | Δ), then the sources: the paper's tables, evalplus version(s)
    and benchmark data hashes (from `results`)."""
    lines = ["# Evaluation summary: pass@1 against the Magicoder paper", ""]
    # One warning per (model, benchmark): its variants share the tasks.
    runs = {}
    for row in rows:
        runs.setdefault((row["model"], row["benchmark"]), row)
    partial = [r for r in runs.values() if is_partial(r)]
    if partial:
        lines += ["> **⚠ Partial runs, not comparable to the paper:**"]
        lines += [f"> - {partial_note(r)}" for r in partial]
        lines += [""]
    protocol = [note for r in runs.values() for note in protocol_notes(r)] + result_notes(results)
    if protocol:
        lines += ["> **⚠ Not measured as the paper's numbers were:**"]
        lines += [f"> - {note}" for note in protocol]
        lines += [""]
    if not rows:
        lines += ["No evaluation results.", ""]
    lines += [
        "pass@1 in percent (one greedy sample per task unless the run's decoding says "
        "otherwise). *ours*: this pipeline; *paper*: the paper's number for the row named "
        "in *Paper row*; Δ = ours − paper, in percentage points; "
        f"{DASH} where the paper reports no number.",
        "",
    ]
    if any(r["model"] == REFERENCE_MODEL for r in rows):
        from ossinstruct.evaluate.reference import self_check_expectations

        lines += [
            f"*{REFERENCE_MODEL}* is the harness self-check: each benchmark's own reference "
            "solutions, scored by the same sandboxed check as the models; below the figure "
            "where one was measured, the harness is at fault, not a model. For the releases in force:",
            "",
            *[f"- {line}" for line in self_check_expectations(results)],
            "",
        ]
    for benchmark in benchmark_order(r["benchmark"] for r in rows):
        lines += _benchmark_table(benchmark, [r for r in rows if r["benchmark"] == benchmark], paper)
    lines += paper_table_sections(rows, paper)
    lines += _footer(rows, paper, results)
    return "\n".join(lines) + "\n"


def _benchmark_table(benchmark: str, rows: list[dict], paper: dict) -> list[str]:
    variants = variant_order(dict.fromkeys(r["variant"] for r in rows), benchmark)
    header = ["Model", "Paper row", "Tasks"]
    align = ["---", "---", "---:"]
    for variant in variants:
        header += [variant_label(benchmark, variant), "paper", "Δ"]
        align += ["---:"] * 3
    lines = [
        f"## {benchmark_name(benchmark)}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        by_variant = {r["variant"]: r for r in rows if r["model"] == model}
        first = next(iter(by_variant.values()))
        paper_row = DASH
        if first["paper_row"] is not None:
            table = _table_name(first["paper_table"], paper)
            paper_row = f"{_escape(first['paper_row'])} ({table})" if table else _escape(first["paper_row"])
        cells = [_escape(model), paper_row, _tasks_cell(first)]
        for variant in variants:
            row = by_variant.get(variant)
            if row is None:
                cells += [DASH] * 3
            else:
                cells += [_cell(row["ours"]), _cell(row["paper"]), _cell(row["diff"], signed=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


# --------------------------------------------------------------------------- the paper's tables
# A study preset (presets/table5.yaml, ...) points its models at one table's rows
# ("table5:Magicoder-CL-7B-Python-43K"); the summary then prints that table as the paper
# has it, with our number beside each of its cells.

NOT_COMPUTED = "not computed"


def paper_tables_named(rows: Sequence[dict]) -> list[str]:
    """The tables that rows name explicitly ("tableN:row"), in the paper's order."""
    named = {r["paper_row"].split(":", 1)[0] for r in rows if r["paper_row"] and ":" in r["paper_row"]}
    return sorted(named, key=lambda t: (len(t), t))


def paper_table_sections(rows: Sequence[dict], paper: dict) -> list[str]:
    """One section per table a model's paper_row names explicitly (paper_tables_named)."""
    lines: list[str] = []
    for table_id in paper_tables_named(rows):
        lines += paper_table_section(table_id, rows, paper)
    return lines


def _row_label(row: Mapping) -> str:
    extra = [str(row[k]) for k in ("finetuning_data", "dataset_size") if row.get(k)]
    return _escape(row["display"] + (f" ({', '.join(extra)})" if extra else ""))


def paper_table_section(table_id: str, rows: Sequence[dict], paper: dict) -> list[str]:
    """The paper's table `table_id` row by row, each cell as ours | paper: ours from the
    model whose paper_row is "table_id:row"; "not computed" where no such model, or no
    result for that benchmark, is in this run."""
    table = paper["tables"][table_id]
    columns = list(
        dict.fromkeys((b, v) for row in table["rows"].values() for b, vs in row["scores"].items() for v in vs)
    )
    header = ["Paper's row", "Our model"]
    align = ["---", "---"]
    for benchmark, variant in columns:
        header += [f"{variant_label(benchmark, variant)} ours", "paper"]
        align += ["---:", "---:"]
    caption = " ".join(str(table.get("caption", "")).split())
    lines = [f"## {_table_name(table_id, paper)} of the paper, reproduced", ""]
    if caption:
        lines += [f"*{_escape(caption)}*", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for key, paper_row in table["rows"].items():
        ours = [r for r in rows if r["paper_row"] == f"{table_id}:{key}"]
        models = list(dict.fromkeys(r["model"] for r in ours))
        cells = [_row_label(paper_row), _escape(", ".join(models)) if models else NOT_COMPUTED]
        for benchmark, variant in columns:
            found = [r for r in ours if r["benchmark"] == benchmark and r["variant"] == variant]
            mine = " / ".join(_cell(r["ours"]) + (" ⚠" if is_partial(r) else "") for r in found) or NOT_COMPUTED
            cells += [mine, _cell(paper_row["scores"].get(benchmark, {}).get(variant))]
        lines.append("| " + " | ".join(cells) + " |")
    if table.get("note"):
        lines += ["", f"Paper's note: {_escape(' '.join(str(table['note']).split()))}"]
    return lines + [""]


def _footer(rows: Sequence[dict], paper: dict, results: Sequence[dict]) -> list[str]:
    source = paper["source"]
    version = f"v{source['version']}" if source.get("version") else "version not stated"
    table_ids = list(
        dict.fromkeys(r["paper_table"] for r in rows if r["paper_table"] is not None and r["paper"] is not None)
    )
    lines = [
        "---",
        "",
        f"Paper: {source.get('paper', 'Magicoder')}, arXiv:{source['arxiv']} ({version}"
        + (f", {source['url']}" if source.get("url") else "")
        + ").",
    ]
    for table_id in table_ids:
        table = paper["tables"][table_id]
        lines.append(f"- {_table_name(table_id, paper)}: {' '.join(table['metric'].split())}")
    lines.append("")
    # What scored the results, with its version, where a plug-in names one (evalplus).
    graders = sorted(
        {note for r in results if r["benchmark"] in REGISTRY and (note := REGISTRY[r["benchmark"]].grader_note(r))}
    )
    if graders:
        lines.append(f"Scoring: {', '.join(graders)}.")
    for benchmark in benchmark_order(r["benchmark"] for r in results):
        datas = [r.get("data") for r in results if r["benchmark"] == benchmark]
        found = sorted({_data_id(d) for d in datas if isinstance(d, Mapping) and d.get("sha256")})
        name = benchmark_name(benchmark)
        if not found:
            lines.append(f"- {name} data: sha256 not recorded.")
        else:
            differs = " (differs between runs: compare with care)" if len(found) > 1 else ""
            lines.append(f"- {name} data: {'; '.join(found)}{differs}.")
    return lines


def _data_id(data: Mapping) -> str:
    version = f" ({data['version']})" if data.get("version") else ""
    sha = data["sha256"]
    if isinstance(sha, Mapping):  # one file per language (MultiPL-E)
        return "sha256 " + ", ".join(f"{name} {str(digest)[:12]}" for name, digest in sorted(sha.items())) + version
    return f"sha256 {str(sha)[:12]}{version}"


# --------------------------------------------------------------------------- CSV


def write_summary_csv(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """summary.csv: the long-format rows, :data:`CSV_COLUMNS`; None as an empty cell."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_COLUMNS})


# --------------------------------------------------------------------------- execution-verified data (issue 17)

STUDY_ROLES = {
    "baseline": "the paper's data",
    "verified": "tests template, only samples whose tests pass (verify: require)",
    "control": "tests template, every sample (verify: annotate)",
}


def _study_columns(rows: Sequence[dict]) -> list[tuple[str, str]]:
    columns = []
    for benchmark in benchmark_order(r["benchmark"] for r in rows):
        variants = variant_order(dict.fromkeys(r["variant"] for r in rows if r["benchmark"] == benchmark), benchmark)
        if len(variants) > 2:  # a many-variant benchmark shows only its summary variants
            plugin = REGISTRY.get(benchmark)
            variants = [v for v in variants if plugin and v in plugin.summary_variants()] or variants
        columns += [(benchmark, v) for v in variants]
    return columns


def verification_study_markdown(rows: Sequence[dict], study: Mapping[str, str]) -> str:
    """The summary's section for presets/verified.yaml: pass@1 of the models trained on
    the paper's data, on execution-verified data and (control) on the tests template's
    unfiltered data, each with Δ against the baseline in percentage points."""
    models = {role: study[role] for role in STUDY_ROLES if study.get(role)}
    study_rows = [r for r in rows if r["model"] in models.values()]
    lines = ["", "## Execution-verified OSS-Instruct data (beyond the paper)", ""]
    if not study_rows:
        return "\n".join(lines + ["No results of the study's models yet.", ""]) + "\n"
    columns = _study_columns(study_rows)
    score = {(r["model"], r["benchmark"], r["variant"]): r["ours"] for r in study_rows}
    header = ["Role", "Model"]
    for benchmark, variant in columns:
        label = f"{benchmark_name(benchmark)} {variant_label(benchmark, variant)}"
        header += [label, "Δ"]
    lines += ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (2 * len(columns))]
    baseline = models["baseline"]
    for role, model in models.items():
        cells = [f"{role}: {STUDY_ROLES[role]}", _escape(model)]
        for benchmark, variant in columns:
            ours = score.get((model, benchmark, variant))
            base = score.get((baseline, benchmark, variant))
            diff = None if ours is None or base is None or role == "baseline" else difference(ours, base)
            cells += [_cell(ours), _cell(diff, signed=True)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "pass@1 in percent; Δ = model − baseline in percentage points. Same seeds, teacher, "
        "recipe and base model; the data differ (ossinstruct/curate/verify.py, presets/verified.yaml).",
        "",
    ]
    return "\n".join(lines)
