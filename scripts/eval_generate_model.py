"""Snakemake entry point of rule eval_generate_model: every benchmark's responses of one
model (vLLM on a GPU, or transformers), one model load, into the response cache."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

# vLLM's engine core is a spawned process, which runs this file again as its main module
# (the file itself, without the `snakemake` object of Snakemake's copy): only the parent
# generates.
if __name__ == "__main__":
    sm = snakemake  # noqa: F821 - injected by Snakemake
    with rule_job(sm):
        import json

        from ossinstruct.evaluate.steps import eval_generate_model_step
        from ossinstruct.workflow import eval_model_benchmarks

        benchmarks = eval_model_benchmarks(sm.config, sm.wildcards.model)
        eval_generate_model_step(
            sm.config,
            json.loads(sm.params.generations),
            tasks_paths=dict(zip(benchmarks, sm.input.tasks, strict=True)),
            out_manifest=sm.output.manifest,
            checkpoint=sm.input.get("model"),
        )
