"""The OpenAI-compatible backend against the scripted fake server (offline, a few seconds)."""

import logging
import time
from collections import Counter, defaultdict
from email.utils import formatdate
from types import SimpleNamespace

import pytest

from ossinstruct.llm.backends import get_backend
from ossinstruct.llm.backends.base import Request
from ossinstruct.llm.backends.openai_api import OpenAIBackend, _retry_after
from ossinstruct.llm.fakeserver import FakeServer, default_responder

PARAMS = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "stop": []}


def teacher(server, **overrides):
    config = {
        "backend": "openai",
        "model": "teacher-model",
        "mode": "chat",
        "base_url": server.base_url,
        "api_key_env": None,
        "concurrency": 4,
        "requests_per_minute": None,
        "tokens_per_minute": None,
        "timeout_s": 2.0,
        "max_attempts": 4,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
    }
    return {**config, **overrides}


def chat(i, params=PARAMS):
    messages = [{"role": "system", "content": "You are a teacher."}, {"role": "user", "content": f"seed {i}"}]
    return Request(key=f"chat-{i:04d}", params=params, messages=messages)


def completion(i, params=PARAMS):
    return Request(key=f"completion-{i:04d}", params=params, prompt=f"few-shot prompt {i}\n")


def run(config, requests):
    """generate() through the registry; {key: [responses]} (a list, to catch duplicates)."""
    answers = defaultdict(list)
    get_backend(config).generate(requests, lambda request, resp: answers[request.key].append(resp))
    return answers


def only(answers, key):
    [response] = answers[key]
    return response


def test_chat_success():
    with FakeServer(model="served-model") as server:
        answers = run(teacher(server), [chat(0)])
    response = only(answers, "chat-0000")
    [entry] = server.log
    assert response.text == default_responder(entry.body)
    assert response.text.startswith("[Problem Description]")
    assert response.finish_reason == "stop" and response.error is None and response.attempts == 1
    assert response.model == "served-model"  # as the server reported it
    assert response.prompt_tokens > 0 and response.completion_tokens > 0 and response.latency_s > 0
    assert entry.path == "/v1/chat/completions" and entry.body["model"] == "teacher-model"
    assert entry.body["messages"][-1] == {"role": "user", "content": "seed 0"}
    assert entry.body["max_tokens"] == 64 and "stop" not in entry.body  # empty stop is omitted


def test_completion_success():
    params = {**PARAMS, "stop": ["[Problem Description]", "\n\n\n"]}
    with FakeServer() as server:
        answers = run(teacher(server, mode="completion"), [completion(0, params)])
    response = only(answers, "completion-0000")
    [entry] = server.log
    assert entry.path == "/v1/completions" and entry.body["prompt"] == "few-shot prompt 0\n"
    assert entry.body["stop"] == ["[Problem Description]", "\n\n\n"]
    assert response.text == default_responder(entry.body) and response.finish_reason == "stop"
    assert response.model == "teacher-model" and response.completion_tokens > 0


def test_finish_reason_length_passed_through():
    with FakeServer(responder=lambda body: ("[Problem Description]\nWrite a", "length")) as server:
        answers = run(teacher(server), [chat(0), completion(1)])
    for key in ("chat-0000", "completion-0001"):
        response = only(answers, key)
        assert (response.text, response.finish_reason) == ("[Problem Description]\nWrite a", "length")


def test_429_retry_after_honoured():
    with FakeServer(faults=["429", "ok"], retry_after_s=1) as server:
        answers = run(teacher(server), [chat(0)])
    response = only(answers, "chat-0000")
    assert response.text and response.attempts == 2 and response.latency_s >= 1.0
    limited, retried = server.log
    assert (limited.action, limited.status, retried.action) == ("429", 429, "ok")
    assert limited.body_hash == retried.body_hash and retried.attempt == 2
    assert retried.received - limited.answered >= 1.0  # backoff alone would be <= 0.05 s


