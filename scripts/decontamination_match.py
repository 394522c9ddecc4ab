"""Snakemake entry point of rule decontamination_match: one dataset against one benchmark."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.match_benchmark(
        sm.input.samples,
        sm.wildcards.benchmark,
        sm.input.strings,
        list(sm.params.fields),
        sm.output[0],
        sm.params.join,
    )
