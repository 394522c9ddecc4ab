"""Supervised fine-tuning on OSS-Instruct / Evol-Instruct records (paper §3, Appendix B.3).

    python -m ossinstruct.train.recipe --base-model embedded:gemma-3-270m \\
        --train-file results/trainset/oss-instruct.jsonl --output-dir results/models/magicoder \\
        --max-length 1216 --lora-r 8 --max-steps 3

The recipe, as in TRL's ``sft`` script: load a base model and its tokenizer, load the
prompt/completion records written by `ossinstruct.curate.trainset`, hand both to TRL's
`SFTTrainer` with an `SFTConfig`, train, save. What this module adds around that:

Paper defaults (B.3)
    2 epochs, Adafactor, learning rate 5e-5 with a linear schedule and 15 warmup steps,
    batch size 512, bf16, sequences truncated at 1216 tokens (OSS-Instruct; 1024 for the
    Evol-Instruct stage), DDP over the GPUs, and no gradient clipping (the authors'
    README-DEV.md: ``--max_grad_norm -1``; ``max_grad_norm`` sets a norm). `TrainConfig`'s
    defaults are these, except `max_length`, which each stage sets.

Batch size
    The effective batch is reached by gradient accumulation, computed from the processes
    actually launched: ``accumulation = ceil(effective_batch_size / (per_device_batch_size
    * WORLD_SIZE))`` (WORLD_SIZE is set by ``accelerate launch``/torchrun; 1 otherwise).
    When the division is not exact the real effective batch is a little larger; it is
    logged and written to the manifest. With ``packing`` a batch row is a packed sequence
    of up to `max_length` tokens holding several samples, so "batch size" then counts
    rows, not samples.

Template, EOS, masking, truncation
    Records are ``{"prompt", "completion"}``; the prompt already holds MAGICODER_PROMPT.
    ``tokenization="separate"`` (default) encodes them as the authors' train.py does:
    BOS + the prompt, and the response + EOS, each tokenized alone without special tokens,
    then concatenated (`encode_separately`); TRL builds the labels (-100 over the prompt)
    and truncates. ``tokenization="joint"`` is TRL's own preparation, below: TRL appends
    ``tokenizer.eos_token`` to each completion (unless it already ends with it), tokenizes
    prompt and prompt+completion with the tokenizer's own special tokens
    (so BOS, when the tokenizer adds one, appears once, at the start) and, with
    ``completion_only_loss=True``, sets the labels of the prompt tokens to -100. A
    tokenizer whose post-processor appends EOS by itself would end every sequence with
    two EOS tokens; `prepare_tokenizer` switches that off (the saved tokenizer no longer
    appends EOS, which is also what generation needs). After TRL's preparation,
    `dataset_stats` checks that every sequence that was not truncated ends with exactly
    one supervised EOS. Sequences longer than `max_length` are cut from the right
    (``truncation_mode="keep_start"``): the prompt is kept, the response is cut and has no
    EOS. A sample whose prompt alone fills `max_length` has nothing to learn from: as the
    authors' train.py, it is kept (``keep_prompt_only``, with separate tokenization and
    no packing: the rows are cut in `encode_separately` and TRL's ``max_length`` is
    unset); otherwise TRL drops it. The manifest counts both. Padding is added by TRL's collator with
    label -100, so a pad token equal to EOS does not mask the EOS of the completion.
    BPE merges across the prompt/completion boundary are handled by TRL: the completion
    starts where the tokenized prompt and prompt+completion first differ.

Precision
    bf16 (mixed precision, and bf16 weights when ``model_dtype="auto"``, as in the
    authors' code) only where it is supported: a CUDA device with bf16. On a CPU or an
    older GPU the run falls back to float32 and says so in the log and the manifest.

Resume, work directory, outputs
    Trainer checkpoints (``checkpoint-<step>``) go to `work_dir` (default
    ``<output_dir>.work``), not to `output_dir`. The Snakemake rule's output is
    ``directory(output_dir)``: Snakemake deletes an incomplete output before re-running
    a job, so a preempted/requeued SLURM job finds its checkpoints in `work_dir` and
    resumes from the last complete one (one with trainer_state.json, which the Trainer
    writes last) instead of starting over. `work_dir/run.json` records what the
    checkpoints were trained on (dataset hash, base model, hyperparameters); checkpoints
    of a different run are deleted rather than resumed. The final model is written into
    ``<parent>/.<name>.partial`` and renamed onto `output_dir` only when everything in it
    is written; then `work_dir` is removed (``keep_work_dir=True`` keeps it).

    `output_dir` holds: the model (a full checkpoint; with LoRA and ``merge_lora=True``
    the adapter merged into the base weights, so evaluation loads it like any model, and
    the adapter itself in ``adapter/``; with ``merge_lora=False`` only the adapter plus
    ``base_model.json`` naming its base), the tokenizer, trainer_state.json,
    loss_curve.png and manifest.json (dataset sha256, base model and revision, resolved
    hyperparameters incl. accumulation and world size, library versions, git commit,
    start/end time, tokens seen).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ossinstruct.files import InputError, read_jsonl, write_json_atomic
from ossinstruct.train.config import (  # noqa: F401 - part of this module's API
    CHECKPOINT_RE,
    LIBRARIES,
    LORA_DEFAULT_TARGETS,
    MANIFEST,
    MODEL_DTYPES,
    OPTIMIZERS,
    RUN_FILE,
    SCHEDULE_FIELDS,
    TOKENIZATIONS,
    TrainConfig,
    gradient_accumulation_steps,
    normalise_lora,
    resolve_hyperparameters,
    resolve_precision,
    sft_arguments,
    world_size,
)
from ossinstruct.train.lora import finish_model
from ossinstruct.train.manifest import (  # noqa: F401 - part of this module's API
    _now,
    git_commit,
    library_versions,
    plot_loss_curve,
)
from ossinstruct.train.resume import (  # noqa: F401 - part of this module's API
    last_checkpoint,
    prepare_work_dir,
    run_fingerprint,
)

logger = logging.getLogger("ossinstruct.train")


# --------------------------------------------------------------------------- tokenizer


def prepare_tokenizer(tokenizer) -> dict:
    """Make the tokenizer fit TRL's prompt/completion path; return what was changed.

    TRL appends the EOS *string* to each completion. A tokenizer whose post-processor also
    appends EOS would give two; its post-processor is replaced by one that adds the same
    leading special tokens (BOS) and no EOS.
    """
    if tokenizer.eos_token is None or tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token: the model could never learn to stop")
    changes: dict[str, Any] = {
        "eos_token": tokenizer.eos_token,
        "pad_token": tokenizer.pad_token,
        "auto_eos_disabled": False,
    }
    probe = tokenizer("x")["input_ids"]
    if not probe or probe[-1] != tokenizer.eos_token_id:
        return changes
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(
            f"{type(tokenizer).__name__} appends EOS to every text and is not a fast tokenizer "
            "whose post-processor can be changed; TRL would end each sample with two EOS tokens"
        )
    from tokenizers import processors

    core = tokenizer("x", add_special_tokens=False)["input_ids"]
    leading = probe[: len(probe) - len(core) - 1]
    names = tokenizer.convert_ids_to_tokens(leading)
    prefix = "".join(f"{name}:0 " for name in names)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{prefix}$A:0",
        pair=f"{prefix}$A:0 $B:1",
        special_tokens=sorted(set(zip(names, leading))),
    )
    if hasattr(tokenizer, "_add_eos_token"):  # transformers' own flag, so save/reload agree
        object.__setattr__(tokenizer, "_add_eos_token", False)
    probe = tokenizer("x")["input_ids"]
    if probe and probe[-1] == tokenizer.eos_token_id:
        raise ValueError("could not stop the tokenizer from appending EOS by itself")
    changes["auto_eos_disabled"] = True
    logger.info("the tokenizer appended EOS to every text; switched off (TRL appends it once)")
    return changes


# --------------------------------------------------------------------------- data


def load_records(train_file: str | os.PathLike):
    """The prompt/completion columns of a train.jsonl as a datasets.Dataset."""
    from datasets import Dataset

    prompts, completions = [], []
    for n, record in enumerate(read_jsonl(train_file, what="training record"), 1):
        prompt, completion = record.get("prompt"), record.get("completion")
        if not isinstance(prompt, str) or not isinstance(completion, str) or not completion:
            raise InputError(f"{train_file}: record {n} needs a string prompt and a non-empty string completion")
        prompts.append(prompt)
        completions.append(completion)
    if not prompts:
        raise InputError(f"{train_file}: no training records (expected prompt/completion lines)")
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


def encode_separately(dataset, tokenizer, max_length: int | None = None):
    """The authors' encoding (their train.py, TokenizationContext.encode): the prompt with
    BOS and the response with EOS, each tokenized alone without the tokenizer's special
    tokens, then concatenated; the response tokens are the completion mask. TRL takes the
    result as it is (input_ids + completion_mask: it builds the labels). With `max_length`
    the rows are cut here, as theirs, so that TRL neither truncates nor drops a row whose
    prompt fills it (their train.py keeps it, with no supervised token)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id]

    def encode(batch):
        prompts = tokenizer(batch["prompt"], add_special_tokens=False)["input_ids"]
        responses = tokenizer(batch["completion"], add_special_tokens=False)["input_ids"]
        ids, masks = [], []
        for prompt, response in zip(prompts, responses, strict=True):
            prompt, response = bos + prompt, response + eos
            ids.append((prompt + response)[:max_length])
            masks.append(([0] * len(prompt) + [1] * len(response))[:max_length])
        return {"input_ids": ids, "completion_mask": masks}

    return dataset.map(encode, batched=True, remove_columns=["prompt", "completion"])


