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
import json
import logging
import os
import random
import re
import sysconfig
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from ossinstruct.files import InputError, write_jsonl_atomic

log = logging.getLogger("ossinstruct.seeds.sampling")

# Bump when the sampling algorithm changes the content of shards: it is part of every spec,
# so Snakemake reruns the shards.
SAMPLER_VERSION = 1
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

    JSON-serialisable; meant as the Snakemake rule's params. Holds neither the quota nor
    other languages/corpora, so raising a quota changes only the last partial shard's
    `count` and adds shards.
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
    lcfg = ccfg["languages"][lang]
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
    else:  # the schema forbids it; keep the error readable anyway
        raise SeedsError(f"corpora.{corpus}.source: unknown source {kind!r}")
    seeds_cfg = config["seeds"]
    return {
        "sampler": SAMPLER_VERSION,
        "corpus": corpus,
        "lang": lang,
        "source": source,
        "seeds": {key: seeds_cfg[key] for key in _SEED_SETTINGS},
        "random_seed": int(config["random_seed"]),
        "shard": shard,
        "shard_size": int(seeds_cfg["shard_size"]),
        "count": counts[shard],
    }


# --------------------------------------------------------------------------- hashing, RNG


def _hash_int(*parts) -> int:
    """A 64-bit integer from a SHA-256 of the JSON of `parts` (stable across runs/machines)."""
    blob = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def document_rng(random_seed: int, corpus: str, lang: str, document: str) -> random.Random:
    return random.Random(_hash_int("snippet", random_seed, corpus, lang, document))


def _stream_seed(random_seed: int, corpus: str, lang: str) -> int:
    return _hash_int("order", random_seed, corpus, lang)


# --------------------------------------------------------------------------- documents

_NEWLINE = re.compile(r"\r\n|\r|\n")
_NON_ALNUM = re.compile(r"[\W_]+")


def document_lines(text: str) -> list[str]:
    """The lines of `text` under universal newlines, without their line ends."""
    lines = _NEWLINE.split(text)
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the text ends with a line end
    return lines


def decode_document(data: bytes, settings: dict) -> tuple[str | None, str | None]:
    """(text, None) for a usable byte string, else (None, skip reason)."""
    if not data:
        return None, "empty"
    if len(data) > settings["max_document_bytes"]:
        return None, "huge"
    if b"\x00" in data:
        return None, "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "binary"
    return text.removeprefix("\ufeff"), None


def check_text(text: str | None, settings: dict) -> tuple[list[str] | None, str | None]:
    """(lines, None) when `text` passes the document filters, else (None, skip reason)."""
    if text is None or not text.strip():
        return None, "empty"
    if "\x00" in text:
        return None, "binary"
    if len(text) > settings["max_document_bytes"] or (
        len(text.encode("utf-8")) > settings["max_document_bytes"]
    ):
        return None, "huge"
    lines = document_lines(text)
    lengths = [len(line) for line in lines]
    if max(lengths) > settings["max_line_length"]:
        return None, "long_line"
    if sum(lengths) / len(lengths) > settings["max_mean_line_length"]:
        return None, "minified"
    alnum = len(text) - sum(len(m) for m in _NON_ALNUM.findall(text))
    if alnum / len(text) < settings["min_alphanumeric_fraction"]:
        return None, "low_alphanumeric"
    return lines, None


def draw_snippet(
    lines: list[str], rng: random.Random, min_lines: int, max_lines: int, sampler: str = "magicoder"
) -> tuple[int, int]:
    """0-based [start, end) of a snippet of `lines` (see the module docstring).

    magicoder: start uniform over all lines, then length uniform in [min_lines, max_lines],
    end cut at the document's end. fit: length first (capped by the document), then start
    uniform where it fits.
    """
    if sampler == "magicoder":
        start = rng.randrange(len(lines))
        wanted = rng.randint(min_lines, max(min_lines, max_lines))
        return start, min(start + wanted, len(lines))
    if sampler == "fit":
        wanted = rng.randint(min_lines, max(min_lines, max_lines))
        n = min(wanted, len(lines))
        start = rng.randint(0, len(lines) - n)
        return start, start + n
    raise SeedsError(f"config key seeds.sampler: unknown sampler {sampler!r}; known: {SAMPLERS}")


def cut_snippet(
    text: str, lines: list[str], rng: random.Random, settings: dict
) -> tuple[int, int, str]:
    """(start, end, snippet text) of one document, by ``settings["sampler"]``. `lines` are
    the universal-newline lines of `text` (the fit sampler's)."""
    sampler = settings.get("sampler", "magicoder")
    if sampler == "magicoder":
        kept = text.splitlines(keepends=True)
        start, end = draw_snippet(kept, rng, settings["min_lines"], settings["max_lines"], sampler)
        return start, end, "".join(kept[start:end])
    start, end = draw_snippet(lines, rng, settings["min_lines"], settings["max_lines"], sampler)
    return start, end, "\n".join(lines[start:end])


# --------------------------------------------------------------------------- glob excludes


