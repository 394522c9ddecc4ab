"""DS-1000, completion (paper Table 3) and insertion (paper Table 9, ``ds1000-insertion``).

Lai et al., "DS-1000: A Natural and Reliable Benchmark for Data Science Code Generation",
ICML 2023, arXiv 2211.11501.

    @inproceedings{lai2023ds1000, title={DS-1000: A Natural and Reliable Benchmark for Data
      Science Code Generation}, author={Lai, Yuhang and Li, Chengxi and Wang, Yiming and
      Zhang, Tianyi and Zhong, Ruiqi and Zettlemoyer, Luke and Yih, Wen-tau and Fried,
      Daniel and Wang, Sida and Yu, Tao}, booktitle={ICML}, year={2023}}

Data: xlangai/DS-1000 at a pinned commit, or its file ds1000.jsonl.gz (the same 1000 rows;
../shared/benchmarks here). Rows: prompt, reference_code, code_context, metadata
(problem_id, library, ...). Decontamination strings: the prompt up to its solution marker
(:func:`ds1000_problem`; unchanged by the evaluation below).

Completion (``ds1000``, Table 3: temperature 0.2, top_p 0.5, max_length 1024 = prompt +
completion tokens, 40 samples, pass@1 per library and overall):

* ``instruct``: the authors' experiments/ds_1000.py (ise-uiuc/magicoder): the problem is
  split into an instruction (the text before the last "A:", without "Problem:") and a
  response prefix (the problem's code, its "result = ... # put solution in this variable"
  line as a comment, then "# Solution"), both with <code>/</code> turned into Markdown
  fences, in the Magicoder template; the answer is cut at the first closing fence. The
  Matplotlib problems ("# SOLUTION START") become "Write a solution to the following
  problem:" around their code. :func:`instruct_parts` re-implements their parsing, with
  their assertions as errors naming the problem.
* ``completion`` (base models): the prompt exactly as DS-1000 gives it, generation stopped
  at DS-1000's own stop strings ``</code>`` and ``# SOLUTION END`` (its run_inference
  scripts), the answer cleaned by DS-1000's postprocess (test_ds1000.py: cut at </code>,
  drop ```python, cut at ```, cut at "\\nEND SOLUTION", drop <code>).
* ``completion-paper``: the same as ``completion`` (the paper evaluates base models "with
  their preferred prompt formats", which for DS-1000 is its own prompt).

Insertion (``ds1000-insertion``, Table 9, the same decoding; no Matplotlib problems, as the
authors' script skips them): a fill-in-the-middle prompt in the evaluated model's FIM
tokens, for every prompt style (the authors give base and instruction models the same
infilling prompt). DS-1000's original insertion-format files are not reachable, so the
prefix and the suffix are derived from this data's (completion-format) prompt, see
:func:`insertion_parts`:

* Problems whose prompt ends "</code>\\n<instruction lines>\\nBEGIN SOLUTION\\n<code>\\n"
  (774 of the 845): prefix = the prompt up to that "</code>" (so the hole is in the code
  block of the problem's set-up code, where the authors' preprocess_insertion_prompt puts
  it), plus each instruction line ("result = ... # put solution in this variable") as a
  "# " comment, as their completion preprocessing renders that line;
* function problems (prompt ending "### BEGIN SOLUTION\\n", 71): prefix = the whole prompt;
* then, as preprocess_insertion_prompt does: prefix stripped + "\\n", <code> and </code>
  turned into fences; suffix = "\\n" (the original files' trailing code block after "END
  SOLUTION" is not in this data, and DS-1000's exec_context lines after [insert] are its
  test harness, not problem text, so nothing is invented for it).

The FIM tokens are found in the tokenizer's vocabulary: DeepSeek-Coder's
<｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜>, StarCoder's
<fim_prefix>prefix<fim_suffix>suffix<fim_middle>, CodeLlama's ▁<PRE>prefix▁<SUF>suffix▁<MID>
(the authors' llm_wrapper forms). The answer is cut at the first fence, as the authors'
script cuts insertion answers too.

Execution (both): DS-1000's test program (ossinstruct.benchmarks.ds1000.execute), in the
sandbox, under DS-1000's pinned environment (ossinstruct.benchmarks.ds1000.environment), 120 s a
program. Statuses: pass, fail, timeout, crashed (the sample killed its own process), and
sandbox_error (the sandbox itself failed).

``limit``: a limit of N takes N problems spread over the libraries: the libraries take
turns (in the order of ``variants``), each giving its next problem in file order, until N
are taken (a library with none left is skipped); the tasks are written in file order. So
N >= 7 (6 for insertion) covers every library.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from ossinstruct.benchmarks.base import (
    Benchmark,
    EvalPrompt,
    ScoringCost,
    magicoder_prompt,
    require_fields,
    row_task_id,
)

log = logging.getLogger("ossinstruct.benchmarks.ds1000")

_SOLUTION_MARKERS = ("BEGIN SOLUTION", "SOLUTION START")

# metadata.library -> the paper's column key (paper_results.yaml), in Table 3's order.
LIBRARIES = {
    "Matplotlib": "matplotlib",
    "Numpy": "numpy",
    "Pandas": "pandas",
    "Pytorch": "pytorch",
    "Scipy": "scipy",
    "Sklearn": "sklearn",
    "Tensorflow": "tensorflow",
}
ROW_FIELDS = ("prompt", "reference_code", "code_context", "metadata")
PROMPT_STYLES = ("instruct", "completion", "completion-paper")
# DS-1000's stop strings (its inference scripts' stop=[...]).
DS1000_STOP = ["</code>", "# SOLUTION END"]
CODE_FENCE = "```"
# Paper Tables 3 and 9 (following WizardCoder): max_length bounds prompt + completion tokens.
SAMPLING = {"temperature": 0.2, "top_p": 0.5, "max_length": 1024, "n_samples": 40}
# The file of the hub revision's rows, looked for where benchmark data lies offline.
OFFLINE_FILE = "ds1000.jsonl.gz"
REVISION = "4416080ac5cb80bdf7576aefb8f9a0b4d5426a44"
# The release this module reads, and the one the paper scored: the authors' experiments/
# ds_1000.py imports the original release (`from ds1000 import DS1000Dataset`, HKUNLP/DS-1000,
# 2022) with its own harness, Completion/Insertion prompt files and library versions;
# xlangai/DS-1000 (2024) reformatted it (one code_context harness per problem, some problems fixed).
# One sample's job in a warm worker, per library (bench/ds1000_scoring.py; docs/benchmarks/multipl-e.md, "Sizing
# the scoring jobs"); the share of samples assumed to run into the time limit; a worker's
# memory (a zygote holding DS-1000's libraries plus its sample); the most workers per job;
# the 1000 problems by library (ossinstruct/evaluate/scoring_cost.py).
PROGRAM_COST_S = {
    "matplotlib": 3.09,
    "numpy": 0.13,
    "pandas": 0.23,
    "pytorch": 3.34,
    "scipy": 0.15,
    "sklearn": 0.25,
    "tensorflow": 0.35,
}
RELEASE_TASKS = {
    "matplotlib": 155,
    "numpy": 220,
    "pandas": 291,
    "pytorch": 68,
    "scipy": 106,
    "sklearn": 115,
    "tensorflow": 45,
}
TIMEOUT_FRACTION = 0.005
WORKER_MB = 1500
MAX_CPUS = 16
RELEASE = "2024 reformat (xlangai/DS-1000)"
PAPER_RELEASE = "2022 original (HKUNLP/DS-1000)"
RELEASE_NOTE = (
    "{model} on {name}: scored on DS-1000's 2024 reformat (xlangai/DS-1000 at 4416080a: a new code_context test "
    "harness, some problems fixed; insertion prompts rebuilt from its rows, see fim_format in the tasks file); the "
    "paper used the original 2022 release (HKUNLP/DS-1000, its own harness and library versions)."
)


class Ds1000PromptError(ValueError):
    """A DS-1000 prompt is not in the shape the authors' preprocessing expects."""


