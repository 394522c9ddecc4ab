"""Benchmarks as plug-ins: one module per benchmark, and the registry.

Each module (``humaneval.py``, ``mbpp.py``, ``apps.py``, ``ds1000.py``, ``gsm8k.py``)
defines one :class:`~ossinstruct.benchmarks.base.Benchmark` subclass, with the paper and
its citation in the module docstring. A benchmark owns its data source (hub id and
revision, the environment variable that switches it to a local file, the file looked for
in ``benchmark_files``), its decontamination strings, and, where it is evaluated, its
prompt styles, post-processing, sandbox scoring handler, variants and paper tables.

Everything else derives from :data:`REGISTRY`: the config schema's benchmark names
(``ossinstruct.config.schema``), the Snakemake wildcard constraint (rules/common.smk), the
CLI's choices, the summary's display names and the offline file names of the workflow.

To add a benchmark: write its module (a subclass and ``BENCHMARK = ...``), add one line
below, a fixture in its real schema under tests/fixtures/benchmarks/ (the contract test,
tests/test_benchmarks.py, runs over the registry), and its rows in
ossinstruct/evaluate/paper_results.yaml. An evaluated benchmark implements, besides its
prompts and post-processing, :meth:`Benchmark.prepare` (rule eval_data) and
:meth:`Benchmark.scoring_payload` with its ``scoring_handler`` (rule eval_score).
"""

from __future__ import annotations

from ossinstruct.benchmarks import apps, ds1000, gsm8k, humaneval, mbpp, multipl_e
from ossinstruct.benchmarks.base import Benchmark, EvalPrompt, triple_quoted_blocks
from ossinstruct.benchmarks.ds1000 import ds1000_problem
from ossinstruct.benchmarks.humaneval import humaneval_docstring
from ossinstruct.benchmarks.mbpp import mbpp_plus_text
from ossinstruct.benchmarks.sources import (
    AUTHORS_EXEMPT,
    DEFAULT_MIN_LENGTH,
    SPEC_KEYS,
    BenchmarkUnavailable,
    benchmark_strings,
    describe_source,
    load_benchmark_strings,
    load_rows,
    normalize_newlines,
    read_jsonl_any,
    resolve_source,
    validate_source,
)

# name -> benchmark, in the order the config's defaults and the summary list them.
REGISTRY: dict[str, Benchmark] = {
    "humaneval": humaneval.BENCHMARK,
    "mbpp": mbpp.BENCHMARK,
    "apps": apps.BENCHMARK,
    "ds1000": ds1000.BENCHMARK,
    "gsm8k": gsm8k.BENCHMARK,
    "multipl-e": multipl_e.BENCHMARK,
    "multipl-e-greedy": multipl_e.GREEDY_BENCHMARK,
    "ds1000-insertion": ds1000.INSERTION,
}

BENCHMARKS = tuple(REGISTRY)
EVALUATED = tuple(name for name, b in REGISTRY.items() if b.evaluated)
# The evaluated benchmarks evalplus scores (base and plus tests; ossinstruct.evaluate.score);
# the others are scored per sample (ossinstruct.evaluate.sampled_score).
EVALPLUS = tuple(name for name in EVALUATED if not REGISTRY[name].per_sample_scoring)
DEFAULT_SOURCES = {name: b.default_source for name, b in REGISTRY.items()}
ENV_OVERRIDES = {name: b.env_override for name, b in REGISTRY.items() if b.env_override}


def get(name: str) -> Benchmark:
    """The benchmark called `name`; ValueError naming the known ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def evaluated(name: str) -> Benchmark:
    """The evaluated benchmark called `name`; ValueError otherwise."""
    if name not in EVALUATED:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(EVALUATED)}")
    return REGISTRY[name]


for _name, _benchmark in REGISTRY.items():
    assert _benchmark.name == _name, f"REGISTRY key {_name} is benchmark {_benchmark.name}"

__all__ = [
    "AUTHORS_EXEMPT",
    "BENCHMARKS",
    "DEFAULT_MIN_LENGTH",
    "DEFAULT_SOURCES",
    "ENV_OVERRIDES",
    "EVALPLUS",
    "EVALUATED",
    "REGISTRY",
    "SPEC_KEYS",
    "Benchmark",
    "BenchmarkUnavailable",
    "EvalPrompt",
    "benchmark_strings",
    "describe_source",
    "ds1000_problem",
    "evaluated",
    "get",
    "humaneval_docstring",
    "load_benchmark_strings",
    "load_rows",
    "mbpp_plus_text",
    "normalize_newlines",
    "read_jsonl_any",
    "resolve_source",
    "triple_quoted_blocks",
    "validate_source",
]
