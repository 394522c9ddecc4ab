"""The code identity of each rule: the part of its params that stands for the code behind its
outputs, so that a change to that code reruns them and nothing else does (docs/reruns.md).

A rule's identity (its `code` param, :func:`code_identity`) holds:

- its step's behaviour version (:data:`STEPS`) and, for a rule per benchmark, that
  benchmark's own version of the part the rule runs (``Benchmark.strings_version``,
  ``data_version``, ``generation_version``, ``scoring_version``);
- the result-shaping constants in force, as their values (a scorer's time limits, a
  prompt template, a grader version): changing one reruns its stage, no bump needed;
- never a path, a host, a user, or a digest of the source: another checkout, a moved
  results directory, a reformatted module or a function moved to another module reruns
  nothing.

What keeps the versions honest is the lock, ``identity.lock.json`` beside this module: each
step's and benchmark part's versions and the digest of the code it runs, that is of every
definition (function, class, module-level name) its script reaches through imports (lazy
ones too) and strings naming a module or function (sandbox handlers), each one's
normalised source: its syntax tree without docstrings, comments or formatting, wherever it
lives. tests/test_identity.py fails when the code no longer matches the lock, naming the
definitions that changed. Then bump the version of each step (or benchmark part) whose
outputs the change can alter, and refresh the lock either way:

    python -m ossinstruct identity --update-lock

A new rule opts in with one line in its params, ``code=code_identity_of("my_rule")``
(rules/common.smk; ``code_identity_of("my_rule", benchmarks=<function of wildcards>)`` for
a job over several benchmarks), and one entry in :data:`STEPS`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = Path(__file__).with_name("identity.lock.json")
BENCHMARK_PARTS = ("strings", "data", "generation", "scoring")
UPDATE_COMMAND = "python -m ossinstruct identity --update-lock"


@dataclass(frozen=True)
class Step:
    """One rule's code. `version`: bump it when a change can alter the rule's outputs.
    `script`: the rule's entry file (repository-relative); the modules it imports make the
    step's code in the lock. `constants`: the result-shaping constants in force, by name.
    `benchmark_part`: for a rule per benchmark, which of the benchmark's versions joins.
    `entries`: code the script runs without naming it in an import or a string."""

    version: int
    script: str
    constants: Callable[[], dict] | None = None
    benchmark_part: str | None = None
    entries: tuple[str, ...] = ()  # more entry points ("module:function") the script reaches by name


# --------------------------------------------------------------------------- constants
# Each reads the constant where it is defined, when called: the value in force.


def _training_set_constants() -> dict:
    from ossinstruct.curate import trainset

    return {"prompt_template": trainset.MAGICODER_PROMPT, "oss_instruct_prefix": trainset.OSS_INSTRUCT_PREFIX}


def _evalplus_scoring_constants() -> dict:
    from ossinstruct.benchmarks.evalplus import plugin

    return {"job_timeout_s": plugin.JOB_TIMEOUT_S}


def _summary_constants() -> dict:
    from ossinstruct.evaluate.paper import PAPER_RESULTS_FILE

    path = REPO / "ossinstruct" / "evaluate" / PAPER_RESULTS_FILE
    return {"paper_results_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


# --------------------------------------------------------------------------- the table
# rule name -> its step. The train rule's TrainConfig defaults are in its `config` param
# (the whole TrainConfig in force), the teacher's prompt template in generate's `teacher`.
STEPS: dict[str, Step] = {
    "prefetch": Step(1, "scripts/prefetch.py"),
    "seed_pool": Step(1, "scripts/seed_pool.py"),
    "seeds": Step(1, "scripts/seeds.py"),
    "generate": Step(1, "scripts/generate.py"),
    "benchmark_strings": Step(1, "scripts/benchmark_strings.py", benchmark_part="strings"),
    "clean_generations": Step(1, "scripts/clean_generations.py"),
    "ingest_evol": Step(1, "scripts/ingest_evol.py"),
    "mine_comment_pairs": Step(1, "scripts/mine_comment_pairs.py"),
    "comment_pairs": Step(1, "scripts/comment_pairs.py"),
    "decontamination_match": Step(1, "scripts/decontamination_match.py"),
    "decontamination_merge": Step(1, "scripts/decontamination_merge.py"),
    "subset": Step(1, "scripts/subset.py"),
    "verify_samples": Step(1, "scripts/verify_samples.py"),
    "training_set": Step(1, "scripts/training_set.py", constants=_training_set_constants),
    "dataset_card": Step(1, "scripts/dataset_card.py"),
    "humaneval_similarity": Step(1, "scripts/humaneval_similarity.py"),
    "push_dataset": Step(1, "scripts/push_dataset.py"),
    # `python -m ossinstruct train` runs ossinstruct.train.recipe (ossinstruct/__main__.py's DELEGATED).
    "train": Step(1, "scripts/train.py", entries=("ossinstruct.train.recipe:main",)),
    "eval_data": Step(1, "scripts/eval_data.py", benchmark_part="data"),
    # One generation job per model (every benchmark's requests, one engine), then one job per
    # benchmark writing its samples from the responses cached.
    "eval_generate_model": Step(1, "scripts/eval_generate_model.py", benchmark_part="generation"),
    "eval_generate": Step(1, "scripts/eval_generate.py", benchmark_part="generation"),
    "eval_reference": Step(1, "scripts/eval_reference.py", benchmark_part="data"),
    "eval_score": Step(1, "scripts/eval_score.py", constants=_evalplus_scoring_constants, benchmark_part="scoring"),
    "eval_score_multiple": Step(1, "scripts/eval_score.py", benchmark_part="scoring"),
    "eval_score_sampled": Step(1, "scripts/eval_score.py", benchmark_part="scoring"),
    "eval_summary": Step(1, "scripts/eval_summary.py", constants=_summary_constants),
}


def code_identity(step: str, config: dict | None = None, benchmark: str | list[str] | None = None) -> dict:
    """A rule's `code` param: its step's version, the constants in force and, for a rule per
    benchmark, the benchmark's version of that part (and its scoring protocol); for a job
    over several benchmarks (a list), each one's."""
    try:
        spec = STEPS[step]
    except KeyError:
        raise KeyError(f"no step {step!r} in ossinstruct.identity.STEPS; add one for the rule") from None
    identity: dict = {"step": step, "version": spec.version}
    constants = spec.constants() if spec.constants else {}
    if constants:
        identity["constants"] = constants
    if spec.benchmark_part:
        if benchmark is None:
            raise ValueError(f"step {step!r} runs per benchmark: pass the benchmark")
        if isinstance(benchmark, str):
            identity["benchmark"] = benchmark_identity(benchmark, spec.benchmark_part, config)
        else:
            identity["benchmarks"] = [benchmark_identity(b, spec.benchmark_part, config) for b in sorted(benchmark)]
    return identity


