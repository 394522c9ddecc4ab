"""The paper's numbers (Tables 1-10 of arXiv 2312.02120, percent as printed) and their lookup.

They live in ``paper_results.yaml`` beside this module. A result's or a model's
``paper_row`` is a row key there, e.g. ``Magicoder-CL-7B``; it is looked up in the tables
that ``benchmark_tables`` lists for the benchmark (each plug-in's ``paper_tables``), then in
the other tables; ``table5:Magicoder-CL-7B-Python-43K`` names the table. A row the paper
has no number for (printed "-", or absent from every table with that benchmark) has none; a
row key found in no table at all is an error, since it is a typo in config.yaml far more
often than intended.

The config's validation (ossinstruct/config.py) checks every paper_row against this file;
the summary (ossinstruct/evaluate/summary/) compares each result with its row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import yaml

PAPER_RESULTS_FILE = "paper_results.yaml"


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
    expect(isinstance(paper, Mapping), where, "(top level)", "expected a mapping")
    expect(isinstance(paper.get("source"), Mapping), where, "source", "expected a mapping")
    expect(isinstance(paper["source"].get("arxiv"), str), where, "source.arxiv", "expected a string")
    tables = paper.get("tables")
    expect(isinstance(tables, Mapping) and tables, where, "tables", "expected a non-empty mapping")
    for table_id, table in tables.items():
        key = f"tables.{table_id}"
        expect(isinstance(table, Mapping), where, key, "expected a mapping")
        for field in ("caption", "metric"):
            expect(isinstance(table.get(field), str), where, f"{key}.{field}", "expected a string")
        rows = table.get("rows")
        expect(isinstance(rows, Mapping) and rows, where, f"{key}.rows", "expected a non-empty mapping")
        for row_key, row in rows.items():
            _check_paper_row(row_key, row, where, f"{key}.rows.{row_key}")
    benchmark_tables = paper.get("benchmark_tables")
    expect(isinstance(benchmark_tables, Mapping), where, "benchmark_tables", "expected a mapping")
    for benchmark, table_ids in benchmark_tables.items():
        key = f"benchmark_tables.{benchmark}"
        expect(isinstance(table_ids, list), where, key, "expected a list of table ids")
        for table_id in table_ids:
            expect(table_id in tables, where, key, f"unknown table {table_id!r}")


def _check_paper_row(row_key, row, where: str, key: str) -> None:
    # ":" separates a table id from a row key in a paper_row reference.
    expect(isinstance(row_key, str) and ":" not in row_key, where, key, "row keys are strings without ':'")
    expect(isinstance(row, Mapping), where, key, "expected a mapping")
    expect(isinstance(row.get("display"), str), where, f"{key}.display", "expected a string")
    scores = row.get("scores")
    expect(isinstance(scores, Mapping) and scores, where, f"{key}.scores", "expected a non-empty mapping")
    for benchmark, variants in scores.items():
        expect(
            isinstance(variants, Mapping) and variants,
            where,
            f"{key}.scores.{benchmark}",
            "expected a non-empty mapping of variant: number",
        )
        for variant, value in variants.items():
            expect(
                value is None or (is_number(value) and 0 <= value <= 100),
                where,
                f"{key}.scores.{benchmark}.{variant}",
                f"expected a percentage 0..100 or null, got {value!r}",
            )


def expect(condition, where: str, key: str, problem: str) -> None:
    if not condition:
        raise ValueError(f"{where}: {key}: {problem}")


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def known_paper_rows(paper: dict) -> list[str]:
    """Every row key of every table, sorted, each once."""
    return sorted({key for table in paper["tables"].values() for key in table["rows"]})


def find_paper_row(paper: dict, row_ref: str, benchmark: str | None) -> tuple[str | None, dict | None]:
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


def check_row_ref(paper: dict, row_ref: str) -> None:
    """ValueError naming the problem when `row_ref` ("row" or "tableN:row") names no row of
    the paper's tables (whichever benchmarks it has numbers for)."""
    find_paper_row(paper, row_ref, None)
