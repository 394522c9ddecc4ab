"""A language's seed pool, read from the hub once (rule seed_pool) for every shard.

With ``selection: magicoder`` (the authors' selection) every shard of a language draws
from the same documents: the first ``pool_size`` rows of the language's train split in
file order, 150,000 by default. Each shard's seeds depend on the order of all of them
(their shuffle), so each of the language's shard jobs would stream the whole pool from
the hub: 80 shard jobs, about 80 GB read for about 9 pools' worth of data.

Rule seed_pool streams the pool once and writes it to ``results/seeds/{corpus}/{lang}/
pool.jsonl.gz``: a header line ``{"pool": <identity>}``, then one line per row in row
order, ``{"document": <id>, "text": <text or null>}``, exactly what the stream yields
(ossinstruct.seeds.sources.hf_documents). The seed shards (ossinstruct.seeds.sampling)
and the comment-pair mining of the same documents (ossinstruct.seeds.documents) read
that file instead of the hub, so they need no network and give the same bytes as the
stream would. The pool is written atomically: a killed job never leaves one that looks
finished.

The pool's identity (the rule's params) is what decides its rows: dataset, data_dir,
revision, text field and pool_size. Snippet settings are not in it (the shards draw), so
changing seeds.max_lines redraws the shards without reading the hub again.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Iterator

from ossinstruct.files import InputError, atomic_path, read_jsonl
from ossinstruct.logs import Progress
from ossinstruct.seeds.plan import SeedsError, hf_source

log = logging.getLogger("ossinstruct.seeds.pool")

# Keys of a huggingface source that decide the pool's rows.
_IDENTITY = ("dataset", "data_dir", "revision", "text_field", "pool_size")


def has_pool(config: dict, corpus: str) -> bool:
    """Whether (corpus, any language) seeds are drawn from a pool file: huggingface corpora
    with selection magicoder (the default)."""
    spec = config["corpora"][corpus]
    return spec["source"] == "huggingface" and spec.get("selection", "magicoder") == "magicoder"


def pool_spec(config: dict, corpus: str, lang: str) -> dict:
    """Everything that decides the pool of (corpus, lang), and the token variable to read
    it with: {"corpus", "lang", "source": {dataset, data_dir, revision, text_field,
    pool_size, token_env}}. JSON-serialisable (rule seed_pool's params)."""
    if not has_pool(config, corpus):
        raise SeedsError(f"corpus {corpus!r} has no seed pool: only huggingface corpora with selection magicoder do")
    source = hf_source(config, corpus, lang)
    return {
        "corpus": corpus,
        "lang": lang,
        "source": {**{key: source[key] for key in _IDENTITY}, "token_env": source["token_env"]},
    }


def pool_identity(spec: dict) -> dict:
    """The pool's identity from a pool spec or a shard spec (their sources agree)."""
    source = spec["source"]
    return {"corpus": spec["corpus"], "lang": spec["lang"], **{key: source[key] for key in _IDENTITY}}


def write_pool(spec: dict, path: str | os.PathLike) -> int:
    """Stream the pool's rows from the hub into `path` (gzip JSON Lines, atomically);
    returns the number of rows (fewer than pool_size when the split is shorter)."""
    from ossinstruct.seeds.sources import iter_hf_documents

    size = int(spec["source"]["pool_size"])
    # The stream in file order (no shuffle buffer), as the authors' train[:pool_size].
    stream_spec = {**spec, "random_seed": 0, "source": {**spec["source"], "shuffle_buffer": None}}
    progress = Progress(log, f"pool {spec['corpus']}/{spec['lang']}", total=size, every_s=30, unit="rows")
    rows = 0
    with atomic_path(path) as tmp:
        # Level 1: about 3x faster than the default for 10-15% more bytes; the pool is
        # written once and read by every shard.
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as fh:
            fh.write(json.dumps({"pool": pool_identity(spec)}, ensure_ascii=False) + "\n")
            for doc_id, text in iter_hf_documents(stream_spec):
                if rows >= size:
                    break
                fh.write(json.dumps({"document": doc_id, "text": text}, ensure_ascii=False) + "\n")
                rows += 1
                progress.step()
    log.info("pool %s/%s: %d rows of %s written to %s", spec["corpus"], spec["lang"], rows, size, path)
    return rows


def iter_pool(path: str | os.PathLike, spec: dict) -> Iterator[tuple[str, str | None]]:
    """(document id, text) of each row of a pool file, in row order. `spec` (a shard's or
    the pool's) must name the same pool as the file's header: a pool left from another
    dataset, revision or pool_size is an error, never silently other seeds."""
    records = read_jsonl(path, what="seed pool row")
    header = next(records, None)
    expected = pool_identity(spec)
    if header is None or header.get("pool") != expected:
        found = None if header is None else header.get("pool")
        raise InputError(
            f"{path}: line 1: the pool's header is {found!r}, but the shard reads the pool {expected!r}; "
            "delete the file to read the pool again (rule seed_pool)"
        )
    for lineno, record in enumerate(records, 2):
        if "document" not in record or "text" not in record:
            raise InputError(f"{path}: line {lineno}: a pool row needs the fields document and text")
        yield record["document"], record["text"]
