"""Stage 3: curated instruction datasets, one function per workflow step.

results/datasets/{dataset}/
  clean.jsonl, rejected.jsonl          generations cleaned and deduplicated (or Evol-Instruct ingested)
  matches/{benchmark}.jsonl            samples containing a string of that benchmark (one job each)
  decontaminated.jsonl, excluded.jsonl, report.json
  train.jsonl                          prompt/completion records for the training stage
  README.md, figures/*.png             dataset card and figures
  verified.jsonl, verify_rejected.jsonl, verify_report.json, figures/verify_pass_rate.png
                                       only with verify annotate | require (beyond the paper)
"""

from __future__ import annotations

import logging
from pathlib import Path

from ossinstruct import benchmarks
from ossinstruct.curate import clean as curate
from ossinstruct.curate import decontaminate, evol, figures, trainset
from ossinstruct.curate import verify as verification
from ossinstruct.curate.card import card_with_verification, dataset_card
from ossinstruct.files import read_jsonl, write_json_atomic, write_jsonl_atomic, write_text_atomic

log = logging.getLogger("ossinstruct.curate.steps")


def clean_generations(
    shard_paths: list[str], out_clean: str, out_rejected: str, drop_noisy: bool, shuffle_seed: int | None = None
) -> dict:
    return curate.curate_shards(shard_paths, out_clean, out_rejected, drop_noisy=drop_noisy, shuffle_seed=shuffle_seed)


def ingest_evol(name: str, spec: dict, out_clean: str, out_rejected: str) -> dict:
    rows = evol.load_evol_rows(spec, name)
    samples, rejected = evol.ingest_evol(rows, spec.get("dataset") or Path(spec.get("path", name)).name)
    write_jsonl_atomic(out_clean, samples)
    write_jsonl_atomic(out_rejected, rejected)
    log.info("%s: %d rows, %d samples, %d rejected", name, len(rows), len(samples), len(rejected))
    return {"raw": len(rows), "kept": len(samples), "rejected": len(rejected)}


def extract_benchmark_strings(
    benchmark: str, spec: dict, min_length: int, out_path: str, exempt: list[str] = ()
) -> int:
    """Load one benchmark's texts (the source spec resolved by the workflow) and write the
    strings a training sample must not contain."""
    strings = benchmarks.benchmark_strings(benchmark, benchmarks.load_rows(benchmark, spec), min_length, exempt=exempt)
    log.info(
        "%s (%s): %d strings of at least %d characters",
        benchmark,
        benchmarks.describe_source(spec),
        len(strings),
        min_length,
    )
    return write_jsonl_atomic(out_path, strings)


def match_benchmark(
    samples_path: str, benchmark: str, strings_path: str, fields: list[str], out_path: str, join: str | None = None
) -> int:
    strings = list(read_jsonl(strings_path, required=("benchmark", "text"), what="benchmark string"))
    found = decontaminate.match_samples(samples_path, benchmark, strings, out_path, fields=fields, join=join)
    log.info("%s: %d samples contain a %s string", samples_path, found, benchmark)
    return found


def merge_matches(
    samples_path: str,
    match_paths: list[str],
    benchmark_names: list[str],
    out_decontaminated: str,
    out_excluded: str,
    out_report: str,
) -> dict:
    return decontaminate.merge(
        samples_path, match_paths, out_decontaminated, out_excluded, out_report, benchmarks=benchmark_names
    )


def subset(
    parent_path: str,
    python: bool | None,
    out_decontaminated: str,
    out_report: str,
    rule: str = "fence",
    size: int | None = None,
    seed: int = 1,
) -> dict:
    """A split of an already decontaminated dataset (paper §4.1, Table 5: Python /
    non-Python), by `rule` (ossinstruct.curate.trainset.python_split)."""
    parent = list(read_jsonl(parent_path, what="sample"))
    chosen = parent if python is None else trainset.python_split(parent, python, rule, size, seed)
    samples = curate.reindex(chosen)
    write_jsonl_atomic(out_decontaminated, samples)
    report = {
        "subset_of": str(parent_path),
        "python": python,
        "python_rule": rule,
        "python_sample_size": size if rule == "conservative" else None,
        "parent_total": len(parent),
        "total": len(samples),
        "kept": len(samples),
        "excluded": 0,
    }
    write_json_atomic(out_report, report)
    return report


def verify(
    name: str,
    samples_path: str,
    mode: str,
    limits: dict,
    out_verified: str,
    out_rejected: str,
    out_report: str,
    out_figure: str,
    workers: int = 1,
    cache_dir: str | None = None,
) -> dict:
    """Run every sample's tests with its solution (ossinstruct.curate.verify), then draw
    the pass rate by language."""
    report = verification.verify_dataset(
        samples_path, mode, out_verified, out_rejected, out_report, workers=workers, cache_dir=cache_dir, **limits
    )
    figures.verify_pass_rate_figure(report, out_figure, title=name)
    return report


def training_set(decontaminated_path: str, dataset: str, out_path: str, instruction: str = "magicoder") -> int:
    return trainset.write_training_jsonl(
        read_jsonl(decontaminated_path, what="sample"), out_path, dataset=dataset, instruction=instruction
    )