def ds1000_problem(prompt: str) -> str:
    """A DS-1000 prompt up to the line of its solution marker ("BEGIN SOLUTION", or
    "# SOLUTION START" in the Matplotlib problems), as StarCoder's decontamination cut it:
    what follows is the empty code cell the model fills in, which no sample reproduces."""
    for marker in _SOLUTION_MARKERS:
        cut = prompt.find(marker)
        if cut >= 0:
            return prompt[: prompt.rfind("\n", 0, cut) + 1]
    return prompt


def library_of(row: dict) -> str:
    """The paper's column key of a row's library ("Pandas" -> "pandas")."""
    library = row.get("metadata", {}).get("library") if isinstance(row.get("metadata"), dict) else None
    library = library or row.get("library")
    if library not in LIBRARIES and library not in LIBRARIES.values():
        raise ValueError(f"DS-1000 row {row.get('task_id', '?')}: unknown library {library!r}")
    return LIBRARIES.get(library, library)


def _fences(text: str) -> str:
    return text.replace("<code>", "```python").replace("</code>", "```")


def instruct_parts(prompt: str, task_id: str = "?") -> tuple[str, str]:
    """(instruction, response prefix) of a DS-1000 prompt, as the authors'
    preprocess_completion_prompt (experiments/ds_1000.py) computes them."""

    def fail(why: str):
        raise Ds1000PromptError(f"DS-1000 problem {task_id}: {why} (the authors' preprocessing expects it)")

    if "SOLUTION START" in prompt:  # Matplotlib: code with a comment saying what to plot
        if "<code>" in prompt or "</code>" in prompt or not prompt.strip().endswith("# SOLUTION START"):
            fail("a '# SOLUTION START' prompt must be plain code ending with that line")
        code_prefix = prompt[: prompt.rindex("# SOLUTION START")].strip()
        instruction = f"Write a solution to the following problem:\n```python\n{code_prefix}\n```"
        response = f"```python\n{code_prefix}\n# Solution\n"
        return _fences(instruction), _fences(response)
    if "A:" not in prompt:
        fail("no 'A:' line")
    answer_index = prompt.rindex("A:")
    answer = prompt[answer_index + 2 :].strip()
    instruction = prompt[:answer_index].strip()
    if instruction.startswith("Problem:"):
        instruction = instruction[len("Problem:") :].strip()
    lines = answer.splitlines(keepends=True)
    if "### BEGIN SOLUTION" in prompt:  # a function to complete
        if prompt.count("<code>") != 1 or prompt.count("</code>") != 0 or len(lines) < 3:
            fail("a function problem has one open <code> block")
        return_line, result_line, begin_line = lines[-3:]
        if not (
            return_line.strip().startswith("# return")
            and result_line.strip().startswith("# ")
            and begin_line.strip() == "### BEGIN SOLUTION"
        ):
            fail("a function problem ends with '# return ...', '# result = ...', '### BEGIN SOLUTION'")
        response = "".join(lines[:-3]).strip()
        hint = begin_line.replace("###", "#").replace("BEGIN SOLUTION", "Solution")
        response += f"\n{hint}\n"
    else:
        if "BEGIN SOLUTION" not in prompt or prompt.count("<code>") != 2 or prompt.count("</code>") != 1:
            fail("a code problem has a closed <code> block, then BEGIN SOLUTION and an open one")
        if prompt.index("</code>") > prompt.index("<code>", prompt.index("<code>") + 1) or len(lines) < 4:
            fail("the problem's code block closes before the solution block opens")
        block_end, instruction_line, begin_line, block_start = lines[-4:]
        if begin_line.strip() != "BEGIN SOLUTION" or block_start.strip() != "<code>":
            fail("the prompt ends with 'BEGIN SOLUTION' and '<code>'")
        if block_end.strip() != "</code>":
            if len(lines) >= 6 and lines[-6].strip() == "</code>":
                response_prefix, starting_lines = lines[:-6], lines[-5:-2]
            elif instruction_line.strip() == "</code>":
                response_prefix, starting_lines = lines[:-3], []
            else:
                fail("no '</code>' before the instruction lines")
        else:
            response_prefix, starting_lines = lines[:-4], lines[-3:-2]
        starting_lines = [f"# {line.lstrip()}" for line in starting_lines]
        response = "".join([*response_prefix, *starting_lines]).strip()
        response += "\n# Solution\n"
    return _fences(instruction), _fences(response)


