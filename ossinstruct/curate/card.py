"""The README.md (Hugging Face dataset card) of a released dataset.

:func:`dataset_card` renders markdown with YAML front matter: counts at each curation
step, sources, the teacher, a decontamination summary per benchmark, the sample schema,
a ``datasets.load_dataset("json", ...)`` snippet and a license note. Pure: it formats
what it is given and reads nothing.
"""

from __future__ import annotations

import json

from ossinstruct.curate.clean import SAMPLE_FIELDS

FIELD_DESCRIPTIONS = {
    "lang": "language of the seed snippet (OSS-Instruct); `unknown` for Evol-Instruct rows",
    "seed": "the seed code snippet the teacher was shown (null for Evol-Instruct rows)",
    "problem": "the generated coding problem (the instruction)",
    "solution": "the generated solution (the response)",
    "index": "position in this file, 0..n-1",
    "raw_index": "position among the raw generation records (or source rows); stable across curation steps",
    "is_python": "paper §4.1: `python` is a substring of the problem or the solution",
    "seed_id": "`{corpus}/{lang}/{position}` of the seed",
    "corpus": "seed corpus name",
    "document": "id or path of the document the seed was cut from",
    "start_line": "first line of the seed in its document (1-based)",
    "end_line": "last line of the seed in its document (inclusive)",
    "source": "where the seed corpus (or the Evol-Instruct rows) came from",
    "teacher": "teacher name in the pipeline's config",
    "model": "teacher model id (@revision when pinned)",
    "template_id": "prompt template id",
    "request_hash": "hash of (backend, model, prompt, decoding): the response cache key",
}

_COUNT_LABELS = {
    "seeds": "seed snippets",
    "raw": "raw records",
    "generations": "generation records",
    "ok": "parsed, status ok",
    "clean": "after deduplication",
    "deduplicated": "after deduplication",
    "kept": "after cleaning",
    "decontaminated": "after decontamination",
    "verified": "after execution verification",
    "train": "training records",
}


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value).replace("|", "\\|").replace("\n", " ")


def _bullets(obj, indent: int = 0) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}- **{key}**:")
                lines += _bullets(value, indent + 1)
            else:
                lines.append(f"{pad}- **{key}**: {_cell(value)}")
    elif isinstance(obj, list):
        for value in obj:
            if isinstance(value, (dict, list)):
                lines += _bullets(value, indent)
            else:
                lines.append(f"{pad}- {_cell(value)}")
    else:
        lines.append(f"{pad}- {_cell(obj)}")
    return lines


def _size_category(n: int | None) -> str:
    if n is None:
        return "unknown"
    for bound, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < bound:
            return label
    return "n>10M"


def decontamination_section(report: dict) -> list[str]:
    """The card's decontamination table, from the report of ossinstruct.curate.decontaminate.merge
    (or of a subset, which inherits its parent's decontamination)."""
    if not report:
        return ["No decontamination report was given."]
    if "subset_of" in report:
        return [f"A subset of `{report['subset_of']}`, which was decontaminated; see its card."]
    per_benchmark = report.get("per_benchmark", {})
    lines = ["| benchmark | samples removed |", "| --- | ---: |"]
    lines += [f"| {name} | {per_benchmark.get(name, 0)} |" for name in report.get("benchmarks", per_benchmark)]
    lines += [
        "",
        f"Samples removed in all: {report.get('excluded', 0)} of {report.get('total', 0)} "
        "(a sample matching several benchmarks counts under each in the table).",
    ]
    per_language = report.get("per_language", {})
    if per_language:
        lines += ["", "| language | samples | removed | kept |", "| --- | ---: | ---: | ---: |"]
        lines += [
            f"| {lang} | {c.get('total', 0)} | {c.get('excluded', 0)} | {c.get('kept', 0)} |"
            for lang, c in sorted(per_language.items())
        ]
    return lines


