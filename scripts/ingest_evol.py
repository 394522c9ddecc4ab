"""Snakemake entry point of rule ingest_evol."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct import datasets

    datasets.ingest_evol(
        sm.wildcards.dataset, dict(sm.params.evol), sm.output.clean, sm.output.rejected
    )