# "X = ... # put solution in this variable": the completion prompt's instruction line whose
# variable the 2022 insertion prompt printed after END SOLUTION (<code>\nprint(X)\n</code>).
_SOLUTION_VARIABLE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\.\.\.\s*#\s*put solution in this variable\s*$")
FIM_FORMAT_2022 = "2022"
FIM_FORMAT_DERIVED = "derived"


def insertion_parts(prompt: str, task_id: str = "?") -> tuple[str, str]:
    """(prefix, suffix) of the fill-in-the-middle prompt of a DS-1000 (2024, completion-
    format) prompt; :func:`insertion_form` says how each was obtained."""
    prefix, suffix, _, _ = insertion_form(prompt, task_id)
    return prefix, suffix


def insertion_form(prompt: str, task_id: str = "?") -> tuple[str, str, str, str]:
    """(prefix, suffix, format, note): the insertion prompt the authors' preprocess_insertion_prompt
    (experiments/ds_1000.py) made of the problem's 2022 insertion file, where this 2024 row
    determines it; otherwise a prefix and suffix derived from the row, flagged.

    preprocess_insertion_prompt keeps the 2022 prompt up to "</code>\nBEGIN SOLUTION\n<code>
    \n[insert]\n</code>\nEND SOLUTION" as the prefix (stripped, then a newline) and, where
    a "<code>" block follows END SOLUTION, that block's code as the suffix (a newline, then
    the code stripped, its "</code>" a fence); <code>/</code> become fences. The 2022 files
    followed the problem's code block with that hole and, after END SOLUTION, a block
    printing the solution's variable (``print(result)``, the variable the 2024 completion
    prompt names in its line "X = ... # put solution in this variable"). So:

    * format "2022" (problems with exactly that line, 716 of the 845 non-Matplotlib): prefix =
      the prompt up to the "</code>" before the line; suffix = "\nprint(X)\n```";
    * format "derived" (function problems, "these variables", other instruction lines, none):
      the 2022 file's text after the hole is not determined by the row; prefix = the prompt
      up to that "</code>" plus the instruction line(s) as "# " comments (function problems:
      the prompt up to "### BEGIN SOLUTION"), suffix = "\n" (the form without a trailing
      block); `note` says why.
    """
    if "SOLUTION START" in prompt:
        raise Ds1000PromptError(f"DS-1000 problem {task_id}: Matplotlib problems have no insertion form")
    if "### BEGIN SOLUTION" in prompt:
        head = prompt[: prompt.rindex("### BEGIN SOLUTION") + len("### BEGIN SOLUTION")]
        note = (
            "derived: a function problem; the 2022 insertion file's code after the hole is not in the 2024 row "
            "(prefix: the prompt up to '### BEGIN SOLUTION'; suffix: newline)"
        )
        return _fences(head.strip() + "\n"), "\n", FIM_FORMAT_DERIVED, note
    begin = prompt.rfind("BEGIN SOLUTION")
    close = prompt.rfind("</code>", 0, begin)
    if begin < 0 or close < 0:
        raise Ds1000PromptError(f"DS-1000 problem {task_id}: no '</code>' ... 'BEGIN SOLUTION' to insert at")
    between = [line for line in prompt[close + len("</code>") : begin].strip("\n").splitlines() if line.strip()]
    match = _SOLUTION_VARIABLE.match(between[0]) if len(between) == 1 else None
    if match:
        note = (
            f"2022: the insertion file's block after END SOLUTION printed {match.group(1)}, the variable of the "
            "completion prompt's 'put solution in this variable' line (preprocess_insertion_prompt's suffix)"
        )
        return _fences(prompt[:close].strip() + "\n"), f"\nprint({match.group(1)})\n```", FIM_FORMAT_2022, note
    comments = "".join(f"# {line.lstrip()}\n" for line in between)
    shown = "; ".join(line.strip() for line in between) or "none"
    note = (
        f"derived: instruction line(s) {shown!r} name no single solution variable, so the 2022 insertion file's "
        "block after the hole is not determined by the 2024 row (prefix: the prompt up to the '</code>' plus "
        "these lines as '# ' comments; suffix: newline)"
    )
    return _fences((prompt[:close] + comments).strip() + "\n"), "\n", FIM_FORMAT_DERIVED, note


