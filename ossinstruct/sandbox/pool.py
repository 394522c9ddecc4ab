"""Run untrusted, model-generated code: a pool of isolated worker processes.

Usage::

    with SandboxPool("ossinstruct.benchmarks.evalplus.check:check", context,
                     workers=2, limits=Limits(timeout_s=60, memory_mb=4096)) as pool:
        results = pool.run(payloads)  # [JobResult(status, value, error, elapsed_s)], in order

Threat model
------------
The code comes from a language model, not from an attacker who targets this pipeline:
what we expect is code that loops forever, allocates without bound, forks, writes or
deletes files (``rm -rf ~``), leaves daemons behind, opens network connections, or kills
processes it should not. The sandbox must contain all of that, keep the pipeline's own
process out of reach (nothing generated ever runs in it, nothing a job returns is
unpickled with the plain unpickler in it), and leave nothing behind. It is not a security
boundary against a deliberate attacker: jobs share the kernel (no seccomp filter, so a
kernel bug is an escape), can read what the job's user may read, and on a machine without
namespaces a hostile job running as the pipeline's own user can reach the pipeline's other
processes. :func:`isolation_report` says which layers are in force; each one degrades
gracefully where the OS refuses it and the report says so.

Design
------
Importing a checker such as evalplus takes ~2 s, so there is no fresh interpreter per
job. Each worker is a long-lived *zygote* (``python -m
ossinstruct.sandbox.zygote``), started once from the pipeline with Popen,
which sets up its isolation, imports the handler once, reads the (possibly large) context
once from an in-memory file, and then forks a fresh child per job. The pipeline talks to
it over two dedicated pipes (length-prefixed pickle frames), never over stdin/stdout, so
a job printing to fd 1 cannot corrupt the protocol.

Layers, outermost first (``isolation_report`` keys in brackets):

* namespaces [method, pid_namespace, net_namespace]: as root the zygote is started under
  ``unshare --net --pid --fork --kill-child --mount --mount-proc`` ("unshare"); as another
  user under the same with ``--user --map-root-user`` ("userns") where user namespaces are
  allowed; otherwise directly ("none"). The empty network namespace has only its own
  loopback, so no job reaches the host or the internet (``Limits.network=True`` keeps the
  host's network). The zygote is init of its pid namespace: killing it from outside (which
  the pipeline does on a backstop timeout or at close) makes the kernel kill every process
  in it, and a job cannot kill it from inside (the kernel drops SIGKILL to a namespace's
  init from within).
* private tmp [private_tmp]: fresh tmpfs mounts on /tmp, /var/tmp and /dev/shm inside the
  mount namespace; each job's work dir is there, and all three are emptied after every
  job, so jobs see neither the host's temp files nor each other's. Python's
  multiprocessing (evalplus uses it) works: /dev/shm is writable.
* read-only filesystem [readonly_fs]: every other mount is remounted read-only in the
  namespace (not /proc, /sys and /dev, which ownership protects and where /dev/null must
  stay writable), so ``rm -rf ~`` or a write into the checkout fails with EROFS.
* unprivileged user [unprivileged_user, root_dropped_to_nobody, no_capabilities]: real
  root drops to nobody (no groups, empty capability bounding set) before importing the
  handler; if the interpreter sits below a directory only root may enter (a Python under
  /root), that directory is covered by a tmpfs holding just bind mounts of the
  interpreter's, sys.path's and PATH's directories, so it stays usable and the rest of
  root's home is hidden. Root of a user namespace keeps its uid but loses every
  capability, so jobs cannot undo the read-only mounts. no_new_privs is set: no setuid
  binary raises privileges.
* per job: a forked child in its own work dir (also HOME and TMPDIR), stdin from
  /dev/null, stdout and stderr into a log whose tail becomes the error of a crashed job,
  rlimits (RLIMIT_AS memory, RLIMIT_FSIZE, RLIMIT_NPROC, no core files), only its own
  result pipe open. Its result goes back to the zygote as opaque bytes.
* cleanup [subreaper]: the zygote waits up to ``timeout_s``; then, finished or not, it
  SIGKILLs every process of the job, including ones that setsid'ed or double-forked to
  escape (in a pid namespace ``kill(-1)`` from its init; without one the zygote is a child
  subreaper, so orphans stay below it, and it kills all its descendants until none is
  left), reaps them, removes the work dir and replies. No process of a job outlives its
  time limit.
* the pipeline side: a backstop deadline per job (``timeout_s`` + margin); a zygote that
  misses it or dies (killed by hostile code) is killed with everything it started and
  replaced, the job is reported as "timeout" / "crashed", and the pool goes on. Results
  are unpickled with an unpickler that only builds plain data (no classes, no code). Every
  process the pool starts carries ``OSSINSTRUCT_SANDBOX_TOKEN=<pool.token>-...`` in its
  environment, which the pool uses to find and kill stragglers when there is no pid
  namespace. close() leaves no process and no temp directory behind.

The environment passed to the zygotes drops variables that look like secrets (names with
KEY, TOKEN, SECRET, PASSWORD, ... as a word).
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import logging
import math
import os
import pickle
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ossinstruct.sandbox import isolation, protocol

log = logging.getLogger("ossinstruct.sandbox.pool")

ZYGOTE_MODULE = "ossinstruct.sandbox.zygote"
TOKEN_VARIABLE = "OSSINSTRUCT_SANDBOX_TOKEN"
STARTUP_TIMEOUT_S = 120.0  # importing the handler (evalplus: ~2 s) on a slow shared filesystem
PROBE_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0  # a zygote told to stop gets this long before it is killed
STATUSES = ("ok", "timeout", "crashed")
SECRET_WORDS = {"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "AUTH"}
HANDLER_PATTERN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class SandboxError(RuntimeError):
    """The sandbox itself cannot work (a worker does not start, the pool is closed)."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 60.0  # wall clock per job, enforced by the zygote (and a backstop in the parent)
    memory_mb: int = 4096  # RLIMIT_AS for the job's processes
    network: bool = False  # False: job runs in an empty network namespace when the OS allows
    file_size_mb: int = 64  # RLIMIT_FSIZE
    processes: int = 256  # RLIMIT_NPROC (only effective for non-root)

    def __post_init__(self):
        if (
            isinstance(self.timeout_s, bool)
            or not isinstance(self.timeout_s, (int, float))
            or not math.isfinite(self.timeout_s)
            or self.timeout_s <= 0
        ):
            raise ValueError(f"Limits.timeout_s must be a positive number of seconds, got {self.timeout_s!r}")
        for name, minimum in (("memory_mb", 16), ("file_size_mb", 1), ("processes", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"Limits.{name} must be an integer >= {minimum}, got {value!r}")
        if not isinstance(self.network, bool):
            raise ValueError(f"Limits.network must be True or False, got {self.network!r}")

    @property
    def backstop_s(self) -> float:
        """How long the pipeline waits for a job's answer before it kills the zygote."""
        return self.timeout_s * 1.1 + 5.0


@dataclass
class JobResult:
    status: str  # "ok" (handler returned), "timeout", "crashed" (job process died / killed by signal / handler raised)
    value: Any  # the handler's return value when status == "ok", else None
    error: str | None
    elapsed_s: float


# ---------------------------------------------------------------- what comes back from a zygote


# Globals a result may reference: plain containers only. Anything else (a class, a
# function, os.system) would let a job run code in the pipeline when it is unpickled.
SAFE_GLOBALS = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "bytearray"),
    ("builtins", "range"),
    ("builtins", "slice"),
    ("collections", "OrderedDict"),
}


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"{module}.{name} is not plain data (a sandbox handler must return None, bool, int, float, "
            "complex, str, bytes, or lists, tuples, dicts and sets of those)"
        )


