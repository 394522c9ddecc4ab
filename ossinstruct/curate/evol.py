"""Evol-Instruct rows as samples, for the "S" models (paper §3, Appendix B.3).

MagicoderS continues fine-tuning Magicoder on evol-codealpaca-v1, an open-source
reproduction of Evol-Instruct (about 110K rows). Two hub copies are known:

- ``ise-uiuc/Magicoder-Evol-Instruct-110K``: fields ``instruction``, ``response``;
  decontaminated by the Magicoder authors.
- ``theblackcat102/evol-codealpaca-v1``: fields ``instruction``, ``output``; raw.

:func:`load_evol_rows` reads a ``datasets.<name>.evol`` spec (hub or local file);
:func:`ingest_evol` turns rows into the sample schema of :mod:`ossinstruct.curate.clean`:
``problem`` = instruction, ``solution`` = response/output, ``raw_index`` = row position,
``index`` = position among the kept samples, ``seed`` and the seed/teacher provenance
fields null, ``source`` = the dataset, ``is_python`` by the paper's §4.1 rule.

``lang`` is ``"unknown"``: OSS-Instruct's ``lang`` is the *seed's* language and Evol
rows have no seed; guessing a language from the response's code fences would give the
field another meaning in the same schema, so we do not.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ossinstruct.curate.clean import RULE_EMPTY, SAMPLE_FIELDS, is_python_sample
from ossinstruct.files import InputError, read_jsonl

log = logging.getLogger("ossinstruct.curate.evol")

# Known hub copies: dataset id -> (instruction field, response field, note).
EVOL_SOURCES: dict[str, dict] = {
    "ise-uiuc/Magicoder-Evol-Instruct-110K": {
        "instruction": "instruction",
        "response": "response",
        "note": "evol-codealpaca-v1 decontaminated by the Magicoder authors",
    },
    "theblackcat102/evol-codealpaca-v1": {
        "instruction": "instruction",
        "response": "output",
        "note": "open-source reproduction of Evol-Instruct (raw)",
    },
}

UNKNOWN_LANG = "unknown"
_RESPONSE_FIELDS = ("response", "output")


class EvolSourceError(InputError, RuntimeError):
    """An Evol-Instruct source cannot be read (hub unreachable, missing file, bad spec)."""


def _config_key(name: str) -> str:
    return f"datasets.{name}.evol.source"


def load_evol_rows(spec: dict, name: str | None = None) -> list[dict]:
    """The rows of an Evol-Instruct source, as plain dicts in the source's order.

    spec: ``{"source": "huggingface", "dataset", "revision", "split"}`` (``datasets`` is
    imported only then) or ``{"source": "file", "path"}`` (``.jsonl``, ``.json`` (a list,
    or JSON Lines), ``.parquet`` via pandas). `name` is the dataset's config name, used in
    error messages that name the config key to change.
    """
    source = spec.get("source")
    label = spec.get("dataset") or spec.get("path") or "?"
    name = name or spec.get("name") or label
    key = _config_key(name)
    if source == "huggingface":
        dataset = spec.get("dataset")
        if not dataset:
            raise EvolSourceError(f"{key} is huggingface but datasets.{name}.evol.dataset is not set")
        revision, split = spec.get("revision", "main"), spec.get("split", "train")
        from ossinstruct.prefetch import local_dataset

        # A job the workflow runs offline reads the snapshot rule prefetch fetched.
        source_path = local_dataset(dataset, revision) or dataset
        try:
            import datasets

            loaded = datasets.load_dataset(source_path, revision=revision, split=split)
        except Exception as exc:  # offline, gated, missing revision or split, ...
            raise EvolSourceError(
                f"cannot load Evol-Instruct dataset {dataset!r} (revision {revision!r}, split "
                f"{split!r}) from the Hugging Face hub for dataset {name!r}: "
                f"{type(exc).__name__}: {exc}. Needs hub access (or a local datasets cache); "
                f"or set {key} to 'file' with datasets.{name}.evol.path to a local copy."
            ) from exc
        return [dict(row) for row in loaded]
    if source == "file":
        path = spec.get("path")
        if not path:
            raise EvolSourceError(f"{key} is file but datasets.{name}.evol.path is not set")
        return _read_rows(Path(path), name, key)
    raise EvolSourceError(f"{key}: unknown source {source!r} for dataset {name!r} (expected huggingface or file)")


def _read_rows(path: Path, name: str, key: str) -> list[dict]:
    if not path.is_file():
        raise EvolSourceError(
            f"Evol-Instruct file {str(path)!r} for dataset {name!r} does not exist "
            f"(datasets.{name}.evol.path, with {key} = file)"
        )
    suffix = "".join(path.suffixes[-1:]).lower()
    try:
        if suffix == ".parquet":
            import pandas

            frame = pandas.read_parquet(path)
            return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
        if suffix == ".json":
            text = path.read_text(encoding="utf-8")
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                return list(read_jsonl(path))  # JSON Lines named .json
            if isinstance(data, dict):  # {"data": [...]} or {"train": [...]}
                lists = [v for v in data.values() if isinstance(v, list)]
                if len(lists) != 1:
                    raise ValueError("a JSON object must hold exactly one list of rows")
                data = lists[0]
            if not isinstance(data, list):
                raise ValueError("expected a list of rows")
            return [dict(row) for row in data]
        if suffix in (".jsonl", ".ndjson"):
            return list(read_jsonl(path))
    except (ValueError, OSError, ImportError) as exc:
        raise EvolSourceError(f"cannot read Evol-Instruct file {str(path)!r} for dataset {name!r}: {exc}") from exc
    raise EvolSourceError(
        f"Evol-Instruct file {str(path)!r} for dataset {name!r}: unsupported format "
        f"{suffix or '(none)'}; use .jsonl, .json or .parquet"
    )


def _plain(value):
    """numpy/pandas scalars as plain Python values (JSON-serialisable)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def evol_fields(rows: list[dict], dataset_name: str) -> tuple[str, str]:
    """(instruction field, response field) of a dataset: from :data:`EVOL_SOURCES` when
    `dataset_name` is (or ends with the name of) a known hub dataset, else detected from
    the first row (``response`` or ``output``)."""
    for dataset, fields in EVOL_SOURCES.items():
        if dataset_name in (dataset, dataset.split("/")[-1]):
            return fields["instruction"], fields["response"]
    first = rows[0] if rows else {}
    for field in _RESPONSE_FIELDS:
        if field in first:
            return "instruction", field
    if not rows:
        return "instruction", "response"
    raise EvolSourceError(
        f"dataset {dataset_name!r}: rows have no response field "
        f"(one of {', '.join(_RESPONSE_FIELDS)}); fields: {sorted(first)}"
    )


