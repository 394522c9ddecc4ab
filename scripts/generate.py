"""Snakemake entry point of rule generate: one generation shard from one seed shard."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

# Backend vllm: its engine core is a spawned process, which runs this file again as its main
# module (the file itself, without the `snakemake` object Snakemake's copy of it defines):
# only the parent generates.
if __name__ == "__main__":
    sm = snakemake  # noqa: F821 - injected by Snakemake
    with rule_job(sm):
        from ossinstruct.generate.cost import job_ceiling
        from ossinstruct.generate.teacher import generate_shard
        from ossinstruct.workflow import generation_entry

        entry = generation_entry(sm.config, sm.wildcards.teacher, sm.wildcards.corpus)
        generate_shard(
            seeds_path=sm.input.seeds,
            output_path=sm.output.records,
            stats_path=sm.output.stats,
            teacher_name=sm.wildcards.teacher,
            teacher=sm.config["teachers"][sm.wildcards.teacher],
            cache_dir=sm.config["cache_dir"],
            prices=sm.config["prices"],
            max_request_failure_rate=entry["max_request_failure_rate"],
            api_jobs=sm.config["teacher_api_jobs"],
            ceiling=job_ceiling(sm.config, sm.wildcards.teacher, sm.output.records),
        )
