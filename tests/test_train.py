"""Fine-tuning (ossinstruct.train.recipe) and its launcher, offline on CPU.

Tiny randomly initialised Llama models (hidden 32, 2 layers) with character-level
tokenizers, built here: one character is one token, so the prompt/completion boundary
and every label can be checked exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import coloured_pixels  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from ossinstruct.curate.trainset import render_prompt  # noqa: E402
from ossinstruct.train import launch  # noqa: E402
from ossinstruct.train import recipe as T  # noqa: E402

SPECIALS = ["<eos>", "<bos>", "<unk>", "<pad>"]
CHARS = [chr(c) for c in range(32, 127)] + ["\n"]
VOCAB = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
EOS, BOS, PAD = VOCAB["<eos>"], VOCAB["<bos>"], VOCAB["<pad>"]

# Tokenizer edge cases: (adds BOS, pad token (None: the loader falls back to EOS), appends EOS)
TOKENIZERS = {
    "bos_eos_is_pad": (True, None, False),
    "no_bos": (False, "<pad>", False),
    "bos_own_pad": (True, "<pad>", False),
    "appends_eos_itself": (True, None, True),
}
ANSWER = "def solve():\n    return 42\n"  # the learnable pattern: every completion


def _tokenizer(add_bos: bool = True, pad: str | None = None, add_eos: bool = False):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    template = ("<bos> " if add_bos else "") + "$A" + (" <eos>" if add_eos else "")
    specials = [(t, VOCAB[t]) for t in ("<bos>", "<eos>") if t in template]
    if specials:
        tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    kwargs = {"pad_token": pad} if pad else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", **kwargs
    )


def _save_model(path: Path, tokenizer=None, seed: int = 0) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tokenizer or _tokenizer()
    config = LlamaConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=BOS,
        eos_token_id=EOS,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _records(n: int, completion=ANSWER) -> list[dict]:
    return [
        {
            "prompt": render_prompt(f"Task {i}: return the answer."),
            "completion": completion if isinstance(completion, str) else completion(i),
            "id": f"oss-instruct/{i}",
            "lang": "python",
            "is_python": True,
            "source_dataset": "oss-instruct",
        }
        for i in range(n)
    ]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _config(tmp: Path, base: Path, train_file: Path, name: str = "model", **overrides):
    settings = dict(
        base_model=str(base),
        train_file=str(train_file),
        output_dir=str(tmp / name),
        max_length=256,
        effective_batch_size=4,
        per_device_batch_size=2,
        max_steps=3,
        save_steps=100,
        warmup_steps=0,
        seed=0,
        dataset_name="oss-instruct",
    )
    settings.update(overrides)
    return T.TrainConfig(**settings)


def _ids(text: str) -> list[int]:
    return [VOCAB[c] for c in text]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return _save_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def stage1(tmp_path_factory, tiny) -> tuple[T.TrainConfig, dict]:
    """A full fine-tuning run that learns ANSWER (through the CLI, as the workflow runs it)."""
    tmp = tmp_path_factory.mktemp("stage1")
    data = _write(tmp / "train.jsonl", _records(24))
    out = tmp / "magicoder"
    rc = T.main(
        [
            "--base-model",
            str(tiny),
            "--train-file",
            str(data),
            "--output-dir",
            str(out),
            "--max-length",
            "256",
            "--effective-batch-size",
            "4",
            "--per-device-batch-size",
            "4",
            "--max-steps",
            "40",
            "--optimizer",
            "adamw",
            "--learning-rate",
            "1e-2",
            "--warmup-steps",
            "0",
            "--save-steps",
            "100",
            "--seed",
            "0",
            "--dataset-name",
            "oss-instruct",
            "--logging-dir",
            str(tmp / "tensorboard"),
        ]
    )
    assert rc == 0
    manifest = json.loads((out / "manifest.json").read_text())
    return T.TrainConfig.from_dict(manifest["config"]), manifest


# ----------------------------------------------------------------- (a) template and masking


@pytest.mark.parametrize("tokenization", ["separate", "joint"])
@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_labels_mask_the_prompt_and_end_with_one_eos(tmp_path, kind, tokenization):
    add_bos, pad, add_eos = TOKENIZERS[kind]
    base = _save_model(tmp_path / "base", _tokenizer(add_bos, pad, add_eos))
    completions = ["x = 1\n", "print('a much longer answer')\n", ANSWER]
    records = _records(3, lambda i: completions[i])
    data = _write(tmp_path / "train.jsonl", records)
    trainer, run = T.build_trainer(_config(tmp_path, base, data, max_length=512, tokenization=tokenization))
    # The authors' separate encoding adds the tokenizer's BOS whether or not its own
    # post-processor would; TRL's joint one uses the tokenizer's special tokens.
    add_bos = add_bos or tokenization == "separate"

    tokenizer = trainer.processing_class
    assert tokenizer.eos_token_id == EOS
    pad_id = PAD if pad == "<pad>" else EOS
    assert tokenizer.pad_token_id == pad_id
    assert run.tokenizer_changes["auto_eos_disabled"] is add_eos
    assert run.stats["truncated"] == 0 and run.stats["dropped_prompt_too_long"] == 0

    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    width = batch["input_ids"].shape[1]
    for i, record in enumerate(records):
        prompt = ([BOS] if add_bos else []) + _ids(record["prompt"])
        completion = _ids(record["completion"]) + [EOS]  # EOS once, at the end
        real = len(prompt) + len(completion)
        padding = width - real
        assert batch["input_ids"][i].tolist() == prompt + completion + [pad_id] * padding
        assert batch["labels"][i].tolist() == [-100] * len(prompt) + completion + [-100] * padding
        assert batch["attention_mask"][i].tolist() == [1] * real + [0] * padding
    assert run.stats["supervised_tokens"] == sum(len(r["completion"]) + 1 for r in records)


def test_truncation_cuts_the_response_and_keeps_the_prompt(tmp_path, tiny):
    long_answer = "y = [i * i for i in range(100)]\n" * 4
    records = _records(3, lambda i: long_answer if i == 0 else "ok\n")
    records[2]["prompt"] = render_prompt("A very long instruction. " * 20)  # prompt > max_length
    prompt_len = 1 + len(records[0]["prompt"])  # BOS + one token per character
    max_length = prompt_len + 10
    assert len(records[2]["prompt"]) > max_length
    data = _write(tmp_path / "train.jsonl", records)
    trainer, run = T.build_trainer(_config(tmp_path, tiny, data, max_length=max_length, keep_prompt_only=False))

    # The sample whose prompt alone fills max_length has nothing to learn: dropped (TRL).
    assert len(trainer.train_dataset) == 2 and run.stats["dropped_prompt_too_long"] == 1
    assert run.stats["truncated"] == 1
    cut = trainer.train_dataset[0]
    assert len(cut["input_ids"]) == max_length
    assert cut["input_ids"][:prompt_len] == [BOS] + _ids(records[0]["prompt"])
    assert cut["labels"] == [-100] * prompt_len + _ids(long_answer[:10])
    assert EOS not in cut["labels"]  # the response was cut: no EOS to learn
    short = trainer.train_dataset[1]
    assert short["labels"][-4:] == _ids("ok\n") + [EOS]


def _merging_tokenizer():
    """Characters plus one BPE merge, "\\n" + "d": the prompt's last "\\n" and a response's
    first "d" merge when the two are tokenized together."""
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {**VOCAB, "\nd": len(VOCAB)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[("\n", "d")], unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", BOS)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>"
    )


def test_separate_encoding_is_the_authors(tmp_path):
    """Default: prompt and response tokenized apart (the authors' train.py), so nothing
    merges across the boundary; TRL's joint tokenization merges "\\n" + "d" there."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _merging_tokenizer()
    merged = len(VOCAB)
    assert tokenizer("x\ndef", add_special_tokens=False)["input_ids"] == [VOCAB["x"], merged, VOCAB["e"], VOCAB["f"]]
    base = tmp_path / "base"
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=merged + 1,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            bos_token_id=BOS,
            eos_token_id=EOS,
        )
    ).save_pretrained(base)
    tokenizer.save_pretrained(base)
    records = _records(2)  # prompts end with "@@ Response\n", answers start with "def"
    data = _write(tmp_path / "train.jsonl", records)
    trainer, run = T.build_trainer(_config(tmp_path, base, data, max_length=512))
    assert run.hyperparameters["tokenization"] == "separate"
    prompt = [BOS] + tokenizer(records[0]["prompt"], add_special_tokens=False)["input_ids"]
    response = tokenizer(ANSWER, add_special_tokens=False)["input_ids"] + [EOS]
    row = trainer.train_dataset[0]
    assert prompt[-1] == VOCAB["\n"] and response[0] == VOCAB["d"]
    assert row["input_ids"] == prompt + response
    assert row["labels"] == [-100] * len(prompt) + response
    joint, _ = T.build_trainer(_config(tmp_path, base, data, name="joint", max_length=512, tokenization="joint"))
    joint_row = joint.train_dataset[0]
    assert joint_row["input_ids"][len(prompt) - 1] == merged
    assert len(joint_row["input_ids"]) == len(row["input_ids"]) - 1


