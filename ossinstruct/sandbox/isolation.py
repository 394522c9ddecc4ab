"""The sandbox's isolation, set up by the zygote inside its namespaces: private tmpfs
mounts, the read-only remount, loopback only, capabilities dropped, the switch to nobody
(see pool.py's docstring for the threat model). Standard library only, imported at the
top: it runs inside the sandbox, where after the privilege drop parts of the filesystem
may only be reachable through the directories :func:`expose_interpreter` exposes.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import pwd
import shutil
import socket
import stat
import struct
import sys

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
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
NOBODY_ID = 65534

_libc = ctypes.CDLL(None, use_errno=True)


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
        fields = data[data.rfind(b")") + 2 :].split()
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


EXPOSE_VARIABLE = "OSSINSTRUCT_SANDBOX_EXPOSE"  # extra directories jobs need (a toolchain's sysroot)


def interpreter_paths() -> set[str]:
    """The directories the zygote's interpreter needs to go on working: its prefix,
    sys.path (the checkout, the virtualenv), PATH, and the directories listed in
    $OSSINSTRUCT_SANDBOX_EXPOSE (toolchains a handler runs, e.g. rustup's sysroot)."""
    wanted = {
        os.path.dirname(os.path.realpath(sys.executable)),
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *sys.path,
        *os.environ.get("PATH", "").split(os.pathsep),
        *os.environ.get(EXPOSE_VARIABLE, "").split(os.pathsep),
    }
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
        digits = field[i + 1 : i + 4]
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
