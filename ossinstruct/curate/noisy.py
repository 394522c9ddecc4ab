"""The noisy-code detector (paper Appendix C.3): partially implemented solutions.

Used by the cleaning step (ossinstruct/curate/clean.py) when `drop_noisy` is set; see
:func:`noisy_reason`.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings

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
    "sh",
    "bash",
    "shell",
    "zsh",
    "ksh",
    "fish",
    "console",
    "shell-session",
    "ruby",
    "rb",
    "perl",
    "pl",
    "r",
    "yaml",
    "yml",
    "toml",
    "dockerfile",
    "docker",
    "makefile",
    "make",
    "cmake",
    "powershell",
    "ps1",
    "ps",
    "elixir",
    "ex",
    "julia",
    "jl",
    "nim",
    "tcl",
    "awk",
    "coffeescript",
    "coffee",
    "conf",
    "ini",
    "properties",
} | _PY_TAGS
_SLASH_COMMENT_TAGS = {
    "c",
    "h",
    "cpp",
    "c++",
    "cc",
    "cxx",
    "hpp",
    "java",
    "javascript",
    "js",
    "jsx",
    "mjs",
    "typescript",
    "ts",
    "tsx",
    "csharp",
    "cs",
    "c#",
    "rust",
    "rs",
    "swift",
    "go",
    "golang",
    "kotlin",
    "kt",
    "scala",
    "dart",
    "objective-c",
    "objc",
    "objectivec",
    "groovy",
    "gradle",
    "solidity",
    "sol",
    "zig",
    "vue",
    "less",
    "scss",
    "css",
    "json5",
    "jsonc",
    "proto",
    "protobuf",
    "glsl",
    "hlsl",
    "cuda",
    "cu",
    "verilog",
    "v",
    "d",
    "haxe",
    "actionscript",
}
_PHP_TAGS = {"php"}  # both // and # comments
_SQL_TAGS = {"sql", "mysql", "postgresql", "psql", "plsql", "tsql", "sqlite", "haskell", "hs", "lua"}
# Fences whose content is data or output, not code: never inspected.
_NON_CODE_TAGS = {
    "text",
    "txt",
    "plaintext",
    "output",
    "json",
    "xml",
    "html",
    "csv",
    "md",
    "markdown",
    "diff",
    "log",
    "svg",
    "tsv",
}

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
    (
        "TODO/FIXME marker",
        re.compile(
            r"\b(?:TODO|FIXME)\b(?!-|\s*(?:lists?|apps?|items?|application|entry|entries|tasks?)\b)"
            r"|(?i:\b(?:todo|fixme)\s*:)"
        ),
    ),
    (
        "'your code here' placeholder",
        re.compile(
            r"(?i)\byour\s+(?:own\s+)?(?:code|implementation|logic)\b"
            r"|\b(?:code|implementation|logic|solution)\s+(?:goes\s+|should\s+go\s+)?here\W*$"
        ),
    ),
    (
        "'implement this' placeholder",
        re.compile(
            r"(?i)^\W*(?:please\s+)?implement\s+(?:this|me|here)\b"
            r"|\b(?:needs?|has|have)\s+to\s+be\s+implemented\b"
            r"|\b(?:to\s+be|yet\s+to\s+be|not\s+yet|not)\s+implemented\b"
        ),
    ),
    (
        "placeholder comment",
        re.compile(
            r"(?i)^\W*placeholder\b"
            r"|\bplaceholder\s+(?:implementation|logic|code|function|method|body)\b"
            r"|\bplaceholder\s+for\s+(?:the\s+)?(?:actual|real|your)\b"
        ),
    ),
    (
        "elided code comment",
        re.compile(
            r"^[\s/*#-]*(?:\.\.\.|…)"
            r"|(?i:\b(?:rest|remainder)\s+of\s+(?:the\s+)?(?:code|implementation|class|methods|program|logic|function)\b)"
            r"|(?i:\b(?:existing|previous|remaining|other)\s+(?:code|methods|implementation)\s*(?:\.\.\.|…))"
        ),
    ),
)

_NOT_IMPLEMENTED_TEXT = re.compile(r"(?i)\bnot\s+(?:yet\s+)?implemented\b|\bunimplemented\b")


# Every marker needs one of these (lower-cased) substrings: a cheap pre-check.
_MARKER_KEYS = (
    "todo",
    "fixme",
    "your",
    "implement",
    "code",
    "logic",
    "solution",
    "placeholder",
    "...",
    "…",
    "rest",
    "remainder",
)


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

_EXEMPT_DECORATORS = {"abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod", "overload"}


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
        if (
            isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and _NOT_IMPLEMENTED_TEXT.search(first.value)
        ):
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
            if (
                func is None
                and isinstance(stmt, ast.Raise)
                and stmt.exc is not None
                and _name_of(stmt.exc) == "NotImplemented"
            ):
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
                if (
                    isinstance(child, ast.Name)
                    and child.id == "NotImplemented"
                    and not dunder
                    and id(child) not in raised
                ):
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
        rest = [ln for ln in lines[i + 1 :] if ln.strip() and not ln.strip().startswith("#")]
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
        parts.append(code[last : m.start()])
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
