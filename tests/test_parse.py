"""Parsing teacher responses into problem and solution: realistic and malformed inputs."""

import pytest

from ossinstruct.generate import parse
from ossinstruct.generate.parse import parse_response

# What gpt-3.5-turbo answers to the OSS-Instruct prompt, in its usual variants.
GPT_BOLD = """**[Problem Description]**

You are given a list of integers. Write a function `second_largest(nums)` that returns
the second largest distinct value, or `None` if there is none.

**[Solution]**

```python
def second_largest(nums):
    distinct = sorted(set(nums), reverse=True)
    return distinct[1] if len(distinct) > 1 else None
```

The function sorts the distinct values in descending order."""

GPT_HEADINGS = """## [Problem Description]:
Implement a shell script that counts lines.

## [Solution]:
```bash
wc -l "$1"
```"""

LOWERCASE_PLAIN = "[problem description]\nReverse a string.\n[solution]\ns[::-1]"


@pytest.mark.parametrize(
    "text, problem_start, solution_start",
    [
        (GPT_BOLD, "You are given a list of integers.", "```python\ndef second_largest"),
        (GPT_HEADINGS, "Implement a shell script", "```bash"),
        (LOWERCASE_PLAIN, "Reverse a string.", "s[::-1]"),
        ("[ Problem  Description ]\nP\n\n---\n[Solution]\nS", "P", "S"),
    ],
)
def test_well_formed(text, problem_start, solution_start):
    parsed = parse_response(text)
    assert parsed.ok, parsed.reason
    assert parsed.problem.startswith(problem_start)
    assert parsed.solution.startswith(solution_start)
    assert "[Solution]" not in parsed.problem and "**" not in parsed.problem[-3:]


def test_bold_markers_do_not_leak_into_sections():
    parsed = parse_response(GPT_BOLD)
    assert not parsed.problem.endswith("**")
    assert parsed.solution.endswith("descending order.")


def test_a_second_example_is_cut_off():
    text = GPT_HEADINGS + "\n\n[Problem Description]\nAnother problem\n[Solution]\nmore"
    parsed = parse_response(text)
    assert parsed.ok
    assert "Another problem" not in parsed.solution
    assert parsed.solution.rstrip().endswith("```")


def test_code_with_brackets_is_kept():
    text = "[Problem Description]\nIndex lists.\n[Solution]\nxs = [1, 2]\nprint(xs[0])  # [Solution] ref"
    parsed = parse_response(text)
    assert parsed.ok
    assert parsed.solution.startswith("xs = [1, 2]")


@pytest.mark.parametrize(
    "text, reason",
    [
        (None, parse.EMPTY_RESPONSE),
        ("   \n", parse.EMPTY_RESPONSE),
        ("Here is a problem about sorting. def f(): pass", parse.MISSING_PROBLEM),
        ("[Solution]\ncode only", parse.MISSING_PROBLEM),
        ("[Problem Description]\nWrite a parser for INI files.", parse.MISSING_SOLUTION),
        ("[Solution]\nx = 1\n[Problem Description]\nfoo", parse.SOLUTION_FIRST),
        ("[Problem Description]\n\n[Solution]\nx = 1", parse.EMPTY_PROBLEM),
        ("[Problem Description]\nDo X.\n[Solution]\n   **", parse.EMPTY_SOLUTION),
    ],
)
def test_malformed(text, reason):
    parsed = parse_response(text)
    assert not parsed.ok
    assert parsed.reason == reason


def test_truncated_mid_solution_still_splits():
    # A cut-off answer parses; the driver marks it truncated from finish_reason.
    parsed = parse_response("[Problem Description]\nSum.\n[Solution]\n```python\ndef total(xs):\n    return su")
    assert parsed.ok and parsed.solution.endswith("return su")
