"""Teacher backend for any OpenAI-compatible endpoint: OpenAI, `vllm serve`, llama.cpp, Ollama.

`generate()` is synchronous for its caller and runs one asyncio loop inside, which

* keeps at most `concurrency` requests in flight (a semaphore, released while waiting to retry);
* paces sends under `requests_per_minute` / `tokens_per_minute` with leaky buckets that hold
  about one second's worth, so there is no start-up burst. The limits it is given are this
  job's share of the account's (ossinstruct.generate.teacher.job_rate_limits). A request
  reserves tokens by `token_budget`: `usage` (default), the prompt's estimate (characters
  / 4) plus the mean completion of the answers received so far (max_tokens until
  EXPECTED_AFTER have arrived), settled with the answer's reported usage (the difference
  paid or refunded); `max_tokens`, max(max_tokens, the prompt's estimate), never settled:
  what OpenAI's admission counts (its rate-limit guide: "the maximum of max_tokens and the
  estimated number of tokens based on the character count of your request");
* retries with tenacity what may succeed later: 429, 5xx, timeouts, dropped connections and
  malformed bodies. The wait is exponential backoff with full jitter, never shorter than the
  server's Retry-After. Other 4xx fail that request at once, and an answer that no request
  can get past (401: the key is rejected; 403: no access; 404: the model does not exist or
  was retired) stops the call: nothing more is sent or retried, the requests in flight
  finish, then TeacherUnavailable names the model;
* reports every request exactly once through `on_response`, as soon as it is done (except
  the requests a TeacherUnavailable or the cost ceiling kept from being sent).

`check_model` is the preflight: GET /v1/models/{model} (then the list /v1/models, for
servers without the per-model route, e.g. `vllm serve`) before any job sends a request.

The API key is read from the environment variable named by `api_key_env`; it is handed to the
client only and never logged or stored.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager

import httpx2
import openai
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from ossinstruct.files import InputError
from ossinstruct.llm.backends.base import Backend, OnResponse, Request, Response, StopSending

log = logging.getLogger("ossinstruct.llm.backends.openai")

# Answers no request of this teacher can get past: the whole call stops at the first one.
FATAL_STATUSES = (401, 403, 404)


class MalformedResponse(Exception):
    """A 2xx answer whose body holds no usable completion."""


class TeacherUnavailable(InputError, RuntimeError):
    """The endpoint refuses the teacher model itself: unknown or retired (404), the key
    rejected (401) or without access to it (403), or the endpoint unreachable (status None).
    Its message names the model, the config key and what to do."""

    def __init__(self, teacher: dict, status: int | None, detail: str, name: str | None = None):
        self.teacher, self.status, self.detail, self.name = teacher, status, detail, name
        super().__init__(self._message())

    def named(self, name: str) -> TeacherUnavailable:
        """The same error, naming the teacher's config block."""
        return TeacherUnavailable(self.teacher, self.status, self.detail, name)

    def _message(self) -> str:
        t = self.teacher
        model, url = t.get("model"), t.get("base_url") or "https://api.openai.com/v1"
        block = f"teachers.{self.name}" if self.name else "teachers.<name>"
        key_env = t.get("api_key_env")
        key = f"the key in {key_env} ({block}.api_key_env)" if key_env else "no key (api_key_env is null)"
        detail = f" ({self.detail})" if self.detail else ""
        if self.status == 404:
            what = (
                f"{url} has no model {model!r} (404){detail}: it does not exist there, was retired, or "
                f"{key} has no access to it. Set config key {block}.model to a model the endpoint serves "
                "(docs/generations.md, 'If the teacher model is retired')"
            )
        elif self.status == 401:
            what = f"{url} rejected {key} (401){detail}; export a valid key"
        elif self.status == 403:
            what = f"{key} has no access to model {model!r} at {url} (403){detail} (config key {block}.model)"
        else:
            what = f"cannot reach {url} to check model {model!r}{detail} (config key {block}.base_url)"
        return f"teacher {self.name or model!r}: {what}"