def _loads_data(data: bytes) -> Any:
    return _DataUnpickler(io.BytesIO(data)).load()


# ---------------------------------------------------------------- isolation probe


def _wrapper(method: str, network: bool) -> list[str]:
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    flags = ["--pid", "--fork", "--kill-child", "--mount", "--mount-proc"] + ([] if network else ["--net"])
    if method == "unshare":
        return [unshare, *flags]
    if method == "userns":
        return [unshare, "--user", "--map-root-user", *flags]
    return []


def _candidate_methods() -> list[str]:
    methods = []
    if shutil.which("unshare") or os.path.exists("/usr/bin/unshare"):
        methods.append("unshare" if os.geteuid() == 0 else "userns")
    return methods + ["none"]


def _zygote_environment(token: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not SECRET_WORDS.intersection(re.split(r"[^A-Z0-9]+", name.upper()))
    }
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env[TOKEN_VARIABLE] = token
    return env


def _zygote_command(method: str, network: bool, mode: str, config: dict, python: str | None = None) -> list[str]:
    return [*_wrapper(method, network), python or sys.executable, "-m", ZYGOTE_MODULE, mode, json.dumps(config)]


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[str, dict]:
    """Try each method, best first, by running the zygote's own set-up under it."""
    notes = []
    for method in _candidate_methods():
        host_dir = tempfile.mkdtemp(prefix="ossinstruct-sandbox-probe-")
        try:
            config = {"method": method, "host_dir": host_dir, "tmpfs_mb": 16}
            done = subprocess.run(
                _zygote_command(method, False, "probe", config),
                capture_output=True,
                timeout=PROBE_TIMEOUT_S,
                cwd="/",
                stdin=subprocess.DEVNULL,
                env=_zygote_environment("probe-" + secrets.token_hex(4)),
            )
            if done.returncode == 0:
                report = json.loads(done.stdout)
                for internal in ("work_root", "private_dirs", "kept_dirs"):
                    report.pop(internal, None)
                report["notes"] = notes + report["notes"]
                return method, report
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            notes.append(f"method {method!r} unavailable: {why[0]}")
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            notes.append(f"method {method!r} unavailable: {exc}")
        finally:
            shutil.rmtree(host_dir, ignore_errors=True)
    raise SandboxError("no sandbox worker can start on this machine: " + "; ".join(notes))