def benchmark_identity(name: str, part: str, config: dict | None = None) -> dict:
    """{name, version} of one part of a benchmark's code; for scoring, also the protocol in
    force (Benchmark.scoring_protocol: time and memory limits, grader versions)."""
    from ossinstruct.benchmarks import REGISTRY

    plugin = REGISTRY[name]
    identity: dict = {"name": name, "version": getattr(plugin, f"{part}_version")}
    if part == "scoring":
        from ossinstruct.workflow import benchmark_settings

        protocol = plugin.scoring_protocol(benchmark_settings(config, name) if config else {})
        if protocol:
            identity["protocol"] = protocol
    return identity


# --------------------------------------------------------------------------- normalised source


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """`tree` without its no-op string statements (docstrings, strings used as comments)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [
                s
                for s in body
                if not (
                    isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)
                )
            ]
    return tree


def _canonical(node) -> object:
    """A node as nested lists of its type and non-empty fields: no positions, and no field a
    newer Python adds empty (type_params), so one digest holds across Python versions."""
    if isinstance(node, ast.AST):
        fields = []
        for name in node._fields:
            value = getattr(node, name, None)
            if value is None or value == []:
                continue
            fields.append([name, _canonical(value)])
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    if isinstance(node, bytes | complex | float) or node is Ellipsis:
        return repr(node)
    return node


# --------------------------------------------------------------------------- what a step runs
#
# A step's code is the set of definitions (functions, classes, module-level names) its
# script reaches: each definition's references are followed through imports (lazy ones
# inside functions too, relative ones, re-exports) to the definition they name, a class
# with all its methods. A module's own top-level statements (a registry's checks) come
# with any of its definitions. Strings naming a module or a function
# ("ossinstruct.sandbox.toolchains:compile_and_run", as sandbox handlers and `-m`
# entry points do) count as references. Each definition's digest is of its normalised
# source, and a step's digest is of its definitions' names and digests, not of where they
# live: moving a function to another module leaves it unchanged.

_MODULE_STRING = re.compile(r"^(ossinstruct(?:\.[A-Za-z_]\w*)*)(?::([A-Za-z_]\w*))?$")
BODY = "<module>"  # a module's top-level statements other than definitions
# Registries: a lookup by name reaches one entry, whose own code has its own versions (a
# benchmark's parts), so a step that looks benchmarks up does not include all of them.
REGISTRIES = ("ossinstruct/benchmarks/__init__.py:REGISTRY",)
MAIN = "<main>"  # its `if __name__ == "__main__":` block, run only as `python -m`


def _module_file(name: str) -> Path | None:
    """The repository file of module `name` (ossinstruct.a.b), or None."""
    parts = name.split(".")
    if not name or parts[0] != "ossinstruct":
        return None
    base = REPO.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_main_block(node: ast.stmt) -> bool:
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


def _is_check(node: ast.stmt) -> bool:
    """An assert, or a loop of asserts (a registry's consistency checks)."""
    if isinstance(node, ast.For):
        return all(_is_check(s) for s in node.body) and not node.orelse
    return isinstance(node, ast.Assert)


def _bound_names(node: ast.AST) -> list[str]:
    """Names a top-level statement defines (not its imports)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


class _Module:
    """One source file: its definitions, its import bindings, its top-level statements."""

    def __init__(self, path: Path):
        self.path = path
        self.key = path.relative_to(REPO).as_posix()
        self.script = not path.is_relative_to(REPO / "ossinstruct")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        self.definitions: dict[str, list[ast.stmt]] = {}
        self.body: list[ast.stmt] = []
        self.main: list[ast.stmt] = []
        self.bindings: dict[str, tuple[Path, str | None]] = {}
        self.stars: list[Path] = []
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._bind(node, self.bindings)
            elif _is_main_block(node):
                self.main.append(node)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the module's docstring
            elif _is_check(node):
                continue  # an assertion changes no result: it passes or stops the job
            elif _bound_names(node):
                for name in _bound_names(node):
                    self.definitions.setdefault(name, []).append(node)
            else:
                self.body.append(node)
                for inner in ast.walk(node):  # imports and definitions inside if/try/with/for
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        self._bind(inner, self.bindings)
                    elif isinstance(inner, ast.FunctionDef | ast.ClassDef | ast.Assign):
                        for name in _bound_names(inner):
                            self.definitions.setdefault(name, [])

    def _bind(self, node: ast.Import | ast.ImportFrom, into: dict) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    target = _module_file(alias.name) or self._script_module(alias.name)
                    if target:
                        into[alias.asname] = (target, None)
                else:
                    root = alias.name.split(".")[0]
                    target = _module_file(root) or self._script_module(root)
                    if target:  # `import a.b.c`: a.b.c.f is followed as an attribute chain from a
                        into[root] = (target, None)
            return
        if node.level:
            package = list(self.path.relative_to(REPO).with_suffix("").parts[:-1])
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        module = _module_file(base)
        for alias in node.names:
            submodule = _module_file(f"{base}.{alias.name}")
            if alias.name == "*":
                if module:
                    self.stars.append(module)
            elif submodule:
                into[alias.asname or alias.name] = (submodule, None)
            elif module:
                into[alias.asname or alias.name] = (module, alias.name)

    def _script_module(self, name: str) -> Path | None:
        candidate = self.path.parent / f"{name}.py"
        return candidate if self.script and "." not in name and candidate.is_file() else None


class CodeGraph:
    """The definitions of the repository's Python files and what each one references."""

    def __init__(self):
        self._modules: dict[Path, _Module] = {}
        self._references: dict[tuple[Path, str], set[tuple[Path, str]]] = {}
        self._digests: dict[tuple[Path, str], str] = {}

    def module(self, path: Path) -> _Module:
        if path not in self._modules:
            self._modules[path] = _Module(path)
        return self._modules[path]

    def resolve(self, path: Path, name: str, chain: list[str], seen=None) -> set[tuple[Path, str]]:
        """The nodes (file, definition) that `name.chain...` in module `path` reaches."""
        seen = set() if seen is None else seen
        if (path, name) in seen:
            return set()
        seen.add((path, name))
        module = self.module(path)
        if name in module.definitions:
            return {(path, name)}
        if name in module.bindings:
            target, attr = module.bindings[name]
            return self._follow(target, ([attr] if attr else []) + chain, seen)
        for star in module.stars:
            found = self.resolve(star, name, chain, seen)
            if found:
                return found
        submodule = (
            _module_file(".".join([*Path(module.key).with_suffix("").parts, name])) if not module.script else None
        )
        if submodule and module.path.name == "__init__.py":
            return self._follow(submodule, chain, seen)
        return set()

    def _follow(self, target: Path, chain: list[str], seen) -> set[tuple[Path, str]]:
        if not chain:  # a module used as a value: all of it
            return self.whole(target)
        module = self.module(target)
        head, rest = chain[0], chain[1:]
        if head in module.definitions or head in module.bindings or module.stars:
            found = self.resolve(target, head, rest, seen)
            if found:
                return found
        parts = Path(module.key).with_suffix("").parts
        parts = parts[:-1] if module.path.name == "__init__.py" else parts
        submodule = _module_file(".".join([*parts, head]))
        return self._follow(submodule, rest, seen) if submodule else set()

    def whole(self, path: Path, main: bool = False) -> set[tuple[Path, str]]:
        module = self.module(path)
        nodes = {(path, name) for name in module.definitions} | {(path, BODY)}
        return nodes | ({(path, MAIN)} if main else set())

    def statements(self, node: tuple[Path, str]) -> list[ast.stmt]:
        module = self.module(node[0])
        if node[1] == BODY:
            return module.body
        if node[1] == MAIN:
            return module.main
        return module.definitions.get(node[1]) or module.body

    def references(self, node: tuple[Path, str]) -> set[tuple[Path, str]]:
        """The nodes one node references, and its module's top-level statements."""
        if node not in self._references:
            self._references[node] = self._find_references(node)
        return self._references[node]

    def _find_references(self, node: tuple[Path, str]) -> set[tuple[Path, str]]:
        path, name = node
        module = self.module(path)
        found = {(path, BODY)}
        if name == BODY:  # importing a module runs the top-level statements of what it imports
            found |= {(target, BODY) for target, _ in module.bindings.values()}
            found |= {(star, BODY) for star in module.stars}
        local: dict[str, tuple[Path, str | None]] = {}
        statements = self.statements(node)
        for statement in statements:
            for inner in ast.walk(statement):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    module._bind(inner, local)
        # The inner parts of `a.b.c` are read as that one chain, not as `a` and `a.b` alone.
        inside_chains = {
            id(inner.value)
            for statement in statements
            for inner in ast.walk(statement)
            if isinstance(inner, ast.Attribute)
        }
        for statement in statements:
            for inner in ast.walk(statement):
                if id(inner) in inside_chains:
                    continue
                if isinstance(inner, ast.Attribute | ast.Name) and not isinstance(
                    getattr(inner, "ctx", None), ast.Store
                ):
                    chain = []
                    while isinstance(inner, ast.Attribute):
                        chain.insert(0, inner.attr)
                        inner = inner.value
                    if not isinstance(inner, ast.Name):
                        continue
                    if inner.id in local:
                        target, attr = local[inner.id]
                        found |= self._follow(target, ([attr] if attr else []) + chain, set())
                    else:
                        found |= self.resolve(path, inner.id, chain)
                elif isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    match = _MODULE_STRING.match(inner.value)
                    target = _module_file(match.group(1)) if match else None
                    if target and match.group(2):
                        found |= self.resolve(target, match.group(2), [])
                    elif target and target.name != "__init__.py":  # `python -m` of that module
                        found |= self.whole(target, main=True)
                elif isinstance(inner, ast.Import | ast.ImportFrom):
                    for alias in inner.names:  # importing a module runs its top-level statements
                        target = local.get(alias.asname or alias.name.split(".")[0])
                        if target:
                            found.add((target[0], BODY))
        return found

    def reach(self, entries: list[tuple[Path, str]]) -> set[tuple[Path, str]]:
        seen: set[tuple[Path, str]] = set()
        todo = list(entries)
        while todo:
            node = todo.pop()
            if node in seen or f"{node[0].relative_to(REPO).as_posix()}:{node[1]}" in REGISTRIES:
                continue
            seen.add(node)
            todo.extend(self.references(node) - seen)
        return seen

    def digest(self, node: tuple[Path, str]) -> str:
        """sha256 of a definition's normalised source (docstrings, comments, formatting and
        positions left out)."""
        if node not in self._digests:
            statements = [_without_docstrings(ast.parse(ast.unparse(s))) for s in self.statements(node)]
            blob = json.dumps(_canonical(statements), separators=(",", ":"), ensure_ascii=False)
            self._digests[node] = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        return self._digests[node]


def _entries(graph: CodeGraph, entry: str) -> list[tuple[Path, str]]:
    """A step's entry: a script (its top-level statements) or "module:function"."""
    module, _, function = entry.partition(":")
    if function:
        return sorted(graph.resolve(_module_file(module), function, []))
    path = REPO / module
    return [(path, BODY), (path, MAIN)]


def step_code(graph: CodeGraph, entries: tuple[str, ...]) -> dict[str, str]:
    """{"file:definition": digest} of everything a step's entries reach."""
    nodes = graph.reach([e for entry in entries for e in _entries(graph, entry)])
    return {
        f"{path.relative_to(REPO).as_posix()}:{name}": graph.digest((path, name))
        for path, name in sorted(nodes)
        if graph.statements((path, name))
    }


def code_digest(code: dict[str, str]) -> str:
    """A step's digest: its definitions' names and digests, not the files they are in."""
    items = sorted(f"{key.rsplit(':', 1)[1]}={digest}" for key, digest in code.items())
    return hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- the lock


def benchmark_entry(name: str) -> str:
    """ "module:Class" of a benchmark's class: its code is what that class reaches."""
    from ossinstruct.benchmarks import REGISTRY

    cls = type(REGISTRY[name])
    return f"{cls.__module__}:{cls.__name__}"


def benchmark_versions(name: str) -> dict:
    from ossinstruct.benchmarks import REGISTRY

    return {part: getattr(REGISTRY[name], f"{part}_version") for part in BENCHMARK_PARTS}


def current_code() -> dict:
    """{"steps": {name: {file:definition: digest}}, "benchmarks": {...}}: what each reaches."""
    from ossinstruct.benchmarks import REGISTRY

    graph = CodeGraph()
    return {
        "steps": {name: step_code(graph, (step.script, *step.entries)) for name, step in STEPS.items()},
        "benchmarks": {name: step_code(graph, (benchmark_entry(name),)) for name in REGISTRY},
    }


def current_lock(code: dict | None = None) -> dict:
    """The lock as the code stands: each step's and benchmark's versions and code digest, and
    the digest of every definition they reach (to say which changed)."""
    code = current_code() if code is None else code
    definitions = {k: v for kind in code.values() for entry in kind.values() for k, v in entry.items()}
    return {
        "about": (
            "Written by `" + UPDATE_COMMAND + "` (ossinstruct/identity.py): each step's versions and "
            "the digest of the normalised source of the definitions it reaches."
        ),
        "steps": {name: {"version": STEPS[name].version, "code": code_digest(c)} for name, c in code["steps"].items()},
        "benchmarks": {
            name: {"versions": benchmark_versions(name), "code": code_digest(c)}
            for name, c in code["benchmarks"].items()
        },
        "definitions": dict(sorted(definitions.items())),
    }


def read_lock(path: str | Path = LOCK) -> dict:
    path = Path(path)
    if not path.is_file():
        return {"steps": {}, "benchmarks": {}, "definitions": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def write_lock(path: str | Path = LOCK) -> dict:
    lock = current_lock()
    Path(path).write_text(json.dumps(lock, indent=1) + "\n", encoding="utf-8")
    return lock


def lock_differences(lock: dict | None = None, code: dict | None = None) -> list[str]:
    """One line per step or benchmark whose code or versions differ from the lock (empty:
    the lock is up to date), naming the definitions that changed."""
    lock = read_lock() if lock is None else lock
    code = current_code() if code is None else code
    current = current_lock(code)
    known = lock.get("definitions", {})
    out = []
    for kind, label in (("steps", "step"), ("benchmarks", "benchmark")):
        for name in sorted(set(current[kind]) | set(lock.get(kind, {}))):
            entry, old = current[kind].get(name), lock.get(kind, {}).get(name)
            if entry is None:
                out.append(f"{label} {name}: in the lock, no longer in the code")
                continue
            old = old or {}
            versions = {"version": entry["version"]} if kind == "steps" else entry["versions"]
            old_versions = {"version": old.get("version")} if kind == "steps" else old.get("versions", {})
            if entry["code"] == old.get("code") and versions == old_versions:
                continue
            text = f"{label} {name}: "
            if entry["code"] == old.get("code"):
                text += "code unchanged"
            else:
                changed = [k for k, digest in code[kind][name].items() if known.get(k) != digest]
                shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
                text += f"code changed: {shown}" if changed else "code changed (definitions removed or renamed)"
            bumps = [
                f"{p if kind == 'steps' else p + '_version'} {old_versions.get(p)} -> {v}"
                for p, v in versions.items()
                if old_versions.get(p) != v
            ]
            text += f"; {', '.join(bumps)}" if bumps else "; version unchanged"
            if any(old_versions.get(p) is not None and v < old_versions[p] for p, v in versions.items()):
                text += " (a version never goes down)"
            out.append(text)
    return out


def check_message(differences: list[str]) -> str:
    return (
        "The code behind these steps differs from ossinstruct/identity.lock.json:\n  "
        + "\n  ".join(differences)
        + "\nFor each one whose outputs the change can alter (results, not only their speed or "
        "logs), bump its version: STEPS in ossinstruct/identity.py, or the benchmark's "
        "strings_version / data_version / generation_version / scoring_version. Reformatting, "
        "docstrings and moved code need no bump. Then refresh the lock: " + UPDATE_COMMAND
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m ossinstruct identity",
        description="Check the code identity lock (ossinstruct/identity.lock.json), or refresh it.",
    )
    parser.add_argument("--update-lock", action="store_true", help="rewrite the lock from the code as it stands")
    args = parser.parse_args(argv)
    if args.update_lock:
        lock = write_lock()
        print(f"wrote {LOCK.relative_to(REPO)}: {len(lock['steps'])} steps, {len(lock['definitions'])} definitions")
        return 0
    differences = lock_differences()
    if differences:
        print(check_message(differences))
        return 1
    print("identity lock up to date")
    return 0
