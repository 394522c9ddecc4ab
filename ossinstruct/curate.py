"""Stage 3a: clean the generation records of one dataset into samples (paper §2.2, C.3).

Input: the generation records of every shard of a dataset, concatenated in a fixed order
(the caller sorts the shard paths). A record's position in that concatenation is its
``raw_index``, stable across every later step.

Cleaning, in this order (the first rule that fires names the rejection):

1. ``status``: only records with status ``ok`` are samples; ``truncated``, ``unparseable``
   and ``request_failed`` records are rejected with ``status=<status>: <reason>``.
2. Exact duplicates (paper §2.2: "excluding samples that are identical or share the same
   seed code snippet"), first one wins, checked in this order (with ``shuffle_seed``, the
   authors' 666 by default in config, "first" is first after their shuffle):

   - ``duplicate_seed``: the same seed snippet. Compared with all whitespace removed (so
     two snippets that differ only in indentation or line breaks are the same seed; equal
     ``sha256`` is a special case). A record without seed text falls back to ``sha256``.
   - ``duplicate_problem``: the same problem once all whitespace is removed.
   - ``duplicate_solution``: the same solution once all whitespace is removed.

   "Whitespace-normalised" here means *every* whitespace character is deleted (not just
   collapsed), as the authors' released cleaning script does; this also equates texts that
   differ only in indentation, which is what an exact-duplicate check on LLM output wants.
   Only kept samples claim a seed/problem/solution, so a rejected record never causes a
   later one to be rejected. The rejection says which rule fired and ``duplicate_of``, the
   ``raw_index`` of the kept sample it duplicates.
3. ``noisy`` (only with ``drop_noisy=True``, the paper's Table 10 ablation): samples whose
   solution contains a partial implementation (:func:`noisy_reason`). It runs after
   deduplication, so the ablation set is exactly the default set minus its noisy samples.
   Noisy samples are kept by default (paper §2.2, C.3).

Kept samples get the released dataset's field names first (``lang``, ``seed``,
``problem``, ``solution``, ``index``, ``raw_index``) then ``is_python`` and provenance;
see :data:`SAMPLE_FIELDS`.

Public API: :func:`clean`, :func:`noisy_reason`, :func:`is_python_sample`,
:func:`curate_shards`, :func:`curation_stats`, :func:`reindex`, :func:`make_sample`,
:func:`code_blocks`, :func:`normalize_whitespace`.
"""

from __future__ import annotations

import ast
import io
import logging
import random
import re
import tokenize
import warnings
from collections import Counter
from collections.abc import Iterable

from .io import read_jsonl, write_json_atomic, write_jsonl_atomic

log = logging.getLogger("ossinstruct.curate")

OK = "ok"

# Field order of a sample: the released HF dataset's names first, then ours.
SAMPLE_FIELDS = (
    "lang",  # the seed's language (OSS-Instruct); "unknown" for Evol-Instruct rows
    "seed",
    "problem",
    "solution",
    "index",  # position in this file, 0..n-1
    "raw_index",  # position in the raw concatenation of the dataset's records
    "is_python",  # paper §4.1: "python" is a substring of the problem or the solution
    "seed_id",
    "corpus",
    "document",
    "start_line",
    "end_line",
    "source",  # the seed's corpus source label, or the Evol-Instruct dataset
    "teacher",
    "model",
    "template_id",
    "request_hash",
)

# reject_rule values (rejected records also carry reject_reason and duplicate_of).
RULE_STATUS = "status"
RULE_DUPLICATE_SEED = "duplicate_seed"
RULE_DUPLICATE_PROBLEM = "duplicate_problem"
RULE_DUPLICATE_SOLUTION = "duplicate_solution"
RULE_NOISY = "noisy"
RULE_EMPTY = "empty"  # Evol-Instruct rows without an instruction or a response

_DUPLICATE_REASONS = {
    RULE_DUPLICATE_SEED: "duplicate seed snippet (identical once all whitespace is removed)",
    RULE_DUPLICATE_PROBLEM: "duplicate problem (identical once all whitespace is removed)",
    RULE_DUPLICATE_SOLUTION: "duplicate solution (identical once all whitespace is removed)",
}


