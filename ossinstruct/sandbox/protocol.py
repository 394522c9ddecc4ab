"""The sandbox's wire format, shared by the pipeline (pool.py) and the zygote: on the
protocol pipes, an 8-byte big-endian length, then that many bytes of pickle. Standard
library only: it runs inside the sandbox.
"""

from __future__ import annotations

import os
import select
import struct
import time

FRAME_HEADER = struct.Struct(">Q")
MAX_FRAME_BYTES = 1 << 30  # a job result larger than this is refused, not buffered

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
