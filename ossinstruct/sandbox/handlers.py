"""Ready-made sandbox handlers ("module:function" specs for SandboxPool): `echo` (the
pool's own overhead) and `run_program` (benchmarks that run a program: MultiPL-E, APPS).
They run inside a sandbox job, never in the pipeline's process.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import tempfile
import time
from typing import Any

log = logging.getLogger("ossinstruct.sandbox.pool")

DEFAULT_MAX_OUTPUT_BYTES = 1 << 20  # run_program's bound on each of stdout and stderr
OUTPUT_GRACE_S = 0.2  # run_program reads this long after exit, then stops (daemons may hold the pipes)


# ---------------------------------------------------------------- handlers


def echo(context: Any, payload: Any) -> dict:
    """Trivial handler (tests, bench/sandbox_overhead.py): returns the payload, the context's
    entry for it when the context is a dict, and the pid of the job process."""
    entry = context.get(payload) if isinstance(context, dict) and isinstance(payload, str) else None
    return {"payload": payload, "context_entry": entry, "pid": os.getpid()}


PROGRAM_KEYS = {"argv", "stdin", "files", "timeout_s", "max_output_bytes", "env"}


def _write_job_file(name: Any, content: Any) -> None:
    if (
        not isinstance(name, str)
        or not name
        or "\0" in name
        or os.path.isabs(name)
        or os.path.normpath(name).split(os.sep)[0] == ".."
    ):
        raise ValueError(f"run_program: file name {name!r} must be a relative path inside the work dir")
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not isinstance(content, bytes):
        raise ValueError(f"run_program: content of file {name!r} must be str or bytes, got {type(content).__name__}")
    directory = os.path.dirname(name)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(name, "wb") as f:
        f.write(content)


def _collect_output(process: subprocess.Popen, timeout_s: float | None, limit: int) -> tuple[bytes, bytes, bool, bool]:
    """Read stdout and stderr up to limit bytes each (the rest is read and dropped), until
    both are closed, or shortly after the program exits (a daemon it left may hold them)."""
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    poller = select.poll()
    for fd in buffers:
        poller.register(fd, select.POLLIN)
    open_fds = set(buffers)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    exited_at = None
    truncated = timed_out = False
    while open_fds:
        now = time.monotonic()
        if exited_at is None and process.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > OUTPUT_GRACE_S:
            break
        if exited_at is None and deadline is not None and now >= deadline:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)  # not reaped yet, so its group id is still its own
            process.wait()
            continue
        wait_s = 0.05 if deadline is None else max(0.0, min(0.05, deadline - now))
        for fd, _event in poller.poll(wait_s * 1000):
            chunk = os.read(fd, 65536)
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
                continue
            room = limit - len(buffers[fd])
            buffers[fd] += chunk[: max(0, room)]
            truncated = truncated or len(chunk) > room
    if process.poll() is None:  # closed its output but still running
        try:
            process.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    process.stdout.close()
    process.stderr.close()
    return bytes(buffers[out_fd]), bytes(buffers[err_fd]), truncated, timed_out


def run_program(context: Any, payload: dict) -> dict:
    """A ready-made handler for benchmarks that run a program (MultiPL-E, APPS).

    payload: {"argv": [...], "stdin": str | bytes | None, "files": {relative name: text},
    "timeout_s": float | None, "max_output_bytes": int (default 1 MiB), "env": {name: value}};
    only argv is required. context: None, or a dict whose "files" are written for every job
    (before the payload's) and whose "env" is added to every program's environment.
    Writes the files into the job's work dir and runs argv there (its own session, stdin
    from the given text or /dev/null). Returns {"returncode", "stdout", "stderr" (text,
    each cut at max_output_bytes), "truncated": bool, "timed_out": bool}; on timed_out the
    program's process group was killed and returncode is negative. Leftover processes are
    the sandbox's business (all killed after the job)."""
    if not isinstance(payload, dict):
        raise ValueError(f"run_program: the payload must be a dict, got {type(payload).__name__}")
    if context is not None and not isinstance(context, dict):
        raise ValueError(f"run_program: the context must be None or a dict, got {type(context).__name__}")
    unknown = set(payload) - PROGRAM_KEYS
    if unknown:
        raise ValueError(f"run_program: unknown payload keys {sorted(unknown)} (known: {sorted(PROGRAM_KEYS)})")
    argv = payload.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"run_program: 'argv' must be a non-empty list of strings, got {argv!r}")
    timeout_s = payload.get("timeout_s")
    if timeout_s is not None and (
        isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0
    ):
        raise ValueError(f"run_program: 'timeout_s' must be a positive number or None, got {timeout_s!r}")
    limit = payload.get("max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"run_program: 'max_output_bytes' must be an integer >= 0, got {limit!r}")
    stdin = payload.get("stdin")
    if stdin is not None and not isinstance(stdin, (str, bytes)):
        raise ValueError(f"run_program: 'stdin' must be str, bytes or None, got {type(stdin).__name__}")
    shared = context or {}
    for files in (shared.get("files") or {}, payload.get("files") or {}):
        if not isinstance(files, dict):
            raise ValueError(
                f"run_program: 'files' must be a dict of relative name to text, got {type(files).__name__}"
            )
        for name, content in files.items():
            _write_job_file(name, content)
    env = dict(os.environ)
    for extra in (shared.get("env") or {}, payload.get("env") or {}):
        env.update({str(k): str(v) for k, v in extra.items()})
    stdin_file = None
    if stdin is not None:
        stdin_file = tempfile.TemporaryFile()  # TMPDIR is the work dir; the file has no name
        stdin_file.write(stdin.encode("utf-8") if isinstance(stdin, str) else stdin)
        stdin_file.seek(0)
    try:
        process = subprocess.Popen(
            argv,
            stdin=stdin_file or subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    finally:
        if stdin_file is not None:
            stdin_file.close()
    stdout, stderr, truncated, timed_out = _collect_output(process, timeout_s, limit)
    return {
        "returncode": process.returncode,
        "stdout": stdout.decode("utf-8", "replace"),
        "stderr": stderr.decode("utf-8", "replace"),
        "truncated": truncated,
        "timed_out": timed_out,
    }
