"""What HumanEval(+) and MBPP(+) share: EvalPlus's task schema, prompt styles, post-processing
and scoring, the base class of their two plug-ins.

Three prompt styles, each the protocol of the numbers it is compared with: ``instruct``
(Magicoder's own evaluation, experiments/text2code.py: the benchmark module's instruction
in the Magicoder template, the answer cut at the first code fence), ``completion-paper``
(base models as the EvalPlus leaderboard measured them in late 2023, evalplus 1895d2f) and
``completion`` (evalplus 0.3.1 direct completion). The solution evalplus scores is
prompt + completion, and its sanitizer keeps what the entry point needs.

Scoring: every sample is checked by evalplus's `untrusted_check` (check.py beside this
module) inside a sandbox job: a process forked per sample in a separate network, pid and
mount namespace where the OS allows, under time and memory limits
(ossinstruct/sandbox/pool.py). With one greedy sample per task, pass@1 is the fraction of
tasks whose sample passes: the base tests for HumanEval / MBPP, the base and the plus tests
for HumanEval+ / MBPP+ (evalplus's rule: a "plus" pass needs both). The result's tasks.jsonl
has one line per task: its statuses and the code that was run.

The prompts in detail:

``instruct`` — instruction-tuned models, as Magicoder evaluated its own models
(ise-uiuc/magicoder, experiments/text2code.py). The prompt is the Magicoder template
(`ossinstruct.curate.trainset.MAGICODER_PROMPT`, the one the model was fine-tuned on) followed by
a response prefix that opens a Python code block:

  * HumanEval: p = prompt.strip();
    instruction = "Write a solution to the following problem:\\n```python\\n" + p + "\\n```";
    response prefix = "```python\\n" + p (the model continues the function body).
  * MBPP: the text between the first and last '\"\"\"' of the MBPP+ prompt, split at its
    first "assert": the description (stripped, "." appended if missing) + " Your code
    should satisfy the following assertion:\\n```python\\n" + the assertion + "\\n```";
    response prefix = "```python".

  The completion is the generated text up to the first "```" (the end of the code block).
  Magicoder generated without stop strings and cut there afterwards; under greedy
  decoding passing "```" as a stop string yields the same text and saves the tokens.

``completion-paper`` — base models as the EvalPlus leaderboard measured the paper's
base-model rows in late 2023 (evalplus at 1895d2f, the commit the Magicoder authors pin;
its codegen/generate.py and codegen/model.py): the task's prompt as it is, generation
stops only at the end-of-text strings "<|endoftext|>", "<|endofmask|>" and "</s>", and
the solution is the prompt + the completion as generated; for CodeLlama-Python, which
evalplus ran through its vLLM decoder, every tab of the output becomes four spaces
(``evaluation.models[].tabs_to_spaces``).

``completion`` — base models, evalplus 0.3.1 direct completion (evalplus/codegen.py and
evalplus/provider/utility.py), today's EvalPlus protocol: the prompt is
prompt.strip() + "\\n", generation stops at evalplus's EOS strings plus the benchmark's
extra ones, and tabs in the output become four spaces.

Both styles: evalplus scores solution = prompt + completion, where the prompt is the
problem's prompt as stored (not stripped) for instruct, and the prompt the model saw for
completion (as evalplus's codegen writes it), and
``sanitized = evalplus.sanitize.sanitize(solution, entrypoint=entry_point)`` keeps the
imports and the definitions the entry point needs (dropping trailing test prints etc.).
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections import Counter
from typing import ClassVar

from ossinstruct.benchmarks.base import (
    MODEL_PROMPTS,
    PASS,
    Benchmark,
    EvalPrompt,
    ScoringError,
    check_coverage,
    magicoder_prompt,
)
from ossinstruct.benchmarks.evalplus import data
from ossinstruct.files import read_jsonl

log = logging.getLogger("ossinstruct.benchmarks.evalplus")

PROMPT_STYLES = MODEL_PROMPTS  # the three, each the protocol of the numbers it is compared with

# evalplus at 1895d2f (the paper's EvalPlus), codegen/model.py: EOS, the only stop strings.
PAPER_ERA_EOS = ["<|endoftext|>", "<|endofmask|>", "</s>"]
# The base models evalplus 1895d2f generated with its VLlmDecoder, which replaced every tab
# of the output with four spaces (codegen/model.py; make_model sends "code-llama-*", i.e.
# codellama/CodeLlama-{size}-Python-hf, there). DeepSeek-Coder base went through its
# HFTorchDecoder, which does not.
PAPER_ERA_VLLM_MODEL = re.compile(r"codellama-[0-9.]+b-python", re.IGNORECASE)


def paper_era_tabs_to_spaces(model_id: str | None, override: bool | None = None) -> bool:
    """Whether completion-paper samples of `model_id` get evalplus 1895d2f's tab replacement:
    `override` when given (evaluation.models[].tabs_to_spaces), else CodeLlama-Python."""
    if override is not None:
        return bool(override)
    return bool(model_id) and bool(PAPER_ERA_VLLM_MODEL.search(str(model_id).rstrip("/").rsplit("/", 1)[-1]))


CODE_FENCE = "```"

# evalplus 0.3.1, evalplus/provider/utility.py: EOS (each benchmark adds its
# extra_eos_for_direct_completion).
EVALPLUS_EOS = [
    "<|endoftext|>",
    "<|endofmask|>",
    "</s>",
    "\nif __name__",
    "\ndef main(",
    "\nprint(",
]

# The fields of a problem the sandbox check needs.
SCORED_PROBLEM_FIELDS = ("task_id", "entry_point", "atol", "base_input", "plus_input")

SANDBOX_FAILURE = "sandbox:"  # prefix of a status set when the sandbox job itself failed
# What a sample is scored on (evaluation.scoring.solution): evalplus's sanitized solution, or
# the solution as generated (prompt + completion cut at the first code fence, as Magicoder
# scored it); the samples file's key of each.
SOLUTION_KEY = {"sanitized": "sanitized", "raw": "solution"}
# evalplus gives each of the base and plus checks at most 60 s (+2 s to collect results);
# the sandbox's own limit only catches what escapes that.
JOB_TIMEOUT_S = 2 * 62 + 16


def cut(text: str, stops: list[str]) -> str:
    positions = [p for p in (text.find(s) for s in stops) if p >= 0]
    return text[: min(positions)] if positions else text


@functools.cache
def _evalplus_sanitize():
    # evalplus.sanitize imports evalplus.data, which reads HUMANEVAL_OVERRIDE_PATH and
    # MBPP_OVERRIDE_PATH once, when it is imported (and evaluation.data refuses to run after
    # that). Forget the evalplus.data modules this import loaded, so that a later import of
    # them in this process still reads the variables as they are then.
    before = set(sys.modules)
    from evalplus.sanitize import sanitize

    for name in set(sys.modules) - before:
        if name == "evalplus.data" or name.startswith("evalplus.data."):
            del sys.modules[name]
    return sanitize


def sanitize_solution(solution: str, entry_point: str | None) -> str:
    """evalplus's sanitizer: the imports and definitions `entry_point` needs."""
    return _evalplus_sanitize()(solution, entrypoint=entry_point)


