"""Snakemake entry point of rule eval_summary: every result next to the paper's numbers
(results/summary.md, .csv and a bar chart)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.evaluate.summary import write_summary

    write_summary(
        sm.input.results,
        sm.output.markdown,
        sm.output.csv,
        sm.output.figure,
        paper_rows=dict(sm.params.paper_rows),
        verification_study=sm.params.get("verification_study"),
    )
