"""Snakemake entry point of rule comment_pairs: a comment_pairs dataset's clean.jsonl."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    spec = sm.params.spec
    datasets.select_comment_pairs(
        sm.wildcards.dataset,
        list(sm.input.mined),
        spec["size"],
        sm.input.reference[0] if sm.input.reference else None,
        spec["shuffle_seed"],
        spec["filters"],
        list(sm.input.strings),
        sm.params.fields,
        sm.params.join,
        sm.output.clean,
        sm.output.rejected,
    )