def _translate_component(part: str) -> str:
    out, i = [], 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = part.find("]", i + 2 if part[i + 1 : i + 2] in ("!", "]") else i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = part[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern:
    """A regex matching relative POSIX paths for a glob: `*`, `?` and `[...]` stay within a
    path component, a `**` component matches any number of components (zero included)."""
    parts = pattern.strip("/").split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _translate_component(part) + ("" if last else "/")
    return re.compile(regex, re.DOTALL)


class _Excluder:
    def __init__(self, patterns: Iterable[str]):
        patterns = list(patterns)
        self.files = [compile_glob(p) for p in patterns]
        # A directory matching the part before a trailing "/**" has every file excluded.
        trimmed = [p.rstrip("/") for p in patterns]
        self.dirs = [compile_glob(p[: -len("/**")]) for p in trimmed if p.endswith("/**")]

    def file(self, rel: str) -> bool:
        return any(rx.fullmatch(rel) for rx in self.files)

    def directory(self, rel: str) -> bool:
        return any(rx.fullmatch(rel) for rx in self.dirs)


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
        raise SeedsError(
            f"corpus {corpus!r}: root {str(root)!r} does not exist or is not a directory; "
            f"it is {what}"
        )
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
    dataset: str, data_dir: str | None, revision: str, token: str, seed: int,
    buffer_size: int | None
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


def hf_documents(
    rows: Iterable[dict], text_field: str, corpus: str = "?"
) -> Iterator[tuple[str, str | None]]:
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
        raise HubAccessError(
            _token_message(source, spec, f"environment variable {source['token_env']} is not set")
        )
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
            raise HubAccessError(
                _token_message(source, spec, f"the hub refused access ({detail})")
            ) from None
        raise SeedsError(
            f"corpus {spec['corpus']!r}, language {spec['lang']!r}: streaming "
            f"{source['dataset']!r} failed: {detail}"
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


# --------------------------------------------------------------------------- sampling


def iter_eligible(
    spec: dict, stats: Counter | None = None
) -> Iterator[tuple[str, int, int, str]]:
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
    documents: Iterable[tuple[str, str | None]], pool_size: int, pool_seed: int, settings: dict,
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
            raise SeedsError(f"row {row} ({doc_id}) of the pool has no text: the authors' "
                             f"sampler cannot draw from it; use selection: stream")
        start, end, snippet = cut_snippet(text, document_lines(text), rng, settings)
        out.append((doc_id, start, end, snippet))
    return out


def pool_order(n: int, pool_seed: int) -> list[int]:
    """Row of each position after the authors' dataset.shuffle(seed=pool_seed): Hugging
    Face datasets' permutation, numpy's default_rng(seed).permutation(n)."""
    import numpy as np

    return np.random.default_rng(pool_seed).permutation(n).tolist()


def _sample_pool_shard(spec: dict) -> tuple[list[dict], dict]:
    source = spec["source"]
    first, count = spec["shard"] * spec["shard_size"], spec["count"]
    label = source_label(spec)
    snippets = pool_snippets(iter_documents(spec), source["pool_size"], source["pool_seed"],
                             spec["seeds"]) if count > 0 else []
    order = pool_order(len(snippets), source["pool_seed"])
    if first + count > len(order):
        raise SeedsError(
            f"corpus {spec['corpus']!r}, language {spec['lang']!r}, shard {spec['shard']}: the "
            f"pool has {len(order)} documents (pool_size {source['pool_size']}), so it supports "
            f"a quota of at most {len(order)} but this shard needs {first + count}; lower "
            f"corpora.{spec['corpus']}.languages.{spec['lang']}.quota or raise "
            f"corpora.{spec['corpus']}.pool_size")
    records = []
    for position in range(first, first + count):
        row = order[position]
        doc_id, start, end, text = snippets[row]
        records.append({
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
        })
    summary = {"corpus": spec["corpus"], "lang": spec["lang"], "shard": spec["shard"],
               "source": label, "documents_read": len(snippets), "skipped": {},
               "earlier_shards": first, "seeds": len(records)}
    log.info("seeds %s/%s shard %d (%s): pool of %d documents, wrote %d seeds", spec["corpus"],
             spec["lang"], spec["shard"], label, len(snippets), len(records))
    return records, summary


def sample_shard_with_stats(spec: dict) -> tuple[list[dict], dict]:
    """The shard's seed records and a summary: documents read, skipped by reason, seeds."""
    if spec["source"].get("selection") == "magicoder":
        return _sample_pool_shard(spec)
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
        "seeds %s/%s shard %d (%s): read %d documents, skipped %s, %d eligible for earlier "
        "shards, wrote %d seeds",
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


def sample_shard(spec: dict) -> list[dict]:
    """The shard's seed records, in index order."""
    return sample_shard_with_stats(spec)[0]


def write_shard(spec: dict, path: str | os.PathLike) -> int:
    """Write the shard as JSON Lines, atomically; returns the number of seeds."""
    return write_jsonl_atomic(path, sample_shard(spec))
