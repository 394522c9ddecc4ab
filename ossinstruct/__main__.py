"""Run one pipeline stage outside Snakemake:  python -m ossinstruct <stage> ...

The Snakemake rules call the same functions; this is for debugging one shard, trying a
teacher by hand, or running a stage on a machine without Snakemake.
"""

from __future__ import annotations

import argparse
import sys

from ossinstruct.config import ConfigError, load_config
from ossinstruct.files import InputError


def _config(args, check_memory: bool = True) -> dict:
    """The validated config; with `check_memory`, refused if a training job cannot fit the
    cluster's GPUs (as Snakemake refuses it: rules/common.smk)."""
    config = load_config(*(args.config or ["config.yaml"]))
    if check_memory:
        from ossinstruct.train.memory import check_training_memory

        check_training_memory(config)
    return config


def cmd_check(args) -> None:
    config = _config(args)
    print("config OK")
    if config["generations"]:
        from ossinstruct.generate.cost import estimate_study_cost, format_cost

        print(format_cost(estimate_study_cost(config)))


def cmd_prefetch(args) -> None:
    """Fetch the study's downloads where the network is (what rule prefetch does), or list them."""
    import os

    from ossinstruct import prefetch, study_downloads

    config = _config(args)
    items = study_downloads.study_items(config)
    names = args.item or sorted(items)
    if args.list:
        for name in names:
            done = os.path.exists(prefetch.marker_path(config, name))
            print(f"{'fetched' if done else 'missing'}  {name}  (config key {', '.join(items[name].why)})")
        return
    for name in names:
        if args.item or not os.path.exists(prefetch.marker_path(config, name)):
            study_downloads.prefetch_item(config, name)
    print(f"{len(names)} download(s) in {prefetch.cache_dir(config)}")


def cmd_cost(args) -> None:
    """The study's teacher API cost: estimated, spent, left, against max_cost_usd."""
    import json

    from ossinstruct.generate.cost import estimate_study_cost, format_cost

    estimate = estimate_study_cost(_config(args), args.root)
    print(json.dumps(estimate, indent=1) if args.json else format_cost(estimate))


def cmd_plan(args) -> None:
    """The whole plan, also for a config that a training job cannot fit (its section says
    which and what would fit); then that refusal, as check-config and Snakemake give it."""
    from ossinstruct.plan import plan_lines
    from ossinstruct.train.memory import check_training_memory

    config = _config(args, check_memory=False)
    print("\n".join(plan_lines(config)), flush=True)
    check_training_memory(config)


def cmd_targets(args) -> None:
    from ossinstruct.workflow import all_targets

    print("\n".join(all_targets(_config(args))))


def cmd_seeds(args) -> None:
    from ossinstruct.seeds.sampling import shard_spec, write_shard

    config = _config(args)
    if args.corpus not in config["corpora"]:
        raise ConfigError(f"--corpus {args.corpus!r}: no such corpus under `corpora`")
    write_shard(shard_spec(config, args.corpus, args.lang, args.shard), args.output, pool=args.pool)


def cmd_seed_pool(args) -> None:
    from ossinstruct.seeds.pool import pool_spec, write_pool

    config = _config(args)
    if args.corpus not in config["corpora"]:
        raise ConfigError(f"--corpus {args.corpus!r}: no such corpus under `corpora`")
    rows = write_pool(pool_spec(config, args.corpus, args.lang), args.output)
    print(f"{rows} rows in {args.output}")


def cmd_generate(args) -> None:
    from ossinstruct.generate.cost import job_ceiling
    from ossinstruct.generate.teacher import generate_shard
    from ossinstruct.workflow import generation_entry

    config = _config(args)
    if args.teacher not in config["teachers"]:
        raise ConfigError(f"--teacher {args.teacher!r}: no such teacher under `teachers`")
    entry = generation_entry(config, args.teacher, args.corpus or "")
    stats_path = args.stats or str(args.output).removesuffix(".jsonl") + ".stats.json"
    generate_shard(
        args.seeds,
        args.output,
        stats_path,
        args.teacher,
        config["teachers"][args.teacher],
        config["cache_dir"],
        config["prices"],
        entry["max_request_failure_rate"],
        api_jobs=config["teacher_api_jobs"],
        ceiling=job_ceiling(config, args.teacher, args.output),
    )


def cmd_clean(args) -> None:
    from ossinstruct.curate.steps import clean_generations

    # The rule's default: the dataset schema's dedup_shuffle_seed (the authors' 666).
    shuffle_seed = args.shuffle_seed
    if shuffle_seed is None:
        from .config import schema

        shuffle_seed = schema()["$defs"]["dataset"]["properties"]["dedup_shuffle_seed"]["default"]
    elif shuffle_seed == "none":
        shuffle_seed = None
    else:
        shuffle_seed = int(shuffle_seed)
    clean_generations(args.shards, args.output, args.rejected, args.drop_noisy, shuffle_seed)