def _prompt_only_rows(dataset) -> int:
    """Rows without a supervised token (a prompt that fills max_length, kept as theirs)."""
    return sum(1 for labels in dataset["labels"] if all(label == -100 for label in labels))


def dataset_stats(dataset, eos_token_id: int, max_length: int, packed: bool) -> dict:
    """Token counts of the prepared (tokenized, masked, truncated) dataset, and the EOS check:
    every sequence shorter than max_length ends with one supervised EOS, not two."""
    import numpy as np
    import pyarrow.compute as pc

    table = dataset.with_format("arrow")[:]
    ids = table.column("input_ids").combine_chunks()
    labels = table.column("labels").combine_chunks()
    lengths = pc.list_value_length(ids).to_numpy(zero_copy_only=False)
    flat_labels = pc.list_flatten(labels).to_numpy(zero_copy_only=False)
    stats = {
        "rows": int(len(lengths)),
        "tokens": int(lengths.sum()),
        "supervised_tokens": int((flat_labels != -100).sum()),
        "max_row_length": int(lengths.max()) if len(lengths) else 0,
    }
    if packed:
        return stats
    flat_ids = pc.list_flatten(ids).to_numpy(zero_copy_only=False)
    ends = np.cumsum(lengths) - 1
    full = lengths >= max_length
    last_ids, last_labels = flat_ids[ends], flat_labels[ends]
    with_eos = (last_ids == eos_token_id) & (last_labels == eos_token_id)
    stats["truncated"] = int((full & ~with_eos).sum())
    missing = ~full & ~with_eos
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise RuntimeError(f"prepared sample {row} is not truncated but does not end with a supervised EOS token")
    doubled = with_eos & (lengths > 1) & (flat_ids[np.maximum(ends - 1, 0)] == eos_token_id)
    if doubled.any():
        row = int(np.flatnonzero(doubled)[0])
        raise RuntimeError(f"prepared sample {row} ends with EOS twice")
    return stats


