"""The evaluation's entry point to each benchmark's prompts and post-processing.

The protocol lives with each benchmark (``Benchmark.build_prompt``, ``postprocess`` and
``style_for`` of its plug-in: ossinstruct/benchmarks/<name>/plugin.py; HumanEval+'s and
MBPP+'s shared one in ossinstruct/benchmarks/evalplus/plugin.py); generation
(ossinstruct/evaluate/generate.py) calls it through these two functions, by benchmark name.
"""

from __future__ import annotations

from ossinstruct.benchmarks import EVALUATED, EvalPrompt
from ossinstruct.benchmarks import evaluated as _evaluated

BENCHMARKS = EVALUATED

__all__ = ["BENCHMARKS", "EvalPrompt", "build_prompt", "postprocess"]


def _check(benchmark: str, style: str):
    plugin = _evaluated(benchmark)
    plugin.check_style(style)
    return plugin


def build_prompt(benchmark: str, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
    """The prompt text, response prefix and stop strings of one problem; `tokenizer` (the
    evaluated model's) is used by benchmarks that need it (fill-in-the-middle prompts)."""
    return _check(benchmark, style).build_prompt(problem, style, tokenizer=tokenizer)


def postprocess(benchmark: str, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
    """{completion, solution, ...} of one generation, as the benchmark scores it.
    `tabs_to_spaces`: the generation identity's flag (Benchmark.tabs_to_spaces: evalplus
    1895d2f's vLLM decoder, for HumanEval(+)/MBPP(+)'s completion-paper style only)."""
    return _check(benchmark, style).postprocess(problem, style, generated_text, tabs_to_spaces=tabs_to_spaces)
