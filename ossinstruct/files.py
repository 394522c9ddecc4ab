"""File helpers shared by every stage: atomic writes, and JSON Lines read with line numbers."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    A killed job leaves at most a `.tmp` file that Snakemake never takes as an output,
    never a truncated file under the final name. The rename is atomic on POSIX (also on
    NFS within one directory).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f"{suffix}.tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def dumps_record(record: dict) -> str:
    """One canonical JSON line: stable key order is the caller's; no ASCII escaping."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def write_jsonl_atomic(path: str | os.PathLike, records: Iterable[dict]) -> int:
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(dumps_record(record) + "\n")
            count += 1
    return count


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


class InputError(ValueError):
    """A file given to a stage is missing or not what the stage reads. The message is one
    line naming the file, the line or task, and what was expected."""


def _json_error(path, lineno: int, exc: json.JSONDecodeError, line: str, what: str) -> InputError:
    if exc.pos >= len(line.rstrip("\r\n")):
        problem = f"the line ends at column {exc.colno} before its JSON object does (truncated?)"
    else:
        problem = f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    return InputError(f"{path}: line {lineno}: {problem}; expected one {what} per line as a JSON object")


def read_jsonl(path: str | os.PathLike, required: Iterable[str] = (), what: str = "record") -> Iterator[dict]:
    """The records of a JSON Lines file, checked as they are read: a missing file, a line
    that is not a JSON object, or a record without a `required` field is an InputError
    naming the file and the line. `what` says what a line should be, for the message."""
    required = tuple(required)
    try:
        with open(path, "rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        fh = gzip.open(path, "rt", encoding="utf-8") if gzipped else open(path, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (expected a JSON Lines file of {what}s)") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory (expected a JSON Lines file of {what}s)") from None
    with fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _json_error(path, lineno, exc, line, what) from None
                if not isinstance(record, dict):
                    raise InputError(
                        f"{path}: line {lineno}: a JSON {type(record).__name__}, expected a {what} as a JSON object"
                    )
                missing = [key for key in required if key not in record]
                if missing:
                    task = f" (task {record['task_id']})" if "task_id" in record else ""
                    raise InputError(
                        f"{path}: line {lineno}{task}: {what} has no field "
                        f"{', '.join(map(repr, missing))} (expected the fields {', '.join(required)})"
                    )
                yield record
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
                raise
            problem = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else f"bad gzip data ({exc})"
            raise InputError(
                f"{path}: line {lineno + 1}: {problem} (expected a JSON Lines file of {what}s, "
                "plain or gzip-compressed)"
            ) from None
