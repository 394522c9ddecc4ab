"""The evaluation summary: our pass@1 next to the paper's, as Markdown, CSV and a bar chart.

Inputs are the result files ``results/eval/{model}/{benchmark}.json`` (written by
:mod:`ossinstruct.evaluate.score`); of each, only ``model``, ``benchmark``, ``pass@1``
({variant: fraction}), ``n_tasks``, ``limit`` and ``paper_row`` are required, and
``n_passed``, ``data`` (``sha256``, ``version``, ``n_tasks_release``) and ``scoring``
(``evalplus_version``) are used when present.

The paper's numbers live in ``paper_results.yaml`` beside this module (Tables 1-10 of
arXiv 2312.02120, percent as printed). A result's ``paper_row`` is a row key there, e.g.
``Magicoder-CL-7B``; it is looked up in the tables that ``benchmark_tables`` lists for
the benchmark, then in the other tables; ``table5:Magicoder-CL-7B-Python-43K`` names the
table. A row the paper has no number for (printed "-", or absent from every table with
that benchmark) shows as "—"; a row key found in no table at all is an error, since it is
a typo in config.yaml far more often than intended.

Everything is in long format, one row per (model, benchmark, variant), so benchmarks with
other variants (MultiPL-E languages, DS-1000 libraries, APPS difficulties) add rows, not
columns: ``variant`` is "base" / "plus" for HumanEval(+) and MBPP(+).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import yaml

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.config import REFERENCE_MODEL
from ossinstruct.files import atomic_path, write_text_atomic

PAPER_RESULTS_FILE = "paper_results.yaml"

REQUIRED_RESULT_KEYS = ("model", "benchmark", "pass@1", "n_tasks", "limit", "paper_row")

# Display names, in the order the summary lists benchmarks (the registry's); others follow
# in input order.
BENCHMARK_NAMES = {name: b.display for name, b in REGISTRY.items()}

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

# The benchmark releases the paper scored (evalplus 1895d2f), and the base-model prompt
# style of its EvalPlus-leaderboard rows.
PAPER_DATA_VERSIONS = {name: b.paper_release for name, b in REGISTRY.items() if getattr(b, "paper_release", None)}
PAPER_BASE_PROMPT = "completion-paper"

DASH = "—"


# --------------------------------------------------------------------------- paper numbers


def load_paper_results(path: str | os.PathLike | None = None) -> dict:
    """The paper's numbers: `path`, or the package's ``paper_results.yaml``. Raises
    ValueError naming the file and the key when the structure is not what the summary
    reads (see :func:`check_paper_results`)."""
    if path is None:
        resource = resources.files(__package__).joinpath(PAPER_RESULTS_FILE)
        where = f"{__package__}/{PAPER_RESULTS_FILE}"
        text = resource.read_text(encoding="utf-8")
    else:
        where = str(path)
        text = Path(path).read_text(encoding="utf-8")
    try:
        paper = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: not valid YAML ({exc})") from None
    check_paper_results(paper, where)
    return paper


def check_paper_results(paper, where: str = PAPER_RESULTS_FILE) -> None:
    """Check the structure the summary relies on:
    ``source.arxiv``; ``tables.{id}.{caption, metric, rows}``; each row's ``display`` and
    ``scores.{benchmark}.{variant}`` (a percentage 0..100, or null); and
    ``benchmark_tables.{benchmark}``: a list of table ids."""
    _expect(isinstance(paper, Mapping), where, "(top level)", "expected a mapping")
    _expect(isinstance(paper.get("source"), Mapping), where, "source", "expected a mapping")
    _expect(isinstance(paper["source"].get("arxiv"), str), where, "source.arxiv", "expected a string")
    tables = paper.get("tables")
    _expect(isinstance(tables, Mapping) and tables, where, "tables", "expected a non-empty mapping")
    for table_id, table in tables.items():
        key = f"tables.{table_id}"
        _expect(isinstance(table, Mapping), where, key, "expected a mapping")
        for field in ("caption", "metric"):
            _expect(isinstance(table.get(field), str), where, f"{key}.{field}", "expected a string")
        rows = table.get("rows")
        _expect(isinstance(rows, Mapping) and rows, where, f"{key}.rows", "expected a non-empty mapping")
        for row_key, row in rows.items():
            _check_paper_row(row_key, row, where, f"{key}.rows.{row_key}")
    benchmark_tables = paper.get("benchmark_tables")
    _expect(isinstance(benchmark_tables, Mapping), where, "benchmark_tables", "expected a mapping")
    for benchmark, table_ids in benchmark_tables.items():
        key = f"benchmark_tables.{benchmark}"
        _expect(isinstance(table_ids, list), where, key, "expected a list of table ids")
        for table_id in table_ids:
            _expect(table_id in tables, where, key, f"unknown table {table_id!r}")


def _check_paper_row(row_key, row, where: str, key: str) -> None:
    # ":" separates a table id from a row key in a paper_row reference.
    _expect(isinstance(row_key, str) and ":" not in row_key, where, key, "row keys are strings without ':'")
    _expect(isinstance(row, Mapping), where, key, "expected a mapping")
    _expect(isinstance(row.get("display"), str), where, f"{key}.display", "expected a string")
    scores = row.get("scores")
    _expect(isinstance(scores, Mapping) and scores, where, f"{key}.scores", "expected a non-empty mapping")
    for benchmark, variants in scores.items():
        _expect(
            isinstance(variants, Mapping) and variants,
            where,
            f"{key}.scores.{benchmark}",
            "expected a non-empty mapping of variant: number",
        )
        for variant, value in variants.items():
            _expect(
                value is None or (_is_number(value) and 0 <= value <= 100),
                where,
                f"{key}.scores.{benchmark}.{variant}",
                f"expected a percentage 0..100 or null, got {value!r}",
            )


def _expect(condition, where: str, key: str, problem: str) -> None:
    if not condition:
        raise ValueError(f"{where}: {key}: {problem}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def known_paper_rows(paper: dict) -> list[str]:
    """Every row key of every table, sorted, each once."""
    return sorted({key for table in paper["tables"].values() for key in table["rows"]})


def find_paper_row(paper: dict, row_ref: str, benchmark: str) -> tuple[str | None, dict | None]:
    """(table id, row) giving the paper's numbers for `row_ref` on `benchmark`.

    ``"tableN:key"`` names the table. A bare key is looked for in the benchmark's tables
    (``benchmark_tables``), then in the others, in file order; the first table whose row
    has scores for the benchmark wins. (None, None) when the row exists but no table has
    a number for the benchmark. ValueError when the row or table does not exist."""
    tables = paper["tables"]
    if ":" in row_ref:
        table_id, key = row_ref.split(":", 1)
        if table_id not in tables:
            raise ValueError(
                f"paper_row {row_ref!r}: no table {table_id!r} in the paper's results; tables: {', '.join(tables)}"
            )
        if key not in tables[table_id]["rows"]:
            raise ValueError(
                f"paper_row {row_ref!r}: {table_id} has no row {key!r}; its rows: {', '.join(tables[table_id]['rows'])}"
            )
        return table_id, tables[table_id]["rows"][key]
    if row_ref not in known_paper_rows(paper):
        raise ValueError(
            f"paper_row {row_ref!r} is not a row of the paper's results "
            f"({PAPER_RESULTS_FILE}); known rows: {', '.join(known_paper_rows(paper))} "
            f"(or 'tableN:row' for one table's row)"
        )
    headline = list(paper["benchmark_tables"].get(benchmark, []))
    for table_id in headline + [t for t in tables if t not in headline]:
        row = tables[table_id]["rows"].get(row_ref)
        if row is not None and benchmark in row["scores"]:
            return table_id, row
    return None, None


# --------------------------------------------------------------------------- our results


def load_result(path: str | os.PathLike) -> dict:
    """One result JSON file, checked by :func:`check_result` (errors name the file)."""
    try:
        with open(path, encoding="utf-8") as fh:
            result = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from None
    check_result(result, str(path))
    return result


def check_result(result, where: str) -> None:
    """The keys the summary relies on, with their types; ValueError naming `where` and
    the key otherwise."""
    _expect(isinstance(result, Mapping), where, "(top level)", "expected a JSON object")
    for key in REQUIRED_RESULT_KEYS:
        _expect(key in result, where, key, "missing key")
    for key in ("model", "benchmark"):
        _expect(isinstance(result[key], str) and result[key], where, key, "expected a non-empty string")
    scores = result["pass@1"]
    _expect(isinstance(scores, Mapping) and scores, where, "pass@1", "expected a non-empty object of variant: fraction")
    for variant, value in scores.items():
        # Fractions, not percent: a value above 1 is a unit mistake upstream.
        _expect(
            _is_number(value) and 0 <= value <= 1,
            where,
            f"pass@1.{variant}",
            f"expected a fraction 0..1, got {value!r}",
        )
    _expect(
        isinstance(result["n_tasks"], int) and result["n_tasks"] >= 0,
        where,
        "n_tasks",
        "expected a non-negative integer",
    )
    _expect(result["limit"] is None or isinstance(result["limit"], int), where, "limit", "expected null or an integer")
    _expect(
        result["paper_row"] is None or isinstance(result["paper_row"], str),
        where,
        "paper_row",
        "expected null or a string",
    )


def paper_variant(benchmark: str, variant: str) -> str:
    """The paper's name of a variant (MultiPL-E's js and rs are javascript and rust there)."""
    plugin = REGISTRY.get(benchmark)
    return (getattr(plugin, "paper_variants", None) or {}).get(variant, variant)


def result_notes(results: Sequence[dict]) -> list[str]:
    """The notes result files carry (e.g. MultiPL-E's Java Pair bug of the paper's harness),
    each once, in result order."""
    notes = []
    for result in results:
        for note in result.get("notes") or []:
            if isinstance(note, str) and note not in notes:
                notes.append(note)
    return notes


def variant_label(benchmark: str, variant: str) -> str:
    """ "HumanEval", "HumanEval+", "MBPP+", "MultiPL-E java", ..."""
    name = BENCHMARK_NAMES.get(benchmark, benchmark)
    if variant == "base":
        return name
    if variant == "plus":
        return f"{name}+"
    return f"{name} {variant}"


def _percent(fraction: float) -> float:
    return round(100 * fraction, 1)


def _difference(ours: float, paper: float) -> float:
    # + 0.0 turns a -0.0 from rounding into 0.0.
    return round(ours - paper, 1) + 0.0


def _n_tasks_release(result: Mapping) -> int | None:
    data = result.get("data")
    release = data.get("n_tasks_release") if isinstance(data, Mapping) else None
    return release if isinstance(release, int) else None


def is_partial(row: Mapping) -> bool:
    """Whether a row covers fewer tasks than the benchmark has: a `limit` below the
    release's size (a limit at or above it evaluates everything), or a known release size
    larger than the tasks evaluated."""
    release = row.get("n_tasks_release")
    if release is not None:
        return row["n_tasks"] < release
    return row.get("limit") is not None


def _data_version(result: Mapping) -> str | None:
    data = result.get("data")
    return data.get("version") if isinstance(data, Mapping) else None


def protocol_notes(row: Mapping) -> list[str]:
    """Why a row compared with a paper number was not measured as the paper's was: a
    benchmark release other than the paper's, or today's base-model protocol."""
    if row.get("paper_row") is None:
        return []
    name = BENCHMARK_NAMES.get(row["benchmark"], row["benchmark"])
    notes = []
    plugin = REGISTRY.get(row["benchmark"])
    release = plugin.release_note(row["model"], row.get("data_version")) if plugin else None
    if release:  # a benchmark scored on another release than the paper's (DS-1000's reformat)
        notes.append(release)
    expected = PAPER_DATA_VERSIONS.get(row["benchmark"])
    if expected and row.get("data_version") != expected:
        found = row.get("data_version") or "an unrecorded version"
        notes.append(
            f"{row['model']} on {name}: scored on {name}+ {found}; the paper used {expected} (evalplus 1895d2f)."
        )
    if expected and row.get("prompt") == "completion":  # an EvalPlus benchmark's base-model protocol
        notes.append(
            f"{row['model']} on {name}: evalplus 0.3.1's base-model prompt and stop "
            f"strings; the paper's base rows used the EvalPlus leaderboard's of the time "
            f"(prompt: {PAPER_BASE_PROMPT})."
        )
    return notes


def _variant_order(variants, benchmark: str | None = None) -> list[str]:
    # base before plus whatever the file's key order; then the benchmark's own variants in
    # its order (the paper's columns), then its overall/average, then any others as given.
    plugin = REGISTRY.get(benchmark) if benchmark else None
    declared = list(getattr(plugin, "variants", ()) or ())
    overall = [getattr(plugin, "overall_variant", None), "overall", "average"]
    first = [v for v in ("base", "plus") if v in variants]
    first += [v for v in declared if v in variants and v not in first]
    first += [v for v in dict.fromkeys(overall) if v and v in variants and v not in first]
    return first + [v for v in variants if v not in first]


def _benchmark_order(benchmarks) -> list[str]:
    seen = list(dict.fromkeys(benchmarks))
    return [b for b in BENCHMARK_NAMES if b in seen] + [b for b in seen if b not in BENCHMARK_NAMES]


def summary_rows(
    results: Sequence[dict], paper: dict | None = None, sources: Sequence[str] | None = None
) -> list[dict]:
    """Long-format rows, one per (model, benchmark, variant): ``ours`` (percent, one
    decimal), ``paper`` (percent as printed, or None), ``diff`` (ours - paper, or None),
    ``n_tasks``, ``n_tasks_release``, ``limit``, ``n_passed``, ``paper_row`` and
    ``paper_table`` (where the paper number was looked up). Ordered by benchmark, then
    model in the order given, then variant. `sources` names each result in error
    messages (file paths); `paper` defaults to the package's paper results."""
    paper = load_paper_results() if paper is None else paper
    sources = list(sources) if sources is not None else [f"results[{i}]" for i in range(len(results))]
    seen = {}
    rows = []
    for result, where in zip(results, sources, strict=True):
        check_result(result, where)
        key = (result["model"], result["benchmark"])
        if key in seen:
            raise ValueError(f"{where}: a second result for model {key[0]!r} on {key[1]!r} (the first: {seen[key]})")
        seen[key] = where
        table_id, paper_row = None, None
        if result["paper_row"] is not None:
            try:
                table_id, paper_row = find_paper_row(paper, result["paper_row"], result["benchmark"])
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        paper_scores = paper_row["scores"].get(result["benchmark"], {}) if paper_row else {}
        n_passed = result.get("n_passed") if isinstance(result.get("n_passed"), Mapping) else {}
        for variant in _variant_order(result["pass@1"], result["benchmark"]):
            ours = _percent(result["pass@1"][variant])
            theirs = paper_scores.get(paper_variant(result["benchmark"], variant))
            rows.append(
                {
                    "model": result["model"],
                    "benchmark": result["benchmark"],
                    "variant": variant,
                    "label": variant_label(result["benchmark"], variant),
                    "ours": ours,
                    "paper": theirs,
                    "diff": None if theirs is None else _difference(ours, theirs),
                    "n_tasks": result["n_tasks"],
                    "n_tasks_release": _n_tasks_release(result),
                    "limit": result["limit"],
                    "n_passed": n_passed.get(variant),
                    "paper_row": result["paper_row"],
                    "paper_table": table_id,
                    "data_version": _data_version(result),
                    "prompt": (result.get("decoding") or {}).get("prompt"),
                }
            )
    order = {b: i for i, b in enumerate(_benchmark_order(r["benchmark"] for r in rows))}
    # sorted() is stable: within a benchmark, models and variants keep their order.
    return sorted(rows, key=lambda r: order[r["benchmark"]])


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
    name = BENCHMARK_NAMES.get(row["benchmark"], row["benchmark"])
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
    for benchmark in _benchmark_order(r["benchmark"] for r in rows):
        lines += _benchmark_table(benchmark, [r for r in rows if r["benchmark"] == benchmark], paper)
    lines += paper_table_sections(rows, paper)
    lines += _footer(rows, paper, results)
    return "\n".join(lines) + "\n"


