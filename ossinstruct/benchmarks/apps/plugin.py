"""APPS: competitive programming (paper Table 8; decontamination strings).

Hendrycks et al., "Measuring Coding Challenge Competence With APPS", NeurIPS 2021
Datasets and Benchmarks, arXiv 2105.09938.

    @article{hendrycksapps2021, title={Measuring Coding Challenge Competence With APPS},
      author={Hendrycks, Dan and Basart, Steven and Kadavath, Saurav and Mazeika, Mantas and
      Arora, Akul and Guo, Ethan and Burns, Collin and Puranik, Samir and He, Horace and
      Song, Dawn and Steinhardt, Jacob}, journal={NeurIPS}, year={2021}}

Data: codeparrot/apps's test.jsonl, read directly (the repository still carries a loading
script, apps.py, which datasets >= 4 refuses to run). Unpinned: see docs/curation.md,
"Benchmark strings" (main's full commit sha was not reachable from here). Rows:
problem_id, question, solutions (a JSON string), input_output (a JSON string with inputs,
outputs and, for call-based problems, fn_name), difficulty, url, starter_code.

Evaluation (paper Appendix C.1, Table 8): zero-shot, greedy, pass@1 per difficulty on the
300-problem test subset of Olausson et al. (2024), 60 introductory, 180 interview and 60
competition problems. Their list is published in theoxo/self-repair under paper/data/apps/
(Git LFS tarballs whose records name each problem by ``prob_path``, <APPS_DIR>/test/NNNN;
their src/apps/get_completions.py reads a JSON list of problem numbers), which could not
be read from here: the config's ``evaluation.apps.problem_ids`` names a file of ids in
either form (:func:`parse_problem_id`); without one the subset is a seeded, stratified
sample of 60/180/60 (:func:`stratified_subset`), and the result says it is an
approximation. Decoding: greedy, one sample, at most 1024 new tokens; neither the
Magicoder authors (no APPS script in ise-uiuc/magicoder) nor a reachable copy of
Olausson et al.'s code states a length, and 1024 is the bound of APPS's own generation
script (prompt included there) and fits the longest reference solutions.

Prompt styles: ``completion`` (base models) is APPS's own format (hendrycks/apps
eval/generate_gpt_codes.py): "\\nQUESTION:\\n" + question + ("\\n" + starter code, when
there is one) + "\\nUse Standard Input format" or "\\nUse Call-Based format" +
"\\nANSWER:\\n"; the answer is the code, cut at a following "\\nQUESTION:".
``completion-paper`` is the same prompt (no other base-model format is known for the
paper's numbers). ``instruct`` puts the problem in the Magicoder template (the authors'
HumanEval instruction, "Write a solution to the following problem:", with the starter
code in a fence and APPS's format line) and takes the code of the fenced block.
The grader is ossinstruct/benchmarks/apps/check.py: by default APPS's testing_util.py
semantics emulated in a sandboxed child process (``evaluation.apps.grader``,
``sample_timeout_s``). The harness self-check (evaluation.self_check) scores each task's
first APPS solution.
"""

from __future__ import annotations

import json
import logging
import random
import re
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
from ossinstruct.files import InputError

log = logging.getLogger("ossinstruct.benchmarks.apps")

DIFFICULTIES = ("introductory", "interview", "competition")
# Olausson et al. (2024)'s subset, as Table 8's header counts it.
PAPER_SUBSET = {"introductory": 60, "interview": 180, "competition": 60}
DEFAULT_SUBSET_SEED = 0
ROW_FIELDS = ("problem_id", "question", "input_output", "difficulty", "starter_code")
SAMPLING = {"temperature": 0.0, "top_p": 1.0, "n_samples": 1, "max_new_tokens": 1024}
PROMPT_STYLES = ("instruct", "completion", "completion-paper")
CONFIG_KEY = "evaluation.apps"
# The cost of one sample's check: APPS_TESTS_PER_SAMPLE test processes of APPS_S_PER_TEST
# each (bench/apps_scoring.py; docs/benchmarks/multipl-e.md, "Sizing the scoring jobs"); the share of samples
# assumed to run into the time limit; a worker's memory (a Python test process); the most
# workers per job (ossinstruct/evaluate/scoring_cost.py).
APPS_S_PER_TEST = 0.30
APPS_TESTS_PER_SAMPLE = 21  # the APPS paper (Table 1): 21.2 test cases per test-split problem
TIMEOUT_FRACTION = 0.02
WORKER_MB = 500
MAX_CPUS = 8

