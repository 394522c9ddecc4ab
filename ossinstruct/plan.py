"""The study's plan before anything runs:  python -m ossinstruct plan --config config.yaml

Per rule: its jobs (the whole study as configured, as if nothing were built yet;
`snakemake -n` lists what is left), the estimated time of a job with the arithmetic
behind it, and what the job declares (time limit, memory, CPUs, GPUs); then the study's
estimated GPU-hours and CPU-hours, and each training job's peak GPU memory
(ossinstruct/train/memory.py).

The output is a list of sections (`SECTIONS`: functions config -> lines), the teacher
API's cost (ossinstruct/generate/cost.py) among them; another estimate is one more entry.

Every estimate multiplies a count taken from the config (seeds, shards, samples, tasks x
samples per task, tokens) by a per-unit cost. The costs are the constants below, each
with where it comes from: the paper's data (Figure 7, Appendix A.3), the models' sizes,
this project's benchmarks (bench/, measured on 2 shared CPU cores), or a stated
assumption of GPU throughput, which nothing here could measure (no GPU). The declared time
limits are these estimates times a safety margin (docs/paper-scale.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ossinstruct import study_downloads
from ossinstruct import workflow as wf
from ossinstruct.config import REFERENCE_MODEL, dataset_specs, evaluated_models, generation_languages

# --------------------------------------------------------------------------- unit costs

# Data (paper §2.1-2.2, Figure 7): 80K seeds gave ~75K samples after cleaning; an
# OSS-Instruct training sample (template + problem + solution) is ~650 tokens, an
# Evol-Instruct one ~550; a micro-batch of 2 is padded to its longer sample (x1.3 for
# Figure 7's log-normal lengths).
SAMPLES_PER_SEED = 75_000 / 80_000
EVOL_SAMPLES = 110_000
TRAIN_TOKENS = {"generations": 650, "evol": 550, "comment_pairs": 400}
PADDING = 1.3
# Training: 6 x parameters FLOPs per token (8 with activation recomputation), on the
# paper's A100-80GB: 312 TFLOPS bf16 dense at an assumed 40% utilisation.
GPU_TFLOPS, MFU = 312, 0.40
TRAIN_OVERHEAD_MIN = 10  # load the base, a trainer checkpoint every 50 steps, save the model
# Loading a model onto GPUs: safetensors from a shared filesystem at an assumed 1 GB/s,
# plus 2 minutes of engine start (vLLM's CUDA graphs, the process group).
LOAD_GB_PER_MIN, ENGINE_START_MIN = 60, 2
# vLLM generation throughput (output tokens/s, batched), assumed: a 7B model on one A100;
# Mixtral-8x7B over two with tensor parallelism.
VLLM_TOKENS_PER_S = {"7b": 4000, "mixtral": 2000}
# Teacher API (gpt-3.5-turbo-1106): ~10 s per request (about 500 completion tokens at
# ~60 tokens/s, plus the network); the prompt ~700 tokens; each request reserves its
# max_tokens against the tokens-per-minute budget, which the concurrent jobs share.
API_SECONDS_PER_REQUEST, PROMPT_TOKENS = 10, 700
# Seeds: one language's pool (selection magicoder: 150K documents, ~1 GB) streamed from the
# hub once (rule seed_pool), a few minutes at the hub's usual speed; each seed shard then
# reads that local file (~1 minute: decompress, pick its 1,000 documents, cut the seeds).
SEED_POOL_MIN, SEED_SHARD_MIN = 5, 1
# Downloads (rule prefetch): a 7B model in safetensors is 13.5 GB, a dataset up to ~1 GB;
# an assumed 50 MB/s from the hub.
PREFETCH_MIN = 5
# A scored sample of a benchmark without a measured cost: an evalplus sample with its plus
# tests ~1 CPU-s. MultiPL-E, DS-1000 and APPS use the measured per-program costs that size
# their scoring jobs (their plug-ins' scoring_cost; ossinstruct/evaluate/scoring_cost.py).
CPU_SECONDS_PER_SAMPLE = 1.0
# The verify step: 5.3 samples/s on 2 workers, compiling most of the time (bench/verify_throughput.py)
VERIFY_SAMPLES_PER_CPU_S = 2.65


MIXTRAL_PARAMS = 46.7e9  # Mixtral-8x7B: all experts are loaded (93 GB in bf16)
DEFAULT_PARAMS = 7e9  # a model whose shape is unknown here: assumed 7B


def _params(model: str) -> float:
    """Parameters of a hub model or checkpoint directory (ossinstruct.train.memory), Mixtral's
    46.7B by name, else 7B."""
    from ossinstruct.train.memory import architecture_of

    arch, _ = architecture_of(model)
    if arch:
        return arch.params
    return MIXTRAL_PARAMS if "mixtral" in model.lower() else DEFAULT_PARAMS


def _evaluated_params(config: dict, name: str) -> float:
    """Parameters of an evaluated model: a trained one has its base model's."""
    from ossinstruct.train.memory import root_base

    spec = evaluated_models(config)[name]
    return _params(root_base(config, name)[0] if spec["trained"] else spec["model"])


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str:
        return dict(self.wildcards)[name]