def ingest_evol(rows: list[dict], dataset_name: str) -> tuple[list[dict], list[dict]]:
    """Rows -> (samples, rejected). Rows with an empty (or missing, or non-string)
    instruction or response are rejected: the row plus ``raw_index``, ``reject_rule``
    ("empty"), ``reject_reason`` and ``duplicate_of`` (None)."""
    instruction_field, response_field = evol_fields(rows, dataset_name)
    samples: list[dict] = []
    rejected: list[dict] = []
    for raw_index, row in enumerate(rows):
        problem, solution = row.get(instruction_field), row.get(response_field)
        missing = [
            f
            for f, v in ((instruction_field, problem), (response_field, solution))
            if not isinstance(v, str) or not v.strip()
        ]
        if missing:
            rejected.append(
                {
                    **row,
                    "raw_index": raw_index,
                    "reject_rule": RULE_EMPTY,
                    "reject_reason": "empty " + " and ".join(missing),
                    "duplicate_of": None,
                }
            )
            continue
        sample = dict.fromkeys(SAMPLE_FIELDS)
        sample.update(
            {
                "lang": UNKNOWN_LANG,
                "seed": None,
                "problem": problem,
                "solution": solution,
                "index": len(samples),
                "raw_index": raw_index,
                "source": dataset_name,
            }
        )
        sample["is_python"] = is_python_sample(sample)
        samples.append(sample)
    log.info("%s: %d rows, %d samples, %d rejected", dataset_name, len(rows), len(samples), len(rejected))
    return samples, rejected
