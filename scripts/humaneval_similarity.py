"""Snakemake entry point of rule humaneval_similarity (paper Figure 3)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct import workflow as wf
    from ossinstruct.curate import steps as datasets

    # The rule's params hold HumanEval's identity (a file's sha256); the path comes from config.
    humaneval = wf.benchmark_source(sm.config, "humaneval")
    datasets.similarity_figure(dict(zip(sm.params.datasets, sm.input)), humaneval, sm.output[0])
