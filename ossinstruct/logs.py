"""Logging for stage entry points (Snakemake scripts, the CLI, training).

Every job writes its progress into its rule's `log:` file and, when it fails, the full
traceback followed by a one-line cause. Snakemake points at that file ("check log file(s)
for error details"), and on SLURM the job's stderr is elsewhere, so the log file must
hold the error on its own.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from contextlib import contextmanager

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _input_errors() -> tuple[type[BaseException], ...]:
    """Mistakes in what the user gave (a config key, an input file): their message says
    what is wrong, so stderr gets that one line and only the log file the traceback."""
    from ossinstruct.errors import ConfigError
    from ossinstruct.files import InputError

    return (ConfigError, InputError)


class JobTerminated(BaseException):
    """SIGTERM reached the job (a SLURM time limit, a preemption, scancel, Ctrl-C of
    Snakemake): unwinding instead of dying lets partial files be removed and the log say so."""


def _raise_terminated(signum, frame):
    raise JobTerminated(
        f"terminated by {signal.Signals(signum).name} (a time limit, a preemption or a "
        "cancel); finished work and cached responses are kept: rerun to resume"
    )


class _NotFileOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False)


def setup_logging(log_path: str | None = None, level: int = logging.INFO, mode: str = "w") -> None:
    """Log to stderr and, when given, to the rule's log file."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.addFilter(_NotFileOnly())
    handlers: list[logging.Handler] = [stderr]
    if log_path:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode=mode, encoding="utf-8"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    # Third-party request logs can echo headers; keep them quiet.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def one_line_cause(exc: BaseException) -> str:
    """What went wrong, on one line: the message of an input error as it is, otherwise the
    exception's type and the first line of its message."""
    text = str(exc).strip()
    if isinstance(exc, JobTerminated):
        return text
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = f"missing key {exc.args[0]!r}"
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, _input_errors()):
        return first or type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def log_failure(log: logging.Logger, exc: BaseException, started: float | None = None) -> str:
    """Write the traceback and the one-line cause; return the cause."""
    cause = one_line_cause(exc)
    elapsed = f" after {time.monotonic() - started:.1f} s" if started is not None else ""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    # An input error's traceback only goes to the file: stderr gets the one line.
    input_error = isinstance(exc, _input_errors())
    log.error(
        "failed%s; traceback:\n%s",
        elapsed,
        tb.rstrip(),
        extra={"file_only": input_error},
    )
    log.error("cause: %s", cause, extra={"file_only": input_error})
    if input_error:
        print(f"error: {cause}", file=sys.stderr, flush=True)
    return cause


@contextmanager
def logged_job(log_path: str | None, name: str, mode: str = "w"):
    """Run a job's body with logging into `log_path`: a start line, a done line with the
    time taken, and on failure the traceback and a one-line cause, then exit status 1.

        with logged_job(snakemake.log[0], "rule eval_data") as log:
            ...
    """
    setup_logging(log_path, mode=mode)
    log = logging.getLogger(name)
    log.info("started (host %s, pid %d)", socket.gethostname(), os.getpid())
    started = time.monotonic()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield log
    except SystemExit as exc:
        if exc.code in (0, None):
            log.info("done in %.1f s", time.monotonic() - started)
            raise
        log.error("exited with status %s after %.1f s", exc.code, time.monotonic() - started)
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure goes into the log
        log_failure(log, exc, started)
        logging.shutdown()
        if isinstance(exc, JobTerminated):
            raise SystemExit(128 + signal.SIGTERM) from None
        raise SystemExit(2 if isinstance(exc, _input_errors()) else 1) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    log.info("done in %.1f s", time.monotonic() - started)


class Progress:
    """Periodic progress lines for long loops: count, rate and ETA, every `every_s` seconds.

    progress = Progress(log, "expected outputs", total=len(rows))
    for row in rows:
        ...
        progress.step()
    progress.done()
    """

    def __init__(
        self,
        log: logging.Logger | None,
        what: str,
        total: int | None = None,
        every_s: float = 10.0,
        unit: str = "tasks",
        printer=None,
    ):
        self.log, self.what, self.total, self.every_s, self.unit = (
            log,
            what,
            total,
            every_s,
            unit,
        )
        self.printer = printer
        self.count = 0
        self.failed: int | None = None  # counted once step() is told about a failure
        self.start = self.last = time.monotonic()

    def _emit(self, message: str) -> None:
        if self.printer is not None:
            self.printer(message)
        elif self.log is not None:
            self.log.info("%s", message)

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        text = f"{self.what}: {self.count}"
        if self.total:
            text += f"/{self.total} ({100 * self.count / self.total:.0f}%)"
        text += f" {self.unit}, {rate:.1f}/s, {elapsed:.0f} s elapsed"
        if self.total and rate > 0:
            text += f", ETA {format_seconds((self.total - self.count) / rate)}"
        if self.failed is not None:
            text += f", {self.failed} failed"
        return text

    def step(self, n: int = 1, failed: bool | None = None) -> None:
        self.count += n
        if failed is not None:
            self.failed = (self.failed or 0) + int(failed)
        now = time.monotonic()
        if now - self.last >= self.every_s or (self.total and self.count == self.total):
            self.last = now
            self._emit(self.line())

    def done(self) -> None:
        """A closing line, unless step() just wrote the last one."""
        if self.total and self.count == self.total:
            return
        elapsed = time.monotonic() - self.start
        self._emit(f"{self.what}: {self.count} {self.unit} in {elapsed:.1f} s")


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rule_job(snakemake_object):
    """`logged_job` for a Snakemake script: its rule's log file, named by rule and wildcards."""
    wildcards = ", ".join(f"{k}={v}" for k, v in dict(snakemake_object.wildcards).items())
    name = f"rule {snakemake_object.rule}" + (f" ({wildcards})" if wildcards else "")
    return logged_job(snakemake_object.log[0], name)
