"""The sandbox for generated code (ossinstruct/sandbox/pool.py): results come back,
and hostile or broken samples are contained and leave nothing behind.

Containment tests run twice: with the best isolation this machine offers (as root here:
namespaces, private tmp, read-only filesystem, nobody), and with the "none" method that a
cluster without namespaces gets, where only the zygote's process bookkeeping stands
between a job and the machine. A check whose layer is unavailable is skipped, naming it.
Every process-spawning sample is bounded (a few children, never a loop).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import missing

from ossinstruct.sandbox import pool as sandbox
from ossinstruct.sandbox.pool import Limits, SandboxError, SandboxPool, isolation_report

RUN_PROGRAM = "ossinstruct.sandbox.handlers:run_program"
ECHO = "ossinstruct.sandbox.handlers:echo"
REPO = Path(__file__).resolve().parent.parent


def program(code: str, **extra) -> dict:
    return {"argv": [sys.executable, "-c", textwrap.dedent(code)], **extra}


def pids_with(proc_file: str, text: str) -> list[int]:
    """Processes (other than this one) whose /proc/<pid>/<proc_file> contains `text`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                if text.encode() in Path(f"/proc/{name}/{proc_file}").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


def pids_with_cmdline(marker: str) -> list[int]:
    return pids_with("cmdline", marker)


def pids_with_environment(text: str) -> list[int]:
    return pids_with("environ", text)