def test_no_gradient_clipping_by_default(tmp_path, tiny):
    """The authors train with --max_grad_norm -1 (README-DEV.md): no clipping. transformers
    clips only when max_grad_norm > 0; training.max_grad_norm sets a norm."""
    data = _write(tmp_path / "train.jsonl", _records(2))
    assert T.TrainConfig.max_grad_norm is None
    default, _ = T.build_trainer(_config(tmp_path, tiny, data, name="default"))
    assert default.args.max_grad_norm == 0.0
    clipped, run = T.build_trainer(_config(tmp_path, tiny, data, name="clip", max_grad_norm=1.0))
    assert clipped.args.max_grad_norm == 1.0 and run.hyperparameters["max_grad_norm"] == 1.0


def test_a_prompt_filling_max_length_is_kept_as_the_authors_do(tmp_path, tiny):
    """Default: cut at max_length in the authors' way and kept, with no supervised token;
    the other rows are exactly as TRL would have prepared them."""
    long_answer = "y = [i * i for i in range(100)]\n" * 4
    records = _records(3, lambda i: long_answer if i == 0 else "ok\n")
    records[2]["prompt"] = render_prompt("A very long instruction. " * 20)
    prompt_len = 1 + len(records[0]["prompt"])
    max_length = prompt_len + 10
    data = _write(tmp_path / "train.jsonl", records)
    trainer, run = T.build_trainer(_config(tmp_path, tiny, data, max_length=max_length))
    assert len(trainer.train_dataset) == 3 and run.stats["dropped_prompt_too_long"] == 0
    assert run.stats["kept_prompt_only"] == 1 and run.hyperparameters["keep_prompt_only"] is True
    kept = trainer.train_dataset[2]
    assert kept["input_ids"] == ([BOS] + _ids(records[2]["prompt"]))[:max_length]
    assert kept["labels"] == [-100] * max_length
    cut = trainer.train_dataset[0]
    assert cut["labels"] == [-100] * prompt_len + _ids(long_answer[:10])
    assert trainer.train_dataset[1]["labels"][-4:] == _ids("ok\n") + [EOS]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    assert batch["input_ids"].shape[1] == max_length
    # A batch holding the prompt-only row still trains to a finite loss.
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses and all(math.isfinite(loss) for loss in losses)


