"""DS-1000 (decontamination strings; its evaluation, paper Tables 3 and 9, is a later issue).

Lai et al., "DS-1000: A Natural and Reliable Benchmark for Data Science Code Generation",
ICML 2023, arXiv 2211.11501.

    @inproceedings{lai2023ds1000, title={DS-1000: A Natural and Reliable Benchmark for Data
      Science Code Generation}, author={Lai, Yuhang and Li, Chengxi and Wang, Yiming and
      Zhang, Tianyi and Zhong, Ruiqi and Zettlemoyer, Luke and Yih, Wen-tau and Fried,
      Daniel and Wang, Sida and Yu, Tao}, booktitle={ICML}, year={2023}}

Data: xlangai/DS-1000 at a pinned commit. Rows: prompt, reference_code, code_context,
metadata.
"""

from __future__ import annotations

from typing import ClassVar

from ossinstruct.benchmarks.base import Benchmark, require_fields, row_task_id

_SOLUTION_MARKERS = ("BEGIN SOLUTION", "SOLUTION START")


def ds1000_problem(prompt: str) -> str:
    """A DS-1000 prompt up to the line of its solution marker ("BEGIN SOLUTION", or
    "# SOLUTION START" in the Matplotlib problems), as StarCoder's decontamination cut it:
    what follows is the empty code cell the model fills in, which no sample reproduces."""
    for marker in _SOLUTION_MARKERS:
        cut = prompt.find(marker)
        if cut >= 0:
            return prompt[: prompt.rfind("\n", 0, cut) + 1]
    return prompt


class Ds1000(Benchmark):
    name = "ds1000"
    display = "DS-1000"
    paper = "Lai et al. 2023, arXiv 2211.11501"
    default_source: ClassVar[dict] = {
        "source": "huggingface",
        "dataset": "xlangai/DS-1000",
        "revision": "4416080ac5cb80bdf7576aefb8f9a0b4d5426a44",
        "split": "test",
    }

    def raw_strings(self, rows):
        require_fields(self.name, rows, ("prompt",))
        for i, row in enumerate(rows):
            yield (
                row_task_id(row, i, "metadata.problem_id", "problem_id"),
                "prompt",
                ds1000_problem(row["prompt"]),
            )


BENCHMARK = Ds1000()
