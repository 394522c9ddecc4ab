"""Stage 3a: clean the generation records of one dataset into samples (paper §2.2, C.3).

Input: the generation records of every shard of a dataset, concatenated in a fixed order
(the caller sorts the shard paths). A record's position in that concatenation is its
``raw_index``, stable across every later step.

Cleaning, in this order (the first rule that fires names the rejection):

1. ``status``: only records with status ``ok`` are samples; ``truncated``, ``unparseable``
   and ``request_failed`` records are rejected with ``status=<status>: <reason>``.
2. Exact duplicates (paper §2.2: "excluding samples that are identical or share the same
   seed code snippet"), first one wins, checked in this order (with ``shuffle_seed``, the
   authors' 666 by default in config, "first" is first after their shuffle):

   - ``duplicate_seed``: the same seed snippet. Compared with all whitespace removed (so
     two snippets that differ only in indentation or line breaks are the same seed; equal
     ``sha256`` is a special case). A record without seed text falls back to ``sha256``.
   - ``duplicate_problem``: the same problem once all whitespace is removed.
   - ``duplicate_solution``: the same solution once all whitespace is removed.

   "Whitespace-normalised" here means *every* whitespace character is deleted (not just
   collapsed), as the authors' released cleaning script does; this also equates texts that
   differ only in indentation, which is what an exact-duplicate check on LLM output wants.
   Only kept samples claim a seed/problem/solution, so a rejected record never causes a
   later one to be rejected. The rejection says which rule fired and ``duplicate_of``, the
   ``raw_index`` of the kept sample it duplicates.
3. ``noisy`` (only with ``drop_noisy=True``, the paper's Table 10 ablation): samples whose
   solution contains a partial implementation (:func:`noisy_reason`). It runs after
   deduplication, so the ablation set is exactly the default set minus its noisy samples.
   Noisy samples are kept by default (paper §2.2, C.3).

Kept samples get the released dataset's field names first (``lang``, ``seed``,
``problem``, ``solution``, ``index``, ``raw_index``) then ``is_python`` and provenance;
see :data:`SAMPLE_FIELDS`.

Public API: :func:`clean`, :func:`is_python_sample`, :func:`curate_shards`,
:func:`curation_stats`, :func:`reindex`, :func:`make_sample`, :func:`normalize_whitespace`;
the noisy-code detector (:func:`noisy_reason`, :func:`code_blocks`) is
ossinstruct/curate/noisy.py.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Iterable

from ossinstruct.curate.noisy import noisy_reason
from ossinstruct.files import read_jsonl, write_json_atomic, write_jsonl_atomic

log = logging.getLogger("ossinstruct.curate.clean")

OK = "ok"

# Field order of a sample: the released HF dataset's names first, then ours.
SAMPLE_FIELDS = (
    "lang",  # the seed's language (OSS-Instruct); "unknown" for Evol-Instruct rows
    "seed",
    "problem",
    "solution",
    "index",  # position in this file, 0..n-1
    "raw_index",  # position in the raw concatenation of the dataset's records
    "is_python",  # paper §4.1: "python" is a substring of the problem or the solution
    "seed_id",
    "corpus",
    "document",
    "start_line",
    "end_line",
    "source",  # the seed's corpus source label, or the Evol-Instruct dataset
    "teacher",
    "model",
    "template_id",
    "request_hash",
)

# Fields a sample has only when its template asked for tests (oss-instruct-chat-tests-v1).
TEST_FIELDS = ("tests", "tests_reason")

# reject_rule values (rejected records also carry reject_reason and duplicate_of).
RULE_STATUS = "status"
RULE_DUPLICATE_SEED = "duplicate_seed"
RULE_DUPLICATE_PROBLEM = "duplicate_problem"
RULE_DUPLICATE_SOLUTION = "duplicate_solution"
RULE_NOISY = "noisy"
RULE_EMPTY = "empty"  # Evol-Instruct rows without an instruction or a response

_DUPLICATE_REASONS = {
    RULE_DUPLICATE_SEED: "duplicate seed snippet (identical once all whitespace is removed)",
    RULE_DUPLICATE_PROBLEM: "duplicate problem (identical once all whitespace is removed)",
    RULE_DUPLICATE_SOLUTION: "duplicate solution (identical once all whitespace is removed)",
}


# --------------------------------------------------------------------------- helpers


def normalize_whitespace(text: str) -> str:
    """The text with every whitespace character removed (the duplicate key)."""
    return "".join(text.split())


# The §4.1 marker. The paper: "whether `python` is a substring of the generated data".
# (The authors' lang_ablation.py tests "```python", or the lowercased text with the seed's
# language: ossinstruct.curate.trainset.python_split.)
PYTHON_MARKER = "python"


def is_python_sample(sample: dict, case_sensitive: bool = True) -> bool:
    """Paper §4.1: a sample is Python when ``python`` is a substring of its generated
    text (problem or solution), not decided by the seed's language.

    Case-sensitive by default, as the paper words it (the code-formatted lowercase token
    `python`, which every ```python fence carries); ``case_sensitive=False`` also counts
    "Python"/"PYTHON" in prose. The authors' split script (experiments/lang_ablation.py)
    uses other rules: see ossinstruct.curate.trainset.python_split, which the Table 5 subsets use.
    """
    texts = [sample.get("problem") or "", sample.get("solution") or ""]
    if not case_sensitive:
        texts = [t.lower() for t in texts]
    return any(PYTHON_MARKER in t for t in texts)


def make_sample(record: dict, raw_index: int, index: int | None = None) -> dict:
    """A generation record (status ok) as a sample, fields in :data:`SAMPLE_FIELDS` order."""
    sample = {
        "lang": record.get("lang"),
        "seed": record.get("seed"),
        "problem": record.get("problem"),
        "solution": record.get("solution"),
        "index": index,
        "raw_index": raw_index,
        "is_python": is_python_sample(record),
    }
    for field in SAMPLE_FIELDS[7:]:
        sample[field] = record.get(field)
    # Records of a tests-section template (beyond the paper) carry their tests; the paper's
    # records have no such keys, so their samples are unchanged.
    for field in TEST_FIELDS:
        if field in record:
            sample[field] = record[field]
    return sample


def reindex(samples: list[dict]) -> list[dict]:
    """Copies of `samples` with ``index`` set to their position (0..n-1)."""
    return [{**s, "index": i} for i, s in enumerate(samples)]


def _rejected(record: dict, raw_index: int, rule: str, reason: str, duplicate_of: int | None = None) -> dict:
    return {
        **record,
        "raw_index": raw_index,
        "reject_rule": rule,
        "reject_reason": reason,
        "duplicate_of": duplicate_of,
    }


# --------------------------------------------------------------------------- cleaning


def clean(
    records: Iterable[dict], drop_noisy: bool = False, shuffle_seed: int | None = None
) -> tuple[list[dict], list[dict]]:
    """Generation records (all shards of a dataset, in a fixed order) -> (samples, rejected).

    Samples follow :data:`SAMPLE_FIELDS` with ``index`` = position among the samples and
    ``raw_index`` = position among `records`. Rejected records are the input records
    plus ``raw_index``, ``reject_rule`` (status, duplicate_seed, duplicate_problem,
    duplicate_solution, noisy), ``reject_reason`` and ``duplicate_of`` (the kept
    sample's raw_index for duplicates, else None).

    `shuffle_seed`: as the authors' clean_data.py (``random.seed(666)``,
    ``random.shuffle``), the ``ok`` records (the only ones their generation script wrote)
    are shuffled before deduplication, so "first wins" is first in that order, and the
    samples come out in it. None keeps the input order.
    """
    kept: list[dict] = []
    rejected: list[dict] = []
    seeds: dict[str, int] = {}
    problems: dict[str, int] = {}
    solutions: dict[str, int] = {}
    ok: list[tuple[int, dict]] = []
    for raw_index, record in enumerate(records):
        status = record.get("status")
        if status != OK:
            reason = record.get("reason") or "no reason given"
            rejected.append(_rejected(record, raw_index, RULE_STATUS, f"status={status}: {reason}"))
            continue
        ok.append((raw_index, record))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(ok)
    for raw_index, record in ok:
        seed_text = record.get("seed")
        seed_key = (
            ("text:" + normalize_whitespace(seed_text))
            if isinstance(seed_text, str)
            else (("sha256:" + record["sha256"]) if record.get("sha256") else None)
        )
        problem_key = normalize_whitespace(record.get("problem") or "")
        solution_key = normalize_whitespace(record.get("solution") or "")
        rule = first = None
        if seed_key is not None and seed_key in seeds:
            rule, first = RULE_DUPLICATE_SEED, seeds[seed_key]
        elif problem_key in problems:
            rule, first = RULE_DUPLICATE_PROBLEM, problems[problem_key]
        elif solution_key in solutions:
            rule, first = RULE_DUPLICATE_SOLUTION, solutions[solution_key]
        if rule is not None:
            reason = f"{_DUPLICATE_REASONS[rule]} of raw_index {first}"
            rejected.append(_rejected(record, raw_index, rule, reason, duplicate_of=first))
            continue
        if seed_key is not None:
            seeds[seed_key] = raw_index
        problems[problem_key] = raw_index
        solutions[solution_key] = raw_index
        if drop_noisy:
            what = noisy_reason(record.get("solution") or "")
            if what:
                rejected.append(_rejected(record, raw_index, RULE_NOISY, f"noisy: {what}"))
                continue
        kept.append(make_sample(record, raw_index, index=len(kept)))
    return kept, rejected


def curation_stats(samples: list[dict], rejected: list[dict], raw: int | None = None, count_noisy: bool = True) -> dict:
    """Counts for the report and the dataset card: raw records, rejections by rule and
    status, kept samples by language and by the §4.1 Python rule, and (``count_noisy``)
    how many kept samples :func:`noisy_reason` flags."""
    raw = len(samples) + len(rejected) if raw is None else raw
    rules = Counter(r["reject_rule"] for r in rejected)
    statuses = Counter(r.get("status") for r in rejected if r["reject_rule"] == RULE_STATUS)
    stats = {
        "raw": raw,
        "ok": raw - rules.get(RULE_STATUS, 0),
        "rejected": len(rejected),
        "rejected_by_rule": dict(sorted(rules.items())),
        "rejected_by_status": dict(sorted((str(k), v) for k, v in statuses.items())),
        "kept": len(samples),
        "kept_by_lang": dict(sorted(Counter(str(s.get("lang")) for s in samples).items())),
        "python": sum(1 for s in samples if s.get("is_python")),
        "non_python": sum(1 for s in samples if not s.get("is_python")),
    }
    if count_noisy:
        stats["kept_noisy"] = sum(1 for s in samples if noisy_reason(s.get("solution") or ""))
    return stats


def curate_shards(
    shard_paths: Iterable[str],
    output: str,
    rejected_output: str,
    stats_output: str | None = None,
    drop_noisy: bool = False,
    shuffle_seed: int | None = None,
) -> dict:
    """Read generation shards in the given order, clean them, write the samples and the
    rejected records (JSONL, atomically) and, optionally, the stats (JSON)."""
    shard_paths = list(shard_paths)

    def records():
        for path in shard_paths:
            yield from read_jsonl(path, required=("status",), what="generation record")

    samples, rejected = clean(records(), drop_noisy=drop_noisy, shuffle_seed=shuffle_seed)
    write_jsonl_atomic(output, samples)
    write_jsonl_atomic(rejected_output, rejected)
    stats = {
        "shards": len(shard_paths),
        "drop_noisy": drop_noisy,
        "shuffle_seed": shuffle_seed,
        **curation_stats(samples, rejected, count_noisy=not drop_noisy),
    }
    if drop_noisy:
        stats["kept_noisy"] = 0
    if stats_output:
        write_json_atomic(stats_output, stats)
    log.info("%s: %d raw records, %d kept, rejected %s", output, stats["raw"], stats["kept"], stats["rejected_by_rule"])
    return stats