def wait_for(condition, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return condition()


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def zygote_of(pid: int) -> int:
    """The zygote above a job's process (its process name is osi-zygote)."""
    while pid > 1:
        if Path(f"/proc/{pid}/comm").read_text().strip() == "osi-zygote":
            return pid
        pid = parent_of(pid)
    raise AssertionError("no zygote above this process")


@pytest.fixture(params=["isolated", "none"])
def method(request, monkeypatch):
    """Run the test with the machine's best isolation, then with none at all."""
    sandbox._probe.cache_clear()
    if request.param == "none":
        monkeypatch.setattr(sandbox, "_candidate_methods", lambda: ["none"])
    elif isolation_report()["method"] == "none":
        # CI runs as root on Debian, where unshare works.
        missing("a namespace method (unshare as root, or unprivileged user namespaces)", "run as root, as CI does")
    yield request.param
    sandbox._probe.cache_clear()


def require(pool: SandboxPool, layer: str) -> None:
    if not pool.isolation[layer]:
        missing(
            f"isolation layer {layer!r} ({pool.isolation['method']}: " + "; ".join(pool.isolation["notes"]) + ")",
            "run as root, as CI does",
        )


# ---------------------------------------------------------------- results


def test_isolation_report_has_the_documented_layers():
    report = isolation_report()
    for key in (
        "method",
        "pid_namespace",
        "net_namespace",
        "private_tmp",
        "readonly_fs",
        "unprivileged_user",
        "subreaper",
        "notes",
    ):
        assert key in report, key
    assert report["method"] in ("unshare", "userns", "none")
    assert report["subreaper"] is True
    report["method"] = "changed"  # a copy: the cache is untouched
    assert isolation_report()["method"] != "changed"
    unshare_works = (
        os.geteuid() == 0
        and shutil.which("unshare") is not None
        and subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount", "true"], capture_output=True).returncode
        == 0
    )
    if unshare_works:
        report = isolation_report()
        assert report["method"] == "unshare"
        assert all(
            report[k]
            for k in (
                "pid_namespace",
                "net_namespace",
                "private_tmp",
                "readonly_fs",
                "unprivileged_user",
                "root_dropped_to_nobody",
                "no_capabilities",
            )
        ), report


def test_code_under_tmp_stays_importable_but_read_only(monkeypatch):
    # A checkout or virtualenv under /tmp (CI's fresh clone, say) must survive the private
    # /tmp: the directories the interpreter imports from are bound back, read-only.
    directory = Path(tempfile.mkdtemp(prefix="osi-handler-", dir="/tmp"))
    try:
        directory.chmod(0o755)
        module = directory / "osi_tmp_handler.py"
        module.write_text(
            textwrap.dedent(f"""
            def run(context, payload):
                try:
                    open({str(directory / "written")!r}, "w").write("x")
                    return "written"
                except OSError as exc:
                    return type(exc).__name__
            """)
        )
        module.chmod(0o644)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")])))
        sandbox._probe.cache_clear()
        with SandboxPool("osi_tmp_handler:run", limits=Limits(timeout_s=20)) as pool:
            require(pool, "private_tmp")
            [result] = pool.run([None])
        assert result.status == "ok", result.error
        assert result.value != "written"
        assert not (directory / "written").exists()
    finally:
        sandbox._probe.cache_clear()
        shutil.rmtree(directory, ignore_errors=True)


def test_program_results_come_back_in_payload_order():
    # Earlier payloads sleep longer, so with two workers they finish out of order.
    payloads = [
        program(f"import time, sys; time.sleep({0.05 * (5 - i)}); print('job', {i}); sys.exit({i})") for i in range(6)
    ]
    with SandboxPool(RUN_PROGRAM, workers=2, limits=Limits(timeout_s=20)) as pool:
        results = pool.run(payloads)
    assert [r.status for r in results] == ["ok"] * 6
    assert [r.value["stdout"] for r in results] == [f"job {i}\n" for i in range(6)]
    assert [r.value["returncode"] for r in results] == list(range(6))
    assert all(r.value["timed_out"] is False and r.error is None and r.elapsed_s > 0 for r in results)


def test_stdin_files_and_context_reach_the_program():
    context = {"files": {"shared/data.txt": "from the context"}, "env": {"SANDBOX_TEST_VAR": "42"}}
    payload = program(
        """
        import os, sys
        print(open('shared/data.txt').read(), open('mine.txt').read(), sys.stdin.read(),
              os.environ['SANDBOX_TEST_VAR'], os.getcwd() == os.environ['HOME'] == os.environ['TMPDIR'])
        """,
        stdin="from stdin",
        files={"mine.txt": "from the payload"},
    )
    with SandboxPool(RUN_PROGRAM, context, limits=Limits(timeout_s=20)) as pool:
        [result] = pool.run([payload])
    assert result.status == "ok", result.error
    assert result.value["stdout"].split() == [
        "from",
        "the",
        "context",
        "from",
        "the",
        "payload",
        "from",
        "stdin",
        "42",
        "True",
    ]


def test_a_large_context_is_sent_once_and_each_job_is_a_fresh_process():
    context = {"big": "x" * (20 * 1024 * 1024), "greeting": "hello"}
    with SandboxPool(ECHO, context, workers=2, limits=Limits(timeout_s=20)) as pool:
        results = pool.run(["greeting", "missing", "greeting", 7])
    assert [r.status for r in results] == ["ok"] * 4
    assert [r.value["context_entry"] for r in results] == ["hello", None, "hello", None]
    assert [r.value["payload"] for r in results] == ["greeting", "missing", "greeting", 7]
    # In a pid namespace pids are small and may repeat across zygotes: compare per worker.
    assert len({r.value["pid"] for r in results}) >= 2


def test_output_is_truncated_to_the_bound():
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
        [result] = pool.run([program("print('y' * 100000)", max_output_bytes=100)])
    assert result.value["stdout"] == "y" * 100
    assert result.value["truncated"] is True


def test_multiprocessing_works_inside_a_job():
    # evalplus runs each sample in a multiprocessing.Process with shared Value / Array.
    code = """
        import multiprocessing as mp
        def work(v, a):
            v.value = 41 + 1
            a[0] = 7
        if __name__ == '__main__':
            v, a = mp.Value('i', 0), mp.Array('i', 3)
            p = mp.Process(target=work, args=(v, a))
            p.start(); p.join()
            print(v.value, a[0], p.exitcode)
        """
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=30)) as pool:
        [result] = pool.run([{"argv": [sys.executable, "main.py"], "files": {"main.py": textwrap.dedent(code)}}])
    assert result.status == "ok", result.error
    assert result.value["stdout"].split() == ["42", "7", "0"], result.value


# ---------------------------------------------------------------- broken and hostile samples


