"""Evaluation prompts for HumanEval(+) and MBPP(+), and turning a generation into a solution.

Two prompt styles, each the protocol of the numbers it is compared with:

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

# The protocol lives with each benchmark (ossinstruct/benchmarks/evalplus_tasks.py and the
# benchmark's module); this module is the evaluation's entry point to it.
from ossinstruct.benchmarks import EVALPLUS, EVALUATED, EvalPrompt
from ossinstruct.benchmarks import evaluated as _evaluated
from ossinstruct.benchmarks.evalplus_tasks import (
    CODE_FENCE,
    EVALPLUS_EOS,
    PAPER_ERA_EOS,
    PROMPT_STYLES,
    sanitize_solution,
)
from ossinstruct.benchmarks.humaneval import INSTRUCTION as HUMANEVAL_INSTRUCTION
from ossinstruct.benchmarks.mbpp import INSTRUCTION as MBPP_INSTRUCTION
from ossinstruct.benchmarks.mbpp import mbpp_instruction_parts

BENCHMARKS = EVALUATED
EVALPLUS_EXTRA_EOS = {name: list(_evaluated(name).extra_eos) for name in EVALPLUS}

__all__ = [
    "BENCHMARKS",
    "CODE_FENCE",
    "EVALPLUS_EOS",
    "EVALPLUS_EXTRA_EOS",
    "HUMANEVAL_INSTRUCTION",
    "MBPP_INSTRUCTION",
    "PAPER_ERA_EOS",
    "PROMPT_STYLES",
    "EvalPrompt",
    "build_prompt",
    "mbpp_instruction_parts",
    "postprocess",
    "sanitize_solution",
]


def _check(benchmark: str, style: str):
    plugin = _evaluated(benchmark)
    known = plugin.prompt_styles
    if style not in known:
        raise ValueError(f"unknown prompt style {style!r} for {benchmark}; known: {', '.join(known)}")
    return plugin


def build_prompt(benchmark: str, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
    """The prompt text, response prefix and stop strings of one problem; `tokenizer` (the
    evaluated model's) reaches only benchmarks that need it (fill-in-the-middle prompts)."""
    plugin = _check(benchmark, style)
    if plugin.needs_tokenizer:
        return plugin.build_prompt(problem, style, tokenizer=tokenizer)
    return plugin.build_prompt(problem, style)


def postprocess(benchmark: str, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
    """{completion, solution, sanitized} of one generation, as evalplus scores it.
    `tabs_to_spaces` reaches HumanEval(+)/MBPP(+)'s completion-paper style only (evalplus
    1895d2f's vLLM decoder, :func:`ossinstruct.benchmarks.evalplus_tasks.paper_era_tabs_to_spaces`)."""
    plugin = _check(benchmark, style)
    if tabs_to_spaces and benchmark in EVALPLUS:
        return plugin.postprocess(problem, style, generated_text, tabs_to_spaces=True)
    return plugin.postprocess(problem, style, generated_text)
