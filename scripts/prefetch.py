"""Snakemake entry point of rule prefetch: one download into the shared cache."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct import prefetch

    prefetch.go_online()  # before the hub libraries read their switches
    from ossinstruct import study_downloads

    study_downloads.prefetch_item(sm.config, sm.wildcards.item, marker=sm.output[0])
