"""Seed sampling (ossinstruct.seeds.sampling): offline, on small corpora built in tmp_path."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import random
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path

import pytest
from snakemake.utils import validate

from ossinstruct.seeds import sampling as seeds
from ossinstruct.seeds import sources as seed_sources
from ossinstruct.seeds.sampling import HubAccessError, SeedsError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "ossinstruct" / "schemas" / "config.schema.yaml"


# --------------------------------------------------------------------------- helpers


def make_config(corpora: dict, seeds_cfg: dict | None = None, **top) -> dict:
    cfg = {"corpora": copy.deepcopy(corpora), "seeds": dict(seeds_cfg or {}), **top}
    validate(cfg, str(SCHEMA))  # fills defaults
    return cfg


def local_config(root, quota, lang="python", shard_size=10, exclude=None, **seeds_cfg):
    corpus = {
        "source": "local",
        "path": None if root is None else str(root),
        "languages": {lang: {"quota": quota}},
    }
    if exclude is not None:
        corpus["exclude"] = exclude
    return make_config({"mine": corpus}, {"shard_size": shard_size, **seeds_cfg})


def python_module(i: int) -> str:
    """A real-looking Python module, different for each i (20-60 lines)."""
    rng = random.Random(i)
    out = [f'"""Utilities for widget set {i}."""', "", "import os", "import sys", ""]
    for f in range(rng.randint(2, 5)):
        name = f"compute_{i}_{f}"
        out += [
            f"def {name}(values, scale={rng.randint(1, 9)}):",
            f'    """Return the scaled total of values for step {f}."""',
            "    total = 0",
            "    for value in values:",
            "        if value is None:",
            "            continue",
            f"        total += value * scale + {rng.randint(0, 99)}",
            "    return total",
            "",
            "",
        ]
    out += [
        f"class Widget{i}:",
        "    def __init__(self, name):",
        "        self.name = name",
        "",
        "    def describe(self):",
        f"        return f'widget {{self.name}} #{i}'",
        "",
    ]
    return "\n".join(out) + "\n"


def build_python_corpus(root: Path, n: int, sub: str = "") -> list[str]:
    rels = []
    for i in range(n):
        rel = f"{sub}pkg{i % 4}/module_{i:03d}.py"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(python_module(i), encoding="utf-8")
        rels.append(rel)
    return rels


def read_lines(path: Path) -> list[str]:
    """Independent reading: universal newlines, no line ends."""
    text = path.read_text(encoding="utf-8")  # text mode translates \r\n and \r
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def write_all(cfg, corpus, lang, out: Path) -> list[Path]:
    paths = []
    for k, _ in enumerate(seeds.shard_counts(cfg, corpus, lang)):
        path = out / f"{lang}-{k:05d}.jsonl"
        seeds.write_shard(seeds.shard_spec(cfg, corpus, lang, k), path)
        paths.append(path)
    return paths


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- shards and specs


def test_shard_counts():
    corpora = {
        "c": {
            "source": "local",
            "languages": {
                "python": {"quota": 2500},
                "shell": {"quota": 0},
                "rust": {"quota": 2000},
            },
        }
    }
    cfg = make_config(corpora, {"shard_size": 1000})
    assert seeds.shard_counts(cfg, "c", "python") == [1000, 1000, 500]
    assert seeds.shard_counts(cfg, "c", "shell") == []
    assert seeds.shard_counts(cfg, "c", "rust") == [1000, 1000]
    with pytest.raises(SeedsError, match=r"corpora\.c\.languages"):
        seeds.shard_counts(cfg, "c", "swift")
    with pytest.raises(SeedsError, match="nope"):
        seeds.shard_counts(cfg, "nope", "python")


def test_shard_spec_contents(tmp_path):
    cfg = make_config(
        {
            "mine": {
                "source": "local",
                "path": str(tmp_path),
                "languages": {"python": {"quota": 25}, "shell": {"quota": 7}},
            },
            "other": {"source": "local", "languages": {"python": {"quota": 3}}},
        },
        {"shard_size": 10, "min_lines": 2},
        random_seed=7,
    )
    spec = seeds.shard_spec(cfg, "mine", "python", 2)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["corpus"] == "mine" and spec["lang"] == "python" and spec["shard"] == 2
    assert spec["shard_size"] == 10 and spec["count"] == 5 and spec["random_seed"] == 7
    assert spec["seeds"]["min_lines"] == 2 and spec["seeds"]["max_lines"] == 15
    assert spec["source"]["type"] == "local"
    assert spec["source"]["root"] == str(tmp_path.resolve())
    assert spec["source"]["extensions"] == [".py"]
    assert "**/site-packages/**" in spec["source"]["exclude"]
    flat = json.dumps(spec)
    assert "quota" not in flat and "shell" not in flat and "other" not in flat
    with pytest.raises(SeedsError, match="out of range"):
        seeds.shard_spec(cfg, "mine", "python", 3)


def test_shard_spec_of_full_shards_ignores_quota_and_other_languages(tmp_path):
    def cfg_for(py_quota, sh_quota):
        return make_config(
            {
                "mine": {
                    "source": "local",
                    "path": str(tmp_path),
                    "languages": {"python": {"quota": py_quota}, "shell": {"quota": sh_quota}},
                }
            },
            {"shard_size": 10},
        )

    small, big, other = cfg_for(25, 5), cfg_for(47, 5), cfg_for(25, 999)
    for k in (0, 1):
        assert seeds.shard_spec(small, "mine", "python", k) == seeds.shard_spec(big, "mine", "python", k)
    for k in (0, 1, 2):
        assert seeds.shard_spec(small, "mine", "python", k) == seeds.shard_spec(other, "mine", "python", k)
    grown = seeds.shard_spec(big, "mine", "python", 2)
    partial = seeds.shard_spec(small, "mine", "python", 2)
    assert partial["count"] == 5 and grown["count"] == 10
    assert {**partial, "count": 10} == grown


def test_hf_shard_spec():
    cfg = make_config(
        {
            "sc": {
                "source": "huggingface",
                "dataset": "bigcode/starcoderdata",
                "revision": "abc123",
                "languages": {
                    "python": {"quota": 5, "data_dir": "python"},
                    "rust": {
                        "quota": 5,
                        "data_dir": "rust",
                        "revision": "def456",
                        "dataset": "bigcode/the-stack",
                    },
                },
            }
        }
    )
    spec = seeds.shard_spec(cfg, "sc", "python", 0)
    assert spec["source"] == {
        "type": "huggingface",
        "dataset": "bigcode/starcoderdata",
        "data_dir": "python",
        "revision": "abc123",
        "text_field": "content",
        "token_env": "HF_TOKEN",
        "selection": "magicoder",
        "pool_size": 150000,
        "pool_seed": 976,
    }
    rust = seeds.shard_spec(cfg, "sc", "rust", 0)["source"]
    assert rust["dataset"] == "bigcode/the-stack" and rust["revision"] == "def456"
    assert seeds.source_label(spec) == "hf:bigcode/starcoderdata@abc123/python"


# --------------------------------------------------------------------------- sampling


def test_same_spec_gives_byte_identical_files(tmp_path):
    root = tmp_path / "src"
    build_python_corpus(root, 30)
    cfg = local_config(root, 25)
    spec = seeds.shard_spec(cfg, "mine", "python", 1)
    assert seeds.write_shard(spec, tmp_path / "a.jsonl") == 10
    seeds.write_shard(copy.deepcopy(spec), tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves nothing behind


def test_raising_quota_adds_shards_and_keeps_existing_ones(tmp_path):
    root = tmp_path / "src"
    build_python_corpus(root, 60)
    before = write_all(local_config(root, 25), "mine", "python", tmp_path / "before")
    after = write_all(local_config(root, 47), "mine", "python", tmp_path / "after")
    assert len(before) == 3 and len(after) == 5
    for k in (0, 1):
        assert before[k].read_bytes() == after[k].read_bytes()
    assert after[2].read_bytes().startswith(before[2].read_bytes())
    assert len(records(before[2])) == 5 and len(records(after[2])) == 10
    assert len(records(after[4])) == 7

    everything = [r for path in after for r in records(path)]
    assert [r["index"] for r in everything] == list(range(47))
    assert [r["shard"] for r in everything] == [i // 10 for i in range(47)]
    assert all(r["seed_id"] == f"mine/python/{r['index']}" for r in everything)
    assert len({r["document"] for r in everything}) == 47  # one seed per document


def test_different_random_seed_gives_different_order(tmp_path):
    root = tmp_path / "src"
    build_python_corpus(root, 30)
    a = seeds.sample_shard(seeds.shard_spec(local_config(root, 10), "mine", "python", 0))
    cfg = local_config(root, 10)
    cfg["random_seed"] += 1
    b = seeds.sample_shard(seeds.shard_spec(cfg, "mine", "python", 0))
    assert [r["document"] for r in a] != [r["document"] for r in b]


def test_snippet_position_depends_on_document_not_position(tmp_path):
    root = tmp_path / "src"
    build_python_corpus(root, 30)

    def snippets(quota):
        spec = seeds.shard_spec(local_config(root, quota, shard_size=30), "mine", "python", 0)
        return {doc: rest for doc, *rest in seeds.iter_eligible(spec)}

    full = snippets(30)
    # A different corpus layout (fewer files) changes positions, not a document's snippet.
    for path in sorted(root.rglob("*.py"))[:10]:
        path.unlink()
    fewer = snippets(20)
    assert len(fewer) >= 15
    for doc, rest in fewer.items():
        assert rest == full[doc]


def test_records_match_their_documents(tmp_path):
    """Default (magicoder) sampler: the snippet is the document's lines as they are, line
    ends included, from a uniform start, cut at the document's end."""
    root = tmp_path / "src"
    build_python_corpus(root, 40)
    (root / "crlf.py").write_bytes(b"import os\r\n\r\ndef f(x):\r\n    return x + 1\r\n" * 3)
    (root / "short.py").write_text("x = 1\ny = 2", encoding="utf-8")  # no final newline
    (root / "bom.py").write_bytes("\ufeffdef g():\n    return 'caf\u00e9'\n".encode("utf-8"))
    cfg = local_config(root, 43, shard_size=50, min_lines=3, max_lines=6)
    assert cfg["seeds"]["sampler"] == "magicoder"
    recs = seeds.sample_shard(seeds.shard_spec(cfg, "mine", "python", 0))
    assert len(recs) == 43
    assert list(recs[0]) == [
        "seed_id",
        "corpus",
        "lang",
        "index",
        "shard",
        "document",
        "start_line",
        "end_line",
        "seed",
        "sha256",
        "source",
    ]
    lengths, cut = set(), 0
    for r in recs:
        raw = (root / r["document"]).read_bytes().decode("utf-8").removeprefix("\ufeff")
        lines = raw.splitlines(keepends=True)
        n = r["end_line"] - r["start_line"] + 1
        assert 1 <= r["start_line"] <= r["end_line"] <= len(lines)
        assert 1 <= n <= 6
        if n < 3:  # only where the document ended
            assert r["end_line"] == len(lines)
            cut += 1
        assert r["seed"] == "".join(lines[r["start_line"] - 1 : r["end_line"]])
        assert r["sha256"] == hashlib.sha256(r["seed"].encode("utf-8")).hexdigest()
        assert r["source"] == "local:src" and r["corpus"] == "mine" and r["lang"] == "python"
        if r["document"] == "crlf.py":
            assert "\r\n" in r["seed"]  # line ends kept as they are
        if r["document"] != "short.py":
            lengths.add(n)
    assert len(lengths) > 1  # lengths vary
    short = next(r for r in recs if r["document"] == "short.py")
    assert short["seed"] in ("x = 1\ny = 2", "y = 2")  # start 1 or 2; no newline added


