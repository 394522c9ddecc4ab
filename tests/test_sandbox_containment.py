"""Containment of hostile generated code, proved against a control: each hostile action
(spawning a process meant to outlive the sample, writing outside the work dir, connecting
to a server on 127.0.0.1) is first run outside the sandbox, where it does the damage, then
in the sandbox, where it must not, with the sample's own output showing it tried.

Run as the test's user (root on CI: method "unshare") and as an unprivileged user
(nobody, dropped to with setpriv: method "userns", as users of a cluster get it), each
also with no isolation available ("none"): then the isolation report must say which
layers were missing, and what the report says is missing is what the control shows.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import missing
from test_eval_score import Listener
from test_sandbox import pids_with_cmdline, wait_for

REPO = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).with_name("sandbox_driver.py")
NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _runs_as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*AS_NOBODY, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env=_nobody_env(),
    )


def _nobody_env() -> dict:
    return {**os.environ, "HOME": "/tmp", "PYTHONPATH": str(REPO)}


def _user_and_python(user: str) -> tuple[list[str], str]:
    """The argv prefix that runs a command as `user`, and a Python that user can run
    (the sandbox needs only the standard library and this checkout); skips where there is
    none."""
    # Not root: this user is already unprivileged.
    if user == "self" or os.geteuid() != 0:
        return [], sys.executable
    if shutil.which("setpriv") is None:
        missing("setpriv (util-linux), to drop to an unprivileged user", "Debian's util-linux, as on CI's machines")
    errors = []
    # This virtualenv's interpreter may live where nobody cannot read (e.g. under /root).
    for python in dict.fromkeys([sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]):
        probe = _runs_as_nobody(
            python,
            "-c",
            "import subprocess, sys; assert sys.version_info >= (3, 10); "
            "import ossinstruct.sandbox.pool; "
            "subprocess.run([sys.executable, '-c', ''], check=True)",
        )
        if probe.returncode == 0:
            return AS_NOBODY, python
        errors.append(f"{python}: {(probe.stderr.strip() or 'cannot run').splitlines()[-1]}")
    missing("a Python that nobody can run with this checkout (" + "; ".join(errors) + ")", "Debian's /usr/bin/python3")


def _program(python: str, code: str) -> list[str]:
    return [python, "-c", textwrap.dedent(code)]


def _hostile(python: str, marker: str, tmp_canary: Path, host_canary: Path, port: int) -> dict[str, list[str]]:
    write = """
        import os
        try:
            os.write(os.open({path!r}, os.O_WRONLY | os.O_CREAT, 0o666), b'escaped')
            print('wrote', {path!r})
        except OSError as exc:
            print('refused', exc)
        """
    return {
        "spawn": _program(
            python,
            f"""
            import subprocess, sys
            child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)  # {marker}'],
                                     start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            print('spawned', child.pid)
            """,
        ),
        "write_tmp": _program(python, write.format(path=str(tmp_canary))),
        "write_host": _program(python, write.format(path=str(host_canary))),
        "connect": _program(
            python,
            f"""
            import socket
            try:
                socket.create_connection(('127.0.0.1', {port}), timeout=3).close()
                print('connected')
            except OSError as exc:
                print('refused', exc)
            """,
        ),
    }


def _kill_all(marker: str) -> None:
    for pid in pids_with_cmdline(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize(
    "user, method",
    [("self", "auto"), ("self", "none"), ("nobody", "auto"), ("nobody", "none")],
)
def test_hostile_actions_do_damage_outside_and_none_inside(user, method):
    """docs/sandbox.md: hostile samples (a process spawned to outlive the sample,
    writes outside the work dir, a connection to a server on 127.0.0.1) are contained and
    leave nothing behind, with root's method (unshare) and a normal user's (userns); with
    `method: none` "there is no network, filesystem or tmp isolation ... the result file
    says so". Each action does its damage in a control run outside the sandbox first."""
    prefix, python = _user_and_python(user)
    if prefix and method == "auto":
        check = subprocess.run(
            [*prefix, "unshare", "--user", "--map-root-user", "true"],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            missing(f"user namespaces for an unprivileged user ({check.stderr.strip()})", "a kernel that allows them")
    marker = f"osi-hostile-{uuid.uuid4().hex}"
    # Canaries under /tmp (private in the sandbox) and in the checkout (read-only there).
    tmp_dir = Path(tempfile.mkdtemp(prefix="osi-canary-", dir="/tmp"))
    host_dir = REPO / f".osi-canary-{uuid.uuid4().hex}"
    host_dir.mkdir()
    for directory in (tmp_dir, host_dir):
        directory.chmod(0o777)  # the control run as nobody can do the damage too
    tmp_canary, host_canary = tmp_dir / "canary", host_dir / "canary"
    listener = Listener()
    try:
        hostile = _hostile(python, marker, tmp_canary, host_canary, listener.port)

        # Control: the same programs outside the sandbox, as the same user, do the damage.
        for name, argv in hostile.items():
            done = subprocess.run(
                [*prefix, *argv],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=tmp_dir,
                env=_nobody_env() if prefix else None,
            )
            assert done.returncode == 0, (name, done.stderr)
        assert wait_for(lambda: pids_with_cmdline(marker)), "control: the spawned process did not survive"
        assert tmp_canary.read_bytes() == host_canary.read_bytes() == b"escaped"
        assert wait_for(lambda: listener.connections == 1)
        _kill_all(marker)
        assert wait_for(lambda: not pids_with_cmdline(marker))
        tmp_canary.unlink()
        host_canary.unlink()
        listener.connections = 0

        # The sandbox: the same programs, and the core cases next to them.
        core = {
            "ok": _program(python, "print(6 * 7)"),
            "loop": _program(python, f"while True: pass  # {marker}-loop"),
            "memory": _program(python, "x = bytearray(8 * 1024 ** 3)"),
        }
        programs = {**core, **hostile}
        request = {
            "method": method,
            "timeout_s": 3.0,
            "memory_mb": 512,
            "programs": list(programs.values()),
        }
        done = subprocess.run(
            [*prefix, python, str(DRIVER), json.dumps(request)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd="/",
            env=_nobody_env(),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        isolation = report["isolation"]
        results = dict(zip(programs, report["results"]))
        out = {name: (r["value"] or {}).get("stdout", "") for name, r in results.items()}

        unprivileged = bool(prefix) or os.geteuid() != 0
        expected_method = "none" if method == "none" else ("userns" if unprivileged else "unshare")
        assert isolation["method"] == expected_method, isolation
        assert isolation["subreaper"] is True
        isolated = method != "none"
        for layer in ("pid_namespace", "net_namespace", "private_tmp", "readonly_fs"):
            assert isolation[layer] is isolated, (layer, isolation)
        assert isolation["unprivileged_user"] is (isolated or unprivileged), isolation

        # Core cases.
        assert results["ok"]["status"] == "ok" and out["ok"] == "42\n"
        assert results["loop"]["status"] == "timeout"
        assert results["memory"]["value"]["returncode"] != 0
        assert "MemoryError" in results["memory"]["value"]["stderr"]

        # Spawn: attempted (the sample saw its child start), and nothing survives, in every mode.
        assert out["spawn"].startswith("spawned "), results["spawn"]
        assert wait_for(lambda: not pids_with_cmdline(marker)), "a spawned process outlived the sample"

        # Writes: attempted; they reach the host only where the report says the layer is off.
        assert out["write_tmp"].startswith(("wrote", "refused")), results["write_tmp"]
        assert out["write_host"].startswith(("wrote", "refused")), results["write_host"]
        assert tmp_canary.exists() is not isolation["private_tmp"]
        assert host_canary.exists() is not isolation["readonly_fs"]
        if isolation["readonly_fs"]:
            assert out["write_host"].startswith("refused")

        # Connect: attempted; it reaches the server only without a network namespace.
        if isolation["net_namespace"]:
            assert out["connect"].startswith("refused"), results["connect"]
            assert listener.connections == 0
        else:
            assert out["connect"] == "connected\n" and wait_for(lambda: listener.connections == 1)
    finally:
        listener.close()
        _kill_all(marker)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        shutil.rmtree(host_dir, ignore_errors=True)
