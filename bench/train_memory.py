"""Training memory: the per-GPU estimate (ossinstruct/train/memory.py) against a measured
training step (prints figures; not a test).

    .venv/bin/python bench/train_memory.py [--hidden 128] [--layers 2] [--length 128]

A small randomly initialised Llama takes two training steps on CPU as the recipe runs
them (TRL's fused LM head, transformers' Adafactor); torch's memory profiler categorises
every allocation of the second step (parameters, gradients, optimizer state,
activations, temporaries), and the categories at the peak are set beside the estimate's
terms, for bf16 with SDPA, with gradient checkpointing, fp32 with eager attention, and
LoRA. The peak is compared with the estimate plus what only a CPU allocates (the torch
fallback of TRL's LM-head kernel: ~8 fp32 logits tiles, `memory.cpu_head_tiles`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ossinstruct.train import memory as M  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    h = args.hidden
    arch = M.Architecture(h, int(h * 2.6875), args.layers, h // 32, h // 32, 32, 1024)
    b, s = args.batch, args.length
    cases = {
        "bf16, sdpa": M.TrainingSetup(b, s),
        "bf16, checkpointing": M.TrainingSetup(b, s, gradient_checkpointing=True),
        "fp32, eager": M.TrainingSetup(b, s, precision="fp32", weights_dtype="float32", attn_implementation="eager"),
        "bf16, LoRA r=8": M.TrainingSetup(b, s, lora={"r": 8, "alpha": 16, "dropout": 0.05}),
    }
    print(f"Llama h={h} F={arch.intermediate} L={arch.layers} V={arch.vocab}, {b} x {s} tokens; KiB")
    print(f"load average {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'case':<22} {'term':<12} {'measured':>9} {'estimate':>9} {'ratio':>6}")
    for name, setup in cases.items():
        measured = M.measure_cpu_step(arch, setup)
        at = measured["at_peak"]
        est = M.estimate(arch, setup)
        pairs = {
            "weights": (at.get("parameter", 0) + (at.get("input", 0) if setup.lora else 0), est.components["weights"]),
            "gradients": (at.get("gradient", 0), est.components["gradients"]),
            "activations": (
                at.get("activation", 0) + at.get("autograd_detail", 0),
                est.components["activations"],
            ),
            "peak": (measured["peak"], est.peak + M.cpu_head_tiles(arch, setup)),
        }
        for term, (got, want) in pairs.items():
            print(f"{name:<22} {term:<12} {got / 1024:>9.0f} {want / 1024:>9.0f} {got / want:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