def test_infinite_loop_times_out_and_its_process_is_gone(method):
    marker = f"loop-{uuid.uuid4().hex}"
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=1.0)) as pool:
        started = time.monotonic()
        overdue, limited = pool.run(
            [program(f"while True: pass  # {marker}"), program(f"while True: pass  # {marker}", timeout_s=0.3)]
        )
        took = time.monotonic() - started
        assert overdue.status == "timeout" and overdue.value is None
        assert "1 s" in overdue.error
        assert 0.9 < overdue.elapsed_s < 2.5
        assert limited.status == "ok" and limited.value["timed_out"] is True and limited.value["returncode"] < 0
        assert took < 5.0
        assert pids_with_cmdline(marker) == []


def test_memory_bomb_fails_under_the_memory_limit():
    bombs = [program("x = bytearray(8 * 1024 ** 3)"), program("x = []\nwhile True: x.append(bytearray(10 ** 7))")]
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20, memory_mb=512)) as pool:
        results = pool.run(bombs + [program("print('still fine')")])
    for result in results[:2]:
        assert result.status == "ok", result.error
        assert result.value["returncode"] != 0
        assert "MemoryError" in result.value["stderr"]
    assert results[2].value["stdout"] == "still fine\n"


def test_processes_meant_to_outlive_the_job_are_killed(method):
    marker = f"daemon-{uuid.uuid4().hex}"
    sleeper = f"import time; time.sleep(300)  # {marker}"
    code = f"""
        import os, subprocess, sys
        sleeper = {sleeper!r}
        for keep_pipes in (True, False, False):   # one keeps the job's stdout open
            subprocess.Popen([sys.executable, '-c', sleeper], start_new_session=True,
                             **({{}} if keep_pipes else {{'stdout': subprocess.DEVNULL, 'stderr': subprocess.DEVNULL}}))
        child = os.fork()
        if child == 0:             # the classic double fork of a daemon
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, '-c', sleeper])
            os._exit(0)
        os.waitpid(child, 0)
        print('spawned')
        """
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
        [result] = pool.run([program(code)])
        assert result.status == "ok", result.error
        assert result.value["stdout"] == "spawned\n"
        assert result.elapsed_s < 10  # did not wait for the sleepers holding its stdout
        assert pids_with_cmdline(marker) == []


@pytest.mark.parametrize("where", ["tmp_path", "host_tmp", "checkout"])
def test_writes_outside_the_work_dir_do_not_reach_the_host(where, tmp_path):
    directory = {"tmp_path": tmp_path, "host_tmp": Path(tempfile.gettempdir()), "checkout": REPO}[where]
    touched = directory / f"sandbox-escape-{uuid.uuid4().hex}-touch"
    opened = directory / f"sandbox-escape-{uuid.uuid4().hex}-open"
    code = f"""
        import os
        os.system('touch {touched} 2>/dev/null')
        try:
            open({str(opened)!r}, 'w').write('escaped')
            print('written')
        except OSError as exc:
            print('refused', exc)
        """
    try:
        with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
            require(pool, "readonly_fs" if where == "checkout" else "private_tmp")
            [result] = pool.run([program(code)])
        assert result.status == "ok", result.error
        assert not touched.exists()
        assert not opened.exists()
    finally:
        for path in (touched, opened):
            path.unlink(missing_ok=True)


def test_no_network_connection_reaches_the_host():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = f"""
        import socket
        try:
            socket.create_connection(('127.0.0.1', {port}), timeout=3).close()
            print('connected')
        except OSError as exc:
            print('failed', exc)
        """
    try:
        with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
            require(pool, "net_namespace")
            [result] = pool.run([program(code)])
        assert result.value["stdout"].startswith("failed"), result.value
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


def test_network_true_keeps_the_host_network():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    code = f"import socket; socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=3); print('ok')"
    try:
        with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20, network=True)) as pool:
            assert pool.isolation["net_namespace"] is False
            [result] = pool.run([program(code)])
        assert result.value["stdout"] == "ok\n", result.value
        server.accept()[0].close()
    finally:
        server.close()


def test_a_job_killing_its_own_process_is_reported_crashed(method):
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
        killed, after = pool.run(
            [program("import os, signal; os.kill(os.getppid(), signal.SIGKILL)"), program("print('next')")]
        )
    assert killed.status == "crashed" and killed.value is None
    assert "SIGKILL" in killed.error
    assert after.status == "ok" and after.value["stdout"] == "next\n"


