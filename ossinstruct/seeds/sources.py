"""Seed document sources: local directory trees and streamed Hugging Face datasets, as one
ordered stream of (document id, content) per language.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ossinstruct.seeds.filters import _Excluder
from ossinstruct.seeds.plan import HubAccessError, SeedsError, _stream_seed

# --------------------------------------------------------------------------- streams
#
# A document stream yields (document id, content) in its deterministic order: bytes from
# local files, str (or None) from hub rows, or a Skip when the stream already knows the
# document is unusable (a huge file is not read, an unreadable one cannot be).


class Skip:
    """A document the stream rejects without reading it; `reason` is one of SKIP_REASONS."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _local_paths(source: dict, corpus: str) -> list[str]:
    root = Path(source["root"])
    if not root.is_dir():
        what = (
            "the running Python's standard library (corpora.{c}.path is null)"
            if source.get("stdlib")
            else "the directory set by config key corpora.{c}.path"
        ).format(c=corpus)
        raise SeedsError(f"corpus {corpus!r}: root {str(root)!r} does not exist or is not a directory; it is {what}")
    extensions = tuple(source["extensions"])
    excluder = _Excluder(source.get("exclude", []))
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [d for d in dirnames if not excluder.directory(prefix + d)]
        for name in filenames:
            if not name.endswith(extensions):
                continue
            rel = prefix + name
            if excluder.file(rel):
                continue
            found.append(rel)
    return sorted(found)


_CORPUS_IDENTITY: dict[tuple, str] = {}


def local_corpus_digest(source: dict, corpus: str, max_document_bytes: int) -> str:
    """sha256 of what a local corpus gives the sampler: each document's path relative to the
    root and its content's sha256 (a document over `max_document_bytes`, skipped unread,
    only as "huge"). The root's own location is not in it: the same files elsewhere (another
    checkout, a moved corpus) have the same digest. Computed once per process."""
    key = (source["root"], tuple(source["extensions"]), tuple(source.get("exclude", [])), max_document_bytes)
    if key not in _CORPUS_IDENTITY:
        root = Path(source["root"])
        digest = hashlib.sha256()
        for rel in _local_paths(source, corpus):
            path = root / rel
            try:
                if path.stat().st_size > max_document_bytes:
                    content = "huge"
                else:
                    content = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                content = "unreadable"
            digest.update(json.dumps([rel, content]).encode("utf-8") + b"\n")
        _CORPUS_IDENTITY[key] = digest.hexdigest()
    return _CORPUS_IDENTITY[key]


def spec_identity(spec: dict) -> dict:
    """A shard spec for rule params: a local corpus's root (an absolute path, which differs
    between checkouts and machines) replaced by the digest of the documents under it."""
    source = spec["source"]
    if source["type"] != "local":
        return spec
    documents = local_corpus_digest(source, spec["corpus"], spec["seeds"]["max_document_bytes"])
    return {**spec, "source": {**{k: v for k, v in source.items() if k != "root"}, "documents_sha256": documents}}


def iter_local_documents(spec: dict) -> Iterator[tuple[str, bytes | Skip]]:
    source = spec["source"]
    paths = _local_paths(source, spec["corpus"])
    random.Random(_stream_seed(spec["random_seed"], spec["corpus"], spec["lang"])).shuffle(paths)
    root = Path(source["root"])
    limit = spec["seeds"]["max_document_bytes"]
    for rel in paths:
        path = root / rel
        try:
            if not path.is_file():
                yield rel, Skip("unreadable")
            elif path.stat().st_size > limit:
                yield rel, Skip("huge")  # not read at all
            else:
                yield rel, path.read_bytes()
        except OSError:
            yield rel, Skip("unreadable")