def card_and_figures(
    name: str,
    spec: dict,
    teacher: str | None,
    decontaminated_path: str,
    report_path: str,
    clean_path: str | None,
    rejected_path: str | None,
    out_card: str,
    out_token_figure: str,
    out_language_figure: str,
    verify_report_path: str | None = None,
) -> None:
    import json

    samples = list(read_jsonl(decontaminated_path))
    report = json.loads(Path(report_path).read_text())
    verify_report = json.loads(Path(verify_report_path).read_text()) if verify_report_path else None
    counts: dict = {}
    if clean_path and rejected_path:
        stats = curate.curation_stats(list(read_jsonl(clean_path)), list(read_jsonl(rejected_path)), count_noisy=False)
        counts = {"raw": stats["raw"], "ok": stats["ok"], "deduplicated": stats["kept"]}
    if verify_report:  # `samples` are the verified ones
        counts["decontaminated"] = verify_report["total"]
        counts["verified"] = len(samples)
    else:
        counts["decontaminated"] = len(samples)
    counts["python"] = sum(1 for s in samples if s.get("is_python"))
    counts["non_python"] = len(samples) - counts["python"]
    sources = {
        k: v
        for k, v in spec.items()
        if k in ("generations", "evol", "subset_of", "python", "drop_noisy", "comment_pairs")
    }
    data_file = "verified.jsonl" if verify_report else "decontaminated.jsonl"
    card = dataset_card(name, counts, sources, teacher, report, data_file=data_file)
    if verify_report:
        card = card_with_verification(card, verify_report)
    write_text_atomic(out_card, card)
    figures.token_lengths_figure(samples, out_token_figure, title=name)
    figures.language_figure(samples, out_language_figure, title=name)


def similarity_figure(dataset_paths: dict[str, str], humaneval_spec: dict, out_path: str) -> dict:
    """Paper Figure 3 for every dataset present: TF-IDF similarity to HumanEval."""
    rows = benchmarks.load_rows("humaneval", humaneval_spec)
    problems = [f"{r['prompt']} {r['canonical_solution']}" for r in rows]
    data = {name: list(read_jsonl(path)) for name, path in dataset_paths.items()}
    return figures.humaneval_similarity_figure(data, problems, out_path)


def push_to_hub(repo_id: str, decontaminated_path: str, card_path: str, out_marker: str) -> None:
    """Upload the dataset and its card (needs HF_TOKEN and hub access; off by default)."""
    import os

    from huggingface_hub import HfApi

    token = os.environ.get("HF_TOKEN")
    if not token:
        raise RuntimeError(f"pushing to {repo_id} needs the environment variable HF_TOKEN")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    api.upload_file(
        path_or_fileobj=decontaminated_path, path_in_repo="data/train.jsonl", repo_id=repo_id, repo_type="dataset"
    )
    info = api.upload_file(path_or_fileobj=card_path, path_in_repo="README.md", repo_id=repo_id, repo_type="dataset")
    write_json_atomic(out_marker, {"repo_id": repo_id, "commit": str(info)})


def mine_comment_pairs(seeds_path: str, spec: dict, out_path: str, pool: str | None = None) -> dict:
    """Paper §4.2: every comment-function pair of the documents behind one seed shard (the
    shard's spec re-reads them: ossinstruct.seeds.documents; `pool`, the language's pool
    file, instead of the hub), unfiltered."""
    from ossinstruct.curate import comment_pairs
    from ossinstruct.seeds.documents import seed_documents

    seeds = list(read_jsonl(seeds_path, required=("seed_id", "document", "start_line", "end_line"), what="seed"))
    records = []
    for seed, text in seed_documents(spec, seeds, pool):
        records += comment_pairs.mine_document(text, seed)
    write_jsonl_atomic(out_path, records)
    overlapping = sum(1 for r in records if r["overlaps_seed"])
    log.info("%s: %d documents, %d pairs, %d overlap their seed", seeds_path, len(seeds), len(records), overlapping)
    return {"documents": len(seeds), "pairs": len(records), "overlapping": overlapping}


def comment_pairs_size(size, reference_path: str | None) -> int | None:
    """A comment_pairs dataset's target count: an integer, all (None), or {same_as: X}, the
    number of samples in X's decontaminated.jsonl (`reference_path`)."""
    if isinstance(size, dict):
        if reference_path is None:
            raise ValueError(f"comment_pairs.size {size}: the dataset's decontaminated.jsonl is needed")
        return sum(1 for _ in read_jsonl(reference_path, what="sample"))
    return size


def select_comment_pairs(
    name: str,
    mined_paths: list[str],
    size,
    reference_path: str | None,
    shuffle_seed: int,
    filters: dict,
    strings_paths: list[str],
    fields: list[str],
    join: str | None,
    out_clean: str,
    out_rejected: str,
) -> dict:
    """The dataset's clean.jsonl: pairs overlapping a seed first, then the rest (shuffled),
    until the target count; pairs containing a benchmark string are passed over here, so
    that the dataset keeps its count through the decontamination rules that follow."""
    from ossinstruct.curate import comment_pairs

    target = comment_pairs_size(size, reference_path)
    strings = [s for path in strings_paths for s in read_jsonl(path, required=("benchmark", "text"), what="string")]
    matcher = decontaminate.Matcher(strings) if strings else None

    def contaminated(pair: dict) -> bool:
        probe = {"raw_index": pair["pair_id"], **pair}
        return any(True for _ in decontaminate.find_matches([probe], matcher, fields, name, join=join))

    pairs = (p for path in mined_paths for p in read_jsonl(path, required=("pair_id", "problem"), what="pair"))
    kept, rejected, counts = comment_pairs.select_pairs(
        pairs, target, shuffle_seed, contaminated if matcher is not None else None, filters
    )
    write_jsonl_atomic(out_clean, comment_pairs.as_samples(kept, name))
    write_jsonl_atomic(out_rejected, rejected)
    log.info(
        "%s: %d of %d pairs (target %s; %d overlap a seed, of %d overlapping); passed over %s",
        name,
        len(kept),
        counts["candidates"],
        target,
        counts["kept_overlapping"],
        counts["overlapping"],
        counts["filtered"],
    )
    return {**counts, "target": target}
