"""Curation (dedup, statuses, noisy samples, §4.1 rule), Evol-Instruct ingest, training
records, figures and the dataset card, on crafted records."""

import json

import numpy as np
import pytest
from conftest import coloured_pixels

from ossinstruct.curate import clean as curate
from ossinstruct.curate import evol, figures, trainset
from ossinstruct.curate.card import dataset_card
from ossinstruct.curate.clean import clean, is_python_sample, noisy_reason
from ossinstruct.files import read_jsonl, write_jsonl_atomic

PY_SOLUTION = "```python\ndef add(a, b):\n    return a + b\n```"


def record(i, seed=None, problem=None, solution=None, status="ok", reason=None, lang="python"):
    seed = f"seed_{i} = {i}" if seed is None else seed
    return {
        "seed_id": f"c/{lang}/{i}",
        "corpus": "c",
        "lang": lang,
        "index": i,
        "shard": 0,
        "document": f"doc{i}.py",
        "start_line": 1,
        "end_line": 2,
        "seed": seed,
        "sha256": f"sha-{seed}",
        "source": "local:test",
        "teacher": "t",
        "backend": "openai",
        "model": "gpt-x",
        "template_id": "tpl",
        "template_sha256": "x",
        "decoding": {},
        "request_hash": f"h{i}",
        "status": status,
        "reason": reason,
        "problem": f"Problem number {i}." if problem is None else problem,
        "solution": f"```python\ndef f{i}():\n    return {i}\n```" if solution is None else solution,
        "response": "raw",
        "finish_reason": "stop",
        "usage": {},
        "latency_s": 0.1,
        "attempts": 1,
    }


# --------------------------------------------------------------------------- dedup


def test_duplicate_rules_first_wins_and_duplicate_of():
    records = [
        record(0, seed="x = 1"),
        record(1, seed="x  =  1\n"),  # same seed modulo whitespace
        record(2, problem="Problem number   0."),  # same problem modulo whitespace
        record(3, solution="```python\ndef f0():\n  return 0\n```"),  # same solution mod whitespace
        record(4),
        record(5, seed="x = 1", problem="Problem number 4."),  # seed rule is checked first
    ]
    samples, rejected = clean(records)
    assert [s["raw_index"] for s in samples] == [0, 4]
    assert [s["index"] for s in samples] == [0, 1]
    by_raw = {r["raw_index"]: r for r in rejected}
    assert by_raw[1]["reject_rule"] == "duplicate_seed" and by_raw[1]["duplicate_of"] == 0
    assert by_raw[2]["reject_rule"] == "duplicate_problem" and by_raw[2]["duplicate_of"] == 0
    assert by_raw[3]["reject_rule"] == "duplicate_solution" and by_raw[3]["duplicate_of"] == 0
    assert by_raw[5]["reject_rule"] == "duplicate_seed" and by_raw[5]["duplicate_of"] == 0
    assert "whitespace" in by_raw[3]["reject_reason"] and "raw_index 0" in by_raw[3]["reject_reason"]
    # Deterministic: same input, same output.
    assert clean(records) == (samples, rejected)


def test_rejected_record_does_not_claim_keys():
    # 1 is a duplicate of 0's seed; 2 shares only 1's problem, so 2 is kept.
    records = [record(0, seed="s"), record(1, seed="s", problem="P"), record(2, problem="P")]
    samples, rejected = clean(records)
    assert [s["raw_index"] for s in samples] == [0, 2]
    assert [r["raw_index"] for r in rejected] == [1]


def test_seed_falls_back_to_sha256():
    a, b = record(0), record(1)
    a["seed"] = b["seed"] = None
    a["sha256"] = b["sha256"] = "same"
    samples, rejected = clean([a, b])
    assert len(samples) == 1 and rejected[0]["reject_rule"] == "duplicate_seed"


