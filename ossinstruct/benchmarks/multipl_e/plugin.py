"""MultiPL-E: HumanEval translated to six languages (paper Table 2; the Tables 5/6 average).

Cassano et al., "MultiPL-E: A Scalable and Polyglot Approach to Benchmarking Neural Code
Generation", IEEE TSE 2023, arXiv 2208.08227.

    @article{cassano2023multipl, title={MultiPL-E: A Scalable and Polyglot Approach to
      Benchmarking Neural Code Generation}, author={Cassano, Federico and Gouwar, John and
      Nguyen, Daniel and others}, journal={IEEE Transactions on Software Engineering},
      year={2023}}

Data: the hub dataset nuprl/MultiPL-E, configs humaneval-{lang} ("reworded" prompts),
revision d23b094346c5dbda1080a74bb2a24c18adbf7409. Offline: the files
humaneval-{lang}-reworded.json of the MultiPL-E repository (commit 11b407b, the same day)
in ``benchmark_files/multipl-e/`` (../shared/benchmarks/multipl-e here). Rows: name,
language, prompt, doctests, original, prompt_terminology, tests, stop_tokens.

Protocol (bigcode-evaluation-harness be2a44c, the paper authors' pin): the prompt is the
row's prompt stripped; the completion is cut at the row's stop_tokens; the program is
prompt + completion + "\\n" + tests, compiled and run by execution.py beside this module
(through ossinstruct/sandbox/toolchains.py, which the verify step of the curated data
shares).
Table 2 samples at temperature 0.2, top_p 0.95, 50 samples per problem, and
``max_length_generation = 512`` bounds prompt plus completion tokens; Tables 5 and 6 use
greedy decoding and the average over the six languages weighted by problem count
(experiments/avg_multipl_e.py). The Magicoder instruction template is an option
("instruct"), not the default ("completion").

Two registered benchmarks share this data and module: ``multipl-e`` (Table 2's protocol:
temperature 0.2, top_p 0.95, 50 samples per problem) and ``multipl-e-greedy`` (Tables 5
and 6: one greedy sample per problem; its result also holds the weighted ``average``).
Their result files are results/eval/{model}/multipl-e.json and multipl-e-greedy.json,
with pass@1 per language; the languages scored are ``evaluation.multipl_e.languages``.
A model's prompt style maps to this benchmark's: base models (completion,
completion-paper) get the harness's prompt; instruction-tuned models (instruct) get it
too unless ``evaluation.multipl_e.prompt_style`` is ``instruct`` (the Magicoder template
around the prompt), since the authors ran the bigcode harness's plain prompt on every
model. Decontamination strings: the prompts (not in the default list: the paper did not
decontaminate against MultiPL-E).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import ClassVar

from ossinstruct.benchmarks.base import Benchmark, EvalPrompt, ScoringCost, magicoder_prompt, require_fields

log = logging.getLogger("ossinstruct.benchmarks.multipl_e")

LANGUAGES = ("java", "js", "cpp", "php", "rs", "swift")
DISPLAY = {"java": "Java", "js": "JavaScript", "cpp": "C++", "php": "PHP", "rs": "Rust", "swift": "Swift"}
# The problem counts the authors' experiments/avg_multipl_e.py weights by.
PROBLEM_COUNTS = {"java": 158, "js": 161, "cpp": 161, "php": 161, "rs": 156, "swift": 158}
# CPU seconds of compile + run of one distinct program, per language (bench/multiple_scoring.py;
# docs/benchmarks/multipl-e.md, "Sizing the scoring jobs"); Swift, which could not be measured here, assumed to
# cost C++'s (the slowest measured). The share of programs assumed to run into their limit,
# a worker's memory (a compiler or JVM) and the most workers per job
# (ossinstruct/evaluate/scoring_cost.py).
PROGRAM_COST_S = {"java": 1.02, "js": 0.22, "cpp": 2.14, "php": 0.06, "rs": 0.22, "swift": 2.14}
TIMEOUT_FRACTION = 0.01
WORKER_MB = 500
MAX_CPUS = 32
REVISION = "d23b094346c5dbda1080a74bb2a24c18adbf7409"
OFFLINE_DIR = "multipl-e"
MULTIPLE_PROMPT_STYLES = ("completion", "instruct")
ROW_FIELDS = ("name", "language", "prompt", "tests", "stop_tokens")
# Paper Table 2 (temperature 0.2, top_p 0.95, 50 samples, pass@1 by the unbiased
# estimator); max_length is the harness's max_length_generation: prompt + completion tokens.
SAMPLING = {
    "table2": {
        "temperature": 0.2,
        "top_p": 0.95,
        "n_samples": 50,
        "max_length": 512,
        "max_length_counts": "prompt+completion",
    },
    "greedy": {
        "temperature": 0.0,
        "top_p": 1.0,
        "n_samples": 1,
        "max_length": 512,
        "max_length_counts": "prompt+completion",
    },
}
INSTRUCTION = "Complete the following {language} function:\n```{fence}\n{prompt}\n```"
FENCE = {"java": "java", "js": "javascript", "cpp": "cpp", "php": "php", "rs": "rust", "swift": "swift"}
# paper_results.yaml's (the paper's) language names, where they differ from MultiPL-E's.
PAPER_VARIANTS = {"js": "javascript", "rs": "rust"}
# The Java problems whose tests use javatuples' Pair: the bigcode harness compiled with
# javatuples on the classpath but ran without it (MultiPL-E issue #45), so they failed there.
JAVA_PAIR_NOTE = (
    "Java: bigcode-evaluation-harness at the authors' pin compiled with javatuples on the classpath but "
    "ran without it (MultiPL-E issue #45), so problems using Pair (about 9 of 158) could not pass; the "
    "paper's Java column probably carries that bug. Here javatuples is on both classpaths."
)


def cut_at_stop_tokens(text: str, stop_tokens: list[str]) -> str:
    """The completion up to the first of the row's stop tokens (the harness's cut)."""
    positions = [p for p in (text.find(s) for s in stop_tokens) if p >= 0]
    return text[: min(positions)] if positions else text


def program_of(row: dict, completion: str) -> str:
    """prompt (stripped) + completion + "\\n" + tests: what is compiled and run."""
    return row["prompt"].strip() + completion + "\n" + row["tests"]


def language_file(directory: str | Path, language: str) -> Path:
    return Path(directory) / f"humaneval-{language}-reworded.json"


# Where the docs say what MultiPL-E's offline data is (a wrong path's message points here).
DATA_DOC = "docs/benchmarks/multipl-e.md, item Data"


def data_dir_problem(path: str | Path, languages, key: str = "evaluation.data.multipl-e.path") -> str | None:
    """What is wrong with `path` as MultiPL-E's offline data for `languages` (None: nothing):
    it must be a directory holding humaneval-{lang}-reworded.json for each language."""
    path = Path(path).expanduser()
    what = (
        f"MultiPL-E's offline data is a directory holding humaneval-{{lang}}-reworded.json for each language "
        f"of evaluation.multipl_e.languages (the MultiPL-E repository's files, ../shared/benchmarks/multipl-e "
        f"here; {DATA_DOC})"
    )
    if not path.exists():
        return f"config key {key}: {path} does not exist; {what}"
    if not path.is_dir():
        return f"config key {key}: {path} is a file, not a directory; {what}"
    missing = [language_file(path, lang).name for lang in languages if not language_file(path, lang).is_file()]
    if missing:
        return f"config key {key}: directory {path} has no {', '.join(missing)}; {what}"
    return None


def load_language_rows(directory: str | Path, language: str) -> list[dict]:
    """The rows of one language from the offline copy (a JSON list, or JSON lines)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown MultiPL-E language {language!r}; known: {', '.join(LANGUAGES)}")
    path = language_file(directory, language)
    text = path.read_text(encoding="utf-8")
    rows = (
        json.loads(text)
        if text.lstrip().startswith("[")
        else [json.loads(line) for line in text.splitlines() if line.strip()]
    )
    require_fields("multipl-e", rows, ROW_FIELDS)
    return rows


