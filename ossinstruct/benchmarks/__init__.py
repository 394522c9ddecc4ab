"""Benchmarks as plug-ins: one folder per benchmark, and the registry.

Each benchmark is a folder ``ossinstruct/benchmarks/<name>/`` holding its plug-in and
everything only it uses; ``REGISTRY`` below holds one line per registered benchmark. The
base class (``base.py``) declares every attribute and method the rest of the package reads
from a plug-in, with its meaning and default; ``sources.py`` is the one loader of benchmark
rows (decontamination and evaluation alike); ``evalplus/`` is what HumanEval+ and MBPP+
share. Nothing under ``ossinstruct/benchmarks/`` imports ``ossinstruct.evaluate``: the
evaluation calls the plug-ins (tests/test_architecture.py). Code several stages use stays
outside the folders: compiling and running programs in six languages
(``ossinstruct/sandbox/toolchains.py``: MultiPL-E's scoring and the verify step of the
curated data) and the execution cache (``ossinstruct/sandbox/cache.py``).

Adding a benchmark (one folder and one registry line; what a plug-in declares, and the
contract test that proves it): docs/adding-a-benchmark.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ossinstruct.benchmarks import sources
from ossinstruct.benchmarks.apps import plugin as apps
from ossinstruct.benchmarks.base import Benchmark, EvalPrompt, triple_quoted_blocks
from ossinstruct.benchmarks.ds1000 import plugin as ds1000
from ossinstruct.benchmarks.ds1000.plugin import ds1000_problem
from ossinstruct.benchmarks.gsm8k import plugin as gsm8k
from ossinstruct.benchmarks.humaneval import plugin as humaneval
from ossinstruct.benchmarks.humaneval.plugin import humaneval_docstring
from ossinstruct.benchmarks.mbpp import plugin as mbpp
from ossinstruct.benchmarks.mbpp.plugin import mbpp_plus_text
from ossinstruct.benchmarks.multipl_e import plugin as multipl_e
from ossinstruct.benchmarks.sources import (
    AUTHORS_EXEMPT,
    DEFAULT_MIN_LENGTH,
    SPEC_KEYS,
    BenchmarkUnavailable,
    describe_source,
    normalize_newlines,
    read_jsonl_any,
)
from ossinstruct.errors import ConfigError

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


# --------------------------------------------------------------------------- sources, by name
# ossinstruct/benchmarks/sources.py, for a benchmark named in the config (ConfigError naming
# the key for an unknown one).


def _configured(name: str) -> Benchmark:
    if name not in REGISTRY:
        raise ConfigError(
            f"config key decontamination.sources.{name}: unknown benchmark {name!r}; known: {', '.join(REGISTRY)}"
        )
    return REGISTRY[name]


def validate_source(name: str, spec: Mapping) -> dict:
    """sources.validate_source of benchmark `name`."""
    return sources.validate_source(_configured(name), spec)


def resolve_source(name: str, configured: Mapping | None = None, environ: Mapping | None = None) -> dict:
    """sources.resolve_source of benchmark `name`: the source spec in force."""
    return sources.resolve_source(_configured(name), configured, environ)


def load_rows(name: str, spec: Mapping) -> list[dict]:
    """sources.load_rows of benchmark `name`: the rows of exactly the source `spec` names."""
    return sources.load_rows(_configured(name), spec)


def benchmark_strings(
    name: str, rows: list[dict], min_length: int = DEFAULT_MIN_LENGTH, exempt: Sequence[str] = ()
) -> list[dict]:
    """sources.benchmark_strings of benchmark `name`: the texts a training sample must not contain."""
    return sources.benchmark_strings(_configured(name), rows, min_length, exempt)


def load_benchmark_strings(
    name: str, configured: Mapping | None = None, min_length: int = DEFAULT_MIN_LENGTH
) -> tuple[dict, list[dict]]:
    """sources.load_benchmark_strings of benchmark `name`: (the spec used, the strings)."""
    return sources.load_benchmark_strings(_configured(name), configured, min_length)


for _name, _benchmark in REGISTRY.items():
    assert _benchmark.name == _name, f"REGISTRY key {_name} is benchmark {_benchmark.name}"

__all__ = [
    "AUTHORS_EXEMPT",
    "BENCHMARKS",
    "DEFAULT_MIN_LENGTH",
    "DEFAULT_SOURCES",
    "ENV_OVERRIDES",
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
