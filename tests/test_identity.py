"""docs/reruns.md: a rule's identity covers the code behind its outputs and
nothing else. The lock (ossinstruct/identity.lock.json) matches the code; the digest of a
step's code ignores formatting, docstrings and where a function lives; and, on a finished
demo study (every output made and stamped by `snakemake --touch`, which records each job's
params as a real run does) in a copy of this checkout: another checkout at another path
plans nothing, a result-shaping change in the package plans exactly its stage and what
depends on it, and a reformatted module, an edited docstring or a moved function plans
nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SHARED
from test_studies import directory_outputs, outputs_of_dry_run
from test_workflow import OFFLINE_ENV

from ossinstruct import identity
from ossinstruct.changes import params_lines, parse_dry_run, split_params_change

DEMO = ["--configfile", "presets/demo.yaml"]

# ------------------------------------------------------------------ the lock and the table


@pytest.fixture(scope="module")
def code() -> dict:
    """What each step and benchmark reaches, as the code stands (computed once: seconds)."""
    return identity.current_code()


def test_the_lock_matches_the_code(code):
    """Fails after a change to the code a step runs: bump the version of each step whose
    outputs it can change, then `python -m ossinstruct identity --update-lock`."""
    differences = identity.lock_differences(code=code)
    assert not differences, identity.check_message(differences)


def test_every_rule_opts_in_with_its_step():
    """Each rule's params hold `code=code_identity_of("<its name>")`, and STEPS has one entry
    per rule, whose script is the rule's own."""
    rules, base = {}, {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule \w+:|use rule \w+ as \w+ with:)", smk.read_text())[1:]:
            derived = re.match(r"use rule (\w+) as (\w+) with:", block)
            name = derived.group(2) if derived else re.match(r"rule (\w+):", block).group(1)
            rules[name] = block
            if derived:  # a rule derived from another (`use rule`) runs that rule's script
                base[name] = derived.group(1)
    assert set(rules) == set(identity.STEPS)
    for name, block in rules.items():
        # A job over several benchmarks names them: code_identity_of("<name>", <benchmarks of the job>).
        assert re.search(rf'code=code_identity_of\("{name}"(, \w+)?\)', block), (
            f"rule {name}: add code=code_identity_of({name!r})"
        )
        script = re.search(r'script:\s+"\.\./(scripts/\w+\.py)"', rules[base.get(name, name)]).group(1)
        assert identity.STEPS[name].script == script, name


def test_code_identity_holds_versions_and_constants_in_force(monkeypatch):
    from ossinstruct.benchmarks import REGISTRY
    from ossinstruct.config import load_config
    from ossinstruct.sandbox import toolchains as mx

    config = load_config(REPO / "config.yaml", REPO / "presets" / "demo.yaml")
    score = identity.code_identity("eval_score_multiple", config, "multipl-e-greedy")
    assert score == {
        "step": "eval_score_multiple",
        "version": identity.STEPS["eval_score_multiple"].version,
        "benchmark": {
            "name": "multipl-e-greedy",
            "version": REGISTRY["multipl-e-greedy"].scoring_version,
            "protocol": {
                "step_limits_s": {
                    lang: mx.STEP_LIMITS_S[lang] for lang in config["evaluation"]["multipl_e"]["languages"]
                },
                "memory_mb": mx.MEMORY_MB,
            },
        },
    }
    # Read when called: the value in force.
    monkeypatch.setitem(mx.STEP_LIMITS_S, "js", {"compile": 5.0, "run": 3.0})
    protocol = identity.code_identity("eval_score_multiple", config, "multipl-e")["benchmark"]["protocol"]
    assert protocol["step_limits_s"]["js"]["run"] == 3.0
    assert identity.code_identity("seeds") == {"step": "seeds", "version": identity.STEPS["seeds"].version}
    prompt = identity.code_identity("training_set")["constants"]["prompt_template"]
    assert prompt.startswith("You are an exceptionally intelligent coding assistant")
    # A job over several benchmarks (one generation job per model) carries each one's version.
    several = identity.code_identity("eval_generate", config, ["multipl-e-greedy", "humaneval"])
    assert [b["name"] for b in several["benchmarks"]] == ["humaneval", "multipl-e-greedy"]
    with pytest.raises(ValueError, match="per benchmark"):
        identity.code_identity("eval_data", config)
    with pytest.raises(KeyError, match="STEPS"):
        identity.code_identity("no_such_rule")