def _job(rule: str, **wildcards: str) -> Job:
    return Job(rule, tuple(sorted(wildcards.items())))


def study_jobs(config: dict) -> list[Job]:
    """Every job of the study's DAG (all targets, nothing built), rule by rule."""
    jobs: list[Job] = []
    specs = dataset_specs(config)
    generation_shards: dict[tuple[str, str, str, str], None] = {}
    for entry in config["generations"]:
        for lang in generation_languages(config, entry):
            for shard in wf.generation_shards(config, entry, lang):
                generation_shards[(entry["teacher"], entry["corpus"], lang, shard)] = None
    for name in specs:
        for path in wf.dataset_generation_shards(config, name):
            teacher, corpus, lang, shard = path.split("/")[2:6]
            generation_shards[(teacher, corpus, lang, shard.removesuffix(".jsonl"))] = None
    mined = [
        (corpus, lang, shard)
        for name in wf.datasets_of_kind(config, "comment_pairs")
        for corpus in specs[name]["comment_pairs"]["corpora"]
        for lang in config["corpora"][corpus]["languages"]
        for shard in wf.seed_shards(config, corpus, lang)
    ]
    seeds = dict.fromkeys([(c, la, s) for _, c, la, s in generation_shards] + mined)
    pools = dict.fromkeys((c, la) for c, la, _ in seeds if wf.seed_pool_path(config, c, la))
    jobs += [_job("prefetch", item=name) for name in study_downloads.study_items(config)]
    jobs += [_job("seed_pool", corpus=c, lang=la) for c, la in pools]
    jobs += [_job("seeds", corpus=c, lang=la, shard=s) for c, la, s in seeds]
    jobs += [_job("generate", teacher=t, corpus=c, lang=la, shard=s) for t, c, la, s in generation_shards]
    jobs += [_job("mine_comment_pairs", corpus=c, lang=la, shard=s) for c, la, s in dict.fromkeys(mined)]
    decontaminated = []
    for name in specs:
        kind = wf.dataset_kind(config, name)
        first = {"generations": "clean_generations", "evol": "ingest_evol", "comment_pairs": "comment_pairs"}
        if kind in first:
            decontaminated.append(name)
            jobs.append(_job(first[kind], dataset=name))
            jobs += [_job("decontamination_match", dataset=name, benchmark=b) for b in _decontamination(config)]
            jobs.append(_job("decontamination_merge", dataset=name))
        else:
            jobs.append(_job("subset", dataset=name))
        if wf.verifies(config, name):
            jobs.append(_job("verify_samples", dataset=name))
        jobs += [_job("training_set", dataset=name), _job("dataset_card", dataset=name)]
        if specs[name].get("push_to_hub"):
            jobs.append(_job("push_dataset", dataset=name))
    if decontaminated:
        jobs += [_job("benchmark_strings", benchmark=b) for b in _decontamination(config)]
    if specs:
        jobs.append(_job("humaneval_similarity"))
    jobs += [_job("train", checkpoint=name) for name in wf.checkpoint_names(config)]
    results = [path for path in wf.eval_targets(config) if path.startswith("results/eval/")]
    benchmarks: dict[str, None] = {}
    generating: dict[str, None] = {}  # models with a generation job (rule eval_generate_model)
    for path in results:
        model, file = path.split("/")[2:4]
        benchmark = file.removesuffix(".json")
        benchmarks[benchmark] = None
        if model == REFERENCE_MODEL:
            jobs.append(_job("eval_reference", benchmark=benchmark))
        else:
            if model not in generating:
                generating[model] = None
                jobs.append(_job("eval_generate_model", model=model))
            jobs.append(_job("eval_generate", model=model, benchmark=benchmark))
        jobs.append(_job(_scoring_rule(config, benchmark), model=model, benchmark=benchmark))
    jobs += [_job("eval_data", benchmark=b) for b in benchmarks]
    if results:
        jobs.append(_job("eval_summary"))
    return jobs


