"""Training-ready records in TRL's prompt/completion format (paper Appendix B.3).

Each sample becomes ``{"prompt", "completion", "id", "lang", "is_python",
"source_dataset"}``: the prompt is the Magicoder instruction template with the
instruction filled in, the completion is the solution. An OSS-Instruct sample's
instruction is ``"Write a solution to the following coding problem:\n" + problem``, as
the authors' preprocess_data.py builds it (SRC_INSTRUCT_INSTRUCTION_PROMPT); an
Evol-Instruct row's instruction is used as it is. ``instruction: bare`` (a dataset key)
passes the bare problem instead, this project's first choice.

Table 5 splits (:func:`python_split`, paper §4.1) follow the authors'
experiments/lang_ablation.py by default. No EOS token is added here: TRL's
SFTTrainer appends its EOS token (SFTConfig.eos_token, by default the tokenizer's) to
the completion, and trains on the completion only by default for this format
(``completion_only_loss``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from ossinstruct.curate.clean import is_python_sample
from ossinstruct.files import write_jsonl_atomic

# The Magicoder instruction template (the authors' MAGICODER_PROMPT), exactly.
MAGICODER_PROMPT = (
    "You are an exceptionally intelligent coding assistant that consistently delivers "
    "accurate and reliable responses to user instructions.\n\n"
    "@@ Instruction\n{instruction}\n\n@@ Response\n"
)

DEFAULT_DATASET = "oss-instruct"

# The authors' SRC_INSTRUCT_INSTRUCTION_PROMPT (prompt_template.py) without its {problem}.
OSS_INSTRUCT_PREFIX = "Write a solution to the following coding problem:\n"
INSTRUCTION_STYLES = ("magicoder", "bare")


def is_evol_row(sample: dict) -> bool:
    """An Evol-Instruct row (ossinstruct.curate.evol): no seed, a source dataset."""
    return sample.get("seed") is None and bool(sample.get("source"))


def instruction_of(sample: dict, style: str = "magicoder") -> str:
    """The instruction a sample is trained on (see the module docstring)."""
    if style not in INSTRUCTION_STYLES:
        raise ValueError(f"instruction style {style!r}: one of {', '.join(INSTRUCTION_STYLES)}")
    if style == "bare" or is_evol_row(sample):
        return sample["problem"]
    return OSS_INSTRUCT_PREFIX + sample["problem"]


def render_prompt(instruction: str) -> str:
    """MAGICODER_PROMPT with `instruction` in place (braces in it are kept verbatim)."""
    return MAGICODER_PROMPT.replace("{instruction}", instruction)


def _dataset_of(sample: dict, dataset: str | None) -> str:
    if dataset:
        return dataset
    if sample.get("dataset"):
        return str(sample["dataset"])
    if sample.get("seed") is None and sample.get("source"):  # an Evol-Instruct row
        return str(sample["source"])
    return DEFAULT_DATASET


def to_training_records(
    samples: Iterable[dict], dataset: str | None = None, instruction: str = "magicoder"
) -> list[dict]:
    """Samples -> prompt/completion records, in order.

    ``id`` is ``f"{dataset}/{raw_index}"``, stable across curation steps. `dataset` names
    the source dataset (``source_dataset``); when None it is the sample's ``dataset``
    field if any, else an Evol-Instruct sample's ``source``, else ``"oss-instruct"``.
    ``is_python`` is the sample's, or the §4.1 rule when the sample lacks it.
    """
    records = []
    for position, sample in enumerate(samples):
        name = _dataset_of(sample, dataset)
        raw_index = sample.get("raw_index")
        records.append(
            {
                "prompt": render_prompt(instruction_of(sample, instruction)),
                "completion": sample["solution"],
                "id": f"{name}/{raw_index if raw_index is not None else position}",
                "lang": sample.get("lang"),
                "is_python": bool(sample["is_python"]) if "is_python" in sample else is_python_sample(sample),
                "source_dataset": name,
            }
        )
    return records


def select(samples: Iterable[dict], python: bool | None) -> list[dict]:
    """The Python-only (True), non-Python (False) or all (None) samples or training
    records, by their ``is_python`` (paper §4.1 split; Table 5)."""
    samples = list(samples)
    if python is None:
        return samples

    def flag(s: dict) -> bool:
        return bool(s["is_python"]) if "is_python" in s else is_python_sample(s)

    return [s for s in samples if flag(s) == python]


# Table 5 split rules (paper §4.1). See python_split.
PYTHON_RULES = ("fence", "conservative", "substring")


def python_split(
    samples: Iterable[dict], python: bool, rule: str = "fence", size: int | None = None, seed: int = 1
) -> list[dict]:
    """The Python (True) or non-Python (False) side of the §4.1 / Table 5 ablation.

    ``fence`` (default): the authors' lang_ablation.py with ``--conservative False``:
    Python when "```python" occurs in instruction + response; a partition of the data,
    as the paper's Table 5 sizes are (43K + 32K = 75K).
    ``conservative``: the same script's default: Python when the seed's language is
    python and "python" occurs in the lowercased instruction + response, non-Python when
    the language is not python and it does not; the rest is in neither. Then
    ``random.seed(seed)`` (theirs: 1) and ``size`` (theirs: 30000) samples drawn from the
    Python side, then from the other, so each side is what their script writes.
    ``substring``: the paper's words, "whether `python` is a substring of the generated
    data": case-sensitive, in the problem or the solution (``is_python``).
    """
    samples = list(samples)
    if rule == "substring":
        return select(samples, python)

    def text(s: dict) -> str:  # their instruction + response (the prefix has no "python")
        return (s.get("problem") or "") + (s.get("solution") or "")

    if rule == "fence":
        return [s for s in samples if ("```python" in text(s)) == python]
    if rule != "conservative":
        raise ValueError(f"python split rule {rule!r}: one of {', '.join(PYTHON_RULES)}")
    sides = {True: [], False: []}
    for s in samples:
        mentions = "python" in text(s).lower()
        if s.get("lang") == "python" and mentions:
            sides[True].append(s)
        elif s.get("lang") != "python" and not mentions:
            sides[False].append(s)
    if size is None:
        return sides[python]
    for side, found in sides.items():
        if len(found) < size:
            raise ValueError(
                f"the conservative Table 5 split has {len(found)} "
                f"{'Python' if side else 'non-Python'} samples, fewer than python_sample_size="
                f"{size}; lower it (datasets[].python_sample_size) or set it to null"
            )
    rng = random.Random(seed)
    python_side = rng.sample(sides[True], k=size)
    other_side = rng.sample(sides[False], k=size)
    return python_side if python else other_side


def write_training_jsonl(
    samples: Iterable[dict],
    path: str,
    dataset: str | None = None,
    python: bool | None = None,
    instruction: str = "magicoder",
) -> int:
    """Write the training records of (the `python` split of) `samples` atomically;
    returns how many."""
    return write_jsonl_atomic(path, to_training_records(select(samples, python), dataset, instruction))
