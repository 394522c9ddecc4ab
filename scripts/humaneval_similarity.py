"""Snakemake entry point of rule humaneval_similarity (paper Figure 3)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
datasets.similarity_figure(dict(zip(sm.params.datasets, sm.input)), dict(sm.params.humaneval), sm.output[0])