def _decontamination(config: dict) -> list[str]:
    return list(config["decontamination"]["benchmarks"])


def _scoring_rule(config: dict, benchmark: str) -> str:
    """The rule that scores `benchmark` (its plug-in's scoring_rule)."""
    from ossinstruct.benchmarks import evaluated

    return evaluated(benchmark).scoring_rule


# --------------------------------------------------------------------------- resources


def declared_resources(config: dict, job: Job) -> dict:
    """What the job's rule declares (rules/*.smk), from the same functions the rules call."""
    rule = job.rule
    if rule == "seeds":
        return wf.seed_resources(config, job.get("corpus"))
    if rule == "generate":
        return wf.teacher_resources(config, job.get("teacher"))
    if rule == "train":
        return wf.train_resources(config, job.get("checkpoint"))
    if rule == "eval_generate_model":
        return wf.eval_generate_model_resources(config, job.get("model"))
    if rule == "eval_generate":
        return wf.job_resources("eval_generate", None)
    if rule in ("eval_score", "eval_score_multiple", "eval_score_sampled"):
        return wf.eval_score_resources(config, job.get("benchmark"))
    if rule == "verify_samples":
        return wf.verify_resources(config)
    return wf.job_resources(rule, None)


# --------------------------------------------------------------------------- time estimates


def _seed_count(config: dict, corpus: str, lang: str, shard: str) -> int:
    from ossinstruct.seeds import sampling as seedlib

    return seedlib.shard_counts(config, corpus, lang)[wf.shard_index(shard)]


def _dataset_samples(config: dict, name: str) -> float:
    """Expected samples of a dataset: seeds x 75/80 for generations, 110K for Evol-Instruct,
    a subset's share of its parent (Table 5: 43K Python, 32K other), a comment-pairs set
    as large as the set it matches."""
    spec = dataset_specs(config)[name]
    kind = wf.dataset_kind(config, name)
    if kind == "generations":
        seeds = 0
        for path in wf.dataset_generation_shards(config, name):
            _, _, _, corpus, lang, shard = path.split("/")[:6]
            seeds += _seed_count(config, corpus, lang, shard.removesuffix(".jsonl"))
        return seeds * SAMPLES_PER_SEED * (68 / 75 if spec.get("drop_noisy") else 1)
    if kind == "evol":
        return EVOL_SAMPLES
    if kind == "subset_of":
        return _dataset_samples(config, spec["subset_of"]) * (43 / 75 if spec["python"] else 32 / 75)
    size = spec["comment_pairs"]["size"]
    return _dataset_samples(config, size["same_as"]) if isinstance(size, dict) else float(size)


def _dataset_tokens(config: dict, name: str) -> int:
    spec = dataset_specs(config)[name]
    while "subset_of" in spec:
        spec = dataset_specs(config)[spec["subset_of"]]
    kind = next(k for k in wf.DATASET_KINDS if k in spec)
    return TRAIN_TOKENS.get(kind, 650)


