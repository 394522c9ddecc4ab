"""The LoRA ending of a run: the adapter merged into the base weights (evaluation then loads
the checkpoint like any model), or the adapter alone with base_model.json naming its base."""

from __future__ import annotations

import shutil
from pathlib import Path

from ossinstruct.files import write_json_atomic
from ossinstruct.train.config import TrainConfig


def finish_model(trainer, config: TrainConfig, partial: Path, *, base_resolved, model_dtype: str) -> str:
    """Turn what save_model wrote into the final layout; return its format: "full",
    "lora-adapter" (merge_lora=False: the adapter and base_model.json) or "merged" (the
    adapter merged into the base weights, the adapter itself kept in adapter/)."""
    if not config.lora:
        return "full"
    if not config.merge_lora:
        write_json_atomic(
            partial / "base_model.json",
            {
                "base_model": config.base_model,
                "base_revision": config.base_revision,
                "resolved": base_resolved,
                "note": "LoRA adapter only: load the base model and apply this adapter "
                "(peft.PeftModel.from_pretrained), or retrain with merge_lora=True",
            },
        )
        return "lora-adapter"
    # Merge from the saved adapter into a freshly loaded base: works whatever wrapped the
    # trained model (DDP, FSDP, ZeRO-3), on the main process only.
    from peft import PeftModel

    from ossinstruct.llm.models import load_causal_lm

    adapter = partial / "adapter"
    adapter.mkdir()
    for item in list(partial.iterdir()):
        if item.name.startswith("adapter_") or item.name == "README.md":
            shutil.move(str(item), adapter / item.name)
    base = load_causal_lm(config.base_model, config.base_revision, dtype=model_dtype, device="cpu")
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.config.pad_token_id = trainer.processing_class.pad_token_id
    merged.save_pretrained(str(partial))
    trainer.processing_class.save_pretrained(str(partial))
    return "merged"
