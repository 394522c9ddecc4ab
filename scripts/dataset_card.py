"""Snakemake entry point of rule dataset_card: README.md and figures."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.card_and_figures(
        sm.wildcards.dataset,
        dict(sm.params.spec),
        sm.params.teacher,
        sm.input.samples,
        sm.input.report,
        sm.input.get("clean"),
        sm.input.get("rejected"),
        sm.output.card,
        sm.output.tokens,
        sm.output.languages,
        sm.input.get("verify_report"),
    )