def cmd_mine_comment_pairs(args) -> None:
    """Paper §4.2: the comment-function pairs of one seed shard's documents (rule mine_comment_pairs)."""
    from ossinstruct.curate.steps import mine_comment_pairs
    from ossinstruct.seeds.sampling import shard_spec

    config = _config(args)
    if args.corpus not in config["corpora"]:
        raise ConfigError(f"--corpus {args.corpus!r}: no such corpus under `corpora`")
    stats = mine_comment_pairs(args.seeds, shard_spec(config, args.corpus, args.lang, args.shard), args.output)
    print(f"{stats['pairs']} pairs from {stats['documents']} documents ({stats['overlapping']} overlap their seed)")


def cmd_decontaminate(args) -> None:
    """Strings, one match file per benchmark, then the merge: the workflow's steps in a row."""
    from pathlib import Path

    from ossinstruct import benchmarks as benchmark_lib
    from ossinstruct.curate.steps import extract_benchmark_strings, match_benchmark, merge_matches

    config = _config(args)
    settings = config["decontamination"]
    names = args.benchmark or settings["benchmarks"]
    out = Path(args.out_dir)
    matches = []
    for name in names:
        spec = benchmark_lib.resolve_source(name, settings["sources"].get(name))
        strings = out / "strings" / f"{name}.jsonl"
        extract_benchmark_strings(name, spec, settings["min_length"], str(strings), settings["exempt"])
        matches.append(str(out / "matches" / f"{name}.jsonl"))
        match_benchmark(args.samples, name, str(strings), settings["fields"], matches[-1], settings["join"])
    report = merge_matches(
        args.samples,
        matches,
        names,
        str(out / "decontaminated.jsonl"),
        str(out / "excluded.jsonl"),
        str(out / "report.json"),
    )
    print(f"kept {report['kept']} of {report['total']}; excluded {report['excluded']}")


def cmd_verify(args) -> None:
    """The verify step of rule verify_samples on one samples file (beyond the paper)."""
    from pathlib import Path

    from ossinstruct.curate.steps import verify

    settings = _config(args)["verification"]
    out = Path(args.out_dir)
    report = verify(
        Path(args.samples).stem,
        args.samples,
        args.mode,
        {k: settings[k] for k in ("timeout_s", "compile_timeout_s", "memory_mb")},
        str(out / "verified.jsonl"),
        str(out / "verify_rejected.jsonl"),
        str(out / "verify_report.json"),
        str(out / "figures" / "verify_pass_rate.png"),
        workers=args.workers,
        cache_dir=args.cache_dir or settings["cache_dir"],
    )
    print(f"{report['by_status']}; kept {report['kept']} of {report['total']}; wrote {out}")


def cmd_eval_data(args) -> None:
    from pathlib import Path

    from ossinstruct.evaluate.steps import eval_data_step

    out = Path(args.out_dir)
    info = eval_data_step(
        _config(args),
        args.benchmark,
        path=args.path,
        version=args.version,
        limit=args.limit,
        out_tasks=out / f"{args.benchmark}.jsonl",
        out_info=out / f"{args.benchmark}.json",
        out_expected=out / f"{args.benchmark}.expected.pkl",
    )
    sha = info.get("sha256")
    digest = f" (sha256 {sha[:12]})" if isinstance(sha, str) else ""
    print(f"{info['n_tasks']} of {info['n_tasks_release']} tasks from {info.get('path') or 'the hub'}{digest}")


def cmd_eval_generate(args) -> None:
    from ossinstruct.evaluate.steps import command_line_generation, eval_generate_step, generation_file
    from ossinstruct.files import write_json_atomic

    config = _config(args)
    generation = command_line_generation(
        config,
        benchmark=args.benchmark,
        model=args.model,
        revision=args.revision,
        prompt=args.prompt,
        engine=args.engine,
        dtype=args.dtype,
    )
    eval_generate_step(config, generation, tasks_path=args.tasks, out_path=args.output)
    write_json_atomic(generation_file(args.output), generation)


def cmd_eval_reference(args) -> None:
    from ossinstruct.evaluate.reference import reference_samples

    n = reference_samples(args.benchmark, args.tasks, args.output)
    print(f"{n} reference samples in {args.output}")


