"""Snakemake entry point of rule decontamination_merge."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct import datasets
from ossinstruct.logs import setup_logging

sm = snakemake  # noqa: F821 - injected by Snakemake
setup_logging(sm.log[0])
datasets.merge_matches(
    sm.input.samples,
    list(sm.input.matches),
    list(sm.params.benchmarks),
    sm.output.decontaminated,
    sm.output.excluded,
    sm.output.report,
)