STDIN_FORMAT = "Use Standard Input format"
CALL_FORMAT = "Use Call-Based format"
# A base model that goes on after its answer starts the next problem.
COMPLETION_STOP = ["\nQUESTION:"]
CODE_FENCE = "```"
INSTRUCTION = "Write a solution to the following problem:\n{question}"
STARTER = "\n\nStart from this code:\n```python\n{starter}\n```"
INSTRUCT_PREFIX = "```python\n"
APPROXIMATION = (
    "approximation: a seeded stratified sample ({counts}, seed {seed}) of the test split, not "
    "Olausson et al. (2024)'s 300 problems (their list is in theoxo/self-repair's paper/data/apps/, Git LFS "
    "tarballs that could not be read here; give it as evaluation.apps.problem_ids)"
)


def _stripped_nonempty(text) -> str:
    return text if isinstance(text, str) and text.strip() else ""


def parse_tests(row: dict, where: str) -> dict:
    """{inputs, outputs, fn_name} of a row's input_output (a JSON string, or a dict)."""
    raw = row.get("input_output")
    if isinstance(raw, str):
        if not raw.strip():
            return {"inputs": [], "outputs": [], "fn_name": None}
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: input_output is not JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("inputs"), list) or not isinstance(raw.get("outputs"), list):
        raise InputError(f"{where}: input_output must hold the lists 'inputs' and 'outputs'")
    if len(raw["inputs"]) != len(raw["outputs"]):
        raise InputError(f"{where}: input_output has {len(raw['inputs'])} inputs but {len(raw['outputs'])} outputs")
    fn_name = raw.get("fn_name") or None
    if fn_name is not None and not isinstance(fn_name, str):
        raise InputError(f"{where}: input_output's fn_name must be a string, got {fn_name!r}")
    return {"inputs": raw["inputs"], "outputs": raw["outputs"], "fn_name": fn_name}


def stratified_subset(
    rows: list[dict], seed: int = DEFAULT_SUBSET_SEED, counts: dict[str, int] = PAPER_SUBSET
) -> list[dict]:
    """`counts[d]` rows of each difficulty d, drawn without replacement by a Random seeded
    with "apps-subset:{seed}:{d}" from that difficulty's rows sorted by problem_id (so the
    draw does not depend on the file's row order or on the other strata), returned in
    difficulty order, each stratum sorted by problem_id."""
    chosen = []
    for difficulty, k in counts.items():
        pool = sorted((r for r in rows if r["difficulty"] == difficulty), key=lambda r: int(r["problem_id"]))
        if len(pool) < k:
            raise InputError(
                f"APPS subset: {k} {difficulty} problems wanted but the split has only {len(pool)} with tests"
            )
        picked = random.Random(f"apps-subset:{seed}:{difficulty}").sample(pool, k)
        chosen.extend(sorted(picked, key=lambda r: int(r["problem_id"])))
    return chosen


# An APPS test problem as Olausson et al.'s data names it (theoxo/self-repair): the problem
# number (src/apps/get_completions.py reads a JSON list of them and zero-pads to 4 digits)
# or the problem's directory, prob_path = <APPS_DIR>/test/<NNNN> (their result files).
_PROB_PATH = re.compile(r"^(?:.*/)?(train|test)/(\d+)/?$")


