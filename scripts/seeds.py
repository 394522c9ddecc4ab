"""Snakemake entry point of rule seeds: one seed shard."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct.logs import setup_logging
from ossinstruct.seeds import write_shard

setup_logging(snakemake.log[0])  # noqa: F821 - injected by Snakemake
write_shard(snakemake.params.spec, snakemake.output[0])  # noqa: F821
