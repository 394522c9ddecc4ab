# OSS-Instruct (Magicoder) as a file-targeted workflow:
#   seeds -> generations -> curated sets -> checkpoints -> results (eval + summary)
# config.yaml is the paper's full study; presets/demo.yaml runs offline on one machine:
#   snakemake --configfile presets/demo.yaml --cores 2


from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/prefetch.smk"
include: "rules/seeds.smk"
include: "rules/generate.smk"
include: "rules/curate.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"


# The checks look at the jobs this command will run, not at every target of the study.
onstart:
    check_slurm()
    check_api_keys(planned_jobs())
    check_teachers()
    report_cost()
    check_toolchains(planned_jobs())


rule all:
    default_target: True
    input:
        all_targets(config),
