"""One function per evaluation rule, called by both its Snakemake script (scripts/eval_*.py)
and the command line (python -m ossinstruct eval-*), so the two cannot drift apart.

The rules pass what their params hold (the generation identity of
workflow.eval_generation_identity, the scoring identity of workflow.eval_scoring_identity);
the command line builds the same dicts from its flags and the config
(:func:`command_line_generation`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ossinstruct.files import read_jsonl


def command_line_generation(
    config: dict,
    *,
    benchmark: str,
    model: str,
    revision: str | None = None,
    prompt: str = "instruct",
    engine: str | None = None,
    dtype: str | None = None,
) -> dict:
    """The generation identity of a model named on the command line (a checkpoint directory,
    a hub id or embedded:...), with the keys workflow.eval_generation_identity gives a
    configured one; what the flags leave out comes from the config's `evaluation` block."""
    from ossinstruct.workflow import eval_decoding_identity, eval_prompt_style, eval_tabs_to_spaces

    ev = config["evaluation"]
    identity = {
        "model": model,
        "source": {"model": model, "revision": revision},
        "benchmark": benchmark,
        "prompt": eval_prompt_style(config, benchmark, prompt),
        "engine": engine or ev["engine"],
        "dtype": dtype or ev["dtype"],
        **eval_decoding_identity(config, benchmark),
    }
    if eval_tabs_to_spaces(benchmark, identity["prompt"], model):
        identity["tabs_to_spaces"] = True
    return identity


def eval_data_step(
    config: dict,
    benchmark: str,
    *,
    path: str | None,
    version: str | None,
    limit: int | None,
    out_tasks,
    out_info,
    out_expected,
) -> dict:
    """Rule eval_data: a benchmark's tasks in force, provenance and expected outputs."""
    from ossinstruct.benchmarks import evaluated
    from ossinstruct.workflow import benchmark_settings

    return evaluated(benchmark).prepare(
        path=path,
        version=version,
        limit=limit,
        out_tasks=str(out_tasks),
        out_info=str(out_info),
        out_expected=str(out_expected),
        settings=benchmark_settings(config, benchmark),
    )


def generation_model_block(config: dict, generation: dict, checkpoint: str | None = None) -> dict:
    """The engine's model block of a generation identity (`checkpoint`: the local directory
    of a model trained here, source {"path": ...})."""
    from ossinstruct.evaluate.generate import model_block
    from ossinstruct.workflow import eval_tensor_parallel_size

    source = generation["source"]
    block = model_block(
        config["evaluation"],
        checkpoint if "path" in source else source["model"],
        source.get("revision"),
        generation["dtype"],
    )
    block["tensor_parallel_size"] = eval_tensor_parallel_size(config, generation["model"])
    return block


def generation_decoding(generation: dict) -> dict:
    return generation.get("sampling") or {
        "temperature": generation["temperature"],
        "max_new_tokens": generation["max_new_tokens"],
    }


def eval_generate_step(
    config: dict,
    generation: dict,
    *,
    tasks_path,
    out_path,
    checkpoint: str | None = None,
    cached_only: str | None = None,
) -> dict:
    """Rule eval_generate: a benchmark's samples from the model `generation` names (the
    command line's eval-generate: generated here; the rule: from the responses its model's
    generation job cached, `cached_only` saying what to do when some are missing)."""
    from ossinstruct.evaluate.generate import generate_samples

    return generate_samples(
        list(read_jsonl(tasks_path, required=("task_id",), what="task")),
        benchmark=generation["benchmark"],
        style=generation["prompt"],
        engine=generation["engine"],
        model=generation_model_block(config, generation, checkpoint),
        decoding=generation_decoding(generation),
        cache_dir=config["cache_dir"],
        out_path=str(out_path),
        batch_size=config["evaluation"]["batch_size"],
        cached_only=cached_only,
        tabs_to_spaces=bool(generation.get("tabs_to_spaces")),
    )


def eval_generate_model_step(
    config: dict,
    generations: dict[str, dict],
    *,
    tasks_paths: dict[str, str],
    out_manifest,
    checkpoint: str | None = None,
) -> dict:
    """Rule eval_generate_model: the responses of every benchmark of one model (`generations`:
    benchmark -> generation identity; `tasks_paths`: benchmark -> its tasks file) into the
    cache, with one model load; writes the manifest."""
    from ossinstruct.evaluate.generate import generate_for_model, plan_samples
    from ossinstruct.files import write_json_atomic

    if not generations:
        raise ValueError("eval_generate_model: the model has no benchmark to generate")
    engines = {(g["engine"], json.dumps(g["source"], sort_keys=True), g["dtype"]) for g in generations.values()}
    if len(engines) != 1:
        raise ValueError(f"eval_generate_model: one model, one engine and dtype per job; got {sorted(engines)}")
    first = next(iter(generations.values()))
    block = generation_model_block(config, first, checkpoint)
    plans = {
        benchmark: plan_samples(
            list(read_jsonl(tasks_paths[benchmark], required=("task_id",), what="task")),
            benchmark=benchmark,
            style=generation["prompt"],
            engine=generation["engine"],
            model=block,
            decoding=generation_decoding(generation),
        )
        for benchmark, generation in generations.items()
    }
    manifest = generate_for_model(
        plans,
        engine=first["engine"],
        model=block,
        cache_dir=config["cache_dir"],
        batch_size=config["evaluation"]["batch_size"],
        identities=generations,
    )
    write_json_atomic(out_manifest, manifest)
    return manifest


def eval_score_step(
    benchmark: str,
    *,
    model: str,
    samples_path,
    tasks_path,
    info_path,
    expected_path,
    out_result,
    out_tasks,
    workers: int,
    generation: dict,
    settings: dict,
    execution_cache: str | None = None,
    out_exports=None,
) -> dict:
    """Rules eval_score, eval_score_multiple and eval_score_sampled: the model's samples
    checked in the sandbox by the one scorer; the result file. `settings`: the config's
    settings block of the benchmark (workflow.benchmark_settings: evaluation.scoring for
    HumanEval+/MBPP+); `out_exports`: rule eval_score_multiple's exports directory."""
    from ossinstruct.benchmarks import evaluated
    from ossinstruct.evaluate.generate import engine_versions
    from ossinstruct.evaluate.score import score

    # Where the job runs (a compute node's PATH, not the login node's), before anything is read.
    evaluated(benchmark).check_environment(settings)
    with open(info_path, encoding="utf-8") as f:
        info = json.load(f)
    # The engine and version behind the samples ({"vllm 0.32.0": n}), as each records it;
    # the result file keeps it beside the generation identity.
    versions = engine_versions(read_jsonl(samples_path, what="sample"))
    if set(versions) != {"unknown"}:
        generation = {**(generation or {}), "engine_versions": versions}
    return score(
        benchmark,
        model=model,
        samples_path=samples_path,
        tasks_path=tasks_path,
        info=info,
        expected_path=expected_path,
        out_result=out_result,
        out_tasks=out_tasks,
        out_exports=out_exports,
        settings=settings,
        cache_dir=execution_cache,
        workers=workers,
        generation=generation,
    )


def generation_file(samples_path: str | os.PathLike) -> Path:
    """Where the command line's eval-generate records the generation identity of its
    samples, for eval-score's result file (the workflow passes it as a rule param)."""
    return Path(str(samples_path).removesuffix(".jsonl") + ".generation.json")
