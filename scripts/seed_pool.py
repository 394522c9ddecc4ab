"""Snakemake entry point of rule seed_pool: a language's seed pool, read from the hub once."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.seeds.pool import pool_spec, write_pool

    write_pool(pool_spec(sm.config, sm.wildcards.corpus, sm.wildcards.lang), sm.output[0])