@pytest.mark.parametrize(
    "headers, low, high",
    [
        ({"retry-after": "2"}, 2.0, 2.0),
        ({"retry-after": "0.5"}, 0.5, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0, 0.0),  # a date in the past
        ({"retry-after": "soon"}, 0.0, 0.0),
        ({}, 0.0, 0.0),
    ],
)
def test_retry_after_parsing(headers, low, high):
    exc = SimpleNamespace(response=SimpleNamespace(headers=headers))
    assert low <= _retry_after(exc) <= high


def test_retry_after_http_date_in_the_future():
    headers = {"retry-after": formatdate(time.time() + 30, usegmt=True)}
    exc = SimpleNamespace(response=SimpleNamespace(headers=headers))
    assert 28 <= _retry_after(exc) <= 31


@pytest.mark.parametrize(
    "faults, attempts",
    [
        (["500", "503", "ok"], 3),  # server errors
        (["slow", "ok"], 2),  # answer later than timeout_s
        (["drop", "ok"], 2),  # connection closed without an answer
        (["malformed", "ok"], 2),  # 200 with a body that is not JSON
        (["nochoices", "ok"], 2),  # 200 with JSON lacking choices
    ],
)
def test_transient_faults_are_retried(faults, attempts):
    with FakeServer(faults=faults, slow_s=3.0) as server:
        answers = run(teacher(server, timeout_s=1.0), [chat(0)])
    response = only(answers, "chat-0000")
    assert response.text and response.finish_reason == "stop" and response.error is None
    assert response.attempts == attempts
    assert [e.action for e in server.log] == faults
    assert [e.attempt for e in server.log] == list(range(1, attempts + 1))


def test_always_failing_gives_up_after_max_attempts():
    with FakeServer(policy=lambda body_hash, attempt: "503") as server:
        answers = run(teacher(server, max_attempts=5), [chat(0)])
    response = only(answers, "chat-0000")
    assert response.text is None and response.finish_reason is None and response.failed
    assert response.error == "InternalServerError: 503 after 5 attempts" and response.attempts == 5
    assert list(server.counts.values()) == [5]


def type_name(status):
    return {
        "400": "BadRequestError",
        "401": "AuthenticationError",
        "403": "PermissionDeniedError",
        "404": "NotFoundError",
        "422": "UnprocessableEntityError",
    }[status]


@pytest.mark.parametrize("status", ["400", "422"])
def test_client_errors_are_not_retried(status):
    with FakeServer(faults=[status, "ok"]) as server:
        answers = run(teacher(server), [chat(0)])
    response = only(answers, "chat-0000")
    assert response.failed and response.attempts == 1
    expected = f"{type_name(status)}: {status} after 1 attempt (fake server: scripted {status})"
    assert response.error == expected
    assert len(server.log) == 1


@pytest.mark.parametrize("status", ["401", "403", "404"])
def test_answers_no_request_can_pass_stop_the_whole_call(status):
    """A rejected key, no access or an unknown (retired) model: no request of the teacher can
    succeed, so the first such answer stops the call, naming the model; nothing is retried."""
    from ossinstruct.llm.backends.openai_api import TeacherUnavailable

    with FakeServer(faults=[status, "ok"]) as server:
        with pytest.raises(TeacherUnavailable) as err:
            run(teacher(server, concurrency=1), [chat(i) for i in range(5)])
    assert err.value.status == int(status) and "fake server: scripted" in str(err.value)
    assert len(server.log) == 1  # one answer, no retry, no further request