# --------------------------------------------------------------------------- the recipe


@dataclass
class Run:
    """Everything `build_trainer` resolved, for `train` and for inspection in tests."""

    config: TrainConfig
    hyperparameters: dict
    work_dir: Path
    resume_from: Path | None
    dataset_sha256: str
    examples: int
    tokenizer_changes: dict
    stats: dict = field(default_factory=dict)
    base_resolved: str | None = None
    started_at: str = field(default_factory=_now)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _check_base_is_full_model(source: str) -> None:
    path = Path(source)
    adapter_only = (path / "adapter_config.json").is_file() and not (path / "config.json").is_file()
    if path.is_dir() and adapter_only:
        raise ValueError(
            f"{source} holds a LoRA adapter, not a full model: train the previous stage with "
            "merge_lora=True to continue from it"
        )


def _strategy(args) -> str:
    """ddp, fsdp or deepspeed: what the launcher started (accelerate's distributed type)."""
    kind = str(getattr(args.distributed_state, "distributed_type", "")).upper()
    return "fsdp" if "FSDP" in kind else "deepspeed" if "DEEPSPEED" in kind else "ddp"


def _plan_memory(config: TrainConfig, hp: dict, args, model) -> dict:
    """Resolve gradient_checkpointing "auto" from the memory estimate for this GPU, set it on
    the trainer's arguments, and log the estimate (ossinstruct.train.memory) at job start."""
    from ossinstruct.train import memory

    gpu_memory = memory.device_memory_gib()
    hp = {**hp, "strategy": _strategy(args)}
    checkpointing, estimate, why = memory.job_plan(
        model.config.to_dict(), hp, config.gradient_checkpointing, gpu_memory
    )
    args.activation_checkpointing = args.gradient_checkpointing = checkpointing
    hp["gradient_checkpointing"] = checkpointing
    if estimate is None:
        logger.info("no memory estimate: %s", why)
        return hp
    hp["memory_estimate"] = estimate.as_dict()
    if args.distributed_state.is_main_process:
        where = f"this GPU's {gpu_memory:.1f} GiB" if gpu_memory else "no GPU: a CPU run"
        logger.info(
            "estimated peak memory per process (gradient checkpointing %s%s; %s):\n%s",
            "on" if checkpointing else "off",
            ", auto" if config.gradient_checkpointing == "auto" else "",
            where,
            "\n".join(estimate.lines()),
        )
        if gpu_memory and not estimate.fits(gpu_memory):
            logger.warning(
                "the estimate (%.1f GiB) exceeds this GPU's %.1f GiB: expect CUDA out of memory "
                "(python -m ossinstruct plan lists settings that fit)",
                estimate.required_gib(),
                gpu_memory,
            )
    return hp


