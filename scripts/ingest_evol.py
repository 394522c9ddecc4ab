"""Snakemake entry point of rule ingest_evol."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
datasets.ingest_evol(sm.wildcards.dataset, dict(sm.params.evol), sm.output.clean, sm.output.rejected)
