"""Seed planning: a language's shards from the config (shard_counts, shard_spec), the
errors, and the deterministic hashing every draw is seeded from. See
ossinstruct/seeds/sampling.py for the sampling rules.
"""

from __future__ import annotations

import hashlib
import json
import random
import sysconfig
from pathlib import Path

from ossinstruct.files import InputError

SAMPLERS = ("magicoder", "fit")

# Keys of config["seeds"] that decide a shard's content (shard_size is kept apart).
_SEED_SETTINGS = (
    "sampler",
    "min_lines",
    "max_lines",
    "max_document_bytes",
    "max_line_length",
    "max_mean_line_length",
    "min_alphanumeric_fraction",
)

SKIP_REASONS = (
    "empty",
    "binary",
    "huge",
    "long_line",
    "minified",
    "low_alphanumeric",
    "blank_snippet",
    "unreadable",
)


class SeedsError(InputError, RuntimeError):
    """A seed shard cannot be produced (bad configuration, missing corpus, too few documents)."""


class HubAccessError(SeedsError):
    """The Hugging Face hub refused access (missing token, gated dataset, 401/403)."""


# --------------------------------------------------------------------------- config -> spec


def _corpus_config(config: dict, corpus: str) -> dict:
    try:
        return config["corpora"][corpus]
    except KeyError:
        raise SeedsError(f"no corpus {corpus!r} in config key corpora") from None


def _language_config(config: dict, corpus: str, lang: str) -> dict:
    ccfg = _corpus_config(config, corpus)
    try:
        return ccfg["languages"][lang]
    except KeyError:
        raise SeedsError(f"no language {lang!r} in config key corpora.{corpus}.languages") from None


def shard_counts(config: dict, corpus: str, lang: str) -> list[int]:
    """Seeds per shard of (corpus, lang): the quota cut into shards of seeds.shard_size."""
    quota = int(_language_config(config, corpus, lang)["quota"])
    size = int(config["seeds"]["shard_size"])
    full, rest = divmod(quota, size)
    return [size] * full + ([rest] if rest else [])


def stdlib_root() -> Path:
    """The running Python's standard library directory (default root of local corpora)."""
    return Path(sysconfig.get_paths()["stdlib"]).resolve()


def shard_spec(config: dict, corpus: str, lang: str, shard: int) -> dict:
    """Everything that determines shard `shard` of (corpus, lang), and nothing else.

    JSON-serialisable. The rule's params hold its spec_identity (a local corpus by the
    digest of its documents, not its path); the script recomputes the spec. Holds neither
    the quota nor other languages/corpora, so raising a quota changes only the last partial
    shard's `count` and adds shards.
    """
    counts = shard_counts(config, corpus, lang)
    if isinstance(shard, str) and shard.isdigit():  # a Snakemake wildcard
        shard = int(shard)
    if not isinstance(shard, int) or isinstance(shard, bool) or not 0 <= shard < len(counts):
        raise SeedsError(
            f"corpus {corpus!r}, language {lang!r}: shard {shard!r} out of range; "
            f"the quota gives {len(counts)} shard(s)"
        )
    ccfg = _corpus_config(config, corpus)
    kind = ccfg["source"]
    if kind == "local":
        extensions = config.get("languages", {}).get(lang)
        if not extensions:
            raise SeedsError(
                f"corpus {corpus!r} is local but language {lang!r} has no file extensions "
                f"in config key languages.{lang}"
            )
        path = ccfg.get("path")
        root = stdlib_root() if path is None else Path(path).expanduser().resolve()
        source = {
            "type": "local",
            "root": str(root),
            "stdlib": path is None,
            "extensions": sorted(set(extensions)),
            "exclude": list(ccfg.get("exclude", [])),
        }
    elif kind == "huggingface":
        source = hf_source(config, corpus, lang)
    else:  # the schema forbids it; keep the error readable anyway
        raise SeedsError(f"corpora.{corpus}.source: unknown source {kind!r}")
    seeds_cfg = config["seeds"]
    return {
        "corpus": corpus,
        "lang": lang,
        "source": source,
        "seeds": {key: seeds_cfg[key] for key in _SEED_SETTINGS},
        "random_seed": int(config["random_seed"]),
        "shard": shard,
        "shard_size": int(seeds_cfg["shard_size"]),
        "count": counts[shard],
    }


def hf_source(config: dict, corpus: str, lang: str) -> dict:
    """The `source` of a huggingface corpus's shard spec (see shard_spec)."""
    ccfg = _corpus_config(config, corpus)
    lcfg = _language_config(config, corpus, lang)
    dataset = lcfg.get("dataset") or ccfg.get("dataset")
    if not dataset:
        raise SeedsError(
            f"corpus {corpus!r} is a huggingface corpus but no dataset is set for "
            f"{lang!r}: set corpora.{corpus}.languages.{lang}.dataset or "
            f"corpora.{corpus}.dataset"
        )
    source = {
        "type": "huggingface",
        "dataset": dataset,
        "data_dir": lcfg.get("data_dir"),
        "revision": lcfg.get("revision") or ccfg.get("revision", "main"),
        "text_field": ccfg.get("text_field", "content"),
        "token_env": ccfg.get("token_env", "HF_TOKEN"),
        "selection": ccfg.get("selection", "magicoder"),
    }
    if source["selection"] == "magicoder":
        source["pool_size"] = int(ccfg.get("pool_size", 150000))
        source["pool_seed"] = int(ccfg.get("pool_seed", 976))
    else:
        source["shuffle_buffer"] = int(ccfg.get("shuffle_buffer", 10000))
    return source


# --------------------------------------------------------------------------- hashing, RNG


def _hash_int(*parts) -> int:
    """A 64-bit integer from a SHA-256 of the JSON of `parts` (stable across runs/machines)."""
    blob = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def document_rng(random_seed: int, corpus: str, lang: str, document: str) -> random.Random:
    return random.Random(_hash_int("snippet", random_seed, corpus, lang, document))


def _stream_seed(random_seed: int, corpus: str, lang: str) -> int:
    return _hash_int("order", random_seed, corpus, lang)
