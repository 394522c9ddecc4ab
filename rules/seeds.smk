rule seeds:
    output:
        wf.SEEDS,
    log:
        "results/logs/seeds/{corpus}/{lang}/{shard}.log",
    benchmark:
        "results/benchmarks/seeds/{corpus}/{lang}/{shard}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        runtime=seed_resource("runtime"),
        mem_mb=seed_resource("mem_mb"),
        cpus_per_task=seed_resource("cpus_per_task"),
    params:
        # Everything that determines the shard's content, and nothing else: raising a
        # quota adds shards and leaves the finished ones untouched.
        spec=seed_spec_identity,
        code=code_identity_of("seeds"),
    script:
        "../scripts/seeds.py"
