"""GSM8K (decontamination strings only: StarCoder's decontamination list has it; Magicoder
does not evaluate on it).

Cobbe et al., "Training Verifiers to Solve Math Word Problems", arXiv 2110.14168 (2021).

    @article{cobbe2021gsm8k, title={Training Verifiers to Solve Math Word Problems},
      author={Cobbe, Karl and others}, journal={arXiv preprint arXiv:2110.14168}, year={2021}}

Data: openai/gsm8k, config "main", split test (unpinned: see docs/curation.md, "Benchmark
strings"). Rows: question, answer.
"""

from __future__ import annotations

from typing import ClassVar

from ossinstruct.benchmarks.base import Benchmark, require_fields


class Gsm8k(Benchmark):
    name = "gsm8k"
    display = "GSM8K"
    paper = "Cobbe et al. 2021, arXiv 2110.14168"
    default_source: ClassVar[dict] = {
        "source": "huggingface",
        "dataset": "openai/gsm8k",
        "config_name": "main",
        "revision": "main",  # unpinned: see docs/curation.md, "Benchmark strings"
        "split": "test",
    }

    def raw_strings(self, rows):
        require_fields(self.name, rows, ("question",))
        for i, row in enumerate(rows):
            yield str(i), "question", row["question"]


BENCHMARK = Gsm8k()