def test_fit_sampler_keeps_the_first_rule(tmp_path):
    """seeds.sampler: fit (the project's first rule): universal-newline lines joined by
    "\\n", no trailing newline, length first, start where it fits."""
    root = tmp_path / "src"
    build_python_corpus(root, 40)
    (root / "crlf.py").write_bytes(b"import os\r\n\r\ndef f(x):\r\n    return x + 1\r\n" * 3)
    (root / "short.py").write_text("x = 1\ny = 2\n", encoding="utf-8")
    cfg = local_config(root, 42, shard_size=50, min_lines=3, max_lines=6, sampler="fit")
    recs = seeds.sample_shard(seeds.shard_spec(cfg, "mine", "python", 0))
    for r in recs:
        lines = read_lines(root / r["document"])
        n = r["end_line"] - r["start_line"] + 1
        assert min(3, len(lines)) <= n <= 6
        assert r["seed"] == "\n".join(lines[r["start_line"] - 1 : r["end_line"]])
        assert "\r" not in r["seed"]
    short = next(r for r in recs if r["document"] == "short.py")
    assert (short["start_line"], short["end_line"], short["seed"]) == (1, 2, "x = 1\ny = 2")


def test_magicoder_sampler_distribution():
    """The authors' rule on a synthetic 40-line document, 40,000 draws with a fixed seed:
    start uniform over the 40 lines, requested length uniform in 1..15, the snippet cut at
    the document's end. Chi-square tests at df-appropriate 0.999 critical values; the
    exact expected distribution of the cut lengths is computed from the rule."""
    n_lines, draws = 40, 40_000
    lines = [f"line {i}\n" for i in range(n_lines)]
    rng = random.Random(976)
    starts, lengths = Counter(), Counter()
    for _ in range(draws):
        start, end = seeds.draw_snippet(lines, rng, 1, 15)
        assert 0 <= start < end <= n_lines
        starts[start] += 1
        lengths[end - start] += 1

    def chi2(observed: Counter, expected: dict) -> float:
        return sum((observed[k] - e) ** 2 / e for k, e in expected.items())

    # Start: uniform over all 40 lines (the fit rule never starts past line 40 - length).
    assert chi2(starts, {k: draws / n_lines for k in range(n_lines)}) < 72.1  # df 39
    assert starts[n_lines - 1] > 0.8 * draws / n_lines
    # Length: P(len = k) = sum over starts s and requests m of [min(m, 40 - s) = k] / (40*15).
    expected = Counter()
    for s in range(n_lines):
        for m in range(1, 16):
            expected[min(m, n_lines - s)] += draws / (n_lines * 15)
    assert chi2(lengths, expected) < 37.7  # df 14
    # The cut-off makes short snippets more frequent than 1/15 and the mean below 8 (the fit rule: 8).
    mean = sum(k * v for k, v in lengths.items()) / draws
    assert 6.98 < mean < 7.15  # exact mean: 7.067
    fit_rng, fit_mean = random.Random(976), 0
    for _ in range(draws):
        start, end = seeds.draw_snippet(lines, fit_rng, 1, 15, sampler="fit")
        fit_mean += (end - start) / draws
    assert 7.9 < fit_mean < 8.1  # the fit rule: mean 8 (no cut-off on a 40-line document)


