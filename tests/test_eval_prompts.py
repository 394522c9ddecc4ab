"""Evaluation prompts and post-processing on the real HumanEval+ / MBPP+ release files.

Expected strings are written out in full here (not rebuilt with the module's templates), so
a change to a single character of the protocol fails a test.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_shared

from ossinstruct.benchmarks.evalplus.plugin import PROMPT_STYLES
from ossinstruct.evaluate.prompts import EvalPrompt, build_prompt, postprocess

BENCHMARKS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks"
REPO = Path(__file__).resolve().parent.parent

HEADER = (
    "You are an exceptionally intelligent coding assistant that consistently delivers "
    "accurate and reliable responses to user instructions.\n\n@@ Instruction\n"
)

# HumanEval/0's prompt, stripped.
HE0 = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """'''

COMPLETION_EOS = ["<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint("]


def _rows(name: str) -> list[dict]:
    path = BENCHMARKS_DIR / name
    require_shared(name)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def humaneval() -> dict[str, dict]:
    return {row["task_id"]: row for row in _rows("HumanEvalPlus.jsonl.gz")}


@pytest.fixture(scope="module")
def mbpp() -> dict[str, dict]:
    return {row["task_id"]: row for row in _rows("MbppPlus.jsonl.gz")}


# ------------------------------------------------------------------------ prompts


def test_humaneval_instruct_prompt_is_magicoders(humaneval):
    problem = humaneval["HumanEval/0"]
    assert problem["prompt"] == HE0 + "\n"  # the file: stripping drops one trailing newline
    got = build_prompt("humaneval", problem, "instruct")
    expected = (
        HEADER
        + "Write a solution to the following problem:\n```python\n"
        + HE0
        + "\n```\n\n@@ Response\n```python\n"
        + HE0
    )
    assert got == EvalPrompt(text=expected, response_prefix="```python\n" + HE0, stop=["```"])


def test_mbpp_instruct_prompt_is_magicoders(mbpp):
    problem = mbpp["Mbpp/2"]
    assert problem["prompt"] == (
        '"""\nWrite a function to find the shared elements from the given two lists.\n'
        'assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"""\n'
    )
    got = build_prompt("mbpp", problem, "instruct")
    expected = (
        HEADER + "Write a function to find the shared elements from the given two lists. "
        "Your code should satisfy the following assertion:\n```python\n"
        "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n```"
        "\n\n@@ Response\n```python"
    )
    assert got == EvalPrompt(text=expected, response_prefix="```python", stop=["```"])


def test_mbpp_instruction_gets_a_full_stop_only_when_missing():
    problem = {"task_id": "Mbpp/x", "prompt": '"""\nWrite a function to add two numbers\nassert add(1, 2) == 3\n"""\n'}
    text = build_prompt("mbpp", problem, "instruct").text
    assert "Write a function to add two numbers. Your code should satisfy" in text
    problem["prompt"] = problem["prompt"].replace("numbers\n", "numbers.\n")
    text = build_prompt("mbpp", problem, "instruct").text
    assert "numbers. Your code" in text and ".." not in text


def test_completion_prompts_are_evalplus_direct_completion(humaneval, mbpp):
    got = build_prompt("humaneval", humaneval["HumanEval/0"], "completion")
    assert got.text == HE0 + "\n" and got.response_prefix == ""
    assert got.stop == COMPLETION_EOS + ["\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "]
    got = build_prompt("mbpp", mbpp["Mbpp/2"], "completion")
    assert got.text == mbpp["Mbpp/2"]["prompt"].strip() + "\n"
    assert got.text.startswith('"""\nWrite a function') and got.text.endswith('"""\n')
    assert got.stop == COMPLETION_EOS + ['\n"""', "\nassert"]


def test_every_real_task_builds_in_both_styles(humaneval, mbpp):
    for benchmark, rows in (("humaneval", humaneval), ("mbpp", mbpp)):
        for problem in rows.values():
            for style in PROMPT_STYLES:
                prompt = build_prompt(benchmark, problem, style)
                assert prompt.text.endswith(prompt.response_prefix), problem["task_id"]
            if benchmark == "mbpp":
                # The assertion shown is the one in the task's prompt.
                first_assert = problem["prompt"].split("assert", 1)[1].split('"""')[0].strip()
                instruct = build_prompt(benchmark, problem, "instruct").text
                assert "```python\nassert " + first_assert + "\n```" in instruct
    assert len(humaneval) == 164 and len(mbpp) == 378


def test_unknown_benchmark_style_and_malformed_mbpp_prompt(humaneval):
    with pytest.raises(ValueError, match="unknown benchmark 'gsm8k'"):
        build_prompt("gsm8k", humaneval["HumanEval/0"], "instruct")
    with pytest.raises(ValueError, match="unknown prompt style 'chat'"):
        build_prompt("humaneval", humaneval["HumanEval/0"], "chat")
    with pytest.raises(ValueError, match="unknown prompt style 'chat'"):
        postprocess("humaneval", humaneval["HumanEval/0"], "chat", "x")
    no_quotes = {"task_id": "Mbpp/900", "prompt": "Write a function.\nassert f() == 1\n"}
    with pytest.raises(ValueError, match="Mbpp/900"):
        build_prompt("mbpp", no_quotes, "instruct")
    no_assert = {"task_id": "Mbpp/901", "prompt": '"""\nWrite a function.\n"""\n'}
    with pytest.raises(ValueError, match="Mbpp/901.*no assertion"):
        build_prompt("mbpp", no_assert, "instruct")
    # Completion style does not need the MBPP structure.
    assert build_prompt("mbpp", no_assert, "completion").text == no_assert["prompt"]


# ------------------------------------------------------------------------ postprocess


def _run(code: str, call: str):
    namespace: dict = {}
    exec(compile(code, "<solution>", "exec"), namespace)  # noqa: S102 - our own test code
    return eval(call, namespace)  # noqa: S307


def test_instruct_postprocess_cuts_at_the_fence_and_sanitizes(humaneval):
    problem = humaneval["HumanEval/0"]
    body = (
        "\n    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n"
        "            if abs(a - b) < threshold:\n                return True\n"
        "    return False\n"
    )
    generated = body + "\n\nprint(has_close_elements([1.0, 2.0], 0.5))\n```\n\nThis loops.\n```"
    out = postprocess("humaneval", problem, "instruct", generated)
    assert out["completion"] == body + "\n\nprint(has_close_elements([1.0, 2.0], 0.5))\n"
    assert out["solution"] == problem["prompt"] + out["completion"]  # the unstripped prompt
    sanitized = out["sanitized"]
    assert "print(" not in sanitized and "This loops" not in sanitized
    assert sanitized.startswith("from typing import List\n")
    assert "def has_close_elements(numbers: List[float], threshold: float) -> bool:" in sanitized
    assert _run(sanitized, "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)") is True
    assert _run(sanitized, "has_close_elements([1.0, 2.0, 3.0], 0.5)") is False


def test_instruct_postprocess_mbpp_and_a_truncated_answer(mbpp):
    problem = mbpp["Mbpp/2"]
    generated = (
        "\ndef similar_elements(a, b):\n    return tuple(set(a) & set(b))\n\n"
        "assert set(similar_elements((3, 4), (4, 5))) == {4}\n```\nDone."
    )
    out = postprocess("mbpp", problem, "instruct", generated)
    assert out["completion"] == generated.split("```")[0]
    assert out["solution"] == problem["prompt"] + out["completion"]
    assert out["sanitized"] == ("def similar_elements(a, b):\n    return tuple(set(a) & set(b))")
    # No closing fence (the model ran out of tokens): everything is the completion.
    out = postprocess("mbpp", problem, "instruct", "\ndef similar_elements(a, b):\n    return (")
    assert out["completion"] == "\ndef similar_elements(a, b):\n    return ("
    # evalplus keeps the longest syntactically valid span: here the prompt's docstring.
    assert out["sanitized"] == problem["prompt"].strip()


def test_completion_postprocess_cuts_at_stop_strings_and_expands_tabs(humaneval, mbpp):
    problem = humaneval["HumanEval/0"]
    generated = (
        "\tfor i, a in enumerate(numbers):\n\t\tfor b in numbers[i + 1:]:\n"
        "\t\t\tif abs(a - b) < threshold:\n\t\t\t\treturn True\n\treturn False\n"
        "\n\ndef check():\n    pass\n"
    )
    out = postprocess("humaneval", problem, "completion", generated)
    assert out["completion"] == (
        "    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n"
        "            if abs(a - b) < threshold:\n                return True\n"
        "    return False\n\n"
    )
    assert out["solution"] == HE0 + "\n" + out["completion"]
    assert _run(out["sanitized"], "has_close_elements([1.0, 1.05], 0.1)") is True

    problem = mbpp["Mbpp/2"]
    generated = 'def similar_elements(a, b):\n    return tuple(set(a) & set(b))\nassert x\n"""'
    out = postprocess("mbpp", problem, "completion", generated)
    assert out["completion"] == "def similar_elements(a, b):\n    return tuple(set(a) & set(b))"
    assert out["solution"] == problem["prompt"].strip() + "\n" + out["completion"]
    assert _run(out["sanitized"], "sorted(similar_elements((1, 2, 3), (3, 2)))") == [2, 3]
    # The earliest stop string wins, whichever comes first in the stop list.
    out = postprocess("mbpp", problem, "completion", "x = 1\nprint(x)\nassert x\n")
    assert out["completion"] == "x = 1"


def test_sanitizing_leaves_evalplus_data_unimported():
    # evaluation.data sets HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH before evalplus.data
    # is first imported; sanitizing a sample first must not freeze them (fresh process:
    # other tests may have imported evalplus.data already).
    code = (
        "import os, sys\n"
        "from ossinstruct.benchmarks.evalplus.plugin import sanitize_solution\n"
        "assert sanitize_solution('def f():\\n    return 1\\nprint(f())\\n', 'f') == "
        "'def f():\\n    return 1'\n"
        "assert not [m for m in sys.modules if m.startswith('evalplus.data')], sys.modules\n"
        "os.environ['HUMANEVAL_OVERRIDE_PATH'] = '/some/file.jsonl.gz'\n"
        "from evalplus.data import humaneval\n"
        "assert humaneval.HUMANEVAL_OVERRIDE_PATH == '/some/file.jsonl.gz'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_codellama_python_completion_paper_samples_get_evalplus_1895d2f_tab_replacement(monkeypatch, tmp_path):
    """evalplus at the authors' pin ran CodeLlama-Python through its vLLM decoder, which
    replaced every tab of the output with four spaces (codegen/model.py); DeepSeek-Coder base
    went through its HF decoder, which did not. Under completion-paper, the generation
    identity of config.yaml's CodeLlama row says so, and the samples get it."""
    from ossinstruct import workflow as wf
    from ossinstruct.config import load_config, validate_config
    from ossinstruct.evaluate import steps

    config = load_config(str(Path(__file__).parents[1] / "config.yaml"))
    assert wf.eval_generation_identity(config, "CodeLlama-Python-7B", "humaneval")["tabs_to_spaces"] is True
    assert wf.eval_generation_identity(config, "CodeLlama-Python-7B", "mbpp")["tabs_to_spaces"] is True
    assert "tabs_to_spaces" not in wf.eval_generation_identity(config, "DeepSeek-Coder-Base-6.7B", "humaneval")
    assert "tabs_to_spaces" not in wf.eval_generation_identity(config, "CodeLlama-Python-7B", "multipl-e")
    assert "tabs_to_spaces" not in wf.eval_generation_identity(config, "released-Magicoder-S-CL-7B", "humaneval")
    # The option overrides the model id, either way.
    models = [dict(m) for m in config["evaluation"]["models"]]
    models[0]["tabs_to_spaces"], models[1]["tabs_to_spaces"] = False, True
    changed = validate_config({**config, "evaluation": {**config["evaluation"], "models": models}})
    assert "tabs_to_spaces" not in wf.eval_generation_identity(changed, "CodeLlama-Python-7B", "humaneval")
    assert wf.eval_generation_identity(changed, "DeepSeek-Coder-Base-6.7B", "humaneval")["tabs_to_spaces"] is True

    problem = {"task_id": "HumanEval/0", "prompt": "def f(x):\n", "entry_point": "f"}
    text = "\tif x:\n\t\treturn 1\n\treturn 2\n</s>junk"
    paper = postprocess("humaneval", problem, "completion-paper", text, tabs_to_spaces=True)
    assert paper["completion"] == "    if x:\n        return 1\n    return 2\n"
    assert paper["solution"] == problem["prompt"] + paper["completion"]
    assert (
        postprocess("humaneval", problem, "completion-paper", text)["completion"]
        == "\tif x:\n\t\treturn 1\n\treturn 2\n"
    )

    # The rule's step hands the identity's flag to the generation.
    seen = {}
    monkeypatch.setattr(
        "ossinstruct.evaluate.generate.generate_samples", lambda problems, **kwargs: seen.update(kwargs) or {}
    )
    identity = wf.eval_generation_identity(config, "CodeLlama-Python-7B", "humaneval")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps(problem) + "\n")
    steps.eval_generate_step(config, identity, tasks_path=tasks, out_path=tasks.with_name("s.jsonl"))
    assert seen["tabs_to_spaces"] is True and seen["style"] == "completion-paper"