def cmd_eval_score(args) -> None:
    import json
    from pathlib import Path

    from ossinstruct.evaluate.steps import eval_score_step, generation_file

    config = _config(args)
    data = Path(args.data_dir)
    for suffix in (".json", ".jsonl", ".expected.pkl"):
        if not (data / f"{args.benchmark}{suffix}").is_file():
            raise InputError(
                f"{data / (args.benchmark + suffix)}: no such file (expected eval-data's output: "
                f"run `python -m ossinstruct eval-data --benchmark {args.benchmark} --out-dir {data}` first)"
            )
    # The samples' generation identity, as eval-generate recorded it beside them.
    recorded = Path(args.generation) if args.generation else generation_file(args.samples)
    generation = json.loads(recorded.read_text(encoding="utf-8")) if recorded.is_file() else {}
    if args.generation and not recorded.is_file():
        raise InputError(f"--generation {args.generation}: no such file")
    from ossinstruct.workflow import benchmark_settings

    result = eval_score_step(
        args.benchmark,
        model=args.model,
        samples_path=args.samples,
        tasks_path=data / f"{args.benchmark}.jsonl",
        info_path=data / f"{args.benchmark}.json",
        expected_path=data / f"{args.benchmark}.expected.pkl",
        out_result=args.output,
        out_tasks=args.tasks_output,
        workers=args.workers,
        generation=generation,
        settings=benchmark_settings(config, args.benchmark),
        execution_cache=config["evaluation"]["execution_cache"],
        out_exports=args.exports,
    )
    scores = " ".join(f"{100 * value:.1f} ({variant})" for variant, value in result["pass@1"].items())
    print(f"pass@1 {scores} over {result['n_tasks']} tasks; wrote {args.output}")