def ds1000_postprocess(code: str) -> str:
    """DS-1000's postprocess (test_ds1000.py), for base-model completions."""
    code = code.split("</code>")[0]
    code = code.replace("```python", "")
    code = code.split("```")[0]
    code = code.split("\nEND SOLUTION")[0]
    return code.replace("<code>", "")


# ---------------------------------------------------------------- fill-in-the-middle formats

# family -> (tokens that must be in the vocabulary, format, end-of-middle strings). The
# first family whose tokens are all present is the model's.
FIM_FORMATS = {
    "deepseek-coder": (
        ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
        "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
        ["<｜end▁of▁sentence｜>", "<|EOT|>"],
    ),
    "starcoder": (
        ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
        "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
        ["<|endoftext|>"],
    ),
    "codellama": (
        ("▁<PRE>", "▁<SUF>", "▁<MID>"),
        "▁<PRE>{prefix}▁<SUF>{suffix}▁<MID>",
        ["<EOT>", "▁<EOT>"],
    ),
}


def fim_family(tokenizer) -> str:
    """The FIM format family of a transformers tokenizer, from its vocabulary; ValueError
    naming the known formats when it has none."""
    if tokenizer is None:
        raise ValueError("ds1000-insertion needs the evaluated model's tokenizer (its FIM tokens)")
    vocabulary = set(tokenizer.get_vocab())
    vocabulary |= set(getattr(tokenizer, "all_special_tokens", ()) or ())
    for family, (tokens, _, _) in FIM_FORMATS.items():
        if all(token in vocabulary for token in tokens):
            return family
    known = "; ".join(f"{family}: {' '.join(tokens)}" for family, (tokens, _, _) in FIM_FORMATS.items())
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    raise ValueError(
        f"ds1000-insertion: tokenizer {name!r} has no fill-in-the-middle tokens of a known format ({known}); "
        "evaluate this model on ds1000 (completion) instead"
    )


