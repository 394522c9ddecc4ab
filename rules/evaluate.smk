# Evaluation (paper §3.1, Tables 1-4 and 8-9): HumanEval(+) and MBPP(+) (evalplus's
# checks), MultiPL-E (compiled and run per language), and the benchmarks scored per
# sample. Generation (GPU) and scoring (CPU, sandboxed) are separate jobs: GPU jobs never
# wait on test execution, and a scoring change reruns scoring only.


rule eval_data:
    input:
        # A release file or hub dataset, fetched by rule prefetch (ossinstruct/prefetch.py).
        downloads=downloads("eval_data", "benchmark"),
    output:
        tasks=wf.EVAL_TASKS,
        info=wf.EVAL_DATA_INFO,
        expected=wf.EVAL_EXPECTED,
    log:
        "results/logs/eval/data/{benchmark}.log",
    benchmark:
        "results/benchmarks/eval/data/{benchmark}.tsv"
    wildcard_constraints:
        benchmark=EVAL_BENCHMARKS,
    conda:
        "../envs/eval.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["eval_data"],
    params:
        data=eval_data_spec,
        limit=eval_limit,
        code=code_identity_of("eval_data"),
    script:
        "../scripts/eval_data.py"


# One generation job per model (GPU): every benchmark's requests go to one engine, one
# model load, and each response is cached as it arrives; then one small job per benchmark
# writes its samples file from the cache. A changed benchmark identity reruns the model's
# job: a model load and only that benchmark's new requests (the others' are cached).
rule eval_generate_model:
    input:
        unpack(eval_generate_model_inputs),
    output:
        manifest=wf.EVAL_GENERATION,
    log:
        "results/logs/eval/{model}/generate.log",
    benchmark:
        "results/benchmarks/eval/{model}/generate.tsv"
    conda:
        eval_conda_env
    threads: eval_generate_resource("cpus_per_task")
    resources:
        runtime=eval_generate_resource("runtime"),
        mem_mb=eval_generate_resource("mem_mb"),
        cpus_per_task=eval_generate_resource("cpus_per_task"),
        gpu=eval_generate_resource("gpu"),
    params:
        # Per benchmark: model, prompt style, engine, dtype and decoding. Batch size and
        # memory settings are read from config by the script.
        generations=eval_model_generation_json,
        code=code_identity_of("eval_generate_model", eval_model_benchmarks),
    script:
        "../scripts/eval_generate_model.py"


rule eval_generate:
    input:
        unpack(eval_generate_inputs),
    output:
        samples=wf.EVAL_SAMPLES,
    log:
        "results/logs/eval/{model}/{benchmark}.generate.log",
    benchmark:
        "results/benchmarks/eval/{model}/{benchmark}.generate.tsv"
    wildcard_constraints:
        benchmark=EVAL_BENCHMARKS,
    # The generation job's env: the same tokenizer, hence the same request keys.
    conda:
        eval_conda_env
    resources:
        **wf.DEFAULT_RESOURCES["eval_generate"],
    params:
        generation=eval_generation_json,
        code=code_identity_of("eval_generate"),
    script:
        "../scripts/eval_generate.py"


# The harness self-check (evaluation.self_check): the benchmark's reference solutions as
# the samples of the pseudo-model reference-solutions, scored by eval_score like any model.
rule eval_reference:
    input:
        tasks=wf.EVAL_TASKS,
    output:
        samples=wf.EVAL_REFERENCE_SAMPLES,
    log:
        f"results/logs/eval/{wf.REFERENCE_MODEL}/{{benchmark}}.generate.log",
    benchmark:
        f"results/benchmarks/eval/{wf.REFERENCE_MODEL}/{{benchmark}}.generate.tsv"
    wildcard_constraints:
        benchmark=EVAL_BENCHMARKS,
    conda:
        "../envs/eval.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["eval_reference"],
    params:
        code=code_identity_of("eval_reference"),
    script:
        "../scripts/eval_reference.py"


