"""The Hugging Face paths with a local stand-in for the hub: the real `datasets` calls run
against local directories laid out as hub repositories (parquet and jsonl files), not
against a replaced function. Streaming + shuffle for seeds, the benchmark loader (both
branches, data_files included), Evol-Instruct ingestion, the auth-error detection by
exception type, and push_to_hub's missing-token error."""

from __future__ import annotations

import json

import datasets
import pandas as pd
import pytest
from conftest import benchmark_fixture  # noqa: E402
from test_curate import MAGICODER_ROWS  # noqa: E402
from test_seeds import TOKEN, hf_config, python_module  # noqa: E402

from ossinstruct import benchmarks as B  # noqa: E402
from ossinstruct.curate import evol  # noqa: E402
from ossinstruct.curate.steps import push_to_hub  # noqa: E402
from ossinstruct.seeds import sampling as seeds  # noqa: E402
from ossinstruct.seeds.sampling import HubAccessError, SeedsError  # noqa: E402


@pytest.fixture
def starcoder_like(tmp_path):
    """bigcode/starcoderdata's layout: one data_dir per language, parquet shards of rows
    with id and content."""
    root = tmp_path / "starcoderdata"
    for shard in range(2):
        (root / "python").mkdir(parents=True, exist_ok=True)
        ids = [f"py-{shard}-{i}" for i in range(6)]
        texts = [python_module(100 * shard + i) for i in range(6)]
        pd.DataFrame({"id": ids, "content": texts}).to_parquet(root / "python" / f"train-0000{shard}-of-00002.parquet")
    (root / "rust").mkdir()
    pd.DataFrame({"id": ["rs-0"], "content": ["fn main() {}\n" * 20]}).to_parquet(
        root / "rust" / "train-00000-of-00001.parquet"
    )
    return root


def _hf_spec(root, quota=12, random_seed=None):
    config = hf_config(dataset=str(root), languages={"python": {"quota": quota, "data_dir": "python"}})
    if random_seed is not None:
        config["random_seed"] = random_seed
    return seeds.shard_spec(config, "sc", "python", 0)