def _train_minutes(config: dict, job: Job) -> tuple[float, str]:
    from ossinstruct.train.memory import checkpoint_memory

    memory = checkpoint_memory(config, job.get("checkpoint"))
    if memory.gpus_per_node == 0:
        return float("nan"), "a CPU job (the demo): no paper-scale estimate"
    recipe = wf.train_recipe(config, job.get("checkpoint"))
    training = recipe["training"]
    samples = _dataset_samples(config, recipe["dataset"])
    per_sample = min(_dataset_tokens(config, recipe["dataset"]) * PADDING, recipe["max_length"])
    epochs = training["epochs"]
    if training.get("max_steps"):
        samples, epochs = min(samples * epochs, training["max_steps"] * training["effective_batch_size"]), 1
    tokens = samples * epochs * per_sample
    params = memory.architecture.params if memory.architecture else _params(memory.base)
    factor = 8 if memory.gradient_checkpointing else 6
    gpus = memory.gpus_per_node * memory.nodes
    seconds = tokens * factor * params / (gpus * GPU_TFLOPS * 1e12 * MFU)
    return seconds / 60 + TRAIN_OVERHEAD_MIN, (
        f"{samples / 1e3:.0f}K samples x {epochs:g} epochs x {per_sample:.0f} tokens (padded) = "
        f"{tokens / 1e6:.0f}M tokens x {factor} x {params / 1e9:.2f}B FLOPs / ({gpus} GPUs x {GPU_TFLOPS} TFLOPS x "
        f"{MFU:.0%}) + {TRAIN_OVERHEAD_MIN} min (load, trainer checkpoints, save)"
    )


def _generate_minutes(config: dict, job: Job) -> tuple[float, str]:
    teacher = config["teachers"][job.get("teacher")]
    requests = _seed_count(config, job.get("corpus"), job.get("lang"), job.get("shard"))
    if teacher["backend"] == "openai":
        concurrent_jobs = 4  # the profile's llm_api=4: the account's limits are shared
        max_tokens = teacher["decoding"].get("max_tokens") or 2500
        by_latency = teacher["concurrency"] * 60 / API_SECONDS_PER_REQUEST
        by_rpm = teacher["requests_per_minute"] / concurrent_jobs
        by_tpm = teacher["tokens_per_minute"] / concurrent_jobs / (PROMPT_TOKENS + max_tokens)
        rate = min(by_latency, by_rpm, by_tpm)
        return requests / rate, (
            f"{requests} requests / {rate:.0f} a minute: min of concurrency {teacher['concurrency']} / "
            f"{API_SECONDS_PER_REQUEST} s ({by_latency:.0f}), RPM / 4 jobs ({by_rpm:.0f}), "
            f"TPM / 4 jobs / {PROMPT_TOKENS + max_tokens} reserved tokens ({by_tpm:.0f})"
        )
    if teacher["backend"] == "vllm":
        params = _params(teacher["model"])
        kind = "mixtral" if params > 10e9 else "7b"
        load = params * 2 / 1e9 / LOAD_GB_PER_MIN + ENGINE_START_MIN
        tokens = requests * 600
        gen = tokens / VLLM_TOKENS_PER_S[kind] / 60
        return load + gen, (
            f"load {params * 2 / 1e9:.0f} GB at 1 GB/s + {ENGINE_START_MIN} min start, then {requests} x 600 tokens "
            f"at {VLLM_TOKENS_PER_S[kind]} tokens/s"
        )
    return float("nan"), "transformers backend: CPU or small GPU runs (the demo), no paper-scale estimate"


def _eval_work(benchmark: str) -> tuple[int, int, int]:
    """Evaluation work of a benchmark, from its plug-in: tasks in the full release x samples
    per task (its protocol's n) x mean generated tokens (~half the protocol's maximum)."""
    from ossinstruct.benchmarks import evaluated

    plugin = evaluated(benchmark)
    n_samples = int(plugin.sampling.get("n_samples", 1)) if plugin.sampling else 1
    return plugin.release_tasks, n_samples, plugin.mean_generated_tokens