def isolation_report() -> dict:
    """Which layers are in force on this machine, probed once and cached: e.g.
    {"method": "unshare" | "userns" | "none", "pid_namespace": bool, "net_namespace": bool,
     "private_tmp": bool, "readonly_fs": bool, "unprivileged_user": bool (jobs do not run as
     host root), "root_dropped_to_nobody": bool, "no_capabilities": bool, "subreaper": bool,
     "notes": [why a layer is missing, ...]}. A pool started with Limits(network=True) has
    no network namespace; its own report is SandboxPool.isolation."""
    return json.loads(json.dumps(_probe()[1]))  # a copy the caller may change


# ---------------------------------------------------------------- one worker, pipeline side


def _kill_processes_with_token(needle: bytes) -> None:
    """SIGKILL every process whose environment contains needle, until none is left: the
    stragglers of a zygote that had no pid namespace to take them down with it."""
    for _ in range(100):
        found = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != os.getpid():
                try:
                    with open(f"/proc/{name}/environ", "rb") as f:
                        if needle in f.read():
                            found.append(int(name))
                except OSError:
                    continue
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


@dataclass
class _PoolSetup:
    handler: str
    limits: Limits
    method: str
    host_dir: str
    context_fd: int
    token: str
    python: str | None = None  # the zygotes' interpreter (None: the pipeline's own)
    preload: tuple[str, ...] = ()  # modules each zygote imports once, after the handler


