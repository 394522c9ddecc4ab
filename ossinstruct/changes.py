"""Why each planned job would run: ``python -m ossinstruct changes [snakemake arguments]``.

Runs ``snakemake -n`` with the given arguments (so the workflow profile and any --profile
or --configfile apply, as for the real run) and prints, per planned job, its rule, its first
output and why it runs, in plain words. A params change is shown as the part of the rule's
identity that changed, ``path: before -> now``: the code's step version
(``code.version``), a constant in force (``code.benchmark.protocol.step_limits_s.js.run``), a
config value (``generation.max_new_tokens``). Snakemake records a rule's params without
their names, so a path starts at the changed value; a rule's code identity is the one that
starts with ``code``. docs/reruns.md.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field

PARAMS_REASON = "Params have changed since last execution: "
_JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
# Snakemake's wording of each reason (snakemake/jobs.py, Reason.__str__), in plain words.
_REASONS = (
    ("Missing output files", "not built yet"),
    ("Input files updated by another job", "an input is rebuilt first"),
    ("Updated input files", "an input is newer than the output and its content differs from the last run"),
    ("Set of input files has changed since last execution", "its set of input files changed"),
    ("Code has changed since last execution", "its script is newer than its output (the `code` trigger)"),
    ("Software environment definition has changed since last execution", "its software environment changed"),
    ("Incomplete output files", "a previous run of it did not finish"),
    ("Forced execution", "forced (--force, --forceall or --forcerun)"),
)


@dataclass
class PlannedJob:
    rule: str
    outputs: list[str] = field(default_factory=list)
    reason: str = ""


def parse_dry_run(text: str) -> list[PlannedJob]:
    """The jobs of a `snakemake -n` output, each with its rule, outputs and reason line."""
    jobs: list[PlannedJob] = []
    for line in text.splitlines():
        header = _JOB_HEADER.match(line.strip())
        if header and not line.startswith(" "):
            jobs.append(PlannedJob(header.group(1)))
        elif jobs and line.startswith("    output: "):
            jobs[-1].outputs = [p.strip() for p in line[len("    output: ") :].split(",")]
        elif jobs and line.startswith("    reason: "):
            jobs[-1].reason = line[len("    reason: ") :]
    return jobs


def _literal_list(text: str) -> list | None:
    try:
        return ast.literal_eval("[" + text + "]")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def split_params_change(reason: str) -> tuple[list, list, str] | None:
    """(values before, values now, the rest of the reason) of a params change, or None. The
    values are the params' reprs as Snakemake prints them (a comma-joined list each)."""
    at = reason.find(PARAMS_REASON)
    if at < 0:
        return None
    text = reason[at + len(PARAMS_REASON) :]
    text = text.split("across all output: ", 1)[-1]
    if not text.startswith("before: "):
        return None
    text = text[len("before: ") :]
    for cut in [m.start() for m in re.finditer(" now: ", text)]:
        before_text, rest = text[:cut], text[cut + len(" now: ") :]
        before = [] if before_text == "<nothing exclusive>" else _literal_list(before_text)
        if before is None:
            continue
        # The now part ends where the next reason begins ("; ..."), or at the end.
        ends = [len(rest)] + [m.start() for m in re.finditer(r" ?; ", rest)][::-1]
        for end in sorted(set(ends), reverse=True):
            now_text = rest[:end].strip()
            now = [] if now_text == "<nothing exclusive>" else _literal_list(now_text)
            if now is not None:
                return before, now, (reason[:at] + rest[end:].lstrip(" ;")).strip(" ;")
    return None


def _decoded(value):
    """A JSON string param (the train config, an evaluation's generation) as its value."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def diff_values(before, now, path: str = "") -> list[str]:
    """`path: before -> now` for each leaf that differs."""
    before, now = _decoded(before), _decoded(now)
    if isinstance(before, dict) and isinstance(now, dict):
        lines = []
        for key in list(before) + [k for k in now if k not in before]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in now:
                lines.append(f"{sub}: {before[key]!r} -> (removed)")
            elif key not in before:
                lines.append(f"{sub}: (new) -> {now[key]!r}")
            elif before[key] != now[key]:
                lines += diff_values(before[key], now[key], sub)
        return lines
    if isinstance(before, list) and isinstance(now, list) and len(before) == len(now):
        return [line for i, (b, n) in enumerate(zip(before, now)) for line in diff_values(b, n, f"{path}[{i}]")]
    return [f"{path or '(value)'}: {before!r} -> {now!r}"]


def _similarity(a, b) -> int:
    a, b = _decoded(a), _decoded(b)
    if isinstance(a, dict) and isinstance(b, dict):
        if "step" in a and "step" in b:
            return 1000 if a["step"] == b["step"] else -1
        return len(set(a) & set(b)) + sum(a.get(k) == b.get(k) for k in set(a) & set(b))
    return 0 if type(a) is type(b) else -1


def params_lines(before: list, now: list) -> list[str]:
    """The changes between a job's recorded and current params, paired value by value (a
    rule's code identity is the dict with a "step" key, shown under `code`)."""
    unpaired = list(before)
    lines = []
    for value in now:
        scores = [(_similarity(old, value), i) for i, old in enumerate(unpaired)]
        score, index = max(scores, default=(-1, -1))
        if score < 0:
            lines.append(f"(new param): {value!r}")
            continue
        old = unpaired.pop(index)
        prefix = "code" if isinstance(value, dict) and "step" in value else ""
        lines += diff_values(old, value, prefix)
    lines += [f"(param no longer set): {old!r}" for old in unpaired]
    return lines


def explain(job: PlannedJob) -> list[str]:
    """Lines saying why one planned job runs."""
    lines = []
    reason = job.reason
    change = split_params_change(reason)
    if change is not None:
        before, now, reason = change
        lines += ["params: " + line for line in params_lines(before, now)]
    for part in filter(None, (p.strip() for p in reason.split("; "))):
        wording = next((plain for prefix, plain in _REASONS if part.startswith(prefix)), None)
        detail = part.split(": ", 1)[1] if ": " in part else ""
        lines.append(f"{wording}: {detail}" if wording and detail else wording or part)
    return lines


def report(jobs: list[PlannedJob]) -> str:
    if not jobs:
        return "Nothing to be done: no job would run."
    out = [f"{len(jobs)} job(s) would run:"]
    for job in jobs:
        out.append(f"{job.rule}  {job.outputs[0] if job.outputs else ''}".rstrip())
        out += ["    " + line for line in explain(job)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    # `all` is the target rule, not a job that builds anything.
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", *argv], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        return result.returncode
    print(report([job for job in parse_dry_run(result.stdout) if job.rule != "all"]))
    return 0
