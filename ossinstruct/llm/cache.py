"""Content-addressed store of teacher responses.

One small JSON file per request, named by the request's hash, written atomically
(temporary file + rename in the same directory). Hundreds of SLURM jobs can write at
once on a shared network filesystem: there is no shared file to lock, two jobs that
race on one key write equivalent content, and a reader never sees a partial file.
A killed job loses only the requests that were still in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from ossinstruct.llm.backends.base import Request, Response

log = logging.getLogger("ossinstruct.llm.cache")


def content_key(material: dict) -> str:
    """sha256 of canonical JSON (sorted keys, no spaces): key order never matters."""
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def request_key(backend: str, model: str, payload: dict, decoding: dict) -> str:
    """Hash of everything that determines a teacher's answer.

    `payload` is {"messages": [...]} or {"prompt": "..."}; `decoding` holds temperature,
    top_p, max_tokens and stop.
    """
    return content_key({"backend": backend, "model": model, **payload, "decoding": decoding})


class JsonEntryStore:
    """One JSON file per key under `root` ({"key", "stored_at", <field>: value}), written
    by temporary file + rename in the same directory; shared by the response cache and
    the execution cache of compiled benchmark programs."""

    field = "value"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:4] / f"{key}.json"

    def read(self, key: str):
        path = self.path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))[self.field]
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            # Only a file written by something else can be damaged; treat it as a miss.
            log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
            return None

    def write(self, key: str, value) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"key": key, "stored_at": time.time(), self.field: value}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class ResponseCache(JsonEntryStore):
    field = "response"

    def get(self, key: str) -> Response | None:
        entry = self.read(key)
        if entry is None:
            return None
        try:
            return Response.from_dict(entry)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable cache entry %s (%s)", self.path(key), exc)
            return None

    def put(self, key: str, response: Response) -> None:
        """Store a received response. Failures are not stored: they are asked again."""
        if response.failed:
            return
        self.write(key, response.to_dict())

    def lookup(self, requests) -> tuple[dict[str, Response], dict[str, Request]]:
        """({key: cached response}, {key: request still to send}) for `requests`; two
        requests with the same key are one request."""
        responses: dict[str, Response] = {}
        misses: dict[str, Request] = {}
        for request in requests:
            if request.key in responses or request.key in misses:
                continue
            cached = self.get(request.key)
            if cached is not None:
                responses[request.key] = cached
            else:
                misses[request.key] = request
        return responses, misses


class CacheWriter:
    """Puts responses into a ResponseCache from background threads while a local engine
    generates the next ones: each entry is fsynced (milliseconds on a cluster's network
    filesystem), and writing tens of thousands of them on the generating thread would leave
    the GPU idle meanwhile. At most `max_pending` received responses wait in the queue (and
    one per thread is being written); `put` blocks beyond that, so a killed job loses those
    and the requests in flight, no more.

    Used as a context manager: leaving it waits until every queued response is written
    (also when the body raised), then raises the first write error, if any.
    """

    def __init__(self, cache: ResponseCache, threads: int = 4, max_pending: int = 256):
        import queue
        import threading

        self.cache = cache
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"cache-writer-{i}", daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    self.cache.put(*item)
            except BaseException as exc:  # noqa: BLE001 - kept for the producer to raise
                self._error = self._error or exc
            finally:
                self._queue.task_done()

    def put(self, key: str, response: Response) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((key, response))

    def close(self) -> None:
        """Write everything queued, stop the threads, raise the first write error."""
        if self._threads:
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()
            self._threads = []
        if self._error is not None:
            raise self._error

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()  # the responses received before the failure are kept
        except BaseException:  # noqa: BLE001 - the body's exception is the one to see
            log.exception("writing cached responses failed too")