# One scoring rule, three names: each benchmark's plug-in says which (its scoring_rule), and
# all three run the one scorer (ossinstruct/evaluate/score.py). The two derived names exist
# because a rule's output files cannot depend on its wildcards (MultiPL-E alone exports a
# directory) and because the jobs keep the names, params and outputs a finished study's
# metadata records (renaming would rerun every scoring job). eval_score takes
# HumanEval+/MBPP+, whose params hold evaluation.scoring (evalplus's settings) and whose
# self-check pseudo-model it scores too.
rule eval_score:
    input:
        samples=wf.EVAL_SAMPLES,
        tasks=wf.EVAL_TASKS,
        info=wf.EVAL_DATA_INFO,
        expected=wf.EVAL_EXPECTED,
    output:
        result=wf.EVAL_RESULT,
        tasks=wf.EVAL_TASK_RESULTS,
    log:
        "results/logs/eval/{model}/{benchmark}.score.log",
    benchmark:
        "results/benchmarks/eval/{model}/{benchmark}.score.tsv"
    wildcard_constraints:
        benchmark=EVALPLUS_BENCHMARKS,
        # Every evaluated model and the self-check's pseudo-model.
        model=wf.name_pattern([*evaluated_models(config), wf.REFERENCE_MODEL]),
    conda:
        "../envs/eval.yaml"
    threads: eval_score_resource("cpus_per_task")
    resources:
        runtime=eval_score_resource("runtime"),
        mem_mb=eval_score_resource("mem_mb"),
        cpus_per_task=eval_score_resource("cpus_per_task"),
    params:
        scoring=json.dumps(wf.eval_scoring_identity(config), sort_keys=True),
        generation=eval_generation_json,
        code=code_identity_of("eval_score"),
    script:
        "../scripts/eval_score.py"


# DS-1000, APPS and any benchmark scored per sample: its params hold the scoring settings of
# its own block (evaluation.<settings_key>).
use rule eval_score as eval_score_sampled with:
    wildcard_constraints:
        benchmark=SAMPLED_BENCHMARKS,
        model=wf.name_pattern([*evaluated_models(config), wf.REFERENCE_MODEL]),
    params:
        scoring=eval_sampled_scoring_json,
        code=code_identity_of("eval_score_sampled"),


# MultiPL-E (Table 2; the greedy variant for Tables 5/6): every distinct program compiled
# and run once in the sandbox, through the execution cache, and bigcode-evaluation-harness
# generations exported. On a cluster without the toolchains, run with
# --software-deployment-method conda apptainer: the conda env inside MultiPL-E's evaluation
# image (evaluation.multipl_e.container), which has all six. No reference solutions: no
# self-check pseudo-model.
use rule eval_score as eval_score_multiple with:
    output:
        result=wf.EVAL_RESULT,
        tasks=wf.EVAL_TASK_RESULTS,
        exports=directory(wf.EVAL_EXPORTS),
    wildcard_constraints:
        benchmark=MULTIPLE_BENCHMARKS,
        model=wf.name_pattern(list(evaluated_models(config))),
    container:
        config["evaluation"]["multipl_e"]["container"]
    params:
        scoring=eval_sampled_scoring_json,
        code=code_identity_of("eval_score_multiple"),


rule eval_summary:
    input:
        results=[
            path
            for path in wf.eval_targets(config)
            if path.startswith("results/eval/")
        ],
    output:
        markdown=wf.SUMMARY_MD,
        csv=wf.SUMMARY_CSV,
        figure=report(
            wf.SUMMARY_FIGURE,
            caption="../report/summary.rst",
            category="Evaluation",
        ),
    log:
        "results/logs/eval/summary.log",
    benchmark:
        "results/benchmarks/eval/summary.tsv"
    conda:
        "../envs/eval.yaml"
    resources:
        **wf.DEFAULT_RESOURCES["eval_summary"],
    params:
        # Only when set (presets/verified.yaml): the paper's summary keeps its params.
        **(
            {"verification_study": config["verification_study"]}
            if config.get("verification_study")
            else {}
        ),
        # Which paper row each model is compared with: a change redraws only the summary.
        paper_rows={
            name: spec["paper_row"] for name, spec in evaluated_models(config).items()
        },
        code=code_identity_of("eval_summary"),
    script:
        "../scripts/eval_summary.py"
