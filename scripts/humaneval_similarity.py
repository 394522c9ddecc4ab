"""Snakemake entry point of rule humaneval_similarity (paper Figure 3)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct import datasets

    datasets.similarity_figure(
        dict(zip(sm.params.datasets, sm.input)), dict(sm.params.humaneval), sm.output[0]
    )