class EvalPlusBenchmark(Benchmark):
    """A benchmark evaluated with evalplus on its base and plus tests (HumanEval+, MBPP+)."""

    prompt_styles = PROMPT_STYLES
    variants = ("base", "plus")
    evaluated_by_default = True
    scoring_handler = "ossinstruct.benchmarks.evalplus.check:check"
    scoring_rule = "eval_score"
    per_sample_scoring = False
    # evaluation.scoring: evalplus's settings (solution, time limits, memory), all of which
    # can change a score (rule eval_score's params hold them: workflow.eval_scoring_identity).
    settings_key = "scoring"
    has_reference_solutions = True

    # Every task id of a release starts so: a file of the other benchmark is told at once.
    task_id_prefix: ClassVar[str]
    # Release files by sha256, so that a local copy without a stated version is still named
    # (release_name and paper_release, evalplus 1895d2f's, are the base class's).
    known_releases: ClassVar[dict[str, str]] = {}
    # evalplus 0.3.1's extra_eos_for_direct_completion of this benchmark.
    extra_eos: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "task_id_prefix" in cls.__dict__:
            data.RELEASE_PREFIXES[cls.task_id_prefix] = cls.display

    def instruction(self, problem: dict) -> tuple[str, str]:
        """(instruction, response prefix) of the instruct style."""
        raise NotImplementedError

    def evalplus_override_file(self) -> str:
        """The file evalplus reads through this benchmark's override variable (env_override)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ prompts
    def tabs_to_spaces(self, style: str, model_id: str | None, override: bool | None = None) -> bool:
        """completion-paper samples of a model evalplus 1895d2f ran through vLLM
        (CodeLlama-Python), unless `override` says (:func:`paper_era_tabs_to_spaces`)."""
        return style == "completion-paper" and paper_era_tabs_to_spaces(model_id, override)

    def build_prompt(self, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
        self.check_style(style)
        if style == "completion":
            return EvalPrompt(
                text=problem["prompt"].strip() + "\n",
                response_prefix="",
                stop=[*EVALPLUS_EOS, *self.extra_eos],
            )
        if style == "completion-paper":
            return EvalPrompt(text=problem["prompt"], response_prefix="", stop=list(PAPER_ERA_EOS))
        instruction, prefix = self.instruction(problem)
        return EvalPrompt(
            text=magicoder_prompt(instruction, prefix),
            response_prefix=prefix,
            stop=[CODE_FENCE],
        )

    def postprocess(self, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
        """{completion, solution, sanitized} of one generation, as evalplus scores it.

        The cut is applied here even though the backends already stop at the stop strings,
        so the result does not depend on which engine (or cached response) produced the text.
        `tabs_to_spaces` (completion-paper): evalplus 1895d2f's vLLM decoder's tab replacement
        (:func:`paper_era_tabs_to_spaces`).
        """
        self.check_style(style)
        text = generated_text or ""
        if style == "instruct":
            completion = cut(text, [CODE_FENCE])
            solution = problem["prompt"] + completion
        elif style == "completion-paper":
            completion = cut(text.replace("\t", "    ") if tabs_to_spaces else text, PAPER_ERA_EOS)
            solution = problem["prompt"] + completion
        else:
            prompt = self.build_prompt(problem, style)
            completion = cut(text, prompt.stop).replace("\t", "    ")
            solution = prompt.text + completion
        return {
            "completion": completion,
            "solution": solution,
            "sanitized": sanitize_solution(solution, problem.get("entry_point")),
        }

    # ------------------------------------------------------------------ data
    def prepare(self, *, path, version, limit, out_tasks, out_info, out_expected, settings) -> dict:
        """The EvalPlus release in force and evalplus's ground truth (data.py)."""
        return data.prepare_benchmark(
            self,
            path=path,
            version=version,
            limit=limit,
            out_tasks=out_tasks,
            out_info=out_info,
            out_expected=out_expected,
        )

    def load_tasks(self, tasks_path) -> list[dict]:
        return data.load_tasks(self, tasks_path)

    def deserialize(self, row: dict) -> dict:
        """A release row as evalplus's loaders return it."""
        return row

    def output_not_none(self, problem: dict) -> bool:
        """evalplus's ground truth flag: the canonical solution must not return None."""
        return False

    # ------------------------------------------------------------------ scoring
    def load_samples(self, samples_path, task_ids: list[str], settings: dict) -> list[dict]:
        """One sample per task (evalplus's samples form), scored on the solution
        evaluation.scoring.solution names."""
        field = settings["solution"]
        if field not in SOLUTION_KEY:
            raise ScoringError(
                f"config key evaluation.scoring.solution: {field!r} is not one of {', '.join(SOLUTION_KEY)}"
            )
        samples: dict[str, dict] = {}
        for sample in read_jsonl(samples_path, required=("task_id", SOLUTION_KEY[field]), what="sample"):
            if sample["task_id"] in samples:
                raise ScoringError(f"{samples_path}: task {sample['task_id']} has more than one sample")
            samples[sample["task_id"]] = sample
        check_coverage(samples_path, samples, task_ids)
        return [{"task_id": t, "sample": 0, "solution": samples[t][SOLUTION_KEY[field]]} for t in task_ids]

    def scoring_payload(self, problem: dict, solution: str, expected: dict, settings: dict) -> dict:
        return {
            "solution": solution,
            "problem": {k: problem[k] for k in SCORED_PROBLEM_FIELDS},
            "expected": expected[problem["task_id"]],
        }

    def scoring_context(self, settings: dict) -> dict:
        return {
            "dataset": self.name,
            "min_time_limit": settings["min_time_limit"],
            "gt_time_limit_factor": settings["gt_time_limit_factor"],
            "memory_bytes": settings["memory_mb"] * 2**20,
        }

    def scoring_limits(self, settings: dict):
        from ossinstruct.sandbox.pool import Limits

        return Limits(timeout_s=JOB_TIMEOUT_S, memory_mb=settings["memory_mb"], network=False)

    def check_samples(self, problems, samples, expected, *, workers, cache_dir=None, settings) -> list[dict]:
        """Per sample {"status", "base": {status, n_tests, n_run}, "plus": {...}}: evalplus's
        check of the base and the plus tests, status "pass" when both pass (else the first
        that failed). A sandbox job that fails (a timeout past evalplus's own limits, a
        crashed job) counts as a failure of its task, with status "sandbox:<what>"."""
        from ossinstruct.logs import Progress
        from ossinstruct.sandbox.pool import SandboxPool

        by_id = {p["task_id"]: p for p in problems}
        payloads = [self.scoring_payload(by_id[s["task_id"]], s["solution"], expected, settings) for s in samples]
        progress = Progress(log, f"{self.name}: checked", total=len(payloads))
        with SandboxPool(
            self.scoring_handler, self.scoring_context(settings), workers=workers, limits=self.scoring_limits(settings)
        ) as pool:
            jobs = pool.run(payloads, on_done=progress.step)
        progress.done()
        checks = []
        for sample, job in zip(samples, jobs, strict=True):
            if job.status == "ok":
                check = job.value
            else:
                log.warning("%s: sandbox job %s: %s", sample["task_id"], job.status, (job.error or "")[-300:])
                failed = {"status": SANDBOX_FAILURE + job.status, "n_tests": None, "n_run": None, "error": job.error}
                check = {"base": failed, "plus": dict(failed)}
            failing = [check[kind]["status"] for kind in ("base", "plus") if check[kind]["status"] != PASS]
            checks.append({"status": failing[0] if failing else PASS, **check})
        return checks

    def aggregate(self, problems, samples, checks, pass_at_k) -> dict:
        """pass@1 and the tasks passed on the base tests, and on the base and plus tests
        (one sample per task: the fraction of tasks passed); statuses as "base:<status>" and
        "plus:<status>" counts."""
        base = [c["base"]["status"] == PASS for c in checks]
        plus = [b and c["plus"]["status"] == PASS for b, c in zip(base, checks)]
        n = len(checks)
        statuses = Counter()
        for check in checks:
            statuses[f"base:{check['base']['status']}"] += 1
            statuses[f"plus:{check['plus']['status']}"] += 1
        return {
            "n_passed": {"base": sum(base), "plus": sum(plus)},
            "pass@1": {"base": sum(base) / n if n else 0.0, "plus": sum(plus) / n if n else 0.0},
            "statuses": dict(sorted(statuses.items())),
        }

    def task_records(self, problems, samples, checks) -> list[dict]:
        """One line per task: its base and plus statuses, tests run, and the code run."""
        records = []
        for sample, check in zip(samples, checks, strict=True):
            base, plus = check["base"], check["plus"]
            records.append(
                {
                    "task_id": sample["task_id"],
                    "base_status": base["status"],
                    "plus_status": plus["status"],
                    "base_tests": [base["n_run"], base["n_tests"]],
                    "plus_tests": [plus["n_run"], plus["n_tests"]],
                    "passed_base": base["status"] == PASS,
                    "passed_plus": base["status"] == PASS and plus["status"] == PASS,
                    "solution": sample["solution"],
                    **({"error": base["error"]} if base.get("error") else {}),
                }
            )
        return records

    def result_extras(self, info: dict, settings: dict, pass_at_1: dict) -> dict:
        """The release scored (file, sha256, version) and evalplus's settings in force."""
        return {
            "data": {k: info.get(k) for k in ("source", "path", "sha256", "version", "n_tasks_release")},
            "scoring": {
                "evalplus_version": data.evalplus_version(),
                "solution": settings["solution"],
                "min_time_limit": settings["min_time_limit"],
                "gt_time_limit_factor": settings["gt_time_limit_factor"],
                "memory_mb": settings["memory_mb"],
                "job_timeout_s": JOB_TIMEOUT_S,  # the limit in force (also in the rule's params)
                "fast_check": True,
            },
        }

    # ------------------------------------------------------------------ the self-check
    def reference_solution(self, problem: dict) -> str:
        """prompt + canonical_solution, as evalplus computes its ground truth."""
        return problem["prompt"] + problem["canonical_solution"]

    def reference_sample(self, task: dict) -> dict:
        solution = self.reference_solution(task)
        return {
            "task_id": task["task_id"],
            "benchmark": self.name,
            "style": "reference",
            "prompt": task["prompt"],
            "raw": task["canonical_solution"],
            "completion": task["canonical_solution"],
            "solution": solution,
            "sanitized": solution,  # scored as evalplus runs its ground truth: unsanitized
        }

    # ------------------------------------------------------------------ the summary
    def variant_label(self, variant: str) -> str:
        """ "HumanEval" for the base tests, "HumanEval+" for base and plus."""
        return {"base": self.display, "plus": f"{self.display}+"}.get(variant, f"{self.display} {variant}")

    def protocol_notes(self, model: str, data_version: str | None, prompt: str | None) -> list[str]:
        """A release other than the paper's (evalplus 1895d2f's), and evalplus 0.3.1's
        base-model prompt (completion) where the paper's base rows used the leaderboard's."""
        notes = []
        if data_version != self.paper_release:
            found = data_version or "an unrecorded version"
            notes.append(
                f"{model} on {self.display}: scored on {self.display}+ {found}; the paper used "
                f"{self.paper_release} (evalplus 1895d2f)."
            )
        if prompt == "completion":
            notes.append(
                f"{model} on {self.display}: evalplus 0.3.1's base-model prompt and stop "
                f"strings; the paper's base rows used the EvalPlus leaderboard's of the time "
                f"(prompt: completion-paper)."
            )
        return notes

    def grader_note(self, result) -> str | None:
        scoring = result.get("scoring") if isinstance(result.get("scoring"), dict) else {}
        version = scoring.get("evalplus_version")
        return f"evalplus {version}" if version else "evalplus (version not recorded)"
