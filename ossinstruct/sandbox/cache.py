"""The execution cache: one stored result per distinct execution (a program and what
decides its result: toolchain or interpreter versions, limits), keyed by content.

Used by every caller that runs many programs, some of them the same: MultiPL-E's and
DS-1000's scoring (the same completion sampled twice runs once) and the verify step of the
curated data. Entries are written as each program ends, so that a job killed midway (a
time limit, a preemption) keeps every result it finished and its retry runs only the rest.
"""

from __future__ import annotations

from ossinstruct.llm.cache import JsonEntryStore


class ExecutionCache(JsonEntryStore):
    """One JSON file per distinct execution, the response cache's store (atomic rename;
    NFS-safe: no shared file, racing writers write equivalent content). sandbox_error and
    timeout results are not stored (they may depend on the machine's load)."""

    field = "result"

    def get(self, key: str) -> dict | None:
        return self.read(key)

    def put(self, key: str, result: dict) -> None:
        if result.get("status") in ("sandbox_error", "timeout"):
            return
        self.write(key, result)
