"""Training throughput: padding-free packing vs padded batches (not a test; prints figures).

    .venv/bin/python bench/training_throughput.py [--steps 10] [--hidden 256] [--layers 4]

A small randomly initialised Llama with a character-level tokenizer (one character, one
token) trains through `ossinstruct.train.recipe.build_trainer`, i.e. TRL's SFTTrainer exactly as
the workflow runs it, on synthetic OSS-Instruct-like records: the Magicoder prompt around
a problem, then a solution, both with log-normal lengths (a long right tail, as in the
paper's Figure 7), cut at --max-length. Three set-ups are timed in the same run:

  padded         per-device batch of --batch-size samples, padded to the longest
  packed x1      padding-free best-fit-decreasing packing, one packed row of up to
                 --max-length tokens per step
  packed xN      the same, --batch-size // 2 rows per step, flattened into one sequence

Only real (non-padding) tokens are counted, in the batches the trainer consumed during the
timed steps (the first --warmup steps are not timed). Throughput is those tokens over
the summed step times (forward, backward, optimizer step). On a CPU with SDPA, packed
rows use a block-diagonal mask built from the position ids, so attention still costs
(row length)^2; on a GPU with flash-attention varlen kernels packing saves that too.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from transformers.trainer_callback import PrinterCallback, ProgressCallback  # noqa: E402

from ossinstruct.curate.trainset import render_prompt  # noqa: E402
from ossinstruct.train import recipe as T  # noqa: E402

SPECIALS = ["<eos>", "<bos>", "<unk>", "<pad>"]
CHARS = [chr(c) for c in range(32, 127)] + ["\n"]
WORDS = (
    "def return for while if else list dict value index result items count parse "
    "token buffer self append range len print lambda yield import class"
).split()


def build_base(path: Path, hidden: int, layers: int, max_length: int) -> Path:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>"
    )
    heads = max(1, hidden // 64)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        intermediate_size=int(hidden * 8 / 3) // 8 * 8,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_length * 8,
        bos_token_id=1,
        eos_token_id=0,
        pad_token_id=3,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def text(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        sep = "\n    " if rng.random() < 0.15 else " "
        out.append(word + sep)
        size += len(word) + len(sep)
    return "".join(out)[:chars]


def records(n: int, seed: int = 0) -> list[dict]:
    """Problem ~ logN(median 100 chars), solution ~ logN(median 260 chars), long tails."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        problem = int(min(1200, max(40, rng.lognormvariate(math.log(100), 0.5))))
        solution = int(min(3000, max(20, rng.lognormvariate(math.log(260), 0.75))))
        rows.append(
            {"prompt": render_prompt(text(rng, problem)), "completion": text(rng, solution), "id": f"bench/{i}"}
        )
    return rows


class StepTimer(TrainerCallback):
    def __init__(self):
        self.durations: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.durations.append(time.perf_counter() - self._start)


def measure(
    name: str,
    base: Path,
    data: Path,
    work: Path,
    *,
    packing: bool,
    batch: int,
    steps: int,
    warmup: int,
    max_length: int,
) -> dict:
    config = T.TrainConfig(
        base_model=str(base),
        train_file=str(data),
        output_dir=str(work / name),
        max_length=max_length,
        per_device_batch_size=batch,
        effective_batch_size=batch,
        max_steps=steps + warmup,
        packing=packing,
        optimizer="adamw",
        learning_rate=1e-4,
        warmup_steps=0,
        save_steps=10_000,
        logging_steps=10_000,
        seed=0,
    )
    timer = StepTimer()
    trainer, _ = T.build_trainer(config, callbacks=[timer])
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    collate = trainer.data_collator
    real, total = [], []

    def counting(examples):
        batch_out = collate(examples)
        if "attention_mask" in batch_out:
            real.append(int(batch_out["attention_mask"].sum()))
        else:  # padding-free: one flat sequence, nothing padded (pad_to_multiple_of unset)
            real.append(int(batch_out["input_ids"].numel()))
        total.append(int(batch_out["input_ids"].numel()))
        return batch_out

    trainer.data_collator = counting
    trainer.train()
    timed = slice(warmup, warmup + steps)
    seconds = sum(timer.durations[timed])
    tokens = sum(real[timed])
    return {
        "setup": name,
        "rows_per_step": batch,
        "steps": len(timer.durations[timed]),
        "real_tokens": tokens,
        "padding_fraction": 1 - tokens / max(1, sum(total[timed])),
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per set-up")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        tmp = Path(tmp)
        base = build_base(tmp / "base", args.hidden, args.layers, args.max_length)
        rows = records(args.samples)
        data = tmp / "train.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        lengths = sorted(min(args.max_length, 2 + len(r["prompt"]) + len(r["completion"])) for r in rows)
        print(
            f"{len(rows)} samples, tokens per sample: median {lengths[len(lengths) // 2]}, "
            f"p10 {lengths[len(lengths) // 10]}, p90 {lengths[len(lengths) * 9 // 10]}, "
            f"max {lengths[-1]} (cut at {args.max_length}); model hidden {args.hidden}, "
            f"{args.layers} layers, {torch.get_num_threads()} CPU threads, SDPA, fp32"
        )
        common = dict(steps=args.steps, warmup=args.warmup, max_length=args.max_length)
        results = [
            measure("padded", base, data, tmp, packing=False, batch=args.batch_size, **common),
            measure("packed x1", base, data, tmp, packing=True, batch=1, **common),
            measure(
                f"packed x{max(1, args.batch_size // 2)}",
                base,
                data,
                tmp,
                packing=True,
                batch=max(1, args.batch_size // 2),
                **common,
            ),
        ]
    print(
        f"\n{'set-up':<12} {'rows/step':>9} {'real tokens':>12} {'padding':>8} "
        f"{'seconds':>8} {'tokens/s':>9} {'vs padded':>9}"
    )
    padded = results[0]["tokens_per_s"]
    for r in results:
        print(
            f"{r['setup']:<12} {r['rows_per_step']:>9} {r['real_tokens']:>12} "
            f"{r['padding_fraction']:>7.1%} {r['seconds']:>8.2f} {r['tokens_per_s']:>9.0f} "
            f"{r['tokens_per_s'] / padded:>8.2f}x"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
