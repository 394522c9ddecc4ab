rule generate:
    input:
        seeds=wf.SEEDS,
        # A local teacher's hub model, tiktoken's BPE file (ossinstruct/prefetch.py).
        downloads=downloads("generate", "teacher"),
    output:
        records=wf.GENERATIONS,
        stats=wf.GENERATION_STATS,
    log:
        "results/logs/generations/{teacher}/{corpus}/{lang}/{shard}.log",
    benchmark:
        "results/benchmarks/generations/{teacher}/{corpus}/{lang}/{shard}.tsv"
    conda:
        teacher_conda_env
    threads: teacher_resource("cpus_per_task")
    resources:
        runtime=teacher_resource("runtime"),
        mem_mb=teacher_resource("mem_mb"),
        cpus_per_task=teacher_resource("cpus_per_task"),
        gpu=teacher_resource("gpu"),
        llm_api=llm_api_slots,
    params:
        # Only what changes the teacher's answers; operational settings (concurrency,
        # rate limits, endpoint, batch size) are read from config by the script.
        teacher=lambda wildcards: teacher_identity(
            config["teachers"][wildcards.teacher]
        ),
        code=code_identity_of("generate"),
    script:
        "../scripts/generate.py"
