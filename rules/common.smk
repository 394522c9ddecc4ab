import json
import os
import sys

# The workflow imports the library from this checkout (scripts do the same, through
# scripts/_checkout.py), also inside per-rule conda environments.
sys.path.insert(0, workflow.basedir)

from snakemake.exceptions import WorkflowError

from ossinstruct.seeds import sampling as seedlib
from ossinstruct.benchmarks import EVALUATED
from ossinstruct import workflow as wf
from ossinstruct.config import (
    ConfigError,
    dataset_specs,
    evaluated_models,
    missing_api_keys,
    validate_config,
)
from ossinstruct.generate.teacher import teacher_identity

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None


wildcard_constraints:
    corpus=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    teacher=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    lang=r"[A-Za-z0-9_+#-]+",
    shard=r"\d{5}",
    checkpoint=wf.name_pattern(wf.checkpoint_names(config)),
    model=wf.name_pattern(list(evaluated_models(config))),


EVAL_BENCHMARKS = wf.name_pattern(list(EVALUATED))
# The benchmarks each scoring job family takes: evalplus's (eval_score), MultiPL-E's
# (eval_score_multiple) and the other per-sample ones (eval_score_sampled).
EVALPLUS_BENCHMARKS = wf.name_pattern(wf.per_sample_benchmarks(config, "evalplus"))
MULTIPLE_BENCHMARKS = wf.name_pattern(wf.per_sample_benchmarks(config, "multiple"))
SAMPLED_BENCHMARKS = wf.name_pattern(wf.per_sample_benchmarks(config, "sampled"))


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


def check_toolchains():
    """Fail before any job starts when MultiPL-E results still to be made need a compiler or
    interpreter that is not installed (never scored as 0%). Skipped when the scoring jobs
    run in MultiPL-E's container (--software-deployment-method apptainer), which has them.
    """
    methods = {
        str(m).lower()
        for m in getattr(workflow.deployment_settings, "deployment_method", ())
    }
    if any("apptainer" in m or "singularity" in m for m in methods):
        return
    pending = wf.pending_multiple_results(config)
    if pending:
        from ossinstruct.evaluate.multiple_exec import (
            ToolchainMissing,
            require_toolchains,
        )

        try:
            require_toolchains(config["evaluation"]["multipl_e"]["languages"])
        except ToolchainMissing as error:
            raise WorkflowError(str(error)) from None


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
    name = "vllm.yaml" if backend == "vllm" else "inference.yaml"
    return os.path.join(workflow.basedir, "envs", name)


def dataset_spec(wildcards):
    return dataset_specs(config)[wildcards.dataset]


def dataset_teacher(name):
    """The teacher model behind a dataset, for its card (None for Evol-Instruct)."""
    spec = dataset_specs(config)[name]
    if "subset_of" in spec:
        return dataset_teacher(spec["subset_of"])
    models = sorted(
        {config["teachers"][g["teacher"]]["model"] for g in spec.get("generations", [])}
    )
    return ", ".join(models) or None


def benchmark_source(wildcards):
    """The identity of a benchmark's texts: the source in force, a file by its sha256 (the
    script reads the path from config)."""
    return wf.content_identity(wf.benchmark_source(config, wildcards.benchmark))


def dataset_matches(wildcards):
    return expand(
        wf.MATCHES,
        dataset=wildcards.dataset,
        benchmark=config["decontamination"]["benchmarks"],
    )


def subset_parent(wildcards):
    return wf.final_samples(config, dataset_spec(wildcards)["subset_of"])


def final_samples(wildcards):
    """decontaminated.jsonl, or verified.jsonl for a dataset with verify on."""
    return wf.final_samples(config, wildcards.dataset)


def verify_resource(name):
    return lambda wildcards: wf.verify_resources(config)[name]


def has_clean_step(name):
    return "subset_of" not in dataset_specs(config)[name]


def card_inputs(wildcards):
    inputs = {
        "samples": wf.final_samples(config, wildcards.dataset),
        "report": wf.REPORT.format(dataset=wildcards.dataset),
    }
    if wf.verifies(config, wildcards.dataset):
        inputs["verify_report"] = wf.VERIFY_REPORT.format(dataset=wildcards.dataset)
    if has_clean_step(wildcards.dataset):
        inputs["clean"] = wf.CLEAN.format(dataset=wildcards.dataset)
        inputs["rejected"] = wf.REJECTED.format(dataset=wildcards.dataset)
    return inputs