def _server_message(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", None) or exc).removeprefix(f"Error code: {status} - ")
    return message[:200]


def check_model(teacher: dict, name: str | None = None, api_key: str | None = None) -> None:
    """Preflight: raise TeacherUnavailable unless the endpoint serves the teacher's model to
    this key. GET /models/{model}; on a 404 the list /models decides (servers without the
    per-model route list their models)."""
    key = api_key if api_key is not None else _api_key(teacher)
    client = openai.OpenAI(
        base_url=teacher.get("base_url"),
        api_key=key,
        max_retries=2,  # the client's own backoff, for a 429 or 5xx of the moment
        timeout=float(teacher.get("timeout_s") or 30),
    )
    model = teacher["model"]
    try:
        try:
            client.models.retrieve(model)
            return
        except openai.NotFoundError as exc:
            missing = exc
        try:
            served = [m.id for m in client.models.list()]
        except openai.APIStatusError:
            raise TeacherUnavailable(teacher, 404, _server_message(missing), name) from None
        if model in served:
            return
        shown = ", ".join(sorted(served)[:20]) + (", ..." if len(served) > 20 else "")
        raise TeacherUnavailable(teacher, 404, f"it serves: {shown or 'no model'}", name) from None
    except openai.APIStatusError as exc:
        raise TeacherUnavailable(teacher, exc.status_code, _server_message(exc), name) from None
    except openai.APIConnectionError as exc:
        raise TeacherUnavailable(teacher, None, f"{type(exc).__name__}: {exc}", name) from None
    finally:
        client.close()


def _api_key(teacher: dict) -> str:
    env = teacher.get("api_key_env")
    if not env:
        return "EMPTY"  # local servers ignore the key, the client insists on one
    key = os.environ.get(env)
    if not key:
        raise RuntimeError(
            f"teacher {teacher.get('model')!r}: the environment variable "
            f"{env} (api_key_env) holding the API key is not set or empty"
        )
    return key


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):  # 4xx and 5xx answers
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(
        exc,
        (
            openai.APIConnectionError,  # dropped connections; APITimeoutError is a subclass
            openai.APIResponseValidationError,
            json.JSONDecodeError,
            MalformedResponse,
        ),
    )


def _retry_after(exc: BaseException | None) -> float:
    """Seconds the server asked us to wait (retry-after-ms, or Retry-After in seconds or as
    an HTTP date); 0 when it did not say."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:  # an HTTP date
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return 0.0


def _reason(exc: BaseException) -> str:
    """Short description of a failure: the exception's type and HTTP status, if any."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}: {status}" if status else type(exc).__name__


def _failure(exc: BaseException, attempts: int) -> str:
    """The `error` of a request that failed for good, e.g. "RateLimitError: 429 after 8 attempts"."""
    status = getattr(exc, "status_code", None)
    plural = "s" if attempts != 1 else ""
    error = f"{type(exc).__name__}: {f'{status} ' if status else ''}after {attempts} attempt{plural}"
    if not _retryable(exc):  # a client error: what the server said helps
        message = str(getattr(exc, "message", None) or exc).removeprefix(f"Error code: {status} - ")
        error += f" ({message[:200]})" if message else ""
    return error


# Answers received before a request reserves their mean completion instead of max_tokens.
EXPECTED_AFTER = 8


class TokenBudget:
    """A leaky bucket of tokens per minute holding one second's worth, whose reservations
    are settled after the fact: `acquire(estimate)` before a request, `settle(estimate,
    used)` with the answer's usage (the difference is paid, or given back)."""

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = max(1.0, self.rate)
        self.level = 0.0  # tokens in the bucket; it drains at `rate`
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()
        self.reserved = 0.0  # totals, for the log and the tests
        self.settled = 0.0

    def _drain(self) -> None:
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self, tokens: float) -> None:
        async with self._lock:  # one request at a time, so none starves the others
            self.reserved += tokens
            while tokens > 0:  # estimates above the bucket's size are paid in parts
                part = min(tokens, self.capacity)
                self._drain()
                wait = (self.level + part - self.capacity) / self.rate
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                self.level += part
                tokens -= part

    def settle(self, reserved: float, used: float) -> None:
        """The answer used `used` tokens where `reserved` were taken: a debt fills the bucket
        (later requests wait for it to drain), a surplus empties it."""
        self._drain()
        self.level = max(0.0, self.level + used - reserved)
        self.settled += used - reserved


