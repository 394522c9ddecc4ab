"""Snakemake entry point of rule training_set: train.jsonl."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.training_set(sm.input[0], sm.wildcards.dataset, sm.output[0], sm.params.instruction)