def dataset_card(
    name: str,
    counts: dict,
    sources: dict,
    teacher: str | None,
    decontamination_report: dict,
    license: str | None = None,
    data_file: str = "decontaminated.jsonl",
    description: str | None = None,
) -> str:
    """Markdown README.md for the released dataset `name`.

    counts: step -> number of samples, in pipeline order (e.g. seeds, raw, ok,
    deduplicated, decontaminated). sources: what the data came from (free-form; nested
    dicts become nested lists). teacher: the teacher model (None for data that was not
    generated here). decontamination_report: per-benchmark results, either
    ``{"benchmarks": {bench: {"removed": n, ...}}, ...}`` or ``{bench: n | {...}}``.
    license: an SPDX id for the front matter; None writes ``other`` and a note.
    """
    final = None
    for key in ("verified", "decontaminated", "train", "kept", "clean", "deduplicated"):
        if isinstance(counts.get(key), int):
            final = counts[key]
            break
    if final is None and counts:
        ints = [v for v in counts.values() if isinstance(v, int)]
        final = ints[-1] if ints else None
    front = [
        "---",
        f"license: {license or 'other'}",
        "language:",
        "- en",
        "task_categories:",
        "- text-generation",
        "tags:",
        "- code",
        "- instruction-tuning",
        "- oss-instruct",
        "size_categories:",
        f"- {_size_category(final)}",
        f"pretty_name: {name}",
        "---",
        "",
    ]
    body = [
        f"# {name}",
        "",
        description
        or (
            (
                "Instruction-tuning data for code from an existing instruction dataset (see "
                'Sources), as used to fine-tune the "S" models of Magicoder; converted to the '
                "OSS-Instruct sample schema and decontaminated against evaluation benchmarks."
            )
            if not teacher
            else (
                "Instruction-tuning data for code, built by a reproduction of OSS-Instruct "
                "(Wei et al., *Magicoder: Empowering Code Generation with OSS-Instruct*): a teacher "
                "LLM turns seed code snippets from open-source code into a coding problem and its "
                "solution; samples are deduplicated (same seed, problem or solution) and "
                "decontaminated against evaluation benchmarks."
            )
        ),
        "",
        f"- **Samples**: {_cell(final)}",
        f"- **Teacher**: {teacher if teacher else 'none (not generated by this pipeline)'}",
        "",
        "## Counts at each step",
        "",
        "| step | samples |",
        "| --- | ---: |",
    ]
    for step, value in counts.items():
        label = _COUNT_LABELS.get(step)
        body.append(f"| {step}{f' ({label})' if label else ''} | {_cell(value)} |")
    body += ["", "## Sources", ""]
    body += _bullets(sources) if sources else ["(not given)"]
    body += ["", "## Decontamination", ""]
    body += decontamination_section(decontamination_report or {})
    body += ["", "## Fields", "", "| field | meaning |", "| --- | --- |"]
    body += [f"| `{f}` | {FIELD_DESCRIPTIONS.get(f, '')} |" for f in SAMPLE_FIELDS]
    body += [
        "",
        "## Usage",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("json", data_files="{data_file}", split="train")',
        'print(ds[0]["problem"])',
        "```",
        "",
        "## License",
        "",
    ]
    if license:
        body.append(f"Released under `{license}`. ")
    body.append(
        "The seed snippets come from permissively licensed open-source code and keep their "
        "original licenses and attribution terms (see each sample's `corpus`, `document` and "
        "`source`). Generated problems and solutions are also subject to the terms of use of "
        "the teacher model's provider. Check both before redistributing or training on this data."
    )
    return "\n".join(front + body) + "\n"


# --------------------------------------------------------------------------- verification (beyond the paper)

VERIFY_FIELD_DESCRIPTIONS = {
    "tests": "the teacher's [Tests] section (template oss-instruct-chat-tests-v1); null when it gave none",
    "tests_reason": "why `tests` is null (missing, empty or malformed section), else null",
    "verify_status": "pass, fail, timeout, no_tests or unsupported_language (ossinstruct/curate/verify.py)",
    "verify_language": "the language solution + tests ran as",
    "verify_detail": "the runner's status (compile_error, crashed, ...) or why nothing ran",
    "verify_stderr": "the tail of the runner's stderr",
}


def verification_section(report: dict) -> list[str]:
    """The card's execution-verification tables, from verify_report.json: samples per
    status, and per language with its pass rate (pass / samples whose tests ran)."""
    from ossinstruct.curate.verify import STATUSES

    mode = report["mode"]
    lines = [
        "Beyond the paper: each sample's teacher-written tests were run with its solution in a "
        f"sandbox (mode `{mode}`: "
        + (
            "every sample is kept, with its status)."
            if mode == "annotate"
            else "only samples whose tests pass are kept; the others are in verify_rejected.jsonl)."
        ),
        "",
        "| status | samples |",
        "| --- | ---: |",
    ]
    lines += [f"| {status} | {report['by_status'].get(status, 0)} |" for status in STATUSES]
    lines += [f"| **all** | {report['total']} |", ""]
    header = " | ".join(STATUSES)
    lines += [f"| language | {header} | pass rate |", "| --- |" + " ---: |" * (len(STATUSES) + 1)]
    for lang, counts in report["by_language"].items():
        rate = counts.get("pass_rate")
        cells = " | ".join(str(counts.get(status, 0)) for status in STATUSES)
        lines.append(f"| {lang} | {cells} | {'–' if rate is None else f'{100 * rate:.1f}%'} |")
    overall = report.get("pass_rate")
    limits = report.get("limits", {})
    lines += [
        "",
        f"Pass rate over samples whose tests ran (pass, fail, timeout): "
        f"{'–' if overall is None else f'{100 * overall:.1f}%'}. Kept: {report['kept']}, dropped: "
        f"{report['dropped']}. Limits: {_cell(limits.get('timeout_s'))} s a run, "
        f"{_cell(limits.get('compile_timeout_s'))} s a compile, {_cell(limits.get('memory_mb'))} MB.",
    ]
    return lines


def card_with_verification(card: str, report: dict) -> str:
    """`card` with the execution-verification section before its field table, and the
    verification fields in that table."""
    head, marker, tail = card.partition("\n## Fields\n")
    if not marker:
        raise ValueError("card_with_verification: the card has no Fields section")
    section = "\n## Execution verification\n\n" + "\n".join(verification_section(report)) + "\n"
    fields_end = tail.find("\n\n## Usage")
    rows = "".join(f"\n| `{f}` | {d} |" for f, d in VERIFY_FIELD_DESCRIPTIONS.items())
    tail = tail[:fields_end] + rows + tail[fields_end:]
    return head + section + marker + tail
