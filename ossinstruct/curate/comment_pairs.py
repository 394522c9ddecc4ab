"""Comment-function pairs mined from the seed documents (paper §4.2, Table 6).

The paper follows CodeSearchNet (Husain et al., 2020): a function's leading comment or
docstring, its signature and its body, from "the same seed document corpus" the 75K
OSS-Instruct samples came from; the model is trained to predict the body from the
signature and the comment. Pairs that overlap a seed snippet come first (the paper: about
11K), then pairs from anywhere in the seed documents, until the count equals the
OSS-Instruct dataset's.

Every language is parsed by its tree-sitter grammar from PyPI (:data:`GRAMMARS`); nothing
here is a regular expression over source text. A pair is three verbatim slices of the
document: ``problem`` (from the first line of the leading comment, or of the definition
with its decorators / attributes / annotations / template header, up to where the body
starts; for Python it includes the docstring) and ``solution`` (the body: the body node's
text; for Python the block after the docstring, from the start of its first line), so
``problem + solution`` is the function's text as written.

The comment of a function is its Python docstring, else the run of full-line comments
that ends on the line right above the definition (doc comments, ``//``, ``#``, block
comments; a ``#!`` line is not a comment of anything). CodeSearchNet's filters are applied
(:func:`reject_reason`): a comment of fewer than 3 tokens, a function of fewer than 3
lines, a name containing "test", constructors and standard methods such as ``__str__`` or
``toString``.

Not mined: anonymous functions (lambdas, TypeScript arrow functions assigned to a name),
declarations without a body (abstract, interface, protocol, C# expression bodies), and a
definition that shares its first line with other code.
"""

from __future__ import annotations

import importlib
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

