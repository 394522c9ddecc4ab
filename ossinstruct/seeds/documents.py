"""The whole documents behind a seed shard, read again.

A seed record keeps its document's id (``document``) and the snippet's lines, not the
document. The documents are found again through the shard's own spec (the one the seeds
rule ran with, ossinstruct.seeds.plan.shard_spec), so what is read is exactly what the
snippets were cut from:

- local corpora: ``document`` is the path relative to the corpus root, read directly;
- hub corpora: the same stream the seeds were drawn from (same dataset, revision,
  data_dir, order) is read again, and the rows whose document id
  (ossinstruct.seeds.sources.hf_document_id) is one of the shard's are kept. With
  ``selection: magicoder`` every seed comes from the first ``pool_size`` rows, so reading
  stops there at the latest; it stops as soon as every document is found either way.
  With that selection the rows are read from the language's pool file (rule seed_pool,
  ossinstruct.seeds.pool) when one is given: the same rows, without the hub.

Each document is decoded as the seeds stage decodes it (decode_document).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from ossinstruct.seeds.filters import decode_document
from ossinstruct.seeds.plan import SeedsError
from ossinstruct.seeds.pool import iter_pool
from ossinstruct.seeds.sources import Skip, iter_documents


def _decode(content, settings: dict) -> str | None:
    if content is None or isinstance(content, Skip):
        return None
    if isinstance(content, bytes):
        text, reason = decode_document(content, settings)
        return None if reason else text
    return content


def seed_documents(spec: dict, seeds: Sequence[dict], pool: str | None = None) -> Iterator[tuple[dict, str]]:
    """(seed record, its document's text) for each seed of the shard, in seed order.

    `pool`: the language's pool file (selection magicoder), read instead of the hub."""
    seeds = list(seeds)
    if not seeds:
        return
    settings = spec["seeds"]
    source = spec["source"]
    if source["type"] == "local":
        root = Path(source["root"])
        for seed in seeds:
            path = root / seed["document"]
            try:
                text = _decode(path.read_bytes(), settings)
            except OSError as exc:
                raise SeedsError(
                    f"seed {seed['seed_id']}: its document {str(path)!r} cannot be read again ({exc})"
                ) from None
            if text is None:
                raise SeedsError(f"seed {seed['seed_id']}: its document {str(path)!r} is no longer valid text")
            yield seed, text
        return
    wanted = {seed["document"] for seed in seeds}
    found: dict[str, str] = {}
    limit = source.get("pool_size") if source.get("selection") == "magicoder" else None
    rows = iter_pool(pool, spec) if pool is not None else iter_documents(spec)
    for row, (doc_id, content) in enumerate(rows):
        if limit is not None and row >= limit:
            break
        if doc_id in wanted and doc_id not in found:
            text = _decode(content, settings)
            if text is not None:
                found[doc_id] = text
            if len(found) == len(wanted):
                break
    missing = sorted(wanted - set(found))
    if missing:
        raise SeedsError(
            f"corpus {spec['corpus']!r}, language {spec['lang']!r}, shard {spec['shard']}: "
            f"{len(missing)} seed documents were not found again in the stream (first: {missing[0]!r}); "
            "the dataset revision moved? pin corpora.<name>.revision"
        )
    for seed in seeds:
        yield seed, found[seed["document"]]
