"""Teacher backend "vllm": offline batched generation with vLLM's `LLM` class.

On a cluster: `pip install -e '.[vllm]'` (the CUDA build; envs/vllm.yaml). On a machine
without a GPU, vLLM's CPU build runs the same code (`make vllm-env`: .venv-vllm, the
project's tests of this backend); there `VLLM_CPU_KVCACHE_SPACE` (GiB) sizes the KV cache.
vLLM (and torch) are imported when the backend is constructed, never when this module is
imported. A script that constructs it needs the `if __name__ == "__main__":` guard: vLLM's
engine core is a spawned process.

Requests stream through the engine: up to `max_in_flight` of them are queued in it at
once (continuous batching schedules them), more are added as others finish, and each
finished request is reported through `on_response` at once, so a killed job loses only
the requests still in the engine. Each request has its own `SamplingParams` (max_tokens
and seed differ between requests; see `sampling_kwargs`). A request vLLM refuses (a
prompt longer than the context) fails alone; an engine that dies fails the requests left.

Decoding follows the OpenAI API, like the other backends: temperature 0 is greedy, the
text ends before the first stop string, finish_reason is "stop" or "length".
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from contextlib import contextmanager

from ossinstruct.llm.backends.base import Backend, OnResponse, Request, Response, normalize_decoding
from ossinstruct.llm.models import checkpoint_source

logger = logging.getLogger("ossinstruct.llm.backends.vllm")

INSTALL_HINT = (
    "the vllm teacher backend needs the vllm package: pip install -e '.[vllm]' (on a CUDA GPU "
    "machine; envs/vllm.yaml), or vLLM's CPU build (`make vllm-env`, then run under .venv-vllm), "
    "or use backend: transformers"
)
LOG_EVERY_S = 30.0


class VLLMBackend(Backend):
    name = "vllm"
    # Requests queued in the engine at once: enough to keep its batches full between the
    # moments new ones are added; the engine holds only their prompts until it schedules them.
    max_in_flight = 4096

    def __init__(self, teacher: dict):
        super().__init__(teacher)
        # vLLM's own logging set-up (logging.config.dictConfig) closes every handler already
        # installed, the job's log file included: its loggers propagate to ours instead.
        os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")
        try:
            import vllm
        except ImportError as err:
            raise ImportError(f"{INSTALL_HINT} ({err})") from err
        self.vllm = vllm
        self.spec = teacher["model"]
        self.engine_version = f"vllm {vllm.__version__}"
        self.llm_kwargs = llm_kwargs(teacher)
        logger.info("starting %s: %s", self.engine_version, self.llm_kwargs)
        start = time.monotonic()
        with engine_thread_environment():
            self.llm = vllm.LLM(**self.llm_kwargs)
        self.startup_s = time.monotonic() - start
        parallel = getattr(getattr(self.llm.llm_engine, "vllm_config", None), "parallel_config", None)
        self.tensor_parallel_size = getattr(parallel, "tensor_parallel_size", None)
        logger.info("vLLM ready in %.1f s (tensor_parallel_size %s)", self.startup_s, self.tensor_parallel_size)

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            shutdown = getattr(engine, "shutdown", None) or getattr(
                getattr(engine, "engine_core", None), "shutdown", None
            )
            if callable(shutdown):
                try:
                    shutdown()  # stop the engine core process now, not at interpreter exit
                except Exception:  # noqa: BLE001 - closing is best effort
                    logger.debug("vLLM shutdown failed", exc_info=True)
        del llm
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

    def _failure(self, err: BaseException, seconds: float = 0.0) -> Response:
        return Response(None, None, latency_s=seconds, model=self.spec, error=f"{type(err).__name__}: {err}")

    def _enqueue(self, request: Request) -> str:
        """Add one request to the engine; its request id as outputs carry it. Raises what vLLM
        raises for the request."""
        sampling = self.sampling_params(request.params)
        if request.messages is not None:
            ids = self.llm.enqueue_chat([request.messages], sampling, use_tqdm=False)
        elif request.prompt is not None:
            ids = self.llm.enqueue([request.prompt], sampling, use_tqdm=False)
        else:
            raise ValueError("request has neither prompt nor messages")
        (request_id,) = ids
        # LLM numbers its requests; the engine returns its internal id (that number, "-",
        # and 8 random characters) while the outputs and abort_request use the number.
        return request_id.split("-", 1)[0]

    def generate(self, requests: Sequence[Request], on_response: OnResponse) -> None:
        if not requests:
            return
        if any(r.messages is not None for r in requests):
            self._check_chat_template()
        engine = self.llm.llm_engine
        waiting = deque(requests)
        in_flight: dict[str, tuple[Request, float]] = {}
        total, done, tokens, failed = len(requests), 0, 0, 0
        start = last_log = time.monotonic()
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < self.max_in_flight:
                    request = waiting.popleft()
                    try:
                        in_flight[self._enqueue(request)] = (request, time.monotonic())
                    except Exception as err:  # noqa: BLE001 - this request fails alone
                        done, failed = done + 1, failed + 1
                        on_response(request, self._failure(err))
                if not in_flight:
                    continue
                try:
                    outputs = engine.step()
                except Exception as err:  # noqa: BLE001 - the engine is gone: the rest fail
                    logger.exception("the vLLM engine failed with %d requests in flight", len(in_flight))
                    lost = [request for request, _ in in_flight.values()] + list(waiting)
                    in_flight.clear()
                    waiting.clear()
                    for request in lost:
                        on_response(request, self._failure(err))
                    return
                for output in outputs:
                    if not output.finished or output.request_id not in in_flight:
                        continue
                    request, submitted = in_flight.pop(output.request_id)
                    response = to_response(output, time.monotonic() - submitted, self.spec, self.engine_version)
                    done, tokens, failed = done + 1, tokens + response.completion_tokens, failed + response.failed
                    on_response(request, response)
                now = time.monotonic()
                if now - last_log >= LOG_EVERY_S or (not waiting and not in_flight):
                    last_log = now
                    logger.info(
                        "%d/%d done (%d failed), %d in the engine; %d tokens in %.1f s (%.1f tok/s)",
                        done,
                        total,
                        failed,
                        len(in_flight),
                        tokens,
                        now - start,
                        tokens / (now - start) if now > start else 0.0,
                    )
        finally:
            if in_flight:  # on_response raised (a broken cache): stop what the engine still runs
                try:
                    engine.abort_request(list(in_flight))
                except Exception:  # noqa: BLE001 - the original exception is the one to see
                    logger.debug("aborting %d requests failed", len(in_flight), exc_info=True)


# The thread counts Snakemake puts in every job's environment (the rule's threads), for
# NumPy/BLAS-style libraries. vLLM sizes and binds its own processes' threads (on CPU,
# VLLM_CPU_OMP_THREADS_BIND: one core per worker, one kept for the engine core), and these
# must not reach them: with MKL_NUM_THREADS=2 the CPU worker's matmuls ran two MKL threads
# on its one bound core, at 6.1 tokens/s instead of 31.5 (bench/vllm_threads.py, 2026-12-06).
JOB_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@contextmanager
def engine_thread_environment():
    """The environment vLLM's engine processes are spawned with: without the job's thread
    counts (JOB_THREAD_VARIABLES), which are restored afterwards for the job itself."""
    removed = {name: os.environ.pop(name) for name in JOB_THREAD_VARIABLES if name in os.environ}
    if removed:
        logger.info("vLLM sizes its own threads: started without %s", ", ".join(f"{k}={v}" for k, v in removed.items()))
    try:
        yield
    finally:
        os.environ.update(removed)


def llm_kwargs(teacher: dict) -> dict:
    """Keyword arguments of vllm.LLM for one teacher config block. A GGUF file or an
    embedded model is read from its converted checkpoint (`checkpoint_source`): the same
    weights as the transformers engine, and vLLM's CPU build has no GGUF kernels."""
    model, revision = checkpoint_source(teacher["model"], teacher.get("revision"))
    kwargs: dict = {"model": model}
    if revision:
        kwargs["revision"] = revision
    kwargs.update(
        dtype=teacher.get("dtype") or "auto",
        tensor_parallel_size=int(teacher.get("tensor_parallel_size") or 1),
        gpu_memory_utilization=float(teacher.get("gpu_memory_utilization") or 0.9),
        seed=int(teacher.get("seed") or 0),
    )
    if teacher.get("max_model_len"):
        kwargs["max_model_len"] = int(teacher["max_model_len"])
    if teacher.get("enforce_eager"):
        kwargs["enforce_eager"] = True
    return kwargs


def sampling_kwargs(params: dict) -> dict:
    """Keyword arguments of vllm.SamplingParams for one request's decoding parameters."""
    return normalize_decoding(params)


def to_response(output, seconds: float, model: str, engine: str | None = None) -> Response:
    """One finished vllm RequestOutput as a Response."""
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
        extra={"engine": engine} if engine else {},
    )