# lang -> (PyPI module, the function returning its language pointer). TypeScript and PHP
# ship two grammars each: plain TypeScript (not TSX) and PHP with its <?php tags.
GRAMMARS = {
    "python": ("tree_sitter_python", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "java": ("tree_sitter_java", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "shell": ("tree_sitter_bash", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "swift": ("tree_sitter_swift", "language"),
}
PYPI_NAMES = {
    "tree_sitter_python": "tree-sitter-python",
    "tree_sitter_cpp": "tree-sitter-cpp",
    "tree_sitter_java": "tree-sitter-java",
    "tree_sitter_typescript": "tree-sitter-typescript",
    "tree_sitter_bash": "tree-sitter-bash",
    "tree_sitter_c_sharp": "tree-sitter-c-sharp",
    "tree_sitter_rust": "tree-sitter-rust",
    "tree_sitter_php": "tree-sitter-php",
    "tree_sitter_swift": "tree-sitter-swift",
}

# Function node types with a body, per language (abstract / interface declarations have none
# and are skipped where the grammar gives them no body field).
FUNCTION_TYPES = {
    "python": {"function_definition"},
    "cpp": {"function_definition"},
    "java": {"method_declaration", "constructor_declaration"},
    "typescript": {"function_declaration", "generator_function_declaration", "method_definition"},
    "shell": {"function_definition"},
    "csharp": {"method_declaration", "constructor_declaration", "local_function_statement"},
    "rust": {"function_item"},
    "php": {"function_definition", "method_declaration"},
    "swift": {"function_declaration", "init_declaration"},
}
# Body node types taken (C#'s expression bodies, `=> x`, are not a body to predict).
BODY_TYPES = {
    "python": {"block"},
    "cpp": {"compound_statement"},
    "java": {"block", "constructor_body"},
    "typescript": {"statement_block"},
    "shell": {"compound_statement", "subshell"},
    "csharp": {"block"},
    "rust": {"block"},
    "php": {"compound_statement"},
    "swift": {"function_body"},
}
COMMENT_TYPES = {"comment", "line_comment", "block_comment", "multiline_comment"}
# Nodes that wrap a definition and belong to its signature.
WRAPPERS = {"decorated_definition", "template_declaration", "export_statement"}
CONSTRUCTOR_TYPES = {"constructor_declaration", "init_declaration"}
# CodeSearchNet's "standard extension methods", and constructors by name.
STANDARD_METHODS = {
    "__init__",
    "__new__",
    "__str__",
    "__repr__",
    "__eq__",
    "__ne__",
    "__hash__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__len__",
    "__iter__",
    "__del__",
    "__enter__",
    "__exit__",
    "toString",
    "equals",
    "hashCode",
    "ToString",
    "Equals",
    "GetHashCode",
    "constructor",
    "__construct",
    "__destruct",
    "__toString",
    "fmt",
    "drop",
    "init",
    "deinit",
}
FILTER_DEFAULTS = {
    "min_comment_tokens": 3,
    "min_function_lines": 3,
    "drop_test_functions": True,
    "drop_standard_methods": True,
}
_TOKEN = re.compile(r"\w+")


class CommentPairsError(ValueError):
    pass


@lru_cache(maxsize=None)
def parser_for(lang: str):
    """A tree-sitter parser of `lang` (one of GRAMMARS)."""
    if lang not in GRAMMARS:
        raise CommentPairsError(f"no tree-sitter grammar for language {lang!r}; known: {', '.join(GRAMMARS)}")
    import tree_sitter

    module_name, function = GRAMMARS[lang]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CommentPairsError(
            f"language {lang!r} needs the package {PYPI_NAMES[module_name]} (pip install -e .): {exc}"
        ) from None
    return tree_sitter.Parser(tree_sitter.Language(getattr(module, function)()))


def grammar_versions() -> dict[str, str]:
    """The installed tree-sitter packages' versions: part of a mined shard's identity."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ["tree-sitter", *PYPI_NAMES.values()]:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "missing"
    return versions


@dataclass
class Pair:
    name: str
    comment: str
    signature: str
    problem: str
    solution: str
    start_byte: int  # where problem starts
    body_start_byte: int  # where solution starts (problem ends)
    end_byte: int
    start_line: int  # 1-based, first line of the problem
    def_line: int  # 1-based, first line of the definition (decorators included)
    end_line: int  # 1-based, last line of the function
    node_type: str
    kind: str  # "docstring" or "comment"


def _line_start(source: bytes, byte: int) -> int:
    return source.rfind(b"\n", 0, byte) + 1


def _only_space_before(source: bytes, byte: int) -> bool:
    return not source[_line_start(source, byte) : byte].strip()


def _text(source: bytes, start: int, end: int) -> str:
    return source[start:end].decode("utf-8", errors="replace")


def _name_of(node, lang: str) -> str:
    name = node.child_by_field_name("name")
    if name is not None:
        return name.text.decode("utf-8", errors="replace")
    if lang == "cpp":
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.type not in ("function_declarator",):
            declarator = declarator.child_by_field_name("declarator")
        if declarator is not None:
            inner = declarator.child_by_field_name("declarator")
            if inner is not None:
                return inner.text.decode("utf-8", errors="replace").split("::")[-1]
    if node.type == "init_declaration":
        return "init"
    for child in node.children:  # swift's simple_identifier, bash's word
        if child.type in ("simple_identifier", "word", "identifier"):
            return child.text.decode("utf-8", errors="replace")
    return ""


def _node_type(node, lang: str) -> str:
    """The node's type; a C++ definition without a return type is a constructor or
    destructor (the grammar has no node of its own for them)."""
    if lang == "cpp" and node.child_by_field_name("type") is None:
        return "constructor_declaration"
    return node.type


def _outer(node):
    """The definition with what belongs to its signature: decorators, templates, export."""
    while node.parent is not None and node.parent.type in WRAPPERS:
        node = node.parent
    return node


def _first_line_start(node):
    """Rust attributes (#[...]) are siblings before the function: they start its text."""
    start = node
    previous = node.prev_named_sibling
    while previous is not None and previous.type == "attribute_item":
        start = previous
        previous = previous.prev_named_sibling
    return start


def _python_docstring(body):
    first = body.named_children[0] if body.named_children else None
    if first is not None and first.type == "expression_statement" and first.named_child_count == 1:
        if first.named_children[0].type in ("string", "concatenated_string"):
            return first
    return None


def _leading_comment(comments_by_end_row: dict, source: bytes, first_row: int):
    """The run of full-line comments ending on the line above `first_row` (first, last)."""
    run = []
    row = first_row - 1
    while row in comments_by_end_row:
        comment = comments_by_end_row[row]
        run.append(comment)
        row = comment.start_point[0] - 1
    if not run:
        return None
    return run[-1], run[0]


def _collect(root, lang: str):
    functions, comments = [], {}
    stack = [root]
    types = FUNCTION_TYPES[lang]
    while stack:
        node = stack.pop()
        if node.type in COMMENT_TYPES:
            # A Rust line comment's node takes its newline: it ends at column 0 of the next row.
            row = node.end_point[0] - (node.end_point[1] == 0 and node.end_point[0] > node.start_point[0])
            comments.setdefault(row, node)
        elif node.type in types:
            functions.append(node)
        stack.extend(reversed(node.children))
    functions.sort(key=lambda n: n.start_byte)
    return functions, comments


def iter_pairs(text: str, lang: str) -> Iterator[Pair]:
    """Every function of `text` with a comment (or docstring) and a body, in source order;
    nested functions and methods included. No filter is applied (see reject_reason)."""
    source = text.encode("utf-8")
    tree = parser_for(lang).parse(source)
    functions, all_comments = _collect(tree.root_node, lang)
    # Full-line comments only, by the row they end on; a shebang describes no function.
    comments = {
        row: c
        for row, c in all_comments.items()
        if _only_space_before(source, c.start_byte) and not source[c.start_byte : c.start_byte + 2] == b"#!"
    }
    for node in functions:
        body = node.child_by_field_name("body")
        if body is None or body.type not in BODY_TYPES[lang]:
            continue
        head = _first_line_start(_outer(node))
        if not _only_space_before(source, head.start_byte):
            continue  # shares its first line with other code: no clean signature
        kind, comment_text, body_start, body_end = "comment", None, body.start_byte, body.end_byte
        if lang == "python":
            # tree-sitter's block takes the comments after its last statement; they are not
            # the body's (Python's ast ends the function at its last statement too).
            statements = [c for c in body.named_children if c.type not in COMMENT_TYPES]
            if not statements:
                continue
            body_end = statements[-1].end_byte
        if lang == "python":
            docstring = _python_docstring(body)
            if docstring is not None:
                kind = "docstring"
                comment_text = _text(source, docstring.start_byte, docstring.end_byte)
                rest = docstring.next_named_sibling
                if rest is None:
                    continue  # only a docstring: no body to predict
                body_start = (
                    _line_start(source, rest.start_byte)
                    if _only_space_before(source, rest.start_byte)
                    else rest.start_byte
                )
            elif _only_space_before(source, body.start_byte):
                body_start = _line_start(source, body.start_byte)
        start_byte = _line_start(source, head.start_byte)
        if comment_text is None:
            found = _leading_comment(comments, source, head.start_point[0])
            if found is None:
                continue
            first, last = found
            comment_text = _text(source, first.start_byte, last.end_byte)
            start_byte = _line_start(source, first.start_byte)
        signature = _text(source, head.start_byte, body.start_byte).rstrip()
        yield Pair(
            name=_name_of(node, lang),
            comment=comment_text,
            signature=signature,
            problem=_text(source, start_byte, body_start),
            solution=_text(source, body_start, body_end),
            start_byte=start_byte,
            body_start_byte=body_start,
            end_byte=body_end,
            start_line=source.count(b"\n", 0, start_byte) + 1,
            def_line=head.start_point[0] + 1,
            end_line=source.count(b"\n", 0, body_end) + 1,
            node_type=_node_type(node, lang),
            kind=kind,
        )


def reject_reason(pair: dict, settings: dict | None = None) -> str | None:
    """CodeSearchNet's filters (Husain et al. 2020, §2.2) on a mined record, or None when
    the pair is kept."""
    settings = {**FILTER_DEFAULTS, **(settings or {})}
    if len(_TOKEN.findall(pair["comment"])) < settings["min_comment_tokens"]:
        return "short_comment"
    if pair["end_line"] - pair["def_line"] + 1 < settings["min_function_lines"]:
        return "short_function"
    if settings["drop_test_functions"] and "test" in pair["name"].lower():
        return "test_function"
    if settings["drop_standard_methods"] and (
        pair["node_type"] in CONSTRUCTOR_TYPES or pair["name"] in STANDARD_METHODS
    ):
        return "standard_method"
    if not pair["solution"].strip():
        return "empty_body"
    return None


def overlaps(pair: Pair, seed_start_line: int, seed_end_line: int) -> bool:
    """Whether the pair's lines (comment to end) share a line with the seed snippet's."""
    return pair.start_line <= seed_end_line and seed_start_line <= pair.end_line


def mine_document(text: str, seed: dict) -> list[dict]:
    """The pairs of one seed document as records, unfiltered (the dataset's filters apply
    at selection: reject_reason)."""
    records = []
    for k, pair in enumerate(iter_pairs(text, seed["lang"])):
        records.append(
            {
                "pair_id": f"{seed['seed_id']}#{k}",
                "seed_id": seed["seed_id"],
                "corpus": seed["corpus"],
                "lang": seed["lang"],
                "document": seed["document"],
                "name": pair.name,
                "kind": pair.kind,
                "comment": pair.comment,
                "signature": pair.signature,
                "problem": pair.problem,
                "solution": pair.solution,
                "start_line": pair.start_line,
                "def_line": pair.def_line,
                "end_line": pair.end_line,
                "node_type": pair.node_type,
                "overlaps_seed": overlaps(pair, seed["start_line"], seed["end_line"]),
            }
        )
    return records


# --------------------------------------------------------------------------- selection


def priority_order(pairs: Iterable[dict], shuffle_seed: int) -> list[dict]:
    """Pairs overlapping a seed snippet first (in the order given: seed order, then source
    order), then the others shuffled by `shuffle_seed`, so that the rest spreads over every
    seed document and language instead of the first documents read."""
    pairs = list(pairs)
    first = [p for p in pairs if p["overlaps_seed"]]
    rest = [p for p in pairs if not p["overlaps_seed"]]
    random.Random(shuffle_seed).shuffle(rest)
    return first + rest


def select_pairs(
    pairs: Iterable[dict], size: int | None, shuffle_seed: int, contaminated=None, filters: dict | None = None
) -> tuple[list[dict], list[dict], dict]:
    """(kept, rejected, counts): the first `size` pairs (all when None) in priority order,
    skipping rejected ones, exact duplicates (same problem and solution: first kept) and
    those `contaminated(pair)` flags (so that the dataset still has `size` pairs after the
    decontamination rules, which then find nothing)."""
    kept, rejected = [], []
    seen: set[tuple[str, str]] = set()
    counts = {"candidates": 0, "overlapping": 0, "kept_overlapping": 0, "filtered": {}}
    for pair in priority_order(pairs, shuffle_seed):
        counts["candidates"] += 1
        counts["overlapping"] += bool(pair["overlaps_seed"])
        if size is not None and len(kept) >= size:
            continue
        reason = reject_reason(pair, filters)
        key = (pair["problem"], pair["solution"])
        if reason is None and key in seen:
            reason = "duplicate"
        if reason is None and contaminated is not None and contaminated(pair):
            reason = "contaminated"
        if reason is not None:
            counts["filtered"][reason] = counts["filtered"].get(reason, 0) + 1
            rejected.append({**pair, "reject_rule": reason})
            continue
        seen.add(key)
        kept.append(pair)
        counts["kept_overlapping"] += bool(pair["overlaps_seed"])
    if size is not None and len(kept) < size:
        raise CommentPairsError(
            f"only {len(kept)} comment-function pairs are usable ({counts['candidates']} mined, "
            f"filtered {counts['filtered']}), fewer than the {size} asked for: lower the "
            "dataset's comment_pairs.size or add seed documents"
        )
    counts["kept"] = len(kept)
    return kept, rejected, counts


def as_samples(pairs: list[dict], dataset: str) -> list[dict]:
    """Kept pairs as curated samples: problem/solution, numbered like every dataset."""
    samples = []
    for index, pair in enumerate(pairs):
        sample = dict(pair)
        sample.update(raw_index=index, index=index, dataset=dataset, is_python=pair["lang"] == "python")
        samples.append(sample)
    return samples
