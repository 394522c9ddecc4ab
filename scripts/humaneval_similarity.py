"""Snakemake entry point of rule humaneval_similarity (paper Figure 3)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct import workflow as wf
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
# The rule's params hold HumanEval's identity (a file's sha256); the path comes from config.
humaneval = wf.benchmark_source(sm.config, "humaneval")
datasets.similarity_figure(dict(zip(sm.params.datasets, sm.input)), humaneval, sm.output[0])
