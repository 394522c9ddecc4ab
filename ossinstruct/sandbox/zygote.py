"""The sandbox's worker side: isolation set-up, the zygote loop, and one job's process.

Run as ``python -m ossinstruct.sandbox.zygote {zygote|probe} CONFIG_JSON``
by :mod:`ossinstruct.sandbox.pool` (read that module's docstring for the design and
the threat model). This module runs *inside* the sandbox, so it imports nothing from the
pipeline, and everything it needs from the standard library is imported at the top: after
the privilege drop, parts of the filesystem (the interpreter under /root, for instance)
may only be reachable through the directories exposed by :func:`expose_interpreter`.

Wire format on the protocol pipes: an 8-byte big-endian length, then that many bytes of
pickle. The zygote unpickles only what the pipeline sends it (config, context, payloads);
what a job returns is forwarded as opaque bytes, for the pipeline to unpickle with its
restricted unpickler.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import gc
import importlib
import json
import os
import pickle
import pwd
import resource
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback

FRAME_HEADER = struct.Struct(">Q")
MAX_FRAME_BYTES = 1 << 30  # a job result larger than this is refused, not buffered
LOG_TAIL_BYTES = 2000  # how much of a crashed job's stderr goes into its error

# Directories each zygote mounts a private tmpfs on (in a mount namespace); cleared after every job.
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
# Mounts left as they are by the read-only pass: kernel interfaces and devices
# (protected by ownership; /dev/null must stay writable) and our own tmpfs mounts.
NOT_READONLY_PREFIXES = ("/proc", "/sys", "/dev")

# prctl(2) options and mount(2) flags (linux/prctl.h, linux/mount.h).
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24
# Per-mount flags that must be repeated on a read-only remount (in a user namespace the
# kernel refuses a remount that would clear any of them).
MOUNT_OPTION_FLAGS = {
    "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME,
}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
NOBODY_ID = 65534

_libc = ctypes.CDLL(None, use_errno=True)


# ---------------------------------------------------------------- framing


def _wait_fd(fd: int, events: int, deadline: float | None) -> None:
    poller = select.poll()
    poller.register(fd, events)
    while True:
        timeout_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
        if poller.poll(timeout_ms):
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("no answer before the deadline")


def write_frame(fd: int, data: bytes, deadline: float | None = None) -> None:
    """Write one frame; works on blocking and non-blocking fds, honours the deadline on
    the latter. Raises BrokenPipeError when the reader is gone."""
    view = memoryview(FRAME_HEADER.pack(len(data)) + data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            _wait_fd(fd, select.POLLOUT, deadline)
            continue
        view = view[written:]


def read_frame(fd: int, deadline: float | None = None, max_bytes: int = MAX_FRAME_BYTES) -> bytes | None:
    """Read one frame; None on end of file at a frame boundary. Raises TimeoutError at the
    deadline, ConnectionError on end of file inside a frame or an oversized length."""
    header = _read_exactly(fd, FRAME_HEADER.size, deadline, eof_ok=True)
    if header is None:
        return None
    (length,) = FRAME_HEADER.unpack(header)
    if length > max_bytes:
        raise ConnectionError(f"frame of {length} bytes announced, more than the {max_bytes} allowed")
    return _read_exactly(fd, length, deadline, eof_ok=False)


def _read_exactly(fd: int, n: int, deadline: float | None, eof_ok: bool) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        try:
            chunk = os.read(fd, min(n - got, 1 << 20))
        except BlockingIOError:
            _wait_fd(fd, select.POLLIN, deadline)
            continue
        if not chunk:
            if eof_ok and got == 0:
                return None
            raise ConnectionError("end of file inside a frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- small OS helpers


def prctl(option: int, arg2: int = 0) -> bool:
    return _libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0


def set_process_name(name: str) -> None:
    """Set the name ps and /proc/PID/comm show (not the command line), for operators."""
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s):
        return None if s is None else s.encode()

    if _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def child_pids_by_parent() -> dict[int, list[int]]:
    """{ppid: [pid, ...]} of every process this process can see in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
        fields = data[data.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def descendants(pid: int) -> list[int]:
    tree = child_pids_by_parent()
    found, stack = [], list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def remove_tree(path: str) -> None:
    """Remove a file or directory tree that a job may have made hard to remove
    (directories without write or search permission)."""
    def make_writable_and_retry(function, failed_path, _exc):
        try:
            os.chmod(os.path.dirname(failed_path), 0o700)
            if os.path.isdir(failed_path) and not os.path.islink(failed_path):
                os.chmod(failed_path, 0o700)
            function(failed_path)
        except OSError:
            pass

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=make_writable_and_retry)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def empty_directory(path: str, keep: tuple[str, ...] = ()) -> None:
    """Remove everything below path except the directories in keep (and their parents)."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        full = os.path.join(path, name)
        if full in keep:
            continue
        if any(k.startswith(full + "/") for k in keep):
            empty_directory(full, keep)
        else:
            remove_tree(full)


def capability_sets() -> dict[str, int]:
    sets = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Cap"):
                key, value = line.split(":")
                sets[key] = int(value.strip(), 16)
    return sets


def host_uid() -> int:
    """This process's effective uid as the initial user namespace sees it."""
    uid = os.geteuid()
    try:
        with open("/proc/self/uid_map") as f:
            for line in f:
                inside, outside, count = (int(x) for x in line.split())
                if inside <= uid < inside + count:
                    return outside + (uid - inside)
    except OSError:
        pass
    return uid


