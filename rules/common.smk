import os
import sys

# The workflow imports the library from this checkout (scripts do the same, through
# scripts/_checkout.py), also inside per-rule conda environments.
sys.path.insert(0, workflow.basedir)

from snakemake.exceptions import WorkflowError

from ossinstruct import seeds as seedlib
from ossinstruct import workflow as wf
from ossinstruct.config import ConfigError, missing_api_keys, validate_config
from ossinstruct.generate import teacher_identity

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None


wildcard_constraints:
    corpus=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    teacher=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    lang=r"[A-Za-z0-9_+#-]+",
    shard=r"\d{5}",


def all_targets(config):
    return wf.all_targets(config)


def check_api_keys():
    """Fail before any job starts when a teacher that still has work lacks its key."""
    missing = missing_api_keys(config, wf.teachers_needing_run(config))
    if missing:
        raise WorkflowError(
            "Missing API key environment variable(s): "
            + ", ".join(missing)
            + ". Export it before running; its value is never logged or written."
        )


def seed_spec(wildcards):
    return seedlib.shard_spec(
        config, wildcards.corpus, wildcards.lang, wf.shard_index(wildcards.shard)
    )


def seed_resource(name):
    return lambda wildcards: wf.seed_resources(config, wildcards.corpus)[name]


def teacher_resource(name):
    return lambda wildcards: wf.teacher_resources(config, wildcards.teacher)[name]


def llm_api_slots(wildcards):
    # One slot per job that calls a remote API: `--resources llm_api=N` caps them.
    return int(config["teachers"][wildcards.teacher]["backend"] == "openai")


def teacher_conda_env(wildcards):
    backend = config["teachers"][wildcards.teacher]["backend"]
    name = "vllm.yaml" if backend == "vllm" else "pipeline.yaml"
    return os.path.join(workflow.basedir, "envs", name)