def test_hf_corpus_streams_and_shuffles_a_local_hub_layout(starcoder_like, monkeypatch):
    """docs/seeds.md: a `huggingface` corpus "streams a hub dataset per language
    (`dataset`, `data_dir`, pinned `revision`), shuffled with `random_seed`": the real
    streaming load_dataset + shuffle over a hub-like directory, its data_dir only."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    records, summary = seeds.sample_shard_with_stats(_hf_spec(starcoder_like))
    documents = [r["document"] for r in records]
    file_order = [f"py-{s}-{i}" for s in range(2) for i in range(6)]
    assert len(documents) == summary["seeds"] == 10  # the shard is full
    assert summary["documents_read"] == 10 + sum(summary["skipped"].values())
    assert set(documents) <= set(file_order)  # the python data_dir only, from both files
    assert {d[:4] for d in documents} == {"py-0", "py-1"}
    assert documents != [d for d in file_order if d in documents]  # shuffled
    assert all(r["source"] == f"hf:{starcoder_like}@v1/python" for r in records)
    assert seeds.sample_shard(_hf_spec(starcoder_like)) == records  # same seed, same shard
    reordered = [r["document"] for r in seeds.sample_shard(_hf_spec(starcoder_like, random_seed=7))]
    assert set(reordered) <= set(file_order) and reordered != documents


def test_hf_stream_errors_by_exception_type(starcoder_like, monkeypatch):
    """README: "A missing or unauthorised token is an error naming the variable ... and
    the dataset": the hub's refusals are recognised by their exception types (GatedRepoError,
    DatasetNotFoundError) even when their messages say nothing of status codes; other
    failures (a data_dir that does not exist) are a plain SeedsError."""
    from datasets.exceptions import DatasetNotFoundError
    from huggingface_hub.errors import GatedRepoError

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    real = datasets.load_dataset
    import httpx2

    # A status code that alone would not count (500) and messages without 401/403/gated:
    # only the exception's type says that the hub refused.
    response = httpx2.Response(status_code=500, request=httpx2.Request("GET", "https://huggingface.co/api/x"))
    for error in (
        GatedRepoError(f"Access to this resource is restricted ({TOKEN})", response=response),
        DatasetNotFoundError("Dataset 'x' doesn't exist on the Hub or cannot be accessed."),
    ):

        def refuse(*args, error=error, **kwargs):
            real(*args, **kwargs)  # the real call on the local copy succeeds; the hub says no
            raise error

        monkeypatch.setattr(datasets, "load_dataset", refuse)
        with pytest.raises(HubAccessError) as info:
            seeds.sample_shard(_hf_spec(starcoder_like))
        message = str(info.value)
        assert "HF_TOKEN" in message and str(starcoder_like) in message and TOKEN not in message
        assert type(error).__name__ in message
    monkeypatch.setattr(datasets, "load_dataset", real)
    config = hf_config(
        dataset=str(starcoder_like),
        languages={"python": {"quota": 3, "data_dir": "cobol"}},
    )
    with pytest.raises(SeedsError) as info:
        seeds.sample_shard(seeds.shard_spec(config, "sc", "python", 0))
    assert not isinstance(info.value, HubAccessError) and "streaming" in str(info.value)


def test_benchmark_loader_reads_a_hub_copy_both_ways(tmp_path):
    """docs/curation.md, "Benchmark strings": benchmarks come "from the hub at the revisions in
    ossinstruct/benchmarks.py": the load_dataset branch (a repository with a split) and the
    data_files branch (APPS: test.jsonl read with the json builder; a parquet file with
    the parquet builder), on local copies of the repositories."""
    apps_rows = [json.loads(line) for line in benchmark_fixture("apps.jsonl").read_text().splitlines()]
    apps_repo = tmp_path / "codeparrot-apps"
    apps_repo.mkdir()
    (apps_repo / "test.jsonl").write_text(benchmark_fixture("apps.jsonl").read_text())
    (apps_repo / "apps.py").write_text("raise RuntimeError('a loading script must not run')\n")
    spec = {**B.DEFAULT_SOURCES["apps"], "dataset": str(apps_repo)}
    assert spec["data_files"] == "test.jsonl"
    rows = B.load_rows("apps", spec)
    assert rows == apps_rows
    assert [s["text"] for s in B.benchmark_strings("apps", rows)] == [r["question"].strip() for r in apps_rows]

    parquet_repo = tmp_path / "gsm8k-copy"
    (parquet_repo / "main").mkdir(parents=True)
    gsm_rows = [json.loads(line) for line in benchmark_fixture("gsm8k.jsonl").read_text().splitlines()]
    pd.DataFrame(gsm_rows).to_parquet(parquet_repo / "main" / "test-00000-of-00001.parquet")
    spec = {
        "source": "huggingface",
        "dataset": str(parquet_repo),
        "revision": "main",
        "split": "test",
        "data_files": ["main/test-00000-of-00001.parquet"],
    }
    assert B.load_rows("gsm8k", spec) == gsm_rows

    # The plain branch: load_dataset(dataset, split=...) on a repository with test files.
    (parquet_repo / "main" / "test-00000-of-00001.parquet").rename(parquet_repo / "test.parquet")
    spec = {
        "source": "huggingface",
        "dataset": str(parquet_repo),
        "revision": "main",
        "split": "test",
    }
    assert B.load_rows("gsm8k", spec) == gsm_rows
    missing = {**spec, "split": "validation"}
    with pytest.raises(B.BenchmarkUnavailable, match="benchmark gsm8k.*validation"):
        B.load_rows("gsm8k", missing)


def test_evol_ingestion_from_a_hub_copy(tmp_path):
    """docs/curation.md: `evol` from a hub dataset (ise-uiuc/Magicoder-Evol-Instruct-110K
    schema) through the real load_dataset, here a local copy in the hub's layout."""
    repo = tmp_path / "Magicoder-Evol-Instruct-110K"
    repo.mkdir()
    (repo / "data-evol_instruct-decontaminated.jsonl").write_text("".join(json.dumps(r) + "\n" for r in MAGICODER_ROWS))
    spec = {
        "source": "huggingface",
        "dataset": str(repo),
        "revision": "main",
        "split": "train",
    }
    rows = evol.load_evol_rows(spec, name="evol-instruct")
    assert rows == MAGICODER_ROWS
    samples, rejected = evol.ingest_evol(rows, "ise-uiuc/Magicoder-Evol-Instruct-110K")
    assert [s["raw_index"] for s in samples] == [0, 2] and len(rejected) == 1
    with pytest.raises(evol.EvolSourceError, match="split 'test'"):
        evol.load_evol_rows({**spec, "split": "test"}, name="evol-instruct")


def test_push_to_hub_without_a_token_names_it_and_writes_nothing(tmp_path, monkeypatch):
    """docs/curation.md: `push_to_hub: <repo id>` uploads the dataset with its card;
    without HF_TOKEN it fails naming the variable and the repository, before any hub call,
    and writes no marker."""
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub must not be contacted without a token")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_hub)
    samples, card = tmp_path / "decontaminated.jsonl", tmp_path / "README.md"
    samples.write_text("{}\n")
    card.write_text("# card\n")
    with pytest.raises(
        RuntimeError,
        match="pushing to me/my-set needs the environment variable HF_TOKEN",
    ):
        push_to_hub("me/my-set", str(samples), str(card), str(tmp_path / "pushed.json"))
    assert not (tmp_path / "pushed.json").exists()
