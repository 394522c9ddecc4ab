"""kill -9 of a generation job midway, then a rerun: nothing cached is asked again, no
truncated shard is left, and the result equals an uninterrupted run's."""

import os
import signal
import subprocess
import sys
import time

import yaml

from ossinstruct.config import validate_config
from ossinstruct.files import read_jsonl, write_jsonl_atomic
from ossinstruct.generate.prompts import template_for
from ossinstruct.generate.teacher import decoding_params, model_id
from ossinstruct.llm.cache import ResponseCache, request_key
from ossinstruct.llm.fakeserver import FakeServer

N_SEEDS = 24


def make_inputs(tmp_path, base_url, name):
    workdir = tmp_path / name
    workdir.mkdir()
    seeds = [
        {"seed_id": f"src/python/{i}", "lang": "python", "seed": f"def task_{i}(x):\n    return x + {i}"}
        for i in range(N_SEEDS)
    ]
    write_jsonl_atomic(workdir / "seeds.jsonl", seeds)
    config = {
        "cache_dir": str(workdir / "cache"),
        "teachers": {
            "fake": {
                "backend": "openai",
                "model": "fake-model",
                "base_url": base_url,
                "concurrency": 2,
                "timeout_s": 10,
                "max_attempts": 2,
            }
        },
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def generate_cmd(workdir):
    return [
        sys.executable,
        "-m",
        "ossinstruct",
        "generate",
        "--config",
        str(workdir / "config.yaml"),
        "--teacher",
        "fake",
        "--seeds",
        str(workdir / "seeds.jsonl"),
        "-o",
        str(workdir / "out.jsonl"),
    ]


def request_key_of(body, teacher):
    template = template_for(teacher)
    return request_key("openai", model_id(teacher), {"messages": body["messages"]}, decoding_params(teacher, template))


def without_timing(records):
    return [{k: v for k, v in r.items() if k != "latency_s"} for r in records]


def test_kill_then_rerun(tmp_path):
    with FakeServer(latency_s=0.15) as server:
        # Reference: an uninterrupted run with its own cache.
        ref = make_inputs(tmp_path, server.base_url, "ref")
        subprocess.run(generate_cmd(ref), check=True, capture_output=True, timeout=120)
        reference = list(read_jsonl(ref / "out.jsonl"))
        assert len(reference) == N_SEEDS and all(r["status"] == "ok" for r in reference)

        work = make_inputs(tmp_path, server.base_url, "work")
        server.reset()
        job = subprocess.Popen(generate_cmd(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(server.log) < N_SEEDS // 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(job.pid, signal.SIGKILL)
        job.wait(timeout=10)
        assert job.returncode == -signal.SIGKILL

        # Nothing that looks finished: no shard, no stats; the cache holds what arrived.
        leftovers = sorted(p.name for p in work.iterdir())
        assert "out.jsonl" not in leftovers and "out.stats.json" not in leftovers
        cache = ResponseCache(work / "cache")
        cached_keys = {p.stem for p in (work / "cache").rglob("*.json")}
        assert 0 < len(cached_keys) < N_SEEDS
        assert all(cache.get(k) is not None for k in cached_keys)  # every entry complete

        teacher = validate_config(yaml.safe_load((work / "config.yaml").read_text()))["teachers"]["fake"]
        # The server may still be answering the dead job's requests in flight: let it finish,
        # so that the log below holds the rerun's requests only.
        while time.monotonic() - max(e.answered or 0 for e in server.log) < 0.5:
            time.sleep(0.1)
        server.reset()
        subprocess.run(generate_cmd(work), check=True, capture_output=True, timeout=120)
        resent = [request_key_of(e.body, teacher) for e in server.log]
        assert not set(resent) & cached_keys  # no cached request was sent again
        assert len(resent) == len(set(resent)) == N_SEEDS - len(cached_keys)

        final = list(read_jsonl(work / "out.jsonl"))
        assert without_timing(final) == without_timing(reference)
        assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]
