"""Rate limits are the account's (docs/generations.md, "Teacher backends"): the generation jobs that may
call the API at once (teacher_api_jobs, the llm_api resource's cap) share them, and a
request reserves its expected tokens, settled with the answer's usage, instead of
max_tokens."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml
from conftest import write_tree
from test_workflow import snakemake

from ossinstruct.generate.teacher import job_rate_limits
from ossinstruct.llm.backends.base import Request
from ossinstruct.llm.backends.openai_api import EXPECTED_AFTER, OpenAIBackend, TokenBudget
from ossinstruct.llm.fakeserver import FakeServer, prompt_text


def test_each_job_gets_its_share_of_the_accounts_limits():
    teacher = {"backend": "openai", "model": "m", "requests_per_minute": 3500, "tokens_per_minute": 2_000_000}
    shared = job_rate_limits(teacher, 4)
    assert shared["requests_per_minute"] == 875 and shared["tokens_per_minute"] == 500_000
    assert teacher["requests_per_minute"] == 3500  # the config is not changed
    assert job_rate_limits({**teacher, "tokens_per_minute": None}, 4)["tokens_per_minute"] is None


def test_a_settled_reservation_leaves_what_was_used():
    async def scenario():
        budget = TokenBudget(60_000)  # 1,000 tokens a second, a bucket of 1,000
        await budget.acquire(900)
        budget.settle(900, 300)  # the answer used 300: 600 given back
        level = budget.level
        budget.settle(0, 5_000)  # a debt: the bucket overflows, later requests wait
        return level, budget.level

    level, debt = asyncio.run(scenario())
    assert 290 < level <= 300 and debt > 5_000


def _requests(n, max_tokens=2500):
    params = {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "stop": []}
    return [
        Request(key=f"r{i:03d}", params=params, messages=[{"role": "user", "content": "x" * 400}]) for i in range(n)
    ]


@pytest.mark.parametrize("budget", ["usage", "max_tokens"])
def test_requests_reserve_the_expected_tokens_and_settle_with_usage(budget):
    with FakeServer() as server:  # answers of about 60 tokens, usage reported
        teacher = {
            "backend": "openai",
            "model": "m",
            "base_url": server.base_url,
            "concurrency": 1,
            "tokens_per_minute": 60_000_000,  # never waits: the test is about what is reserved
            "token_budget": budget,
        }
        backend = OpenAIBackend(teacher)
        reservations, used = [], []
        estimate = backend.token_estimate

        def recording(request):
            reservations.append(estimate(request))
            return reservations[-1]

        backend.token_estimate = recording
        backend.generate(_requests(20), lambda r, resp: used.append(resp.prompt_tokens + resp.completion_tokens))
    prompt = 100  # 400 characters / 4
    if budget == "max_tokens":  # OpenAI's admission rule, never settled
        assert reservations == [2500] * 20 and backend._tpm.settled == 0
        return
    completions = [u - prompt for u in used]  # the fake server counts characters / 4 too
    assert reservations[:EXPECTED_AFTER] == [prompt + 2500] * EXPECTED_AFTER
    expected = -(-sum(completions[:EXPECTED_AFTER]) // EXPECTED_AFTER)
    assert reservations[EXPECTED_AFTER] == prompt + expected < 300  # not 2,600
    # Settled, the reservations add up to exactly what the answers used.
    assert backend._tpm.reserved + backend._tpm.settled == sum(used)


def _corpus(n):
    return {f"pkg/m{i:02d}.py": f"def f_{i}(x):\n    return x * {i}\n\n\nVALUE_{i} = {i}\n" for i in range(n)}


def _shard_windows(server, workdir):
    """(first request received, last answered) of each generation shard, from the server's log."""
    shard_of = {}
    for path in (workdir / "results" / "seeds").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            shard_of[json.loads(line)["seed"]] = path.stem
    windows = {}
    for entry in server.log:
        text = prompt_text(entry.body)
        [shard] = {s for seed, s in shard_of.items() if seed in text}
        first, last = windows.get(shard, (entry.received, entry.answered))
        windows[shard] = (min(first, entry.received), max(last, entry.answered))
    return windows


def _most_at_once(windows):
    events = sorted([(a, 1) for a, _ in windows.values()] + [(b, -1) for _, b in windows.values()])
    at_once = most = 0
    for _, step in events:
        at_once += step
        most = max(most, at_once)
    return most


@pytest.mark.slow
@pytest.mark.parametrize("api_jobs", [2, 4])
def test_the_workflow_runs_at_most_teacher_api_jobs_generation_jobs_at_once(tmp_path, api_jobs):
    """4 generation shards, --cores 8: with teacher_api_jobs 2 no more than 2 jobs ever call
    the server at once, each at half the account's rate; with 4 (the control) they overlap
    more, so the cap is what held them."""
    write_tree(tmp_path / "corpus", _corpus(12))
    with FakeServer(latency_s=0.6) as server:
        config = {
            "seeds": {"shard_size": 3},
            "corpora": {
                "src": {"source": "local", "path": str(tmp_path / "corpus"), "languages": {"python": {"quota": 12}}}
            },
            "teachers": {
                "fake": {
                    "backend": "openai",
                    "model": "fake-model",
                    "base_url": server.base_url,
                    "concurrency": 1,
                    "requests_per_minute": 6000,
                    "timeout_s": 10,
                }
            },
            "teacher_api_jobs": api_jobs,
            "generations": [{"teacher": "fake", "corpus": "src"}],
            "datasets": [],
            "models": [],
            "evaluation": {"models": [], "benchmarks": ["humaneval"]},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        snakemake("--cores", "1", "--until", "seeds", cwd=tmp_path)  # seeds first: the jobs below only call the API
        snakemake("--cores", "8", cwd=tmp_path)
        windows = _shard_windows(server, tmp_path)
    assert len(windows) == 4 and len(server.log) == 12
    most = _most_at_once(windows)
    if api_jobs == 2:
        assert most == 2
        log = (tmp_path / "results/logs/generations/fake/src/python/00000.log").read_text()
        assert "this job's share, 1/2 of the account's: 3000 requests/min" in log
    else:
        assert most > 2
