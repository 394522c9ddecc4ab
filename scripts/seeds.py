"""Snakemake entry point of rule seeds: one seed shard."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.seeds.sampling import write_shard

    write_shard(sm.params.spec, sm.output[0])
