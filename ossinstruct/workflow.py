"""What the workflow builds: output paths and target lists, as plain functions.

rules/*.smk only name files and resources; the decisions (which shards exist, which
teacher settings are identity, what resources a job asks for) live here, unit-tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ossinstruct.config import (
    DATASET_KINDS,
    REFERENCE_MODEL,
    benchmark_settings,
    dataset_specs,
    evaluated_models,
    generation_languages,
    model_specs,
    resolve_training,
    schema,
)
from ossinstruct.seeds import sampling as seedlib

SEEDS = "results/seeds/{corpus}/{lang}/{shard}.jsonl"
# A language's pool of documents (selection magicoder), read from the hub once for every
# shard (rule seed_pool; ossinstruct/seeds/pool.py).
SEED_POOL = "results/seeds/{corpus}/{lang}/pool.jsonl.gz"
GENERATIONS = "results/generations/{teacher}/{corpus}/{lang}/{shard}.jsonl"
GENERATION_STATS = "results/generations/{teacher}/{corpus}/{lang}/{shard}.stats.json"

DATASET = "results/datasets/{dataset}/"
CLEAN = DATASET + "clean.jsonl"
REJECTED = DATASET + "rejected.jsonl"
MATCHES = DATASET + "matches/{benchmark}.jsonl"
DECONTAMINATED = DATASET + "decontaminated.jsonl"
EXCLUDED = DATASET + "excluded.jsonl"
REPORT = DATASET + "report.json"
TRAIN = DATASET + "train.jsonl"
CARD = DATASET + "README.md"
TOKEN_FIGURE = DATASET + "figures/token_lengths.png"
LANGUAGE_FIGURE = DATASET + "figures/languages.png"
PUSHED = DATASET + "pushed.json"
# The verify step (datasets with verify annotate or require; beyond the paper).
VERIFIED = DATASET + "verified.jsonl"
VERIFY_REJECTED = DATASET + "verify_rejected.jsonl"
VERIFY_REPORT = DATASET + "verify_report.json"
VERIFY_FIGURE = DATASET + "figures/verify_pass_rate.png"
BENCHMARK_STRINGS = "results/decontamination/{benchmark}.strings.jsonl"
# Comment-function pairs of the documents behind one seed shard (paper §4.2, Table 6).
MINED_PAIRS = "results/comment-pairs/{corpus}/{lang}/{shard}.jsonl"
SIMILARITY_FIGURE = "results/datasets/humaneval_similarity.png"

CHECKPOINT = "results/checkpoints/{checkpoint}"
TRAIN_WORK = "results/checkpoints/.work/{checkpoint}"  # trainer checkpoints: survive a killed job
LOSS_CURVE = "results/reports/loss_curves/{checkpoint}.png"  # a copy, for snakemake --report

EVAL_TASKS = "results/eval/data/{benchmark}.jsonl"  # the tasks in force, shared by every model
EVAL_DATA_INFO = "results/eval/data/{benchmark}.json"
EVAL_EXPECTED = "results/eval/data/{benchmark}.expected.pkl"
EVAL_SAMPLES = "results/eval/{model}/{benchmark}/samples.jsonl"
EVAL_TASK_RESULTS = "results/eval/{model}/{benchmark}/tasks.jsonl"
EVAL_RESULT = "results/eval/{model}/{benchmark}.json"
# What one generation job per model made (rule eval_generate_model): its benchmarks'
# identities and counts; the responses themselves are in the cache.
EVAL_GENERATION = "results/eval/{model}/generation.json"
# Files for another harness to rescore (MultiPL-E: bigcode-evaluation-harness generations).
EVAL_EXPORTS = "results/eval/{model}/{benchmark}/exports"
# The harness self-check's samples: the benchmark's reference solutions (evaluation.self_check).
EVAL_REFERENCE_SAMPLES = EVAL_SAMPLES.replace("{model}", REFERENCE_MODEL)
SUMMARY_MD = "results/summary.md"
SUMMARY_CSV = "results/summary.csv"
SUMMARY_FIGURE = "results/summary.png"

# Per-job resources when config gives none. Minutes, MB. Time limits are the estimates
# of `python -m ossinstruct plan` (ossinstruct/plan.py, docs/paper-scale.md)
# times a safety margin: 2x or more for GPU jobs, at least 5x (and 30 minutes)
# for the small CPU jobs, whose estimates are rough. Memory: what the job holds, doubled.
DEFAULT_RESOURCES = {
    "seeds": {"runtime": 60, "mem_mb": 4000, "cpus_per_task": 1, "gpu": 0},
    # A localrule (it reads the hub): these matter only to the local scheduler.
    "seed_pool": {"runtime": 120, "mem_mb": 2000, "cpus_per_task": 1},
    "prefetch": {"runtime": 240, "mem_mb": 2000, "cpus_per_task": 1},  # a localrule too
    # ~6 min for 1,000 requests under the account's rate limits; retries back off, and a
    # killed job loses nothing (responses are cached)
    "openai": {"runtime": 60, "mem_mb": 4000, "cpus_per_task": 2, "gpu": 0},
    "transformers": {"runtime": 240, "mem_mb": 16000, "cpus_per_task": 4, "gpu": 0},
    # ~9 min for Mixtral-8x7B (load 93 GB, 1,000 x 600 tokens); 64 GB of host memory for
    # the engine's workers (the weights are memory-mapped, not copied)
    "vllm": {"runtime": 60, "mem_mb": 64000, "cpus_per_task": 8, "gpu": 1},
    # 6-7 h for a 7B model on 75K-110K samples (2 x A100-80GB, the paper's); a job that
    # reaches its limit resumes from its last trainer checkpoint. Host memory: each of the
    # 2 processes loads the bf16 weights (13.5 GB) before moving them to its GPU.
    "train": {"runtime": 960, "mem_mb": 64000, "cpus_per_task": 16, "gpu": 2, "nodes": 1},
    "eval_vllm": {"runtime": 60, "mem_mb": 32000, "cpus_per_task": 4, "gpu": 1},
    "eval_transformers": {"runtime": 240, "mem_mb": 16000, "cpus_per_task": 4, "gpu": 0},
    "eval_score": {"runtime": 60, "mem_mb": 16000, "cpus_per_task": 8, "gpu": 0},
    # A benchmark's samples file from the cached responses (rule eval_generate): MultiPL-E's
    # 47,750 responses at n=50 are read and post-processed in a few minutes.
    "eval_generate": {"runtime": 30, "mem_mb": 4000, "cpus_per_task": 1},
    # The CPU rules of rules/curate.smk and rules/evaluate.smk without a resources key in
    # the config: these are their only values.
    "eval_data": {"runtime": 60, "mem_mb": 8000, "cpus_per_task": 1},
    "eval_reference": {"runtime": 10, "mem_mb": 2000, "cpus_per_task": 1},
    "eval_summary": {"runtime": 10, "mem_mb": 2000, "cpus_per_task": 1},
    "benchmark_strings": {"runtime": 30, "mem_mb": 8000, "cpus_per_task": 1},
    "clean_generations": {"runtime": 30, "mem_mb": 16000, "cpus_per_task": 1},
    "ingest_evol": {"runtime": 30, "mem_mb": 16000, "cpus_per_task": 1},
    "decontamination_match": {"runtime": 30, "mem_mb": 8000, "cpus_per_task": 1},
    "decontamination_merge": {"runtime": 30, "mem_mb": 16000, "cpus_per_task": 1},
    "subset": {"runtime": 30, "mem_mb": 8000, "cpus_per_task": 1},
    "training_set": {"runtime": 30, "mem_mb": 8000, "cpus_per_task": 1},
    "dataset_card": {"runtime": 30, "mem_mb": 8000, "cpus_per_task": 1},
    "humaneval_similarity": {"runtime": 60, "mem_mb": 16000, "cpus_per_task": 1},
    "push_dataset": {"runtime": 30, "mem_mb": 4000, "cpus_per_task": 1},
    "mine_comment_pairs": {"runtime": 30, "mem_mb": 8000, "cpus_per_task": 1},
    "comment_pairs": {"runtime": 30, "mem_mb": 32000, "cpus_per_task": 1},
    "verify_samples": {"runtime": 120, "mem_mb": 8000, "cpus_per_task": 2},  # cpus: samples run at once
}


def shard_name(index: int) -> str:
    return f"{index:05d}"


def shard_index(name: str) -> int:
    return int(name)


def seed_shards(config: dict, corpus: str, lang: str) -> list[str]:
    return [shard_name(k) for k, _ in enumerate(seedlib.shard_counts(config, corpus, lang))]


def seed_pool_path(config: dict, corpus: str, lang: str) -> str | None:
    """The pool file a seed shard of (corpus, lang) reads, or None (local corpora and
    selection stream read their documents themselves)."""
    from ossinstruct.seeds.pool import has_pool

    return SEED_POOL.format(corpus=corpus, lang=lang) if has_pool(config, corpus) else None


def generation_shards(config: dict, entry: dict, lang: str) -> list[str]:
    """The seed shards a generation entry turns into generations: all, or the first
    max_shards[lang] of them."""
    shards = seed_shards(config, entry["corpus"], lang)
    limit = entry.get("max_shards", {}).get(lang)
    return shards if limit is None else shards[:limit]


def generation_targets(config: dict) -> list[str]:
    targets = []
    for entry in config["generations"]:
        for lang in generation_languages(config, entry):
            for shard in generation_shards(config, entry, lang):
                names = {"teacher": entry["teacher"], "corpus": entry["corpus"], "lang": lang, "shard": shard}
                targets += [GENERATIONS.format(**names), GENERATION_STATS.format(**names)]
    return targets


def shard_paths(config: dict, teacher: str, corpus: str) -> list[str]:
    """Every generation shard of (teacher, corpus), in a fixed order: language, shard."""
    entry = generation_entry(config, teacher, corpus)
    return [
        GENERATIONS.format(teacher=teacher, corpus=corpus, lang=lang, shard=shard)
        for lang in config["corpora"][corpus]["languages"]
        for shard in generation_shards(config, entry, lang)
    ]


def dataset_kind(config: dict, dataset: str) -> str:
    spec = dataset_specs(config)[dataset]
    return next(k for k in DATASET_KINDS if k in spec)


def datasets_of_kind(config: dict, kind: str) -> list[str]:
    return [name for name in dataset_specs(config) if dataset_kind(config, name) == kind]


def name_pattern(names: list[str]) -> str:
    """A wildcard constraint matching exactly these names (never matching when empty)."""
    import re

    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def dataset_generation_shards(config: dict, dataset: str) -> list[str]:
    spec = dataset_specs(config)[dataset]
    return [p for pair in spec.get("generations", []) for p in shard_paths(config, pair["teacher"], pair["corpus"])]


def verifies(config: dict, dataset: str) -> bool:
    """Whether a dataset has the verify step (verify annotate or require)."""
    return dataset_specs(config)[dataset].get("verify", "off") not in ("off", False)


def datasets_verified(config: dict) -> list[str]:
    return [name for name in dataset_specs(config) if verifies(config, name)]


def final_samples(config: dict, dataset: str) -> str:
    """What training, the card, subsets and a push read: verified.jsonl when the dataset
    verifies, else decontaminated.jsonl (verify off: the DAG of the paper's datasets)."""
    return (VERIFIED if verifies(config, dataset) else DECONTAMINATED).format(dataset=dataset)


def verify_resources(config: dict) -> dict:
    return job_resources("verify_samples", config["verification"].get("resources"))


def mined_pair_paths(config: dict, dataset: str) -> list[str]:
    """The mined pairs of every seed shard of a comment_pairs dataset's corpora, in a fixed
    order: corpus, language, shard (the seeds' order)."""
    spec = dataset_specs(config)[dataset]["comment_pairs"]
    return [
        MINED_PAIRS.format(corpus=corpus, lang=lang, shard=shard)
        for corpus in spec["corpora"]
        for lang in config["corpora"][corpus]["languages"]
        for shard in seed_shards(config, corpus, lang)
    ]


def comment_pairs_reference(config: dict, dataset: str) -> list[str]:
    """The samples whose count a comment_pairs dataset matches (size.same_as): the other
    dataset's final samples (decontaminated.jsonl, or verified.jsonl when it verifies)."""
    size = dataset_specs(config)[dataset]["comment_pairs"]["size"]
    return [final_samples(config, size["same_as"])] if isinstance(size, dict) else []


def dataset_targets(config: dict) -> list[str]:
    targets = []
    for name, spec in dataset_specs(config).items():
        files = [DECONTAMINATED, REPORT, TRAIN, CARD, TOKEN_FIGURE, LANGUAGE_FIGURE]
        if verifies(config, name):
            files += [VERIFIED, VERIFY_REPORT, VERIFY_FIGURE]
        if spec.get("push_to_hub"):
            files.append(PUSHED)
        targets += [f.format(dataset=name) for f in files]
    if config["datasets"]:
        targets.append(SIMILARITY_FIGURE)
    return targets


def checkpoint_name(model: str, stage: int, n_stages: int) -> str:
    """A model's last stage is `results/checkpoints/{model}`; earlier ones `{model}@{k}`."""
    return model if stage == n_stages else f"{model}@{stage}"


def parse_checkpoint(config: dict, checkpoint: str) -> tuple[dict, int]:
    """(model spec, 1-based stage) of a checkpoint name."""
    name, _, stage = checkpoint.partition("@")
    model = model_specs(config)[name]
    return model, int(stage) if stage else len(model["stages"])


def checkpoint_base(config: dict, checkpoint: str) -> dict:
    """What a checkpoint starts from: {"path": an earlier checkpoint} or {"model", "revision"}."""
    model, stage = parse_checkpoint(config, checkpoint)
    if stage > 1:
        return {"path": CHECKPOINT.format(checkpoint=checkpoint_name(model["name"], stage - 1, len(model["stages"])))}
    if "from" in model:
        return {"path": CHECKPOINT.format(checkpoint=model["from"])}
    return {"model": model["base"], "revision": model["revision"]}


def train_recipe(config: dict, checkpoint: str) -> dict:
    """Everything that determines a checkpoint, except its input files' content."""
    model, stage = parse_checkpoint(config, checkpoint)
    spec = model["stages"][stage - 1]
    return {
        "model": model["name"],
        "stage": stage,
        "dataset": spec["dataset"],
        "max_length": spec["max_length"],
        "base": checkpoint_base(config, checkpoint),
        "training": resolve_training(config, model, spec),
    }


# TrainConfig fields the rule passes as flags (paths), and those that are bookkeeping
# (checkpoint cadence, logging): none changes the weights, so none is in the rule's params.
TRAIN_PATH_FIELDS = ("train_file", "output_dir", "work_dir", "logging_dir")
TRAIN_RUN_FIELDS = ("keep_work_dir", "report_to", "save_steps", "save_total_limit", "logging_steps")


def train_config(config: dict, checkpoint: str) -> dict:
    """Every TrainConfig field in force for a checkpoint but the paths (the launcher's
    --config-json): the config's training settings over the code's defaults."""
    import dataclasses

    from ossinstruct.train.config import TrainConfig

    recipe = train_recipe(config, checkpoint)
    fields = {k: v for k, v in recipe["training"].items() if k != "strategy"}
    base = recipe["base"]
    fields.update(
        base_model=base.get("path") or base["model"],
        base_revision=base.get("revision"),
        max_length=recipe["max_length"],
        dataset_name=recipe["dataset"],
    )
    resolved = dataclasses.asdict(TrainConfig.from_dict({**fields, "train_file": "", "output_dir": ""}))
    return {k: v for k, v in resolved.items() if k not in TRAIN_PATH_FIELDS}


def train_identity(config: dict, checkpoint: str) -> dict:
    """The train rule's `config` param: train_config without the bookkeeping fields, so a
    changed default in ossinstruct/train/config.py retrains and a checkpoint cadence does not."""
    return {k: v for k, v in train_config(config, checkpoint).items() if k not in TRAIN_RUN_FIELDS}


def train_launch_command(
    python: str,
    *,
    gpus: int,
    strategy: str,
    config_json: str,
    train_file: str,
    output_dir: str,
    work_dir: str,
    logging_dir: str,
) -> list[str]:
    """The train rule's command (scripts/train.py): the launcher, which starts one training
    process or `accelerate launch` on the job's GPUs (ossinstruct.train.launch)."""
    return [
        python,
        "-m",
        "ossinstruct.launch",
        "--gpus",
        str(gpus),
        "--strategy",
        strategy,
        "--",
        "--config-json",
        config_json,
        "--train-file",
        train_file,
        "--output-dir",
        output_dir,
        "--work-dir",
        work_dir,
        "--logging-dir",
        logging_dir,
    ]


def accelerate_config_identity(config: dict, checkpoint: str) -> dict | None:
    """The accelerate config file of a checkpoint's training strategy (fsdp, deepspeed) by
    its sha256; None for ddp, which needs none."""
    from ossinstruct.train.launch import accelerate_config

    path = accelerate_config(train_recipe(config, checkpoint)["training"]["strategy"])
    return {"name": path.name, "sha256": file_sha256(path)} if path else None


def train_resources(config: dict, checkpoint: str) -> dict:
    """What the train rule declares for a checkpoint's job. `models[].resources.gpu` counts
    each node's GPUs; the declared `gpu` is the job's total (what SLURM's --gpus and
    Snakemake's --resources gpu count; the launcher splits it over the nodes). Several
    nodes add what Snakemake's SLURM plugin needs for one task per node: `mpi` (the job's
    command, not the plugin, starts the tasks: the launcher's srun), `tasks` (one per
    node), `tasks_per_gpu` 0 (no --ntasks-per-gpu) and `gres` (each node's GPUs). On one
    node these are None: Snakemake leaves them out, and the job is an ordinary one."""
    model, _ = parse_checkpoint(config, checkpoint)
    resources = job_resources("train", model.get("resources"))
    nodes, per_node = resources["nodes"], resources["gpu"]
    declared = {**resources, "gpu": per_node * nodes, "mpi": None, "tasks": None, "tasks_per_gpu": None, "gres": None}
    if nodes > 1:
        declared.update(mpi="srun", tasks=nodes, tasks_per_gpu=0, gres=f"gpu:{per_node}" if per_node else None)
    return declared


def checkpoint_names(config: dict) -> list[str]:
    """Every checkpoint the models declare: each stage of each model."""
    return [
        checkpoint_name(m["name"], k, len(m["stages"]))
        for m in config["models"]
        for k in range(1, len(m["stages"]) + 1)
    ]


def model_targets(config: dict) -> list[str]:
    return [path.format(checkpoint=m["name"]) for m in config["models"] for path in (CHECKPOINT, LOSS_CURVE)]


def eval_targets(config: dict) -> list[str]:
    """A result file per evaluated model and benchmark, and the summary (when any)."""
    from ossinstruct.benchmarks import REGISTRY

    benchmarks = config["evaluation"]["benchmarks"]
    targets = [
        EVAL_RESULT.format(model=m, benchmark=b)
        for m in evaluated_models(config)
        for b in benchmarks
        if evaluates(config, m, b)
    ]
    if targets and config["evaluation"]["self_check"]:
        # Only benchmarks with reference solutions (MultiPL-E's rows have none).
        checked = [b for b in benchmarks if REGISTRY[b].has_reference_solutions]
        targets += [EVAL_RESULT.format(model=REFERENCE_MODEL, benchmark=b) for b in checked]
    if targets:
        targets += [SUMMARY_MD, SUMMARY_CSV, SUMMARY_FIGURE]
    return targets


def evaluates(config: dict, model: str, benchmark: str) -> bool:
    """Whether `model` is evaluated on `benchmark`: every model, except that a benchmark
    whose prompt needs fill-in-the-middle (DS-1000 insertion) takes only the models marked
    `infilling: true`."""
    from ossinstruct.benchmarks import REGISTRY

    return not REGISTRY[benchmark].needs_infilling or evaluated_models(config)[model]["infilling"]


def all_targets(config: dict) -> list[str]:
    return generation_targets(config) + dataset_targets(config) + model_targets(config) + eval_targets(config)


# --------------------------------------------------------------------------- start-up checks
# onstart looks at the jobs the command will run (Snakemake's planned jobs, as (rule,
# wildcards) pairs), not at every target of the study: a seeds-only run needs no API key
# and no compiler, and a result that is out of date needs what a missing one needs.


def teachers_of_jobs(jobs: Iterable[tuple[str, dict]]) -> set[str]:
    """The teachers the planned generation jobs call."""
    return {wildcards["teacher"] for rule, wildcards in jobs if rule == "generate"}


def multiple_scoring_jobs(jobs: Iterable[tuple[str, dict]]) -> list[dict]:
    """The wildcards of the planned MultiPL-E scoring jobs (they need the toolchains)."""
    return [wildcards for rule, wildcards in jobs if rule == "eval_score_multiple"]


def slurm_controller_problem(timeout_s: float = 30.0) -> str | None:
    """Why no SLURM controller answers from this machine (None when `scontrol ping` says it
    is UP): the slurm executor would otherwise fail every job with sinfo/sacct errors."""
    import shutil
    import subprocess

    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return "scontrol is not on PATH: no SLURM client is installed here"
    try:
        done = subprocess.run([scontrol, "ping"], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`scontrol ping` failed: {exc}"
    said = " ".join((done.stdout + " " + done.stderr).split())
    if done.returncode != 0 or " is UP" not in done.stdout:
        return f"`scontrol ping` says: {said or f'exit status {done.returncode}'}"
    return None


def eval_model_source(config: dict, model: str) -> dict:
    """What an evaluated model is loaded from: {"path": its checkpoint} for a model trained
    here, {"model", "revision"} for one of evaluation.models."""
    spec = evaluated_models(config)[model]
    if spec["trained"]:
        return {"path": CHECKPOINT.format(checkpoint=model)}
    return {"model": spec["model"], "revision": spec["revision"]}


def eval_generation_identity(config: dict, model: str, benchmark: str) -> dict:
    """Everything that determines a model's samples besides the files it reads: a change
    regenerates them (and rescores). Batch size and memory settings are not in it."""
    if model == REFERENCE_MODEL:
        return {"model": model, "source": "the benchmark's reference solutions", "benchmark": benchmark}
    ev = config["evaluation"]
    spec = evaluated_models(config)[model]
    identity = {
        "model": model,
        "source": eval_model_source(config, model),
        "benchmark": benchmark,
        "prompt": eval_prompt_style(config, benchmark, spec["prompt"]),
        "engine": ev["engine"],
        "dtype": ev["dtype"],
        **eval_decoding_identity(config, benchmark),
    }
    if eval_tabs_to_spaces(benchmark, identity["prompt"], spec.get("model"), spec.get("tabs_to_spaces")):
        identity["tabs_to_spaces"] = True  # only where it applies: no other model's samples rerun
    return identity


def eval_tabs_to_spaces(benchmark: str, style: str, model_id: str | None, override: bool | None = None) -> bool:
    """The benchmark's post-processing replaces tabs (Benchmark.tabs_to_spaces: evalplus
    1895d2f's, for HumanEval(+)/MBPP(+), completion-paper, a model it ran through vLLM
    (CodeLlama-Python) unless evaluation.models[].tabs_to_spaces says)."""
    from ossinstruct.benchmarks import evaluated

    return evaluated(benchmark).tabs_to_spaces(style, model_id, override)


def eval_model_benchmarks(config: dict, model: str) -> list[str]:
    """The benchmarks a model is evaluated on, in config order."""
    return [b for b in config["evaluation"]["benchmarks"] if evaluates(config, model, b)]


def eval_model_generation_identity(config: dict, model: str) -> dict:
    """{benchmark: its generation identity} of every benchmark of a model: the params of its
    generation job (rule eval_generate_model), which reruns when any of them changes and
    then generates only what that change asks for."""
    return {b: eval_generation_identity(config, model, b) for b in eval_model_benchmarks(config, model)}


def eval_prompt_style(config: dict, benchmark: str, model_prompt: str) -> str:
    """The benchmark's prompt style for a model whose `prompt` is `model_prompt`."""
    from ossinstruct.benchmarks import evaluated

    plugin = evaluated(benchmark)
    return plugin.style_for(model_prompt, benchmark_settings(config, benchmark))


def eval_decoding_identity(config: dict, benchmark: str) -> dict:
    """The decoding of a benchmark's samples: evaluation.decoding (greedy, 512 new tokens:
    HumanEval+, MBPP+), or the benchmark's own sampling protocol (MultiPL-E, DS-1000...),
    as `sampling`."""
    from ossinstruct.benchmarks import evaluated

    plugin = evaluated(benchmark)
    decoding = config["evaluation"]["decoding"]
    identity = {"temperature": decoding["temperature"], "max_new_tokens": decoding["max_new_tokens"]}
    if plugin.sampling:
        sampling = dict(plugin.sampling)
        identity = {"temperature": sampling["temperature"], "max_new_tokens": sampling.get("max_new_tokens")}
        identity["sampling"] = sampling
    return identity


def task_settings_identity(config: dict, benchmark: str) -> dict:
    """Rule eval_data's params of a benchmark's settings: its task_settings keys."""
    from ossinstruct.benchmarks import evaluated

    keys = evaluated(benchmark).task_settings
    return settings_identity({k: v for k, v in benchmark_settings(config, benchmark).items() if k in keys})


def scoring_settings_identity(config: dict, benchmark: str) -> dict:
    """The per-sample scoring rules' params of a benchmark's settings: its scoring_settings keys."""
    from ossinstruct.benchmarks import evaluated

    keys = evaluated(benchmark).scoring_settings
    return settings_identity({k: v for k, v in benchmark_settings(config, benchmark).items() if k in keys})


def settings_identity(settings: dict) -> dict:
    """A settings block for rule params: a value naming an existing file (APPS's problem
    ids) becomes that file's sha256, so editing the file reruns and moving it does not."""
    out = {}
    for key, value in settings.items():
        if isinstance(value, str) and value and Path(value).is_file():
            out[key] = {"sha256": file_sha256(value)}
        else:
            out[key] = value
    return out


def eval_limit(config: dict, benchmark: str) -> int | None:
    """evaluation.data.<benchmark>.limit, else evaluation.limit (None: every task)."""
    spec = config["evaluation"]["data"].get(benchmark) or {}
    return spec.get("limit") or config["evaluation"]["limit"]


def scoring_rule_benchmarks(rule: str) -> list[str]:
    """The evaluated benchmarks a scoring rule takes (each plug-in's scoring_rule):
    eval_score (evalplus's settings), eval_score_multiple (MultiPL-E's container and
    exports), eval_score_sampled (the others)."""
    from ossinstruct.benchmarks import EVALUATED, REGISTRY

    return [name for name in EVALUATED if REGISTRY[name].scoring_rule == rule]


def eval_scoring_identity(config: dict) -> dict:
    """Every scoring setting that can change a result: a change rescores, never regenerates."""
    scoring = config["evaluation"]["scoring"]
    return {k: scoring[k] for k in ("solution", "min_time_limit", "gt_time_limit_factor", "memory_mb")}


def eval_generate_resources(config: dict, model: str | None = None) -> dict:
    ev = config["evaluation"]
    resources = job_resources(f"eval_{ev['engine']}", ev["resources"].get("generate"))
    if ev["engine"] == "vllm":
        resources["gpu"] = max(resources["gpu"], 1, eval_tensor_parallel_size(config, model))
    return resources


def eval_generate_model_resources(config: dict, model: str) -> dict:
    """Resources of a model's generation job (rule eval_generate_model): those of
    eval_generate_resources, whose default runtime is one benchmark's, times the model's
    benchmarks unless evaluation.resources.generate sets a runtime."""
    resources = eval_generate_resources(config, model)
    if "runtime" not in (config["evaluation"]["resources"].get("generate") or {}):
        resources["runtime"] *= max(1, len(eval_model_benchmarks(config, model)))
    return resources


def eval_tensor_parallel_size(config: dict, model: str | None) -> int:
    """GPUs the vllm engine splits an evaluated model over (evaluation.models[].tensor_parallel_size)."""
    spec = next((m for m in config["evaluation"]["models"] if m["name"] == model), None)
    return int(spec.get("tensor_parallel_size", 1)) if spec else 1


def eval_score_resources(config: dict, benchmark: str | None = None) -> dict:
    """A scoring job's resources: evaluation.resources.score over, for a benchmark that
    gives its measured per-program cost (MultiPL-E, DS-1000, APPS), the sizing from it
    (ossinstruct/evaluate/scoring_cost.py), else over the eval_score defaults."""
    from ossinstruct.benchmarks import evaluated
    from ossinstruct.evaluate.scoring_cost import scoring_resources

    configured = config["evaluation"]["resources"].get("score")
    sized = None
    if benchmark:
        settings = benchmark_settings(config, benchmark)
        sized = scoring_resources(evaluated(benchmark), settings, eval_limit(config, benchmark), configured)
    return job_resources("eval_score", sized or configured)


# --------------------------------------------------------------------------- data files
# A data file's identity is its content: rule params carry its sha256, never its path, so
# the same file reached through another path (another checkout, a moved data directory,
# a cluster user's scratch) reruns nothing. Scripts read the path from config.


def offline_file_names() -> dict[str, str]:
    """benchmark -> the file looked for in benchmark_files (each benchmark's offline_file)."""
    from ossinstruct.benchmarks import REGISTRY

    return {name: b.offline_file for name, b in REGISTRY.items() if b.offline_file}


def offline_benchmark_file(config: dict, benchmark: str) -> str | None:
    """benchmark_files/<EvalPlus release file> when config names that directory and the file
    is there (offline machines); None otherwise."""
    directory = config.get("benchmark_files")
    name = offline_file_names().get(benchmark)
    if directory and name and (Path(directory) / name).is_file():
        return str(Path(directory) / name)
    return None


def offline_benchmark_dir(config: dict, benchmark: str) -> str | None:
    """benchmark_files/<directory> of a benchmark whose offline copy is several files
    (MultiPL-E's six languages) when it is there; None otherwise."""
    from ossinstruct.benchmarks import REGISTRY

    directory = config.get("benchmark_files")
    name = REGISTRY[benchmark].offline_dir
    if directory and name and (Path(directory) / name).is_dir():
        return str(Path(directory) / name)
    return None


def benchmark_source(config: dict, benchmark: str) -> dict:
    """The source of a benchmark's decontamination strings: decontamination.sources, else
    the file in benchmark_files, else the default (the evalplus override variables win)."""
    from ossinstruct.benchmarks import resolve_source

    configured = config["decontamination"]["sources"].get(benchmark)
    if configured is None and offline_benchmark_file(config, benchmark):
        configured = {"source": "file", "path": offline_benchmark_file(config, benchmark)}
    return resolve_source(benchmark, configured)


def eval_data_path(config: dict, benchmark: str) -> str | None:
    """The local HumanEval+/MBPP+ file of evaluation: evaluation.data.<b>.path, else the file
    in benchmark_files; None is evalplus's own download."""
    spec = config["evaluation"]["data"].get(benchmark) or {}
    return (
        spec.get("path")
        or offline_benchmark_file(config, benchmark)
        or offline_evaluation_file(config, benchmark)
        or offline_benchmark_dir(config, benchmark)
    )


def offline_evaluation_file(config: dict, benchmark: str) -> str | None:
    """benchmark_files/<file> that only evaluation reads (DS-1000's release file: its
    decontamination keeps the hub source), when config names that directory and it is there."""
    from ossinstruct.benchmarks import REGISTRY

    directory = config.get("benchmark_files")
    name = REGISTRY[benchmark].eval_offline_file
    if directory and name and (Path(directory) / name).is_file():
        return str(Path(directory) / name)
    return None


_SHA256: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, computed once per (real path, size, mtime) in this process."""
    from ossinstruct.llm.models import sha256_file

    real = Path(path).resolve()
    stat = real.stat()
    key = (str(real), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256:
        _SHA256[key] = sha256_file(real)
    return _SHA256[key]


def content_identity(spec: dict | None) -> dict | None:
    """A source spec for rule params: its `path` replaced by the file's sha256 (a path that is
    not a readable file stays, so that the job fails naming it)."""
    if not spec or not spec.get("path"):
        return spec
    path = Path(spec["path"])
    identity = {k: v for k, v in spec.items() if k != "path"}
    if path.is_file():
        identity["sha256"] = file_sha256(path)
    elif path.is_dir():  # a directory of data files (MultiPL-E): each file by its content
        identity["sha256"] = {f.name: file_sha256(f) for f in sorted(path.iterdir()) if f.is_file()}
    else:
        return spec
    return identity


def generation_entry(config: dict, teacher: str, corpus: str) -> dict:
    for entry in config["generations"]:
        if entry["teacher"] == teacher and entry["corpus"] == corpus:
            return entry
    # A pair only a dataset names, or a shard asked for on the command line: the defaults.
    defaults = schema()["properties"]["generations"]["items"]["properties"]
    return {
        "teacher": teacher,
        "corpus": corpus,
        "max_request_failure_rate": defaults["max_request_failure_rate"]["default"],
    }


def job_resources(kind: str, configured: dict | None) -> dict:
    """Resources of one job: config values over the defaults of its kind."""
    return {**DEFAULT_RESOURCES[kind], **(configured or {})}


def seed_resources(config: dict, corpus: str) -> dict:
    return job_resources("seeds", config["corpora"][corpus].get("resources"))


def teacher_resources(config: dict, teacher: str) -> dict:
    spec = config["teachers"][teacher]
    resources = job_resources(spec["backend"], spec.get("resources"))
    if spec["backend"] == "vllm":
        resources["gpu"] = max(resources["gpu"], spec["tensor_parallel_size"])
    return resources