def train_inputs(wildcards):
    recipe = wf.train_recipe(config, wildcards.checkpoint)
    inputs = {"train": wf.TRAIN.format(dataset=recipe["dataset"])}
    if "path" in recipe["base"]:
        inputs["base"] = recipe["base"]["path"]
    return inputs


def train_config_json(wildcards):
    """The TrainConfig fields of ossinstruct.train.recipe for this checkpoint, as JSON."""
    recipe = wf.train_recipe(config, wildcards.checkpoint)
    fields = {k: v for k, v in recipe["training"].items() if k != "strategy"}
    base = recipe["base"]
    fields.update(
        base_model=base.get("path") or base["model"],
        base_revision=base.get("revision"),
        max_length=recipe["max_length"],
        dataset_name=recipe["dataset"],
    )
    return json.dumps(fields, sort_keys=True)


def train_resource(name):
    return lambda wildcards: wf.train_resources(config, wildcards.checkpoint)[name]


def eval_data_spec(wildcards):
    """{sha256, version} of a benchmark's local data file (path None: evalplus's own
    download). The file is identified by its content, never its path: the script reads the
    path from config, so a moved data directory reruns nothing and new content reruns.
    """
    spec = config["evaluation"]["data"].get(wildcards.benchmark) or {}
    path = wf.eval_data_path(config, wildcards.benchmark)
    identity = wf.content_identity({"path": path}) if path else {"path": None}
    settings = wf.task_settings_identity(config, wildcards.benchmark)
    # A benchmark's settings block (MultiPL-E's languages, APPS's problem ids file by its
    # content) decides its tasks too.
    return {
        **identity,
        "version": spec.get("version"),
        **({"settings": settings} if settings else {}),
    }


def eval_limit(wildcards):
    return wf.eval_limit(config, wildcards.benchmark)


def eval_sampled_scoring_json(wildcards):
    """Scoring identity of a per-sample benchmark: its scoring settings (a change rescores)."""
    return json.dumps(
        {"settings": wf.scoring_settings_identity(config, wildcards.benchmark)},
        sort_keys=True,
    )


def eval_generate_inputs(wildcards):
    inputs = {"tasks": wf.EVAL_TASKS.format(benchmark=wildcards.benchmark)}
    source = wf.eval_model_source(config, wildcards.model)
    if "path" in source:
        inputs["model"] = source["path"]
    # The model's generation job filled the cache first. Not ancient(): Snakemake 9 then
    # leaves this job's own reasons (a changed identity) unchecked when that job reruns.
    inputs["generation"] = wf.EVAL_GENERATION.format(model=wildcards.model)
    return inputs


def eval_generate_model_inputs(wildcards):
    """The tasks of every benchmark of the model (in eval_model_benchmarks order) and its
    checkpoint when it is trained here."""
    benchmarks = wf.eval_model_benchmarks(config, wildcards.model)
    inputs = {"tasks": [wf.EVAL_TASKS.format(benchmark=b) for b in benchmarks]}
    source = wf.eval_model_source(config, wildcards.model)
    if "path" in source:
        inputs["model"] = source["path"]
    return inputs


def eval_generation_json(wildcards):
    return json.dumps(
        wf.eval_generation_identity(config, wildcards.model, wildcards.benchmark),
        sort_keys=True,
    )


def eval_model_generation_json(wildcards):
    """Every benchmark's generation identity: one changed reruns the model's job, which then
    generates only that benchmark's new requests (the others' are cached)."""
    return json.dumps(
        wf.eval_model_generation_identity(config, wildcards.model), sort_keys=True
    )


def eval_conda_env(wildcards):
    name = "vllm.yaml" if config["evaluation"]["engine"] == "vllm" else "inference.yaml"
    return os.path.join(workflow.basedir, "envs", name)


def eval_generate_resource(name):
    return lambda wildcards: wf.eval_generate_model_resources(config, wildcards.model)[
        name
    ]


def eval_score_resource(name):
    return lambda wildcards: wf.eval_score_resources(config)[name]


def comment_pair_grammars():
    """The tree-sitter packages' versions, when any dataset mines comment-function pairs:
    a new grammar re-mines (absent otherwise, so that other studies need no tree-sitter).
    """
    if not wf.datasets_of_kind(config, "comment_pairs"):
        return {}
    from ossinstruct.curate.comment_pairs import grammar_versions

    return grammar_versions()
