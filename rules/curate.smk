rule benchmark_strings:
    input:
        # A hub source, fetched by rule prefetch (ossinstruct/prefetch.py).
        downloads=downloads("benchmark_strings", "benchmark"),
    output:
        wf.BENCHMARK_STRINGS,
    log:
        "results/logs/decontamination/{benchmark}.log",
    benchmark:
        "results/benchmarks/decontamination/{benchmark}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["benchmark_strings"],
    params:
        source=benchmark_source,
        min_length=config["decontamination"]["min_length"],
        exempt=config["decontamination"]["exempt"],
        code=code_identity_of("benchmark_strings"),
    script:
        "../scripts/benchmark_strings.py"


rule clean_generations:
    input:
        shards=lambda wildcards: wf.dataset_generation_shards(config, wildcards.dataset),
    output:
        clean=wf.CLEAN,
        rejected=wf.REJECTED,
    log:
        "results/logs/datasets/{dataset}/clean.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/clean.tsv"
    wildcard_constraints:
        dataset=wf.name_pattern(wf.datasets_of_kind(config, "generations")),
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["clean_generations"],
    params:
        drop_noisy=lambda wildcards: dataset_spec(wildcards)["drop_noisy"],
        shuffle_seed=lambda wildcards: dataset_spec(wildcards)["dedup_shuffle_seed"],
        code=code_identity_of("clean_generations"),
    script:
        "../scripts/clean_generations.py"


rule ingest_evol:
    input:
        downloads=downloads("ingest_evol", "dataset"),
    output:
        clean=wf.CLEAN,
        rejected=wf.REJECTED,
    log:
        "results/logs/datasets/{dataset}/ingest.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/ingest.tsv"
    wildcard_constraints:
        dataset=wf.name_pattern(wf.datasets_of_kind(config, "evol")),
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["ingest_evol"],
    params:
        evol=lambda wildcards: wf.content_identity(dataset_spec(wildcards)["evol"]),
        code=code_identity_of("ingest_evol"),
    script:
        "../scripts/ingest_evol.py"


rule decontamination_match:
    input:
        samples=wf.CLEAN,
        strings=wf.BENCHMARK_STRINGS,
    output:
        wf.MATCHES,
    log:
        "results/logs/datasets/{dataset}/match_{benchmark}.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/match_{benchmark}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["decontamination_match"],
    params:
        fields=config["decontamination"]["fields"],
        join=config["decontamination"]["join"],
        code=code_identity_of("decontamination_match"),
    script:
        "../scripts/decontamination_match.py"


rule decontamination_merge:
    input:
        samples=wf.CLEAN,
        matches=dataset_matches,
    output:
        decontaminated=wf.DECONTAMINATED,
        excluded=wf.EXCLUDED,
        report=wf.REPORT,
    log:
        "results/logs/datasets/{dataset}/merge.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/merge.tsv"
    wildcard_constraints:
        dataset=wf.name_pattern(
            wf.datasets_of_kind(config, "generations")
            + wf.datasets_of_kind(config, "evol")
            + wf.datasets_of_kind(config, "comment_pairs")
        ),
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["decontamination_merge"],
    params:
        benchmarks=config["decontamination"]["benchmarks"],
        code=code_identity_of("decontamination_merge"),
    script:
        "../scripts/decontamination_merge.py"


rule subset:
    input:
        parent=subset_parent,
    output:
        decontaminated=wf.DECONTAMINATED,
        report=wf.REPORT,
    log:
        "results/logs/datasets/{dataset}/subset.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/subset.tsv"
    wildcard_constraints:
        dataset=wf.name_pattern(wf.datasets_of_kind(config, "subset_of")),
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["subset"],
    params:
        python=lambda wildcards: dataset_spec(wildcards)["python"],
        rule=lambda wildcards: dataset_spec(wildcards)["python_rule"],
        size=lambda wildcards: dataset_spec(wildcards)["python_sample_size"],
        seed=lambda wildcards: dataset_spec(wildcards)["python_sample_seed"],
        code=code_identity_of("subset"),
    script:
        "../scripts/subset.py"


rule training_set:
    input:
        final_samples,
    output:
        wf.TRAIN,
    log:
        "results/logs/datasets/{dataset}/train.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/train.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["training_set"],
    params:
        # The instruction's wording: a change rewrites train.jsonl (and retrains).
        instruction=lambda wildcards: dataset_spec(wildcards)["instruction"],
        code=code_identity_of("training_set"),
    script:
        "../scripts/training_set.py"


