"""A fine-tuning run's settings: TrainConfig (the paper's defaults, Appendix B.3) and
its resolution on the machine at hand (world size, accumulation, precision).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

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