def test_non_ok_statuses_are_rejected_with_reasons():
    records = [
        record(0, status="truncated", reason="finish_reason=length: the response hit max_tokens"),
        record(1, status="unparseable", reason="missing [Solution] section", solution=None),
        record(2, status="request_failed", reason="APITimeoutError: after 8 attempts"),
        record(3),
    ]
    records[1]["solution"] = None
    samples, rejected = clean(records)
    assert [s["raw_index"] for s in samples] == [3] and samples[0]["index"] == 0
    assert [r["reject_reason"] for r in rejected] == [
        "status=truncated: finish_reason=length: the response hit max_tokens",
        "status=unparseable: missing [Solution] section",
        "status=request_failed: APITimeoutError: after 8 attempts",
    ]
    assert all(r["reject_rule"] == "status" and r["duplicate_of"] is None for r in rejected)
    # A failed record's problem/solution does not block a later ok one.
    again = clean([record(0, status="truncated", reason="x"), record(1, problem="Problem number 0.")])[0]
    assert len(again) == 1


def test_sample_schema():
    samples, _ = clean([record(7, lang="rust", problem="Write it in Python.", solution="fn main() {}")])
    sample = samples[0]
    assert list(sample) == list(curate.SAMPLE_FIELDS)
    assert list(sample)[:6] == ["lang", "seed", "problem", "solution", "index", "raw_index"]
    assert sample["lang"] == "rust" and sample["seed_id"] == "c/rust/7" and sample["request_hash"] == "h7"
    assert sample["raw_index"] == 0 and sample["source"] == "local:test"
    assert sample["is_python"] is False  # "Python" capitalised only: the paper's `python` token


def test_curate_shards_writes_files(tmp_path):
    shards = []
    for k in range(2):
        path = tmp_path / f"{k}.jsonl"
        write_jsonl_atomic(path, [record(10 * k + j) for j in range(3)] + [record(99, seed="dup")])
        shards.append(str(path))
    stats = curate.curate_shards(shards, tmp_path / "clean.jsonl", tmp_path / "rejected.jsonl", tmp_path / "stats.json")
    kept = list(read_jsonl(tmp_path / "clean.jsonl"))
    assert [s["raw_index"] for s in kept] == [0, 1, 2, 3, 4, 5, 6]
    assert [r["raw_index"] for r in read_jsonl(tmp_path / "rejected.jsonl")] == [7]
    assert stats["raw"] == 8 and stats["kept"] == 7 and stats["rejected_by_rule"] == {"duplicate_seed": 1}
    assert json.loads((tmp_path / "stats.json").read_text())["kept"] == 7


# --------------------------------------------------------------------------- noisy


def py(code):
    return f"Here is the solution:\n\n```python\n{code}\n```\n\nIt works."


NOISY = {
    "pass body": (py("def area(r):\n    pass"), "pass-only body in `area`"),
    "docstring only": (py('def area(r):\n    """Area."""'), "docstring-only body"),
    "ellipsis body": (py("def area(r):\n    ..."), "`...` body in `area`"),
    "elided statement": (py("def read(p):\n    with open(p) as fh:\n        ...\n    return 1"), "elided code"),
    "NotImplementedError": (
        py("class Shape:\n    def area(self):\n        raise NotImplementedError()"),
        "raise NotImplementedError in `Shape.area`",
    ),
    "not implemented message": (py("def f():\n    raise RuntimeError('Not implemented yet')"), "raise RuntimeError"),
    "NotImplemented misuse": (py("def f(x):\n    return NotImplemented"), "NotImplemented used outside"),
    "TODO comment": (py("def f(x):\n    # TODO: handle negative x\n    return x"), "TODO/FIXME marker"),
    "your code here": (py("def f(x):\n    # Your code here\n    return x"), "'your code here'"),
    "implement this": (py("def f(x):\n    # implement this\n    return x"), "'implement this'"),
    "untagged python": ("```\ndef f(x):\n    pass\n```", "pass-only body in `f`"),
    "no fences": ("def f(x):\n    pass", "pass-only body in `f`"),
    "unparseable python": ("```python\nprint 'hi'\ndef f(x):\n    pass\n```", "pass-only body in `f`"),
    "java not implemented": (
        '```java\nint f() {\n  throw new UnsupportedOperationException("Not implemented");\n}\n```',
        "'not implemented' message",
    ),
    "csharp": ("```csharp\npublic int F() { throw new NotImplementedException(); }\n```", "NotImplementedException"),
    "rust todo": ("```rust\nfn f() -> i32 {\n    todo!()\n}\n```", "todo!()"),
    "js elided": ("```js\nfunction f() {\n  // ... rest of the code\n}\n```", "elided code comment"),
    "ts FIXME": ("```typescript\nfunction f(): number {\n  return 1; // FIXME wrong\n}\n```", "TODO/FIXME"),
    "cpp elided line": ("```cpp\nint main() {\n    ...\n    return 0;\n}\n```", "elided code (a line of `...`)"),
}

