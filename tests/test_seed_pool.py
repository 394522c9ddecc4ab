"""Seed pools (docs/seeds.md): with selection magicoder, each language's pool is read from
the hub once (rule seed_pool) and every shard of the language reads that file, giving the
same seeds, byte for byte, as streaming the hub in each shard job did."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
import yaml
from conftest import REPO
from test_fidelity import _authors_seeds, _pool_rows
from test_seeds import TOKEN, python_module
from test_workflow import snakemake

from ossinstruct.config import validate_config
from ossinstruct.files import InputError
from ossinstruct.seeds import pool as seedpool
from ossinstruct.seeds import sampling as seeds
from ossinstruct.seeds import sources as seed_sources
from ossinstruct.seeds.documents import seed_documents


def _config(pool_size=2200, quota=2200, dataset="bigcode/starcoderdata"):
    return validate_config(
        {
            "seeds": {"shard_size": 100},
            "corpora": {
                "sc": {
                    "source": "huggingface",
                    "dataset": dataset,
                    "pool_size": pool_size,
                    "languages": {"python": {"quota": quota, "data_dir": "python"}},
                }
            },
        }
    )


@pytest.fixture
def counted_stream(monkeypatch):
    """The hub replaced by rows in file order; `opens` counts the streams opened."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    rows = _pool_rows(2600)
    opens = []

    def fake_stream(dataset, data_dir, revision, token, seed, buffer_size):
        opens.append((dataset, data_dir, revision, buffer_size))
        return iter(rows)

    monkeypatch.setattr(seed_sources, "open_hf_stream", fake_stream)
    return rows, opens


def test_shards_from_the_pool_file_equal_the_streamed_shards_byte_for_byte(counted_stream, tmp_path):
    rows, opens = counted_stream
    config = _config()
    pool = tmp_path / "pool.jsonl.gz"
    assert seedpool.write_pool(seedpool.pool_spec(config, "sc", "python"), pool) == 2200
    assert opens == [("bigcode/starcoderdata", "python", "main", None)]  # file order, once
    header = json.loads(gzip.open(pool, "rt").readline())
    assert header == {
        "pool": {
            "corpus": "sc",
            "lang": "python",
            "dataset": "bigcode/starcoderdata",
            "data_dir": "python",
            "revision": "main",
            "text_field": "content",
            "pool_size": 2200,
        }
    }
    for k, shard in enumerate((0, 13, 21)):
        spec = seeds.shard_spec(config, "sc", "python", shard)
        seeds.write_shard(spec, tmp_path / f"pool-{shard}.jsonl", pool=pool)
        assert len(opens) == 1 + k  # the shard read the file, not the hub
        seeds.write_shard(spec, tmp_path / f"stream-{shard}.jsonl")  # today's way: the hub
        assert (tmp_path / f"pool-{shard}.jsonl").read_bytes() == (tmp_path / f"stream-{shard}.jsonl").read_bytes()
    # ... and they are the authors' seeds (tests/test_fidelity.py's independent rendering).
    shard = seeds.sample_shard(seeds.shard_spec(config, "sc", "python", 13), pool=pool)
    assert [(r["index"], r["raw_index"], r["seed"]) for r in shard] == _authors_seeds(rows, 2200)[1300:1400]
    # The documents behind a shard (comment-pair mining) come from the same file.
    spec = seeds.shard_spec(config, "sc", "python", 0)
    from_pool = list(seed_documents(spec, shard[:7], pool=str(pool)))
    assert len(opens) == 4  # the 3 streamed shards above; the pool reads opened nothing
    assert from_pool == list(seed_documents(spec, shard[:7]))
    assert [text for _, text in from_pool] == [rows[r["raw_index"]]["content"] for r in shard[:7]]


def test_a_pool_of_another_source_is_refused(counted_stream, tmp_path):
    pool = tmp_path / "pool.jsonl.gz"
    seedpool.write_pool(seedpool.pool_spec(_config(pool_size=2200), "sc", "python"), pool)
    spec = seeds.shard_spec(_config(pool_size=2000, quota=2000), "sc", "python", 0)
    with pytest.raises(InputError, match=r"pool\.jsonl\.gz: line 1: the pool's header .*'pool_size': 2200.*2000"):
        seeds.sample_shard(spec, pool=pool)