def _eval_generate_model_minutes(config: dict, job: Job) -> tuple[float, str]:
    """One model's generation job: one engine start and model load, then every benchmark's
    samples (rule eval_generate_model)."""
    if config["evaluation"]["engine"] != "vllm":
        return float("nan"), "transformers engine: CPU runs (the demo), no paper-scale estimate"
    model = job.get("model")
    params = _evaluated_params(config, model)
    kind = "mixtral" if params > 10e9 else "7b"
    load = params * 2 / 1e9 / LOAD_GB_PER_MIN + ENGINE_START_MIN
    work = [_eval_work(b) for b in wf.eval_model_benchmarks(config, model)]
    samples = sum(tasks * n for tasks, n, _ in work)
    tokens = sum(tasks * n * per for tasks, n, per in work)
    gen = tokens / VLLM_TOKENS_PER_S[kind] / 60
    return load + gen, (
        f"load {params * 2 / 1e9:.0f} GB + {ENGINE_START_MIN} min, {len(work)} benchmarks: {samples:,} samples, "
        f"{tokens / 1e6:.1f}M tokens at {VLLM_TOKENS_PER_S[kind]} tokens/s"
    )


def _eval_score_minutes(config: dict, job: Job) -> tuple[float, str]:
    from ossinstruct.benchmarks import evaluated
    from ossinstruct.evaluate import scoring_cost

    benchmark = job.get("benchmark")
    tasks, n, _ = _eval_work(benchmark)
    if job.get("model") == REFERENCE_MODEL:
        n = 1
    cpus = declared_resources(config, job)["cpus_per_task"]
    # The measured per-program costs that size the job (ossinstruct/evaluate/scoring_cost.py),
    # where the benchmark has them.
    measured = scoring_cost.scoring_work(
        evaluated(benchmark), wf.benchmark_settings(config, benchmark), wf.eval_limit(config, benchmark), n_samples=n
    )
    if measured is not None:
        work, programs = measured
        return (
            (scoring_cost.START_S + work / cpus) / 60,
            f"{programs:,} programs, {work / 3600:.1f} worker-h measured per program / {cpus} CPUs + start",
        )
    seconds = tasks * n * CPU_SECONDS_PER_SAMPLE / cpus
    return seconds / 60 + 1, f"{tasks} x {n} samples x {CPU_SECONDS_PER_SAMPLE} CPU-s / {cpus} CPUs + 1 min"


# Small CPU jobs at paper scale (75K-110K samples, a few MB to 1 GB of JSON lines): minutes,
# from the demo's timings scaled by sample count and bench/decontamination.py (75K samples
# against every benchmark string in well under a minute per benchmark).
FLAT_MINUTES = {
    "benchmark_strings": (2, "download and extract one benchmark's strings"),
    "clean_generations": (3, "read, parse and deduplicate ~80K records"),
    "ingest_evol": (5, "download and clean Evol-Instruct 110K (~250 MB)"),
    "decontamination_match": (3, "Aho-Corasick scan of ~110K samples (bench/decontamination.py)"),
    "decontamination_merge": (2, "merge the match files, write ~110K samples"),
    "subset": (2, "filter ~75K samples"),
    "training_set": (2, "render ~110K prompts"),
    "dataset_card": (5, "regex token counts and two figures over ~110K samples"),
    "humaneval_similarity": (10, "TF-IDF over the datasets and HumanEval"),
    "push_dataset": (5, "upload a few hundred MB"),
    "mine_comment_pairs": (3, "parse one shard's ~1,000 documents with tree-sitter"),
    "comment_pairs": (5, "merge ~75K pairs, decontaminate"),
    "eval_data": (10, "evalplus ground truth: every canonical solution on its plus inputs"),
    "eval_generate": (3, "read the model's cached responses (up to 47,750), write the samples file"),
    "eval_reference": (1, "write the reference solutions as samples"),
    "eval_summary": (1, "read the results, write the summary"),
}