rule dataset_card:
    input:
        unpack(card_inputs),
    output:
        card=wf.CARD,
        tokens=report(
            wf.TOKEN_FIGURE,
            caption="../report/token_lengths.rst",
            category="Datasets",
            subcategory="{dataset}",
        ),
        languages=report(
            wf.LANGUAGE_FIGURE,
            caption="../report/languages.rst",
            category="Datasets",
            subcategory="{dataset}",
        ),
    log:
        "results/logs/datasets/{dataset}/card.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/card.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["dataset_card"],
    params:
        spec=dataset_spec,
        teacher=lambda wildcards: dataset_teacher(wildcards.dataset),
        code=code_identity_of("dataset_card"),
    script:
        "../scripts/dataset_card.py"


rule humaneval_similarity:
    input:
        expand(wf.DECONTAMINATED, dataset=dataset_specs(config)),
    output:
        report(
            wf.SIMILARITY_FIGURE,
            caption="../report/humaneval_similarity.rst",
            category="Datasets",
        ),
    log:
        "results/logs/datasets/humaneval_similarity.log",
    benchmark:
        "results/benchmarks/datasets/humaneval_similarity.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["humaneval_similarity"],
    params:
        datasets=list(dataset_specs(config)),
        humaneval=lambda wildcards: wf.content_identity(
            wf.benchmark_source(config, "humaneval")
        ),
        code=code_identity_of("humaneval_similarity"),
    script:
        "../scripts/humaneval_similarity.py"


rule push_dataset:
    input:
        samples=final_samples,
        card=wf.CARD,
    output:
        wf.PUSHED,
    log:
        "results/logs/datasets/{dataset}/push.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/push.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["push_dataset"],
    params:
        repo_id=lambda wildcards: dataset_spec(wildcards)["push_to_hub"],
        code=code_identity_of("push_dataset"),
    script:
        "../scripts/push_dataset.py"


rule verify_samples:
    input:
        samples=wf.DECONTAMINATED,
    output:
        verified=wf.VERIFIED,
        rejected=wf.VERIFY_REJECTED,
        report=wf.VERIFY_REPORT,
        figure=report(
            wf.VERIFY_FIGURE,
            caption="../report/verify_pass_rate.rst",
            category="Datasets",
            subcategory="{dataset}",
        ),
    log:
        "results/logs/datasets/{dataset}/verify.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/verify.tsv"
    wildcard_constraints:
        dataset=wf.name_pattern(wf.datasets_verified(config)),
    conda:
        "../envs/data.yaml"
    threads: lambda wildcards: wf.verify_resources(config)["cpus_per_task"]
    resources:
        runtime=verify_resource("runtime"),
        mem_mb=verify_resource("mem_mb"),
        cpus_per_task=verify_resource("cpus_per_task"),
    params:
        mode=lambda wildcards: dataset_spec(wildcards)["verify"],
        # The limits change results; the cache directory and workers do not.
        limits={
            k: config["verification"][k]
            for k in ("timeout_s", "compile_timeout_s", "memory_mb")
        },
        code=code_identity_of("verify_samples"),
    script:
        "../scripts/verify_samples.py"


rule mine_comment_pairs:
    input:
        seeds=wf.SEEDS,
        pool=seed_pool_input,
    output:
        wf.MINED_PAIRS,
    log:
        "results/logs/comment-pairs/{corpus}/{lang}/{shard}.log",
    benchmark:
        "results/benchmarks/comment-pairs/{corpus}/{lang}/{shard}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["mine_comment_pairs"],
    params:
        # The shard's own spec: the script reads its documents again from it.
        spec=seed_spec_identity,
        grammars=comment_pair_grammars(),
        code=code_identity_of("mine_comment_pairs"),
    script:
        "../scripts/mine_comment_pairs.py"


rule comment_pairs:
    input:
        mined=lambda wildcards: wf.mined_pair_paths(config, wildcards.dataset),
        reference=lambda wildcards: wf.comment_pairs_reference(
            config, wildcards.dataset
        ),
        strings=expand(
            wf.BENCHMARK_STRINGS, benchmark=config["decontamination"]["benchmarks"]
        ),
    output:
        clean=wf.CLEAN,
        rejected=wf.REJECTED,
    log:
        "results/logs/datasets/{dataset}/comment_pairs.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/comment_pairs.tsv"
    wildcard_constraints:
        dataset=wf.name_pattern(wf.datasets_of_kind(config, "comment_pairs")),
    conda:
        "../envs/data.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["comment_pairs"],
    params:
        spec=lambda wildcards: dataset_spec(wildcards)["comment_pairs"],
        fields=config["decontamination"]["fields"],
        join=config["decontamination"]["join"],
        code=code_identity_of("comment_pairs"),
    script:
        "../scripts/comment_pairs.py"