def test_packing_keeps_the_same_supervision(tmp_path, tiny):
    records = _records(6, lambda i: "ok\n" * (i + 1))
    data = _write(tmp_path / "train.jsonl", records)
    _, padded = T.build_trainer(_config(tmp_path, tiny, data, name="a", max_length=512))
    trainer, packed = T.build_trainer(_config(tmp_path, tiny, data, name="b", max_length=512, packing=True))
    assert packed.stats["rows"] < padded.stats["rows"]  # several samples per row
    assert packed.stats["tokens"] == padded.stats["tokens"]
    assert packed.stats["supervised_tokens"] == padded.stats["supervised_tokens"]
    batch = trainer.data_collator([trainer.train_dataset[0]])
    assert "attention_mask" not in batch  # padding-free: position ids restart per sample
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert len(starts) > 1
    assert all(batch["labels"][0, s].item() == -100 for s in starts)


def test_a_tokenizer_without_eos_is_refused():
    tokenizer = _tokenizer()
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match="no EOS"):
        T.prepare_tokenizer(tokenizer)


# ----------------------------------------------------------------- (b) it learns


def test_tiny_model_learns_and_writes_its_outputs(stage1):
    """README "Training": loss decreasing on a tiny random model, and the checkpoint's files
    (weights, tokenizer, trainer_state.json, a loss_curve.png with the curve drawn)."""
    config, manifest = stage1
    out = Path(config.output_dir)
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert len(losses) >= 10
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first, losses
    assert manifest["training"]["global_step"] == 40
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "loss_curve.png",
        "trainer_state.json",
        "manifest.json",
    ):
        assert (out / name).is_file(), name
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert coloured_pixels(out / "loss_curve.png") > 100  # the curve is drawn
    assert not Path(str(out) + ".work").exists(), "the work directory is removed at the end"
    assert not list(out.parent.glob(".*.partial"))


def test_loss_curve_plots_the_logged_losses(tmp_path, saved_figures):
    """README: each checkpoint has a `loss_curve.png`: it plots the logged loss at each
    logged step; with nothing logged the image says so and has no curve."""
    history = [
        {"step": 1, "loss": 2.5},
        {"step": 2, "loss": 1.5, "learning_rate": 1e-3},
        {"step": 2, "eval_loss": 9.0},
        {"step": 3, "loss": 0.75},
    ]
    assert T.plot_loss_curve(history, tmp_path / "curve.png", title="t") is True
    [line] = saved_figures[-1].axes[0].lines
    assert list(line.get_xdata()) == [1, 2, 3] and list(line.get_ydata()) == [2.5, 1.5, 0.75]
    assert coloured_pixels(tmp_path / "curve.png") > 100
    assert T.plot_loss_curve([], tmp_path / "empty.png") is False
    assert len(saved_figures[-1].axes[0].lines) == 0
    assert coloured_pixels(tmp_path / "empty.png") == 0


def test_training_curves_go_to_tensorboard(stage1):
    """report_to defaults to TensorBoard; its event files land in --logging-dir (the rule:
    results/logs/train/{checkpoint}.tensorboard/), outside the work dir removed at the end."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config, _ = stage1
    assert config.report_to == ["tensorboard"]
    events = EventAccumulator(config.logging_dir)
    events.Reload()
    losses = events.Scalars("train/loss")
    assert len(losses) >= 10 and losses[-1].value < losses[0].value
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ  # not left behind for the next run


def test_full_fine_tuning_checkpoint_loads_and_generates(stage1, tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config, _ = stage1
    model = AutoModelForCausalLM.from_pretrained(config.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(config.output_dir)
    prompt = render_prompt("Task 99: return the answer.")
    ids = tokenizer(prompt, return_tensors="pt")
    assert ids["input_ids"][0, -1].item() != EOS, "the saved tokenizer appends no EOS"
    out = model.generate(**ids, max_new_tokens=5, min_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5
    # The saved weights are the trained ones: the answer is far more likely than before.
    full = tokenizer(prompt + ANSWER + "<eos>", return_tensors="pt")["input_ids"]
    labels = full.clone()
    labels[0, : ids["input_ids"].shape[1]] = -100
    before = AutoModelForCausalLM.from_pretrained(tiny)
    with torch.no_grad():
        trained_loss = model(input_ids=full, labels=labels).loss.item()
        base_loss = before(input_ids=full, labels=labels).loss.item()
    assert trained_loss < 0.3 * base_loss, (trained_loss, base_loss)


# ----------------------------------------------------------------- (c) resume


class Interrupt(RuntimeError):
    pass


class KillAfterSave(TrainerCallback):
    """Dies right after the checkpoint of `step` is written, as a preempted job would."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupt(f"killed after step {state.global_step}")


class FirstStep(TrainerCallback):
    def __init__(self):
        self.first = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.first is None:
            self.first = state.global_step


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, tiny):
    data = _write(tmp_path / "train.jsonl", _records(12))
    config = _config(tmp_path, tiny, data, max_steps=5, save_steps=2)
    work = Path(config.output_dir + ".work")
    with pytest.raises(Interrupt):
        T.train(config, callbacks=[KillAfterSave(2)])
    assert not Path(config.output_dir).exists(), "no output until the run completes"
    assert (work / "checkpoint-2" / "trainer_state.json").is_file()
    # What Snakemake does with an incomplete directory() output, and a half-written later
    # checkpoint (no trainer_state.json yet) that must be skipped:
    (work / "checkpoint-4").mkdir()
    (work / "checkpoint-4" / "model.safetensors").write_bytes(b"partial")
    assert T.last_checkpoint(work) == work / "checkpoint-2"

    first = FirstStep()
    manifest = T.train(config, callbacks=[first])
    assert first.first == 3, "training continued after step 2 instead of starting over"
    assert manifest["training"]["resumed_from"] == str(work / "checkpoint-2")
    assert manifest["training"]["global_step"] == 5
    state = json.loads((Path(config.output_dir) / "trainer_state.json").read_text())
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [1, 2, 3, 4, 5]
    assert not work.exists()


