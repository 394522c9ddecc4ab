"""Throughput of the openai backend against the fake server (no network, no key).

    .venv/bin/python bench/generation_throughput.py [--latency 0.25] [--rpm 600]

Every answer takes a fixed `latency` seconds, so `concurrency` requests in flight can at best
finish `concurrency / latency` requests a second. For concurrency 1, 16 and 64 this sends
4 x concurrency requests (at least 64) through OpenAIBackend and prints the measured rate and
its ratio to that ideal; the original OSS-Instruct script sent one request at a time, 1/64 of
the ideal at 64. Then it sets requests_per_minute with concurrency 64 and checks, from the
times the server received the requests, that the limit held.

The server runs in a child process, as a real teacher would be elsewhere, so that the figures
are the client's: with a fixed latency, throughput is bounded by concurrency / latency and by
the client's CPU per request (printed), of which the openai library takes nearly all.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ossinstruct.llm.backends.base import Request  # noqa: E402
from ossinstruct.llm.backends.openai_api import OpenAIBackend  # noqa: E402
from ossinstruct.llm.fakeserver import FakeServer  # noqa: E402

PARAMS = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 512, "stop": []}


def requests(n: int, tag: str) -> list[Request]:
    return [
        Request(
            key=f"{tag}-{i}",
            params=PARAMS,
            messages=[
                {"role": "system", "content": "You are exceptionally skilled at crafting problems."},
                {"role": "user", "content": f"Code snippet ({tag} #{i}):\n```python\nx = {i}\n```"},
            ],
        )
        for i in range(n)
    ]


def _serve(conn, latency: float) -> None:
    """Child process: a FakeServer that answers "reset", "stats" and "stop" over a pipe."""
    with FakeServer(latency_s=latency) as server:
        conn.send(server.base_url)
        while (command := conn.recv()) != "stop":
            if command == "reset":
                server.reset()
                conn.send(None)
            elif isinstance(command, tuple) and command[0] == "latency":
                server.latency_s = command[1]
                conn.send(None)
            else:  # "stats": the times requests were received, the most in flight at once
                conn.send(([e.received for e in server.log], server.max_in_flight))


class Server:
    def __init__(self, latency: float):
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(child, latency), daemon=True)
        self._process.start()
        self.base_url = self._conn.recv()

    def call(self, command):
        self._conn.send(command)
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(5)


def run(server: Server, n: int, tag: str, **teacher) -> tuple[float, float, list[float], int]:
    """Seconds and client CPU seconds for n answers, the server's receive times, max in flight."""
    server.call("reset")
    backend = OpenAIBackend(
        {
            "backend": "openai",
            "model": "bench",
            "base_url": server.base_url,
            "timeout_s": 30,
            "max_attempts": 3,
            **teacher,
        }
    )
    failed = []
    cpu, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    backend.generate(requests(n, tag), lambda request, resp: failed.extend([resp.error] * resp.failed))
    elapsed = time.perf_counter() - start
    end_cpu = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = end_cpu.ru_utime - cpu.ru_utime + end_cpu.ru_stime - cpu.ru_stime
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0]}")
    times, max_in_flight = server.call("stats")
    return elapsed, cpu_s, sorted(times), max_in_flight


def row(label: str, n: int, concurrency: int, latency: float, result) -> None:
    elapsed, cpu_s, _, max_in_flight = result
    rate, ideal = n / elapsed, concurrency / latency
    print(
        f"{label:>8} {concurrency:>11} {n:>8} {elapsed:>8.2f} {rate:>7.1f} {ideal:>7.1f} "
        f"{rate / ideal:>6.3f} {max_in_flight:>7} {1000 * cpu_s / n:>10.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.25, help="seconds per answer (default 0.25)")
    parser.add_argument(
        "--slow-latency",
        type=float,
        default=4.0,
        help="a second latency for concurrency 64, nearer a real teacher's (default 4)",
    )
    parser.add_argument("--rpm", type=float, default=600, help="requests_per_minute to check (default 600)")
    args = parser.parse_args()

    server = Server(args.latency)
    try:
        run(server, 64, "warm-up", concurrency=16)
        print(
            f"{'latency':>8} {'concurrency':>11} {'requests':>8} {'seconds':>8} {'req/s':>7} "
            f"{'ideal':>7} {'ratio':>6} {'in-flt':>7} {'cpu ms/req':>10}"
        )
        for concurrency in (1, 16, 64):
            n = max(64, 4 * concurrency)
            result = run(server, n, f"c{concurrency}", concurrency=concurrency)
            row(f"{args.latency:g} s", n, concurrency, args.latency, result)
        slow = args.slow_latency  # the same where the client's CPU per request matters less
        server.call(("latency", slow))
        row(f"{slow:g} s", 256, 64, slow, run(server, 256, "slow", concurrency=64))
        server.call(("latency", args.latency))
        print(
            "ideal = concurrency / latency. With a fixed latency the 64 answers of a round come back\n"
            "together and wait for the client to handle them one by one (cpu ms/req each, client side).\n"
            "The original script sent one request at a time: a ratio of 1/64 = 0.016 at concurrency 64."
        )

        # requests_per_minute: a bucket of one second's worth, refilled continuously.
        per_s = args.rpm / 60
        burst = max(1.0, per_s)
        n = int(burst + 10 * per_s) + 1  # about ten seconds' worth after the first burst
        elapsed, _, times, _ = run(server, n, "rpm", concurrency=64, requests_per_minute=args.rpm)
        b = int(burst)
        steady = (n - 1 - b) / (times[-1] - times[b]) * 60  # after the initial burst
        overall = (n - 1) / (times[-1] - times[0]) * 60
        excess = max(  # how far any stretch of requests exceeds the bucket's allowance
            (j - i + 1) - (burst + per_s * (times[j] - times[i])) for i in range(n) for j in range(i, n)
        )
        ok = excess <= 1 and steady <= args.rpm * 1.02
        print(f"\nrequests_per_minute={args.rpm:g}, concurrency 64: {n} requests in {elapsed:.2f} s")
        print(
            f"  server-observed rate after the initial burst of {b}: {steady:.1f}/min "
            f"(limit {args.rpm:g}); first to last, burst included: {overall:.1f}/min"
        )
        print(
            f"  most requests in any stretch beyond the bucket's allowance ({burst:g} + {per_s:g}/s): "
            f"{max(excess, 0):.2f} -> {'within the limit' if ok else 'LIMIT EXCEEDED'}"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
