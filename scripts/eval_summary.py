"""Snakemake entry point of rule eval_summary: every result next to the paper's numbers
(results/summary.md, .csv and a bar chart)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct.evaluation.summary import write_summary
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
write_summary(
    sm.input.results,
    sm.output.markdown,
    sm.output.csv,
    sm.output.figure,
    paper_rows=dict(sm.params.paper_rows),
)