def test_a_job_killing_its_zygote_does_not_stop_the_pool(method):
    code = """
        import os, signal
        def parent(pid):
            stat = open(f'/proc/{pid}/stat').read()
            return int(stat[stat.rfind(')') + 2:].split()[1])
        zygote = parent(os.getppid())
        os.kill(zygote, signal.SIGKILL)
        if zygote == 1:            # init of a pid namespace: try the other way in as well
            os.kill(1, signal.SIGTERM)
        print('survived')
        """
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
        hostile, after, again = pool.run([program(code), program("print('next')"), program("print('again')")])
    if pool.isolation["pid_namespace"]:
        # The kernel drops signals to a namespace's init from inside it: the zygote lives on.
        assert hostile.status == "ok" and hostile.value["stdout"] == "survived\n"
    else:
        assert hostile.status == "crashed"
        assert "sandbox worker died" in hostile.error
    assert after.value["stdout"] == "next\n"
    assert again.value["stdout"] == "again\n"


def test_a_zygote_killed_from_outside_is_replaced(method):
    marker = f"victim-{uuid.uuid4().hex}"
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=30)) as pool:

        def kill_zygote():
            [pid] = wait_for(lambda: pids_with_cmdline(marker))
            os.kill(zygote_of(pid), signal.SIGKILL)

        killer = threading.Thread(target=kill_zygote)
        killer.start()
        victim, after = pool.run([program(f"import time; time.sleep(60)  # {marker}"), program("print('next')")])
        killer.join()
        assert victim.status == "crashed" and "sandbox worker died" in victim.error
        assert victim.elapsed_s < 20
        assert after.status == "ok" and after.value["stdout"] == "next\n"
        assert wait_for(lambda: not pids_with_cmdline(marker), 2.0)


def test_a_zygote_that_stops_answering_hits_the_backstop():
    marker = f"stopped-{uuid.uuid4().hex}"
    limits = Limits(timeout_s=0.5)
    with SandboxPool(RUN_PROGRAM, limits=limits) as pool:

        def stop_zygote():
            [pid] = wait_for(lambda: pids_with_cmdline(marker))
            os.kill(zygote_of(pid), signal.SIGSTOP)

        stopper = threading.Thread(target=stop_zygote)
        stopper.start()
        stuck, after = pool.run([program(f"import time; time.sleep(60)  # {marker}"), program("print('next')")])
        stopper.join()
        assert stuck.status == "timeout" and "did not answer" in stuck.error
        assert limits.backstop_s - 0.5 < stuck.elapsed_s < limits.backstop_s + 5
        assert after.value["stdout"] == "next\n"
        assert wait_for(lambda: not pids_with_cmdline(marker), 2.0)


def test_a_handler_error_is_reported_with_its_message():
    with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
        bad_argv, bad_file, missing = pool.run(
            [{"stdin": "x"}, program("", files={"../up.txt": "x"}), {"argv": ["/nonexistent/compiler"]}]
        )
    assert bad_argv.status == "crashed" and "'argv' must be a non-empty list" in bad_argv.error
    assert bad_file.status == "crashed" and "'../up.txt' must be a relative path" in bad_file.error
    assert missing.status == "crashed" and "/nonexistent/compiler" in missing.error


def test_a_result_that_is_not_plain_data_is_refused():
    import datetime

    with SandboxPool(ECHO, limits=Limits(timeout_s=20)) as pool:
        refused, fine = pool.run([datetime.date(2024, 1, 1), {"a": (1, 2.5, b"x", {3}, None)}])
    assert refused.status == "crashed" and "datetime.date is not plain data" in refused.error
    assert fine.status == "ok" and fine.value["payload"] == {"a": (1, 2.5, b"x", {3}, None)}


# ---------------------------------------------------------------- cleanup and bad input


