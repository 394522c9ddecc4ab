"""The generation driver: cache, statuses, stats, failure threshold (scripted backend)."""

import copy
import json

import pytest

from ossinstruct.config import validate_config
from ossinstruct.files import read_jsonl, write_jsonl_atomic
from ossinstruct.generate import teacher as generate
from ossinstruct.llm.backends.base import Backend, Response
from ossinstruct.llm.cache import ResponseCache, request_key

GOOD = "[Problem Description]\nWrite {name}.\n[Solution]\n```python\ndef {name}(): pass\n```"


class ScriptedBackend(Backend):
    """Answers by the seed text found in the prompt; records what it was asked."""

    sent: list = []
    script: dict = {}

    def generate(self, requests, on_response):
        for request in requests:
            ScriptedBackend.sent.append(request.key)
            content = request.messages[-1]["content"]
            seed = next(s for s in self.script if s in content)
            on_response(request, self.script[seed]())


def ok(name):
    return lambda: Response(GOOD.format(name=name), "stop", 100, 20, 0.5)


@pytest.fixture
def teacher():
    config = validate_config(
        {
            "teachers": {"t": {"backend": "openai", "model": "gpt-x", "api_key_env": "K"}},
            "prices": {"gpt-x": {"prompt": 1.0, "completion": 2.0}},
        }
    )
    return config["teachers"]["t"], config["prices"]


@pytest.fixture
def backend(monkeypatch):
    ScriptedBackend.sent = []
    ScriptedBackend.script = {
        "alpha()": ok("alpha"),
        "beta()": lambda: Response(GOOD.format(name="beta")[:40], "length", 100, 2048, 1.0),
        "gamma()": lambda: Response("I cannot help with that.", "stop", 100, 6, 0.2),
        "delta()": lambda: Response(None, None, latency_s=3.0, error="APITimeoutError: after 8 attempts", attempts=8),
    }
    monkeypatch.setattr(generate, "get_backend", lambda teacher: ScriptedBackend(teacher))
    return ScriptedBackend


def seeds_file(tmp_path, names):
    seeds = [{"seed_id": f"c/python/{i}", "lang": "python", "seed": f"{n}()"} for i, n in enumerate(names)]
    path = tmp_path / "seeds.jsonl"
    write_jsonl_atomic(path, seeds)
    return path


def run(tmp_path, teacher, prices, names, rate=1.0, out="gen.jsonl"):
    return generate.generate_shard(
        str(seeds_file(tmp_path, names)),
        str(tmp_path / out),
        str(tmp_path / (out + ".stats")),
        "t",
        teacher,
        str(tmp_path / "cache"),
        prices,
        max_request_failure_rate=rate,
    )


def test_statuses_and_stats(tmp_path, teacher, backend):
    stats = run(tmp_path, *teacher, ["alpha", "beta", "gamma", "delta"])
    records = list(read_jsonl(tmp_path / "gen.jsonl"))
    assert [r["status"] for r in records] == ["ok", "truncated", "unparseable", "request_failed"]
    assert records[0]["problem"] == "Write alpha." and records[0]["solution"].startswith("```python")
    assert records[1]["reason"].startswith("finish_reason=length")
    assert records[2]["reason"] == "missing [Problem Description] section"
    assert records[3]["reason"] == "APITimeoutError: after 8 attempts" and records[3]["attempts"] == 8
    for record in records:  # provenance kept
        assert record["seed_id"].startswith("c/python/") and record["template_id"] == "oss-instruct-chat-v1"
        assert record["model"] == "gpt-x" and record["decoding"]["temperature"] == 0.0
    assert stats["statuses"] == {"ok": 1, "request_failed": 1, "truncated": 1, "unparseable": 1}
    assert stats["requests_sent"] == 4 and stats["cache_hits"] == 0
    assert stats["tokens"] == {"prompt": 300, "completion": 2074}
    assert stats["estimated_cost_usd"] == pytest.approx((300 * 1.0 + 2074 * 2.0) / 1e6)
    on_disk = json.loads((tmp_path / "gen.jsonl.stats").read_text())
    assert on_disk["statuses"] == stats["statuses"]


