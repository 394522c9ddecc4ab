"""The sandbox's worker side: isolation set-up, the zygote loop, and one job's process.

Run as ``python -m ossinstruct.sandbox.zygote {zygote|probe} CONFIG_JSON``
by :mod:`ossinstruct.sandbox.pool` (read that module's docstring for the design and
the threat model). This module runs *inside* the sandbox, so it imports nothing from the
pipeline but its sibling modules protocol.py (framing) and isolation.py (set-up), standard
library only, and everything it needs from the standard library is imported at the top: after
the privilege drop, parts of the filesystem (the interpreter under /root, for instance)
may only be reachable through the directories exposed by :func:`expose_interpreter`.

Wire format on the protocol pipes: an 8-byte big-endian length, then that many bytes of
pickle. The zygote unpickles only what the pipeline sends it (config, context, payloads);
what a job returns is forwarded as opaque bytes, for the pipeline to unpickle with its
restricted unpickler.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from ossinstruct.sandbox.isolation import (
    PR_SET_PDEATHSIG,
    descendants,
    empty_directory,
    prctl,
    remove_tree,
    set_process_name,
    setup_isolation,
)
from ossinstruct.sandbox.protocol import FRAME_HEADER, MAX_FRAME_BYTES, read_frame, write_frame

LOG_TAIL_BYTES = 2000  # how much of a crashed job's stderr goes into its error


# ---------------------------------------------------------------- zygote


def load_handler(spec: str):
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:
        who = f" as uid {os.geteuid()}" if os.geteuid() != 0 else ""
        raise RuntimeError(
            f"handler {spec!r}: cannot import module {module_name!r}{who}: {type(exc).__name__}: {exc}"
        ) from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise RuntimeError(f"handler {spec!r}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise RuntimeError(f"handler {spec!r}: {attribute!r} is not callable")
    return target


def preload_modules(names) -> None:
    """Import each module once, here, so that every job forked from this zygote has it
    imported already (numpy, pandas, tensorflow: seconds per import)."""
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException as exc:
            raise RuntimeError(f"cannot preload module {name!r}: {type(exc).__name__}: {exc}") from None


def read_context(fd: int) -> object:
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(size - offset, 1 << 24), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return pickle.loads(b"".join(chunks))


def kill_job_processes(job_pid: int, pid_namespace: bool) -> int | None:
    """SIGKILL every process of the finished or overdue job, reap them all, and return
    the job process's wait status (None if it was reaped elsewhere)."""
    job_status = None
    if pid_namespace and os.getpid() == 1:  # never kill(-1) anywhere else: it would hit the whole user
        # Init of our own pid namespace: kill(-1) reaches every other process in it, however
        # it detached itself, and orphans are reparented to us for reaping.
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return job_status
            if pid == job_pid:
                job_status = status
    # No pid namespace: we are a child subreaper, so everything the job started, even after
    # setsid and a double fork, stays below us in the process tree until we reap it.
    try:
        os.killpg(job_pid, signal.SIGKILL)
    except OSError:
        pass
    give_up = time.monotonic() + 10
    while True:
        while True:  # reap what has ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                # No child left, living or dead: a process's orphans are reparented to us
                # before it can be reaped, so nothing of the job is left anywhere.
                return job_status
            if pid == 0:
                break
            if pid == job_pid:
                job_status = status
        if time.monotonic() > give_up:
            return job_status
        for pid in descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)


def describe_wait_status(status: int | None) -> str:
    if status is None:
        return "the job process ended without returning a result"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"the job process was killed by {name}"
    return f"the job process exited with status {os.waitstatus_to_exitcode(status)} without returning a result"


