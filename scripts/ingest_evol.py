"""Snakemake entry point of rule ingest_evol."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.config import dataset_specs
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
# The rule's params hold the source's identity (a local file's sha256); the path comes from config.
evol = dataset_specs(sm.config)[sm.wildcards.dataset]["evol"]
datasets.ingest_evol(sm.wildcards.dataset, dict(evol), sm.output.clean, sm.output.rejected)
