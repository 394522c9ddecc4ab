"""Snakemake entry point of rule mine_comment_pairs (paper §4.2, Table 6)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.mine_comment_pairs(sm.input.seeds, sm.params.spec, sm.output[0])