CLEAN = {
    "except pass": py("def f(x):\n    try:\n        return int(x)\n    except ValueError:\n        pass\n    return 0"),
    "except ellipsis": py(
        "def f(x):\n    try:\n        return int(x)\n    except ValueError:\n        ...\n    return 0"
    ),
    "empty exception class": py("class AppError(Exception):\n    pass"),
    "to-do app": py(
        "class TodoList:\n    def add(self, todo):\n        # Add a todo item to the list\n"
        "        self.items.append({'title': todo, 'status': 'TODO'})\n"
        "        print('todo: added', todo)\n"
    ),
    "TODO list comment": py("# TODO list application\nitems = []"),
    "abstract method": py(
        "from abc import ABC, abstractmethod\nclass A(ABC):\n    @abstractmethod\n    def f(self):\n        pass"
    ),
    "overload stubs": py(
        "from typing import overload\n@overload\ndef f(x: int) -> int: ...\n"
        "@overload\ndef f(x: str) -> str: ...\ndef f(x):\n    return x"
    ),
    "protocol": py("from typing import Protocol\nclass Greeter(Protocol):\n    def greet(self) -> str: ..."),
    "ellipsis expressions": py("from typing import Callable\ndef f(g: Callable[..., int], a):\n    return a[..., 0]"),
    "overridden hook": py(
        "class Shape:\n    def area(self):\n        raise NotImplementedError\n"
        "class Square(Shape):\n    def area(self):\n        return 4"
    ),
    "unsupported branch": py(
        "def f(mode):\n    if mode == 'a':\n        return 1\n"
        "    raise_it = True\n    if raise_it:\n        raise NotImplementedError(mode)"
    ),
    "dunder NotImplemented": py(
        "class V:\n    def __eq__(self, other):\n        if not isinstance(other, V):\n"
        "            return NotImplemented\n        return True"
    ),
    "pass in loop": py("def spin(ready):\n    while not ready():\n        pass\n    return True"),
    "todo in string": py("def f():\n    return 'TODO: buy milk'"),
    "cpp include": "```cpp\n#include <vector>\nint main() { return 0; }\n```",
    "js spread": "```javascript\nfunction f(...args) { return [...args]; }\n```",
    "swift coder init": (
        '```swift\nrequired init?(coder: NSCoder) {\n    fatalError("init(coder:) has not been implemented")\n}\n```'
    ),
    "url in string": "```javascript\nconst u = 'http://x.org/todo'; // fetch the page\n```",
    "output fence": py("print(1)") + "\n\nOutput:\n```\n...\n```",
    "output fence, not python": py("print(1)") + "\n\nOutput:\n```\nRow 1: ok\n...\n```",
    "shell comment": "```bash\n# Install the dependencies\npip install requests\n```",
    "prose only": "Use a dictionary; nothing else is needed.",
}


@pytest.mark.parametrize("name", sorted(NOISY))
def test_noisy_true_positives(name):
    solution, expected = NOISY[name]
    reason = noisy_reason(solution)
    assert reason is not None and expected in reason, (name, reason)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_noisy_true_negatives(name):
    assert noisy_reason(CLEAN[name]) is None, name


def test_stub_module_is_noisy():
    # A .pyi-style stub implements nothing: flagged (only @overload/@abstractmethod/Protocol exempt).
    assert noisy_reason(py("def f(x: int) -> int: ...\ndef g() -> None: ...")) is not None