def build_parser() -> argparse.ArgumentParser:
    from ossinstruct.benchmarks import BENCHMARKS, EVALUATED
    from ossinstruct.benchmarks.base import MODEL_PROMPTS

    parser = argparse.ArgumentParser(
        prog="python -m ossinstruct", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log", help="also write the log to this file")
    stages = parser.add_subparsers(dest="stage", required=True)

    def stage(name, func, help):
        sub = stages.add_parser(name, help=help)
        sub.add_argument(
            "--config", action="append", help="config file; repeat to apply presets on top (default config.yaml)"
        )
        sub.add_argument(
            "--log", default=argparse.SUPPRESS, help="also write progress, and a failure's traceback, to this file"
        )
        sub.set_defaults(func=func)
        return sub

    stages.add_parser("train", help="fine-tune one checkpoint (see python -m ossinstruct train -h)")
    stages.add_parser("launch", help="launch training on the allocated GPUs (python -m ossinstruct launch -h)")
    stages.add_parser(
        "identity", help="check the code identity lock, or refresh it (python -m ossinstruct identity -h)"
    )
    stages.add_parser(
        "changes", help="per planned job, which part of its identity changed (python -m ossinstruct changes -h)"
    )
    stage("check-config", cmd_check, "validate the config (with presets) and exit")
    stage("targets", cmd_targets, "list the files `snakemake` (rule all) would build")
    sub = stage("prefetch", cmd_prefetch, "fetch what the study's jobs need from the network into downloads.cache_dir")
    sub.add_argument("--item", action="append", help="only this download, fetched again (repeat); default all missing")
    sub.add_argument("--list", action="store_true", help="list the downloads and whether each is fetched")
    sub = stage("cost", cmd_cost, "the study's teacher API cost: estimated, spent, left, against max_cost_usd")
    sub.add_argument("--root", default=".", help="the directory holding results/ (default .)")
    sub.add_argument("--json", action="store_true", help="print the estimate as JSON")
    stage(
        "plan",
        cmd_plan,
        "the study's jobs per rule with estimated time, memory and GPUs, GPU- and CPU-hours, "
        "and each training job's GPU memory",
    )

    sub = stage("seeds", cmd_seeds, "sample one seed shard")
    sub.add_argument("--corpus", required=True)
    sub.add_argument("--lang", required=True)
    sub.add_argument("--shard", type=int, required=True)
    sub.add_argument("--pool", help="the language's pool file (seed-pool's output) instead of the hub")
    sub.add_argument("-o", "--output", required=True)

    sub = stage("seed-pool", cmd_seed_pool, "read a language's seed pool from the hub once (selection magicoder)")
    sub.add_argument("--corpus", required=True)
    sub.add_argument("--lang", required=True)
    sub.add_argument("-o", "--output", required=True, help="the pool file (.jsonl.gz)")

    sub = stage("generate", cmd_generate, "turn one seed shard into teacher generations")
    sub.add_argument("--teacher", required=True)
    sub.add_argument("--seeds", required=True, help="a seed shard (.jsonl)")
    sub.add_argument("--corpus", help="corpus of the seeds, for its generations settings")
    sub.add_argument("-o", "--output", required=True)
    sub.add_argument("--stats", help="stats JSON path (default: beside the output)")

    sub = stage("clean", cmd_clean, "clean and deduplicate generation shards")
    sub.add_argument("--shards", nargs="+", required=True, help="generation shards, in order")
    sub.add_argument("-o", "--output", required=True)
    sub.add_argument("--rejected", required=True)
    sub.add_argument("--drop-noisy", action="store_true", help="also drop partial implementations")
    sub.add_argument(
        "--shuffle-seed",
        help="shuffle before deduplication with this seed, or none to keep "
        "the shards' order (default: datasets' dedup_shuffle_seed default, 666, as the rule)",
    )

    sub = stage("mine-comment-pairs", cmd_mine_comment_pairs, "comment-function pairs of one seed shard's documents")
    sub.add_argument("--corpus", required=True)
    sub.add_argument("--lang", required=True)
    sub.add_argument("--shard", type=int, required=True)
    sub.add_argument("--seeds", required=True, help="that seed shard (.jsonl)")
    sub.add_argument("-o", "--output", required=True)

    sub = stage("decontaminate", cmd_decontaminate, "decontaminate samples against benchmarks")
    sub.add_argument("--samples", required=True, help="clean samples (.jsonl)")
    sub.add_argument("--benchmark", action="append", choices=BENCHMARKS, help="default: decontamination.benchmarks")
    sub.add_argument("--out-dir", required=True)

    sub = stage("verify", cmd_verify, "run each sample's tests with its solution in the sandbox (beyond the paper)")
    sub.add_argument("--samples", required=True, help="samples with `tests` (.jsonl), e.g. decontaminated.jsonl")
    sub.add_argument("--mode", choices=["annotate", "require"], default="annotate")
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--workers", type=int, default=2, help="samples run at once")
    sub.add_argument("--cache-dir", help="execution cache (default: verification.cache_dir)")

    sub = stage("eval-data", cmd_eval_data, "a benchmark's tasks in force and expected outputs")
    sub.add_argument("--benchmark", required=True, choices=EVALUATED)
    sub.add_argument("--path", help="local release file (default: evalplus's download)")
    sub.add_argument("--version", help="release version of a local file")
    sub.add_argument("--limit", type=int, help="only the first N tasks")
    sub.add_argument("--out-dir", required=True)

    sub = stage("eval-generate", cmd_eval_generate, "a benchmark's samples from a model (its decoding protocol)")
    sub.add_argument("--benchmark", required=True, choices=EVALUATED)
    sub.add_argument("--tasks", required=True, help="the tasks in force (eval-data's .jsonl)")
    sub.add_argument("--model", required=True, help="checkpoint dir, hub id or embedded:gemma-3-270m")
    sub.add_argument("--revision")
    sub.add_argument("--prompt", choices=MODEL_PROMPTS, default="instruct")
    sub.add_argument("--engine", choices=["vllm", "transformers"], help="default: evaluation.engine")
    sub.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], help="default: evaluation.dtype")
    sub.add_argument("-o", "--output", required=True)

    sub = stage(
        "eval-reference", cmd_eval_reference, "the benchmark's reference solutions as samples (the harness self-check)"
    )
    sub.add_argument("--benchmark", required=True, choices=EVALUATED)
    sub.add_argument("--tasks", required=True, help="the tasks in force (eval-data's .jsonl)")
    sub.add_argument("-o", "--output", required=True)

    sub = stage("eval-score", cmd_eval_score, "score samples with evalplus, each in a sandbox")
    sub.add_argument("--benchmark", required=True, choices=EVALUATED)
    sub.add_argument("--samples", required=True)
    sub.add_argument("--data-dir", required=True, help="eval-data's --out-dir")
    sub.add_argument("--model", required=True, help="the model's name, for the result file")
    sub.add_argument("--workers", type=int, default=2)
    sub.add_argument("-o", "--output", required=True, help="result .json")
    sub.add_argument("--tasks-output", help="also write per-task statuses (.jsonl) here")
    sub.add_argument("--exports", help="per-sample benchmarks: write files for another harness here (MultiPL-E)")
    sub.add_argument(
        "--generation",
        help="the samples' generation identity, recorded in the result "
        "(default: the .generation.json eval-generate wrote beside the samples)",
    )
    return parser


# Stages with their own argument parsers: `python -m ossinstruct train ...` is
# `python -m ossinstruct.train.recipe ...` (what `accelerate launch -m ossinstruct train` runs).
DELEGATED = {
    "train": "ossinstruct.train.recipe",
    "launch": "ossinstruct.train.launch",
    "identity": "ossinstruct.identity",
    "changes": "ossinstruct.changes",
}


def main(argv: list[str] | None = None) -> int:
    import importlib

    from ossinstruct.logs import logged_job

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        return importlib.import_module(DELEGATED[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    # A mistake in the input (config key, file, line) is one line on stderr and exit
    # status 2; any other failure its traceback and a one-line cause. --log holds both.
    try:
        with logged_job(args.log, f"ossinstruct {args.stage}"):
            args.func(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
