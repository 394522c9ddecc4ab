"""StarCoder-style decontamination (paper §2.2, Appendix B.2).

A sample is contaminated by a benchmark when its `problem` or its `solution`, lowercased,
contains one of the benchmark's strings (ossinstruct.benchmarks.benchmark_strings),
lowercased, as an exact substring; with `join` ("\\n\\n", the authors' find_substrings.py
searches "\\n\\n".join of the lowercased fields), also when a string spans the join of
the fields (reported as field "problem+solution"). One matching job per benchmark writes the contaminated
samples of that benchmark (match_samples); merge() then splits the samples into the
decontaminated set and the excluded ones, with a report.

Which string a sample matched is decided canonically: among all benchmark strings that occur
in the text, the one with the LOWEST INDEX in the list given to Matcher. The Aho-Corasick
matcher and the naive reference loop (naive_first_match) both return exactly that string.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import ahocorasick

from ossinstruct.files import read_jsonl, write_json_atomic, write_jsonl_atomic

SAMPLE_FIELDS = ("problem", "solution")


def _check_strings(strings: Sequence[dict]) -> None:
    for i, s in enumerate(strings):
        text = s.get("text") if isinstance(s, dict) else None
        if not isinstance(text, str) or not text:
            raise ValueError(f"benchmark string {i} has no text (an empty string matches everything)")


class Matcher:
    """Aho-Corasick matching of lowercased benchmark strings, with an exact prefilter.

    The decision comes from `automaton`, a pyahocorasick Automaton over every lowercased
    string; strings whose lowercased texts are equal share one key whose value is the tuple
    of their indices (ascending), so every index can be reported.

    Prefilter (`prefilter=True`, the default): a second, much smaller automaton over one
    ANCHOR per string, a substring of at most ANCHOR_LENGTH characters of the lowercased
    string. A text in which no anchor occurs contains no string (each string contains its
    anchor), so only texts in which an anchor occurs go through the full automaton: the
    prefilter changes the time, never the result. Why it is faster: pyahocorasick finds a
    node's child by a linear scan of its children and, after every character, walks the
    failure chain looking for outputs, so its cost per character grows with the root's
    fan-out and with the depth of partial matches. All anchors start with one of a few
    characters (chosen by choose_anchors) and sit at the rarest windows of their strings,
    so the anchor automaton has a root with a handful of children and few partial matches.
    """

    ANCHOR_LENGTH = 24

    def __init__(self, strings: Sequence[dict], prefilter: bool = True):
        _check_strings(strings)
        self.strings = list(strings)
        keys: dict[str, list[int]] = {}
        for i, s in enumerate(self.strings):
            keys.setdefault(s["text"].lower(), []).append(i)
        self.automaton = ahocorasick.Automaton()
        for key, indices in keys.items():
            self.automaton.add_word(key, tuple(indices))
        self._empty = not keys
        self._anchors = None
        if self._empty:
            return
        self.automaton.make_automaton()
        if prefilter:
            anchors = choose_anchors(list(keys), self.ANCHOR_LENGTH)
            self._anchors = ahocorasick.Automaton()
            for anchor in anchors:
                self._anchors.add_word(anchor, None)
            self._anchors.make_automaton()
            # Several fields can be screened in one scan when joined by a character that no
            # anchor holds (an anchor cannot then span two fields).
            self._joinable = not any(_SEPARATOR in a for a in anchors)

    def __len__(self) -> int:
        return len(self.strings)

    def _may_match(self, lowered: str) -> bool:
        if self._anchors is None:
            return True
        for _ in self._anchors.iter(lowered):
            return True
        return False

    def _indices_lowered(self, lowered: str) -> set[int]:
        found: set[int] = set()
        for _end, indices in self.automaton.iter(lowered):
            found.update(indices)
        return found

    def _first_lowered(self, lowered: str) -> int | None:
        best = None
        for _end, indices in self.automaton.iter(lowered):
            if best is None or indices[0] < best:
                best = indices[0]
        return best

    def match_indices(self, text: str) -> set[int]:
        """Indices of every string that occurs in `text` (case-insensitively)."""
        if self._empty or not text:
            return set()
        lowered = text.lower()
        return self._indices_lowered(lowered) if self._may_match(lowered) else set()

    def first_index(self, text: str) -> int | None:
        """The lowest index among the strings occurring in `text`, or None."""
        if self._empty or not text:
            return None
        lowered = text.lower()
        return self._first_lowered(lowered) if self._may_match(lowered) else None

    def first_match(self, text: str) -> dict | None:
        """The canonical matching string (lowest index among all matches), or None."""
        index = self.first_index(text)
        return None if index is None else self.strings[index]

    def first_field_match(self, texts: Sequence[str]) -> tuple[int, int] | None:
        """(position in `texts`, string index) for the first text that contains a string,
        with the canonical string of that text; None when no text does."""
        if self._empty:
            return None
        lowered = [t.lower() if t else "" for t in texts]
        if self._anchors is not None and self._joinable and len(lowered) > 1:
            if not self._may_match(_SEPARATOR.join(lowered)):
                return None
            screened = True
        else:
            screened = False
        for pos, low in enumerate(lowered):
            if low and (screened or self._may_match(low)):
                index = self._first_lowered(low)
                if index is not None:
                    return pos, index
        return None


_SEPARATOR = "\x00"
START_RARITY = 0.3


def choose_anchors(keys: Sequence[str], length: int) -> list[str]:
    """One anchor per key: a substring of at most `length` characters.

    Character frequencies are counted over the keys themselves (a stand-in for the texts to
    be scanned: code and English). A greedy set cover picks the start characters: each step
    takes the character c maximising (keys it newly covers) / frequency(c) ** START_RARITY,
    where a key is covered by c when c occurs at a position from which `length` characters
    remain. The exponent trades few start characters (a small root fan-out: exponent 0 gives
    one, the space) against rare ones (fewer partial matches). Measured on the HumanEval,
    HumanEval+ and MBPP+ strings against windows of real Python code (2 cores, CPU time):
    exponent 0, 0.3, 0.5 scanned at about 11, 7 and 10 ns a character; 0.3 picks three start
    characters there (':', 'f', 'u').
    Each key's anchor then starts at its occurrence of a chosen character whose window has
    the lowest summed log-frequency (the rarest window).
    """
    freq = Counter()
    for key in keys:
        freq.update(key)
    total = sum(freq.values())
    weight = {c: math.log(total / n) for c, n in freq.items()}  # rarity, >= 0

    def span(key: str) -> int:
        return max(1, len(key) - min(length, len(key)) + 1)  # number of start offsets

    starts = [set(key[: span(key)]) for key in keys]
    uncovered = set(range(len(keys)))
    chosen: set[str] = set()
    while uncovered:
        cover = Counter()
        for i in uncovered:
            cover.update(starts[i])
        best = max(sorted(cover), key=lambda c: cover[c] / freq[c] ** START_RARITY)
        chosen.add(best)
        uncovered = {i for i in uncovered if best not in starts[i]}

    anchors = []
    for key in keys:
        size = min(length, len(key))
        prefix = [0.0]
        for c in key:
            prefix.append(prefix[-1] + weight[c])
        offsets = [o for o in range(span(key)) if key[o] in chosen]
        best = max(offsets, key=lambda o: (weight[key[o]], prefix[o + size] - prefix[o], -o))
        anchors.append(key[best : best + size])
    return anchors


def naive_first_index(strings: Sequence[dict], text: str) -> int | None:
    """Reference method: the first string, in list order, with `s in text.lower()`."""
    _check_strings(strings)
    lowered = text.lower()
    for i, s in enumerate(strings):
        if s["text"].lower() in lowered:
            return i
    return None


def naive_first_match(strings: Sequence[dict], text: str) -> dict | None:
    index = naive_first_index(strings, text)
    return None if index is None else strings[index]


def naive_match_indices(strings: Sequence[dict], text: str) -> set[int]:
    lowered = text.lower()
    return {i for i, s in enumerate(strings) if s["text"].lower() in lowered}


def _sample_key(sample: dict, where: str):
    if "raw_index" not in sample:
        raise ValueError(f"{where}: sample has no raw_index")
    return sample["raw_index"]


def _sample_text(sample: dict, field: str, where: str) -> str:
    if field not in sample:
        raise ValueError(f"{where}: sample {sample['raw_index']!r} has no field {field!r}")
    value = sample[field]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: sample {sample['raw_index']!r} field {field} is not a string")
    return value


def _spanning_match(matcher: Matcher, texts: Sequence[str], join: str, reach: int) -> int | None:
    """A string found in join.join(texts) but in none of the texts spans a join: search only
    the windows around each join, `reach` (the longest string's length minus one)
    characters on either side."""
    if reach < 1 or len(texts) < 2:
        return None
    found = None
    for left, right in zip(texts, texts[1:]):
        window = left[max(len(left) - reach, 0) :] + join + right[:reach]
        index = matcher.first_index(window)
        if index is not None and (found is None or index < found):
            found = index
    return found


def find_matches(
    samples: Iterable[dict],
    matcher: Matcher,
    fields: Sequence[str] = SAMPLE_FIELDS,
    where: str = "samples",
    join: str | None = None,
) -> Iterable[dict]:
    """One record per contaminated sample: the first field (in `fields` order) that contains
    a benchmark string, and the canonical string it contains; with `join`, else a string
    spanning the join of the fields (field "problem+solution")."""
    reach = max((len(s["text"]) for s in matcher.strings), default=0) - 1
    for sample in samples:
        key = _sample_key(sample, where)
        texts = [_sample_text(sample, field, where) for field in fields]
        found = matcher.first_field_match(texts)
        field = None
        if found is not None:
            pos, index = found
            field = fields[pos]
        elif join is not None:
            index = _spanning_match(matcher, texts, join, reach)
            field = "+".join(fields) if index is not None else None
        if field is not None:
            match = matcher.strings[index]
            yield {
                "raw_index": key,
                "benchmark": match["benchmark"],
                "task_id": match["task_id"],
                "field": field,
                "benchmark_field": match["field"],
                "matched": match["text"],
            }


def match_samples(
    samples_path: str | os.PathLike,
    benchmark: str,
    strings: Sequence[dict],
    out_path: str | os.PathLike,
    fields: Sequence[str] = SAMPLE_FIELDS,
    join: str | None = None,
) -> int:
    """Write one JSONL line per sample of `samples_path` contaminated by `benchmark`
    (atomically, an empty file when none is); returns the number written."""
    if not fields:
        raise ValueError("fields: name at least one sample field to search")
    others = sorted({str(s.get("benchmark")) for s in strings} - {benchmark})
    if others:
        raise ValueError(f"match_samples for {benchmark} was given strings of {', '.join(others)}")
    matcher = Matcher(strings)
    return write_jsonl_atomic(
        out_path, find_matches(read_jsonl(samples_path, what="sample"), matcher, fields, str(samples_path), join=join)
    )


CONTAMINATION_KEYS = ("benchmark", "task_id", "field", "benchmark_field", "matched")


def merge(
    samples_path: str | os.PathLike,
    match_paths: Sequence[str | os.PathLike],
    out_decontaminated: str | os.PathLike,
    out_excluded: str | os.PathLike,
    out_report: str | os.PathLike,
    benchmarks: Sequence[str] | None = None,
) -> dict:
    """Split the samples by the per-benchmark match files; returns the report.

    `benchmarks` (optional) names the benchmark of each match file, in the same order: the
    report then lists every benchmark checked, with zero counts for those that matched
    nothing (an empty match file cannot name its benchmark), and a match file holding
    another benchmark's records is an error.
    """
    if benchmarks is not None and len(benchmarks) != len(match_paths):
        raise ValueError(f"{len(benchmarks)} benchmark names for {len(match_paths)} match files")
    samples = list(read_jsonl(samples_path, what="sample"))
    keys = [_sample_key(s, str(samples_path)) for s in samples]
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    if duplicates:
        raise ValueError(f"{samples_path}: raw_index is not unique ({duplicates[:5]!r} repeat)")
    known = set(keys)

    checked: list[str] = list(benchmarks) if benchmarks is not None else []
    contamination: dict = defaultdict(list)
    for j, path in enumerate(match_paths):
        for record in read_jsonl(path):
            name = record.get("benchmark")
            if benchmarks is not None and name != benchmarks[j]:
                raise ValueError(f"{path}: holds a {name} match but is the {benchmarks[j]} match file")
            if record.get("raw_index") not in known:
                raise ValueError(
                    f"{path}: raw_index {record.get('raw_index')!r} is not a sample of {samples_path} "
                    "(a match file from other samples?)"
                )
            if name not in checked:
                checked.append(name)
            entries = contamination[record["raw_index"]]
            entry = {k: record.get(k) for k in CONTAMINATION_KEYS}
            if entry not in entries:
                entries.append(entry)

    per_benchmark = {name: 0 for name in checked}
    per_language: dict[str, dict[str, int]] = {}
    per_benchmark_language: dict[str, dict[str, int]] = {name: {} for name in checked}

    def kept_records():
        index = 0
        for sample in samples:
            if sample["raw_index"] not in contamination:
                record = dict(sample)
                record["index"] = index
                index += 1
                yield record

    def excluded_records():
        for sample in samples:
            if sample["raw_index"] in contamination:
                yield {**sample, "contamination": contamination[sample["raw_index"]]}

    for sample in samples:
        lang = str(sample.get("lang", "unknown"))
        counts = per_language.setdefault(lang, {"total": 0, "kept": 0, "excluded": 0})
        counts["total"] += 1
        entries = contamination.get(sample["raw_index"])
        if not entries:
            counts["kept"] += 1
            continue
        counts["excluded"] += 1
        for name in dict.fromkeys(e["benchmark"] for e in entries):
            per_benchmark[name] += 1
            by_lang = per_benchmark_language[name]
            by_lang[lang] = by_lang.get(lang, 0) + 1

    kept = write_jsonl_atomic(out_decontaminated, kept_records())
    excluded = write_jsonl_atomic(out_excluded, excluded_records())
    report = {
        "total": len(samples),
        "kept": kept,
        "excluded": excluded,
        "benchmarks": checked,
        "per_benchmark": per_benchmark,
        "per_language": dict(sorted(per_language.items())),
        "per_benchmark_language": {k: dict(sorted(v.items())) for k, v in per_benchmark_language.items()},
    }
    write_json_atomic(out_report, report)
    return report
