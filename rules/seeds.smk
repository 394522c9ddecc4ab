# The seed pools (selection magicoder) are read from the hub: they run where snakemake
# runs, which has the network (compute nodes may not; see docs/study.md, "Before the first run").
localrules:
    seed_pool,


rule seed_pool:
    output:
        wf.SEED_POOL,
    log:
        "results/logs/seeds/{corpus}/{lang}/pool.log",
    benchmark:
        "results/benchmarks/seeds/{corpus}/{lang}/pool.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["seed_pool"],
    params:
        # Only what decides the pool's rows (dataset, data_dir, revision, text field,
        # pool_size); the token variable is read from config by the script.
        pool=lambda wildcards: seedpool.pool_identity(
            seedpool.pool_spec(config, wildcards.corpus, wildcards.lang)
        ),
        code=code_identity_of("seed_pool"),
    script:
        "../scripts/seed_pool.py"


rule seeds:
    input:
        # The language's pool file, read instead of the hub. Never a rerun trigger by
        # itself (ancient): the shard's spec names the pool's source.
        pool=seed_pool_input,
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