def test_noisy_kept_by_default_dropped_with_drop_noisy():
    records = [record(0), record(1, solution=py("def f():\n    pass")), record(2)]
    default, _ = clean(records)
    assert [s["raw_index"] for s in default] == [0, 1, 2]
    ablation, rejected = clean(records, drop_noisy=True)
    assert [s["raw_index"] for s in ablation] == [0, 2] and [s["index"] for s in ablation] == [0, 1]
    assert rejected[0]["reject_rule"] == "noisy"
    assert rejected[0]["reject_reason"] == "noisy: pass-only body in `f`"
    # Dedup runs first: the ablation set is the default set minus its noisy samples.
    dup = clean(records + [record(3, solution=py("def f():\n    pass"))], drop_noisy=True)[1]
    assert dup[-1]["reject_rule"] == "duplicate_solution" and dup[-1]["duplicate_of"] == 1


# --------------------------------------------------------------------------- §4.1 rule


def test_is_python_rule():
    assert is_python_sample({"problem": "Sort a list.", "solution": "```python\nsorted(x)\n```"})
    assert is_python_sample({"problem": "Use python3 to run it.", "solution": "x"})
    assert not is_python_sample({"problem": "Write a Python class.", "solution": "class A: pass"})
    assert is_python_sample({"problem": "Write a Python class.", "solution": ""}, case_sensitive=False)
    assert not is_python_sample({"problem": "Write Rust.", "solution": "```rust\nfn main() {}\n```"})
    assert not is_python_sample({"problem": None, "solution": None})


# --------------------------------------------------------------------------- evol


MAGICODER_ROWS = [
    {"instruction": "Write a python function to add.", "response": PY_SOLUTION},
    {"instruction": "  ", "response": "x"},
    {"instruction": "Explain Rust lifetimes.", "response": "They are scopes."},
]
CODEALPACA_ROWS = [
    {"instruction": "Reverse a string in JavaScript.", "output": "```js\ns.split('').reverse().join('')\n```"},
    {"instruction": "Add numbers.", "output": ""},
]


def test_ingest_evol_magicoder_schema():
    samples, rejected = evol.ingest_evol(MAGICODER_ROWS, "ise-uiuc/Magicoder-Evol-Instruct-110K")
    assert [s["raw_index"] for s in samples] == [0, 2] and [s["index"] for s in samples] == [0, 1]
    assert list(samples[0]) == list(curate.SAMPLE_FIELDS)
    assert samples[0]["problem"] == "Write a python function to add." and samples[0]["solution"] == PY_SOLUTION
    assert samples[0]["lang"] == "unknown" and samples[0]["seed"] is None and samples[0]["teacher"] is None
    assert samples[0]["source"] == "ise-uiuc/Magicoder-Evol-Instruct-110K"
    assert [s["is_python"] for s in samples] == [True, False]
    assert rejected == [
        {
            **MAGICODER_ROWS[1],
            "raw_index": 1,
            "reject_rule": "empty",
            "reject_reason": "empty instruction",
            "duplicate_of": None,
        }
    ]


def test_ingest_evol_codealpaca_schema_and_detection():
    samples, rejected = evol.ingest_evol(CODEALPACA_ROWS, "theblackcat102/evol-codealpaca-v1")
    assert len(samples) == 1 and samples[0]["solution"].startswith("```js")
    assert rejected[0]["reject_reason"] == "empty output"
    # An unknown name: the response field is detected.
    assert len(evol.ingest_evol(CODEALPACA_ROWS, "my-local-copy")[0]) == 1
    with pytest.raises(evol.EvolSourceError, match="no response field"):
        evol.ingest_evol([{"instruction": "x", "answer": "y"}], "other")


def test_load_evol_rows_from_files(tmp_path):
    jsonl = tmp_path / "evol.jsonl"
    write_jsonl_atomic(jsonl, CODEALPACA_ROWS)
    assert evol.load_evol_rows({"source": "file", "path": str(jsonl)}) == CODEALPACA_ROWS
    as_json = tmp_path / "evol.json"
    as_json.write_text(json.dumps(MAGICODER_ROWS))
    rows = evol.load_evol_rows({"source": "file", "path": str(as_json)}, name="evol")
    samples, _ = evol.ingest_evol(rows, "ise-uiuc/Magicoder-Evol-Instruct-110K")
    assert len(samples) == 2


def test_load_evol_rows_parquet(tmp_path):
    import pandas

    path = tmp_path / "evol.parquet"
    pandas.DataFrame(MAGICODER_ROWS).to_parquet(path)
    assert evol.load_evol_rows({"source": "file", "path": str(path)}) == MAGICODER_ROWS