# --------------------------------------------------------------------------- helpers


def normalize_whitespace(text: str) -> str:
    """The text with every whitespace character removed (the duplicate key)."""
    return "".join(text.split())


# The §4.1 marker. The paper: "whether `python` is a substring of the generated data".
# (The authors' lang_ablation.py tests "```python", or the lowercased text with the seed's
# language: ossinstruct.trainset.python_split.)
PYTHON_MARKER = "python"


def is_python_sample(sample: dict, case_sensitive: bool = True) -> bool:
    """Paper §4.1: a sample is Python when ``python`` is a substring of its generated
    text (problem or solution), not decided by the seed's language.

    Case-sensitive by default, as the paper words it (the code-formatted lowercase token
    `python`, which every ```python fence carries); ``case_sensitive=False`` also counts
    "Python"/"PYTHON" in prose. The authors' split script (experiments/lang_ablation.py)
    uses other rules: see ossinstruct.trainset.python_split, which the Table 5 subsets use.
    """
    texts = [sample.get("problem") or "", sample.get("solution") or ""]
    if not case_sensitive:
        texts = [t.lower() for t in texts]
    return any(PYTHON_MARKER in t for t in texts)


def make_sample(record: dict, raw_index: int, index: int | None = None) -> dict:
    """A generation record (status ok) as a sample, fields in :data:`SAMPLE_FIELDS` order."""
    sample = {
        "lang": record.get("lang"),
        "seed": record.get("seed"),
        "problem": record.get("problem"),
        "solution": record.get("solution"),
        "index": index,
        "raw_index": raw_index,
        "is_python": is_python_sample(record),
    }
    for field in SAMPLE_FIELDS[7:]:
        sample[field] = record.get(field)
    return sample


def reindex(samples: list[dict]) -> list[dict]:
    """Copies of `samples` with ``index`` set to their position (0..n-1)."""
    return [{**s, "index": i} for i, s in enumerate(samples)]


def _rejected(record: dict, raw_index: int, rule: str, reason: str, duplicate_of: int | None = None) -> dict:
    return {
        **record,
        "raw_index": raw_index,
        "reject_rule": rule,
        "reject_reason": reason,
        "duplicate_of": duplicate_of,
    }


# --------------------------------------------------------------------------- noisy samples
#
# A solution is "noisy" (paper C.3: "partially implemented code, such as those containing
# `pass` or `NotImplemented` tokens") when one of its code blocks leaves something
# unimplemented. Only code is inspected, never prose, and never the problem (problems
# legitimately show skeletons with `pass` and TODOs for the solver to fill in).
#
# Code blocks are the fenced blocks of the solution (the whole solution when it has no
# fence). A block is Python when its fence says so (python, py, python3, ...) or, when it
# has no language tag, when it parses as Python. Python that parses is checked on its
# AST and its comment tokens; everything else with regular expressions over its comments,
# its string literals and its code with strings and comments removed.