def weighted_average(pass_at_1: dict[str, float], counts: dict[str, int] = PROBLEM_COUNTS) -> float:
    """The Tables 5/6 MultiPL-E average: languages weighted by problem count. Every one
    of the six languages must be present (a missing language is never averaged as 0)."""
    missing = [lang for lang in LANGUAGES if lang not in pass_at_1]
    if missing:
        raise ValueError(f"MultiPL-E average needs all six languages; missing {', '.join(missing)}")
    total = sum(counts[lang] for lang in LANGUAGES)
    return sum(pass_at_1[lang] * counts[lang] for lang in LANGUAGES) / total


def bigcode_generations(rows: list[dict], completions: dict[str, list[str]]) -> list[list[str]]:
    """bigcode-evaluation-harness's --load_generations_path format: one list per problem
    (in row order) of prompt + completion strings (the harness adds the tests)."""
    return [[row["prompt"].strip() + c for c in completions.get(row["name"], [])] for row in rows]


def harness_keys(pass_at_1: dict[str, float]) -> dict[str, dict[str, float]]:
    """The harness's result keys: {"multiple-java": {"pass@1": ...}, ...}."""
    return {f"multiple-{lang}": {"pass@1": value} for lang, value in pass_at_1.items()}


class MultiplE(Benchmark):
    name = "multipl-e"
    release_tasks = 955  # the six languages' problems
    display = "MultiPL-E"
    paper = "Cassano et al. 2023, arXiv 2208.08227"
    default_source: ClassVar[dict] = {
        "source": "huggingface",
        "dataset": "nuprl/MultiPL-E",
        "config_name": "humaneval-java",
        "revision": REVISION,
        "split": "test",
    }
    # benchmark_files/multipl-e/humaneval-{lang}-reworded.json (a directory of six files).
    offline_dir: ClassVar[str] = OFFLINE_DIR
    decontaminated_by_default = False
    prompt_styles = MULTIPLE_PROMPT_STYLES
    variants = LANGUAGES
    # The languages' average weighted by problem count (result_extras: all six only).
    derived_variants: ClassVar[tuple[str, ...]] = ("average",)
    paper_tables = ("table2",)
    paper_variants: ClassVar[dict] = PAPER_VARIANTS
    # The handler every program runs through (check_samples adds the execution cache).
    scoring_handler = "ossinstruct.sandbox.toolchains:compile_and_run"
    # In MultiPL-E's evaluation image (evaluation.multipl_e.container) on a cluster without
    # the toolchains; writes bigcode-evaluation-harness generations (exports).
    scoring_rule = "eval_score_multiple"
    has_reference_solutions = False  # the rows carry prompts and tests, no solutions
    settings_key = "multipl_e"
    task_settings: ClassVar[tuple[str, ...]] = ("languages",)
    scoring_settings: ClassVar[tuple[str, ...]] = ("languages",)
    sampling_name: ClassVar[str] = "table2"
    sampling: ClassVar[dict] = SAMPLING["table2"]

    def raw_strings(self, rows):
        require_fields(self.name, rows, ROW_FIELDS)
        for row in rows:
            yield f"{row['language']}/{row['name']}", "prompt", row["prompt"]

    # ------------------------------------------------------------------ data
    def language_rows(self, path: str | None, language: str) -> list[dict]:
        """One language's rows: from the offline directory `path` (six JSON files), else
        the hub dataset at the pinned revision (config humaneval-{lang})."""
        if path:
            problem = data_dir_problem(path, [language], f"evaluation.data.{self.name}.path (or benchmark_files)")
            if problem:
                from ossinstruct.files import InputError

                raise InputError(problem)
            return load_language_rows(path, language)
        spec = {**self.default_source, "config_name": f"humaneval-{language}"}
        rows = self.load_rows(spec)
        require_fields(self.name, rows, ROW_FIELDS)
        return rows

    def data_path_problem(self, path: Path, settings: dict, key: str) -> str | None:
        """A directory holding humaneval-{lang}-reworded.json for each configured language."""
        return data_dir_problem(path, settings["languages"], key)

    def prepare(self, *, path, version, limit, out_tasks, out_info, out_expected, settings) -> dict:
        """The tasks in force: for each configured language, its first `limit` rows (all
        when None), each with task_id "{lang}/{name}" and its language; no expected outputs
        (the tests are in the program)."""
        from ossinstruct.files import write_json_atomic, write_jsonl_atomic

        languages = list(settings.get("languages") or LANGUAGES)
        tasks, counts = [], {}
        for lang in languages:
            rows = self.language_rows(path, lang)
            counts[lang] = len(rows)
            for row in rows[:limit] if limit else rows:
                tasks.append({**row, "task_id": f"{lang}/{row['name']}", "language": lang})
        info = {
            "benchmark": self.name,
            "source": "file" if path else "huggingface",
            "path": str(path) if path else None,
            "dataset": "nuprl/MultiPL-E",
            "revision": REVISION,
            "configs": [f"humaneval-{lang}" for lang in languages],
            "languages": languages,
            "n_tasks_release": sum(counts.values()),
            "n_tasks_release_per_language": counts,
            "limit": limit,
            "n_tasks": len(tasks),
            "task_ids": [t["task_id"] for t in tasks],
        }
        if path:
            from ossinstruct.llm.models import sha256_file

            info["sha256"] = {lang: sha256_file(language_file(path, lang)) for lang in languages}
        write_jsonl_atomic(out_tasks, tasks)
        write_json_atomic(out_expected, {})
        write_json_atomic(out_info, info)
        return info

    # ------------------------------------------------------------------ prompts
    def style_for(self, model_prompt: str, settings: dict) -> str:
        """The harness's prompt for every model, unless evaluation.multipl_e.prompt_style is
        instruct: then instruction-tuned models get the Magicoder template."""
        wanted = (settings or {}).get("prompt_style", "completion")
        return "instruct" if model_prompt == "instruct" and wanted == "instruct" else "completion"

    def build_prompt(self, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
        return self.build_multiple_prompt(problem, style)

    def postprocess(self, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
        out = self.multiple_postprocess(problem, generated_text, style)
        return {"completion": out["completion"], "solution": out["program"], "language": problem["language"]}

    def variant_of(self, problem: dict) -> str:
        return problem["language"]

    def build_multiple_prompt(self, row: dict, style: str = "completion") -> EvalPrompt:
        """The harness's prompt (row prompt stripped, stop at the row's stop_tokens), or
        the Magicoder instruction template around it ("instruct": stop at the fence)."""
        if style not in MULTIPLE_PROMPT_STYLES:
            raise ValueError(
                f"unknown prompt style {style!r} for multipl-e; known: {', '.join(MULTIPLE_PROMPT_STYLES)}"
            )
        prompt = row["prompt"].strip()
        if style == "completion":
            return EvalPrompt(text=prompt, response_prefix="", stop=list(row["stop_tokens"]))
        lang = row["language"]
        instruction = INSTRUCTION.format(language=DISPLAY.get(lang, lang), fence=FENCE.get(lang, lang), prompt=prompt)
        prefix = f"```{FENCE.get(lang, lang)}\n{prompt}"
        return EvalPrompt(text=magicoder_prompt(instruction, prefix), response_prefix=prefix, stop=["```"])

    def multiple_postprocess(self, row: dict, generated_text: str, style: str = "completion") -> dict:
        """{completion, program}: the completion cut at the row's stop tokens (and, for
        instruct, at the closing fence first)."""
        text = generated_text or ""
        if style == "instruct":
            text = cut_at_stop_tokens(text, ["```"])
        completion = cut_at_stop_tokens(text, list(row["stop_tokens"]))
        return {"completion": completion, "program": program_of(row, completion)}

    # ------------------------------------------------------------------ scoring
    def scoring_protocol(self, settings: dict) -> dict:
        from ossinstruct.sandbox import toolchains as mx

        # The limits check_samples runs under: bigcode-evaluation-harness be2a44c's, per
        # configured language.
        languages = (settings or {}).get("languages") or LANGUAGES
        return {"step_limits_s": {lang: dict(mx.STEP_LIMITS_S[lang]) for lang in languages}, "memory_mb": mx.MEMORY_MB}

    def scoring_cost(self, settings: dict) -> ScoringCost:
        """The configured languages' measured cost; a program that runs into its limit
        mostly does so when run (its compile ended)."""
        from ossinstruct.sandbox import toolchains as mx

        languages = [lang for lang in LANGUAGES if lang in (settings.get("languages") or LANGUAGES)]
        return ScoringCost(
            program_s={lang: PROGRAM_COST_S[lang] for lang in languages},
            release_tasks={lang: PROBLEM_COUNTS[lang] for lang in languages},
            timeout_fraction=TIMEOUT_FRACTION,
            time_limit_s=max(mx.STEP_LIMITS_S[lang]["run"] for lang in languages),
            worker_mb=WORKER_MB,
            max_cpus=MAX_CPUS,
            limit_per_variant=True,
        )

    def check_samples(self, problems, samples, expected, *, workers, cache_dir=None, settings) -> list[dict]:
        """Every distinct program compiled and run once in the sandbox, through the execution
        cache (execution.py); toolchains checked before any job."""
        from ossinstruct.benchmarks.multipl_e.execution import score_programs
        from ossinstruct.sandbox import toolchains as mx

        by_id = {p["task_id"]: p for p in problems}
        languages = sorted({by_id[s["task_id"]]["language"] for s in samples})
        versions = mx.require_toolchains(languages, "evaluation.multipl_e.languages")
        jobs = [(by_id[s["task_id"]]["language"], s["solution"]) for s in samples]
        # Each language's compile and run limits are the harness's (mx.STEP_LIMITS_S).
        results, stats = score_programs(jobs, cache_dir=cache_dir, versions=versions, workers=workers)
        log.info("multipl-e: %s", stats)
        return [
            {
                "status": r["status"],
                **({"stderr_tail": r.get("stderr", "")[-500:]} if r["status"] != "pass" else {}),
                "cached": r.get("cached", False),
                "execution_key": r["key"],
            }
            for r in results
        ]

    def check_environment(self, settings: dict) -> None:
        """The configured languages' toolchains, on this (the scoring job's) machine."""
        from ossinstruct.sandbox import toolchains as mx

        mx.require_toolchains((settings or {}).get("languages") or LANGUAGES, "evaluation.multipl_e.languages")

    def result_extras(self, info: dict, settings: dict, pass_at_1: dict) -> dict:
        from ossinstruct.sandbox import toolchains as mx

        languages = info.get("languages") or list(LANGUAGES)
        extras = {
            "sampling": {"name": self.sampling_name, **self.sampling},
            "data": {k: info.get(k) for k in ("source", "path", "dataset", "revision", "configs", "sha256")},
            # Merged into the scorer's scoring_protocol (this class's: the limits in force).
            "scoring_protocol": {
                "java_classpath": "javatuples on javac and java (MultiPL-E issue #45 fixed)",
                "pass": "compiled, ran, exit status 0",
                # The versions check_samples required (and keyed the execution cache with).
                "toolchains": mx.toolchain_versions(languages),
            },
            "notes": [JAVA_PAIR_NOTE] if "java" in (info.get("languages") or []) else [],
        }
        languages = [v for v in pass_at_1 if v in LANGUAGES]
        extras["bigcode_harness"] = harness_keys({lang: pass_at_1[lang] for lang in languages})
        if set(LANGUAGES) <= set(languages):
            # The Tables 5/6 column: a variant of pass@1 (merged into the scorer's).
            extras["average_weighted"] = weighted_average(pass_at_1)
            extras["pass@1"] = {"average": extras["average_weighted"]}
        return extras

    def export_generations(self, problems: list[dict], samples: list[dict], out_dir: str | Path) -> list[str]:
        """bigcode-evaluation-harness --load_generations_path files, one per language:
        multiple-{lang}.json, a list per problem (row order) of prompt + completion."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for lang in dict.fromkeys(p["language"] for p in problems):
            rows = [p for p in problems if p["language"] == lang]
            completions: dict[str, list[str]] = {}
            for s in samples:
                if s["task_id"].startswith(f"{lang}/"):
                    completions.setdefault(s["task_id"].split("/", 1)[1], []).append(s["completion"])
            from ossinstruct.files import write_text_atomic

            path = out_dir / f"multiple-{lang}.json"
            write_text_atomic(path, json.dumps(bigcode_generations(rows, completions)))
            written.append(str(path))
        return written


class MultiplEGreedy(MultiplE):
    """Tables 5 and 6: one greedy sample per problem, and the six languages' average."""

    name = "multipl-e-greedy"
    display = "MultiPL-E (greedy)"
    paper_tables = ("table5", "table6")
    sampling_name = "greedy"
    sampling: ClassVar[dict] = SAMPLING["greedy"]


BENCHMARK = MultiplE()
GREEDY_BENCHMARK = MultiplEGreedy()
