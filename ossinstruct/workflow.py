"""What the workflow builds: output paths and target lists, as plain functions.

rules/*.smk only name files and resources; the decisions (which shards exist, which
teacher settings are identity, what resources a job asks for) live here, unit-tested.
"""

from __future__ import annotations

from pathlib import Path

from . import seeds as seedlib
from .config import dataset_specs, generation_languages, model_specs, resolve_training, schema

SEEDS = "results/seeds/{corpus}/{lang}/{shard}.jsonl"
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
BENCHMARK_STRINGS = "results/decontamination/{benchmark}.strings.jsonl"
SIMILARITY_FIGURE = "results/datasets/humaneval_similarity.png"

CHECKPOINT = "results/checkpoints/{checkpoint}"
TRAIN_WORK = "results/checkpoints/.work/{checkpoint}"  # trainer checkpoints: survive a killed job
LOSS_CURVE = "results/reports/loss_curves/{checkpoint}.png"  # a copy, for snakemake --report

# Per-job resources when config gives none. Minutes, MB.
DEFAULT_RESOURCES = {
    "seeds": {"runtime": 60, "mem_mb": 4000, "cpus_per_task": 1, "gpu": 0},
    "openai": {"runtime": 720, "mem_mb": 4000, "cpus_per_task": 2, "gpu": 0},
    "transformers": {"runtime": 240, "mem_mb": 16000, "cpus_per_task": 4, "gpu": 0},
    "vllm": {"runtime": 240, "mem_mb": 64000, "cpus_per_task": 8, "gpu": 1},
    "train": {"runtime": 1440, "mem_mb": 128000, "cpus_per_task": 16, "gpu": 2},  # paper: 2 x A100-80GB
}


def shard_name(index: int) -> str:
    return f"{index:05d}"


def shard_index(name: str) -> int:
    return int(name)


def seed_shards(config: dict, corpus: str, lang: str) -> list[str]:
    return [shard_name(k) for k, _ in enumerate(seedlib.shard_counts(config, corpus, lang))]


def generation_targets(config: dict) -> list[str]:
    targets = []
    for entry in config["generations"]:
        for lang in generation_languages(config, entry):
            for shard in seed_shards(config, entry["corpus"], lang):
                names = {"teacher": entry["teacher"], "corpus": entry["corpus"], "lang": lang, "shard": shard}
                targets += [GENERATIONS.format(**names), GENERATION_STATS.format(**names)]
    return targets


def shard_paths(config: dict, teacher: str, corpus: str) -> list[str]:
    """Every generation shard of (teacher, corpus), in a fixed order: language, shard."""
    return [
        GENERATIONS.format(teacher=teacher, corpus=corpus, lang=lang, shard=shard)
        for lang in config["corpora"][corpus]["languages"]
        for shard in seed_shards(config, corpus, lang)
    ]


def dataset_kind(config: dict, dataset: str) -> str:
    spec = dataset_specs(config)[dataset]
    return next(k for k in ("generations", "evol", "subset_of") if k in spec)


def datasets_of_kind(config: dict, kind: str) -> list[str]:
    return [name for name in dataset_specs(config) if dataset_kind(config, name) == kind]


def name_pattern(names: list[str]) -> str:
    """A wildcard constraint matching exactly these names (never matching when empty)."""
    import re

    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def dataset_generation_shards(config: dict, dataset: str) -> list[str]:
    spec = dataset_specs(config)[dataset]
    return [p for pair in spec.get("generations", []) for p in shard_paths(config, pair["teacher"], pair["corpus"])]


def dataset_targets(config: dict) -> list[str]:
    targets = []
    for name, spec in dataset_specs(config).items():
        files = [DECONTAMINATED, REPORT, TRAIN, CARD, TOKEN_FIGURE, LANGUAGE_FIGURE]
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


def train_resources(config: dict, checkpoint: str) -> dict:
    model, _ = parse_checkpoint(config, checkpoint)
    return job_resources("train", model.get("resources"))


def checkpoint_names(config: dict) -> list[str]:
    """Every checkpoint the models declare: each stage of each model."""
    return [checkpoint_name(m["name"], k, len(m["stages"]))
            for m in config["models"] for k in range(1, len(m["stages"]) + 1)]


def model_targets(config: dict) -> list[str]:
    return [path.format(checkpoint=m["name"]) for m in config["models"] for path in (CHECKPOINT, LOSS_CURVE)]


def all_targets(config: dict) -> list[str]:
    return generation_targets(config) + dataset_targets(config) + model_targets(config)


def generation_entry(config: dict, teacher: str, corpus: str) -> dict:
    for entry in config["generations"]:
        if entry["teacher"] == teacher and entry["corpus"] == corpus:
            return entry
    # A pair only a dataset names, or a shard asked for on the command line: the defaults.
    defaults = schema()["properties"]["generations"]["items"]["properties"]
    return {"teacher": teacher, "corpus": corpus,
            "max_request_failure_rate": defaults["max_request_failure_rate"]["default"]}


def teachers_needing_run(config: dict, root: str | Path = ".") -> set[str]:
    """Teachers with at least one targeted generation shard not yet on disk."""
    root = Path(root)
    needed = set()
    for entry in config["generations"]:
        if entry["teacher"] in needed:
            continue
        for lang in generation_languages(config, entry):
            for shard in seed_shards(config, entry["corpus"], lang):
                path = GENERATIONS.format(teacher=entry["teacher"], corpus=entry["corpus"], lang=lang, shard=shard)
                if not (root / path).exists():
                    needed.add(entry["teacher"])
                    break
    return needed


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