def parse_problem_id(value) -> int:
    """The test-split problem number of one ids-file entry: 42, "42", "0042", "test/0042",
    or a prob_path ending in /test/0042. ValueError saying why otherwise (a train-split
    path, a float, anything else)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{value!r} is not a problem id (an integer, or an APPS test path like test/0042)")
    if isinstance(value, int):
        number = value
    else:
        text = value.strip()
        match = _PROB_PATH.match(text)
        if match:
            if match.group(1) != "test":
                raise ValueError(f"{value!r} is a train-split problem; the subset is of the test split")
            text = match.group(2)
        if not text.isdigit():
            raise ValueError(f"{value!r} is not a problem id (an integer, or an APPS test path like test/0042)")
        number = int(text)
    if number < 0:
        raise ValueError(f"{value!r} is not a problem id (a negative number)")
    return number


def read_problem_ids(path: str | Path, key: str = f"{CONFIG_KEY}.problem_ids") -> list[int]:
    """Problem ids from a file: a JSON list, or one id a line ('#' starts a comment); each
    in a form :func:`parse_problem_id` reads (Olausson et al.'s numbers or prob_paths)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"config key {key}: cannot read {path}: {exc}") from None
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"config key {key}: {path} is not a JSON list of ids ({exc})") from None
        entries = [(f"{path} item {i + 1}", v) for i, v in enumerate(values)]
    else:
        entries = []
        for lineno, line in enumerate(text.splitlines(), 1):
            value = line.split("#", 1)[0].strip()
            if value:
                entries.append((f"{path} line {lineno}", value))
    ids, seen = [], set()
    for where, value in entries:
        try:
            problem_id = parse_problem_id(value)
        except ValueError as exc:
            raise InputError(f"config key {key}: {where}: {exc}") from None
        if problem_id in seen:
            raise InputError(f"config key {key}: {where}: problem id {problem_id} is listed twice")
        seen.add(problem_id)
        ids.append(problem_id)
    if not ids:
        raise InputError(f"config key {key}: {path} lists no problem ids")
    return ids


def first_solution(row: dict) -> str | None:
    """The first of a row's `solutions` (a JSON string list, or a list), None when it has none."""
    solutions = row.get("solutions")
    if isinstance(solutions, str):
        try:
            solutions = json.loads(solutions) if solutions.strip() else []
        except json.JSONDecodeError:
            solutions = []
    return solutions[0] if isinstance(solutions, list) and solutions and isinstance(solutions[0], str) else None


def extract_code(text: str) -> str:
    """The code of an instruct answer: the fenced block the response prefix opened, up to
    its closing fence (a model that opens a second fence first gets that one skipped)."""
    text = text or ""
    stripped = text.lstrip()
    if stripped.startswith(CODE_FENCE):  # the model opened its own fence again
        text = stripped.split("\n", 1)[1] if "\n" in stripped else ""
    end = text.find(CODE_FENCE)
    return text if end < 0 else text[:end]


GRADER_NOTES = {
    "testing_util": "graded as APPS's testing_util.py runs a sample (emulated in one sandboxed process: exit()/quit() "
    "disabled, stdin/stdout patched in process, module name tmp_sol, the sample's global timeout)",
    "script": "graded with evaluation.apps.grader: script, not APPS's testing_util semantics (one process per test, "
    "the solution run as __main__ with real file descriptors, exit() allowed): verdicts can differ from APPS's",
}


def grader_settings(settings: dict | None) -> tuple[str, float | None]:
    """(grader, sample time limit) of evaluation.apps: testing_util and 11 s by default."""
    from ossinstruct.benchmarks.apps import check as apps_check

    settings = settings or {}
    grader = settings.get("grader") or apps_check.DEFAULT_GRADER
    if grader not in apps_check.GRADERS:
        raise InputError(f"config key {CONFIG_KEY}.grader: {grader!r} is not one of {', '.join(apps_check.GRADERS)}")
    timeout = settings.get("sample_timeout_s", apps_check.SAMPLE_TIMEOUT_S)
    return grader, None if timeout is None else float(timeout)


