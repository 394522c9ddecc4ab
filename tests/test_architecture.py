"""The package's import graph: no cycle anywhere, and the benchmark plug-ins below the
evaluation (no module under ossinstruct/benchmarks/ imports ossinstruct.evaluate).

The graph is read statically, with ast, from every module of the package: every import
statement counts, those inside functions (lazy imports) too. An edge goes to the module an
import names: ``import a.b`` and ``from a import b`` (b a module) to a.b, ``from a.b import
name`` to a.b. Importing a submodule also runs its parent packages' ``__init__``; that is
not an edge (a registry package that imports its plug-ins would otherwise always close a
cycle with them), so a package's ``__init__`` is reached only when the package itself is
imported from.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, write_tree

PACKAGE = "ossinstruct"


def modules(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """{dotted name: file} of every module of `package` under `root`."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """{module: the modules of the package it imports}, lazy imports included."""
    known = modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    target = next(
                        (".".join(parts[:k]) for k in range(len(parts), 0, -1) if ".".join(parts[:k]) in known), None
                    )
                    if target:
                        graph[name].add(target)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
                for alias in node.names:
                    if f"{base}.{alias.name}" in known:
                        graph[name].add(f"{base}.{alias.name}")
                    elif base in known:
                        graph[name].add(base)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing
    itself): each one a cycle of imports (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return found


def layer_violations(graph: dict[str, set[str]], lower: str, upper: str) -> list[tuple[str, str]]:
    """(importer, imported) where a module of package `lower` imports one of `upper`."""
    return sorted(
        (name, target)
        for name, targets in graph.items()
        for target in targets
        if (name == lower or name.startswith(lower + ".")) and (target == upper or target.startswith(upper + "."))
    )


def test_the_package_has_no_import_cycle():
    graph = import_graph(REPO)
    assert len(graph) > 90 and "ossinstruct.benchmarks.base" in graph["ossinstruct.benchmarks.humaneval.plugin"]
    found = cycles(graph)
    assert not found, "import cycles (each a set of modules importing one another): " + "; ".join(
        " -> ".join(c) for c in found
    )


def test_no_benchmark_module_imports_the_evaluation():
    graph = import_graph(REPO)
    assert "ossinstruct.benchmarks.base" in graph["ossinstruct.evaluate.score"]  # the other way is the design
    assert layer_violations(graph, "ossinstruct.benchmarks", "ossinstruct.evaluate") == []


def test_the_walker_sees_lazy_imports_relative_imports_and_the_layering(tmp_path):
    """The checks above on a toy package: a cycle closed by an import inside a function, a
    relative import, and a plug-in importing the evaluation, are all found."""
    write_tree(
        tmp_path,
        {
            "toy/__init__.py": "",
            "toy/benchmarks/__init__.py": "from toy.benchmarks import one\n",
            "toy/benchmarks/one.py": "def f():\n    from ..evaluate import score\n",
            "toy/evaluate/__init__.py": "",
            "toy/evaluate/score.py": "import toy.benchmarks.one\nfrom toy import config\n",
            "toy/config.py": "def schema():\n    from toy.evaluate.score import x\n",
        },
    )
    graph = import_graph(tmp_path, "toy")
    assert graph["toy.benchmarks.one"] == {"toy.evaluate.score"}
    assert graph["toy.benchmarks"] == {"toy.benchmarks.one"}
    assert cycles(graph) == [["toy.benchmarks.one", "toy.config", "toy.evaluate.score"]]
    assert layer_violations(graph, "toy.benchmarks", "toy.evaluate") == [("toy.benchmarks.one", "toy.evaluate.score")]


def test_modules_run_in_a_foreign_interpreter_need_only_the_standard_library():
    """DS-1000's sandbox handler and data fetcher run under DS-1000's pinned interpreter
    (.venv-ds1000, envs/ds1000.yaml), which holds none of the pipeline's dependencies, and
    `make toolchains` reads the toolchains' versions with the system Python before anything
    is installed: importing them (the registry of plug-ins with DS-1000's) needs the
    standard library only."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for module in (
        "ossinstruct.benchmarks.ds1000.execute",
        "ossinstruct.benchmarks.ds1000.downloads",
        "ossinstruct.sandbox.toolchains",
    ):
        done = subprocess.run(
            [sys.executable, "-S", "-c", f"import {module}"], cwd="/", env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{module} imports a third-party module:\n{done.stderr[-2000:]}"