def _benchmark_table(benchmark: str, rows: list[dict], paper: dict) -> list[str]:
    variants = _variant_order(dict.fromkeys(r["variant"] for r in rows), benchmark)
    header = ["Model", "Paper row", "Tasks"]
    align = ["---", "---", "---:"]
    for variant in variants:
        header += [variant_label(benchmark, variant), "paper", "Δ"]
        align += ["---:"] * 3
    lines = [
        f"## {BENCHMARK_NAMES.get(benchmark, benchmark)}",
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
    evalplus = sorted(
        {
            str(r["scoring"]["evalplus_version"])
            for r in results
            if isinstance(r.get("scoring"), Mapping) and r["scoring"].get("evalplus_version")
        }
    )
    lines.append(f"Scoring: evalplus {', '.join(evalplus)}." if evalplus else "Scoring: evalplus version not recorded.")
    for benchmark in _benchmark_order(r["benchmark"] for r in results):
        datas = [r.get("data") for r in results if r["benchmark"] == benchmark]
        found = sorted({_data_id(d) for d in datas if isinstance(d, Mapping) and d.get("sha256")})
        name = BENCHMARK_NAMES.get(benchmark, benchmark)
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


# --------------------------------------------------------------------------- CSV and figure


def write_summary_csv(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """summary.csv: the long-format rows, :data:`CSV_COLUMNS`; None as an empty cell."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_COLUMNS})


def summary_figure(rows: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Grouped bars, one panel per benchmark variant (HumanEval, HumanEval+, ...): per
    model, our pass@1 (solid) beside the paper's (light, hatched; absent where the paper
    has none). Models evaluated on a subset of the tasks are starred."""
    from ossinstruct.curate.figures import _pyplot, _save

    plt = _pyplot()
    panels = list(dict.fromkeys((r["benchmark"], r["variant"]) for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    partial = any(is_partial(r) for r in rows)
    # Panels side by side while they stay narrow; with many models, one per row.
    ncols = 2 if len(panels) > 1 and len(models) <= 5 else 1
    nrows = max(1, math.ceil(len(panels) / ncols))
    width = max(4.0, 0.75 * len(models) + 1.5)
    rotate = len(models) > 2
    longest = max((len(m) for m in models), default=0)
    # Room under each panel for the (rotated) model names.
    height = 2.8 + (0.07 * longest if rotate else 0.3)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.9), squeeze=False, sharey=True)
    flat = list(axes.flat)
    if not panels:
        flat[0].text(0.5, 0.5, "no evaluation results", ha="center", va="center", transform=flat[0].transAxes)
        flat[0].set_axis_off()
    bar = 0.38
    label_size = 7 if len(models) <= 5 else 6
    for ax, (benchmark, variant) in zip(flat, panels):
        by_model = {r["model"]: r for r in rows if (r["benchmark"], r["variant"]) == (benchmark, variant)}
        for x, model in enumerate(models):
            row = by_model.get(model)
            if row is None:
                continue
            ours = ax.bar(x - bar / 2, row["ours"], bar, color="#3b75af", label="ours")
            ax.bar_label(ours, fmt="%.1f", fontsize=label_size, padding=1)
            if row["paper"] is not None:
                theirs = ax.bar(
                    x + bar / 2,
                    row["paper"],
                    bar,
                    color="#3b75af",
                    alpha=0.3,
                    hatch="//",
                    edgecolor="#3b75af",
                    linewidth=0.5,
                    label="paper",
                )
                ax.bar_label(theirs, fmt="%.1f", fontsize=label_size, padding=1, color="#555555")
        ax.set_title(variant_label(benchmark, variant))
        # Starred per panel: a model may be limited on one benchmark and not another.
        names = [m + (" *" if m in by_model and is_partial(by_model[m]) else "") for m in models]
        ax.set_xticks(
            range(len(models)), names, rotation=30 if rotate else 0, ha="right" if rotate else "center", fontsize=8
        )
        ax.set_ylim(0, 108)
        ax.set_yticks(range(0, 101, 20))
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("pass@1 (%)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in flat[len(panels) or 1 :]:
        ax.set_axis_off()
    # One legend for the figure, from whichever panels drew each kind of bar.
    handles = {}
    for ax in flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        # Under the title, outside the panels, so it never hides a bar.
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="upper center",
            frameon=False,
            ncols=2,
            bbox_to_anchor=(0.5, 1 - 0.45 / fig.get_figheight()),
            fontsize=9,
        )
    fig.suptitle(
        title or "pass@1: this pipeline (solid) vs. the Magicoder paper (hatched)",
        y=1 - 0.12 / fig.get_figheight(),
        va="top",
    )
    if partial:
        fig.text(
            0.01,
            0.0,
            "* evaluated on a subset of the tasks: not comparable to the paper",
            fontsize=8,
            ha="left",
            va="bottom",
            color="#aa3300",
        )
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight() if partial else 0, 1, 1 - 0.65 / fig.get_figheight()))
    _save(fig, path)


