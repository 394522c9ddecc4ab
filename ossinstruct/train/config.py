"""A fine-tuning run's settings: TrainConfig (the paper's defaults, Appendix B.3), its
resolution on the machine at hand (world size, accumulation, precision), and the TRL
`SFTConfig` arguments it becomes (`sft_arguments`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPTIMIZERS = {"adafactor": "adafactor", "adamw": "adamw_torch", "adamw_torch": "adamw_torch", "sgd": "sgd"}
MODEL_DTYPES = ("auto", "bfloat16", "float32", "float16")
TOKENIZATIONS = ("separate", "joint")
LORA_DEFAULT_TARGETS = "all-linear"
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
RUN_FILE = "run.json"
MANIFEST = "manifest.json"
LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")


@dataclass
class TrainConfig:
    """One fine-tuning run. Defaults are the paper's (Appendix B.3)."""

    base_model: str  # models.py spec: hub id, checkpoint directory, embedded:gemma-3-270m
    train_file: str  # train.jsonl of {"prompt", "completion", ...} records (ossinstruct.curate.trainset)
    output_dir: str
    base_revision: str | None = None
    max_length: int = 1216  # 1216 for OSS-Instruct, 1024 for Evol-Instruct
    epochs: float = 2.0
    learning_rate: float = 5e-5
    lr_scheduler: str = "linear"
    warmup_steps: int = 15
    optimizer: str = "adafactor"
    effective_batch_size: int = 512
    per_device_batch_size: int = 2  # the authors' README-DEV.md: 2 per device x 128 x 2 GPUs
    max_steps: int | None = None  # overrides epochs when set (the demo: a handful)
    bf16: bool = True  # used only where supported (see resolve_precision)
    packing: bool = False  # padding-free best-fit-decreasing packing
    # True, False, or "auto": on only where the memory estimate (ossinstruct.train.memory)
    # says the run does not fit the GPU without it; off on CPU. The authors trained without.
    gradient_checkpointing: bool | str = "auto"
    lora: dict | None = None  # {"r", "alpha", "dropout", "target_modules"}; None: full fine-tuning
    merge_lora: bool = True  # write the merged full checkpoint (evaluation loads it like any model)
    seed: int = 42
    save_steps: int = 50
    save_total_limit: int = 2
    logging_steps: int = 1
    # Training curves (transformers' report_to); TensorBoard event files go to logging_dir
    # (default: <work_dir>/runs, which is removed with the work dir after training).
    report_to: list[str] = dataclasses.field(default_factory=lambda: ["tensorboard"])
    logging_dir: str | None = None
    attn_implementation: str | None = "sdpa"
    dataset_name: str | None = None  # for the manifest
    work_dir: str | None = None  # trainer checkpoints; default "<output_dir>.work"
    keep_work_dir: bool = False
    model_dtype: str = "auto"  # weights: auto = bfloat16 when bf16 is used, else float32
    weight_decay: float = 0.0
    max_grad_norm: float | None = None  # None: no clipping (the authors' --max_grad_norm -1)
    tokenization: str = "separate"  # the authors' prompt / response encoding; "joint": TRL's
    keep_prompt_only: bool = True  # keep samples whose prompt fills max_length, as the authors

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r}: one of {', '.join(OPTIMIZERS)}")
        if self.tokenization not in TOKENIZATIONS:
            raise ValueError(f"tokenization {self.tokenization!r}: one of {', '.join(TOKENIZATIONS)}")
        if self.gradient_checkpointing not in (True, False, "auto"):
            raise ValueError(f"gradient_checkpointing {self.gradient_checkpointing!r}: true, false or auto")
        if self.model_dtype not in MODEL_DTYPES:
            raise ValueError(f"model_dtype {self.model_dtype!r}: one of {', '.join(MODEL_DTYPES)}")
        for name in ("max_length", "effective_batch_size", "per_device_batch_size", "save_steps", "logging_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1 or None, got {self.max_steps!r}")
        if self.lora is not None:
            self.lora = normalise_lora(self.lora)

    @property
    def resolved_work_dir(self) -> Path:
        if self.work_dir:
            return Path(self.work_dir)
        out = Path(self.output_dir)
        return out.with_name(out.name + ".work")

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**data)


