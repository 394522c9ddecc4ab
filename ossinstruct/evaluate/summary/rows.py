"""The summary's rows: our results, one row per (model, benchmark, variant), beside the paper's.

Inputs are the result files ``results/eval/{model}/{benchmark}.json`` (written by the
scorer, :mod:`ossinstruct.evaluate.score`); of each, only ``model``, ``benchmark``,
``pass@1`` ({variant: fraction}), ``n_tasks``, ``limit`` and ``paper_row`` are required,
and ``n_passed``, ``data`` (``sha256``, ``version``, ``n_tasks_release``) and ``decoding``
(``prompt``) are used when present.

Everything is in long format, one row per (model, benchmark, variant), so benchmarks with
other variants (MultiPL-E languages, DS-1000 libraries, APPS difficulties) add rows, not
columns. Labels, variant order and the notes on protocol come from each benchmark's
plug-in (``variant_label``, ``variants``, ``protocol_notes``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.evaluate.paper import expect, find_paper_row, is_number, load_paper_results

REQUIRED_RESULT_KEYS = ("model", "benchmark", "pass@1", "n_tasks", "limit", "paper_row")


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
    expect(isinstance(result, Mapping), where, "(top level)", "expected a JSON object")
    for key in REQUIRED_RESULT_KEYS:
        expect(key in result, where, key, "missing key")
    for key in ("model", "benchmark"):
        expect(isinstance(result[key], str) and result[key], where, key, "expected a non-empty string")
    scores = result["pass@1"]
    expect(isinstance(scores, Mapping) and scores, where, "pass@1", "expected a non-empty object of variant: fraction")
    for variant, value in scores.items():
        # Fractions, not percent: a value above 1 is a unit mistake upstream.
        expect(
            is_number(value) and 0 <= value <= 1,
            where,
            f"pass@1.{variant}",
            f"expected a fraction 0..1, got {value!r}",
        )
    expect(
        isinstance(result["n_tasks"], int) and result["n_tasks"] >= 0,
        where,
        "n_tasks",
        "expected a non-negative integer",
    )
    expect(result["limit"] is None or isinstance(result["limit"], int), where, "limit", "expected null or an integer")
    expect(
        result["paper_row"] is None or isinstance(result["paper_row"], str),
        where,
        "paper_row",
        "expected null or a string",
    )


def paper_variant(benchmark: str, variant: str) -> str:
    """The paper's name of a variant (MultiPL-E's js and rs are javascript and rust there)."""
    plugin = REGISTRY.get(benchmark)
    return plugin.paper_variants.get(variant, variant) if plugin else variant


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
    """ "HumanEval", "HumanEval+", "MBPP+", "MultiPL-E java", ... (the plug-in's label)."""
    plugin = REGISTRY.get(benchmark)
    return plugin.variant_label(variant) if plugin else f"{benchmark} {variant}"


def benchmark_name(benchmark: str) -> str:
    """The summary's name of a benchmark (its display name)."""
    plugin = REGISTRY.get(benchmark)
    return plugin.display if plugin else benchmark


def _percent(fraction: float) -> float:
    return round(100 * fraction, 1)


def difference(ours: float, paper: float) -> float:
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
    """Why a row compared with a paper number was not measured as the paper's was (the
    plug-in's protocol_notes: a benchmark release other than the paper's, today's
    base-model protocol)."""
    plugin = REGISTRY.get(row["benchmark"])
    if row.get("paper_row") is None or plugin is None:
        return []
    return plugin.protocol_notes(row["model"], row.get("data_version"), row.get("prompt"))


def variant_order(variants, benchmark: str | None = None) -> list[str]:
    """The benchmark's own variants in its order (the paper's columns), then its overall
    and derived variants, then any others as given."""
    plugin = REGISTRY.get(benchmark) if benchmark else None
    declared = [*plugin.variants, *plugin.summary_variants()] if plugin else []
    first = [v for v in dict.fromkeys(declared) if v in variants]
    return first + [v for v in variants if v not in first]


def benchmark_order(benchmarks) -> list[str]:
    """The registry's order, then any others as given."""
    seen = list(dict.fromkeys(benchmarks))
    return [b for b in REGISTRY if b in seen] + [b for b in seen if b not in REGISTRY]


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
        for variant in variant_order(result["pass@1"], result["benchmark"]):
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
                    "diff": None if theirs is None else difference(ours, theirs),
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
    order = {b: i for i, b in enumerate(benchmark_order(r["benchmark"] for r in rows))}
    # sorted() is stable: within a benchmark, models and variants keep their order.
    return sorted(rows, key=lambda r: order[r["benchmark"]])