def test_nothing_remains_after_close(method):
    with SandboxPool(RUN_PROGRAM, workers=2, limits=Limits(timeout_s=20)) as pool:
        results = pool.run([program("import os; open('f.txt', 'w').write('x'); print(os.getcwd())")] * 2)
        token, host_dir = pool.token, Path(pool._host_dir)
        assert len(pids_with_environment(token)) >= 2  # the zygotes carry the token
        assert host_dir.is_dir()
    assert all(r.status == "ok" for r in results)
    assert pids_with_environment(token) == []
    assert not host_dir.exists()
    for result in results:
        assert not Path(result.value["stdout"].strip()).exists()
    with pytest.raises(SandboxError, match="closed"):
        pool.run([program("pass")])


def test_nothing_remains_after_an_exception_inside_the_pool(method):
    marker = f"abandoned-{uuid.uuid4().hex}"
    with pytest.raises(RuntimeError, match="boom"):
        with SandboxPool(RUN_PROGRAM, limits=Limits(timeout_s=20)) as pool:
            token = pool.token
            pool.run(
                [
                    program(
                        f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
                        f"'import time; time.sleep(300)  # {marker}'], start_new_session=True)"
                    )
                ]
            )
            raise RuntimeError("boom")
    assert pids_with_environment(token) == []
    assert pids_with_cmdline(marker) == []


@pytest.mark.parametrize(
    "handler, error, message",
    [
        ("no_colon", ValueError, "'no_colon' is not of the form"),
        ("nomodule:fn", SandboxError, "'nomodule:fn'.*No module named 'nomodule'"),
        ("ossinstruct.sandbox.pool:no_such_function", SandboxError, "has no attribute 'no_such_function'"),
    ],
)
def test_a_bad_handler_is_named_in_the_error(handler, error, message):
    with pytest.raises(error, match=message):
        SandboxPool(handler)


@pytest.mark.parametrize(
    "field, value", [("timeout_s", 0), ("memory_mb", -1), ("processes", 1.5), ("file_size_mb", "64"), ("network", "no")]
)
def test_bad_limits_are_named_in_the_error(field, value):
    with pytest.raises(ValueError, match=f"Limits.{field}"):
        Limits(**{field: value})


def test_an_unpicklable_payload_is_named_in_the_error():
    with SandboxPool(ECHO) as pool:
        with pytest.raises(TypeError, match="payload 1 cannot be pickled"):
            pool.run(["fine", lambda: None])
        assert pool.run(["still works"])[0].status == "ok"


OTHER_PYTHONS = [p for p in ("/root/.pyenv/versions/3.12.1/bin/python3.12", "/usr/bin/python3") if os.path.isfile(p)]


def test_zygotes_run_under_another_interpreter_with_preloaded_modules(monkeypatch):
    # python=: a benchmark's pinned interpreter (DS-1000's); preload=: modules imported
    # once per zygote, found imported by every job.
    if not OTHER_PYTHONS:
        missing("a second Python interpreter (/usr/bin/python3)", "Debian's python3, as on CI's machines")
    other = OTHER_PYTHONS[0]
    directory = Path(tempfile.mkdtemp(prefix="osi-handler-", dir="/tmp"))
    try:
        directory.chmod(0o755)
        module = directory / "osi_interpreter_handler.py"
        module.write_text(
            "import sys\n\ndef run(context, payload):\n"
            "    return {'executable': sys.executable, 'imported': payload in sys.modules}\n"
        )
        module.chmod(0o644)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")])))
        with SandboxPool("osi_interpreter_handler:run", python=other, preload=["decimal"]) as pool:
            [preloaded, not_preloaded] = pool.run(["decimal", "fractions"])
        assert preloaded.status == "ok", preloaded.error
        assert preloaded.value == {"executable": other, "imported": True}
        assert not_preloaded.value == {"executable": other, "imported": False}
        with SandboxPool("osi_interpreter_handler:run") as pool:  # the default: the pipeline's, nothing preloaded
            [plain] = pool.run(["decimal"])
        assert plain.value["executable"] == sys.executable
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_bad_interpreter_or_preload_is_named_in_the_error(tmp_path):
    with pytest.raises(ValueError, match="is not an executable file"):
        SandboxPool(ECHO, python=str(tmp_path / "python"))
    with pytest.raises(ValueError, match="preload must be a list of module names"):
        SandboxPool(ECHO, preload="numpy")
    with pytest.raises(SandboxError, match="cannot preload module 'osi_no_such_module'"):
        SandboxPool(ECHO, preload=["osi_no_such_module"])