def test_default_line_range_is_1_to_15(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    for i in range(40):
        (root / f"long_{i}.py").write_text("".join(f"value_{i}_{j} = {j} * {i}\n" for j in range(100)))
    recs = seeds.sample_shard(seeds.shard_spec(local_config(root, 40, shard_size=40), "mine", "python", 0))
    lengths = [r["end_line"] - r["start_line"] + 1 for r in recs]
    assert min(lengths) >= 1 and max(lengths) <= 15 and len(set(lengths)) > 5


# --------------------------------------------------------------------------- filters


def test_filters_skip_bad_documents(tmp_path, caplog):
    root = tmp_path / "src"
    good = set(build_python_corpus(root, 12))
    bad = {
        "empty.py": b"",
        "whitespace.py": b"  \n\n\t\n",
        "nul.py": b"def f():\n    return 1\x00\n",
        "latin1.py": b"name = 'caf\xe9'\nprint(name)\n",
        "huge.py": ("def big():\n" + "    total = total + 1\n" * 400).encode(),  # ~9 kB
        "minified.py": ("var a=function(b){return b+1};" * 20).encode(),  # one 600-char line
        "longline.py": ("x = 1\n" * 30 + "y = '" + "abc " * 400 + "'\n").encode(),
        "data.py": ("{ }, [ ], ( ), ;; -> <= >= != ==\n" * 40).encode(),
    }
    for name, data in bad.items():
        (root / "bad" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "bad" / name).write_bytes(data)
    # The fit sampler never draws a 1-line blank snippet from a good module (the filters
    # do not depend on the sampler).
    cfg = local_config(root, len(good), shard_size=100, max_document_bytes=5000, sampler="fit")
    spec = seeds.shard_spec(cfg, "mine", "python", 0)
    with caplog.at_level(logging.INFO, logger="ossinstruct.seeds"):
        recs, summary = seeds.sample_shard_with_stats(spec)
    assert {r["document"] for r in recs} == good
    assert summary["seeds"] == len(good) and "wrote 12 seeds" in caplog.text
    # The whole stream: every crafted document is skipped, for its own reason.
    stats = Counter()
    eligible = [doc for doc, *_ in seeds.iter_eligible(spec, stats)]
    assert set(eligible) == good and stats["read"] == len(good) + len(bad)
    assert {k: v for k, v in stats.items() if k != "read"} == {
        "empty": 2,
        "binary": 2,
        "huge": 1,
        "minified": 1,
        "long_line": 1,
        "low_alphanumeric": 1,
    }
    # One more seed than there are eligible documents: the stream runs out.
    with pytest.raises(SeedsError, match="12 eligible"):
        seeds.sample_shard(
            seeds.shard_spec(
                local_config(root, len(good) + 1, shard_size=100, max_document_bytes=5000, sampler="fit"),
                "mine",
                "python",
                0,
            )
        )


def test_check_text_unit():
    settings = {
        "max_document_bytes": 1000,
        "max_line_length": 50,
        "max_mean_line_length": 20,
        "min_alphanumeric_fraction": 0.25,
    }
    assert seeds.check_text("x = 1\n", settings) == (["x = 1"], None)
    assert seeds.check_text("", settings)[1] == "empty"
    assert seeds.check_text(" \n ", settings)[1] == "empty"
    assert seeds.check_text("a\x00b\n", settings)[1] == "binary"
    assert seeds.check_text("\u00e9" * 600, settings)[1] == "huge"  # 600 chars, 1200 bytes
    assert seeds.check_text("a" * 51, settings)[1] == "long_line"
    assert seeds.check_text("a" * 30 + "\n" + "b" * 30, settings)[1] == "minified"
    assert seeds.check_text("{}\n();\n", settings)[1] == "low_alphanumeric"
    assert seeds.decode_document(b"\xff\xfe", settings) == (None, "binary")
    assert seeds.document_lines("a\r\nb\rc\n\x0cd\n") == ["a", "b", "c", "\x0cd"]


def test_blank_snippets_are_skipped(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    mostly_blank = set()
    for i in range(15):
        name = f"blank_{i}.py"
        (root / name).write_text(f"answer_{i} = compute({i})\n" + "    \n\n" * 150)
        mostly_blank.add(name)
    build_python_corpus(root, 10)
    cfg = local_config(root, 3, shard_size=100, min_lines=1, max_lines=1, min_alphanumeric_fraction=0.0)
    spec = seeds.shard_spec(cfg, "mine", "python", 0)
    stats = Counter()
    eligible = list(seeds.iter_eligible(spec, stats))
    assert stats["blank_snippet"] >= 10 and len(eligible) + stats["blank_snippet"] == 25
    for doc, start, _end, snippet in eligible:
        assert snippet.strip()
        if doc in mostly_blank:  # only when its one code line was drawn
            assert start == 0
    recs = seeds.sample_shard(spec)
    assert len(recs) == 3 and all(r["seed"].strip() for r in recs)
    assert [r["document"] for r in recs] == [doc for doc, *_ in eligible[:3]]


# --------------------------------------------------------------------------- walking


def test_exclude_globs(tmp_path):
    root = tmp_path / "src"
    good = set(build_python_corpus(root, 8))
    build_python_corpus(root, 3, sub="lib/site-packages/thing/")
    build_python_corpus(root, 3, sub="site-packages/")
    build_python_corpus(root, 3, sub="a/b/__pycache__/")
    (root / "gen").mkdir()
    for i in range(3):
        (root / "gen" / f"gen_{i}.py").write_text(python_module(100 + i))
    (root / "gen" / "keep.py").write_text(python_module(200))
    good.add("gen/keep.py")
    excl = ["**/site-packages/**", "**/__pycache__/**", "gen/gen_*.py"]
    cfg = local_config(root, len(good), shard_size=100, exclude=excl)
    recs = seeds.sample_shard(seeds.shard_spec(cfg, "mine", "python", 0))
    assert {r["document"] for r in recs} == good
    with pytest.raises(SeedsError, match="eligible"):
        seeds.sample_shard(
            seeds.shard_spec(local_config(root, len(good) + 1, shard_size=100, exclude=excl), "mine", "python", 0)
        )


def test_compile_glob():
    rx = seeds.compile_glob("**/site-packages/**")
    assert rx.fullmatch("site-packages/a.py") and rx.fullmatch("x/y/site-packages/z/a.py")
    assert not rx.fullmatch("x/my-site-packages/a.py")
    star = seeds.compile_glob("gen/*.py")
    assert star.fullmatch("gen/a.py") and not star.fullmatch("gen/sub/a.py")
    assert seeds.compile_glob("**/*.py").fullmatch("a.py")
    assert seeds.compile_glob("test_[!x]?.py").fullmatch("test_ab.py")
    assert not seeds.compile_glob("test_[!x]?.py").fullmatch("test_xb.py")


def test_extensions_map_by_language(tmp_path):
    root = tmp_path / "src"
    py = set(build_python_corpus(root, 6))
    sh = set()
    for i in range(4):
        ext = ".sh" if i % 2 else ".bash"
        rel = f"scripts/run_{i}{ext}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"#!/bin/sh\nset -e\necho building {i}\nmake -j{i + 1} all\n")
        sh.add(rel)
    (root / "main.rs").write_text('fn main() {\n    println!("hi");\n}\n')
    cfg = make_config(
        {
            "mine": {
                "source": "local",
                "path": str(root),
                "languages": {"python": {"quota": len(py)}, "shell": {"quota": len(sh)}},
            }
        },
        {"shard_size": 100},
    )
    got_py = seeds.sample_shard(seeds.shard_spec(cfg, "mine", "python", 0))
    got_sh = seeds.sample_shard(seeds.shard_spec(cfg, "mine", "shell", 0))
    assert {r["document"] for r in got_py} == py
    assert {r["document"] for r in got_sh} == sh
    assert all(r["lang"] == "shell" and r["seed_id"].startswith("mine/shell/") for r in got_sh)
    # A custom extension map applies.
    cfg2 = make_config(
        {"mine": {"source": "local", "path": str(root), "languages": {"rust": {"quota": 1}}}},
        languages={"rust": [".rs"]},
    )
    assert [r["document"] for r in seeds.sample_shard(seeds.shard_spec(cfg2, "mine", "rust", 0))] == ["main.rs"]
    cfg3 = make_config({"mine": {"source": "local", "path": str(root), "languages": {"cobol": {"quota": 1}}}})
    with pytest.raises(SeedsError, match=r"languages\.cobol"):
        seeds.shard_spec(cfg3, "mine", "cobol", 0)


# --------------------------------------------------------------------------- errors


def test_missing_root_is_a_clear_error(tmp_path):
    cfg = local_config(tmp_path / "does-not-exist", 5)
    spec = seeds.shard_spec(cfg, "mine", "python", 0)
    with pytest.raises(SeedsError, match=r"corpora\.mine\.path") as err:
        seeds.sample_shard(spec)
    assert "does-not-exist" in str(err.value)


def test_exhausted_stream_error(tmp_path):
    root = tmp_path / "src"
    build_python_corpus(root, 14)
    cfg = local_config(root, 25, sampler="fit")  # fit: no blank 1-line snippet here
    assert len(seeds.sample_shard(seeds.shard_spec(cfg, "mine", "python", 0))) == 10
    with pytest.raises(SeedsError) as err:
        seeds.sample_shard(seeds.shard_spec(cfg, "mine", "python", 1))
    msg = str(err.value)
    for part in (
        "'mine'",
        "'python'",
        "shard 1",
        "14 eligible",
        "at most 14",
        "corpora.mine.languages.python.quota",
    ):
        assert part in msg, (part, msg)
    assert not (tmp_path / "x.jsonl").exists()
    with pytest.raises(SeedsError):
        seeds.write_shard(seeds.shard_spec(cfg, "mine", "python", 1), tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists() and not list(tmp_path.glob(".x.jsonl*"))


# --------------------------------------------------------------------------- stdlib default


def test_stdlib_default_gives_real_python_seeds():
    cfg = local_config(None, 40, shard_size=40)
    spec = seeds.shard_spec(cfg, "mine", "python", 0)
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert spec["source"]["root"] == str(stdlib) and spec["source"]["stdlib"] is True
    recs = seeds.sample_shard(spec)
    assert len(recs) == 40
    assert recs[0]["source"] == f"local:stdlib-{stdlib.name}"
    for r in recs:
        assert r["document"].endswith(".py") and "site-packages" not in r["document"]
        text = (stdlib / r["document"]).read_bytes().decode("utf-8").removeprefix("\ufeff")
        lines = text.splitlines(keepends=True)
        assert r["seed"] == "".join(lines[r["start_line"] - 1 : r["end_line"]])
        assert 1 <= r["end_line"] - r["start_line"] + 1 <= 15
    assert sum("def " in r["seed"] or "import " in r["seed"] or "class " in r["seed"] for r in recs) > 5


def test_local_path_does_not_import_datasets(tmp_path):
    root = tmp_path / "src"
    build_python_corpus(root, 3)
    code = (
        "import sys, json\n"
        "from ossinstruct.seeds import sampling as seeds\n"
        f"spec = json.loads({json.dumps(json.dumps(seeds.shard_spec(local_config(root, 3), 'mine', 'python', 0)))})\n"
        "assert len(seeds.sample_shard(spec)) == 3\n"
        "assert 'datasets' not in sys.modules, 'datasets imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# --------------------------------------------------------------------------- huggingface (offline)

TOKEN = "hf_SECRETtokenVALUE42"


def hf_config(**corpus_extra):
    corpus = {
        "source": "huggingface",
        "dataset": "bigcode/starcoderdata",
        "revision": "v1",
        "languages": {"python": {"quota": 3, "data_dir": "python"}},
        "selection": "stream",
        **corpus_extra,
    }
    return make_config({"sc": corpus}, {"shard_size": 10})


def forbid_hub(*args, **kwargs):
    raise AssertionError("the hub must not be contacted")


@pytest.mark.parametrize("token_env", ["HF_TOKEN", "MY_HUB_TOKEN"])
def test_hf_missing_token_fails_before_the_hub(monkeypatch, token_env):
    monkeypatch.delenv(token_env, raising=False)
    monkeypatch.setattr(seed_sources, "open_hf_stream", forbid_hub)
    extra = {} if token_env == "HF_TOKEN" else {"token_env": token_env}
    spec = seeds.shard_spec(hf_config(**extra), "sc", "python", 0)
    with pytest.raises(HubAccessError) as err:
        seeds.sample_shard(spec)
    assert token_env in str(err.value) and "bigcode/starcoderdata" in str(err.value)


class FakeHubError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.response = type("Response", (), {"status_code": status})()


@pytest.mark.parametrize("status", [401, 403])
def test_hf_gated_error_is_reraised_without_the_token(monkeypatch, status):
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    def refuse(*args, **kwargs):
        raise FakeHubError(status, f"Client error for url ... (token {TOKEN})")

    monkeypatch.setattr(seed_sources, "open_hf_stream", refuse)
    with pytest.raises(HubAccessError) as err:
        seeds.sample_shard(seeds.shard_spec(hf_config(), "sc", "python", 0))
    msg = str(err.value)
    assert "HF_TOKEN" in msg and "bigcode/starcoderdata" in msg and TOKEN not in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__


def code_row(i):
    # No blank lines, so that every drawn snippet has code in it.
    return "".join(line for line in python_module(300 + i).splitlines(True) if line.strip())


def test_hf_rows_become_documents(monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    calls = []
    rows = [
        {
            "id": "row-1",
            "max_stars_repo_name": "o/r",
            "max_stars_repo_path": "a.py",
            "content": code_row(1),
        },
        {"hexsha": "deadbeef", "content": code_row(2)},
        {"content": None, "id": "row-none"},  # no text: skipped
        {"id": "row-empty", "content": "   \n"},  # empty: skipped
        {
            "max_stars_repo_name": "octo/repo",
            "max_stars_repo_path": "src/x.py",
            "content": code_row(3),
        },
        {"id": "row-4", "content": code_row(4)},
    ]

    def fake_stream(dataset, data_dir, revision, token, seed, buffer_size):
        calls.append((dataset, data_dir, revision, token, seed, buffer_size))
        return iter(rows)

    monkeypatch.setattr(seed_sources, "open_hf_stream", fake_stream)
    spec = seeds.shard_spec(hf_config(shuffle_buffer=123), "sc", "python", 0)
    with caplog.at_level(logging.DEBUG, logger="ossinstruct.seeds"):
        recs, summary = seeds.sample_shard_with_stats(spec)
    assert calls[0][:4] == ("bigcode/starcoderdata", "python", "v1", TOKEN) and calls[0][5] == 123
    assert 0 <= calls[0][4] < 2**32
    assert [r["document"] for r in recs] == ["row-1", "deadbeef", "octo/repo/src/x.py"]
    assert summary["skipped"] == {"empty": 2} and summary["documents_read"] == 5
    for r, i in zip(recs, (1, 2, 3)):
        lines = code_row(i).splitlines(keepends=True)
        assert r["seed"] == "".join(lines[r["start_line"] - 1 : r["end_line"]])
        assert r["source"] == "hf:bigcode/starcoderdata@v1/python"
    assert TOKEN not in json.dumps(recs) and TOKEN not in caplog.text and TOKEN not in json.dumps(spec)
    # Same rows, same seeds.
    assert seeds.sample_shard(spec) == recs


def test_hf_text_field(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    rows = [{"id": f"r{i}", "text": code_row(i), "content": "ignored = 1\n"} for i in range(3)]
    monkeypatch.setattr(seed_sources, "open_hf_stream", lambda *a, **k: iter(rows))
    recs = seeds.sample_shard(seeds.shard_spec(hf_config(text_field="text"), "sc", "python", 0))
    assert all(r["seed"] != "ignored = 1" for r in recs) and len(recs) == 3
    monkeypatch.setattr(seed_sources, "open_hf_stream", lambda *a, **k: iter([{"id": "r", "body": "x = 1\n"}]))
    with pytest.raises(SeedsError, match=r"corpora\.sc\.text_field"):
        seeds.sample_shard(seeds.shard_spec(hf_config(), "sc", "python", 0))


def test_hf_document_id():
    assert seeds.hf_document_id({"id": 5, "hexsha": "h"}) == "5"
    assert seeds.hf_document_id({"hexsha": "h", "max_stars_repo_name": "o/r", "max_stars_repo_path": "p"}) == "h"
    assert seeds.hf_document_id({"max_stars_repo_name": "o/r", "max_stars_repo_path": "p/q.py"}) == "o/r/p/q.py"
    assert seeds.hf_document_id({"content": "x"}).startswith("sha256:")
