"""Evaluation: HumanEval(+) and MBPP(+) samples, sandboxed scoring with evalplus, and the summary against the paper."""
