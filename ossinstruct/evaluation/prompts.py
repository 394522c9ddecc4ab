"""Evaluation prompts for HumanEval(+) and MBPP(+), and turning a generation into a solution.

Two prompt styles, each the protocol of the numbers it is compared with:

``instruct`` — instruction-tuned models, as Magicoder evaluated its own models
(ise-uiuc/magicoder, experiments/text2code.py). The prompt is the Magicoder template
(`ossinstruct.trainset.MAGICODER_PROMPT`, the one the model was fine-tuned on) followed by
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
the solution is the prompt + the completion as generated.

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
import sys
from dataclasses import dataclass, field

from ..trainset import MAGICODER_PROMPT

BENCHMARKS = ("humaneval", "mbpp")
PROMPT_STYLES = ("instruct", "completion", "completion-paper")

# evalplus at 1895d2f (the paper's EvalPlus), codegen/model.py: EOS, the only stop strings.
PAPER_ERA_EOS = ["<|endoftext|>", "<|endofmask|>", "</s>"]

CODE_FENCE = "```"

# evalplus 0.3.1, evalplus/provider/utility.py: EOS and extra_eos_for_direct_completion.
EVALPLUS_EOS = ["<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(",
                "\nprint("]
EVALPLUS_EXTRA_EOS = {
    "humaneval": ["\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "],
    "mbpp": ['\n"""', "\nassert"],
}

HUMANEVAL_INSTRUCTION = "Write a solution to the following problem:\n```python\n{prompt}\n```"
MBPP_INSTRUCTION = (
    "{description} Your code should satisfy the following assertion:\n```python\n{assertion}\n```"
)


@dataclass(frozen=True)
class EvalPrompt:
    text: str  # exactly what the model is given
    response_prefix: str  # the part of `text` the model's answer continues ("" for completion)
    stop: list[str] = field(default_factory=list)


def _check(benchmark: str, style: str) -> None:
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; known: {', '.join(BENCHMARKS)}")
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; known: {', '.join(PROMPT_STYLES)}")


def mbpp_instruction_parts(problem: dict) -> tuple[str, str]:
    """(description ending in ".", assertion) of an MBPP+ prompt: the text between its
    first and last triple quotes, split at its first "assert"."""
    prompt = problem["prompt"]
    first, last = prompt.find('"""'), prompt.rfind('"""')
    if first < 0 or first == last:
        raise ValueError(f"MBPP task {problem.get('task_id')!r}: prompt is not a '\"\"\"'-quoted "
                         f"description and assertion: {prompt[:80]!r}")
    body = prompt[first + 3:last]
    at = body.find("assert")
    if at < 0:
        raise ValueError(f"MBPP task {problem.get('task_id')!r}: prompt has no assertion after "
                         f"its description: {prompt[:80]!r}")
    description = body[:at].strip()
    if not description.endswith("."):
        description += "."
    return description, body[at:].strip()


def _magicoder_prompt(instruction: str, response_prefix: str) -> str:
    # trainset.MAGICODER_PROMPT ends with "@@ Response\n": the training text up to the
    # response. str.replace, not format: instructions contain braces.
    return MAGICODER_PROMPT.replace("{instruction}", instruction) + response_prefix


def build_prompt(benchmark: str, problem: dict, style: str) -> EvalPrompt:
    """The prompt text, response prefix and stop strings of one problem."""
    _check(benchmark, style)
    if style == "completion":
        return EvalPrompt(text=problem["prompt"].strip() + "\n", response_prefix="",
                          stop=[*EVALPLUS_EOS, *EVALPLUS_EXTRA_EOS[benchmark]])
    if style == "completion-paper":
        return EvalPrompt(text=problem["prompt"], response_prefix="", stop=list(PAPER_ERA_EOS))
    if benchmark == "humaneval":
        stripped = problem["prompt"].strip()
        instruction = HUMANEVAL_INSTRUCTION.format(prompt=stripped)
        prefix = "```python\n" + stripped
    else:
        description, assertion = mbpp_instruction_parts(problem)
        instruction = MBPP_INSTRUCTION.format(description=description, assertion=assertion)
        prefix = "```python"
    return EvalPrompt(text=_magicoder_prompt(instruction, prefix), response_prefix=prefix,
                      stop=[CODE_FENCE])


def _cut(text: str, stops: list[str]) -> str:
    positions = [p for p in (text.find(s) for s in stops) if p >= 0]
    return text[:min(positions)] if positions else text


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


def postprocess(benchmark: str, problem: dict, style: str, generated_text: str) -> dict:
    """{completion, solution, sanitized} of one generation, as evalplus scores it.

    The cut is applied here even though the backends already stop at the stop strings,
    so the result does not depend on which engine (or cached response) produced the text.
    """
    _check(benchmark, style)
    text = generated_text or ""
    if style == "instruct":
        completion = _cut(text, [CODE_FENCE])
        solution = problem["prompt"] + completion
    elif style == "completion-paper":
        completion = _cut(text, PAPER_ERA_EOS)
        solution = problem["prompt"] + completion
    else:
        prompt = build_prompt(benchmark, problem, style)
        completion = _cut(text, prompt.stop).replace("\t", "    ")
        solution = prompt.text + completion
    return {"completion": completion, "solution": solution,
            "sanitized": sanitize_solution(solution, problem.get("entry_point"))}