def test_rerun_sends_only_what_is_not_cached(tmp_path, teacher, backend):
    run(tmp_path, *teacher, ["alpha", "beta", "gamma", "delta"])
    first = [json.loads(x) for x in (tmp_path / "gen.jsonl").read_text().splitlines()]
    backend.sent.clear()
    backend.script["delta()"] = ok("delta")  # the failed request succeeds this time
    stats = run(tmp_path, *teacher, ["alpha", "beta", "gamma", "delta"])
    assert len(backend.sent) == 1  # only the request that had failed
    assert stats["cache_hits"] == 3 and stats["requests_sent"] == 1
    assert stats["estimated_cost_usd_this_run"] == pytest.approx((100 + 2 * 20) / 1e6)
    second = list(read_jsonl(tmp_path / "gen.jsonl"))
    assert second[:3] == first[:3]
    assert second[3]["status"] == "ok"


def test_duplicate_snippets_cost_one_request(tmp_path, teacher, backend):
    stats = run(tmp_path, *teacher, ["alpha", "alpha", "alpha"])
    assert len(backend.sent) == 1
    assert stats["seeds"] == 3 and stats["unique_requests"] == 1
    assert stats["tokens"] == {"prompt": 100, "completion": 20}  # counted once


def test_too_many_failures_write_no_shard_but_keep_the_cache(tmp_path, teacher, backend):
    with pytest.raises(generate.GenerationError, match="1 of 2 requests failed"):
        run(tmp_path, *teacher, ["alpha", "delta"], rate=0.2)
    assert not (tmp_path / "gen.jsonl").exists()
    assert [p.name for p in (tmp_path).iterdir() if p.name.startswith(".gen")] == []
    backend.sent.clear()
    backend.script["delta()"] = ok("delta")
    run(tmp_path, *teacher, ["alpha", "delta"], rate=0.2)
    assert len(backend.sent) == 1  # alpha came from the cache


def test_cache_is_keyed_by_everything_that_changes_the_answer(tmp_path, teacher, backend):
    t, prices = teacher
    run(tmp_path, t, prices, ["alpha"])
    for change in (
        {"model": "gpt-y"},
        {"decoding": {**t["decoding"], "max_tokens": 99}},
        {"decoding": {**t["decoding"], "temperature": 0.7}},
    ):
        backend.sent.clear()
        run(tmp_path, {**copy.deepcopy(t), **change}, prices, ["alpha"])
        assert len(backend.sent) == 1, change
    backend.sent.clear()  # operational settings do not change the key
    run(tmp_path, {**t, "concurrency": 3, "timeout_s": 5, "base_url": "http://127.0.0.1:9/v1"}, prices, ["alpha"])
    assert backend.sent == []


def test_teacher_identity_ignores_operational_settings(teacher):
    t, _ = teacher
    base = generate.teacher_identity(t)
    assert generate.teacher_identity({**t, "concurrency": 1, "requests_per_minute": 5, "batch_size": 2}) == base
    assert generate.teacher_identity({**t, "model": "other"}) != base
    assert "api_key_env" not in json.dumps(base)


def test_request_key_is_canonical():
    a = request_key("openai", "m", {"prompt": "p"}, {"temperature": 0.0, "stop": []})
    b = request_key("openai", "m", {"prompt": "p"}, {"stop": [], "temperature": 0.0})
    assert a == b
    assert a != request_key("vllm", "m", {"prompt": "p"}, {"temperature": 0.0, "stop": []})


def test_cache_ignores_failures_and_damaged_entries(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("ab" * 32, Response(None, None, error="boom"))
    assert cache.get("ab" * 32) is None
    cache.put("cd" * 32, Response("x", "stop", 1, 2, 0.1))
    assert cache.get("cd" * 32).text == "x"
    cache.path("cd" * 32).write_text("{not json")
    assert cache.get("cd" * 32) is None