# ---------------------------------------------------------------- isolation set-up


def interpreter_paths() -> set[str]:
    """The directories the zygote's interpreter needs to go on working: its prefix,
    sys.path (the checkout, the virtualenv) and PATH."""
    wanted = {os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.base_prefix,
              sys.exec_prefix, sys.base_exec_prefix, *sys.path, *os.environ.get("PATH", "").split(os.pathsep)}
    return {os.path.realpath(p) for p in wanted if p and os.path.isdir(p)}


def outermost(paths) -> list[str]:
    """The paths not below another of them: one bind mount covers the rest."""
    paths = set(paths)
    return [p for p in sorted(paths) if not any(p != q and p.startswith(q + "/") for q in paths)]


def cover_keeping(directory: str, keep: list[str], tmpfs_options: str) -> None:
    """Mount a tmpfs over directory, then bind-mount the directories of keep (below it)
    back at their own paths. The handles are opened first: after the mount the old
    paths no longer resolve."""
    handles = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in keep}
    try:
        mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_options)
        old_umask = os.umask(0o022)
        try:
            for path, handle in handles.items():
                os.makedirs(path, exist_ok=True)
                mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
        finally:
            os.umask(old_umask)
    finally:
        for handle in handles.values():
            os.close(handle)


def mount_private_tmp(size_mb: int, notes: list[str]) -> tuple[list[str], list[str]]:
    """A fresh tmpfs on each of PRIVATE_TMP_DIRS: writes there stay in memory of this
    mount namespace and vanish with it; the host's /tmp is not visible, except the
    directories the interpreter needs (a checkout or virtualenv under /tmp), bound back
    (and made read-only with everything else). Returns (directories mounted, kept)."""
    mounted, kept = [], []
    needed = interpreter_paths()
    for path in PRIVATE_TMP_DIRS:
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        keep = outermost(p for p in needed if p.startswith(path + "/"))
        try:
            cover_keeping(path, keep, f"mode=1777,size={size_mb}m")
            mounted.append(path)
            kept += keep
        except OSError as exc:
            notes.append(f"private tmp: {exc}")
    if kept:
        notes.append(f"kept visible in the private tmp (read-only): {', '.join(kept)}")
    return mounted, kept


def _blocked_ancestor(path: str) -> str | None:
    """The first strict ancestor of path that other users cannot search, if any."""
    current = "/"
    for part in path.strip("/").split("/")[:-1]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return current
    return None


def expose_interpreter(notes: list[str]) -> None:
    """Before dropping to nobody: make the interpreter, sys.path and PATH reachable when they
    sit below a directory only root may enter (a Python under /root, say). A tmpfs is mounted
    over that directory (hiding the rest of it) and only the needed directories are
    bind-mounted back at their own paths; the read-only pass then covers them."""
    by_blocked: dict[str, set[str]] = {}
    for path in interpreter_paths():
        blocked = _blocked_ancestor(path)
        if blocked is not None:
            by_blocked.setdefault(blocked, set()).add(path)
    for blocked, paths in sorted(by_blocked.items()):
        keep = outermost(paths)
        try:
            cover_keeping(blocked, keep, "mode=0755,size=1m")
            notes.append(f"{blocked} hidden except {', '.join(keep)} (needed by the interpreter)")
        except OSError as exc:
            notes.append(f"could not expose {', '.join(keep)} below {blocked}: {exc}")