def test_checkpoints_of_another_run_are_not_resumed(tmp_path):
    work = tmp_path / "m.work"
    fingerprint = {"train_file_sha256": "a", "learning_rate": 5e-5}
    assert T.prepare_work_dir(work, fingerprint) is None
    (work / "checkpoint-7").mkdir()
    (work / "checkpoint-7" / "trainer_state.json").write_text("{}")
    assert T.prepare_work_dir(work, fingerprint) == work / "checkpoint-7"
    assert T.prepare_work_dir(work, {**fingerprint, "train_file_sha256": "b"}) is None
    assert not (work / "checkpoint-7").exists()


# ----------------------------------------------------------------- (d) two stages


def test_second_stage_starts_from_the_first_stage_output(tmp_path, stage1):
    config1, manifest1 = stage1
    data = _write(tmp_path / "evol.jsonl", _records(8))
    config = _config(
        tmp_path,
        Path(config1.output_dir),
        data,
        name="magicoder-s",
        max_length=200,
        max_steps=2,
        optimizer="adamw",
        learning_rate=1e-3,
        dataset_name="evol-instruct",
    )
    manifest = T.train(config)
    assert manifest["base_model"]["spec"] == config1.output_dir
    assert manifest["dataset"]["name"] == "evol-instruct"
    # It starts where stage 1 ended (the answer is already learned), not from scratch.
    first1 = manifest1["training"]["first_logged_loss"]
    assert manifest["training"]["first_logged_loss"] < 0.5 * first1


def test_a_stage_cannot_start_from_an_unmerged_adapter(tmp_path, tiny):
    adapter = tmp_path / "adapter-only"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    data = _write(tmp_path / "t.jsonl", _records(2))
    with pytest.raises(ValueError, match="merge_lora"):
        T.build_trainer(_config(tmp_path, adapter, data))


# ----------------------------------------------------------------- (e) LoRA