def build_trainer(config: TrainConfig, callbacks: list | None = None):
    """Load model, tokenizer and data, and build the SFTTrainer (no training yet).

    Returns (trainer, Run). The trainer's train_dataset is what training will see:
    tokenized, with -100 over the prompt, EOS appended, truncated at max_length.
    """
    from trl import SFTConfig, SFTTrainer

    from ossinstruct.llm.models import (
        load_causal_lm,
        load_tokenizer,
        resolve_model,
        sha256_file,
    )

    hp = resolve_hyperparameters(config)
    work_dir = config.resolved_work_dir
    args = SFTConfig(**sft_arguments(config, hp, cuda=_cuda()))
    # Creating the arguments set up the process group: trust its world size over the
    # environment's (they differ only when a launcher's processes did not join one group).
    if args.world_size != hp["world_size"]:
        logger.warning(
            "WORLD_SIZE says %d processes but %d joined the run; using %d",
            hp["world_size"],
            args.world_size,
            args.world_size,
        )
        hp = resolve_hyperparameters(config, processes=args.world_size)
        args.gradient_accumulation_steps = hp["gradient_accumulation_steps"]
    state = args.distributed_state

    dataset_sha256 = sha256_file(config.train_file)
    resume_from = None
    if state.is_main_process:
        resume_from = prepare_work_dir(work_dir, run_fingerprint(config, dataset_sha256))
    state.wait_for_everyone()
    if not state.is_main_process:
        resume_from = last_checkpoint(work_dir)

    logger.info(
        "world size %d x per-device batch %d x accumulation %d = effective batch %d "
        "(requested %d); precision %s, weights %s",
        hp["world_size"],
        hp["per_device_batch_size"],
        hp["gradient_accumulation_steps"],
        hp["effective_batch_size"],
        hp["effective_batch_size_requested"],
        hp["precision"],
        hp["model_dtype"],
    )
    if config.bf16 and hp["precision"] != "bf16":
        logger.warning("bf16 asked for but not supported here (no CUDA bf16 device): float32")

    source, _ = resolve_model(config.base_model)
    _check_base_is_full_model(source)
    tokenizer = load_tokenizer(config.base_model, config.base_revision, padding_side="right")
    tokenizer_changes = prepare_tokenizer(tokenizer)
    model_kwargs = {}
    if config.attn_implementation:
        model_kwargs["attn_implementation"] = config.attn_implementation
    model = load_causal_lm(
        config.base_model, config.base_revision, dtype=hp["model_dtype"], device=None, **model_kwargs
    )
    hp = _plan_memory(config, hp, args, model)
    dataset = load_records(config.train_file)
    # The authors' handling of over-long samples: cut here, none dropped (TRL would drop a
    # row left without a supervised token). Packing chunks rows itself: TRL's path then.
    cut_here = config.tokenization == "separate" and config.keep_prompt_only and not config.packing
    if config.tokenization == "separate":
        dataset = encode_separately(dataset, tokenizer, config.max_length if cut_here else None)
    if cut_here:
        args.max_length = None  # rows are already cut; TRL must not drop prompt-only rows

    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora["r"],
            lora_alpha=config.lora["alpha"],
            lora_dropout=config.lora["dropout"],
            target_modules=config.lora["target_modules"],
            bias="none",
            task_type="CAUSAL_LM",
        )

    # transformers 5 takes the TensorBoard directory only from this variable, read when
    # the trainer builds its callbacks.
    saved = os.environ.get("TENSORBOARD_LOGGING_DIR")
    if config.logging_dir:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(config.logging_dir)
    try:
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
        )
    finally:
        if saved is None:
            os.environ.pop("TENSORBOARD_LOGGING_DIR", None)
        else:
            os.environ["TENSORBOARD_LOGGING_DIR"] = saved
    run = Run(
        config=config,
        hyperparameters=hp,
        work_dir=work_dir,
        resume_from=resume_from,
        dataset_sha256=dataset_sha256,
        examples=len(dataset),
        tokenizer_changes=tokenizer_changes,
        base_resolved=source,
    )
    run.stats = dataset_stats(trainer.train_dataset, tokenizer.eos_token_id, config.max_length, packed=config.packing)
    run.stats["dropped_prompt_too_long"] = None if config.packing else len(dataset) - run.stats["rows"]
    run.stats["kept_prompt_only"] = _prompt_only_rows(trainer.train_dataset) if cut_here else 0
    if trainer.is_world_process_zero():
        logger.info("prepared %d samples: %s", len(dataset), run.stats)
    return trainer, run


