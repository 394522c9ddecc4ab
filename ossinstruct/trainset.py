"""Training-ready records in TRL's prompt/completion format (paper Appendix B.3).

Each sample becomes ``{"prompt", "completion", "id", "lang", "is_python",
"source_dataset"}``: the prompt is the Magicoder instruction template with the problem
filled in, the completion is the solution. No EOS token is added here: TRL's
SFTTrainer appends its EOS token (SFTConfig.eos_token, by default the tokenizer's) to
the completion, and trains on the completion only by default for this format
(``completion_only_loss``).
"""

from __future__ import annotations

from collections.abc import Iterable

from .curate import is_python_sample
from .io import write_jsonl_atomic

# The Magicoder instruction template (the authors' MAGICODER_PROMPT), exactly.
MAGICODER_PROMPT = (
    "You are an exceptionally intelligent coding assistant that consistently delivers "
    "accurate and reliable responses to user instructions.\n\n"
    "@@ Instruction\n{instruction}\n\n@@ Response\n"
)

DEFAULT_DATASET = "oss-instruct"


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


def to_training_records(samples: Iterable[dict], dataset: str | None = None) -> list[dict]:
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
        records.append({
            "prompt": render_prompt(sample["problem"]),
            "completion": sample["solution"],
            "id": f"{name}/{raw_index if raw_index is not None else position}",
            "lang": sample.get("lang"),
            "is_python": bool(sample["is_python"]) if "is_python" in sample else is_python_sample(sample),
            "source_dataset": name,
        })
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


def write_training_jsonl(samples: Iterable[dict], path: str, dataset: str | None = None,
                         python: bool | None = None) -> int:
    """Write the training records of (the `python` split of) `samples` atomically;
    returns how many."""
    return write_jsonl_atomic(path, to_training_records(select(samples, python), dataset))