def normalise_lora(lora: dict) -> dict:
    """LoRA settings with defaults: alpha = 2r, dropout 0.05, every linear layer."""
    unknown = sorted(set(lora) - {"r", "alpha", "dropout", "target_modules"})
    if unknown:
        raise ValueError(f"unknown lora keys: {', '.join(unknown)}")
    if int(lora.get("r", 0)) < 1:
        raise ValueError(f"lora needs a rank r >= 1, got {lora.get('r')!r}")
    r = int(lora["r"])
    targets = lora.get("target_modules") or LORA_DEFAULT_TARGETS
    if isinstance(targets, str) and targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return {
        "r": r,
        "alpha": float(lora.get("alpha") or 2 * r),
        "dropout": float(lora.get("dropout", 0.05)),
        "target_modules": targets if isinstance(targets, str) else list(targets),
    }


# --------------------------------------------------------------------------- resolution


def world_size() -> int:
    """Processes in this run: WORLD_SIZE as set by accelerate launch / torchrun, else 1."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def gradient_accumulation_steps(effective_batch_size: int, per_device_batch_size: int, processes: int) -> int:
    return max(1, math.ceil(effective_batch_size / (per_device_batch_size * processes)))


def resolve_precision(bf16: bool) -> str:
    """ "bf16" where bf16 was asked for and the device supports it (CUDA with bf16), else
    "fp32". CPU runs (tests, the demo) train in float32: bf16 autocast on most CPUs is
    slower than float32 and not what the paper's GPUs did anyway."""
    if not bf16:
        return "fp32"
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


# Optimisation settings that both the manifest and the resume fingerprint record.
SCHEDULE_FIELDS = ("epochs", "max_steps", "learning_rate", "lr_scheduler", "warmup_steps", "optimizer")


def resolve_hyperparameters(config: TrainConfig, processes: int | None = None) -> dict:
    """What the run really uses: batch arithmetic from the world size, the precision."""
    processes = world_size() if processes is None else processes
    accumulation = gradient_accumulation_steps(config.effective_batch_size, config.per_device_batch_size, processes)
    precision = resolve_precision(config.bf16)
    model_dtype = config.model_dtype
    if model_dtype == "auto":
        model_dtype = "bfloat16" if precision == "bf16" else "float32"
    return {
        **{name: getattr(config, name) for name in SCHEDULE_FIELDS},
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "max_length": config.max_length,
        "per_device_batch_size": config.per_device_batch_size,
        "world_size": processes,
        "gradient_accumulation_steps": accumulation,
        "effective_batch_size_requested": config.effective_batch_size,
        "effective_batch_size": config.per_device_batch_size * processes * accumulation,
        "packing": config.packing,
        "gradient_checkpointing": config.gradient_checkpointing,
        "bf16_requested": config.bf16,
        "precision": precision,
        "model_dtype": model_dtype,
        "attn_implementation": config.attn_implementation,
        "seed": config.seed,
        "lora": config.lora,
        "merge_lora": config.merge_lora if config.lora else None,
        "completion_only_loss": True,
        "tokenization": config.tokenization,
        "keep_prompt_only": config.keep_prompt_only,
        "truncation": "right (keep_start): the prompt is kept, the response is cut",
    }


# --------------------------------------------------------------------------- TRL's SFTConfig

