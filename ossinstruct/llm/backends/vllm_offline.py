"""Teacher backend "vllm": offline batched generation on GPU with vLLM's `LLM` class.

Install with `pip install -e '.[vllm]'` on a machine with a CUDA GPU. vLLM (and torch)
are imported when the backend is constructed, never when this module is imported.

Requests go to vLLM in chunks (`chunk_size`, 1024 by default): vLLM schedules each chunk
with continuous batching, and every response of a finished chunk is reported through
`on_response` before the next chunk starts, so a killed job loses at most one chunk.
Requests are grouped by mode (chat or completion) and by decoding parameters, one
`SamplingParams` per group.

Decoding follows the OpenAI API, like the other backends: temperature 0 is greedy, the
text ends before the first stop string, finish_reason is "stop" or "length".
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Sequence

from ossinstruct.llm.backends.base import Backend, OnResponse, Request, Response, batch_key, normalize_decoding
from ossinstruct.llm.models import resolve_model

logger = logging.getLogger("ossinstruct.llm.backends.vllm")

INSTALL_HINT = (
    "the vllm teacher backend needs the vllm package and a CUDA GPU: "
    "pip install -e '.[vllm]' (on the GPU machine), or use backend: transformers"
)


class VLLMBackend(Backend):
    name = "vllm"
    chunk_size = 1024

    def __init__(self, teacher: dict):
        super().__init__(teacher)
        try:
            import vllm
        except ImportError as err:
            raise ImportError(f"{INSTALL_HINT} ({err})") from err
        self.vllm = vllm
        self.spec = teacher["model"]
        self.llm_kwargs = llm_kwargs(teacher)
        logger.info("starting vLLM: %s", self.llm_kwargs)
        start = time.monotonic()
        self.llm = vllm.LLM(**self.llm_kwargs)
        logger.info("vLLM ready in %.1f s", time.monotonic() - start)

    def close(self) -> None:
        self.llm = None
        gc.collect()

    def sampling_params(self, params: dict):
        return self.vllm.SamplingParams(**sampling_kwargs(params))

    def _check_chat_template(self) -> None:
        try:
            tokenizer = self.llm.get_tokenizer()
        except Exception:  # noqa: BLE001 - the check is a courtesy, vLLM will say more
            return
        if not getattr(tokenizer, "chat_template", True):
            raise ValueError(
                f"teacher model {self.spec!r} has no chat template (a base model?), so it "
                "cannot take chat messages: set `mode: completion` for this teacher (a "
                "few-shot prompt such as template oss-instruct-fewshot-v1)"
            )

    def generate(self, requests: Sequence[Request], on_response: OnResponse) -> None:
        if not requests:
            return
        if any(r.messages is not None for r in requests):
            self._check_chat_template()
        groups: dict[tuple, list[Request]] = {}
        for request in requests:
            if request.messages is None and request.prompt is None:
                on_response(
                    request, Response(None, None, model=self.spec, error="request has neither prompt nor messages")
                )
                continue
            mode = "chat" if request.messages is not None else "completion"
            groups.setdefault((mode, batch_key(request.params)), []).append(request)

        total = sum(len(g) for g in groups.values())
        done = tokens = 0
        for (mode, _), group in groups.items():
            for i in range(0, len(group), self.chunk_size):
                chunk = group[i : i + self.chunk_size]
                # One SamplingParams per request: requests of a group differ at most in
                # max_tokens (a max_length budget) and seed (a sampled evaluation's sample).
                distinct = {json.dumps(sampling_kwargs(r.params), sort_keys=True) for r in chunk}
                if len(distinct) == 1:
                    sampling = self.sampling_params(chunk[0].params)
                else:
                    sampling = [self.sampling_params(r.params) for r in chunk]
                start = time.monotonic()
                try:
                    if mode == "chat":
                        outputs = self.llm.chat([r.messages for r in chunk], sampling, use_tqdm=False)
                    else:
                        outputs = self.llm.generate([r.prompt for r in chunk], sampling, use_tqdm=False)
                    seconds = time.monotonic() - start
                    if len(outputs) != len(chunk):
                        raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(chunk)} requests")
                    responses = [to_response(out, seconds, self.spec) for out in outputs]
                except Exception as err:  # noqa: BLE001 - one chunk's failure is not the run's
                    logger.exception("a chunk of %d requests failed", len(chunk))
                    seconds = time.monotonic() - start
                    responses = [
                        Response(None, None, latency_s=seconds, model=self.spec, error=f"{type(err).__name__}: {err}")
                        for _ in chunk
                    ]
                for request, response in zip(chunk, responses):
                    on_response(request, response)
                done += len(chunk)
                chunk_tokens = sum(r.completion_tokens for r in responses)
                tokens += chunk_tokens
                logger.info(
                    "%d/%d done; chunk of %d: %d tokens in %.1f s (%.0f tok/s)",
                    done,
                    total,
                    len(chunk),
                    chunk_tokens,
                    seconds,
                    chunk_tokens / seconds if seconds > 0 else 0.0,
                )


def llm_kwargs(teacher: dict) -> dict:
    """Keyword arguments of vllm.LLM for one teacher config block."""
    source, gguf = resolve_model(teacher["model"], teacher.get("revision"))
    kwargs: dict = {}
    if gguf is not None:
        # vLLM reads a GGUF file given as the model; the tokenizer is read from the same
        # file (a hub id of the original model would also do, but is not offline).
        path = os.path.join(source, gguf)
        kwargs.update(model=path, tokenizer=path)
    else:
        kwargs["model"] = source
        if teacher.get("revision") and not os.path.isdir(source):
            kwargs["revision"] = teacher["revision"]
    kwargs.update(
        dtype=teacher.get("dtype") or "auto",
        tensor_parallel_size=int(teacher.get("tensor_parallel_size") or 1),
        gpu_memory_utilization=float(teacher.get("gpu_memory_utilization") or 0.9),
        seed=int(teacher.get("seed") or 0),
    )
    if teacher.get("max_model_len"):
        kwargs["max_model_len"] = int(teacher["max_model_len"])
    return kwargs


def sampling_kwargs(params: dict) -> dict:
    """Keyword arguments of vllm.SamplingParams for one request's decoding parameters."""
    return normalize_decoding(params)


def to_response(output, seconds: float, model: str) -> Response:
    """One vllm RequestOutput as a Response."""
    completion = output.outputs[0]
    finish = completion.finish_reason
    error = None
    if finish not in ("stop", "length"):
        error = f"vLLM finished the request with reason {finish!r}"
    return Response(
        text=completion.text if error is None else None,
        finish_reason=finish if error is None else None,
        prompt_tokens=len(output.prompt_token_ids or []),
        completion_tokens=len(completion.token_ids or []),
        latency_s=seconds,
        model=model,
        error=error,
    )
