"""Snakemake entry point of rule mine_comment_pairs (paper §4.2, Table 6)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets
    from ossinstruct.seeds.sampling import shard_spec

    # The shard's own spec: its documents are read again from it (the params hold its
    # identity), from the language's pool file where there is one (selection magicoder).
    spec = shard_spec(sm.config, sm.wildcards.corpus, sm.wildcards.lang, sm.wildcards.shard)
    pool = sm.input.get("pool") or None
    pool = pool if isinstance(pool, str) or pool is None else pool[0]
    datasets.mine_comment_pairs(sm.input.seeds, spec, sm.output[0], pool=pool)