def estimated_minutes(config: dict, job: Job) -> tuple[float, str]:
    """(minutes, arithmetic) of one job at the configured scale."""
    rule = job.rule
    if rule == "seeds":
        return SEED_SHARD_MIN, "read the language's pool file, cut 1,000 seeds"
    if rule == "seed_pool":
        return SEED_POOL_MIN, "stream the language's pool (150K documents, ~1 GB) from the hub, once"
    if rule == "prefetch":
        return PREFETCH_MIN, "one model (13.5 GB in safetensors) or dataset at ~50 MB/s"
    if rule == "generate":
        return _generate_minutes(config, job)
    if rule == "train":
        return _train_minutes(config, job)
    if rule == "eval_generate_model":
        return _eval_generate_model_minutes(config, job)
    if rule in ("eval_score", "eval_score_multiple", "eval_score_sampled"):
        return _eval_score_minutes(config, job)
    if rule == "verify_samples":
        samples = _dataset_samples(config, job.get("dataset"))
        cpus = declared_resources(config, job)["cpus_per_task"]
        rate = VERIFY_SAMPLES_PER_CPU_S * cpus
        return (
            samples / rate / 60 + 1,
            f"{samples / 1e3:.0f}K samples / ({VERIFY_SAMPLES_PER_CPU_S} a CPU-second x {cpus} CPUs)",
        )
    minutes, basis = FLAT_MINUTES.get(rule, (float("nan"), "no estimate"))
    return minutes, basis


# --------------------------------------------------------------------------- the plan


@dataclass
class RulePlan:
    """Jobs of one rule with the same resources and estimate (a row of the plan)."""

    rule: str
    label: str
    jobs: int
    minutes: float  # estimated, per job
    basis: str
    resources: dict
    examples: list[Job] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        return int(self.resources.get("gpu") or 0)

    @property
    def cpus(self) -> int:
        return int(self.resources.get("cpus_per_task") or 1) * int(self.resources.get("nodes") or 1)

    def hours(self, per_job_minutes: float) -> float:
        return 0.0 if math.isnan(per_job_minutes) else self.jobs * per_job_minutes / 60

    @property
    def gpu_hours(self) -> float:
        return self.hours(self.minutes) * self.gpus

    @property
    def cpu_hours(self) -> float:
        return self.hours(self.minutes) * self.cpus

    @property
    def reserved_gpu_hours(self) -> float:
        return self.hours(self.resources["runtime"]) * self.gpus


def _variant(job: Job) -> str:
    """The wildcard that sets a job's resources or estimate, for the row's label."""
    names = {"generate": "teacher", "train": "checkpoint"}
    names.update(eval_score="benchmark", eval_score_multiple="benchmark", eval_score_sampled="benchmark")
    name = names.get(job.rule)
    label = dict(job.wildcards).get(name, "") if name else ""
    if dict(job.wildcards).get("model") == REFERENCE_MODEL:
        label += " (self-check)"
    return label


def rule_plans(config: dict) -> list[RulePlan]:
    rows: dict[tuple, RulePlan] = {}
    for job in study_jobs(config):
        minutes, basis = estimated_minutes(config, job)
        resources = declared_resources(config, job)
        key = (
            job.rule,
            _variant(job),
            round(minutes, 3) if not math.isnan(minutes) else None,
            tuple(sorted((k, v) for k, v in resources.items() if v is not None)),
        )
        if key not in rows:
            rows[key] = RulePlan(job.rule, _variant(job), 0, minutes, basis, resources)
        rows[key].jobs += 1
        rows[key].examples.append(job)
    return list(rows.values())