def _token_message(source: dict, spec: dict, why: str) -> str:
    return (
        f"{why}: the Hugging Face dataset {source['dataset']!r} "
        f"(corpus {spec['corpus']!r}, language {spec['lang']!r}) is gated; accept its terms "
        f"on the hub and export a read token in the environment variable "
        f"{source['token_env']} (config key corpora.{spec['corpus']}.token_env)"
    )


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _is_auth_error(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
    if status in (401, 403):
        return True
    if type(exc).__name__ in ("GatedRepoError", "DatasetNotFoundError"):
        # datasets answers a gated/unauthorised dataset with DatasetNotFoundError
        return True
    message = str(exc).lower()
    return bool(re.search(r"gated|unauthori[sz]ed|forbidden|\b40[13]\b", message))


def open_hf_stream(
    dataset: str, data_dir: str | None, revision: str, token: str, seed: int, buffer_size: int | None
) -> Iterable[dict]:
    """The one call that reaches the hub: the streamed train split, shuffled through a
    buffer, or in file order when `buffer_size` is None (tests replace it)."""
    import datasets  # lazy: only huggingface corpora need it

    stream = datasets.load_dataset(
        dataset, data_dir=data_dir, split="train", streaming=True, revision=revision, token=token
    )
    return stream if buffer_size is None else stream.shuffle(seed=seed, buffer_size=buffer_size)


def hf_document_id(row: dict) -> str:
    """Document id of a hub row: its "id", else "hexsha", else "max_stars_repo_name/max_stars_repo_path",
    else a hash of the row's content."""
    for key in ("id", "hexsha"):
        value = row.get(key)
        if value is not None and value != "":
            return str(value)
    repo, path = row.get("max_stars_repo_name"), row.get("max_stars_repo_path")
    if repo and path:
        return f"{repo}/{path}"
    blob = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def hf_documents(rows: Iterable[dict], text_field: str, corpus: str = "?") -> Iterator[tuple[str, str | None]]:
    """(document id, text) of each hub row."""
    for row in rows:
        if text_field not in row:
            raise SeedsError(
                f"corpus {corpus!r}: rows have no field {text_field!r} (config key "
                f"corpora.{corpus}.text_field); fields are {sorted(row)}"
            )
        text = row[text_field]
        yield hf_document_id(row), (text if isinstance(text, str) else None)


def iter_hf_documents(spec: dict) -> Iterator[tuple[str, str | None]]:
    source = spec["source"]
    token = os.environ.get(source["token_env"]) or None
    if token is None:
        raise HubAccessError(_token_message(source, spec, f"environment variable {source['token_env']} is not set"))
    seed = _stream_seed(spec["random_seed"], spec["corpus"], spec["lang"]) % 2**32
    try:
        rows = open_hf_stream(
            source["dataset"],
            source["data_dir"],
            source["revision"],
            token,
            seed,
            source.get("shuffle_buffer"),  # None (magicoder selection): file order
        )
        yield from hf_documents(rows, source["text_field"], spec["corpus"])
    except SeedsError:
        raise
    except Exception as exc:
        detail = _redact(f"{type(exc).__name__}: {exc}", token)
        if _is_auth_error(exc):
            raise HubAccessError(_token_message(source, spec, f"the hub refused access ({detail})")) from None
        raise SeedsError(
            f"corpus {spec['corpus']!r}, language {spec['lang']!r}: streaming {source['dataset']!r} failed: {detail}"
        ) from None


def iter_documents(spec: dict) -> Iterator[tuple[str, bytes | str | Skip | None]]:
    """The ordered document stream of the spec's (corpus, lang)."""
    if spec["source"]["type"] == "local":
        return iter_local_documents(spec)
    return iter_hf_documents(spec)


def source_label(spec: dict) -> str:
    """Short provenance, e.g. local:stdlib-python3.11 or hf:bigcode/starcoderdata@main/python."""
    source = spec["source"]
    if source["type"] == "local":
        name = Path(source["root"]).name
        return f"local:stdlib-{name}" if source.get("stdlib") else f"local:{name}"
    label = f"hf:{source['dataset']}@{source['revision']}"
    return f"{label}/{source['data_dir']}" if source.get("data_dir") else label
