import json
import os
import sys

# The workflow imports the library from this checkout (scripts do the same, through
# scripts/_checkout.py), also inside per-rule conda environments.
sys.path.insert(0, workflow.basedir)

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from ossinstruct.seeds import sampling as seedlib
from ossinstruct.seeds import pool as seedpool
from ossinstruct.benchmarks import EVALUATED
from ossinstruct import workflow as wf
from ossinstruct.identity import code_identity
from ossinstruct.config import (
    ConfigError,
    dataset_specs,
    evaluated_models,
    missing_api_keys,
    validate_config,
)
from ossinstruct.generate.teacher import teacher_identity
from ossinstruct.train.memory import check_training_memory
from ossinstruct import prefetch, study_downloads

try:
    validate_config(config)
    # Every training job's peak GPU memory against cluster.gpu_memory_gib: refused at
    # parse time, before any GPU is allocated (ossinstruct/train/memory.py: the arithmetic).
    check_training_memory(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None

# Every job inherits these (SLURM's sbatch exports the environment): the shared download
# cache and, with downloads.offline_jobs, the hub offline (ossinstruct/prefetch.py).
os.environ.update(prefetch.job_environment(config))
# The downloads each job needs, and the study's downloads (rule prefetch), computed once.
DOWNLOAD_NEEDS = study_downloads.items_by_consumer(config)
DOWNLOADS = study_downloads.study_items(config, DOWNLOAD_NEEDS)


wildcard_constraints:
    corpus=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    teacher=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    lang=r"[A-Za-z0-9_+#-]+",
    shard=r"\d{5}",
    checkpoint=wf.name_pattern(wf.checkpoint_names(config)),
    model=wf.name_pattern(list(evaluated_models(config))),


EVAL_BENCHMARKS = wf.name_pattern(list(EVALUATED))
# The benchmarks each scoring rule takes, as each plug-in's scoring_rule says. evalplus's
# (eval_score), MultiPL-E's (eval_score_multiple) and the others (eval_score_sampled).
EVALPLUS_BENCHMARKS = wf.name_pattern(wf.scoring_rule_benchmarks("eval_score"))
MULTIPLE_BENCHMARKS = wf.name_pattern(wf.scoring_rule_benchmarks("eval_score_multiple"))
SAMPLED_BENCHMARKS = wf.name_pattern(wf.scoring_rule_benchmarks("eval_score_sampled"))


def all_targets(config):
    return wf.all_targets(config)


def cap_teacher_api_jobs():
    """At most teacher_api_jobs generation jobs call a teacher API at once (their llm_api
    resource), whatever the profile or --resources say: each job sends at 1/teacher_api_jobs
    of the account's rate limits. A lower --resources llm_api=N stays in force."""
    cap = int(config["teacher_api_jobs"])
    given = workflow.global_resources.get("llm_api").value
    if given is None or given > cap:
        workflow.register_resource("llm_api", cap)


cap_teacher_api_jobs()


def planned_jobs():
    """(rule, wildcards) of each job this command will run (onstart: the DAG is built);
    none under --touch, which runs nothing and sends no request."""
    if workflow.touch:
        return []
    return [
        (job.rule.name, dict(job.wildcards_dict)) for job in workflow.dag.needrun_jobs()
    ]


def remote_executor():
    """The executor's name when jobs run elsewhere (slurm), else None (local)."""
    plugin = workflow.executor_plugin
    if plugin is None or workflow.local_exec:
        return None
    return str(plugin.name).removeprefix("snakemake_executor_plugin_")


def check_slurm():
    """With --profile slurm on a machine that reaches no SLURM controller, one clear error
    instead of an sinfo/sacct error per job."""
    if remote_executor() != "slurm":
        return
    problem = wf.slurm_controller_problem()
    if problem:
        raise WorkflowError(
            f"--profile slurm: no SLURM controller is reachable from this machine ({problem}). "
            "Run it from a SLURM login node, or run locally instead: the same command without "
            "--profile slurm, with --cores N (e.g. snakemake --cores 8 ...)."
        )


def check_api_keys(jobs):
    """Fail before any job starts when a planned generation job's teacher lacks its key."""
    missing = missing_api_keys(config, wf.teachers_of_jobs(jobs))
    if missing:
        raise WorkflowError(
            "Missing API key environment variable(s): "
            + ", ".join(missing)
            + ". Export it before running; its value is never logged or written."
        )


def planned_teachers():
    """The teachers whose generation jobs this run executes (none under --touch)."""
    return wf.teachers_of_jobs(planned_jobs())


def check_teachers():
    """Before any job: each OpenAI-compatible teacher this run generates with must be
    served by its endpoint to its key (GET /v1/models/{id}): a retired model or a refused
    key is one error naming the model and the config key, not a failure per request in
    every job.
    """
    from ossinstruct.generate.teacher import preflight_teacher
    from ossinstruct.llm.backends.openai_api import TeacherUnavailable

    for name in sorted(planned_teachers()):
        try:
            preflight_teacher(name, config["teachers"][name])
        except TeacherUnavailable as error:
            raise WorkflowError(str(error)) from None


def report_cost():
    """Before any job: the teacher API cost estimate against max_cost_usd (a warning when
    it passes: the jobs will stop at the ceiling with shards left)."""
    if not any(
        config["teachers"][t]["backend"] == "openai" for t in planned_teachers()
    ):
        return
    from snakemake.logging import logger
    from ossinstruct.generate.cost import estimate_study_cost, format_cost

    estimate = estimate_study_cost(config)
    (logger.warning if estimate["over_ceiling"] else logger.info)(format_cost(estimate))


def check_toolchains(jobs):
    """Fail before any job starts when planned MultiPL-E scoring jobs, run on this machine,
    need a compiler or interpreter that is not installed (never scored as 0%). Jobs that run
    elsewhere (a cluster's compute nodes, or MultiPL-E's container with
    --software-deployment-method apptainer) check their own at their start."""
    if not wf.multiple_scoring_jobs(jobs):
        return
    methods = {
        str(m).lower()
        for m in getattr(workflow.deployment_settings, "deployment_method", ())
    }
    if any("apptainer" in m or "singularity" in m for m in methods):
        return
    if remote_executor():
        logger.info(
            "MultiPL-E's toolchains are checked by each scoring job where it runs "
            f"({remote_executor()} executor), not on this machine."
        )
        return
    from ossinstruct.benchmarks import evaluated
    from ossinstruct.sandbox.toolchains import ToolchainMissing

    for benchmark in sorted({w["benchmark"] for w in wf.multiple_scoring_jobs(jobs)}):
        try:
            evaluated(benchmark).check_environment(
                wf.benchmark_settings(config, benchmark)
            )
        except ToolchainMissing as error:
            raise WorkflowError(str(error)) from None


def code_identity_of(step, benchmarks=None):
    """A rule's `code` param: the identity of the code behind its outputs (its step's
    version, the result-shaping constants in force; ossinstruct/identity.py). The benchmark
    is the job's {benchmark} wildcard; `benchmarks(wildcards)` names them for a job over
    several."""
    return lambda wildcards: code_identity(
        step,
        config,
        benchmarks(wildcards) if benchmarks else wildcards.get("benchmark"),
    )


def seed_spec(wildcards):
    return seedlib.shard_spec(
        config, wildcards.corpus, wildcards.lang, wf.shard_index(wildcards.shard)
    )


def seed_spec_identity(wildcards):
    """A shard's spec for params: a local corpus by its documents' digest, not its path."""
    return seedlib.spec_identity(seed_spec(wildcards))


def downloads(rule, key):
    """The prefetch markers a job of `rule` needs (`key`: the wildcard naming its teacher,
    checkpoint, model, benchmark or dataset): made by the localrule prefetch before it
    runs, never a rerun trigger by themselves (ancient)."""

    def markers(wildcards):
        return [
            ancient(m)
            for m in study_downloads.markers_for(
                config, rule, wildcards[key], DOWNLOAD_NEEDS
            )
        ]

    return markers


def seed_pool_input(wildcards):
    """The pool file a seed shard (or the mining of its documents) reads, never a rerun
    trigger by itself; none for local corpora and selection stream."""
    path = wf.seed_pool_path(config, wildcards.corpus, wildcards.lang)
    return ancient(path) if path else []


def seed_resource(name):
    return lambda wildcards: wf.seed_resources(config, wildcards.corpus)[name]


def teacher_resource(name):
    return lambda wildcards: wf.teacher_resources(config, wildcards.teacher)[name]


def llm_api_slots(wildcards):
    # One slot per job that calls a remote API: teacher_api_jobs caps them.
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
    markers = downloads("train", "checkpoint")(wildcards)
    if markers:  # the base model, fetched by rule prefetch
        inputs["downloads"] = markers
    return inputs


def train_identity_json(wildcards):
    """The TrainConfig fields in force for this checkpoint, bookkeeping aside, as JSON (the
    script passes them all: workflow.train_config)."""
    return json.dumps(wf.train_identity(config, wildcards.checkpoint), sort_keys=True)


def train_accelerate_config(wildcards):
    """The accelerate config file of the checkpoint's strategy, by content (none for ddp)."""
    return wf.accelerate_config_identity(config, wildcards.checkpoint)


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
    markers = downloads("eval_generate", "model")(wildcards)
    if (
        markers
    ):  # a hub model evaluated as it is (its tokenizer), fetched by rule prefetch
        inputs["downloads"] = markers
    # The model's generation job filled the cache first. Not ancient(): Snakemake 9 then
    # leaves this job's own reasons (a changed identity) unchecked when that job reruns.
    inputs["generation"] = wf.EVAL_GENERATION.format(model=wildcards.model)
    return inputs


def eval_model_benchmarks(wildcards):
    """The benchmarks one model's generation job generates for."""
    return wf.eval_model_benchmarks(config, wildcards.model)


def eval_generate_model_inputs(wildcards):
    """The tasks of every benchmark of the model (in eval_model_benchmarks order), its
    checkpoint when it is trained here, and its prefetch markers when it is a hub model.
    """
    benchmarks = wf.eval_model_benchmarks(config, wildcards.model)
    inputs = {"tasks": [wf.EVAL_TASKS.format(benchmark=b) for b in benchmarks]}
    source = wf.eval_model_source(config, wildcards.model)
    if "path" in source:
        inputs["model"] = source["path"]
    markers = downloads("eval_generate", "model")(wildcards)
    if markers:  # a hub model evaluated as it is, fetched by rule prefetch
        inputs["downloads"] = markers
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
    return lambda wildcards: wf.eval_score_resources(config, wildcards.benchmark)[name]


def comment_pair_grammars():
    """The tree-sitter packages' versions, when any dataset mines comment-function pairs:
    a new grammar re-mines (absent otherwise, so that other studies need no tree-sitter).
    """
    if not wf.datasets_of_kind(config, "comment_pairs"):
        return {}
    from ossinstruct.curate.comment_pairs import grammar_versions

    return grammar_versions()
