"""Seed snippets: 1–15 consecutive lines cut from each of many code documents (paper §2.1, B.1).

Hugging Face corpora default to the authors' selection (``selection: magicoder``, see
:func:`pool_snippets` and :func:`pool_order`): the first ``pool_size`` rows, their
snippets drawn as generate_data.py draws them, ordered by its shuffle; shard k holds the
positions [k*shard_size, ...) of that order whatever the quota. The rest of this
docstring describes the other selection (``stream``) and local corpora.

A language's seeds are cut from one deterministic, ordered stream of *eligible* documents of
its corpus (local directory tree or a streamed Hugging Face dataset), fixed by
(random_seed, corpus, lang). Shard k of a language takes eligible documents
[k*shard_size, k*shard_size + count), so shard k holds the same seeds whatever the quota and
raising a quota only grows the last partial shard (as a prefix-preserving extension) and adds
shards.

One snippet per document, drawn from an RNG seeded by a SHA-256 of (random_seed, corpus,
lang, document id), so a document's snippet does not depend on its position in the stream.
``seeds.sampler`` picks the rule:

- ``magicoder`` (default; the authors' ``extract_seed_code`` in generate_data.py): the
  lines are ``str.splitlines(keepends=True)``; the start line is uniform over all lines,
  the length uniform in [min_lines, max_lines], and the snippet is cut off at the end of
  the document. The snippet is the lines joined as they are, line ends included.
- ``fit`` (this project's first rule, kept as an option): the length is drawn first
  (capped by the document's length), then the start uniform among the positions where it
  fits; lines are split under universal newlines and joined with "\\n", with no trailing
  newline. It makes snippets longer on average (no cut-off at the end).

The document filters below always use universal-newline lines.

Documents are skipped (and not counted) when they are:

- ``empty``: no bytes, or only whitespace;
- ``binary``: a NUL byte, or not valid UTF-8;
- ``huge``: more than ``seeds.max_document_bytes`` bytes of UTF-8;
- ``long_line``: a line longer than ``seeds.max_line_length`` characters;
- ``minified``: mean line length above ``seeds.max_mean_line_length``;
- ``low_alphanumeric``: share of letters and digits among all characters below
  ``seeds.min_alphanumeric_fraction``;
- ``blank_snippet``: the drawn snippet is whitespace only;
- ``unreadable`` (local only): the file could not be read.

Public API: :func:`shard_counts`, :func:`shard_spec`, :func:`sample_shard`,
:func:`sample_shard_with_stats`, :func:`write_shard`, plus the building blocks
:func:`document_lines`, :func:`check_text`, :func:`draw_snippet`, :func:`iter_documents`,
:func:`iter_eligible`, :func:`compile_glob`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator

from ossinstruct.files import write_jsonl_atomic
from ossinstruct.seeds.filters import (  # noqa: F401 - part of this module's API
    check_text,
    compile_glob,
    cut_snippet,
    decode_document,
    document_lines,
    draw_snippet,
)
from ossinstruct.seeds.plan import (  # noqa: F401 - part of this module's API
    SAMPLERS,
    SKIP_REASONS,
    HubAccessError,
    SeedsError,
    document_rng,
    shard_counts,
    shard_spec,
    stdlib_root,
)
from ossinstruct.seeds.pool import iter_pool
from ossinstruct.seeds.sources import (  # noqa: F401 - part of this module's API
    Skip,
    hf_document_id,
    hf_documents,
    iter_documents,
    iter_hf_documents,
    iter_local_documents,
    open_hf_stream,
    source_label,
    spec_identity,
)

log = logging.getLogger("ossinstruct.seeds")
# --------------------------------------------------------------------------- sampling


def iter_eligible(spec: dict, stats: Counter | None = None) -> Iterator[tuple[str, int, int, str]]:
    """(document id, start, end, snippet) of each eligible document in stream order.

    `stats`, when given, counts "read" and each skip reason.
    """
    stats = Counter() if stats is None else stats
    settings = spec["seeds"]
    key = (spec["random_seed"], spec["corpus"], spec["lang"])
    for doc_id, content in iter_documents(spec):
        stats["read"] += 1
        if isinstance(content, Skip):
            stats[content.reason] += 1
            continue
        if isinstance(content, bytes):
            content, reason = decode_document(content, settings)
            if reason:
                stats[reason] += 1
                continue
        lines, reason = check_text(content, settings)
        if reason:
            stats[reason] += 1
            continue
        start, end, snippet = cut_snippet(content, lines, document_rng(*key, doc_id), settings)
        if not snippet.strip():
            stats["blank_snippet"] += 1
            continue
        yield doc_id, start, end, snippet


def pool_snippets(
    documents: Iterable[tuple[str, str | None]],
    pool_size: int,
    pool_seed: int,
    settings: dict,
    chunk_size: int = 1000,
) -> list[tuple[str, int, int, str]]:
    """(document id, start, end, snippet) of the first `pool_size` documents, in order, as
    the authors' generate_data.py draws them: Python's random seeded with pool_seed + the
    chunk's first row at each chunk of `chunk_size` rows (their batched map), then one
    snippet per document in row order. No document is filtered or skipped."""
    rng = random.Random()
    out = []
    for row, (doc_id, text) in enumerate(documents):
        if row >= pool_size:
            break
        if row % chunk_size == 0:
            rng.seed(pool_seed + row)
        if not isinstance(text, str) or not text.splitlines():
            # Their random.choice(range(0)) raises here: there is no snippet to draw.
            raise SeedsError(
                f"row {row} ({doc_id}) of the pool has no text: the authors' "
                f"sampler cannot draw from it; use selection: stream"
            )
        start, end, snippet = cut_snippet(text, document_lines(text), rng, settings)
        out.append((doc_id, start, end, snippet))
    return out


def pool_order(n: int, pool_seed: int) -> list[int]:
    """Row of each position after the authors' dataset.shuffle(seed=pool_seed): Hugging
    Face datasets' permutation, numpy's default_rng(seed).permutation(n)."""
    import numpy as np

    return np.random.default_rng(pool_seed).permutation(n).tolist()


def _sample_pool_shard(spec: dict, pool: str | os.PathLike | None = None) -> tuple[list[dict], dict]:
    source = spec["source"]
    first, count = spec["shard"] * spec["shard_size"], spec["count"]
    label = source_label(spec)
    # The pool file rule seed_pool wrote (the same rows as the stream), else the hub.
    documents = iter_pool(pool, spec) if pool is not None else iter_documents(spec)
    snippets = pool_snippets(documents, source["pool_size"], source["pool_seed"], spec["seeds"]) if count > 0 else []
    order = pool_order(len(snippets), source["pool_seed"])
    if first + count > len(order):
        raise SeedsError(
            f"corpus {spec['corpus']!r}, language {spec['lang']!r}, shard {spec['shard']}: the "
            f"pool has {len(order)} documents (pool_size {source['pool_size']}), so it supports "
            f"a quota of at most {len(order)} but this shard needs {first + count}; lower "
            f"corpora.{spec['corpus']}.languages.{spec['lang']}.quota or raise "
            f"corpora.{spec['corpus']}.pool_size"
        )
    records = []
    for position in range(first, first + count):
        row = order[position]
        doc_id, start, end, text = snippets[row]
        records.append(
            {
                "seed_id": f"{spec['corpus']}/{spec['lang']}/{position}",
                "corpus": spec["corpus"],
                "lang": spec["lang"],
                "index": position,  # the authors' "index": the position after the shuffle
                "shard": spec["shard"],
                "document": doc_id,
                "start_line": start + 1,
                "end_line": end,
                "seed": text,
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "source": label,
                "raw_index": row,  # theirs: the row in the pool
            }
        )
    summary = {
        "corpus": spec["corpus"],
        "lang": spec["lang"],
        "shard": spec["shard"],
        "source": label,
        "documents_read": len(snippets),
        "skipped": {},
        "earlier_shards": first,
        "seeds": len(records),
    }
    log.info(
        "seeds %s/%s shard %d (%s): pool of %d documents, wrote %d seeds",
        spec["corpus"],
        spec["lang"],
        spec["shard"],
        label,
        len(snippets),
        len(records),
    )
    return records, summary


def sample_shard_with_stats(spec: dict, pool: str | os.PathLike | None = None) -> tuple[list[dict], dict]:
    """The shard's seed records and a summary: documents read, skipped by reason, seeds.

    `pool`: the language's pool file (ossinstruct.seeds.pool; selection magicoder only),
    read instead of streaming the hub: the same seeds, byte for byte."""
    if spec["source"].get("selection") == "magicoder":
        return _sample_pool_shard(spec, pool)
    if pool is not None:
        raise SeedsError(f"corpus {spec['corpus']!r}: only selection magicoder reads a pool file")
    first = spec["shard"] * spec["shard_size"]
    count = spec["count"]
    label = source_label(spec)
    stats: Counter = Counter()
    records: list[dict] = []
    eligible = 0
    if count > 0:
        for doc_id, start, end, text in iter_eligible(spec, stats):
            position = eligible
            eligible += 1
            if position < first:
                continue  # belongs to an earlier shard
            records.append(
                {
                    "seed_id": f"{spec['corpus']}/{spec['lang']}/{position}",
                    "corpus": spec["corpus"],
                    "lang": spec["lang"],
                    "index": position,
                    "shard": spec["shard"],
                    "document": doc_id,
                    "start_line": start + 1,
                    "end_line": end,
                    "seed": text,
                    "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                    "source": label,
                }
            )
            if len(records) == count:
                break
    summary = {
        "corpus": spec["corpus"],
        "lang": spec["lang"],
        "shard": spec["shard"],
        "source": label,
        "documents_read": stats["read"],
        "skipped": {reason: stats[reason] for reason in SKIP_REASONS if stats[reason]},
        "earlier_shards": min(eligible, first),
        "seeds": len(records),
    }
    skipped = ", ".join(f"{k}={v}" for k, v in summary["skipped"].items()) or "none"
    log.info(
        "seeds %s/%s shard %d (%s): read %d documents, skipped %s, %d eligible for earlier shards, wrote %d seeds",
        spec["corpus"],
        spec["lang"],
        spec["shard"],
        label,
        summary["documents_read"],
        skipped,
        summary["earlier_shards"],
        len(records),
    )
    if len(records) < count:
        raise SeedsError(
            f"corpus {spec['corpus']!r}, language {spec['lang']!r}, shard {spec['shard']}: "
            f"the corpus ran out of documents; it has only {eligible} eligible documents "
            f"(read {stats['read']}, skipped {sum(summary['skipped'].values())}: {skipped}), "
            f"so it supports a quota of at most {eligible} (one seed per document) but this "
            f"shard needs {first + count}; lower "
            f"corpora.{spec['corpus']}.languages.{spec['lang']}.quota or add documents"
        )
    return records, summary


def sample_shard(spec: dict, pool: str | os.PathLike | None = None) -> list[dict]:
    """The shard's seed records, in index order."""
    return sample_shard_with_stats(spec, pool)[0]


def write_shard(spec: dict, path: str | os.PathLike, pool: str | os.PathLike | None = None) -> int:
    """Write the shard as JSON Lines, atomically; returns the number of seeds."""
    return write_jsonl_atomic(path, sample_shard(spec, pool))
