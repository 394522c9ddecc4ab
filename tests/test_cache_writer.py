"""CacheWriter (ossinstruct/llm/cache.py): responses are written by background threads while
the engine generates, at most `max_pending` of them wait, everything queued is written when
it closes (also after the body raised), and a write error reaches the producer."""

from __future__ import annotations

import threading
import time

import pytest

from ossinstruct.llm.backends.base import Response
from ossinstruct.llm.cache import CacheWriter, ResponseCache


class SlowCache(ResponseCache):
    def __init__(self, root, gate: threading.Event, fail_on: str | None = None):
        super().__init__(root)
        self.gate, self.fail_on = gate, fail_on

    def put(self, key, response):
        self.gate.wait()
        if key == self.fail_on:
            raise OSError("disk full")
        super().put(key, response)


def _response(i: int) -> Response:
    return Response(text=f"answer {i}", finish_reason="stop", completion_tokens=i)


def test_puts_block_beyond_max_pending_and_close_writes_everything(tmp_path):
    gate = threading.Event()
    cache = SlowCache(tmp_path, gate)
    writer = CacheWriter(cache, threads=2, max_pending=3)
    # 2 taken by the (blocked) threads, 3 queued: the sixth put waits for a free slot.
    for i in range(5):
        writer.put(f"k{i}", _response(i))
    done = threading.Event()
    threading.Thread(target=lambda: (writer.put("k5", _response(5)), done.set()), daemon=True).start()
    time.sleep(0.3)
    assert not done.is_set(), "a seventh response in memory: put must wait"
    assert not list(tmp_path.rglob("*.json"))
    gate.set()
    assert done.wait(10)
    writer.close()
    assert {cache.get(f"k{i}").text for i in range(6)} == {f"answer {i}" for i in range(6)}


def test_what_was_queued_is_written_when_the_body_raises_and_errors_reach_the_producer(tmp_path):
    gate = threading.Event()
    gate.set()
    with pytest.raises(RuntimeError, match="engine died"):
        with CacheWriter(SlowCache(tmp_path / "a", gate)) as writer:
            for i in range(20):
                writer.put(f"k{i}", _response(i))
            raise RuntimeError("engine died")
    assert len(list((tmp_path / "a").rglob("*.json"))) == 20

    failing = CacheWriter(SlowCache(tmp_path / "b", gate, fail_on="k1"), threads=1)
    failing.put("k0", _response(0))
    failing.put("k1", _response(1))
    with pytest.raises(OSError, match="disk full"):
        for i in range(2, 1000):
            failing.put(f"k{i}", _response(i))
            time.sleep(0.001)
    with pytest.raises(OSError, match="disk full"):
        failing.close()
