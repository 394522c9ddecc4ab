"""Snakemake entry point of rule clean_generations."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.clean_generations(
        list(sm.input.shards),
        sm.output.clean,
        sm.output.rejected,
        sm.params.drop_noisy,
        sm.params.shuffle_seed,
    )