def test_a_steps_code_is_what_it_reaches(code):
    """Lazy imports, module aliases, re-exports and handler strings are followed; a benchmark
    looked up in the registry is not (it has its own versions); a step reaches no other
    stage's code."""
    seeds, train = set(code["steps"]["seeds"]), set(code["steps"]["train"])
    assert "ossinstruct/seeds/sampling.py:write_shard" in seeds and "scripts/seeds.py:<module>" in seeds
    assert not any(k.startswith(("ossinstruct/benchmarks/", "ossinstruct/evaluate/")) for k in seeds)
    # `python -m ossinstruct train` (the launcher's command) runs the recipe.
    assert "ossinstruct/train/recipe.py:main" in train and "ossinstruct/train/config.py:TrainConfig" in train
    multiple = set(code["benchmarks"]["multipl-e"])
    # The sandbox handler, named in a string, and the constants the class reads lazily.
    assert "ossinstruct/sandbox/toolchains.py:compile_and_run" in multiple
    assert "ossinstruct/sandbox/toolchains.py:STEP_LIMITS_S" in multiple
    assert not any("apps" in k for k in multiple)
    score = set(code["steps"]["eval_score_multiple"])
    assert "ossinstruct/evaluate/score.py:score" in score
    assert not any(k.startswith("ossinstruct/benchmarks/apps/") for k in score)