_PY_TAGS = {"python", "py", "python3", "py3", "ipython", "ipython3", "python2", "py2", "sage"}
_HASH_COMMENT_TAGS = {
    "sh", "bash", "shell", "zsh", "ksh", "fish", "console", "shell-session", "ruby", "rb",
    "perl", "pl", "r", "yaml", "yml", "toml", "dockerfile", "docker", "makefile", "make",
    "cmake", "powershell", "ps1", "ps", "elixir", "ex", "julia", "jl", "nim", "tcl", "awk",
    "coffeescript", "coffee", "conf", "ini", "properties",
} | _PY_TAGS
_SLASH_COMMENT_TAGS = {
    "c", "h", "cpp", "c++", "cc", "cxx", "hpp", "java", "javascript", "js", "jsx", "mjs",
    "typescript", "ts", "tsx", "csharp", "cs", "c#", "rust", "rs", "swift", "go", "golang",
    "kotlin", "kt", "scala", "dart", "objective-c", "objc", "objectivec", "groovy", "gradle",
    "solidity", "sol", "zig", "vue", "less", "scss", "css", "json5", "jsonc", "proto",
    "protobuf", "glsl", "hlsl", "cuda", "cu", "verilog", "v", "d", "haxe", "actionscript",
}
_PHP_TAGS = {"php"}  # both // and # comments
_SQL_TAGS = {"sql", "mysql", "postgresql", "psql", "plsql", "tsql", "sqlite", "haskell", "hs", "lua"}
# Fences whose content is data or output, not code: never inspected.
_NON_CODE_TAGS = {"text", "txt", "plaintext", "output", "json", "xml", "html", "csv", "md",
                  "markdown", "diff", "log", "svg", "tsv"}

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^`\n]*$")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Fenced code blocks of a markdown text as (lowercased language tag, code).

    An unclosed fence runs to the end of the text. A text with no fence at all is one
    untagged block.
    """
    blocks: list[tuple[str, str]] = []
    fence = tag = None
    buf: list[str] = []
    seen_fence = False
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence, tag, buf, seen_fence = m.group(1), m.group(2).strip("{}.").lower(), [], True
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2):
            blocks.append((tag, "\n".join(buf)))
            fence = None
        else:
            buf.append(line)
    if fence is not None:
        blocks.append((tag, "\n".join(buf)))
    if not seen_fence:
        blocks.append(("", text))
    return blocks


# Placeholder markers, searched in comments only (so "todo" in a to-do app's strings,
# identifiers or prose never counts). Each: (what, pattern).
_COMMENT_MARKERS: tuple[tuple[str, re.Pattern], ...] = (
    # Upper-case TODO/FIXME as a word, or "todo:" in any case; not "TODO list/app/item".
    ("TODO/FIXME marker",
     re.compile(r"\b(?:TODO|FIXME)\b(?!-|\s*(?:lists?|apps?|items?|application|entry|entries|tasks?)\b)"
                r"|(?i:\b(?:todo|fixme)\s*:)")),
    ("'your code here' placeholder",
     re.compile(r"(?i)\byour\s+(?:own\s+)?(?:code|implementation|logic)\b"
                r"|\b(?:code|implementation|logic|solution)\s+(?:goes\s+|should\s+go\s+)?here\W*$")),
    ("'implement this' placeholder",
     re.compile(r"(?i)^\W*(?:please\s+)?implement\s+(?:this|me|here)\b"
                r"|\b(?:needs?|has|have)\s+to\s+be\s+implemented\b"
                r"|\b(?:to\s+be|yet\s+to\s+be|not\s+yet|not)\s+implemented\b")),
    ("placeholder comment",
     re.compile(r"(?i)^\W*placeholder\b"
                r"|\bplaceholder\s+(?:implementation|logic|code|function|method|body)\b"
                r"|\bplaceholder\s+for\s+(?:the\s+)?(?:actual|real|your)\b")),
    ("elided code comment",
     re.compile(r"^[\s/*#-]*(?:\.\.\.|…)"
                r"|(?i:\b(?:rest|remainder)\s+of\s+(?:the\s+)?(?:code|implementation|class|methods|program|logic|function)\b)"
                r"|(?i:\b(?:existing|previous|remaining|other)\s+(?:code|methods|implementation)\s*(?:\.\.\.|…))")),
)

_NOT_IMPLEMENTED_TEXT = re.compile(r"(?i)\bnot\s+(?:yet\s+)?implemented\b|\bunimplemented\b")


# Every marker needs one of these (lower-cased) substrings: a cheap pre-check.
_MARKER_KEYS = ("todo", "fixme", "your", "implement", "code", "logic", "solution",
                "placeholder", "...", "…", "rest", "remainder")


def _has_marker_key(text: str) -> bool:
    low = text.lower()
    return any(key in low for key in _MARKER_KEYS)


def _comment_marker(comment: str) -> str | None:
    body = comment.strip()
    if not _has_marker_key(body):
        return None
    for what, pattern in _COMMENT_MARKERS:
        if pattern.search(body):
            short = body if len(body) <= 60 else body[:57] + "..."
            return f"{what} in a comment ({short!r})"
    return None


# ----------------------------------------------------------------- Python, on the AST

_EXEMPT_DECORATORS = {"abstractmethod", "abstractproperty", "abstractclassmethod",
                      "abstractstaticmethod", "overload"}


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _name_of(node.value)
    if isinstance(node, ast.Call):
        return _name_of(node.func)
    return None


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _is_ellipsis(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis


def _raises_not_implemented(stmt: ast.stmt) -> str | None:
    """What a `raise` statement leaves unimplemented, if it is a placeholder raise."""
    if not isinstance(stmt, ast.Raise) or stmt.exc is None:
        return None
    exc = stmt.exc
    name = _name_of(exc)
    if name == "NotImplementedError":
        return "raise NotImplementedError"
    if name == "NotImplemented":
        return "raise NotImplemented"
    if isinstance(exc, ast.Call) and exc.args:
        first = exc.args[0]
        if (isinstance(first, ast.Constant) and isinstance(first.value, str)
                and _NOT_IMPLEMENTED_TEXT.search(first.value)):
            return f"raise {name or 'exception'}({first.value[:40]!r})"
    return None


def _statements(body: list[ast.stmt]):
    """Every statement, nested ones included (classes and functions are statements, so
    this finds them all without walking the expressions)."""
    for stmt in body:
        yield stmt
        for field in ("body", "orelse", "finalbody"):
            sub = getattr(stmt, field, None)
            if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                yield from _statements(sub)
        for handler in getattr(stmt, "handlers", None) or []:
            yield from _statements(handler.body)
        for case in getattr(stmt, "cases", None) or []:
            yield from _statements(case.body)


class _PythonChecker:
    """Partial implementations in one parsed Python module.

    Flagged (in source order):

    - a function whose body, after its docstring, is only ``pass``, only ``...``, or
      nothing (docstring-only);
    - a function whose body has a top-level ``raise NotImplementedError`` (or a raise of
      an exception whose message says "not implemented"), or ``raise NotImplemented``;
    - a bare ``...`` statement anywhere else (elided code, as in "for x in xs: ..."),
      except as the whole body of an ``except`` handler or a class;
    - ``NotImplemented`` used outside a dunder method (``return NotImplemented`` from
      ``__eq__``/``__add__``... is the correct protocol and is not flagged).

    Not flagged (intentional):

    - ``pass`` anywhere but as a function's whole body: ``except ...: pass``, an empty
      class (``class MyError(Exception): pass``), loop or branch bodies;
    - functions decorated with ``@abstractmethod`` (and the abstract* variants) or
      ``@overload``, and methods of a ``Protocol`` class: stubs are their point;
    - a base-class method (pass, ``...``, docstring-only or ``raise NotImplementedError``)
      that a subclass in the same code overrides: a hook/template method, not a gap;
    - ``raise NotImplementedError`` nested in a branch (``else: raise
      NotImplementedError(f"unsupported mode {m}")``): an unsupported-case error;
    - ``...`` as an expression (``Callable[..., int]``, ``x[..., 0]``, default values).

    A module whose functions are all ``...`` (a .pyi-style stub) is flagged: it
    implements nothing, and the exemptions above cover genuine stub idioms.
    """

    def __init__(self, tree: ast.Module, mentions_not_implemented: bool = True):
        self.tree = tree
        self.mentions_not_implemented = mentions_not_implemented
        self.classes: dict[str, tuple[set[str], set[str]]] = {}  # name -> (bases, methods)
        for node in _statements(tree.body):
            if isinstance(node, ast.ClassDef):
                bases = {n for n in map(_name_of, node.bases) if n}
                methods = {c.name for c in node.body if isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef))}
                old = self.classes.get(node.name, (set(), set()))
                self.classes[node.name] = (old[0] | bases, old[1] | methods)
        self.findings: list[tuple[int, str]] = []

    def _descendants(self, cls: str) -> set[str]:
        found: set[str] = set()
        frontier = {cls}
        while frontier:
            nxt = {name for name, (bases, _) in self.classes.items() if bases & frontier and name not in found}
            found |= nxt
            frontier = nxt - {cls}
        found.discard(cls)
        return found

    def _overridden(self, cls: str | None, method: str) -> bool:
        if cls is None:
            return False
        return any(method in self.classes[d][1] for d in self._descendants(cls))

    def _exempt(self, func, cls: ast.ClassDef | None) -> bool:
        if any(_name_of(d) in _EXEMPT_DECORATORS for d in func.decorator_list):
            return True
        if cls is not None:
            if any(_name_of(b) == "Protocol" for b in cls.bases):
                return True
            if self._overridden(cls.name, func.name):
                return True
        return False

    def run(self) -> list[tuple[int, str]]:
        self._visit_body(self.tree.body, container=None, func=None, cls=None)
        if self.mentions_not_implemented:
            self._not_implemented_names()
        return sorted(self.findings)

    def _flag(self, node: ast.AST, what: str) -> None:
        self.findings.append((getattr(node, "lineno", 0), what))

    def _check_function(self, func, cls: ast.ClassDef | None) -> set[int]:
        """Flag the function's body; returns ids of statements already accounted for."""
        body = func.body[1:] if func.body and _is_docstring(func.body[0]) else func.body
        exempt = self._exempt(func, cls)
        handled: set[int] = set()
        label = f"`{cls.name}.{func.name}`" if cls is not None else f"`{func.name}`"
        if not body:
            if not exempt:
                self._flag(func, f"docstring-only body in {label}")
        elif len(body) == 1 and isinstance(body[0], ast.Pass):
            if not exempt:
                self._flag(func, f"pass-only body in {label}")
        elif len(body) == 1 and _is_ellipsis(body[0]):
            handled.add(id(body[0]))
            if not exempt:
                self._flag(func, f"`...` body in {label}")
        for stmt in body:
            what = _raises_not_implemented(stmt)
            if what and not exempt:
                self._flag(stmt, f"{what} in {label}")
        return handled

    def _visit_body(self, body: list[ast.stmt], container, func, cls, handled: set[int] | None = None) -> None:
        handled = handled or set()
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = self._check_function(stmt, cls)
                self._visit_body(stmt.body, container=stmt, func=stmt, cls=None, handled=inner)
                continue
            if isinstance(stmt, ast.ClassDef):
                self._visit_body(stmt.body, container=stmt, func=None, cls=stmt)
                continue
            if _is_ellipsis(stmt) and id(stmt) not in handled:
                sole = len(body) == 1 or (len(body) == 2 and _is_docstring(body[0]))
                if not (sole and isinstance(container, (ast.ExceptHandler, ast.ClassDef))):
                    self._flag(stmt, "elided code (a bare `...` statement)")
            if func is None and isinstance(stmt, ast.Raise) and stmt.exc is not None \
                    and _name_of(stmt.exc) == "NotImplemented":
                self._flag(stmt, "raise NotImplemented")  # at module or class level
            # Recurse into compound statements, keeping the enclosing function.
            for field in ("body", "orelse", "finalbody"):
                sub = getattr(stmt, field, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                    self._visit_body(sub, container=stmt, func=func, cls=None)
            for handler in getattr(stmt, "handlers", []) or []:
                self._visit_body(handler.body, container=handler, func=func, cls=None)
            for case in getattr(stmt, "cases", []) or []:
                self._visit_body(case.body, container=case, func=func, cls=None)

    def _not_implemented_names(self) -> None:
        """``NotImplemented`` outside a dunder method (not the raise already flagged)."""
        raised = {id(n.exc) for n in ast.walk(self.tree) if isinstance(n, ast.Raise) and n.exc is not None}

        def walk(node: ast.AST, dunder: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    walk(child, child.name.startswith("__") and child.name.endswith("__"))
                    continue
                if (isinstance(child, ast.Name) and child.id == "NotImplemented" and not dunder
                        and id(child) not in raised):
                    self._flag(child, "NotImplemented used outside a dunder method")
                walk(child, dunder)

        walk(self.tree, False)


def _python_comments(code: str) -> list[tuple[int, str]]:
    comments = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                comments.append((tok.start[0], tok.string.lstrip("#")))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return comments


def _parse_python(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _python_noisy(tree: ast.Module, code: str) -> str | None:
    findings = _PythonChecker(tree, "NotImplemented" in code).run()
    comments = _python_comments(code) if "#" in code and _has_marker_key(code) else []
    for line, comment in comments:
        what = _comment_marker(comment)
        if what:
            findings.append((line, what))
    return min(findings)[1] if findings else None


# ----------------------------------------------------------------- other code, by regex

_DQ = r'"(?:[^"\\\n]|\\.)*"'
_SQ = r"'(?:[^'\\\n]|\\.)*'"
_BT = r"`(?:[^`\\]|\\.)*`"
_PY_TRIPLE = r'"""[\s\S]*?"""|' + r"'''[\s\S]*?'''"
_SLASH = r"//[^\n]*|/\*[\s\S]*?\*/"
_HASH = r"#[^\n]*"
_HASH_SPACED = r"(?<![^\s;])#(?=[ \t]|$)[^\n]*"  # "# ..." only: not #include, #[derive]
_DASH = r"--[^\n]*"


def _lexer(tag: str) -> re.Pattern:
    if tag in _PY_TAGS:
        strings, comments = [_PY_TRIPLE, _DQ, _SQ], [_HASH]
    elif tag in _HASH_COMMENT_TAGS:
        strings, comments = [_DQ, _SQ, _BT], [_HASH]
    elif tag in _PHP_TAGS:
        strings, comments = [_DQ, _SQ], [_SLASH, _HASH]
    elif tag in _SQL_TAGS:
        strings, comments = [_DQ, _SQ], [_DASH, r"/\*[\s\S]*?\*/"]
    elif tag in _SLASH_COMMENT_TAGS:
        strings, comments = [_DQ, _SQ, _BT], [_SLASH]
    else:
        strings, comments = [_DQ, _SQ, _BT], [_SLASH, _HASH_SPACED]
    return re.compile(f"(?P<comment>{'|'.join(comments)})|(?P<string>{'|'.join(strings)})")


_CODE_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("raise NotImplementedError", re.compile(r"\braise\s+NotImplementedError\b")),
    ("NotImplementedException", re.compile(r"\bNotImplementedException\b")),
    ("todo!()/unimplemented!() macro", re.compile(r"\b(?:todo|unimplemented)!\s*[(\[{]")),
    ("elided code (a line of `...`)", re.compile(r"^[ \t]*(?:\.\.\.|…)[ \t]*;?[ \t]*$", re.MULTILINE)),
    ("elided code (`{ ... }` body)", re.compile(r"\{\s*(?:\.\.\.|…)\s*\}")),
)

# A Python `def` whose only statement is `pass` (for Python that does not parse).
_PY_DEF = re.compile(r"^([ \t]*)(?:async[ \t]+)?def[ \t]+(\w+)[^\n]*:[ \t]*(?:pass[ \t]*)?$")


def _regex_pass_only(code: str) -> str | None:
    lines = code.splitlines()
    for i, line in enumerate(lines):
        m = _PY_DEF.match(line)
        if not m:
            continue
        if line.rstrip().endswith("pass"):
            return f"pass-only body in `{m.group(2)}`"
        rest = [ln for ln in lines[i + 1:] if ln.strip() and not ln.strip().startswith("#")]
        if not rest or rest[0].strip() != "pass":
            continue
        indent = len(m.group(1).expandtabs())
        after = rest[1] if len(rest) > 1 else None
        if after is None or len(after) - len(after.lstrip()) <= indent:
            return f"pass-only body in `{m.group(2)}`"
    return None


def _looks_like_code(tree: ast.Module) -> bool:
    """Some statement other than a bare value: an assignment, a definition, an import,
    a call, a control-flow statement..."""
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            return True
        if any(isinstance(n, ast.Call) for n in ast.walk(stmt)):
            return True
    return False


def _regex_noisy(code: str, tag: str, elision: bool = True) -> str | None:
    comments: list[tuple[int, str]] = []
    strings: list[str] = []
    parts: list[str] = []
    last = 0
    for m in _lexer(tag).finditer(code):
        parts.append(code[last:m.start()])
        text = m.group()
        blank = re.sub(r"[^\n]", " ", text)  # same length, same lines: positions align
        if m.group("comment") is not None:
            comments.append((m.start(), text.lstrip("/#-*").rstrip("*/")))
            parts.append(blank)
        else:
            strings.append(text)
            parts.append(text[0] + blank[1:-1] + text[-1])
        last = m.end()
    parts.append(code[last:])
    stripped = "".join(parts)

    findings: list[tuple[int, str]] = []
    for pos, comment in comments:
        for line in comment.splitlines() or [""]:
            what = _comment_marker(line.strip(" \t*"))
            if what:
                findings.append((pos, what))
                break
    for what, pattern in _CODE_RULES:
        if not elision and "elided" in what:
            continue
        m = pattern.search(stripped)
        if m:
            findings.append((m.start(), what))
    for s in strings:
        if _NOT_IMPLEMENTED_TEXT.search(s):
            findings.append((code.find(s), f"'not implemented' message {s[:40]!r}"))
            break
    if tag in _PY_TAGS:
        what = _regex_pass_only(stripped)
        if what:
            findings.append((0, what))
    return min(findings)[1] if findings else None


def noisy_reason(solution: str) -> str | None:
    """What is left unimplemented in a solution's code, or None when nothing is.

    Python blocks that parse are judged on their AST (see :class:`_PythonChecker`) and
    their comment tokens; other blocks (other languages, Python that does not parse) by
    regular expressions over comments, string literals and the code without them:
    ``raise NotImplementedError``, C#'s ``NotImplementedException``, Rust's ``todo!()``
    and ``unimplemented!()``, a line that is only ``...``, a ``{ ... }`` body, a string
    literal saying "not implemented" (``throw new Error("Not implemented")``), and for
    Python a ``def`` whose body is only ``pass``. Comments are searched for placeholder
    markers: upper-case ``TODO``/``FIXME`` (or "todo:"), "your code here", "implement
    this", "to be implemented", "placeholder implementation", and elided-code comments
    ("# ...", "rest of the code"). Strings, identifiers and prose are never searched for
    markers, so a to-do app is not noisy for saying "todo". Fences tagged as data or
    output (text, json, output, ...) are skipped.
    """
    if not solution:
        return None
    for tag, code in code_blocks(solution):
        if tag in _NON_CODE_TAGS or not code.strip():
            continue
        if tag in _PY_TAGS or tag == "":
            tree = _parse_python(code)
            if tree is not None:
                if tag == "" and not _looks_like_code(tree):
                    continue  # output or data that happens to parse ("...", "[1, 2]")
                what = _python_noisy(tree, code)
                if what:
                    return what
                continue
        # An untagged block that is not Python may be program output, where a line of
        # "..." means "and so on": only explicit markers count there.
        what = _regex_noisy(code, tag, elision=tag != "")
        if what:
            return what
    return None


# --------------------------------------------------------------------------- cleaning


def clean(records: Iterable[dict], drop_noisy: bool = False,
          shuffle_seed: int | None = None) -> tuple[list[dict], list[dict]]:
    """Generation records (all shards of a dataset, in a fixed order) -> (samples, rejected).

    Samples follow :data:`SAMPLE_FIELDS` with ``index`` = position among the samples and
    ``raw_index`` = position among `records`. Rejected records are the input records
    plus ``raw_index``, ``reject_rule`` (status, duplicate_seed, duplicate_problem,
    duplicate_solution, noisy), ``reject_reason`` and ``duplicate_of`` (the kept
    sample's raw_index for duplicates, else None).

    `shuffle_seed`: as the authors' clean_data.py (``random.seed(666)``,
    ``random.shuffle``), the ``ok`` records (the only ones their generation script wrote)
    are shuffled before deduplication, so "first wins" is first in that order, and the
    samples come out in it. None keeps the input order.
    """
    kept: list[dict] = []
    rejected: list[dict] = []
    seeds: dict[str, int] = {}
    problems: dict[str, int] = {}
    solutions: dict[str, int] = {}
    ok: list[tuple[int, dict]] = []
    for raw_index, record in enumerate(records):
        status = record.get("status")
        if status != OK:
            reason = record.get("reason") or "no reason given"
            rejected.append(_rejected(record, raw_index, RULE_STATUS, f"status={status}: {reason}"))
            continue
        ok.append((raw_index, record))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(ok)
    for raw_index, record in ok:
        seed_text = record.get("seed")
        seed_key = ("text:" + normalize_whitespace(seed_text)) if isinstance(seed_text, str) else (
            ("sha256:" + record["sha256"]) if record.get("sha256") else None)
        problem_key = normalize_whitespace(record.get("problem") or "")
        solution_key = normalize_whitespace(record.get("solution") or "")
        rule = first = None
        if seed_key is not None and seed_key in seeds:
            rule, first = RULE_DUPLICATE_SEED, seeds[seed_key]
        elif problem_key in problems:
            rule, first = RULE_DUPLICATE_PROBLEM, problems[problem_key]
        elif solution_key in solutions:
            rule, first = RULE_DUPLICATE_SOLUTION, solutions[solution_key]
        if rule is not None:
            reason = f"{_DUPLICATE_REASONS[rule]} of raw_index {first}"
            rejected.append(_rejected(record, raw_index, rule, reason, duplicate_of=first))
            continue
        if seed_key is not None:
            seeds[seed_key] = raw_index
        problems[problem_key] = raw_index
        solutions[solution_key] = raw_index
        if drop_noisy:
            what = noisy_reason(record.get("solution") or "")
            if what:
                rejected.append(_rejected(record, raw_index, RULE_NOISY, f"noisy: {what}"))
                continue
        kept.append(make_sample(record, raw_index, index=len(kept)))
    return kept, rejected


def curation_stats(samples: list[dict], rejected: list[dict], raw: int | None = None,
                   count_noisy: bool = True) -> dict:
    """Counts for the report and the dataset card: raw records, rejections by rule and
    status, kept samples by language and by the §4.1 Python rule, and (``count_noisy``)
    how many kept samples :func:`noisy_reason` flags."""
    raw = len(samples) + len(rejected) if raw is None else raw
    rules = Counter(r["reject_rule"] for r in rejected)
    statuses = Counter(r.get("status") for r in rejected if r["reject_rule"] == RULE_STATUS)
    stats = {
        "raw": raw,
        "ok": raw - rules.get(RULE_STATUS, 0),
        "rejected": len(rejected),
        "rejected_by_rule": dict(sorted(rules.items())),
        "rejected_by_status": dict(sorted((str(k), v) for k, v in statuses.items())),
        "kept": len(samples),
        "kept_by_lang": dict(sorted(Counter(str(s.get("lang")) for s in samples).items())),
        "python": sum(1 for s in samples if s.get("is_python")),
        "non_python": sum(1 for s in samples if not s.get("is_python")),
    }
    if count_noisy:
        stats["kept_noisy"] = sum(1 for s in samples if noisy_reason(s.get("solution") or ""))
    return stats


def curate_shards(shard_paths: Iterable[str], output: str, rejected_output: str,
                  stats_output: str | None = None, drop_noisy: bool = False,
                  shuffle_seed: int | None = None) -> dict:
    """Read generation shards in the given order, clean them, write the samples and the
    rejected records (JSONL, atomically) and, optionally, the stats (JSON)."""
    shard_paths = list(shard_paths)

    def records():
        for path in shard_paths:
            yield from read_jsonl(path, required=("status",), what="generation record")

    samples, rejected = clean(records(), drop_noisy=drop_noisy, shuffle_seed=shuffle_seed)
    write_jsonl_atomic(output, samples)
    write_jsonl_atomic(rejected_output, rejected)
    stats = {"shards": len(shard_paths), "drop_noisy": drop_noisy, "shuffle_seed": shuffle_seed,
             **curation_stats(samples, rejected, count_noisy=not drop_noisy)}
    if drop_noisy:
        stats["kept_noisy"] = 0
    if stats_output:
        write_json_atomic(stats_output, stats)
    log.info("%s: %d raw records, %d kept, rejected %s", output, stats["raw"], stats["kept"],
             stats["rejected_by_rule"])
    return stats
