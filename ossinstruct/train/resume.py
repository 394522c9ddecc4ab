"""Resuming: the work directory's checkpoints, and the fingerprint that tells whether they
belong to this run (see recipe.py's docstring)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from ossinstruct.files import write_json_atomic
from ossinstruct.train.config import (
    CHECKPOINT_RE,
    RUN_FILE,
    SCHEDULE_FIELDS,
    TrainConfig,
)

logger = logging.getLogger("ossinstruct.train")
# --------------------------------------------------------------------------- checkpoints


def last_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The newest complete trainer checkpoint in work_dir: the Trainer writes
    trainer_state.json last, so a checkpoint without it was cut short and is skipped."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return None
    found = []
    for path in work_dir.iterdir():
        match = CHECKPOINT_RE.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        state = path / "trainer_state.json"
        try:
            json.loads(state.read_text())
        except (OSError, ValueError):
            logger.warning("skipping incomplete checkpoint %s", path)
            continue
        return path
    return None


def run_fingerprint(config: TrainConfig, dataset_sha256: str) -> dict:
    """What a checkpoint must share with this run to be resumed."""
    return {
        "train_file_sha256": dataset_sha256,
        "base_model": config.base_model,
        "base_revision": config.base_revision,
        "max_length": config.max_length,
        **{name: getattr(config, name) for name in SCHEDULE_FIELDS},
        "effective_batch_size": config.effective_batch_size,
        "packing": config.packing,
        "lora": config.lora,
        "seed": config.seed,
        "model_dtype": config.model_dtype,
        "tokenization": config.tokenization,
        "keep_prompt_only": config.keep_prompt_only,
    }


def prepare_work_dir(work_dir: Path, fingerprint: dict) -> Path | None:
    """Create work_dir; return the checkpoint to resume from, if any. Checkpoints made for a
    different run (another dataset, base model or hyperparameters) are deleted."""
    work_dir.mkdir(parents=True, exist_ok=True)
    run_file = work_dir / RUN_FILE
    previous = None
    if run_file.is_file():
        try:
            previous = json.loads(run_file.read_text())
        except ValueError:
            previous = None
    if previous != fingerprint:
        stale = [p for p in work_dir.iterdir() if CHECKPOINT_RE.match(p.name)]
        if stale:
            logger.warning("%s holds checkpoints of a different run; deleting %d of them", work_dir, len(stale))
            for path in stale:
                shutil.rmtree(path, ignore_errors=True)
        write_json_atomic(run_file, fingerprint)
        return None
    return last_checkpoint(work_dir)