def fim_prompt(family: str, prefix: str, suffix: str) -> str:
    # str.replace, not format: the problem texts contain braces.
    return FIM_FORMATS[family][1].replace("{prefix}", prefix, 1).replace("{suffix}", suffix, 1)


# ---------------------------------------------------------------- the benchmarks


def spread_over_libraries(rows: list[dict], limit: int | None, order: tuple[str, ...]) -> list[dict]:
    """The rows in force for `limit` (see the module docstring), in file order."""
    if limit is None or limit >= len(rows):
        return list(rows)
    queues = {library: [i for i, row in enumerate(rows) if row["library"] == library] for library in order}
    chosen: list[int] = []
    while len(chosen) < limit and any(queues.values()):
        for library in order:
            if queues[library] and len(chosen) < limit:
                chosen.append(queues[library].pop(0))
    return [rows[i] for i in sorted(chosen)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Ds1000(Benchmark):
    name = "ds1000"
    release_tasks = 1000
    display = "DS-1000"
    paper = "Lai et al. 2023, arXiv 2211.11501"
    default_source: ClassVar[dict] = {
        "source": "huggingface",
        "dataset": "xlangai/DS-1000",
        "revision": REVISION,
        "split": "test",
    }
    # Not `offline_file`: that would switch decontamination's source too. The evaluation's
    # offline copy (benchmark_files/ds1000.jsonl.gz) is named here for the data rule.
    eval_offline_file: ClassVar[str] = OFFLINE_FILE

    prompt_styles = PROMPT_STYLES
    variants: ClassVar[tuple[str, ...]] = tuple(LIBRARIES.values())
    overall_variant: ClassVar[str | None] = "overall"
    paper_tables = ("table3",)
    sampling: ClassVar[dict] = SAMPLING
    needs_tokenizer: ClassVar[bool] = False
    settings_key: ClassVar[str | None] = "ds1000"  # evaluation.ds1000: python, data_home, timeout_s, ...
    task_settings: ClassVar[tuple[str, ...]] = ()
    scoring_settings: ClassVar[tuple[str, ...]] = ("timeout_s", "memory_mb", "network", "allow_unpinned")
    has_reference_solutions: ClassVar[bool] = True
    # What the harness self-check gave here (bench/ds1000_references.py), per release.
    self_check_figures: ClassVar[dict[str, str]] = {
        "4416080ac5cb80bdf7576aefb8f9a0b4d5426a44": "985/1000 without the data 15 problems download "
        "(those 15 fail offline); every other problem passes",
    }
    scoring_handler = "ossinstruct.benchmarks.ds1000.execute:run_sample"
    mode: ClassVar[str] = "completion"

    # ------------------------------------------------------------ decontamination
    def raw_strings(self, rows):
        require_fields(self.name, rows, ("prompt",))
        for i, row in enumerate(rows):
            yield (
                row_task_id(row, i, "metadata.problem_id", "problem_id"),
                "prompt",
                ds1000_problem(row["prompt"]),
            )

    # ------------------------------------------------------------ tasks
    def variant_of(self, problem: dict) -> str:
        return library_of(problem)

    def task_of(self, row: dict, i: int) -> dict:
        """One task row: the DS-1000 row's fields plus task_id and library."""
        return {
            "task_id": row_task_id(row, i, "metadata.problem_id", "problem_id"),
            "library": library_of(row),
            "prompt": row["prompt"],
            "reference_code": row["reference_code"],
            "code_context": row["code_context"],
            "metadata": row["metadata"],
        }

    def in_mode(self, task: dict) -> bool:
        return True

    def tasks_from_rows(self, rows: list[dict], limit: int | None = None) -> list[dict]:
        require_fields(self.name, rows, ROW_FIELDS)
        tasks = [self.task_of(row, i) for i, row in enumerate(rows)]
        duplicates = [tid for tid, n in Counter(t["task_id"] for t in tasks).items() if n > 1]
        if duplicates:
            raise ValueError(f"benchmark {self.name}: duplicate problem ids {duplicates[:5]}")
        tasks = [t for t in tasks if self.in_mode(t)]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"benchmark {self.name}: limit must be a positive integer or null, got {limit!r}")
        return spread_over_libraries(tasks, limit, self.variants)

    def reference_solution(self, problem: dict) -> str:
        return problem["reference_code"]

    def prepare(self, *, path, version, limit, out_tasks, out_info, out_expected, settings) -> dict:
        """The tasks in force (file order; `limit` spread over the libraries), their
        provenance, and an empty expected file (DS-1000's tests carry their answers)."""
        from ossinstruct.benchmarks.sources import describe_source
        from ossinstruct.files import write_json_atomic, write_jsonl_atomic

        spec = {"source": "file", "path": str(path)} if path else dict(self.default_source)
        if version and not path:
            spec["revision"] = version
        rows = self.load_rows(spec)
        try:
            n_in_mode = len(self.tasks_from_rows(rows))
            tasks = self.tasks_from_rows(rows, limit)
        except ValueError as exc:
            if not path:
                raise
            from ossinstruct.files import InputError

            raise InputError(
                f"{path}: not DS-1000's release file ({exc}); config key evaluation.data.{self.name}.path must "
                "name DS-1000's ds1000.jsonl or ds1000.jsonl.gz (docs/benchmarks/ds1000.md)"
            ) from None
        info = {
            "benchmark": self.name,
            "mode": self.mode,
            "source": describe_source(spec),
            "sha256": _sha256(Path(path)) if path else None,
            "version": spec.get("revision") or REVISION,
            "release": RELEASE,
            "paper_release": PAPER_RELEASE,
            "n_rows": len(rows),
            "n_tasks_release": n_in_mode,
            "n_tasks": len(tasks),
            "limit": limit,
            "n_in_mode": n_in_mode,
            "selection": (
                "all problems"
                if len(tasks) == n_in_mode
                else f"limit {limit}: libraries take turns ({', '.join(self.variants)}), each its next problem "
                "in file order"
            ),
            "tasks_per_library": dict(Counter(t["library"] for t in tasks)),
        }
        write_jsonl_atomic(out_tasks, tasks)
        write_json_atomic(out_info, info)
        write_json_atomic(out_expected, {})
        return info

    # ------------------------------------------------------------ prompts
    def build_prompt(self, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
        self.check_style(style)
        if style == "instruct":
            instruction, response = instruct_parts(problem["prompt"], problem.get("task_id", "?"))
            return EvalPrompt(text=magicoder_prompt(instruction, response), response_prefix=response, stop=[CODE_FENCE])
        return EvalPrompt(text=problem["prompt"], response_prefix="", stop=list(DS1000_STOP))

    def postprocess(self, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
        """{completion, solution}: instruct answers cut at the first fence (the authors'
        postprocess), base-model answers cut at DS-1000's stop strings and cleaned by its
        postprocess. The solution is what replaces [insert] in DS-1000's exec context."""
        self.check_style(style)
        text = generated_text or ""
        if style == "instruct":
            completion = text.split(CODE_FENCE)[0]
            return {"completion": completion, "solution": completion}
        positions = [p for p in (text.find(s) for s in DS1000_STOP) if p >= 0]
        completion = text[: min(positions)] if positions else text
        return {"completion": completion, "solution": ds1000_postprocess(completion)}

    # ------------------------------------------------------------ scoring
    def scoring_protocol(self, settings: dict) -> dict:
        from ossinstruct.benchmarks.ds1000 import environment as ds1000_env
        from ossinstruct.benchmarks.ds1000 import execute as ds1000_exec

        settings = settings or {}
        return {
            "timeout_s": float(settings.get("timeout_s", ds1000_exec.TIMEOUT_S)),
            "memory_mb": int(settings.get("memory_mb", ds1000_env.MEMORY_MB)),
            "processes": int(settings.get("processes", ds1000_env.PROCESSES)),
        }

    def scoring_cost(self, settings: dict) -> ScoringCost:
        from ossinstruct.benchmarks.ds1000 import execute

        return ScoringCost(
            program_s={v: PROGRAM_COST_S[v] for v in RELEASE_TASKS if v in self.variants},
            release_tasks={v: n for v, n in RELEASE_TASKS.items() if v in self.variants},
            timeout_fraction=TIMEOUT_FRACTION,
            time_limit_s=float(settings.get("timeout_s", execute.TIMEOUT_S)),
            worker_mb=WORKER_MB,
            max_cpus=MAX_CPUS,
        )

    def check_samples(self, problems, samples, expected, *, workers, cache_dir=None, settings) -> list[dict]:
        """One {status, ...} per sample, in order: DS-1000's test program of each distinct
        (task, solution), once, in the sandbox under DS-1000's pinned interpreter (results
        reused from `cache_dir`, the execution cache, where it has them)."""
        from ossinstruct.benchmarks.ds1000.environment import check_solutions

        by_id = problems if isinstance(problems, Mapping) else {p["task_id"]: p for p in problems}
        pairs = [(s["task_id"], s["solution"]) for s in samples]
        return check_solutions(by_id, pairs, settings or {}, workers=workers, cache_dir=cache_dir)

    def check_environment(self, settings: dict) -> None:
        """DS-1000's pinned interpreter, on this (the scoring job's) machine."""
        from ossinstruct.benchmarks.ds1000.environment import environment_report

        environment_report(settings or {})

    def result_extras(self, info: dict, settings: dict, pass_at_1: dict) -> dict:
        """The execution environment actually used (interpreter, library versions, the
        pins and where they differ), the time limit and the prompt format."""
        from ossinstruct.benchmarks.ds1000.environment import environment_report

        extras = {
            "execution_environment": environment_report(settings or {}),
            "release": RELEASE,
            "paper_release": PAPER_RELEASE,
            "mode": self.mode,
            "prompt_format": self.prompt_format_note(),
            "selection": info.get("selection"),
        }
        return extras

    def protocol_notes(self, model: str, data_version: str | None, prompt: str | None) -> list[str]:
        """Scored on the 2024 reformat, where the paper used the 2022 original."""
        return [RELEASE_NOTE.format(model=model, name=self.display)]

    def prompt_format_note(self) -> str:
        return (
            "completion format; instruct: the authors' experiments/ds_1000.py instruction and response prefix in "
            "the Magicoder template, cut at the first fence; completion/completion-paper: DS-1000's prompt as "
            "given, stopped at </code> and # SOLUTION END, cleaned by DS-1000's postprocess"
        )


class Ds1000Insertion(Ds1000):
    name = "ds1000-insertion"
    display = "DS-1000 (insertion)"
    decontaminated_by_default = False  # the same texts as ds1000
    self_check_figures: ClassVar[dict[str, str]] = {}  # none measured in insertion mode
    variants: ClassVar[tuple[str, ...]] = tuple(v for v in LIBRARIES.values() if v != "matplotlib")
    paper_tables = ("table9",)
    needs_tokenizer: ClassVar[bool] = True
    needs_infilling: ClassVar[bool] = True  # only models marked `infilling: true` (config.yaml: DeepSeek-Coder)
    mode: ClassVar[str] = "insertion"

    def in_mode(self, task: dict) -> bool:
        return task["library"] != "matplotlib"  # the authors' script skips them in insertion mode

    def task_of(self, row: dict, i: int) -> dict:
        task = super().task_of(row, i)
        if task["library"] != "matplotlib":
            prefix, suffix, form, note = insertion_form(row["prompt"], task["task_id"])
            task.update(fim_prefix=prefix, fim_suffix=suffix, fim_format=form, fim_note=note)
        return task

    def build_prompt(self, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
        self.check_style(style)
        family = fim_family(tokenizer)
        prefix, suffix = problem.get("fim_prefix"), problem.get("fim_suffix")
        if prefix is None or suffix is None:
            prefix, suffix = insertion_parts(problem["prompt"], problem.get("task_id", "?"))
        return EvalPrompt(
            text=fim_prompt(family, prefix, suffix), response_prefix="", stop=[CODE_FENCE, *FIM_FORMATS[family][2]]
        )

    def postprocess(self, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
        """The middle, cut at the first fence (the authors' postprocess of insertion answers)
        and at the format's end-of-middle markers."""
        self.check_style(style)
        text = generated_text or ""
        ends = [CODE_FENCE] + [marker for _, _, markers in FIM_FORMATS.values() for marker in markers]
        positions = [p for p in (text.find(s) for s in ends) if p >= 0]
        completion = text[: min(positions)] if positions else text
        return {"completion": completion, "solution": completion}

    def prompt_format_note(self) -> str:
        return (
            "insertion (fill-in-the-middle) format: where the 2024 row determines it (fim_format '2022' in the "
            "tasks file), the prompt the authors' preprocess_insertion_prompt made of DS-1000 2022's insertion "
            "file: prefix = the prompt up to the problem's '</code>', stripped, + newline; suffix = "
            "'\\nprint(<variable>)\\n```'; elsewhere (fim_format 'derived', with fim_note saying why: function "
            "problems, several or other instruction lines) the prefix adds the instruction lines as '# ' comments "
            "and the suffix is a newline; <code>/</code> as fences; in the model's FIM tokens (DeepSeek-Coder, "
            "StarCoder or CodeLlama, found in its vocabulary); Matplotlib excluded; the answer cut at the first fence"
        )


BENCHMARK = Ds1000()
INSERTION = Ds1000Insertion()
