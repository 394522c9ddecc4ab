"""Snakemake entry point of rule ingest_evol."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.config import dataset_specs
    from ossinstruct.curate import steps as datasets

    # The rule's params hold the source's identity (a local file's sha256); the path comes from config.
    evol = dataset_specs(sm.config)[sm.wildcards.dataset]["evol"]
    datasets.ingest_evol(sm.wildcards.dataset, dict(evol), sm.output.clean, sm.output.rejected)