# --------------------------------------------------------------------------- execution-verified data (issue 17)

STUDY_ROLES = {
    "baseline": "the paper's data",
    "verified": "tests template, only samples whose tests pass (verify: require)",
    "control": "tests template, every sample (verify: annotate)",
}
STUDY_SUMMARY_VARIANTS = ("average", "overall")  # a many-variant benchmark shows only these


def _study_columns(rows: Sequence[dict]) -> list[tuple[str, str]]:
    columns = []
    for benchmark in _benchmark_order(r["benchmark"] for r in rows):
        variants = _variant_order(dict.fromkeys(r["variant"] for r in rows if r["benchmark"] == benchmark), benchmark)
        if len(variants) > 2:
            variants = [v for v in variants if v in STUDY_SUMMARY_VARIANTS] or variants
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
        label = f"{BENCHMARK_NAMES.get(benchmark, benchmark)} {variant_label(benchmark, variant)}"
        header += [label, "Δ"]
    lines += ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (2 * len(columns))]
    baseline = models["baseline"]
    for role, model in models.items():
        cells = [f"{role}: {STUDY_ROLES[role]}", _escape(model)]
        for benchmark, variant in columns:
            ours = score.get((model, benchmark, variant))
            base = score.get((baseline, benchmark, variant))
            diff = None if ours is None or base is None or role == "baseline" else _difference(ours, base)
            cells += [_cell(ours), _cell(diff, signed=True)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "pass@1 in percent; Δ = model − baseline in percentage points. Same seeds, teacher, "
        "recipe and base model; the data differ (ossinstruct/curate/verify.py, presets/verified.yaml).",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry point


def write_summary(
    result_paths: Sequence[str | os.PathLike],
    md_path: str | os.PathLike,
    csv_path: str | os.PathLike,
    png_path: str | os.PathLike,
    paper: dict | str | os.PathLike | None = None,
    paper_rows: Mapping[str, str | None] | None = None,
    verification_study: Mapping[str, str] | None = None,
) -> list[dict]:
    """Read the result files and write summary.md, summary.csv and the figure, each
    atomically. `paper`: the paper's results (a dict, a YAML path, or None for the
    package's). `paper_rows` ({model: row key or None}, e.g. from config.yaml) overrides
    the ``paper_row`` recorded in a model's results, so re-pointing a model at another
    paper row needs no re-scoring. Returns the summary rows."""
    if paper is None or isinstance(paper, (str, os.PathLike)):
        paper = load_paper_results(paper)
    else:
        check_paper_results(paper, "paper (given)")
    sources = [str(p) for p in result_paths]
    results = [load_result(p) for p in result_paths]
    if paper_rows:
        results = [{**r, "paper_row": paper_rows[r["model"]]} if r["model"] in paper_rows else r for r in results]
    rows = summary_rows(results, paper, sources=sources)
    # The figure and CSV first: the Markdown is the file people open, written last.
    summary_figure(rows, png_path)
    write_summary_csv(rows, csv_path)
    markdown = summary_markdown(rows, paper, results)
    if verification_study:  # beyond the paper: presets/verified.yaml
        markdown += verification_study_markdown(rows, verification_study)
    write_text_atomic(md_path, markdown)
    return rows
