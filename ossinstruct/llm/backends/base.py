"""The one interface every teacher backend implements.

A backend takes a batch of `Request`s and reports one `Response` per request through a
callback, as soon as that request is finished. The caller (ossinstruct.generate.teacher) writes
each response to the cache inside the callback, so a killed job loses only the requests
still in flight.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Request:
    key: str  # content hash of (backend, model, prompt or messages, decoding); the cache key
    params: dict  # decoding: temperature, top_p, max_tokens, stop (list of strings)
    prompt: str | None = None  # completion mode
    messages: list[dict] | None = None  # chat mode: [{"role": ..., "content": ...}]


@dataclass
class Response:
    text: str | None
    finish_reason: str | None  # "stop" or "length"; None when the request failed
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    model: str | None = None  # the model name the server reported, if any
    error: str | None = None  # set when the request failed for good (retries exhausted)
    attempts: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Response:
        return cls(**data)


OnResponse = Callable[[Request, Response], None]


class StopSending(RuntimeError):
    """Raised by a backend's `admit` hook: send no further request (the cost ceiling). The
    requests already in flight finish and are reported; then `generate` raises it."""


DEFAULT_MAX_TOKENS = 2048


def normalize_decoding(params: dict) -> dict:
    """A request's decoding parameters with types and defaults settled, for local engines:
    temperature (0 = greedy), top_p, max_tokens, and the non-empty stop strings."""
    stop = params.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    max_tokens = params.get("max_tokens")
    decoding = {
        "temperature": float(params.get("temperature") or 0.0),
        "top_p": float(params.get("top_p") if params.get("top_p") is not None else 1.0),
        "max_tokens": int(max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS),
        "stop": [s for s in stop if s],
    }
    if params.get("seed") is not None:  # a sampled evaluation's sample index
        decoding["seed"] = int(params["seed"])
    return decoding


def batch_key(params: dict) -> str:
    """What requests batched together must share: their decoding less the per-request
    max_tokens and seed (each row gets its own budget; see the backends)."""
    import json

    decoding = normalize_decoding(params)
    return json.dumps({k: v for k, v in decoding.items() if k not in ("max_tokens", "seed")}, sort_keys=True)


class Backend(ABC):
    """A teacher backend, built from one `teachers.<name>` config block."""

    name: str = ""
    # Called with each request before it is first sent, by backends that pay per request
    # (openai); raising StopSending stops sending (ossinstruct.generate.cost's ceiling).
    admit: Callable[[Request], None] | None = None

    def __init__(self, teacher: dict):
        self.teacher = teacher

    @abstractmethod
    def generate(self, requests: Sequence[Request], on_response: OnResponse) -> None:
        """Call `on_response(request, response)` exactly once per request.

        A request that fails for good is reported with `response.error` set; it must not
        raise, so that one bad request never discards the others' paid-for responses.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models, connections, GPU memory."""