def log_tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - LOG_TAIL_BYTES))
            return f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def job_child(handler, context, payload, work_dir: str, log_path: str, result_fd: int, limits: dict) -> None:
    """Runs in the forked job process; never returns."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the zygote gone means the job is over
        set_process_name("osi-job")
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # Only the result pipe stays open: the job must not reach the zygote's protocol pipes.
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2 and fd != result_fd:
                try:
                    os.close(fd)
                except OSError:
                    pass
        null = os.open(os.devnull, os.O_RDWR)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.chdir(work_dir)
        for key in ("HOME", "TMPDIR", "TMP", "TEMP", "PWD"):
            os.environ[key] = work_dir
        tempfile.tempdir = None  # re-read TMPDIR
        mib = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mib,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_mb"] * mib,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        nproc = limits["processes"] if hard == resource.RLIM_INFINITY else min(limits["processes"], hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    except BaseException:
        os._exit(71)
    try:
        value = handler(context, payload)
        body = b"V" + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:
        body = b"E" + traceback.format_exc()[-8000:].encode("utf-8", "replace")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    try:
        write_frame(result_fd, body)
    except BaseException:
        os._exit(72)
    os._exit(0)


def run_job(job_id: int, payload, handler, context, config: dict, report: dict, parent_fd: int) -> tuple | None:
    """Fork the job, wait for its result or its deadline, then kill everything it started
    and clean up. Returns the reply for the pipeline, or None when the pipeline is gone."""
    limits = config["limits"]
    work_dir = os.path.join(report["work_root"], f"job-{job_id}")
    log_path = work_dir + ".log"
    os.mkdir(work_dir, 0o700)
    result_r, result_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        job_child(handler, context, payload, work_dir, log_path, result_w, limits)
        os._exit(73)
    os.close(result_w)
    deadline = start + limits["timeout_s"]
    try:
        exited_fd = os.pidfd_open(pid)  # readable when the job process ends (Linux >= 5.3)
    except (AttributeError, OSError):
        exited_fd = None  # older kernels: check with waitpid between short polls
    early_status = None
    poller = select.poll()
    for fd in (result_r, exited_fd, parent_fd):
        if fd is not None:
            poller.register(fd, select.POLLIN)
    buffer = bytearray()
    needed = None  # total frame size once the header is in
    exited = timed_out = parent_gone = oversized = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        if exited_fd is None and not exited:
            remaining = min(remaining, 0.02)
            done, early_status = os.waitpid(pid, os.WNOHANG)
            exited = done != 0
        for fd, _event in poller.poll(remaining * 1000):
            if fd == parent_fd:
                parent_gone = True
            elif fd == exited_fd:
                exited = True
                poller.unregister(exited_fd)
            elif fd == result_r:
                chunk = os.read(result_r, 1 << 20)
                if not chunk:
                    poller.unregister(result_r)
                buffer += chunk
        if needed is None and len(buffer) >= FRAME_HEADER.size:
            needed = FRAME_HEADER.size + FRAME_HEADER.unpack(bytes(buffer[: FRAME_HEADER.size]))[0]
            oversized = needed > MAX_FRAME_BYTES + FRAME_HEADER.size
        if parent_gone or oversized or (needed is not None and len(buffer) >= needed):
            break
        if exited:
            # Its last write is in the pipe already; processes it forked may still hold
            # the pipe open, so read what is there instead of waiting for end of file.
            os.set_blocking(result_r, False)
            try:
                while chunk := os.read(result_r, 1 << 20):
                    buffer += chunk
            except BlockingIOError:
                pass
            break
    elapsed = time.monotonic() - start
    status = kill_job_processes(pid, report["pid_namespace"])
    if status is None and exited_fd is None and exited:
        status = early_status
    os.close(result_r)
    if exited_fd is not None:
        os.close(exited_fd)
    tail = log_tail(log_path)
    for path in report["private_dirs"]:  # also whatever the job left outside its work dir
        empty_directory(path, tuple(report["kept_dirs"]))
    remove_tree(work_dir)
    remove_tree(log_path)
    if parent_gone:
        return None
    complete = needed is not None and not oversized and len(buffer) >= needed
    body = bytes(buffer[FRAME_HEADER.size : needed]) if complete else b""
    if complete and body[:1] == b"V":
        return ("result", job_id, "ok", body[1:], None, elapsed)
    if complete and body[:1] == b"E":
        error = "the handler raised:\n" + body[1:].decode("utf-8", "replace")
        return ("result", job_id, "crashed", None, error, elapsed)
    if oversized:
        return ("result", job_id, "crashed", None, f"the job's result is larger than {MAX_FRAME_BYTES} bytes", elapsed)
    if timed_out:
        return ("result", job_id, "timeout", None, f"the job did not finish within {limits['timeout_s']:g} s", elapsed)
    error = describe_wait_status(status)
    if tail:
        error += f"; its output ended with:\n{tail}"
    return ("result", job_id, "crashed", None, error, elapsed)


def zygote_main(config: dict) -> int:
    in_fd, out_fd, context_fd = config["in_fd"], config["out_fd"], config["context_fd"]
    for fd in (in_fd, out_fd, context_fd):
        os.set_inheritable(fd, False)  # programs the jobs execute must not get them
    set_process_name("osi-zygote")
    # Init of a pid namespace receives from inside it only signals it handles; Python
    # handles SIGINT, so a job could interrupt us with it. Ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        report = setup_isolation(config)
        handler = load_handler(config["handler"])
        preload_modules(config.get("preload", ()))
        context = read_context(context_fd)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
        write_frame(out_fd, pickle.dumps(("error", message)))
        return 1
    os.close(context_fd)
    gc.collect()
    gc.freeze()  # the context stays shared with the forked jobs instead of being copied by the GC
    write_frame(out_fd, pickle.dumps(("ready", report)))
    while True:
        try:
            frame = read_frame(in_fd)
        except ConnectionError:
            return 1
        if frame is None:
            return 0
        _, job_id, payload_bytes = pickle.loads(frame)
        try:
            payload = pickle.loads(payload_bytes)
            reply = run_job(job_id, payload, handler, context, config, report, in_fd)
        except Exception:  # a failure of the zygote itself: report it against this job
            reply = ("result", job_id, "crashed", None, "sandbox worker error:\n" + traceback.format_exc(), 0.0)
        if reply is None:
            return 0
        try:
            write_frame(out_fd, pickle.dumps(reply))
        except BrokenPipeError:
            return 0


def main(argv: list[str]) -> int:
    mode, config = argv[0], json.loads(argv[1])
    if mode == "probe":
        report = setup_isolation(config)
        # Jobs run programs with this interpreter: check it still starts after the drop.
        subprocess.run(
            [sys.executable, "-c", "import json"],
            check=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        sys.stdout.write(json.dumps(report))
        return 0
    return zygote_main(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