def _decode_mount_path(field: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        digits = field[i + 1:i + 4]
        if field[i] == "\\" and len(digits) == 3 and digits.isdigit():
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def remount_readonly(writable: set[str], notes: list[str]) -> bool:
    """Make every mount read-only in this mount namespace except the private tmpfs mounts
    and the kernel and device filesystems. Returns whether / itself became read-only."""
    with open("/proc/self/mountinfo") as f:
        entries = [line.split() for line in f]
    failed = []
    for fields in entries:
        target = _decode_mount_path(fields[4])
        if target in writable or any(target == p or target.startswith(p + "/") for p in NOT_READONLY_PREFIXES):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in fields[5].split(","):
            flags |= MOUNT_OPTION_FLAGS.get(option, 0)
        try:
            mount(None, target, None, flags)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # shadowed by a later mount (e.g. under our /tmp)
                failed.append(target)
    if failed:
        notes.append(f"could not make read-only: {', '.join(failed[:5])}")
    return bool(os.statvfs("/").f_flag & os.ST_RDONLY)


def bring_up_loopback(notes: list[str]) -> None:
    """In a fresh network namespace lo is down; programs that talk to themselves over
    127.0.0.1 (servers in tests) expect it up. It is this namespace's own loopback."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            request = struct.pack("16sh22x", b"lo", 0)
            flags = struct.unpack("16sh22x", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))
    except OSError as exc:
        notes.append(f"loopback not brought up: {exc}")


def drop_bounding_set() -> None:
    """Empty the capability bounding set so that nothing run later (a setuid binary, a
    program executed as uid 0 in a user namespace) can gain a capability."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        prctl(PR_CAPBSET_DROP, cap)


def drop_capabilities() -> None:
    """Drop every capability of this process (uid unchanged): used for root inside a user
    namespace, which must not be able to undo the read-only mounts."""
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    drop_bounding_set()
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _reachable_by_others(path: str) -> bool:
    """Whether a user other than root can reach and read path (by permission bits)."""
    current = "/"
    for part in path.strip("/").split("/"):
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return False
        current = os.path.join(current, part)
    return bool(os.stat(current).st_mode & stat.S_IROTH)


def drop_to_nobody(work_root: str, notes: list[str]) -> bool:
    """Real root becomes nobody (no groups, no capabilities), unless the interpreter would
    then be unreadable (checked first, since afterwards every import would fail)."""
    needed = [os.path.realpath(sys.executable), os.__file__]
    unreachable = [p for p in needed if not _reachable_by_others(p)]
    if unreachable:
        notes.append(f"still root: {', '.join(unreachable)} would not be readable by nobody")
        return False
    try:
        uid, gid = pwd.getpwnam("nobody")[2:4]
    except KeyError:
        uid = gid = NOBODY_ID
    if work_root != "/tmp":  # the host directory the pipeline made for the work dirs
        os.chown(work_root, uid, gid)
    drop_bounding_set()
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # as root this sets the real, effective and saved uid: no way back
    return True


def setup_isolation(config: dict) -> dict:
    """Everything the zygote does to itself before it imports the handler; returns the
    isolation report (which layers are in force)."""
    notes: list[str] = []
    method = config["method"]
    in_namespace = method in ("unshare", "userns")
    private_dirs: list[str] = []
    kept_dirs: list[str] = []
    readonly_fs = False
    if in_namespace:
        private_dirs, kept_dirs = mount_private_tmp(config["tmpfs_mb"], notes)
        if "/tmp" in private_dirs:
            if method == "unshare":
                expose_interpreter(notes)
            readonly_fs = remount_readonly(set(private_dirs), notes)
        else:
            notes.append("filesystem left writable: no private /tmp to write into instead")
        bring_up_loopback(notes)
    # The host directory is below the host's /tmp, which a private /tmp hides.
    work_root = "/tmp" if "/tmp" in private_dirs else config["host_dir"]
    if os.geteuid() == 0 and host_uid() == 0:
        dropped = drop_to_nobody(work_root, notes)
    elif os.geteuid() == 0:  # root of a user namespace: keep the uid, lose the capabilities
        try:
            drop_capabilities()
        except OSError as exc:
            notes.append(f"capabilities not dropped: {exc}")
        dropped = False
    else:
        dropped = False
    prctl(PR_SET_NO_NEW_PRIVS, 1)  # no setuid or file-capability binary can raise privileges
    subreaper = os.getpid() == 1 or prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:
        interfaces = []
    return {
        "method": method,
        "pid_namespace": in_namespace and os.getpid() == 1,
        "net_namespace": in_namespace and interfaces == ["lo"],
        "private_tmp": "/tmp" in private_dirs and all(p in private_dirs for p in PRIVATE_TMP_DIRS if os.path.isdir(p)),
        "readonly_fs": readonly_fs,
        "unprivileged_user": host_uid() != 0,
        "root_dropped_to_nobody": dropped,
        "no_capabilities": capability_sets().get("CapEff", 1) == 0,
        "subreaper": bool(subreaper),
        "notes": notes,
        "work_root": work_root,  # these three are for the zygote only
        "private_dirs": private_dirs,
        "kept_dirs": kept_dirs,
    }


# ---------------------------------------------------------------- zygote


def load_handler(spec: str):
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:
        who = f" as uid {os.geteuid()}" if os.geteuid() != 0 else ""
        raise RuntimeError(f"handler {spec!r}: cannot import module {module_name!r}{who}: "
                           f"{type(exc).__name__}: {exc}") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise RuntimeError(f"handler {spec!r}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise RuntimeError(f"handler {spec!r}: {attribute!r} is not callable")
    return target


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
            needed = FRAME_HEADER.size + FRAME_HEADER.unpack(bytes(buffer[:FRAME_HEADER.size]))[0]
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
    body = bytes(buffer[FRAME_HEADER.size:needed]) if complete else b""
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
        subprocess.run([sys.executable, "-c", "import json"], check=True, timeout=60,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        sys.stdout.write(json.dumps(report))
        return 0
    return zygote_main(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
