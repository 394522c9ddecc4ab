"""Snakemake entry point of rule decontamination_match: one dataset against one benchmark."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
datasets.match_benchmark(sm.input.samples, sm.wildcards.benchmark, sm.input.strings, list(sm.params.fields), sm.output[0],
                         sm.params.join)