# The SFTConfig arguments copied from TrainConfig fields: argument -> field, or
# (field, conversion) where TRL spells the value differently.
SFT_FROM_FIELDS: dict[str, str | tuple[str, Callable[[Any], Any]]] = {
    "num_train_epochs": "epochs",
    "max_steps": ("max_steps", lambda steps: steps or -1),  # -1: the epochs decide
    "learning_rate": "learning_rate",
    "lr_scheduler_type": "lr_scheduler",
    "warmup_steps": "warmup_steps",
    "optim": ("optimizer", OPTIMIZERS.__getitem__),
    "weight_decay": "weight_decay",
    "max_grad_norm": ("max_grad_norm", lambda norm: norm or 0.0),  # transformers clips only above 0
    "per_device_train_batch_size": "per_device_batch_size",
    "max_length": "max_length",  # unset by build_trainer when encode_separately cut the rows
    "packing": "packing",
    "seed": "seed",
    "data_seed": "seed",
    "logging_steps": "logging_steps",
    "save_steps": "save_steps",
    "save_total_limit": "save_total_limit",
    "report_to": ("report_to", list),
}
# The recipe's own choices: prompt/completion data, loss on the completion only, cut from
# the right, best-fit-decreasing packing, checkpoints by steps, tokens counted.
SFT_FIXED = {
    "fp16": False,
    "completion_only_loss": True,
    "truncation_mode": "keep_start",
    "packing_strategy": "bfd",
    "logging_first_step": True,
    "save_strategy": "steps",
    "include_num_input_tokens_seen": "non_padding",
    "ddp_find_unused_parameters": False,
}
# The SFTConfig arguments resolved on the machine at hand (sft_arguments).
SFT_RESOLVED = (
    "output_dir",
    "gradient_accumulation_steps",
    "bf16",
    "activation_checkpointing",
    "use_cpu",
    "dataloader_pin_memory",
)
# The TrainConfig fields SFT_FROM_FIELDS does not copy, and where each goes instead (a test
# fails on a field that is in neither, so that a new field is not silently dropped).
FIELDS_NOT_COPIED = {
    "base_model": "the model and tokenizer loaded (ossinstruct.llm.models)",
    "base_revision": "the model and tokenizer loaded",
    "train_file": "the records loaded (recipe.load_records)",
    "output_dir": "the final model (recipe.train); the trainer writes checkpoints to work_dir",
    "work_dir": "resolved: SFTConfig's output_dir (TrainConfig.resolved_work_dir)",
    "effective_batch_size": "resolved: gradient_accumulation_steps, from the world size",
    "bf16": "resolved: SFTConfig's bf16 where the device supports it (resolve_precision)",
    "gradient_checkpointing": "resolved: activation_checkpointing; auto once the model is loaded (recipe._plan_memory)",
    "lora": "peft's LoraConfig (recipe.build_trainer)",
    "merge_lora": "how the model is saved (lora.finish_model)",
    "logging_dir": "TENSORBOARD_LOGGING_DIR, where transformers 5 reads it (recipe.build_trainer)",
    "attn_implementation": "the model loaded",
    "model_dtype": "the weights' dtype when the model is loaded",
    "tokenization": "recipe.encode_separately, or TRL's own preparation",
    "keep_prompt_only": "recipe.encode_separately cuts the rows; build_trainer then unsets max_length",
    "keep_work_dir": "what recipe.train removes after training",
    "dataset_name": "the manifest",
}


def sft_arguments(config: TrainConfig, hp: dict, cuda: bool) -> dict:
    """SFTConfig's keyword arguments: the fields (SFT_FROM_FIELDS), the recipe's fixed
    choices (SFT_FIXED) and the values resolved here (SFT_RESOLVED; `hp` is
    resolve_hyperparameters', `cuda` whether a CUDA device is available)."""
    arguments = {}
    for argument, source in SFT_FROM_FIELDS.items():
        name, convert = (source, None) if isinstance(source, str) else source
        value = getattr(config, name)
        arguments[argument] = convert(value) if convert else value
    resolved = {
        "output_dir": str(config.resolved_work_dir),  # checkpoints; the model goes to output_dir
        "gradient_accumulation_steps": hp["gradient_accumulation_steps"],
        "bf16": hp["precision"] == "bf16",
        # transformers 5's name; "auto" is resolved once the model's shape is known
        "activation_checkpointing": config.gradient_checkpointing is True,
        "use_cpu": not cuda,  # several CPU processes (torchrun) then run DDP over gloo
        "dataloader_pin_memory": cuda,
    }
    return {**arguments, **SFT_FIXED, **resolved}
