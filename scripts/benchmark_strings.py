"""Snakemake entry point of rule benchmark_strings: one benchmark's texts."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct import workflow as wf
    from ossinstruct.curate import steps as datasets

    # The rule's params hold the source's identity (a file's sha256); the path comes from config.
    source = wf.benchmark_source(sm.config, sm.wildcards.benchmark)
    datasets.extract_benchmark_strings(
        sm.wildcards.benchmark, source, sm.params.min_length, sm.output[0], sm.params.exempt
    )
