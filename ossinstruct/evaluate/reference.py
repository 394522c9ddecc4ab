"""The harness self-check: a benchmark's own reference solutions scored as a model's samples.

Every number in the summary is only as good as the scorer. The pseudo-model
``reference-solutions`` has, for each task in force, the benchmark's reference solution
(``Benchmark.reference_sample``: HumanEval+/MBPP+'s prompt + canonical_solution, as evalplus
computes its ground truth) as its sample; it goes through the same scoring step as every
model (the scorer, the sandbox, the benchmark's check), so its row shows the harness at work
even where a demo model scores 0. What it should give depends on the release scored: each
plug-in's ``self_check_figures`` holds the figures measured here, per release;
:func:`self_check_expectations` says, for the results of a run, what holds for the releases
in force (or that none was measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ossinstruct.benchmarks import REGISTRY, evaluated
from ossinstruct.files import write_jsonl_atomic


def self_check_expectations(results: Sequence[Mapping]) -> list[str]:
    """One line per self-check result (model reference-solutions) of a run: the figure
    measured here for its benchmark's release in force, or that none was measured for it."""
    from ossinstruct.config import REFERENCE_MODEL

    lines = []
    for result in results:
        if result.get("model") != REFERENCE_MODEL:
            continue
        benchmark = result.get("benchmark")
        data = result.get("data") if isinstance(result.get("data"), Mapping) else {}
        release = data.get("version")
        plugin = REGISTRY.get(benchmark)
        name = plugin.display if plugin else benchmark
        figures = plugin.self_check_figures if plugin else {}
        figure = figures.get(release) if release else None
        if figure:
            lines.append(f"{name} {release}: {figure}.")
        else:
            known = sorted(figures)
            also = f" (measured: {', '.join(known)})" if known else ""
            lines.append(f"{name} {release or '(release not recorded)'}: no self-check figure measured here{also}.")
    return list(dict.fromkeys(lines))


def reference_samples(benchmark: str, tasks_path, out_path) -> int:
    """Write one sample per task in force, in the form the benchmark's samples have (rule
    eval_reference); returns how many."""
    plugin = evaluated(benchmark)
    return write_jsonl_atomic(out_path, [plugin.reference_sample(task) for task in plugin.load_tasks(tasks_path)])
