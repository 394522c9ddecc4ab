"""Split a teacher response into its [Problem Description] and [Solution] sections.

Two parsers (``teachers.<name>.parser``):

- ``magicoder`` (default): the authors' ``parse_problem_solution`` (generate_data.py),
  line-based: the first line that contains "[problem description]" and the first that
  contains "[solution]" (any case) start the sections; those whole lines are dropped; the
  problem is the lines between, the solution every line after, both stripped.
- ``lenient`` (this project's first parser, :func:`parse_response`): headers may carry
  markdown decoration (`**[Solution]**`, `## [Problem Description]:`), text after a
  header on its line is kept, and the solution ends where a second problem begins.

The problem must come first. A response that cannot be split is reported with a reason,
never dropped.

Templates with ``tests_section: true`` (oss-instruct-chat-tests-v1, beyond the paper) ask
for a third section, [Tests]; :func:`split_tests` cuts it off the parsed solution. A
missing or malformed tests section never makes a response unparseable: the sample keeps
its problem and solution, `tests` is None and `tests_reason` says why (verification then
records it as ``no_tests``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A header is the bracketed name plus the decoration around it on its line.
_DECOR = r"[ \t#*_>`:.-]*"
PROBLEM_HEADER = re.compile(_DECOR + r"\[\s*problem\s+description\s*\]" + _DECOR, re.IGNORECASE)
SOLUTION_HEADER = re.compile(_DECOR + r"\[\s*solution\s*\]" + _DECOR, re.IGNORECASE)

# Reasons, also the values of `reason` in generation records.
MISSING_PROBLEM = "missing [Problem Description] section"
MISSING_SOLUTION = "missing [Solution] section"
SOLUTION_FIRST = "[Solution] comes before [Problem Description]"
EMPTY_PROBLEM = "empty problem"
EMPTY_SOLUTION = "empty solution"
EMPTY_RESPONSE = "empty response"
SAME_LINE = "[Problem Description] and [Solution] on the same line"
# `tests_reason` values (templates with a tests section).
MISSING_TESTS = "missing [Tests] section"
EMPTY_TESTS = "empty tests"
TESTS_WITHOUT_CODE = "[Tests] section has no code"
UNCLOSED_TESTS_FENCE = "[Tests] code block is not closed"
PARSERS = ("magicoder", "lenient")


@dataclass(frozen=True)
class Parsed:
    problem: str | None
    solution: str | None
    reason: str | None  # None when both sections were found and are non-empty

    @property
    def ok(self) -> bool:
        return self.reason is None


def _clean(section: str) -> str:
    # Drop decoration left at the edges: a bold marker or rule line before the next header.
    section = section.strip()
    section = re.sub(r"^(?:(?:\*\*|__|:)\s*)+", "", section)
    section = re.sub(r"(?:\s*(?:\*\*|__|-{3,}))+$", "", section)
    return section.strip()


def parse_response(text: str | None) -> Parsed:
    if text is None or not text.strip():
        return Parsed(None, None, EMPTY_RESPONSE)
    problem_match = PROBLEM_HEADER.search(text)
    solution_match = SOLUTION_HEADER.search(text, problem_match.end() if problem_match else 0)
    if problem_match is None:
        first_solution = SOLUTION_HEADER.search(text)
        return Parsed(None, _clean(text[first_solution.end() :]) if first_solution else None, MISSING_PROBLEM)
    if solution_match is None:
        if SOLUTION_HEADER.search(text, 0, problem_match.start()):
            return Parsed(None, None, SOLUTION_FIRST)
        return Parsed(_clean(text[problem_match.end() :]), None, MISSING_SOLUTION)
    problem = _clean(text[problem_match.end() : solution_match.start()])
    solution_text = text[solution_match.end() :]
    # A model that starts a second example after its solution: keep the first pair only.
    next_problem = PROBLEM_HEADER.search(solution_text)
    if next_problem:
        solution_text = solution_text[: next_problem.start()]
    solution = _clean(solution_text)
    if not problem:
        return Parsed(problem, solution, EMPTY_PROBLEM)
    if not solution:
        return Parsed(problem, solution, EMPTY_SOLUTION)
    return Parsed(problem, solution, None)


def parse_response_magicoder(text: str | None) -> Parsed:
    """The authors' line-based parse (see the module docstring)."""
    if text is None or not text.strip():
        return Parsed(None, None, EMPTY_RESPONSE)
    lines = text.splitlines(keepends=True)
    problem_at = next((i for i, line in enumerate(lines) if "[problem description]" in line.lower()), None)
    solution_at = next((i for i, line in enumerate(lines) if "[solution]" in line.lower()), None)
    if problem_at is None:
        return Parsed(None, None, MISSING_PROBLEM)
    if solution_at is None:
        return Parsed("".join(lines[problem_at + 1 :]).strip(), None, MISSING_SOLUTION)
    if problem_at >= solution_at:
        return Parsed(None, None, SAME_LINE if problem_at == solution_at else SOLUTION_FIRST)
    problem = "".join(lines[problem_at + 1 : solution_at]).strip()
    solution = "".join(lines[solution_at + 1 :]).strip()
    if not problem:
        return Parsed(problem, solution, EMPTY_PROBLEM)
    if not solution:
        return Parsed(problem, solution, EMPTY_SOLUTION)
    return Parsed(problem, solution, None)


# A [Tests] header: the bracketed name (Test, Tests, Test Cases) alone on its line, with
# markdown decoration, outside any code block.
TESTS_HEADER = re.compile(r"^" + _DECOR + r"\[\s*tests?(?:\s+cases?)?\s*\]" + _DECOR + r"$", re.IGNORECASE)
FENCE = re.compile(r"^\s*(```+|~~~+)")


@dataclass(frozen=True)
class SplitTests:
    solution: str
    tests: str | None
    reason: str | None  # None when a non-empty tests section with a closed code block was found


def split_tests(solution: str) -> SplitTests:
    """Cut a [Tests] section off a parsed solution: the first header line outside a code
    block starts it (a `[tests]` table inside a TOML block is not one). The tests are the
    stripped text after the header (prose and fences kept: ossinstruct.curate.verify takes
    the code out); a tests section without a code block, or whose block is not closed, is
    malformed: tests None, with the reason."""
    lines = solution.splitlines(keepends=True)
    fence = None
    for i, line in enumerate(lines):
        opened = FENCE.match(line)
        if opened:
            marker = opened.group(1)
            if fence is None:
                fence = marker
            elif marker.startswith(fence[0]) and len(marker) >= len(fence) and not line.strip()[len(marker) :]:
                fence = None
            continue
        if fence is None and TESTS_HEADER.match(line.strip()):
            head = "".join(lines[:i]).strip()
            tests = "".join(lines[i + 1 :]).strip()
            if not tests:
                return SplitTests(head, None, EMPTY_TESTS)
            fences = [ln for ln in tests.splitlines() if FENCE.match(ln)]
            if not fences:
                return SplitTests(head, None, TESTS_WITHOUT_CODE)
            if len(fences) % 2:
                return SplitTests(head, None, UNCLOSED_TESTS_FENCE)
            return SplitTests(head, tests, None)
    return SplitTests(solution, None, MISSING_TESTS)


def parser_for(name: str):
    """The parse function of ``teachers.<name>.parser``."""
    if name == "magicoder":
        return parse_response_magicoder
    if name == "lenient":
        return parse_response
    raise ValueError(f"unknown parser {name!r}; known: {', '.join(PARSERS)}")
