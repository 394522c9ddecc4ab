rule train:
    input:
        unpack(train_inputs),
    output:
        model=directory(wf.CHECKPOINT),
        loss_curve=report(
            wf.LOSS_CURVE,
            caption="../report/loss_curve.rst",
            category="Checkpoints",
        ),
    log:
        "results/logs/train/{checkpoint}.log",
    benchmark:
        "results/benchmarks/train/{checkpoint}.tsv"
    conda:
        "../envs/train.yaml"
    threads: train_resource("cpus_per_task")
    # gpu: the job's total; nodes > 1 adds mpi, tasks, tasks_per_gpu and gres (None, so
    # absent, on one node): see ossinstruct.workflow.train_resources.
    resources:
        gpu=train_resource("gpu"),
        nodes=train_resource("nodes"),
        cpus_per_task=train_resource("cpus_per_task"),
        mem_mb=train_resource("mem_mb"),
        runtime=train_resource("runtime"),
        mpi=train_resource("mpi"),
        tasks=train_resource("tasks"),
        tasks_per_gpu=train_resource("tasks_per_gpu"),
        gres=train_resource("gres"),
    params:
        # Base, dataset, maximum length and every TrainConfig field in force (the code's
        # defaults included), checkpoint cadence and logging aside: a change retrains.
        config=train_identity_json,
        accelerate_config=train_accelerate_config,
        strategy=lambda wildcards: wf.train_recipe(config, wildcards.checkpoint)[
            "training"
        ]["strategy"],
        # TensorBoard's event files (training.report_to), kept beside the job's log.
        logging_dir=lambda wildcards: f"results/logs/train/{wildcards.checkpoint}.tensorboard",
        # Trainer checkpoints live outside the output, so a preempted or killed job
        # resumes from them after Snakemake removed its incomplete output.
        work_dir=lambda wildcards: wf.TRAIN_WORK.format(checkpoint=wildcards.checkpoint),
        code=code_identity_of("train"),
    script:
        "../scripts/train.py"