class _Worker:
    """One zygote, from the pipeline's side: start, send a job, wait, kill, replace."""

    def __init__(self, setup: _PoolSetup, index: int):
        self.setup, self.index, self.generation = setup, index, 0
        self.process: subprocess.Popen | None = None
        self.to_zygote = self.from_zygote = -1
        self.stderr = None
        self.last_stderr = ""  # the tail of a killed zygote's stderr, for error messages
        self.report: dict = {}
        self.busy = False  # a job was sent and its reply not read (the run was interrupted)
        self.lock = threading.Lock()  # kill() may come from close() while a run thread uses the worker

    @property
    def token(self) -> str:
        return f"{self.setup.token}-{self.index}-{self.generation}"

    def launch(self) -> None:
        self.generation += 1
        limits = self.setup.limits
        job_r, self.to_zygote = os.pipe()
        self.from_zygote, reply_w = os.pipe()
        config = {
            "method": self.setup.method,
            "handler": self.setup.handler,
            "host_dir": self.setup.host_dir,
            "tmpfs_mb": max(256, 4 * limits.file_size_mb),
            "in_fd": job_r,
            "out_fd": reply_w,
            "context_fd": self.setup.context_fd,
            "preload": list(self.setup.preload),
            "limits": {
                "timeout_s": limits.timeout_s,
                "memory_mb": limits.memory_mb,
                "file_size_mb": limits.file_size_mb,
                "processes": limits.processes,
            },
        }
        self.stderr = tempfile.TemporaryFile(prefix="ossinstruct-sandbox-stderr-")
        try:
            self.process = subprocess.Popen(
                _zygote_command(self.setup.method, limits.network, "zygote", config, self.setup.python),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                cwd="/",
                pass_fds=(job_r, reply_w, self.setup.context_fd),
                env=_zygote_environment(self.token),
                start_new_session=True,
            )  # Ctrl-C reaches the pipeline only, which then closes the pool
        except OSError as exc:
            self._close_fds()
            raise SandboxError(f"cannot start a sandbox worker for handler {self.setup.handler!r}: {exc}") from exc
        finally:
            os.close(job_r)
            os.close(reply_w)
        os.set_blocking(self.to_zygote, False)
        os.set_blocking(self.from_zygote, False)

    def handshake(self, deadline: float) -> None:
        try:
            frame = protocol.read_frame(self.from_zygote, deadline)
            message = _loads_data(frame) if frame is not None else None
        except (TimeoutError, OSError, pickle.UnpicklingError) as exc:
            message = ("error", f"{type(exc).__name__}: {exc}")
        if isinstance(message, tuple) and message[:1] == ("ready",):
            self.report = {k: v for k, v in message[1].items() if k not in ("work_root", "private_dirs", "kept_dirs")}
            return
        why = message[1] if isinstance(message, tuple) and len(message) == 2 else "it exited during start-up"
        self.kill()
        tail = self.last_stderr
        raise SandboxError(
            f"sandbox worker for handler {self.setup.handler!r} failed to start: {why}"
            + (f"\nworker stderr:\n{tail}" if tail else "")
        )

    def start(self) -> None:
        self.launch()
        self.handshake(time.monotonic() + STARTUP_TIMEOUT_S)

    def run_job(self, job_id: int, payload: bytes) -> JobResult:
        if self.busy:  # its late reply would be taken for this job's: start afresh
            self.kill()
        if self.process is None:
            self.start()
        limits = self.setup.limits
        started = time.monotonic()
        deadline = started + limits.backstop_s
        try:
            self.busy = True
            protocol.write_frame(self.to_zygote, pickle.dumps(("job", job_id, payload)), deadline)
            frame = protocol.read_frame(self.from_zygote, deadline)
            if frame is None:
                raise ConnectionError("end of file")
            reply = _loads_data(frame)
            if not (
                isinstance(reply, tuple)
                and len(reply) == 6
                and reply[:2] == ("result", job_id)
                and reply[2] in STATUSES
                and isinstance(reply[3], (bytes, type(None)))
                and isinstance(reply[4], (str, type(None)))
                and isinstance(reply[5], float)
            ):
                raise ConnectionError("malformed reply")
            self.busy = False
        except TimeoutError:
            self.kill()
            return JobResult(
                "timeout",
                None,
                f"the sandbox worker did not answer within {limits.backstop_s:.0f} s "
                "(the job's limit plus a margin); it was killed with everything it ran and is replaced",
                time.monotonic() - started,
            )
        except (OSError, pickle.UnpicklingError, ValueError, EOFError) as exc:
            status = self.kill()
            tail = self.last_stderr
            return JobResult(
                "crashed",
                None,
                f"the sandbox worker died while running this job ({exc}; exit status "
                f"{status}); it is replaced" + (f"\nworker stderr:\n{tail}" if tail else ""),
                time.monotonic() - started,
            )
        _, _, status, value_bytes, error, elapsed = reply
        value = None
        if status == "ok":
            try:
                value = _loads_data(value_bytes)
            except Exception as exc:
                return JobResult("crashed", None, f"the handler's return value cannot be passed back: {exc}", elapsed)
        return JobResult(status, value, error, float(elapsed))

    def stderr_tail(self) -> str:
        try:
            self.stderr.seek(0, os.SEEK_END)
            self.stderr.seek(max(0, self.stderr.tell() - 2000))
            return self.stderr.read().decode("utf-8", "replace").strip()
        except (OSError, AttributeError, ValueError):
            return ""

    def begin_stop(self) -> None:
        """Tell the zygote to finish (end of file on its job pipe)."""
        with self.lock:
            if self.to_zygote >= 0:
                os.close(self.to_zygote)
                self.to_zygote = -1

    def finish_stop(self, deadline: float) -> None:
        if self.process is not None:
            try:
                self.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self, close_fds: bool = True) -> int | None:
        """Kill the zygote and everything it started; returns its exit status. With
        close_fds False the pipes stay open (a run thread may still be reading them: it
        sees end of file and calls kill() itself)."""
        with self.lock:
            return self._kill(close_fds)

    def _kill(self, close_fds: bool) -> int | None:
        process = self.process
        if process is None:
            if close_fds:
                self._close_fds()
            return None
        if process.poll() is None and self.setup.method != "none":
            # The zygote is unshare's child and init of the namespaces: when it dies the kernel
            # kills every process in them, and unshare exits once that is done.
            for pid in isolation.child_pids_by_parent().get(process.pid, []):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait()
        _kill_processes_with_token(f"{TOKEN_VARIABLE}={self.token}\0".encode())
        if close_fds:
            self._close_fds()
            self.process = None
            self.busy = False
        return process.returncode

    def _close_fds(self) -> None:
        for name in ("to_zygote", "from_zygote"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
        if self.stderr is not None:
            self.last_stderr = self.stderr_tail()
            self.stderr.close()
            self.stderr = None


def _shutdown(workers: list[_Worker], host_dir: str, context_fd: int, token: str) -> None:
    """Stop every zygote (all at once), kill what remains, remove the temp dir."""
    for worker in workers:
        worker.begin_stop()
    deadline = time.monotonic() + STOP_GRACE_S
    for worker in workers:
        worker.finish_stop(deadline)
    _kill_processes_with_token(f"{TOKEN_VARIABLE}={token}-".encode())
    shutil.rmtree(host_dir, ignore_errors=True)
    try:
        os.close(context_fd)
    except OSError:
        pass


def _context_file(data: bytes) -> int:
    """An fd to an anonymous in-memory file holding data: each zygote reads the context from
    it (it may be tens of MB) without going through a pipe or leaving a file anywhere."""
    try:
        fd = os.memfd_create("ossinstruct-sandbox-context")
    except (AttributeError, OSError):
        handle = tempfile.TemporaryFile(prefix="ossinstruct-sandbox-context-")
        fd = os.dup(handle.fileno())
        handle.close()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return fd


# ---------------------------------------------------------------- the pool


class SandboxPool:
    """``workers`` zygotes running ``handler(context, payload)`` in a fresh forked child
    per job, under ``limits``; see the module docstring. ``pool.isolation`` is the
    isolation report of this pool's workers; ``pool.token`` is in the environment of
    every process it starts (``OSSINSTRUCT_SANDBOX_TOKEN=<token>-...``).

    ``python`` runs the zygotes under another interpreter (a virtualenv pinned for a
    benchmark's execution, e.g. DS-1000's); it must be able to import this checkout's
    ``ossinstruct.sandbox`` (standard library only) and the handler's module. ``preload``
    names modules each zygote imports once after the handler (numpy, tensorflow...), so
    that every forked job finds them imported. Both default to the plain behaviour: the
    pipeline's interpreter, nothing preloaded."""

    def __init__(
        self,
        handler: str,
        context: Any = None,
        *,
        workers: int = 1,
        limits: Limits = Limits(),
        python: str | None = None,
        preload: Sequence[str] = (),
    ):
        if not isinstance(handler, str) or not HANDLER_PATTERN.fullmatch(handler):
            raise ValueError(f"handler {handler!r} is not of the form 'package.module:function'")
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if python is not None and not (
            isinstance(python, str) and os.path.isfile(python) and os.access(python, os.X_OK)
        ):
            raise ValueError(f"python {python!r} is not an executable file")
        python = None if python is None else os.path.abspath(python)  # the zygotes start in /
        if isinstance(preload, str) or not all(
            isinstance(m, str) and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", m) for m in preload
        ):
            raise ValueError(f"preload must be a list of module names, got {preload!r}")
        try:
            context_bytes = pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise TypeError(f"the context for handler {handler!r} cannot be pickled: {exc}") from exc
        method, _ = _probe()
        self.handler, self.limits, self.workers = handler, limits, workers
        self.token = secrets.token_hex(8)
        host_dir = self._host_dir = tempfile.mkdtemp(prefix="ossinstruct-sandbox-")
        context_fd = _context_file(context_bytes)
        setup = _PoolSetup(handler, limits, method, host_dir, context_fd, self.token, python, tuple(preload))
        self._workers = [_Worker(setup, index) for index in range(workers)]
        self._finalizer = weakref.finalize(self, _shutdown, self._workers, host_dir, context_fd, self.token)
        self._job_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        try:
            for worker in self._workers:  # all import the handler at the same time
                worker.launch()
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            for worker in self._workers:
                worker.handshake(deadline)
        except BaseException:
            self.close()
            raise
        self.isolation = dict(self._workers[0].report)
        missing = [
            k
            for k in ("pid_namespace", "net_namespace", "private_tmp", "readonly_fs", "unprivileged_user")
            if not self.isolation.get(k) and not (k == "net_namespace" and limits.network)
        ]
        if missing:
            log.warning(
                "sandbox for %s runs without %s: %s",
                handler,
                ", ".join(missing),
                "; ".join(self.isolation["notes"]) or "not available on this machine",
            )

    def run(
        self,
        payloads: Sequence[Any],
        on_done: Callable[[], None] | None = None,
        on_result: Callable[[int, JobResult], None] | None = None,
    ) -> list[JobResult]:
        """Run the handler on each payload, ``workers`` at a time; results in payload order.
        `on_done` is called (from one thread at a time) after each job, e.g. for progress.
        `on_result(index, result)` is called as each job ends, before the worker takes its
        next job, from that worker's thread (calls for different jobs may overlap): a caller
        stores each result there, so that a run killed midway keeps what it finished. An
        exception it raises stops the run and is raised by run()."""
        if not self._finalizer.alive:
            raise SandboxError("this SandboxPool is closed")
        encoded = []
        for index, payload in enumerate(payloads):
            try:
                encoded.append(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception as exc:
                raise TypeError(f"payload {index} cannot be pickled: {exc}") from exc
        results: list[JobResult | None] = [None] * len(encoded)
        with self._lock:  # one run at a time: each worker handles one job at a time
            if self.workers == 1 or len(encoded) <= 1:
                for index, payload in enumerate(encoded):
                    results[index] = self._workers[0].run_job(next(self._job_ids), payload)
                    if on_result is not None:
                        on_result(index, results[index])
                    if on_done is not None:
                        on_done()
                return results
            self._run_parallel(encoded, results, on_done, on_result)
        return results

    def _run_parallel(
        self,
        encoded: list[bytes],
        results: list,
        on_done: Callable[[], None] | None = None,
        on_result: Callable[[int, JobResult], None] | None = None,
    ) -> None:
        pending = iter(range(len(encoded)))
        take = threading.Lock()
        errors: list[BaseException] = []

        def drain(worker: _Worker) -> None:
            while True:
                with take:
                    index = None if errors else next(pending, None)
                    job_id = next(self._job_ids)
                if index is None:
                    return
                try:
                    results[index] = worker.run_job(job_id, encoded[index])
                    if on_result is not None:
                        on_result(index, results[index])
                except BaseException as exc:  # e.g. a replacement zygote that cannot start
                    errors.append(exc)
                    return
                if on_done is not None:
                    with take:
                        on_done()

        threads = [
            threading.Thread(target=drain, args=(worker,), daemon=True, name=f"sandbox-worker-{i}")
            for i, worker in enumerate(self._workers[: len(encoded)])
        ]
        self._threads = threads
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():  # join in slices so that Ctrl-C reaches this thread
                thread.join(0.5)
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Stop the workers; afterwards no process the pool started and no temp dir remains."""
        running = [thread for thread in self._threads if thread.is_alive()]
        if running:  # a run() was interrupted (Ctrl-C): end its jobs before closing the pipes
            for worker in self._workers:
                worker.kill(close_fds=False)
            for thread in running:
                thread.join(30)
        self._finalizer()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
