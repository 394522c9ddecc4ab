"""What HumanEval(+) and MBPP(+) share: EvalPlus's task schema, prompt styles, post-processing
and scoring (the protocol is described in ``ossinstruct/evaluate/prompts.py``).

Three prompt styles, each the protocol of the numbers it is compared with: ``instruct``
(Magicoder's own evaluation, experiments/text2code.py: the benchmark module's instruction
in the Magicoder template, the answer cut at the first code fence), ``completion-paper``
(base models as the EvalPlus leaderboard measured them in late 2023, evalplus 1895d2f) and
``completion`` (evalplus 0.3.1 direct completion). The solution evalplus scores is
prompt + completion, and its sanitizer keeps what the entry point needs.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import ClassVar

from ossinstruct.benchmarks.base import Benchmark, EvalPrompt
from ossinstruct.curate.trainset import MAGICODER_PROMPT

PROMPT_STYLES = ("instruct", "completion", "completion-paper")

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

# The fields of an EvalPlus release row that evaluation reads.
REQUIRED_FIELDS = (
    "task_id",
    "prompt",
    "entry_point",
    "canonical_solution",
    "base_input",
    "plus_input",
    "atol",
)


def magicoder_prompt(instruction: str, response_prefix: str) -> str:
    # trainset.MAGICODER_PROMPT ends with "@@ Response\n": the training text up to the
    # response. str.replace, not format: instructions contain braces.
    return MAGICODER_PROMPT.replace("{instruction}", instruction) + response_prefix


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
    scoring_handler = "ossinstruct.evaluate.evalplus_check:check"
    has_reference_solutions = True

    # Every task id of a release starts so: a file of the other benchmark is told at once.
    task_id_prefix: ClassVar[str]
    # evalplus's dataset name of the release, the release the paper scored (evalplus
    # 1895d2f), and release files by sha256, so that a local copy without a stated
    # version is still named.
    release_name: ClassVar[str]
    paper_release: ClassVar[str]
    known_releases: ClassVar[dict[str, str]] = {}
    # evalplus 0.3.1's extra_eos_for_direct_completion of this benchmark.
    extra_eos: ClassVar[tuple[str, ...]] = ()

    def instruction(self, problem: dict) -> tuple[str, str]:
        """(instruction, response prefix) of the instruct style."""
        raise NotImplementedError

    def build_prompt(self, problem: dict, style: str) -> EvalPrompt:
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

    def prepare(self, **paths_and_limits) -> dict:
        """The EvalPlus release in force and evalplus's ground truth (evaluate/data.py)."""
        from ossinstruct.evaluate.data import prepare_benchmark

        return prepare_benchmark(self.name, **paths_and_limits)

    def scoring_payload(self, problem: dict, solution: str, expected: dict) -> dict:
        return {
            "solution": solution,
            "problem": {k: problem[k] for k in SCORED_PROBLEM_FIELDS},
            "expected": expected[problem["task_id"]],
        }

    def deserialize(self, row: dict) -> dict:
        """A release row as evalplus's loaders return it."""
        return row

    def output_not_none(self, problem: dict) -> bool:
        """evalplus's ground truth flag: the canonical solution must not return None."""
        return False

    def reference_solution(self, problem: dict) -> str:
        """prompt + canonical_solution, as evalplus computes its ground truth."""
        return problem["prompt"] + problem["canonical_solution"]
