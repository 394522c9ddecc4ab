"""APPS (decontamination strings; its evaluation, paper Table 8, is a later issue).

Hendrycks et al., "Measuring Coding Challenge Competence With APPS", NeurIPS 2021
Datasets and Benchmarks, arXiv 2105.09938.

    @article{hendrycksapps2021, title={Measuring Coding Challenge Competence With APPS},
      author={Hendrycks, Dan and Basart, Steven and Kadavath, Saurav and Mazeika, Mantas and
      Arora, Akul and Guo, Ethan and Burns, Collin and Puranik, Samir and He, Horace and
      Song, Dawn and Steinhardt, Jacob}, journal={NeurIPS}, year={2021}}

Data: codeparrot/apps's test.jsonl, read directly (the repository still carries a loading
script, apps.py, which datasets >= 4 refuses to run). Unpinned: see the README's
"Benchmark strings". Rows: question, solutions, input_output, difficulty, starter_code.
"""

from __future__ import annotations

from typing import ClassVar

from ossinstruct.benchmarks.base import Benchmark, require_fields, row_task_id


class Apps(Benchmark):
    name = "apps"
    display = "APPS"
    paper = "Hendrycks et al. 2021, arXiv 2105.09938"
    default_source: ClassVar[dict] = {
        "source": "huggingface",
        "dataset": "codeparrot/apps",
        "revision": "main",  # unpinned: see the README's "Benchmark strings"
        "split": "test",
        "data_files": "test.jsonl",
    }

    def raw_strings(self, rows):
        require_fields(self.name, rows, ("question",))
        for i, row in enumerate(rows):
            yield row_task_id(row, i, "problem_id", "id"), "question", row["question"]


BENCHMARK = Apps()