class Apps(Benchmark):
    name = "apps"
    release_tasks = 300  # the paper's subset: 60/180/60
    mean_generated_tokens = 512
    display = "APPS"
    paper = "Hendrycks et al. 2021, arXiv 2105.09938"
    default_source: ClassVar[dict] = {
        "source": "huggingface",
        "dataset": "codeparrot/apps",
        "revision": "main",  # unpinned: see docs/curation.md, "Benchmark strings"
        "split": "test",
        "data_files": "test.jsonl",
    }

    prompt_styles = PROMPT_STYLES
    variants = DIFFICULTIES
    overall_variant: ClassVar[str | None] = "overall"
    paper_tables = ("table8",)
    scoring_handler = "ossinstruct.benchmarks.apps.check:check"
    settings_key: ClassVar[str | None] = "apps"
    task_settings: ClassVar[tuple[str, ...]] = ("problem_ids", "subset_seed")
    scoring_settings: ClassVar[tuple[str, ...]] = ("memory_mb", "grader", "sample_timeout_s")
    sampling: ClassVar[dict] = SAMPLING
    has_reference_solutions: ClassVar[bool] = True

    def raw_strings(self, rows):
        require_fields(self.name, rows, ("question",))
        for i, row in enumerate(rows):
            yield row_task_id(row, i, "problem_id", "id"), "question", row["question"]

    # ------------------------------------------------------------------ data
    def select(self, rows: list[dict], settings: dict | None) -> tuple[list[dict], dict]:
        """The rows in force (the configured ids, else the seeded stratified sample) and a
        description of the subset for the provenance."""
        settings = settings or {}
        seed = settings.get("subset_seed", DEFAULT_SUBSET_SEED)
        by_id = {int(r["problem_id"]): r for r in rows}
        ids_file = settings.get("problem_ids")
        if ids_file:
            ids = read_problem_ids(ids_file)
            missing = [i for i in ids if i not in by_id]
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
                raise InputError(
                    f"config key {CONFIG_KEY}.problem_ids: {len(missing)} id(s) of {ids_file} are not in the "
                    f"APPS test split: {shown}"
                )
            untested = [i for i in ids if not by_id[i]["n_tests"]]
            if untested:
                raise InputError(
                    f"config key {CONFIG_KEY}.problem_ids: problem(s) {', '.join(map(str, untested[:10]))} of "
                    f"{ids_file} have no tests"
                )
            chosen = [by_id[i] for i in ids]
            subset = {"subset": f"problem_ids file {ids_file}", "subset_approximation": False, "subset_seed": None}
        else:
            tested = [r for r in rows if r["n_tests"]]
            chosen = stratified_subset(tested, seed)
            counts = "/".join(str(PAPER_SUBSET[d]) for d in DIFFICULTIES)
            subset = {
                "subset": APPROXIMATION.format(counts=counts, seed=seed),
                "subset_approximation": True,
                "subset_seed": seed,
                "n_untested_rows_excluded": len(rows) - len(tested),
            }
        per_difficulty = {d: sum(r["difficulty"] == d for r in chosen) for d in DIFFICULTIES}
        return chosen, {**subset, "n_problems_per_difficulty": per_difficulty}

    def tests_of(self, row: dict) -> dict:
        """{inputs, outputs, fn_name} of a row (raw or parsed)."""
        return parse_tests(row, f"APPS problem {row.get('problem_id')!r}")

    def parse_rows(self, rows: list[dict], where: str) -> list[dict]:
        """The rows, checked (ids unique integers, difficulty known, input_output well
        formed), each with its problem_id as an int, n_tests and fn_name."""
        require_fields(self.name, rows, ROW_FIELDS)
        parsed, seen = [], set()
        for i, row in enumerate(rows):
            at = f"{where} row {i} (problem_id {row.get('problem_id')!r})"
            try:
                problem_id = int(row["problem_id"])
            except (TypeError, ValueError):
                raise InputError(f"{at}: problem_id must be an integer") from None
            if problem_id in seen:
                raise InputError(f"{at}: problem_id {problem_id} appears twice")
            seen.add(problem_id)
            if row["difficulty"] not in DIFFICULTIES:
                raise InputError(f"{at}: difficulty {row['difficulty']!r} is not one of {', '.join(DIFFICULTIES)}")
            # The tests are checked here but not kept (the test split's are ~1 GB of JSON):
            # tests_of parses them again for the tasks in force.
            tests = parse_tests(row, at)
            parsed.append(
                {**row, "problem_id": problem_id, "n_tests": len(tests["inputs"]), "fn_name": tests["fn_name"]}
            )
        return parsed

    def prepare(self, *, path, version, limit, out_tasks, out_info, out_expected, settings) -> dict:
        """The subset in force (then its first `limit` tasks), one task per problem
        ("apps/{problem_id}": question, starter_code, difficulty, fn_name, url), and their
        tests as out_expected ({task_id: {inputs, outputs, fn_name}}). `path`: a local
        .jsonl(.gz) of the test split in APPS's schema instead of the hub; `version` is
        recorded as given (APPS has no releases)."""
        from ossinstruct.benchmarks.sources import describe_source
        from ossinstruct.files import write_json_atomic, write_jsonl_atomic, write_text_atomic

        spec = {"source": "file", "path": str(path)} if path else dict(self.default_source)
        described = describe_source(spec)
        rows = self.parse_rows(self.load_rows(spec), described)
        chosen, subset = self.select(rows, settings)
        n_subset = len(chosen)
        if limit:
            chosen = chosen[:limit]
        tasks, expected = [], {}
        for row in chosen:
            task_id = f"apps/{row['problem_id']}"
            tasks.append(
                {
                    "task_id": task_id,
                    "problem_id": row["problem_id"],
                    "difficulty": row["difficulty"],
                    "question": row["question"],
                    "starter_code": row.get("starter_code") or "",
                    "fn_name": row["fn_name"],
                    "url": row.get("url", ""),
                    "n_tests": row["n_tests"],
                    # The first of APPS's solutions: the harness self-check's sample.
                    "reference_solution": first_solution(row),
                }
            )
            expected[task_id] = self.tests_of(row)
        info = {
            "benchmark": self.name,
            "source": described,
            "path": str(path) if path else None,
            "dataset": None if path else spec["dataset"],
            "revision": None if path else spec["revision"],
            "version": version,
            "n_rows_split": len(rows),
            # The benchmark as the paper scored it is the subset (300 problems), not the
            # split: the summary calls a run partial only when `limit` cut the subset.
            "n_tasks_release": n_subset,
            "n_tasks_without_reference": sum(t["reference_solution"] is None for t in tasks),
            **subset,
            "limit": limit,
            "n_tasks": len(tasks),
            "task_ids": [t["task_id"] for t in tasks],
        }
        if path:
            from ossinstruct.llm.models import sha256_file

            info["sha256"] = sha256_file(path)
        write_jsonl_atomic(out_tasks, tasks)
        # Compact: the tests of 300 APPS problems are tens of MB of JSON.
        write_text_atomic(out_expected, json.dumps(expected, ensure_ascii=False, separators=(",", ":")) + "\n")
        write_json_atomic(out_info, info)
        return info

    # ------------------------------------------------------------------ prompts
    def style_for(self, model_prompt: str, settings: dict) -> str:
        return model_prompt

    def format_line(self, problem: dict) -> str:
        """APPS's format line: call-based when the problem has an fn_name (a task row's
        field, or a raw row's input_output)."""
        fn_name = problem["fn_name"] if "fn_name" in problem else parse_tests(problem, "APPS row")["fn_name"]
        return CALL_FORMAT if fn_name else STDIN_FORMAT

    def build_prompt(self, problem: dict, style: str, tokenizer=None) -> EvalPrompt:
        self.check_style(style)
        starter = _stripped_nonempty(problem.get("starter_code"))
        if style in ("completion", "completion-paper"):
            text = "\nQUESTION:\n" + problem["question"]
            if problem.get("starter_code"):  # as generate_gpt_codes.py: any non-empty starter code
                text += "\n" + problem["starter_code"]
            text += "\n" + self.format_line(problem) + "\nANSWER:\n"
            return EvalPrompt(text=text, response_prefix="", stop=list(COMPLETION_STOP))
        instruction = INSTRUCTION.format(question=problem["question"].strip())
        if starter:
            instruction += STARTER.format(starter=starter.rstrip())
        instruction += "\n\n" + self.format_line(problem)
        return EvalPrompt(
            text=magicoder_prompt(instruction, INSTRUCT_PREFIX), response_prefix=INSTRUCT_PREFIX, stop=[CODE_FENCE]
        )

    def postprocess(self, problem: dict, style: str, generated_text: str, tabs_to_spaces: bool = False) -> dict:
        """{completion, solution}: the solution is the code itself (the prompt holds no code
        the model continues), cut at the closing fence (instruct) or the next QUESTION."""
        self.check_style(style)
        text = generated_text or ""
        if style == "instruct":
            completion = extract_code(text)
        else:
            ends = [p for p in (text.find(s) for s in COMPLETION_STOP) if p >= 0]
            completion = text[: min(ends)] if ends else text
        return {"completion": completion, "solution": completion}

    def reference_solution(self, problem: dict) -> str:
        """The first of APPS's solutions of a task (or a raw row). A problem without one (a
        few APPS rows have none) gets a program that prints nothing, which fails."""
        solution = problem["reference_solution"] if "reference_solution" in problem else first_solution(problem)
        return solution if solution is not None else "# APPS gives no solution for this problem\n"

    def corrupted_solution(self, problem: dict, solution: str) -> str:
        """A wrong version of a solution: one more line of output (standard input), or the
        function (on class Solution where the solution has one) redefined to return None."""
        fn_name = problem["fn_name"] if "fn_name" in problem else parse_tests(problem, "APPS row")["fn_name"]
        if not fn_name:
            return solution + "\nprint('corrupted')\n"
        if "class Solution" in solution:
            return f"{solution}\n\nclass Solution:\n    def {fn_name}(self, *args, **kwargs):\n        return None\n"
        return f"{solution}\n\ndef {fn_name}(*args, **kwargs):\n    return None\n"

    def variant_of(self, problem: dict) -> str:
        if problem.get("difficulty") not in DIFFICULTIES:
            raise ValueError(f"APPS task {problem.get('task_id')}: unknown difficulty {problem.get('difficulty')!r}")
        return problem["difficulty"]

    # ------------------------------------------------------------------ scoring
    def scoring_payload(self, problem: dict, solution: str, expected: dict, settings: dict) -> dict:
        grader, sample_timeout_s = grader_settings(settings)
        tests = expected[problem["task_id"]]
        return {
            "solution": solution,
            "fn_name": tests.get("fn_name"),
            "inputs": tests["inputs"],
            "outputs": tests["outputs"],
            "grader": grader,
            "sample_timeout_s": sample_timeout_s,
        }

    def scoring_protocol(self, settings: dict) -> dict:
        from ossinstruct.benchmarks.apps import check as apps_check

        return {
            "grader_version": apps_check.GRADER_VERSION,
            "time_limit_s_per_test": apps_check.TIME_LIMIT_S,
            "startup_allowance_s": apps_check.STARTUP_ALLOWANCE_S,
            "memory_mb": self.scoring_limits(settings).memory_mb,
        }

    def scoring_cost(self, settings: dict) -> ScoringCost:
        from ossinstruct.benchmarks.apps import check as apps_check

        return ScoringCost(
            program_s=dict.fromkeys(PAPER_SUBSET, APPS_S_PER_TEST * APPS_TESTS_PER_SAMPLE),
            release_tasks=dict(PAPER_SUBSET),
            timeout_fraction=TIMEOUT_FRACTION,
            time_limit_s=apps_check.TIME_LIMIT_S,
            worker_mb=WORKER_MB,
            max_cpus=MAX_CPUS,
        )

    def scoring_limits(self, settings: dict, n_tests: int = 1):
        from ossinstruct.benchmarks.apps.check import check_budget_s
        from ossinstruct.sandbox.pool import Limits

        grader, sample_timeout_s = grader_settings(settings)
        memory_mb = int((settings or {}).get("memory_mb", 4096))
        budget = check_budget_s(n_tests, sample_limit=sample_timeout_s, grader=grader)
        return Limits(timeout_s=budget, memory_mb=memory_mb, network=False)

    def check_samples(self, problems, samples, expected, *, workers, cache_dir=None, settings) -> list[dict]:
        """One {status, n_tests, n_run, ...} per sample, in order: each sample's tests in one
        sandbox job (one process per test, apps_check), the job's time limit sized for the
        most tests of any problem. Results of pass/fail/compile_error/runtime_error are
        cached per (grader version, solution, tests) under `cache_dir` as each sample ends (a
        killed job keeps them); timeouts and sandbox errors are not (they may depend on the
        machine's load)."""
        from ossinstruct.benchmarks.apps import check as apps_check
        from ossinstruct.llm.cache import JsonEntryStore, content_key
        from ossinstruct.sandbox.pool import SandboxPool

        by_id = {p["task_id"]: p for p in problems}
        store = JsonEntryStore(cache_dir) if cache_dir else None
        checks: list[dict | None] = [None] * len(samples)
        keys, todo = [None] * len(samples), []
        for i, sample in enumerate(samples):
            payload = self.scoring_payload(by_id[sample["task_id"]], sample["solution"], expected, settings)
            if store is not None:
                keys[i] = content_key({"grader": apps_check.GRADER_VERSION, **payload})
                cached = store.read(keys[i])
                if isinstance(cached, dict) and cached.get("status") in apps_check.CACHED_STATUSES:
                    checks[i] = {**cached, "cached": True}
                    continue
            todo.append((i, payload))

        def keep(index: int, job) -> None:  # as each sample ends: a killed run keeps what it finished
            i = todo[index][0]
            if job.status == "ok" and isinstance(job.value, dict) and job.value.get("status") in apps_check.STATUSES:
                checks[i] = job.value
                if store is not None and job.value["status"] in apps_check.CACHED_STATUSES:
                    store.write(keys[i], job.value)
            else:
                checks[i] = {"status": "sandbox_error", "error": f"{job.status}: {(job.error or '')[-500:]}"}

        if todo:
            most_tests = max(len(p["inputs"]) for _, p in todo)
            with SandboxPool(
                self.scoring_handler, None, workers=workers, limits=self.scoring_limits(settings, most_tests)
            ) as pool:
                pool.run([p for _, p in todo], on_result=keep)
        return checks

    def result_extras(self, info: dict, settings: dict, pass_at_1: dict) -> dict:
        from ossinstruct.benchmarks.apps import check as apps_check

        grader, sample_timeout_s = grader_settings(settings)
        keys = ("subset", "subset_approximation", "subset_seed", "n_problems_per_difficulty", "source", "revision")
        return {
            **{k: info.get(k) for k in keys},
            "prompt_format": {
                "completion": "APPS: \\nQUESTION:\\n{question}[\\n{starter_code}]\\nUse Standard Input format|"
                "Use Call-Based format\\nANSWER:\\n (hendrycks/apps generate_gpt_codes.py)",
                "completion-paper": "the same as completion",
                "instruct": "Magicoder template; the code of the fenced block",
            },
            "grader": f"ossinstruct APPS grader v{apps_check.GRADER_VERSION} (hendrycks/apps testing_util semantics)",
            "grader_mode": grader,
            "grader_mode_note": GRADER_NOTES[grader],
            "time_limit_s_per_test": apps_check.TIME_LIMIT_S,
            "sample_timeout_s": sample_timeout_s,
            # The summary prints result notes under its tables.
            "notes": ([f"APPS: {info['subset']}."] if info.get("subset_approximation") else [])
            + ([f"APPS: {GRADER_NOTES[grader]}"] if grader != apps_check.DEFAULT_GRADER else []),
        }


BENCHMARK = Apps()
