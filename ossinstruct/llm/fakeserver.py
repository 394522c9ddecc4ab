"""A scripted OpenAI-compatible HTTP server, for tests, benchmarks and trying the pipeline
without an API key. Start it, then point a teacher at it (no key needed):

    python -m ossinstruct.fakeserver --port 8000 --latency 0.5

    teachers:
      fake:
        backend: openai
        model: fake-teacher      # any name; answers report it
        base_url: http://127.0.0.1:8000/v1

Every answer is a well-formed OSS-Instruct response ([Problem Description] and [Solution])
derived from the prompt, so generation, cleaning and decontamination run end to end
(with --tests, prompts that ask for a [Tests] section get scripted tests: tests_responder).

It answers POST /v1/chat/completions and /v1/completions with the real response schemas,
GET /v1/models and /v1/models/{id} (the teacher preflight; `known_models` scripts a
retired model: 404 there and on completions),
from the standard library only (a ThreadingHTTPServer with HTTP/1.1 keep-alive, in a
background thread, bound to 127.0.0.1).

Faults are scripted per distinct request body, deterministically. Each body is identified by
`body_hash(body)` (a hash of its canonical JSON) and counts its own attempts (1, 2, ...). The
action for an attempt comes from `policy(body_hash, attempt)` if given, else from the `faults`
list (`faults[attempt - 1]`, "ok" past its end). Actions:

    "ok"         answer with the responder's text
    "429"        rate limited, with `Retry-After: retry_after_s` (no header when None)
    "500", "503" (or any other 3-digit status) an error answer with that status
    "slow"       wait `slow_s` (meant to exceed the client's timeout), then answer; stops
                 waiting as soon as the client hangs up
    "drop"       close the connection without any answer
    "malformed"  200 with a body that is not JSON
    "nochoices"  200 with JSON lacking `choices`

Every request is logged (`LogEntry`: times received and answered, body hash, attempt, action,
path, status; never the Authorization header); `requests_for(hash)`, `counts`, `max_in_flight`
and `reset()` serve assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import select
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Responder = Callable[[dict], "str | tuple[str, str]"]
Policy = Callable[[str, int], str]


@dataclass(frozen=True)
class LogEntry:
    received: float  # time.monotonic() when the request body had been read
    answered: float  # time.monotonic() just before the answer was written (or the socket dropped)
    body_hash: str
    attempt: int  # 1 the first time this body was seen, then 2, 3, ...
    action: str  # "ok", "429", ..., "401" when require_api_key rejected it
    path: str
    status: int | None  # HTTP status sent; None when nothing was (drop, client gone)
    body: dict


def body_hash(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def prompt_text(body: dict) -> str:
    """The prompt of a completion body, or the concatenated message contents of a chat body."""
    prompt = body.get("prompt")
    if prompt is None:
        return "\n".join(str(m.get("content") or "") for m in body.get("messages") or [])
    return "\n".join(prompt) if isinstance(prompt, list) else str(prompt)


def default_responder(body: dict) -> str:
    """A well-formed OSS-Instruct answer, deterministic in the prompt, naming its hash."""
    h = hashlib.sha256(prompt_text(body).encode()).hexdigest()[:12]
    return (
        f"[Problem Description]\nWrite a function `fingerprint_{h}()` that returns the string "
        f"'{h}', the fingerprint of the prompt this problem was generated from.\n\n"
        f"[Solution]\n```python\ndef fingerprint_{h}():\n    return '{h}'\n```"
    )


# What tests_responder's answers are meant to verify as, by prompt hash (see there).
TESTS_OUTCOMES = ("pass", "fail", "pass-shell", "no_tests", "fail-shell")


def tests_outcome(body: dict) -> str:
    """The outcome tests_responder scripts for this request: one of TESTS_OUTCOMES."""
    h = hashlib.sha256(prompt_text(body).encode()).hexdigest()
    return TESTS_OUTCOMES[int(h[:8], 16) % len(TESTS_OUTCOMES)]


def tests_responder(body: dict) -> str:
    """For prompts that ask for a [Tests] section (oss-instruct-chat-tests-v1): an answer
    with tests, deterministic in the prompt, whose verification outcome is scripted by
    :func:`tests_outcome` and named in the problem ("Expected verification: ..."): Python
    or shell tests that pass, tests that fail (a wrong solution), or no tests section.
    Other prompts get :func:`default_responder`'s answer."""
    if "[Tests]" not in prompt_text(body):
        return default_responder(body)
    h = hashlib.sha256(prompt_text(body).encode()).hexdigest()[:12]
    outcome = tests_outcome(body)
    problem = (
        f"[Problem Description]\nWrite `fingerprint_{h}` returning the string '{h}', the fingerprint "
        f"of the prompt this problem was generated from. Expected verification: {outcome}.\n\n"
    )
    wrong = outcome.startswith("fail")
    value = h[::-1] if wrong else h
    if outcome.endswith("shell"):
        solution = f"[Solution]\n```bash\nfingerprint_{h}() {{\n  echo '{value}'\n}}\n```\n\n"
        tests = f'[Tests]\n```bash\n[ "$(fingerprint_{h})" = "{h}" ] || exit 1\n```'
    else:
        solution = f"[Solution]\n```python\ndef fingerprint_{h}():\n    return '{value}'\n```\n\n"
        tests = f"[Tests]\n```python\nassert fingerprint_{h}() == '{h}'\n```"
    return problem + solution + ("" if outcome == "no_tests" else tests)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a burst of new pooled connections must not overflow the backlog
    fake: FakeServer

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that left is no news
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    wbufsize = -1  # buffer headers and body into one write per answer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._handle(self)

    def do_GET(self) -> None:  # noqa: N802
        fake = self.server.fake
        path = urllib.parse.unquote(self.path.split("?")[0].rstrip("/"))  # ids may hold a "/"
        with fake._lock:
            fake._model_checks.append(path)
        known = fake.known_models
        if fake.require_api_key is not None and self.headers.get("Authorization") != f"Bearer {fake.require_api_key}":
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            self.send(401, {"error": {**error, "code": "invalid_api_key"}})
        elif path == "/v1/models":
            ids = sorted(known) if known is not None else [fake.model or "fake-teacher"]
            models = [{"id": model, "object": "model", "owned_by": "fake"} for model in ids]
            self.send(200, {"object": "list", "data": models})
        elif path.startswith("/v1/models/") and fake.model_route:
            model = path.removeprefix("/v1/models/")
            if known is None or model in known:
                self.send(200, {"id": model, "object": "model", "owned_by": "fake"})
            else:  # OpenAI's answer for a retired or unknown model
                message = f"The model `{model}` does not exist or you do not have access to it."
                error = {"message": message, "type": "invalid_request_error", "code": "model_not_found"}
                self.send(404, {"error": error})
        else:
            self.send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def send(self, status: int, payload: dict | bytes, headers: dict | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class FakeServer:
    """An OpenAI-compatible server in a background thread; a context manager.

    responder: body -> text, or (text, finish_reason); default `default_responder`.
    faults / policy: the scripted actions per attempt of each body (see the module doc).
    latency_s: added before every answer. retry_after_s: the Retry-After of "429" answers.
    slow_s: how long "slow" waits. require_api_key: answer 401 unless `Bearer <key>` is sent.
    model: the model name reported (default: the one requested).
    known_models: the models GET /v1/models/{id} knows (404 for others, as OpenAI answers
    for a retired model) and /v1/models lists; None: every model. model_route: False to
    answer /v1/models/{id} with 404 whatever the id, as servers without that route do
    (`vllm serve`). `model_checks` logs the GET paths asked.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        faults: list[str] | None = None,
        policy: Policy | None = None,
        latency_s: float = 0.0,
        retry_after_s: float | None = 1,
        slow_s: float = 5.0,
        require_api_key: str | None = None,
        model: str | None = None,
        known_models: set[str] | None = None,
        model_route: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.responder = responder or default_responder
        self.faults = list(faults or [])
        self.policy = policy
        self.latency_s = latency_s
        self.retry_after_s = retry_after_s
        self.slow_s = slow_s
        self.require_api_key = require_api_key
        self.model = model
        self.known_models = None if known_models is None else set(known_models)
        self.model_route = model_route
        self._lock = threading.Lock()
        self.reset()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests read -----------------------------------------------------------------

    def reset(self) -> None:
        """Forget the log, the counters and every body's attempt count."""
        with self._lock:
            self._log: list[LogEntry] = []
            self._counts: dict[str, int] = {}
            self._in_flight = 0
            self._max_in_flight = 0
            self._model_checks: list[str] = []

    @property
    def log(self) -> list[LogEntry]:
        with self._lock:
            return list(self._log)

    def requests_for(self, body_hash: str) -> list[LogEntry]:
        """The logged requests carrying this body, in the order they were answered."""
        return [e for e in self.log if e.body_hash == body_hash]

    @property
    def counts(self) -> dict[str, int]:
        """Requests received per body hash."""
        with self._lock:
            return dict(self._counts)

    @property
    def model_checks(self) -> list[str]:
        """The GET paths asked (the teacher preflight's /v1/models/{id}, /v1/models)."""
        with self._lock:
            return list(self._model_checks)

    @property
    def max_in_flight(self) -> int:
        """The most requests received and not yet answered at any one time."""
        return self._max_in_flight

    def action_for(self, key: str, attempt: int) -> str:
        if self.policy is not None:
            return self.policy(key, attempt)
        return self.faults[attempt - 1] if attempt <= len(self.faults) else "ok"

    # -- serving -------------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        path = h.path.split("?")[0].rstrip("/")
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        received = time.monotonic()
        try:
            body = json.loads(raw)
        except ValueError:
            error = {"message": "request body is not JSON", "type": "invalid_request_error"}
            h.send(400, {"error": error})
            return
        key = body_hash(body)
        with self._lock:
            attempt = self._counts[key] = self._counts.get(key, 0) + 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        answered = None

        def answering() -> None:  # the request stops counting as in flight before it is answered
            nonlocal answered
            answered = time.monotonic()
            with self._lock:
                self._in_flight -= 1

        action, status = "error", None
        try:
            if self.require_api_key is not None and h.headers.get("Authorization") != f"Bearer {self.require_api_key}":
                action = "401"
            elif path not in ("/v1/chat/completions", "/v1/completions"):
                action = "404"
            elif self.known_models is not None and body.get("model") not in self.known_models:
                action = "404"  # a retired or unknown model
            else:
                action = self.action_for(key, attempt)
            if self.latency_s:
                time.sleep(self.latency_s)
            status = self._answer(h, path, body, key, attempt, action, answering)
        finally:
            if answered is None:
                answering()
            with self._lock:
                self._log.append(LogEntry(received, answered, key, attempt, action, path, status, body))

    def _answer(
        self, h: _Handler, path: str, body: dict, key: str, attempt: int, action: str, answering: Callable[[], None]
    ) -> int | None:
        if action == "drop":
            answering()
            h.close_connection = True
            return None
        if action == "slow" and self._client_hung_up(h, self.slow_s):
            answering()
            h.close_connection = True
            return None
        if action == "malformed":
            answering()
            h.send(200, b'{"id": "cmpl-broken", "choices": [{"index": 0, "te')
            return 200
        if action.isdigit():
            status = int(action)
            headers = {}
            if status == 429 and self.retry_after_s is not None:
                headers["Retry-After"] = f"{self.retry_after_s:g}"
            error = {"message": f"fake server: scripted {status}", "type": "fake_error", "code": action}
            answering()
            h.send(status, {"error": error}, headers)
            return status
        if action not in ("ok", "slow", "nochoices"):
            raise ValueError(f"unknown fake server action {action!r}")

        created = int(time.time())
        model = self.model or body.get("model") or "fake-teacher"
        if action == "nochoices":
            answering()
            h.send(
                200, {"id": f"cmpl-{key}-{attempt}", "object": "chat.completion", "created": created, "model": model}
            )
            return 200
        answer = self.responder(body)
        text, finish_reason = (answer, "stop") if isinstance(answer, str) else answer
        chat = path.endswith("/chat/completions")
        choice = {"index": 0, "finish_reason": finish_reason, "logprobs": None}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        prompt_tokens = -(-len(prompt_text(body)) // 4)
        completion_tokens = -(-len(text) // 4)
        payload = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{key}-{attempt}",
            "object": "chat.completion" if chat else "text_completion",
            "created": created,
            "model": model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        answering()
        h.send(200, payload)
        return 200

    @staticmethod
    def _client_hung_up(h: _Handler, seconds: float) -> bool:
        """Wait up to `seconds`; True as soon as the client closes its end."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([h.connection], [], [], left)
            if readable:
                try:
                    if h.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
                time.sleep(min(0.01, left))  # data, not a hang-up (a pipelined request): keep waiting
        return False


def main(argv: list[str] | None = None) -> None:
    usage = __doc__.split("\n\n")
    parser = argparse.ArgumentParser(
        prog="python -m ossinstruct.fakeserver",
        description="\n\n".join(usage[:4]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--faults",
        default="",
        help="actions per attempt of every request body, e.g. 429,ok "
        "(ok, 429, 500, 503, slow, drop, malformed, nochoices)",
    )
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of 429 answers")
    parser.add_argument("--model", default=None, help="model name to report (default: as requested)")
    parser.add_argument(
        "--known-model",
        action="append",
        help="a model the server has (repeat); others get 404, as a retired model does (default: every model)",
    )
    parser.add_argument(
        "--tests",
        action="store_true",
        help="answer prompts that ask for [Tests] (oss-instruct-chat-tests-v1) with scripted tests (tests_responder)",
    )
    args = parser.parse_args(argv)
    faults = [a.strip() for a in args.faults.split(",") if a.strip()]
    with FakeServer(
        tests_responder if args.tests else None,
        faults=faults,
        latency_s=args.latency,
        retry_after_s=args.retry_after,
        model=args.model,
        known_models=args.known_model,
        host=args.host,
        port=args.port,
    ) as server:
        print(f"fake OpenAI-compatible server at {server.base_url} (Ctrl-C stops it)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