def test_unavailable_sources_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("offline mode is enabled")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    spec = {
        "source": "huggingface",
        "dataset": "theblackcat102/evol-codealpaca-v1",
        "revision": "main",
        "split": "train",
    }
    with pytest.raises(evol.EvolSourceError) as err:
        evol.load_evol_rows(spec, name="evol-codealpaca")
    message = str(err.value)
    assert "theblackcat102/evol-codealpaca-v1" in message and "datasets.evol-codealpaca.evol.source" in message
    with pytest.raises(evol.EvolSourceError, match=r"does not exist.*datasets\.e\.evol"):
        evol.load_evol_rows({"source": "file", "path": str(tmp_path / "missing.jsonl")}, name="e")
    with pytest.raises(evol.EvolSourceError, match=r"datasets\.e\.evol\.source: unknown source"):
        evol.load_evol_rows({"source": "ftp"}, name="e")


# --------------------------------------------------------------------------- training records


def test_training_record_exact():
    sample = clean([record(0, problem="Add {a} and b.", solution=PY_SOLUTION)])[0][0]
    (rec,) = trainset.to_training_records([sample], dataset="oss-75k")
    assert rec == {
        "prompt": "You are an exceptionally intelligent coding assistant that consistently delivers "
        "accurate and reliable responses to user instructions.\n\n@@ Instruction\n"
        "Write a solution to the following coding problem:\n"
        "Add {a} and b.\n\n@@ Response\n",
        "completion": PY_SOLUTION,
        "id": "oss-75k/0",
        "lang": "python",
        "is_python": True,
        "source_dataset": "oss-75k",
    }
    evol_sample = evol.ingest_evol(MAGICODER_ROWS, "ise-uiuc/Magicoder-Evol-Instruct-110K")[0][1]
    assert trainset.to_training_records([evol_sample])[0]["id"] == "ise-uiuc/Magicoder-Evol-Instruct-110K/2"


def test_select_splits():
    samples = [
        {"problem": "p", "solution": "python", "is_python": True},
        {"problem": "p", "solution": "rust", "is_python": False},
        {"problem": "p", "solution": "```python\n```"},
    ]  # no flag: the rule decides
    assert len(trainset.select(samples, None)) == 3
    assert [s["solution"] for s in trainset.select(samples, True)] == ["python", "```python\n```"]
    assert [s["solution"] for s in trainset.select(samples, False)] == ["rust"]
    records = trainset.to_training_records(samples[:2], dataset="d")
    assert [r["id"] for r in trainset.select(records, False)] == ["d/1"]


# --------------------------------------------------------------------------- figures


def test_count_tokens():
    assert figures.count_tokens("def add(a, b):\n    return a + b  # 3.5e2 x_1") == 15
    assert figures.count_tokens("") == 0 and figures.count_tokens(None) == 0
    assert figures.count_tokens("héllo wörld 0xFF") == 3


def _png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n" and coloured_pixels(path) > 100


def _bar_heights(ax) -> list[float]:
    return [round(p.get_height(), 6) for p in ax.patches]