def train(config: TrainConfig, callbacks: list | None = None) -> dict:
    """Fine-tune config.base_model on config.train_file; write config.output_dir.

    Resumes from the last complete checkpoint in the work directory when there is one.
    Returns the manifest (also written to output_dir/manifest.json).
    `callbacks` are extra transformers TrainerCallbacks (tests use one to interrupt a run).
    """
    if not Path(config.train_file).is_file():
        raise InputError(f"{config.train_file}: no such file (expected a train.jsonl of prompt/completion records)")
    start, started_at = time.monotonic(), _now()
    trainer, run = build_trainer(config, callbacks)
    run.started_at = started_at
    if run.resume_from is not None:
        logger.info("resuming from %s", run.resume_from)
    result = trainer.train(resume_from_checkpoint=str(run.resume_from) if run.resume_from else None)

    output_dir = Path(config.output_dir)
    partial = output_dir.with_name(f".{output_dir.name}.partial")
    if trainer.is_world_process_zero() and partial.exists():
        shutil.rmtree(partial)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(partial))  # every rank: FSDP/ZeRO-3 gather the weights here
    trainer.accelerator.wait_for_everyone()

    manifest = None
    if trainer.is_world_process_zero():
        output_format = finish_model(
            trainer,
            run.config,
            partial,
            base_resolved=run.base_resolved,
            model_dtype=run.hyperparameters["model_dtype"],
        )
        trainer.state.save_to_json(str(partial / "trainer_state.json"))
        plot_loss_curve(
            trainer.state.log_history,
            partial / "loss_curve.png",
            title=f"{config.dataset_name or Path(config.train_file).stem}: {config.base_model}",
        )
        manifest = _manifest(run, trainer, result, output_format, time.monotonic() - start)
        write_json_atomic(partial / MANIFEST, manifest)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        os.replace(partial, output_dir)
        if not config.keep_work_dir:
            shutil.rmtree(run.work_dir, ignore_errors=True)
        logger.info("wrote %s (%s) in %.0f s", output_dir, output_format, time.monotonic() - start)
    trainer.accelerator.wait_for_everyone()
    if manifest is None:
        manifest = json.loads((output_dir / MANIFEST).read_text())
    return manifest


