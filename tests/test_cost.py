"""The teacher API cost (docs/generations.md, "Cost"): the pre-run estimate, the spend ledger and the
max_cost_usd ceiling, which stops the generation jobs, concurrent ones included, before the
study's spend passes it."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import write_tree
from test_workflow import snakemake

from ossinstruct.config import ConfigError, validate_config
from ossinstruct.files import write_json_atomic, write_jsonl_atomic
from ossinstruct.generate import cost
from ossinstruct.generate.teacher import generate_shard
from ossinstruct.llm.fakeserver import FakeServer, prompt_text

PRICE = {"prompt": 1.0, "completion": 2.0}


def study(tmp_path, **extra):
    return validate_config(
        {
            "cache_dir": str(tmp_path / "cache"),
            "seeds": {"shard_size": 1000},
            "corpora": {
                "sc": {
                    "source": "huggingface",
                    "dataset": "bigcode/starcoderdata",
                    "languages": {
                        "python": {"quota": 2500, "data_dir": "python"},
                        "rust": {"quota": 700, "data_dir": "rust"},
                    },
                }
            },
            "teachers": {"gpt": {"backend": "openai", "model": "gpt-3.5-turbo-1106", "api_key_env": "K"}},
            "prices": {"gpt-3.5-turbo-1106": PRICE},
            "generations": [{"teacher": "gpt", "corpus": "sc", "max_shards": {"python": 2}}],
            **extra,
        }
    )


def test_the_estimate_is_seeds_times_tokens_times_price(tmp_path):
    config = study(tmp_path)
    estimate = cost.estimate_study_cost(config, tmp_path)
    [row] = estimate["rows"]
    template = 107 + 703  # oss-instruct-chat-v1's system and user text, the seed left out
    prompt = (template + cost.DEFAULT_SEED_CHARS) / 4
    assert row["seeds"] == 2000 + 700 and row["shards"] == 3  # max_shards: 2 of python's 3
    assert row["prompt_tokens_per_request"] == round(prompt, 1) and row["completion_tokens_per_request"] == 600
    assert row["usd"] == pytest.approx(2700 * (prompt * 1.0 + 600 * 2.0) / 1e6)
    assert estimate["remaining_usd"] == pytest.approx(row["usd"]) and estimate["spent_usd"] == 0
    assert "assumed" in row["basis"] and not estimate["over_ceiling"]
    text = cost.format_cost(estimate)
    assert "gpt on sc: 2,700 seeds" in text and f"${row['usd']:,.2f}" in text

    # Drawn seeds replace the assumed seed length; finished shards' stats replace both.
    seeds = tmp_path / "results/seeds/sc/python/00000.jsonl"
    write_jsonl_atomic(seeds, [{"seed": "x" * 190} for _ in range(10)])
    row = cost.estimate_study_cost(config, tmp_path)["rows"][0]
    assert row["prompt_tokens_per_request"] == (template + 190) / 4 and "mean seed of 10 drawn seeds" in row["basis"]
    shard = tmp_path / "results/generations/gpt/sc/python/00000"
    write_jsonl_atomic(f"{shard}.jsonl", [{}])
    write_json_atomic(
        f"{shard}.stats.json", {"unique_requests": 1000, "tokens": {"prompt": 300_000, "completion": 500_000}}
    )
    write_json_atomic(cost.ledger_path(config["cache_dir"], f"{shard.relative_to(tmp_path)}.jsonl"), {"usd": 1.3})
    estimate = cost.estimate_study_cost({**config, "max_cost_usd": 2.0}, tmp_path)
    row = estimate["rows"][0]
    assert (row["prompt_tokens_per_request"], row["completion_tokens_per_request"]) == (300, 500)
    assert row["basis"] == "measured over 1 finished shard(s)" and row["shards_done"] == 1
    assert estimate["spent_usd"] == 1.3
    assert estimate["remaining_usd"] == pytest.approx(1700 * (300 + 500 * 2) / 1e6)
    assert estimate["over_ceiling"] and "will stop before $2.00" in cost.format_cost(estimate)


def test_a_ceiling_needs_the_price_of_every_paid_teacher(tmp_path):
    with pytest.raises(ConfigError, match=r"config key prices: max_cost_usd is set but model 'gpt-3.5-turbo-1106'"):
        study(tmp_path, prices={}, max_cost_usd=10)
    study(tmp_path, prices={}, max_cost_usd=None)  # no ceiling, no price needed


def _seeds(path, n):
    write_jsonl_atomic(
        path, [{"seed_id": f"s/{i}", "index": i, "seed": f"def f{i}(x):\n    return {i}\n"} for i in range(n)]
    )


def _ceiling_config(tmp_path, server, max_cost, jobs=1, concurrency=1):
    return validate_config(
        {
            "cache_dir": str(tmp_path / "cache"),
            "teacher_api_jobs": jobs,
            "max_cost_usd": max_cost,
            "teachers": {
                "t": {
                    "backend": "openai",
                    "model": "paid-model",
                    "base_url": server.base_url,
                    "concurrency": concurrency,
                    "decoding": {"max_tokens": 100, "context_tokens": None},
                }
            },
            "prices": {"paid-model": {"prompt": 1000.0, "completion": 1000.0}},  # $0.001 a token
        }
    )


def _usage(server) -> tuple[int, int]:
    """(prompt, completion) tokens the server billed: its answers' usage (characters / 4)."""
    answers = [e for e in server.log if e.status == 200]
    return sum(-(-len(prompt_text(e.body)) // 4) for e in answers), sum(_completion_tokens(e) for e in answers)


def test_the_ceiling_stops_a_job_before_it_is_crossed_and_a_rerun_pays_nothing_twice(tmp_path):
    _seeds(tmp_path / "seeds.jsonl", 30)
    with FakeServer() as server:
        config = _ceiling_config(tmp_path, server, max_cost=1.0)
        out = str(tmp_path / "out.jsonl")

        def run(config):
            return generate_shard(
                str(tmp_path / "seeds.jsonl"),
                out,
                str(tmp_path / "out.stats.json"),
                "t",
                config["teachers"]["t"],
                config["cache_dir"],
                config["prices"],
                ceiling=cost.job_ceiling(config, "t", out),
            )

        with pytest.raises(cost.CostCeilingReached) as err:
            run(config)
        sent = len(server.log)
        ledger = json.loads(cost.ledger_path(config["cache_dir"], out).read_text())
        assert 0 < sent < 30 and all(e.status == 200 for e in server.log)
        # What was paid, as the server counted usage, is in the ledger and within the ceiling.
        assert (ledger["prompt_tokens"], ledger["completion_tokens"]) == _usage(server) and ledger["usd"] <= 1.0
        assert (
            ledger["usd"]
            + cost.CostCeiling(config, "t", out, config["prices"]["paid-model"]).request_max_usd(_first_request(server))
            > 1.0
        )  # the next request could have crossed it
        message = str(err.value)
        assert (
            "stopped before the study's teacher spend could pass max_cost_usd $1.00 (config key max_cost_usd)"
            in message
        )
        assert not (tmp_path / "out.jsonl").exists()

        # Raised ceiling: the cached answers are not asked (nor paid) again; the ledger goes on.
        run(_ceiling_config(tmp_path, server, max_cost=100.0))
        assert len(server.log) == 30 and len({e.body_hash for e in server.log}) == 30
        total = json.loads(cost.ledger_path(config["cache_dir"], out).read_text())
        assert (total["prompt_tokens"], total["completion_tokens"]) == _usage(server)


def _first_request(server):
    from ossinstruct.llm.backends.base import Request

    body = server.log[0].body
    return Request(key="x", params={"max_tokens": body["max_tokens"]}, messages=body["messages"])


@pytest.mark.slow
def test_concurrent_jobs_stay_within_the_ceiling_together(tmp_path):
    """Four generation shards at once (teacher_api_jobs 4, concurrency 2 each, a fast
    server) against one ceiling: each takes its share of what is left, so together they
    stop below it, and what the server billed equals the ledgers."""
    corpus = {f"pkg/m{i:02d}.py": f"def f_{i}(x):\n    return x * {i}\n" * 3 for i in range(40)}
    write_tree(tmp_path / "corpus", corpus)
    with FakeServer(latency_s=0.05) as server:
        config = {
            "seeds": {"shard_size": 10},
            "corpora": {
                "src": {"source": "local", "path": str(tmp_path / "corpus"), "languages": {"python": {"quota": 40}}}
            },
            "teachers": {
                "t": {
                    "backend": "openai",
                    "model": "paid-model",
                    "base_url": server.base_url,
                    "concurrency": 2,
                    "decoding": {"max_tokens": 100, "context_tokens": None},
                }
            },
            "prices": {"paid-model": {"prompt": 1000.0, "completion": 1000.0}},
            "teacher_api_jobs": 4,
            "max_cost_usd": 8.0,
            "generations": [{"teacher": "t", "corpus": "src"}],
            "datasets": [],
            "models": [],
            "evaluation": {"models": [], "benchmarks": ["humaneval"]},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        snakemake("--cores", "1", "--until", "seeds", cwd=tmp_path)
        result = snakemake("--cores", "8", "--keep-going", cwd=tmp_path, check=False)
        assert result.returncode != 0
        answers = [e for e in server.log if e.status == 200]
    validated = validate_config(json.loads(json.dumps(config)))
    validated["cache_dir"] = str(tmp_path / validated["cache_dir"])
    spent, shards = cost.study_spent(validated)
    billed = sum(_usage(server)) / 1000
    assert shards >= 2 and spent == pytest.approx(billed) and billed <= 8.0
    assert 10 < len(answers) < 40  # it stopped midway, not at the start
    # Every job gave back what it held but did not spend.
    for _, output in cost.study_shards(validated):
        entry = cost.read_ledger(cost.ledger_path(validated["cache_dir"], output))
        assert entry is None or entry["allowance"] == entry["usd"]
    logs = "".join(p.read_text() for p in (tmp_path / "results/logs/generations").rglob("*.log"))
    assert "stopped before the study's teacher spend could pass max_cost_usd $8.00" in logs


def _completion_tokens(entry) -> int:
    from ossinstruct.llm.fakeserver import default_responder

    return -(-len(default_responder(entry.body)) // 4)
