"""Snakemake entry point of rule push_dataset (off unless datasets.<name>.push_to_hub)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct import prefetch

    prefetch.go_online()  # a localrule: the hub is reachable from here, not from the nodes
    from ossinstruct.curate import steps as datasets

    datasets.push_to_hub(sm.params.repo_id, sm.input.samples, sm.input.card, sm.output[0])