def _peak_gpu_memory_gib() -> float | None:
    """torch's peak allocated CUDA memory of this process (rank 0's GPU), None on CPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 3)


def _manifest(run: Run, trainer, result, output_format: str, runtime_s: float) -> dict:
    config = run.config
    state = trainer.state
    losses = [e["loss"] for e in state.log_history if "loss" in e]
    return {
        "dataset": {
            "name": config.dataset_name or Path(config.train_file).stem,
            "train_file": str(config.train_file),
            "sha256": run.dataset_sha256,
            "examples": run.examples,
            **run.stats,
        },
        "base_model": {"spec": config.base_model, "revision": config.base_revision, "resolved": run.base_resolved},
        "hyperparameters": run.hyperparameters,
        "tokenizer": run.tokenizer_changes,
        "output": {"format": output_format, "dir": str(config.output_dir)},
        "training": {
            "global_step": state.global_step,
            "epoch": state.epoch,
            "resumed_from": str(run.resume_from) if run.resume_from else None,
            "train_loss_this_attempt": getattr(result, "training_loss", None),
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "tokens_seen": state.num_input_tokens_seen or None,
            "tokens_seen_note": "non-padding input tokens over all processes, kept across resumes",
            "runtime_s_this_attempt": round(runtime_s, 2),
            # beside hyperparameters.memory_estimate: the measurement that calibrates it
            "peak_gpu_memory_allocated_gib": _peak_gpu_memory_gib(),
        },
        "config": dataclasses.asdict(config),
        "versions": library_versions(),
        "git_commit": git_commit(),
        "started_at": run.started_at,
        "finished_at": _now(),
    }


# --------------------------------------------------------------------------- CLI


# The flags come from TrainConfig's fields through transformers' HfArgumentParser, as in
# TRL's scripts: --field-name (also --field_name), typed by the field's annotation, with
# FLAG_HELP and FLAG_CHOICES; booleans as --x [true|false] and --no-x. An absent flag is
# None, so that --config-json's values stand unless a flag overrides them, and TrainConfig's
# defaults fill the rest (config_from_args). Added by hand, what HfArgumentParser cannot
# express (tests/test_train.py checks the flags against the hand-written parser's):
# - gradient_checkpointing (true, false or "auto"): it makes the `bool | str` field a bool
#   flag that refuses "auto" (and fails on its own default, "auto", when absent); here
#   --x/--no-x, absent: --config-json's value or auto;
# - lora (a dict): its type=dict flag takes no value; here --lora-r, --lora-alpha, ...;
# - --no-x for the booleans that default to false (it adds --no-x only to those that
#   default to true), since --config-json may set them true;
# - base_model, train_file and output_dir: it would make them required flags although
#   --config-json may give them; config_from_args names the missing ones.
FLAG_CHOICES = {"optimizer": sorted(OPTIMIZERS), "tokenization": TOKENIZATIONS, "model_dtype": MODEL_DTYPES}
FLAG_HELP = {
    "work_dir": "trainer checkpoints (default <output-dir>.work)",
    "max_grad_norm": "gradient clipping; absent: none",
    "tokenization": "separate (the authors'; default) or joint (TRL's)",
    "keep_prompt_only": "keep samples whose prompt fills max-length (the authors'; default)",
    "report_to": "training curves: tensorboard (default), wandb, ..., none",
    "logging_dir": "TensorBoard event files (default <work-dir>/runs)",
}
LORA_FLAGS = {
    "r": (int, "LoRA rank; absent: full fine-tuning"),
    "alpha": (float, None),
    "dropout": (float, None),
    "target_modules": (str, "comma-separated module names, or all-linear"),
}
BY_HAND = ("gradient_checkpointing", "lora")
REQUIRED = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.default is f.default_factory is dataclasses.MISSING
)


def flag_dataclass() -> type:
    """TrainConfig's fields for HfArgumentParser: all but BY_HAND, with their defaults (None
    for the REQUIRED), FLAG_HELP and FLAG_CHOICES."""
    hints = typing.get_type_hints(TrainConfig)
    fields = []
    for f in dataclasses.fields(TrainConfig):
        if f.name in BY_HAND:
            continue
        metadata = {"help": FLAG_HELP.get(f.name)}
        if f.name in FLAG_CHOICES:
            metadata["choices"] = FLAG_CHOICES[f.name]
        if f.name in REQUIRED:
            fields.append((f.name, hints[f.name] | None, field(default=None, metadata=metadata)))
        else:
            fields.append(
                (f.name, hints[f.name], field(default=f.default, default_factory=f.default_factory, metadata=metadata))
            )
    return dataclasses.make_dataclass("TrainFlags", fields)


def build_parser() -> argparse.ArgumentParser:
    from transformers import HfArgumentParser

    flags = flag_dataclass()
    p = HfArgumentParser(
        flags,
        prog="python -m ossinstruct train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Absent flags are None, not TrainConfig's defaults, so that --config-json's values stand.
    p.set_defaults(**dict.fromkeys(f.name for f in dataclasses.fields(flags)))
    for f in dataclasses.fields(flags):
        if f.type is bool and f.default is False:
            p.add_argument(f"--no_{f.name}", f"--no-{f.name.replace('_', '-')}", dest=f.name, action="store_false")
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, help="absent: auto")
    for key, (kind, help_text) in LORA_FLAGS.items():
        p.add_argument(f"--lora-{key.replace('_', '-')}", dest=f"lora_{key}", type=kind, help=help_text)
    p.add_argument("--config-json", help="TrainConfig fields as a JSON file or a JSON string; the flags override it")
    p.add_argument("--log", help="also write the log to this file")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig's defaults, then --config-json's fields, then the flags given."""
    data: dict[str, Any] = {}
    if args.config_json:
        text = args.config_json
        inline = text.lstrip().startswith("{")
        where = "--config-json" if inline else f"--config-json {text}"
        try:
            data = json.loads(text if inline else Path(text).read_text())
        except FileNotFoundError:
            raise InputError(f"{where}: no such file (expected TrainConfig fields as a JSON object)") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
                "expected TrainConfig fields as a JSON object"
            ) from None
    for f in dataclasses.fields(TrainConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            data[f.name] = value
    lora_flags = {key: getattr(args, f"lora_{key}") for key in LORA_FLAGS}
    if any(v is not None for v in lora_flags.values()):
        lora = dict(data.get("lora") or {})
        lora.update({k: v for k, v in lora_flags.items() if v is not None})
        data["lora"] = lora
    missing = [name for name in REQUIRED if not data.get(name)]
    if missing:
        raise SystemExit("error: missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
    return TrainConfig.from_dict(data)


def main(argv: list[str] | None = None) -> int:
    from ossinstruct.logs import logged_job

    args = build_parser().parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    # One writer for --log; every rank logs to stderr (the train rule sends it to its log).
    with logged_job(args.log if rank == 0 else None, f"ossinstruct train (rank {rank})"):
        config = config_from_args(args)
        manifest = train(config)
        if rank == 0:
            print(json.dumps({"output_dir": config.output_dir, **manifest["training"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