def _bucket(per_minute: float | None) -> AsyncLimiter | None:
    """A leaky bucket for `per_minute` holding one second's worth (at least 1); None: unlimited."""
    if per_minute is None:
        return None
    size = max(1.0, per_minute / 60)
    return AsyncLimiter(size, size * 60 / per_minute)


def _prompt_chars(request: Request) -> int:
    if request.prompt is not None:
        return len(request.prompt)
    return sum(len(str(m.get("content") or "")) for m in request.messages or [])


def _decoding(params: dict) -> dict:
    kwargs = {k: params[k] for k in ("temperature", "top_p", "max_tokens", "seed") if params.get(k) is not None}
    if params.get("stop"):
        kwargs["stop"] = list(params["stop"])
    return kwargs


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, teacher: dict):
        super().__init__(teacher)
        self._api_key()  # fail now, not after the first request, when the key is missing

    def _api_key(self) -> str:
        return _api_key(self.teacher)

    def generate(self, requests: Sequence[Request], on_response: OnResponse) -> None:
        if requests:
            asyncio.run(self._generate(list(requests), on_response))

    async def _generate(self, requests: list[Request], on_response: OnResponse) -> None:
        t = self.teacher
        concurrency = int(t.get("concurrency") or 16)
        timeout = float(t.get("timeout_s") or 120)
        # Per-call state (one generate() at a time per backend): slots, rate limits, retries.
        self._semaphore = asyncio.Semaphore(concurrency)
        self._rpm = _bucket(t.get("requests_per_minute"))
        self._tpm = TokenBudget(t["tokens_per_minute"]) if t.get("tokens_per_minute") else None
        self._completions: list[int] = []  # completion tokens of the answers received
        self._max_attempts = int(t.get("max_attempts") or 8)
        self._fatal: TeacherUnavailable | None = None
        self._stopped: StopSending | None = None
        self._admitted: set[str] = set()
        http = openai.DefaultAsyncHttpxClient(  # keep one pooled connection per slot alive
            timeout=timeout,
            limits=httpx2.Limits(max_connections=None, max_keepalive_connections=concurrency),
        )
        client = openai.AsyncOpenAI(
            base_url=t.get("base_url"), api_key=self._api_key(), max_retries=0, timeout=timeout, http_client=http
        )

        async def one(request: Request) -> None:
            try:
                response = await self._request(client, request)
            except (StopSending, TeacherUnavailable) as stop:
                # Nothing more is sent; the requests in flight still finish and are
                # reported (an answer paid for is never lost), then generate() raises.
                if isinstance(stop, TeacherUnavailable):
                    self._fatal = self._fatal or stop
                else:
                    self._stopped = self._stopped or stop
                return
            on_response(request, response)  # may raise (a broken cache): stop everything

        tasks = [asyncio.create_task(one(r)) for r in requests]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()
            if self._tpm:
                log.info(
                    "tokens reserved against tokens_per_minute: %.0f, settled with usage: %+.0f",
                    self._tpm.reserved,
                    self._tpm.settled,
                )
        if self._fatal is not None:
            raise self._fatal
        if self._stopped is not None:
            raise self._stopped

    def token_estimate(self, request: Request) -> int:
        """What a request reserves against tokens_per_minute (see the module docstring)."""
        prompt = math.ceil(_prompt_chars(request) / 4)
        max_tokens = int(request.params.get("max_tokens") or 0)
        if self.teacher.get("token_budget") == "max_tokens":
            return max(max_tokens, prompt)
        if len(self._completions) < EXPECTED_AFTER:
            return prompt + max_tokens
        expected = math.ceil(sum(self._completions) / len(self._completions))
        return prompt + (min(expected, max_tokens) if max_tokens else expected)

    @asynccontextmanager
    async def _slot(self, request: Request):
        """Hold a concurrency slot and pay the rate limits for one attempt; yields the
        tokens reserved (0 without tokens_per_minute)."""
        async with self._semaphore:
            if self._stopped is not None:
                raise self._stopped
            if request.key not in self._admitted and self.admit is not None:
                self.admit(request)  # may raise StopSending (the cost ceiling)
            self._admitted.add(request.key)
            if self._rpm:
                await self._rpm.acquire()
            tokens = 0
            if self._tpm:
                tokens = self.token_estimate(request)
                await self._tpm.acquire(tokens)
            if self._fatal is not None:  # another request learnt that none can succeed
                raise self._fatal
            if self._stopped is not None:
                raise self._stopped
            yield tokens

    def _settle(self, reserved: int, response: Response) -> None:
        used = response.prompt_tokens + response.completion_tokens
        if response.completion_tokens:
            self._completions.append(response.completion_tokens)
        if self._tpm and reserved and used and self.teacher.get("token_budget") != "max_tokens":
            self._tpm.settle(reserved, used)

    def _wait(self, state) -> float:
        t = self.teacher
        initial = float(t.get("backoff_initial_s", 1.0))
        maximum = float(t.get("backoff_max_s", 60.0))
        # Full jitter: uniform in [initial, min(maximum, initial * 2**attempt)].
        backoff = wait_random_exponential(multiplier=2 * initial, min=initial, max=maximum)(state)
        return max(backoff, _retry_after(state.outcome.exception()))

    def _log_retry(self, request: Request, state) -> None:
        log.info(
            "request %s: attempt %d of %d failed (%s), retrying in %.2fs",
            request.key[:12],
            state.attempt_number,
            self._max_attempts,
            _reason(state.outcome.exception()),
            state.next_action.sleep,
        )

    async def _request(self, client: openai.AsyncOpenAI, request: Request) -> Response:
        """One request, retries included; raises only when cancelled or on TeacherUnavailable."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            before_sleep=lambda state: self._log_retry(request, state),
            reraise=True,
        )
        started, attempts = None, 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    async with self._slot(request) as reserved:
                        started = started or time.monotonic()
                        response = await self._send(client, request)
                    self._settle(reserved, response)
        except (TeacherUnavailable, StopSending):
            raise
        except Exception as exc:  # noqa: BLE001 - one request's failure is reported, not raised
            if isinstance(exc, openai.APIStatusError) and exc.status_code in FATAL_STATUSES:
                # No request can succeed (the model is gone, the key refused): stop them all.
                self._fatal = TeacherUnavailable(self.teacher, exc.status_code, _server_message(exc))
                raise self._fatal from None
            error = _failure(exc, attempts)
            log.warning("request %s failed: %s", request.key[:12], error)
            return Response(
                text=None,
                finish_reason=None,
                error=error,
                attempts=attempts,
                latency_s=time.monotonic() - started if started else 0.0,
            )
        response.latency_s = time.monotonic() - started
        response.attempts = attempts
        return response

    async def _send(self, client: openai.AsyncOpenAI, request: Request) -> Response:
        model, kwargs = self.teacher["model"], _decoding(request.params)
        if request.messages is not None:
            result = await client.chat.completions.create(model=model, messages=request.messages, **kwargs)
        elif request.prompt is not None:
            result = await client.completions.create(model=model, prompt=request.prompt, **kwargs)
        else:
            raise ValueError("request has neither messages nor prompt")
        # A non-JSON body comes back as a str; a JSON one may lack choices: validate ourselves.
        choices = getattr(result, "choices", None)
        choice = choices[0] if isinstance(choices, list) and choices else None
        if request.messages is not None:
            text = getattr(getattr(choice, "message", None), "content", None)
        else:
            text = getattr(choice, "text", None)
        if not isinstance(text, str):
            raise MalformedResponse("2xx answer without choices[0] text")
        usage = getattr(result, "usage", None)
        return Response(
            text=text,
            finish_reason=getattr(choice, "finish_reason", None),
            prompt_tokens=getattr(usage, "prompt_tokens", None) or 0,
            completion_tokens=getattr(usage, "completion_tokens", None) or 0,
            model=getattr(result, "model", None),
        )
