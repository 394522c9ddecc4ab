"""The GGUF load path (ossinstruct/llm/models.py), the load path of the demo's real model:
a tiny Llama GGUF file written here with the `gguf` package is converted into a cached
checkpoint (weights and tokenizer), and a second load reuses the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch

from ossinstruct.llm import models  # noqa: E402

SPECIALS = ["<unk>", "<s>", "</s>", "<0x0A>"]
CHARS = ["▁" if chr(c) == " " else chr(c) for c in range(32, 127)]
TOKENS = SPECIALS + CHARS
HIDDEN, FFN, LAYERS, HEADS, KV_HEADS = 32, 64, 2, 4, 2


def write_tiny_llama_gguf(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A 2-layer Llama with a character-level SentencePiece vocabulary, float32 tensors.
    Returns the tensors written, by GGUF name."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(128)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(TOKENS))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(TOKENS)
    writer.add_token_scores([0.0] * len(SPECIALS) + [-float(i) for i in range(len(CHARS))])
    writer.add_token_types([2, 3, 3, 6] + [1] * len(CHARS))  # unknown, control x2, byte, normal
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    kv = HIDDEN * KV_HEADS // HEADS
    shapes = {
        "token_embd.weight": (len(TOKENS), HIDDEN),
        "output_norm.weight": (HIDDEN,),
        "output.weight": (len(TOKENS), HIDDEN),
    }
    for i in range(LAYERS):
        shapes.update(
            {
                f"blk.{i}.attn_norm.weight": (HIDDEN,),
                f"blk.{i}.ffn_norm.weight": (HIDDEN,),
                f"blk.{i}.attn_q.weight": (HIDDEN, HIDDEN),
                f"blk.{i}.attn_k.weight": (kv, HIDDEN),
                f"blk.{i}.attn_v.weight": (kv, HIDDEN),
                f"blk.{i}.attn_output.weight": (HIDDEN, HIDDEN),
                f"blk.{i}.ffn_gate.weight": (FFN, HIDDEN),
                f"blk.{i}.ffn_up.weight": (FFN, HIDDEN),
                f"blk.{i}.ffn_down.weight": (HIDDEN, FFN),
            }
        )
    tensors = {name: (rng.standard_normal(shape) * 0.1).astype(np.float32) for name, shape in shapes.items()}
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return tensors


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "model-cache"
    monkeypatch.setenv(models.MODEL_CACHE_ENV, str(root))
    return root


def test_gguf_file_is_converted_cached_and_reused(tmp_path, cache, monkeypatch):
    """README: the transformers backend loads "a .gguf file" and `make demo` converts the
    Gemma GGUF file "into a cached checkpoint under ~/.cache/ossinstruct" once: the weights
    and tokenizer of a GGUF file come out as written, into the cache, and a second load
    reads the cache without converting again."""
    gguf_path = tmp_path / "tiny.gguf"
    written = write_tiny_llama_gguf(gguf_path)

    tokenizer = models.load_tokenizer(str(gguf_path))
    ids = tokenizer("def f(x):").input_ids
    assert ids[0] == 1 and tokenizer.decode(ids, skip_special_tokens=True) == "def f(x):"
    assert tokenizer.eos_token_id == 2 and tokenizer.padding_side == "left"
    model = models.load_causal_lm(str(gguf_path), dtype="float32", device="cpu")
    assert model.config.hidden_size == HIDDEN and model.config.num_hidden_layers == LAYERS
    state = model.state_dict()
    # Tensors GGUF stores as transformers does (q/k are row-permuted for llama.cpp's rope).
    for gguf_name, name in [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("output.weight", "lm_head.weight"),
        ("blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"),
        ("blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight"),
    ]:
        assert np.array_equal(state[name].numpy(), written[gguf_name]), name
    with torch.inference_mode():
        out = model.generate(**tokenizer("ab", return_tensors="pt"), max_new_tokens=3, do_sample=False)
    assert out.shape[1] == len(tokenizer("ab").input_ids) + 3

    converted = models.converted_gguf_dir(tmp_path, "tiny.gguf")
    assert converted.parent == cache / "gguf"
    for part in ("model", "tokenizer"):
        marker = converted / part / "CONVERTED.json"
        assert json.loads(marker.read_text())["format"]
    assert (converted / "model" / "model.safetensors").is_file()
    stamp = (converted / "model" / "CONVERTED.json").stat().st_mtime_ns

    # A second load must not convert: the converters now fail if called.
    import transformers
    from transformers import modeling_gguf_pytorch_utils

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted a second time instead of reusing the cache")

    monkeypatch.setattr(modeling_gguf_pytorch_utils, "load_gguf_checkpoint", no_conversion)
    real_from_pretrained = transformers.AutoTokenizer.from_pretrained

    def tokenizer_from_cache_only(source, *args, **kwargs):
        if kwargs.get("gguf_file"):
            no_conversion()
        return real_from_pretrained(source, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer_from_cache_only)
    again = models.load_causal_lm(str(gguf_path), dtype="float32", device="cpu")
    assert models.load_tokenizer(str(gguf_path))("def f(x):").input_ids == ids
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, state[name]), name
    assert (converted / "model" / "CONVERTED.json").stat().st_mtime_ns == stamp
    assert [p.name for p in (cache / "gguf").iterdir()] == [converted.name]


def test_a_replaced_gguf_file_gets_a_new_conversion(tmp_path, cache):
    """README: the GGUF conversion is cached; the cache is keyed by the file (path, size,
    mtime), so a file replaced by another model is converted again, not served stale."""
    gguf_path = tmp_path / "tiny.gguf"
    write_tiny_llama_gguf(gguf_path, seed=0)
    first = models.load_causal_lm(str(gguf_path), dtype="float32", device="cpu")
    first_dir = models.converted_gguf_dir(tmp_path, "tiny.gguf")
    stat = gguf_path.stat()
    written = write_tiny_llama_gguf(gguf_path, seed=1)
    os.utime(gguf_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # coarse clocks
    second = models.load_causal_lm(str(gguf_path), dtype="float32", device="cpu")
    assert models.converted_gguf_dir(tmp_path, "tiny.gguf") != first_dir
    weight = second.state_dict()["lm_head.weight"].numpy()
    assert np.array_equal(weight, written["output.weight"])
    assert not np.array_equal(weight, first.state_dict()["lm_head.weight"].numpy())