def _fmt_minutes(minutes: float) -> str:
    if math.isnan(minutes):
        return "-"
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def rules_section(config: dict) -> list[str]:
    rows = rule_plans(config)
    lines = [
        "Jobs per rule (the whole study, as if nothing were built): each job's estimated time, its time",
        "limit and the limit's margin over the estimate, then its memory, CPUs and GPUs as declared",
        "",
    ]
    header = (
        f"  {'rule':<22} {'variant':<30} {'jobs':>5} {'estimate':>9} {'limit':>8} {'margin':>7} "
        f"{'mem GB':>7} {'cpus':>5} {'gpus':>5}"
    )
    lines += [header, "  " + "-" * (len(header) - 2)]
    short = []
    for row in rows:
        r = row.resources
        margin = "-" if math.isnan(row.minutes) else f"{r['runtime'] / row.minutes:.1f}x"
        if not math.isnan(row.minutes) and r["runtime"] < 1.5 * row.minutes:
            margin += " !"
            short.append(f"{row.rule} ({row.label})" if row.label else row.rule)
        lines.append(
            f"  {row.rule:<22} {row.label[:30]:<30} {row.jobs:>5} {_fmt_minutes(row.minutes):>9} "
            f"{_fmt_minutes(r['runtime']):>8} {margin:>7} {r['mem_mb'] / 1000:>7.0f} {row.cpus:>5} {row.gpus:>5}"
        )
    if short:
        lines += ["", f"  ! a time limit under 1.5x its estimate: {', '.join(short)}"]
    lines += ["", "Arithmetic of the estimates:"]
    seen = set()
    for row in rows:
        key = (row.rule, row.label, row.basis)
        if key in seen or math.isnan(row.minutes):
            continue
        seen.add(key)
        label = f"{row.rule} ({row.label})" if row.label else row.rule
        lines.append(f"  {label}: {row.basis}")
    return lines


def totals(config: dict) -> dict:
    """The study's sums: jobs, estimated GPU-hours and CPU-hours, reserved GPU-hours."""
    rows = rule_plans(config)
    return {
        "jobs": sum(r.jobs for r in rows),
        "gpu_hours": sum(r.gpu_hours for r in rows),
        "cpu_hours": sum(r.cpu_hours for r in rows),
        "cpu_hours_of_gpu_jobs": sum(r.cpu_hours for r in rows if r.gpus),
        "reserved_gpu_hours": sum(r.reserved_gpu_hours for r in rows),
        "unestimated": sorted({r.rule for r in rows if math.isnan(r.minutes)}),
    }


def totals_section(config: dict) -> list[str]:
    t = totals(config)
    lines = [
        f"Totals: {t['jobs']} jobs; estimated {t['gpu_hours']:.1f} GPU-hours and {t['cpu_hours']:.1f} CPU-hours "
        f"({t['cpu_hours_of_gpu_jobs']:.1f} of them the CPUs of GPU jobs): jobs x estimated time x GPUs, or x CPUs.",
        f"The time limits reserve at most {t['reserved_gpu_hours']:.1f} GPU-hours.",
    ]
    if t["unestimated"]:
        lines.append(f"No estimate (not counted): {', '.join(t['unestimated'])}")
    return lines


def training_memory_section(config: dict) -> list[str]:
    from ossinstruct.train.memory import training_memory

    lines = [f"Training memory per GPU (cluster.gpu_memory_gib = {config['cluster']['gpu_memory_gib']:g})"]
    for plan in training_memory(config):
        lines.append("")
        lines.append(plan.summary())
        if plan.estimate is not None:
            lines += plan.estimate.lines()
        lines += [f"  fits instead: {alt}" for alt in plan.alternatives]
    return lines


def cost_section(config: dict) -> list[str]:
    """The teacher API's cost against max_cost_usd (ossinstruct/generate/cost.py)."""
    from ossinstruct.generate.cost import estimate_study_cost, format_cost

    if not config["generations"]:
        return []
    return ["Teacher API cost", *format_cost(estimate_study_cost(config)).splitlines()]


# The plan's sections, in order: add one (config -> lines) to extend the plan.
SECTIONS: list[Callable[[dict], list[str]]] = [rules_section, totals_section, cost_section, training_memory_section]


def plan_lines(config: dict) -> list[str]:
    lines: list[str] = []
    for section in SECTIONS:
        part = section(config)
        if lines and part:
            lines.append("")
        lines += part
    return lines
