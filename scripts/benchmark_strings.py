"""Snakemake entry point of rule benchmark_strings: one benchmark's texts."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
datasets.extract_benchmark_strings(sm.wildcards.benchmark, sm.params.source, sm.params.min_length, sm.output[0],
                                   sm.params.exempt)