def test_lora_merged_checkpoint_loads_like_any_model(tmp_path, tiny):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    data = _write(tmp_path / "train.jsonl", _records(8))
    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
    config = _config(tmp_path, tiny, data, lora=lora, optimizer="adamw", learning_rate=1e-2)
    manifest = T.train(config)
    out = Path(config.output_dir)
    assert manifest["output"]["format"] == "merged"
    assert manifest["hyperparameters"]["lora"]["r"] == 4
    assert not (out / "adapter_config.json").exists(), "top level is a plain checkpoint"
    assert (out / "adapter" / "adapter_config.json").is_file()

    model = AutoModelForCausalLM.from_pretrained(out)
    assert type(model).__name__ == "LlamaForCausalLM"
    merged, base = load_file(out / "model.safetensors"), load_file(tiny / "model.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged[name], base[name]), "the adapter was merged in"
    name = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(merged[name], base[name]), "modules without an adapter are untouched"
    ids = torch.tensor([[BOS] + _ids("@@ Response\n")])
    assert model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3


def test_lora_without_merge_writes_the_adapter_and_its_base(tmp_path, tiny):
    data = _write(tmp_path / "train.jsonl", _records(4))
    config = _config(tmp_path, tiny, data, max_steps=1, lora={"r": 2}, merge_lora=False)
    manifest = T.train(config)
    out = Path(config.output_dir)
    assert manifest["output"]["format"] == "lora-adapter"
    assert (out / "adapter_config.json").is_file() and not (out / "config.json").exists()
    note = json.loads((out / "base_model.json").read_text())
    assert note["base_model"] == str(tiny)
    assert T.normalise_lora({"r": 2}) == {"r": 2, "alpha": 4.0, "dropout": 0.05, "target_modules": "all-linear"}


# ----------------------------------------------------------------- (f) manifest


def test_manifest_records_data_model_and_batch_arithmetic(stage1):
    config, manifest = stage1
    sha = hashlib.sha256(Path(config.train_file).read_bytes()).hexdigest()
    assert manifest["dataset"]["sha256"] == sha
    assert manifest["dataset"]["examples"] == 24
    assert manifest["base_model"] == {
        "spec": config.base_model,
        "revision": None,
        "resolved": str(Path(config.base_model).resolve()),
    }
    hp = manifest["hyperparameters"]
    assert hp["world_size"] == 1
    assert hp["gradient_accumulation_steps"] == 1 and hp["effective_batch_size"] == 4
    assert hp["precision"] == "fp32" and hp["model_dtype"] == "float32"  # CPU: no bf16
    # The memory estimate of this run (ossinstruct.train.memory), logged at its start; its
    # gradient checkpointing "auto" resolved (off: no GPU), and no GPU peak measured on CPU.
    assert hp["gradient_checkpointing"] is False and hp["strategy"] == "ddp"
    estimate = hp["memory_estimate"]
    assert set(estimate["components_gib"]) >= {"weights", "gradients", "activations"}
    assert 0 < estimate["peak_gib"] < estimate["required_gib"]
    assert manifest["training"]["peak_gpu_memory_allocated_gib"] is None
    for lib in ("torch", "transformers", "trl", "peft", "accelerate"):
        assert manifest["versions"][lib]
    assert manifest["git_commit"] is None or len(manifest["git_commit"]) >= 40
    assert manifest["training"]["tokens_seen"] > 0
    assert manifest["started_at"] <= manifest["finished_at"]
    text = json.dumps(manifest).lower()
    assert 'token": "hf_' not in text and "api_key" not in text


def test_accumulation_comes_from_the_world_size(monkeypatch):
    config = T.TrainConfig(
        base_model="m", train_file="t.jsonl", output_dir="o", effective_batch_size=512, per_device_batch_size=8
    )
    monkeypatch.setenv("WORLD_SIZE", "4")
    hp = T.resolve_hyperparameters(config)
    assert hp["world_size"] == 4
    assert hp["gradient_accumulation_steps"] == math.ceil(512 / (8 * 4)) == 16
    assert hp["effective_batch_size"] == 512
    monkeypatch.setenv("WORLD_SIZE", "3")  # not a divisor: a slightly larger batch, logged
    hp = T.resolve_hyperparameters(config)
    assert hp["gradient_accumulation_steps"] == 22 and hp["effective_batch_size"] == 528
    monkeypatch.delenv("WORLD_SIZE")
    assert T.resolve_hyperparameters(config)["gradient_accumulation_steps"] == 64


def test_bf16_only_where_supported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert T.resolve_precision(True) == "fp32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert T.resolve_precision(True) == "bf16" and T.resolve_precision(False) == "fp32"
    config = T.TrainConfig(base_model="m", train_file="t", output_dir="o")
    assert T.resolve_hyperparameters(config, processes=2)["model_dtype"] == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert T.resolve_precision(True) == "fp32"


# ----------------------------------------------------------------- SFTConfig from TrainConfig


def test_every_train_config_field_reaches_sft_config_or_says_where_it_goes():
    """SFTConfig is built from sft_arguments: each argument is copied from a TrainConfig field
    (SFT_FROM_FIELDS), fixed by the recipe (SFT_FIXED) or resolved on the machine
    (SFT_RESOLVED), and each field is either copied or listed in FIELDS_NOT_COPIED with
    where it goes instead: a new field in neither fails here rather than being dropped."""
    import dataclasses

    from trl import SFTConfig

    from ossinstruct.train import config as C

    fields = {f.name for f in dataclasses.fields(T.TrainConfig)}
    copied = {source if isinstance(source, str) else source[0] for source in C.SFT_FROM_FIELDS.values()}
    not_copied = set(C.FIELDS_NOT_COPIED)
    assert copied <= fields and not_copied <= fields
    assert not copied & not_copied
    assert copied | not_copied == fields, f"neither copied nor listed: {sorted(fields - copied - not_copied)}"
    groups = [set(C.SFT_FROM_FIELDS), set(C.SFT_FIXED), set(C.SFT_RESOLVED)]
    assert sum(map(len, groups)) == len(set().union(*groups)), "an argument in two groups"
    assert set().union(*groups) <= {f.name for f in dataclasses.fields(SFTConfig) if f.init}
    config = T.TrainConfig(base_model="m", train_file="t", output_dir="o")
    arguments = C.sft_arguments(config, T.resolve_hyperparameters(config, processes=1), cuda=False)
    assert set(arguments) == set().union(*groups)


def test_the_trainer_gets_the_declared_arguments(tmp_path, tiny, monkeypatch):
    """build_trainer hands SFTConfig sft_arguments and nothing else; afterwards the trainer's
    arguments differ from them only where build_trainer resolves late: max_length (unset when
    encode_separately cut the rows), checkpointing ("auto", once the model is loaded) and the
    accumulation (the world size that joined)."""
    import trl

    from ossinstruct.train.config import sft_arguments

    real, recorded = trl.SFTConfig, []

    class Recording(real):
        def __init__(self, **kwargs):
            recorded.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(trl, "SFTConfig", Recording)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    config = _config(tmp_path, tiny, _write(tmp_path / "train.jsonl", _records(4)), max_length=64)
    trainer, run = T.build_trainer(config)
    [arguments] = recorded
    expected = sft_arguments(config, T.resolve_hyperparameters(config), cuda=torch.cuda.is_available())
    assert arguments == expected
    built, declared = trainer.args.to_dict(), real(**arguments).to_dict()
    changed = {key for key in declared if built[key] != declared[key]}
    late = {"max_length", "activation_checkpointing", "gradient_checkpointing", "gradient_accumulation_steps"}
    assert "max_length" in changed <= late, changed


SFT_ARGUMENTS = Path(__file__).parent / "fixtures" / "train" / "sft_arguments.json"


@pytest.mark.parametrize("case", sorted(json.loads(SFT_ARGUMENTS.read_text())))
def test_sft_config_is_the_one_the_hand_written_recipe_built(case, monkeypatch):
    """Training unchanged by the declared mapping: config.yaml's four checkpoints and the
    demo's, parsed from the train rule's command line (--config-json and the path flags),
    give the TrainConfig and the SFTConfig arguments that the hand-written SFTConfig(...) of
    commit 951f388 received (fixtures/train/sft_arguments.json, recorded there through a
    patched trl.SFTConfig: on this CPU, and with a CUDA bf16 device faked), value for value
    and type for type, and the same SFTConfig.to_dict()."""
    import dataclasses

    from trl import SFTConfig

    from ossinstruct.train.config import sft_arguments

    frozen = json.loads(SFT_ARGUMENTS.read_text())[case]
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    paths = frozen["paths"]
    argv = ["--config-json", json.dumps(frozen["config_json"])]
    for name, value in paths.items():
        argv += ["--" + name.replace("_", "-"), value]
    config = T.config_from_args(T.build_parser().parse_args(argv))
    assert dataclasses.asdict(config) == {**frozen["config_json"], **paths}

    def same(new: dict, old: dict) -> bool:
        return json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    arguments = sft_arguments(config, T.resolve_hyperparameters(config), cuda=False)
    assert same(arguments, frozen["sft_arguments"])
    assert same(SFTConfig(**arguments).to_dict(), SFTConfig(**frozen["sft_arguments"]).to_dict())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    arguments = sft_arguments(config, T.resolve_hyperparameters(config), cuda=True)
    assert same(arguments, frozen["sft_arguments_cuda"])


def test_cli_flags_and_config_json(tmp_path):
    base = {
        "base_model": "embedded:gemma-3-270m",
        "train_file": "t.jsonl",
        "output_dir": "out",
        "max_length": 1024,
        "lora": {"r": 16},
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(base))
    args = T.build_parser().parse_args(
        ["--config-json", str(path), "--lora-alpha", "8", "--max-steps", "3", "--no-bf16", "--packing"]
    )
    config = T.config_from_args(args)
    assert config.max_length == 1024 and config.max_steps == 3
    assert config.bf16 is False and config.packing is True
    assert config.lora == {"r": 16, "alpha": 8.0, "dropout": 0.05, "target_modules": "all-linear"}
    assert config.resolved_work_dir == Path("out.work")
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        T.TrainConfig.from_dict({**base, "batch": 3})
    with pytest.raises(SystemExit):
        T.config_from_args(T.build_parser().parse_args(["--train-file", "t.jsonl"]))


def test_every_train_config_field_is_a_flag():
    """The CLI is derived from TrainConfig: a new field is a new flag, typed as the field."""
    import dataclasses

    parser = T.build_parser()
    flags = {a.dest: a for a in parser._actions}
    for f in dataclasses.fields(T.TrainConfig):
        if f.name == "lora":
            assert {"lora_r", "lora_alpha", "lora_dropout", "lora_target_modules"} <= set(flags)
            continue
        assert f.name in flags, f"TrainConfig.{f.name} has no flag"
    args = parser.parse_args(
        [
            "--base-model",
            "m",
            "--train-file",
            "t",
            "--output-dir",
            "o",
            "--weight-decay",
            "0.1",
            "--report-to",
            "none",
            "wandb",
            "--epochs",
            "1.5",
            "--no-merge-lora",
            "--max-grad-norm",
            "1",
        ]
    )
    config = T.config_from_args(args)
    assert config.weight_decay == 0.1 and config.report_to == ["none", "wandb"]
    assert config.epochs == 1.5 and config.merge_lora is False and config.max_grad_norm == 1.0
    with pytest.raises(SystemExit):
        parser.parse_args(["--optimizer", "nope"])


def test_the_flags_are_those_of_the_hand_written_parser():
    """HfArgumentParser builds the flags from TrainConfig: the dashed ones are exactly the
    hand-written parser's (--field-name for every field but lora, --no-x for every boolean
    and gradient checkpointing, --lora-*, --config-json, --log); the others are only its
    --field_name spellings of them."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(T.TrainConfig)
    expected = {"-h", "--help", "--config-json", "--log", "--gradient-checkpointing", "--no-gradient-checkpointing"}
    expected |= {"--lora-r", "--lora-alpha", "--lora-dropout", "--lora-target-modules"}
    for f in dataclasses.fields(T.TrainConfig):
        if f.name not in ("lora", "gradient_checkpointing"):
            expected.add("--" + f.name.replace("_", "-"))
            if hints[f.name] is bool:
                expected.add("--no-" + f.name.replace("_", "-"))
    options = {option for action in T.build_parser()._actions for option in action.option_strings}
    assert {option for option in options if "_" not in option} == expected
    assert {option.replace("_", "-") for option in options} == expected


def test_config_json_values_stand_unless_a_flag_overrides_them():
    """Absent flags leave --config-json's values (booleans, gradient checkpointing, lists,
    choices, a None) and TrainConfig's defaults; given ones override, in either spelling."""
    given = {
        "base_model": "m",
        "train_file": "t",
        "output_dir": "o",
        "packing": True,
        "bf16": False,
        "gradient_checkpointing": False,
        "report_to": ["none"],
        "max_length": 1024,
        "optimizer": "adamw",
        "attn_implementation": None,
    }

    def parse(*flags, fields=given):
        return T.config_from_args(T.build_parser().parse_args(["--config-json", json.dumps(fields), *flags]))

    def settings(c):
        return (c.packing, c.bf16, c.gradient_checkpointing, c.report_to, c.max_length, c.optimizer)

    kept = parse()
    assert settings(kept) == (True, False, False, ["none"], 1024, "adamw") and kept.attn_implementation is None
    assert kept.epochs == 2.0 and kept.merge_lora is True  # TrainConfig's defaults
    flags = ["--no-packing", "--bf16", "--gradient-checkpointing", "--report-to", "tensorboard", "wandb"]
    flipped = parse(*flags, "--max-length", "512", "--optimizer", "sgd", "--attn-implementation", "eager")
    assert settings(flipped) == (False, True, True, ["tensorboard", "wandb"], 512, "sgd")
    assert flipped.attn_implementation == "eager"
    assert parse("--packing", "false").packing is False and parse("--max_length", "256").max_length == 256
    assert parse(fields={**given, "gradient_checkpointing": "auto"}).gradient_checkpointing == "auto"
    alone = T.config_from_args(
        T.build_parser().parse_args(["--base-model", "m", "--train-file", "t", "--output-dir", "o"])
    )
    assert alone == T.TrainConfig(base_model="m", train_file="t", output_dir="o")
    with pytest.raises(SystemExit, match="^error: missing --base-model, --output-dir$"):
        parse(fields={"train_file": "t"})


