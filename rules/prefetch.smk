# Downloads before the jobs that need them (ossinstruct/prefetch.py): hub models and
# datasets, benchmark release files, tiktoken's BPE file, into downloads.cache_dir. A
# localrule: it runs where snakemake runs, which has the network (compute nodes may not).
# `snakemake --until prefetch` fetches everything the study needs and runs nothing else.


# push_dataset (push_to_hub) uploads to the hub: the same holds for it.
localrules:
    prefetch,
    push_dataset,


rule prefetch:
    output:
        prefetch.marker_path(config, "{item}"),
    log:
        "results/logs/prefetch/{item}.log",
    benchmark:
        "results/benchmarks/prefetch/{item}.tsv"
    wildcard_constraints:
        item=wf.name_pattern(list(DOWNLOADS)),
    conda:
        "../envs/inference.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["prefetch"],
    params:
        # What is fetched (repository and revision, file patterns, release and version).
        item=lambda wildcards: DOWNLOADS[wildcards.item].spec,
        code=code_identity_of("prefetch"),
    script:
        "../scripts/prefetch.py"
