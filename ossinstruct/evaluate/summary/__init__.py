"""The evaluation summary: our pass@1 next to the paper's, as Markdown, CSV and a bar chart.

One module per concern: the paper's tables and their lookup (ossinstruct/evaluate/paper.py,
which the config's validation reads too), our results as long-format rows (rows.py),
summary.md and summary.csv (markdown.py), the figure (figure.py). :func:`write_summary`, rule
eval_summary's step, reads the result files and writes the three.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ossinstruct.evaluate.paper import check_paper_results, load_paper_results
from ossinstruct.evaluate.summary.figure import summary_figure
from ossinstruct.evaluate.summary.markdown import summary_markdown, verification_study_markdown, write_summary_csv
from ossinstruct.evaluate.summary.rows import load_result, summary_rows
from ossinstruct.files import write_text_atomic


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