# ----------------------------------------------------------------- (g) launcher


ARGS = ["--train-file", "t.jsonl", "--output-dir", "out"]


def test_one_gpu_runs_the_module_directly():
    assert launch.launch_command(ARGS, gpus=1) == ["python", "-m", "ossinstruct", "train", *ARGS]
    assert launch.launch_command(ARGS, gpus=0)[:4] == ["python", "-m", "ossinstruct", "train"]


def test_eight_gpus_use_accelerate_ddp():
    cmd = launch.launch_command(ARGS, gpus=8)
    assert cmd[:2] == ["accelerate", "launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "8"
    assert cmd[cmd.index("--num_machines") + 1] == "1"
    assert "--multi_gpu" in cmd and "--config_file" not in cmd
    assert cmd[-len(ARGS) - 3 :] == ["-m", "ossinstruct", "train", *ARGS]


def test_two_nodes_take_rank_and_host_from_slurm(monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("SLURM_STEP_NODELIST", raising=False)
    monkeypatch.setenv("SLURM_NODEID", "1")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[07-08]")
    monkeypatch.setattr(launch, "_scontrol_hostnames", lambda nodelist: ["gpu07", "gpu08"])
    cmd = launch.launch_command(ARGS, gpus=4, nodes=2, strategy="fsdp", main_process_port=29601)
    assert cmd[cmd.index("--num_processes") + 1] == "8"
    assert cmd[cmd.index("--num_machines") + 1] == "2"
    assert cmd[cmd.index("--machine_rank") + 1] == "1"
    assert cmd[cmd.index("--main_process_ip") + 1] == "gpu07"
    assert cmd[cmd.index("--main_process_port") + 1] == "29601"
    config = Path(cmd[cmd.index("--config_file") + 1])
    assert config.name == "fsdp.yaml" and config.is_file()
    # Without scontrol on PATH the nodelist is expanded here.
    monkeypatch.setattr(launch, "_scontrol_hostnames", lambda nodelist: None)
    monkeypatch.setenv("SLURM_JOB_NODELIST", "node[003-004,9],login1")
    assert launch.expand_nodelist("node[003-004,9],login1") == ["node003", "node004", "node9", "login1"]
    assert launch.main_host() == "node003"


SLURM_STEP_VARS = {  # what the train job's one-task step (Snakemake's jobstep srun) carries
    "SLURM_JOB_ID": "77",
    "SLURM_NNODES": "1",
    "SLURM_NTASKS": "1",
    "SLURM_GPUS": "8",
    "SLURM_STEP_NUM_NODES": "1",
    "SLURM_STEP_NUM_TASKS": "1",
    "SLURM_NODEID": "0",
    "SRUN_CPUS_PER_TASK": "16",
}


def _slurm_env(monkeypatch, **values):
    for name in list(os.environ):
        if name.startswith(("SLURM_", "SRUN_", "SBATCH_")) or name in ("MASTER_ADDR", launch.NODE_TASK_ENV):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_a_multi_node_job_starts_one_launcher_task_per_node(monkeypatch, capsys):
    """In the job (2 nodes x 8 GPUs: --gpus is the job's 16), the launcher runs srun for one
    task per node with each node's GPUs and CPUs, without the step's own SLURM_* values."""
    _slurm_env(monkeypatch, **SLURM_STEP_VARS, SLURM_JOB_NUM_NODES="2", SLURM_CPUS_PER_TASK="16")
    assert launch.main(["--gpus", "16", "--dry-run", "--", *ARGS]) == 0
    cmd = capsys.readouterr().out.split()
    assert cmd[:2] == ["srun", "--overlap"]
    flags = " ".join(cmd[: cmd.index(sys.executable)])
    assert "--nodes 2 --ntasks 2 --ntasks-per-node 1 --gpus-per-node 8 --cpus-per-task 16" in flags
    assert cmd[cmd.index(sys.executable) :] == [
        sys.executable,
        *"-m ossinstruct.train.launch --gpus 16 --nodes 2 --strategy ddp --".split(),
        *ARGS,
    ]
    _, env = launch.node_tasks_command(["--"], 16, 2, 16)
    assert env["SLURM_JOB_ID"] == "77" and env[launch.NODE_TASK_ENV] == "1"
    assert not {"SLURM_NNODES", "SLURM_NTASKS", "SLURM_GPUS", "SLURM_STEP_NUM_NODES", "SRUN_CPUS_PER_TASK"} & set(env)


def test_the_node_count_comes_from_scontrol_when_the_plugin_stripped_it(monkeypatch, capsys):
    """Snakemake's SLURM plugin keeps only SLURM_JOB_ID in a job's environment."""
    _slurm_env(monkeypatch, SLURM_JOB_ID="77")
    asked = []
    monkeypatch.setattr(launch, "_scontrol_job", lambda job: asked.append(job) or {"NumNodes": "2", "CPUs/Task": "8"})
    assert launch.main(["--gpus", "4", "--dry-run", "--", *ARGS]) == 0
    out = capsys.readouterr().out
    assert asked == ["77"] and "--nodes 2 --ntasks 2" in out and "--gpus-per-node 2 --cpus-per-task 8" in out
    # Outside SLURM: one node, the module directly.
    _slurm_env(monkeypatch)
    assert launch.main(["--gpus", "1", "--dry-run", "--", *ARGS]) == 0
    assert capsys.readouterr().out.split()[1:4] == ["-m", "ossinstruct", "train"]
    with pytest.raises(ValueError, match="does not split evenly over 2 nodes"):
        launch.gpus_per_node(3, 2)


def test_each_node_task_launches_its_share_with_its_rank(monkeypatch, capsys):
    _slurm_env(monkeypatch, SLURM_JOB_ID="77", SLURM_NODEID="1", SLURM_STEP_NODELIST="gpu[07-08]")
    monkeypatch.setenv(launch.NODE_TASK_ENV, "1")
    monkeypatch.setattr(launch, "_scontrol_hostnames", lambda nodelist: None)
    assert launch.main(["--gpus", "16", "--nodes", "2", "--dry-run", "--", *ARGS]) == 0
    cmd = capsys.readouterr().out.split()
    assert cmd[:2] == ["accelerate", "launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "16" and cmd[cmd.index("--num_machines") + 1] == "2"
    assert cmd[cmd.index("--machine_rank") + 1] == "1" and cmd[cmd.index("--main_process_ip") + 1] == "gpu07"
    # A user's own `srun --ntasks-per-node=1` is recognised as node tasks too (no second srun).
    monkeypatch.delenv(launch.NODE_TASK_ENV)
    monkeypatch.setenv("SLURM_STEP_NUM_NODES", "2")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    assert launch.is_node_task(2) and not launch.is_node_task(4)


def test_two_nodes_through_a_fake_srun_reach_accelerate_with_ranks_0_and_1(tmp_path, monkeypatch):
    """The whole exec chain, no SLURM needed: the launcher execs `srun`, a stand-in that starts
    the command once per node as srun would (SLURM_NODEID, SLURM_STEP_NODELIST, the
    environment it was given); each task execs `accelerate`, a stand-in that records its
    arguments and the environment's SLURM_ values."""
    import stat
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    srun = bin_dir / "srun"
    srun.write_text(
        "#!/bin/sh\n"
        "# record the flags, then run the command once per node (--nodes N) like srun\n"
        'echo "$@" > "$RECORD/srun.args"\n'
        "nodes=1\n"
        'while [ "$1" != "${1#-}" ]; do\n'
        '  case "$1" in --nodes) nodes=$2; shift ;;\n'
        "    --ntasks|--ntasks-per-node|--gpus-per-node|--cpus-per-task) shift ;; esac\n"
        "  shift\n"
        "done\n"
        "i=0\n"
        "while [ $i -lt $nodes ]; do\n"
        '  SLURM_NODEID=$i SLURM_STEP_NODELIST="node[1-$nodes]" SLURM_STEP_NUM_NODES=$nodes "$@" || exit 1\n'
        "  i=$((i + 1))\n"
        "done\n"
    )
    accelerate = bin_dir / "accelerate"
    accelerate.write_text(
        '#!/bin/sh\necho "$SLURM_NODEID|$SLURM_NNODES|$SLURM_GPUS|$*" >> "$RECORD/accelerate.calls"\n'
    )
    for tool in (srun, accelerate):
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SRUN_"))}
    env.update(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        RECORD=str(tmp_path),
        SLURM_JOB_ID="77",
        SLURM_JOB_NUM_NODES="2",
        SLURM_CPUS_PER_TASK="4",
        SLURM_NNODES="1",  # the job step's: must not reach the node tasks
        SLURM_GPUS="4",
        PYTHONPATH=str(launch.REPO_ROOT),
    )
    env.pop("MASTER_ADDR", None)
    subprocess.run(
        [sys.executable, "-m", "ossinstruct.launch", "--gpus", "4", "--", *ARGS],
        env=env,
        check=True,
        timeout=120,
    )
    assert (
        "--nodes 2 --ntasks 2 --ntasks-per-node 1 --gpus-per-node 2 --cpus-per-task 4"
        in (tmp_path / "srun.args").read_text()
    )
    calls = (tmp_path / "accelerate.calls").read_text().splitlines()
    assert len(calls) == 2
    for rank, call in enumerate(calls):
        node_id, nnodes, gpus, args = call.split("|")
        assert node_id == str(rank) and nnodes == "" and gpus == ""
        args = args.split()
        assert args[args.index("--machine_rank") + 1] == str(rank)
        assert args[args.index("--main_process_ip") + 1] == "node1"
        assert args[args.index("--num_processes") + 1] == "4" and args[args.index("--num_machines") + 1] == "2"
        assert args[-len(ARGS) - 3 :] == ["-m", "ossinstruct", "train", *ARGS]


def test_multi_node_needs_slurm(monkeypatch):
    monkeypatch.delenv("SLURM_NODEID", raising=False)
    with pytest.raises(RuntimeError, match="SLURM_NODEID"):
        launch.launch_command(ARGS, gpus=4, nodes=2)


@pytest.mark.parametrize("strategy,kind", [("fsdp", "FSDP"), ("deepspeed", "DEEPSPEED")])
def test_accelerate_configs_are_valid(strategy, kind):
    path = launch.accelerate_config(strategy)
    config = yaml.safe_load(path.read_text())
    assert config["distributed_type"] == kind
    if kind == "FSDP":
        assert config["mixed_precision"] == "bf16"
        assert config["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    else:
        ds = json.loads((launch.REPO_ROOT / config["deepspeed_config"]["deepspeed_config_file"]).read_text())
        assert ds["zero_optimization"]["stage"] == 3 and ds["zero_allow_untested_optimizer"]
    cmd = launch.launch_command(ARGS, gpus=8, strategy=strategy)
    assert cmd[cmd.index("--config_file") + 1] == str(path) and "--multi_gpu" not in cmd
    with pytest.raises(ValueError):
        launch.accelerate_config("horovod")


# ----------------------------------------------------------------- (g) 2-process DDP


def test_two_process_ddp_over_gloo_on_cpu(tmp_path, tiny):
    """README "2-process DDP over gloo on CPU": torchrun starts 2 CPU processes; both train
    (each rank's forward sees its share of every step), they end with identical weights
    that differ from the initial ones, the backend is gloo, and the effective batch is the
    configured one: per-device batch 2 x accumulation 2 x world size 2 = 8 rows a step."""
    import os
    import socket
    import subprocess
    import sys

    data = _write(tmp_path / "train.jsonl", _records(24))
    out = tmp_path / "ddp"
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(Path(__file__).parent.parent)]),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        str(Path(__file__).parent / "ddp_worker.py"),
        "--base-model",
        str(tiny),
        "--train-file",
        str(data),
        "--output-dir",
        str(out),
        "--max-length",
        "256",
        "--effective-batch-size",
        "8",
        "--per-device-batch-size",
        "2",
        "--max-steps",
        "3",
        "--optimizer",
        "adamw",
        "--learning-rate",
        "1e-3",
        "--warmup-steps",
        "0",
        "--save-steps",
        "100",
        "--seed",
        "0",
        "--dataset-name",
        "oss-instruct",
    ]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    ranks = [json.loads(Path(f"{out}.rank{k}.json").read_text()) for k in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1]
    for r in ranks:
        assert r["world_size"] == r["args_world_size"] == 2
        assert r["backend"] == "gloo"
        assert r["gradient_accumulation_steps"] == 2 and r["global_step"] == 3
        assert r["rows_per_step"] == [4, 4, 4], r  # 2 rows x 2 micro-batches on each rank
        assert r["final_weights"] != r["initial_weights"], "this rank did not train"
    assert ranks[0]["initial_weights"] == ranks[1]["initial_weights"]
    assert ranks[0]["final_weights"] == ranks[1]["final_weights"]
    hp = json.loads((out / "manifest.json").read_text())["hyperparameters"]
    assert hp["world_size"] == 2 and hp["gradient_accumulation_steps"] == 2
    assert hp["effective_batch_size"] == hp["effective_batch_size_requested"] == 8
    assert sum(r["rows_per_step"][0] for r in ranks) == hp["effective_batch_size"]
