"""Snakemake entry point of rule seeds: one seed shard."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.seeds.sampling import shard_spec, write_shard

    # The rule's params hold the spec's identity (a local corpus by its documents' digest);
    # the spec itself, with the corpus's path on this machine, comes from config. The
    # language's pool file (selection magicoder) is read instead of the hub; other corpora
    # have none.
    pool = sm.input.get("pool") or None
    write_shard(
        shard_spec(sm.config, sm.wildcards.corpus, sm.wildcards.lang, sm.wildcards.shard),
        sm.output[0],
        pool=pool if isinstance(pool, str) or pool is None else pool[0],
    )
