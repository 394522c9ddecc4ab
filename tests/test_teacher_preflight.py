"""The teacher may no longer exist (docs/generations.md, "If the teacher model is retired"): the preflight
GET /v1/models/{id} before any job, and a 404 during a run that stops the shard at once,
against the scripted OpenAI-compatible server answering as OpenAI does for a retired model."""

from __future__ import annotations

import socket

import pytest
from conftest import write_tree
from test_workflow import CORPUS, snakemake, write_config

from ossinstruct.files import read_jsonl, write_jsonl_atomic
from ossinstruct.generate.teacher import generate_shard, preflight_teacher
from ossinstruct.llm.backends.openai_api import TeacherUnavailable, check_model
from ossinstruct.llm.cache import ResponseCache
from ossinstruct.llm.fakeserver import FakeServer, body_hash

RETIRED = "gpt-3.5-turbo-1106"


def teacher(server, model=RETIRED, **extra):
    return {
        "backend": "openai",
        "model": model,
        "mode": "chat",
        "base_url": server.base_url,
        "api_key_env": None,
        "concurrency": 4,
        "max_attempts": 5,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "timeout_s": 5,
        "decoding": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "context_tokens": None},
        **extra,
    }


def test_a_served_model_passes_the_preflight():
    with FakeServer() as server:
        check_model(teacher(server))
        assert server.model_checks == [f"/v1/models/{RETIRED}"]
        assert not server.log  # nothing sent to the completion endpoints


def test_a_retired_model_is_one_error_naming_the_model_and_the_config_key():
    with FakeServer(known_models={"gpt-3.5-turbo-0125", "gpt-4o-mini"}) as server:
        with pytest.raises(TeacherUnavailable) as err:
            preflight_teacher("main-teacher", teacher(server))
    message = str(err.value)
    assert err.value.status == 404
    assert f"has no model '{RETIRED}' (404)" in message and "config key teachers.main-teacher.model" in message
    assert "it serves: gpt-3.5-turbo-0125, gpt-4o-mini" in message  # what to choose from
    assert "docs/generations.md, 'If the teacher model is retired'" in message


def test_a_server_without_the_model_route_is_checked_by_its_list():
    """`vllm serve` and llama.cpp list their models but answer 404 on /v1/models/{id}."""
    with FakeServer(known_models={"mistralai/Mixtral-8x7B-Instruct-v0.1"}, model_route=False) as server:
        check_model(teacher(server, model="mistralai/Mixtral-8x7B-Instruct-v0.1"))
        with pytest.raises(TeacherUnavailable, match="it serves: mistralai/Mixtral-8x7B-Instruct-v0.1"):
            check_model(teacher(server, model="mistralai/Mixtral-8x7B-v0.1"), "mixtral")
        assert server.model_checks[-2:] == ["/v1/models/mistralai/Mixtral-8x7B-v0.1", "/v1/models"]


def test_a_refused_key_names_its_variable_never_its_value(monkeypatch):
    monkeypatch.setenv("OSSI_PREFLIGHT_KEY", "sk-wrong-secret-value")
    with FakeServer(require_api_key="sk-right") as server:
        with pytest.raises(TeacherUnavailable) as err:
            check_model(teacher(server, api_key_env="OSSI_PREFLIGHT_KEY"), "t")
    assert err.value.status == 401
    assert "rejected the key in OSSI_PREFLIGHT_KEY (teachers.t.api_key_env) (401)" in str(err.value)
    assert "sk-wrong" not in str(err.value)


def test_an_unreachable_endpoint_is_named():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"backend": "openai", "model": "m", "base_url": f"http://127.0.0.1:{port}/v1", "timeout_s": 2}
    with pytest.raises(TeacherUnavailable, match=r"cannot reach http://127.0.0.1:\d+/v1 to check model 'm'"):
        check_model(config, "t")


def _seeds(path, n):
    seeds = [{"seed_id": f"s/{i}", "index": i, "seed": f"def f{i}(x):\n    return {i}\n"} for i in range(n)]
    write_jsonl_atomic(path, seeds)


def test_a_404_during_a_run_stops_the_shard_at_once(tmp_path):
    """The model retired midway: the first 6 answers arrive (and stay cached), then every
    request gets OpenAI's 404. The shard fails at once with the retired-model message: no
    retries, no request sent after the 404 beyond those already in flight, no shard written."""
    _seeds(tmp_path / "seeds.jsonl", 40)
    answered: list[str] = []

    def policy(key, attempt):
        if key in answered or len(answered) < 6:
            answered.append(key)
            return "ok"
        return "404"

    with FakeServer(policy=policy, latency_s=0.02) as server:
        with pytest.raises(TeacherUnavailable) as err:
            generate_shard(
                str(tmp_path / "seeds.jsonl"),
                str(tmp_path / "out.jsonl"),
                str(tmp_path / "out.stats.json"),
                "gpt-3.5",
                teacher(server),
                str(tmp_path / "cache"),
            )
        log = server.log
    assert err.value.status == 404 and "config key teachers.gpt-3.5.model" in str(err.value)
    refused = [e for e in log if e.status == 404]
    assert refused and all(e.attempt == 1 for e in log)  # nothing retried
    assert len(log) <= 6 + 4  # the answered ones, then at most the 4 in flight
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.stats.json").exists()
    cache = ResponseCache(tmp_path / "cache")
    cached = [e for e in log if e.status == 200]
    assert len(cached) == 6 and all(
        cache.read(k) is not None for k in [p.stem for p in (tmp_path / "cache").rglob("*.json")]
    )
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 6  # every paid answer kept
    assert {body_hash(e.body) for e in cached} <= set(answered)


@pytest.mark.slow
def test_the_workflow_stops_before_any_job_when_the_teacher_is_retired(tmp_path):
    write_tree(tmp_path / "corpus", CORPUS)
    with FakeServer(known_models={"gpt-3.5-turbo-0125"}) as server:
        write_config(tmp_path, server.base_url, python_quota=3)
        result = snakemake(
            "--cores", "1", "--until", "generate", cwd=tmp_path, env={"OSSI_TEST_KEY": "sk-test"}, check=False
        )
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "teacher 'fake'" in output and "has no model 'fake-model' (404)" in output
        assert "config key teachers.fake.model" in output
        assert not server.log  # no completion request, and no job ran
        assert server.model_checks[0] == "/v1/models/fake-model"
        assert not (tmp_path / "results" / "seeds").exists()
        # With the model served, the same command runs.
        server.known_models = None
        snakemake("--cores", "1", "--until", "generate", cwd=tmp_path, env={"OSSI_TEST_KEY": "sk-test"})
    records = list(read_jsonl(tmp_path / "results/generations/fake/src/python/00000.jsonl"))
    assert records and all(r["status"] == "ok" for r in records)
