"""Snakemake entry point of rule clean_generations."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
datasets.clean_generations(list(sm.input.shards), sm.output.clean, sm.output.rejected, sm.params.drop_noisy,
                           sm.params.shuffle_seed)