def test_a_short_split_and_a_row_without_text_behave_as_streaming(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    rows = [{"id": f"d{i}", "content": f"x = {i}\n"} for i in range(150)]
    rows[120]["content"] = None
    monkeypatch.setattr(seed_sources, "open_hf_stream", lambda *a, **k: iter(rows))
    config = _config(pool_size=1000, quota=100)
    pool = tmp_path / "pool.jsonl.gz"
    assert seedpool.write_pool(seedpool.pool_spec(config, "sc", "python"), pool) == 150
    spec = seeds.shard_spec(config, "sc", "python", 0)
    for source in (pool, None):
        with pytest.raises(seeds.SeedsError, match=r"row 120 \(d120\) of the pool has no text"):
            seeds.sample_shard(spec, pool=source)


def test_only_magicoder_hub_corpora_have_a_pool():
    config = validate_config(
        {
            "corpora": {
                "local": {"source": "local", "languages": {"python": {"quota": 1}}},
                "streamed": {
                    "source": "huggingface",
                    "dataset": "d",
                    "selection": "stream",
                    "languages": {"python": {"quota": 1, "data_dir": "python"}},
                },
            }
        }
    )
    assert not seedpool.has_pool(config, "local") and not seedpool.has_pool(config, "streamed")
    with pytest.raises(seeds.SeedsError, match="no seed pool"):
        seedpool.pool_spec(config, "streamed", "python")


@pytest.mark.slow
def test_the_workflow_reads_each_pool_once(tmp_path, monkeypatch):
    """Through Snakemake, on a local copy in the hub's layout (the real datasets streaming):
    one seed_pool job per language, a localrule; then the shards are drawn with the copy
    gone (no hub read), byte-identical to shards streamed from it."""
    pd = pytest.importorskip("pandas")
    hub = tmp_path / "hub" / "starcoderdata"
    for lang, n in (("python", 45), ("rust", 25)):
        (hub / lang).mkdir(parents=True)
        for part in range(2):
            ids = [f"{lang}-{part}-{i}" for i in range(n)]
            texts = [python_module(1000 * part + i) for i in range(n)]
            pd.DataFrame({"id": ids, "content": texts}).to_parquet(hub / lang / f"train-0000{part}-of-00002.parquet")
    work = tmp_path / "work"
    work.mkdir()
    config = {
        "seeds": {"shard_size": 20},
        "corpora": {
            "sc": {
                "source": "huggingface",
                "dataset": str(hub),
                "pool_size": 60,
                "languages": {"python": {"quota": 50, "data_dir": "python"}, "rust": {"quota": 30, "data_dir": "rust"}},
            }
        },
        "generations": [],
        "datasets": [],
        "models": [],
        "evaluation": {"models": [], "benchmarks": ["humaneval"]},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    shards = [f"results/seeds/sc/python/0000{k}.jsonl" for k in range(3)]
    shards += [f"results/seeds/sc/rust/0000{k}.jsonl" for k in range(2)]
    env = {"HF_TOKEN": TOKEN}
    dry = snakemake("-n", *shards, cwd=work, env=env).stdout
    assert dry.count("rule seed_pool:") == 2 and dry.count("rule seeds:") == 5
    pools = ["results/seeds/sc/python/pool.jsonl.gz", "results/seeds/sc/rust/pool.jsonl.gz"]
    snakemake("--cores", "1", *pools, cwd=work, env=env)
    # The shards streamed directly from the copy, for comparison.
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    validated = validate_config(json.loads(json.dumps(config)))
    streamed = {}
    for path in shards:
        lang, shard = path.split("/")[3], int(path[-10:-6])
        streamed[path] = seeds.sample_shard(seeds.shard_spec(validated, "sc", lang, shard))
    shutil.rmtree(hub)  # no hub any more: the shards can only read the pools
    snakemake("--cores", "2", *shards, cwd=work, env=env)
    for path in shards:
        records = [json.loads(line) for line in (work / path).read_text().splitlines()]
        assert records == streamed[path]
    assert [r["index"] for r in streamed[shards[2]]] == list(range(40, 50))
    # A finished pool is never a rerun trigger by itself (ancient): touching it reruns nothing.
    (work / pools[0]).touch()
    assert "Nothing to be done" in snakemake("-n", *shards, cwd=work, env=env).stdout


def test_the_study_reads_nine_pools():
    """config.yaml: one pool per language (9) for the 80 shards."""
    from test_workflow import planned_jobs

    out = snakemake("--profile", "slurm", "-n", "--until", "seeds", cwd=REPO).stdout
    assert planned_jobs(out) == {"seed_pool": 9, "seeds": 80}