def test_figures_are_written(tmp_path, saved_figures):
    """README: the dataset card's figures/ hold token lengths (paper Figure 7) and
    languages, and humaneval_similarity.png is paper Figure 3: each image is drawn (not
    blank) and plots the data: one histogram count per sample, one bar per language."""
    samples = clean([record(i, lang=["python", "rust", "cpp"][i % 3]) for i in range(30)])[0]
    tok = figures.token_lengths_figure(samples, tmp_path / "f" / "tokens.png", "test set")
    assert _png(tmp_path / "f" / "tokens.png") and tok["problem"]["n"] == 30
    problem_ax, solution_ax = saved_figures[-1].axes[:2]
    assert sum(_bar_heights(problem_ax)) == sum(_bar_heights(solution_ax)) == 30
    assert problem_ax.lines[0].get_xdata()[0] == tok["problem"]["median"]  # the median line
    langs = figures.language_figure(samples, tmp_path / "langs.png")
    assert _png(tmp_path / "langs.png")
    assert langs["lang"] == {"cpp": 10, "python": 10, "rust": 10} and langs["python"] == 30
    left, right = saved_figures[-1].axes[:2]
    assert _bar_heights(left) == [10, 10, 10]
    assert [t.get_text() for t in left.get_xticklabels()] == ["cpp", "python", "rust"]
    assert _bar_heights(right) == [30, 0]
    he = figures.humaneval_texts()
    assert len(he) == 164
    evol_samples = evol.ingest_evol(MAGICODER_ROWS, "m")[0]
    summary = figures.humaneval_similarity_figure(
        {"oss": samples, "evol": evol_samples, "empty": []}, he, tmp_path / "sim.png"
    )
    assert _png(tmp_path / "sim.png")
    # Per non-empty dataset: its share-per-bin curve (summing to 1) and its mean line.
    curves, means = saved_figures[-1].axes[0].lines[0::2], saved_figures[-1].axes[0].lines[1::2]
    assert [line.get_label() for line in curves] == ["oss (n=30)", f"evol (n={len(evol_samples)})"]
    assert all(sum(line.get_ydata()) == pytest.approx(1.0) for line in curves)
    assert [means[0].get_xdata()[0], means[1].get_xdata()[0]] == pytest.approx(
        [summary["oss"]["mean"], summary["evol"]["mean"]], abs=1e-4
    )
    assert summary["oss"]["n"] == 30 and summary["empty"]["n"] == 0
    # The figure fits one TF-IDF model on the union of all datasets and HumanEval.
    union = [figures.sample_text(s) for s in samples + evol_samples] + he
    expected = figures.humaneval_similarities(samples, he, vectorizer=figures.fit_tfidf(union))
    assert summary["oss"]["mean"] == pytest.approx(float(expected.mean()), abs=1e-4)


def test_humaneval_similarities():
    he = figures.humaneval_texts()
    same = {"problem": he[0], "solution": ""}  # identical to HumanEval/0 (one extra space)
    unrelated = {"problem": "Deploy a Kubernetes ingress with TLS certificates.", "solution": "kubectl apply"}
    scores, nearest = figures.humaneval_similarities([same, unrelated], he, return_nearest=True)
    assert scores.shape == (2,) and scores.dtype == np.float64
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and nearest[0] == 0
    assert scores[1] < 0.3
    # Chunking does not change the result.
    vectorizer = figures.fit_tfidf([figures.sample_text(s) for s in (same, unrelated)] + he)
    whole = figures.humaneval_similarities([same, unrelated] * 3, he, vectorizer=vectorizer)
    chunked = figures.humaneval_similarities([same, unrelated] * 3, he, vectorizer=vectorizer, chunk_size=2)
    assert np.allclose(chunked, whole, atol=1e-6) and np.allclose(whole, np.tile(scores, 3), atol=1e-6)


# --------------------------------------------------------------------------- card


def test_dataset_card_contains_counts():
    card = dataset_card(
        "oss-instruct-75k",
        counts={"seeds": 80000, "raw": 80000, "ok": 78123, "deduplicated": 75210, "decontaminated": 75197},
        sources={"starcoderdata": {"python": 40000, "rust": 5000}},
        teacher="gpt-3.5-turbo-1106",
        decontamination_report={
            "total": 75210,
            "kept": 75197,
            "excluded": 13,
            "benchmarks": ["humaneval", "mbpp"],
            "per_benchmark": {"humaneval": 4, "mbpp": 9},
            "per_language": {"python": {"total": 40000, "excluded": 13, "kept": 39987}},
        },
    )
    assert card.startswith("---\nlicense: other\n")
    for text in (
        "80000",
        "78123",
        "75210",
        "75197",
        "gpt-3.5-turbo-1106",
        "| humaneval | 4 |",
        "| mbpp | 9 |",
        "starcoderdata",
        'load_dataset("json", data_files="decontaminated.jsonl"',
        "## License",
        "`raw_index`",
        "10K<n<100K",
        "Samples removed in all: 13 of 75210",
        "| python | 40000 | 13 | 39987 |",
    ):
        assert text in card, text
    subset = dataset_card("d", {"kept": 5}, {}, None, {"subset_of": "results/datasets/x/decontaminated.jsonl"})
    assert "A subset of `results/datasets/x/decontaminated.jsonl`" in subset
