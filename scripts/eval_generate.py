"""Snakemake entry point of rule eval_generate: one greedy sample per task of a benchmark
from one model (vLLM on a GPU, or transformers)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    import json
    from ossinstruct.evaluation.generate import generate_samples, model_block
    from ossinstruct.io import read_jsonl

    generation = json.loads(sm.params.generation)
    settings = sm.config["evaluation"]
    source = generation["source"]
    generate_samples(
        list(read_jsonl(sm.input.tasks, required=("task_id", "prompt"), what="task")),
        benchmark=generation["benchmark"],
        style=generation["prompt"],
        engine=generation["engine"],
        model=model_block(
            settings,
            sm.input.model if "path" in source else source["model"],
            source.get("revision"),
            generation["dtype"],
        ),
        decoding={
            "temperature": generation["temperature"],
            "max_new_tokens": generation["max_new_tokens"],
        },
        cache_dir=sm.config["cache_dir"],
        out_path=sm.output.samples,
        batch_size=settings["batch_size"],
    )
