"""Snakemake entry point of rule seeds: one seed shard."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.seeds.sampling import write_shard

    # The language's pool file (selection magicoder); the other corpora have none.
    pool = sm.input.get("pool") or None
    write_shard(sm.params.spec, sm.output[0], pool=pool if isinstance(pool, str) or pool is None else pool[0])