def test_many_requests_with_mixed_faults():
    """Every request reported once, no body answered "ok" twice, concurrency respected."""
    # No "slow" here (tested on its own): the server keeps sleeping on a request the client
    # has abandoned at its timeout, so it would count more in flight than the client sends.
    scripts = [
        ["ok"],
        ["429", "ok"],
        ["500", "ok"],
        ["drop", "ok"],
        ["malformed", "ok"],
        ["503", "503", "ok"],
        ["400"],
        ["500", "500", "500"],
    ]

    def policy(body_hash, attempt):
        script = scripts[int(body_hash, 16) % len(scripts)]
        return script[attempt - 1] if attempt <= len(script) else "ok"

    requests = [chat(i) for i in range(25)] + [completion(i) for i in range(25, 50)]
    config = teacher(
        server := FakeServer(policy=policy, retry_after_s=0.2, slow_s=2.0, latency_s=0.05),
        concurrency=6,
        timeout_s=5,
        max_attempts=3,
    )
    with server:
        answers = run(config, requests)
    assert sorted(answers) == sorted(r.key for r in requests)
    assert all(len(responses) == 1 for responses in answers.values())
    assert 2 <= server.max_in_flight <= 6  # requests overlap, never beyond the limit (lower bound loose: shared CPUs)
    log = server.log
    oks = Counter(e.body_hash for e in log if e.action == "ok")
    assert max(oks.values()) == 1  # never paid twice for one body
    assert len(server.counts) == 50
    for body_hash, n in server.counts.items():
        script = scripts[int(body_hash, 16) % len(scripts)]
        expected = 1 if script == ["400"] else min(len(script), 3)
        assert n == expected, (script, n)
    succeeded = [r for [r] in answers.values() if not r.failed]
    assert len(succeeded) == len(oks)
    assert all(r.text and r.attempts >= 1 for r in succeeded)
    failed = [r for [r] in answers.values() if r.failed]
    assert all(r.text is None and r.error for r in failed)


def test_requests_per_minute_limit():
    with FakeServer() as server:
        run(teacher(server, concurrency=8, requests_per_minute=120), [chat(i) for i in range(8)])
    times = sorted(e.received for e in server.log)
    # A bucket of one second's worth (2 requests), refilled at 2 per second.
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            assert j - i + 1 <= 2 + 2 * (times[j] - times[i]) + 0.2
    assert times[-1] - times[0] >= (8 - 2) / 2 - 0.1


def test_tokens_per_minute_limit_with_estimates_above_the_bucket():
    # 6000 tokens a minute: a bucket of 100; each request is estimated at 150 + 5 tokens.
    params = {**PARAMS, "max_tokens": 150}
    with FakeServer() as server:
        run(teacher(server, tokens_per_minute=6000), [completion(i, {**params}) for i in range(2)])
    first, second = sorted(e.received for e in server.log)
    assert second - first >= 1.55 - 0.05


def test_api_key_reaches_server_and_is_never_logged(monkeypatch, caplog):
    secret = "sk-test-0123456789-do-not-log"
    monkeypatch.setenv("OSSI_TEST_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    with FakeServer(require_api_key=secret, faults=["500", "ok"]) as server:
        answers = run(teacher(server, api_key_env="OSSI_TEST_API_KEY"), [chat(0), completion(1)])
    assert [e.action for e in server.log].count("ok") == 2  # the key was accepted
    assert any("retrying" in r.getMessage() for r in caplog.records)  # retries were logged ...
    assert not any(secret in r.getMessage() or secret in repr(r.__dict__) for r in caplog.records)
    assert secret not in repr(server.log)  # the server does not keep the header either
    for [response] in answers.values():  # ... and no field of the response holds the key
        assert secret not in repr(response.to_dict())


def test_wrong_api_key_is_not_retried(monkeypatch):
    from ossinstruct.llm.backends.openai_api import TeacherUnavailable

    monkeypatch.setenv("OSSI_TEST_API_KEY", "sk-wrong")
    with FakeServer(require_api_key="sk-right") as server:
        with pytest.raises(TeacherUnavailable) as err:
            run(teacher(server, api_key_env="OSSI_TEST_API_KEY"), [chat(0)])
    assert err.value.status == 401 and len(server.log) == 1
    assert "rejected the key in OSSI_TEST_API_KEY" in str(err.value) and "sk-wrong" not in str(err.value)


def test_missing_api_key_env_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OSSI_MISSING_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="OSSI_MISSING_API_KEY"):
        OpenAIBackend({"backend": "openai", "model": "m", "api_key_env": "OSSI_MISSING_API_KEY"})


def test_on_response_errors_propagate():
    def on_response(request, response):
        raise OSError("disk full")

    with FakeServer() as server:
        backend = OpenAIBackend(teacher(server))
        with pytest.raises(OSError, match="disk full"):
            backend.generate([chat(i) for i in range(3)], on_response)
