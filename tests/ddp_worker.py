"""One rank of the 2-process DDP test (tests/test_train.py): ossinstruct.train.recipe.main under
torchrun, with a callback that records what this rank did.

Each rank writes <output-dir>.rank<k>.json: the rows its model's forward saw per optimizer
step, the distributed backend and world size the trainer ran with, and a hash of its final
weights (so the test can check that both ranks trained and ended identical).
"""

import hashlib
import json
import os
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

from ossinstruct.train import recipe as T


class RankRecorder(TrainerCallback):
    def __init__(self, out: Path):
        self.out = out
        self.rows: list[int] = []  # forward-pass rows (training only) since the last step
        self.rows_per_step: list[int] = []
        self.initial = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.initial = _digest(model)

        def count(module, inputs, kwargs_):
            if module.training:
                self.rows.append(int(kwargs_["input_ids"].shape[0]))

        model.register_forward_pre_hook(count, with_kwargs=True)

    def on_step_end(self, args, state, control, **kwargs):
        self.rows_per_step.append(sum(self.rows))
        self.rows = []

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.out.write_text(
            json.dumps(
                {
                    "rank": torch.distributed.get_rank(),
                    "world_size": torch.distributed.get_world_size(),
                    "backend": torch.distributed.get_backend(),
                    "args_world_size": args.world_size,
                    "gradient_accumulation_steps": args.gradient_accumulation_steps,
                    "rows_per_step": self.rows_per_step,
                    "global_step": state.global_step,
                    "initial_weights": self.initial,
                    "final_weights": _digest(model),
                }
            )
        )


def _digest(model) -> str:
    model = getattr(model, "module", model)  # the DDP wrapper, when there is one
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def main(argv: list[str]) -> int:
    args = T.build_parser().parse_args(argv)
    config = T.config_from_args(args)
    rank = int(os.environ["RANK"])
    recorder = RankRecorder(Path(f"{config.output_dir}.rank{rank}.json"))
    T.train(config, callbacks=[recorder])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