def _digest(tmp_path, name: str, source: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    graph = identity.CodeGraph()
    return graph.digest((path, "f"))


def test_a_definitions_digest_ignores_formatting_comments_and_docstrings(tmp_path, monkeypatch):
    monkeypatch.setattr(identity, "REPO", tmp_path)
    plain = _digest(tmp_path, "a", 'def f(x, y):\n    """Add."""\n    return x + y\n')
    styled_source = [
        "def f(",
        "    x,",
        "    y,",
        "):  # why",
        "    # the sum",
        "    '''Another docstring.'''",
        "    return (x",
        "            + y)",
    ]
    styled = _digest(tmp_path, "b", "\n".join(styled_source) + "\n")
    changed = _digest(tmp_path, "c", "def f(x, y):\n    return x - y\n")
    constant = _digest(tmp_path, "d", "def f(x, y):\n    return x + y + 0\n")
    assert plain == styled and len({plain, changed, constant}) == 3


def test_the_lock_names_what_changed_and_a_bump(code):
    lock = identity.current_lock(code)
    key = "ossinstruct/sandbox/toolchains.py:STEP_LIMITS_S"
    edited = json.loads(json.dumps(code))
    for kind in edited.values():
        for entry in kind.values():
            if key in entry:
                entry[key] = "0" * 64
    differences = identity.lock_differences(lock, edited)
    assert "benchmark multipl-e: code changed: " + key + "; version unchanged" in differences
    assert all(key in line for line in differences)
    bumped = json.loads(json.dumps(lock))
    bumped["steps"]["seeds"]["version"] = 0
    assert identity.lock_differences(bumped, code) == ["step seeds: code unchanged; version 0 -> 1"]
    bumped["steps"]["seeds"]["version"] = 2
    assert identity.lock_differences(bumped, code) == [
        "step seeds: code unchanged; version 2 -> 1 (a version never goes down)"
    ]
    message = identity.check_message(differences)
    assert "python -m ossinstruct identity --update-lock" in message and "scoring_version" in message


# ------------------------------------------------------------------ `python -m ossinstruct changes`

DRY_RUN = """
rule eval_score_multiple:
    input: results/eval/m/multipl-e-greedy/samples.jsonl
    output: results/eval/m/multipl-e-greedy.json, results/eval/m/multipl-e-greedy/tasks.jsonl
    log: results/logs/eval/m/multipl-e-greedy.score.log
    jobid: 3
    reason: Params have changed since last execution: Union of exclusive params before and now \
across all output: before: {'step': 'eval_score_multiple', 'version': 1, 'benchmark': {'name': 'multipl-e-greedy', \
'version': 1, 'protocol': {'step_limits_s': {'js': {'compile': 5.0, 'run': 5.0}}, \
'memory_mb': 4096}}},'{"temperature": 0.0, "max_new_tokens": 8}' \
now: {'step': 'eval_score_multiple', 'version': 1, 'benchmark': {'name': 'multipl-e-greedy', 'version': 1, \
'protocol': {'step_limits_s': {'js': {'compile': 5.0, 'run': 1.0}}, \
'memory_mb': 4096}}},'{"temperature": 0.0, "max_new_tokens": 16}' ; \
Input files updated by another job: results/eval/m/multipl-e-greedy/samples.jsonl
    wildcards: model=m, benchmark=multipl-e-greedy

localrule eval_summary:
    input: results/eval/m/multipl-e-greedy.json
    output: results/summary.md, results/summary.csv
    reason: Input files updated by another job: results/eval/m/multipl-e-greedy.json
"""


def test_changes_names_the_part_of_the_identity_that_changed():
    jobs = parse_dry_run(DRY_RUN)
    assert [(j.rule, j.outputs[0]) for j in jobs] == [
        ("eval_score_multiple", "results/eval/m/multipl-e-greedy.json"),
        ("eval_summary", "results/summary.md"),
    ]
    before, now, rest = split_params_change(jobs[0].reason)
    assert rest == "Input files updated by another job: results/eval/m/multipl-e-greedy/samples.jsonl"
    assert params_lines(before, now) == [
        "code.benchmark.protocol.step_limits_s.js.run: 5.0 -> 1.0",
        "max_new_tokens: 8 -> 16",
    ]
    assert params_lines([{"step": "seeds", "version": 1}], [{"step": "seeds", "version": 2}]) == [
        "code.version: 1 -> 2"
    ]
    assert split_params_change(jobs[1].reason) is None


# ------------------------------------------------------------------ a finished demo in a copy of the checkout


def clone(root: Path) -> Path:
    """This checkout's files (tracked, and new ones git does not ignore) copied to
    root/ossinstruct, with ../shared beside it as on CI; keeps modification times."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    checkout = root / "ossinstruct"
    for name in filter(None, files.split("\0")):
        source = REPO / name
        if source.is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    (root / "shared").symlink_to(SHARED)
    return checkout


def snakemake(checkout: Path, *args: str) -> str:
    """The project's default invocation, in that checkout: plain `snakemake` (its workflow
    profile applies), as `make demo` runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *DEMO, *args],
        cwd=checkout,
        env={**OFFLINE_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def planned(checkout: Path, *args: str) -> set[tuple[str, str]]:
    """(rule, first output) of each job a dry-run plans (rule all aside)."""
    return {(j.rule, j.outputs[0]) for j in parse_dry_run(snakemake(checkout, "-n", *args)) if j.rule != "all"}


@pytest.fixture(scope="module")
def finished_demo(tmp_path_factory):
    """A copy of this checkout where the demo study is finished, and every job's consumers."""
    checkout = clone(tmp_path_factory.mktemp("first"))
    text = snakemake(checkout, "-n", "--forceall")
    outputs = outputs_of_dry_run(text)
    directories = directory_outputs()
    for output in outputs:
        path = checkout / output
        if any(pattern.fullmatch(output) for pattern in directories):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    # --forceall: every job, those without inputs too, gets its metadata (params) recorded.
    snakemake(checkout, "--touch", "--forceall", "--cores", "1")
    dry = snakemake(checkout, "-n")
    assert "Nothing to be done" in dry and "missing provenance" not in dry, dry
    consumers: dict[tuple[str, str], set[tuple[str, str]]] = {}
    jobs = parse_dry_run(text)
    inputs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", text):
        found = re.search(r"^    input: (.*)$", block, re.M)
        header = re.match(r"(?:local)?rule (\w+):\n", block.strip("\n") + "\n")
        out = re.search(r"^    output: ([^,\n]*)", block, re.M)
        if header and out and header.group(1) != "all":
            inputs[(header.group(1), out.group(1))] = set(found.group(1).split(", ")) if found else set()
    by_output = {o: (j.rule, j.outputs[0]) for j in jobs if j.rule != "all" for o in j.outputs}
    for job, needs in inputs.items():
        for path in needs:
            if path in by_output:
                consumers.setdefault(by_output[path], set()).add(job)
    return checkout, set(inputs), consumers


def downstream(consumers: dict, jobs: set) -> set:
    """`jobs` and every job that depends on them, transitively."""
    todo, seen = list(jobs), set()
    while todo:
        job = todo.pop()
        if job not in seen:
            seen.add(job)
            todo.extend(consumers.get(job, ()))
    return seen


def test_params_hold_no_path_user_or_host(finished_demo):
    checkout = finished_demo[0]
    recorded = []
    for path in (checkout / ".snakemake" / "metadata").rglob("*"):
        if path.is_file():
            recorded += json.loads(path.read_text()).get("params") or []
    text = "\n".join(recorded)
    assert recorded and "'step': 'train'" in text
    for word in (str(checkout.parent), str(REPO), socket.gethostname(), os.path.expanduser("~")):
        assert word not in text, word
    assert not re.findall(r"""['"](/[^'"]*)['"]""", text)  # no absolute path at all


def test_another_checkout_at_another_path_plans_nothing(finished_demo, tmp_path):
    """The study copied (results/ and .snakemake/, modification times kept as cp -a, rsync -a
    and mv keep them) into a second checkout of the same code at another path."""
    checkout = finished_demo[0]
    other = clone(tmp_path)
    for name in ("results", ".snakemake"):
        shutil.copytree(checkout / name, other / name, symlinks=True)
    assert planned(other) == set()
    assert planned(other, "--profile", "slurm") == set()  # the workflow profile applies under it
    changes = subprocess.run(
        [sys.executable, "-m", "ossinstruct", "changes", *DEMO],
        cwd=other,
        env={**OFFLINE_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert changes.returncode == 0 and changes.stdout.strip() == "Nothing to be done: no job would run.", changes


def _edit(path: Path, old: str | None, new: str) -> str:
    """Replace `old` (once in the file) by `new`, or append `new` (old None); the text before."""
    text = path.read_text()
    assert old is None or text.count(old) == 1, f"{path}: {old!r}"
    path.write_text(text + new if old is None else text.replace(old, new))
    return text


# (what changes, file, old, new, the rule whose jobs it reruns, with what depends on them)
RESULT_SHAPING = [
    ("seeds: the step's version", "ossinstruct/identity.py", '"seeds": Step(1,', '"seeds": Step(2,', "seeds"),
    (
        "generation: the teacher's prompt",
        "ossinstruct/generate/templates/oss-instruct-fewshot-v1.yaml",
        "high-quality programming problem",
        "high-quality, self-contained programming problem",
        "generate",
    ),
    (
        "cleaning: the step's version",
        "ossinstruct/identity.py",
        '"clean_generations": Step(1,',
        '"clean_generations": Step(2,',
        "clean_generations",
    ),
    (
        "decontamination: the step's version",
        "ossinstruct/identity.py",
        '"decontamination_match": Step(1,',
        '"decontamination_match": Step(2,',
        "decontamination_match",
    ),
    (
        "training set: the Magicoder prompt",
        "ossinstruct/curate/trainset.py",
        "exceptionally intelligent coding assistant",
        "exceptionally careful coding assistant",
        "training_set",
    ),
    (
        "training: a TrainConfig default",
        "ossinstruct/train/config.py",
        "weight_decay: float = 0.0",
        "weight_decay: float = 0.1",
        "train",
    ),
    (
        "scoring: MultiPL-E's time limit",
        "ossinstruct/sandbox/toolchains.py",
        '"js": {"compile": 5.0, "run": 5.0}',
        '"js": {"compile": 5.0, "run": 1.0}',
        "eval_score_multiple",
    ),
    (
        "scoring: evalplus's job limit",
        "ossinstruct/benchmarks/evalplus/plugin.py",
        "JOB_TIMEOUT_S = 2 * 62 + 16",
        "JOB_TIMEOUT_S = 2 * 62 + 30",
        "eval_score",
    ),
    (
        "summary: the paper's numbers",
        "ossinstruct/evaluate/paper_results.yaml",
        None,
        "# A note added at the end.\n",
        "eval_summary",
    ),
]


@pytest.mark.parametrize("what,name,old,new,rule", RESULT_SHAPING, ids=[r[0] for r in RESULT_SHAPING])
def test_a_result_shaping_change_plans_its_stage_and_its_dependents(finished_demo, what, name, old, new, rule):
    checkout, jobs, consumers = finished_demo
    stage = {job for job in jobs if job[0] == rule}
    assert stage, rule
    text = _edit(checkout / name, old, new)
    try:
        assert planned(checkout) == downstream(consumers, stage)
    finally:
        (checkout / name).write_text(text)


def test_changes_says_which_constant_changed(finished_demo):
    checkout = finished_demo[0]
    path = checkout / "ossinstruct" / "sandbox" / "toolchains.py"
    text = _edit(path, '"js": {"compile": 5.0, "run": 5.0}', '"js": {"compile": 5.0, "run": 1.0}')
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ossinstruct", "changes", *DEMO],
            cwd=checkout,
            env={**OFFLINE_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        path.write_text(text)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    jobs = [line for line in lines if not line.startswith(" ")][1:]
    assert lines[0] == f"{len(jobs)} job(s) would run:"
    assert sorted(j.split()[0] for j in jobs) == ["eval_score_multiple", "eval_score_multiple", "eval_summary"]
    assert lines.count("    params: code.benchmark.protocol.step_limits_s.js.run: 5.0 -> 1.0") == 2
    summary = lines[lines.index("eval_summary  results/summary.md") + 1]
    assert summary.startswith("    an input is rebuilt first: ") and "demo-gemma-oss/multipl-e-greedy.json" in summary


def _move_function(checkout: Path) -> None:
    """cut_at_stop_tokens from the MultiPL-E plug-in to the benchmarks' base module."""
    benchmarks = checkout / "ossinstruct" / "benchmarks"
    multiple, base = benchmarks / "multipl_e" / "plugin.py", benchmarks / "base.py"
    text = multiple.read_text()
    function = re.search(r"\ndef cut_at_stop_tokens\(.*?\n(?=\n\n)", text, re.S).group(0)
    text = text.replace(function, "").replace(
        "from ossinstruct.benchmarks.base import Benchmark, EvalPrompt, ScoringCost,",
        "from ossinstruct.benchmarks.base import Benchmark, EvalPrompt, ScoringCost, cut_at_stop_tokens,",
    )
    multiple.write_text(text)
    base.write_text(base.read_text() + "\n" + function + "\n")


def _reformat(checkout: Path) -> None:
    """A module reformatted (ruff, another line length) and commented."""
    path = checkout / "ossinstruct" / "curate" / "clean.py"
    subprocess.run(
        [str(Path(sys.executable).parent / "ruff"), "format", "--line-length", "60", "--isolated", str(path)],
        check=True,
        capture_output=True,
    )
    path.write_text(path.read_text().replace("\ndef ", "\n# Why this comes next.\ndef "))


def _docstrings(checkout: Path) -> None:
    """The module's and a function's docstrings reworded."""
    path = checkout / "ossinstruct" / "sandbox" / "toolchains.py"
    text = path.read_text()
    text = text.replace('"""Programs in six languages, compiled', '"""Programs in six languages, built', 1)
    text = text.replace('"""{language: {tool: first line', '"""Per language, {language: {tool: first line', 1)
    path.write_text(text)


def test_moving_a_whole_module_plans_nothing(finished_demo):
    """As issue 25 moved the benchmark modules: the toolchains module (MultiPL-E's and the
    verify step's executor) to another package, every import and every string naming it
    (sandbox handlers) rewritten. The lock then names the definitions whose text changed (the
    handler strings): refreshed, no bump."""
    checkout = finished_demo[0]
    package = checkout / "ossinstruct"
    saved = {p: p.read_text() for p in [*package.rglob("*.py"), *(checkout / "scripts").glob("*.py")]}
    old, new = package / "sandbox" / "toolchains.py", package / "curate" / "toolchains.py"
    try:
        old.rename(new)
        for path, text in [*saved.items(), (new, saved[old])]:
            if path.exists():
                moved = text.replace("ossinstruct.sandbox.toolchains", "ossinstruct.curate.toolchains")
                moved = moved.replace(
                    "from ossinstruct.sandbox import toolchains", "from ossinstruct.curate import toolchains"
                )
                path.write_text(moved)
        assert planned(checkout) == set()
    finally:
        new.rename(old)
        for path, text in saved.items():
            path.write_text(text)


@pytest.mark.parametrize("change", [_move_function, _reformat, _docstrings], ids=["move", "reformat", "docstrings"])
def test_moving_reformatting_or_documenting_code_plans_nothing(finished_demo, change):
    """Not even the lock changes: a step's code digest ignores formatting and docstrings, and
    a definition's module."""
    checkout = finished_demo[0]
    package = checkout / "ossinstruct"
    saved = {p: p.read_text() for p in package.rglob("*.py")}
    try:
        change(checkout)
        assert {p for p in saved if p.read_text() != saved[p]}
        assert planned(checkout) == set()
        check = subprocess.run(
            [sys.executable, "-m", "ossinstruct", "identity"], cwd=checkout, capture_output=True, text=True, timeout=600
        )
        assert check.returncode == 0 and "up to date" in check.stdout, check.stdout
    finally:
        for path, text in saved.items():
            path.write_text(text)
