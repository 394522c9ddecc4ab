"""Snakemake entry point of rule training_set: train.jsonl."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
datasets.training_set(sm.input[0], sm.wildcards.dataset, sm.output[0], sm.params.instruction)
