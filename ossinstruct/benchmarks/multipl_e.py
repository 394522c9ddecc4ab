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
prompt + completion + "\\n" + tests, compiled and run by ossinstruct.evaluate.multiple_exec.
Table 2 samples at temperature 0.2, top_p 0.95, 50 samples per problem, and
``max_length_generation = 512`` bounds prompt plus completion tokens; Tables 5 and 6 use
greedy decoding and the average over the six languages weighted by problem count
(experiments/avg_multipl_e.py). The Magicoder instruction template is an option
("instruct"), not the default ("completion").

Not a pipeline-evaluated benchmark yet (``prompt_styles`` is empty, so EVALUATED, the
config's evaluation.benchmarks and the rules stay EvalPlus-only): its prompt styles are
MULTIPLE_PROMPT_STYLES and its prompts come from :meth:`MultiplE.build_multiple_prompt`.
Decontamination strings: the prompts (not in the default list: the paper did not
decontaminate against MultiPL-E).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from ossinstruct.benchmarks.base import Benchmark, EvalPrompt, require_fields

LANGUAGES = ("java", "js", "cpp", "php", "rs", "swift")
DISPLAY = {"java": "Java", "js": "JavaScript", "cpp": "C++", "php": "PHP", "rs": "Rust", "swift": "Swift"}
# The problem counts the authors' experiments/avg_multipl_e.py weights by.
PROBLEM_COUNTS = {"java": 158, "js": 161, "cpp": 161, "php": 161, "rs": 156, "swift": 158}
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


def cut_at_stop_tokens(text: str, stop_tokens: list[str]) -> str:
    """The completion up to the first of the row's stop tokens (the harness's cut)."""
    positions = [p for p in (text.find(s) for s in stop_tokens) if p >= 0]
    return text[: min(positions)] if positions else text


def program_of(row: dict, completion: str) -> str:
    """prompt (stripped) + completion + "\\n" + tests: what is compiled and run."""
    return row["prompt"].strip() + completion + "\n" + row["tests"]


def language_file(directory: str | Path, language: str) -> Path:
    return Path(directory) / f"humaneval-{language}-reworded.json"


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
    display = "MultiPL-E"
    paper = "Cassano et al. 2023, arXiv 2208.08227"
    default_source: ClassVar[dict] = {
        "source": "huggingface",
        "dataset": "nuprl/MultiPL-E",
        "config_name": "humaneval-java",
        "revision": REVISION,
        "split": "test",
    }
    decontaminated_by_default = False
    variants = LANGUAGES
    paper_tables = ("table2",)
    sampling = SAMPLING

    def raw_strings(self, rows):
        require_fields(self.name, rows, ROW_FIELDS)
        for row in rows:
            yield f"{row['language']}/{row['name']}", "prompt", row["prompt"]

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
        from ossinstruct.benchmarks.evalplus_tasks import magicoder_prompt

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


BENCHMARK = MultiplE()
