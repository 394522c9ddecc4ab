"""Teacher backend "transformers": a local model, batched generation with Hugging Face.

For small teachers and machines without vLLM (the offline demo runs Gemma 3 270M on two
CPU cores with it). Requests are grouped by decoding parameters, sorted by prompt length
and cut into batches of `batch_size`, padded on the left. Each batch stops as soon as
every row has produced eos or one of its stop strings.

Semantics follow the OpenAI API, so that responses from every backend mean the same:
  * temperature 0 is greedy decoding; otherwise sampling with temperature and top_p only
    (no top-k, whatever the checkpoint's generation_config suggests);
  * the text ends before the first stop string (the stop string is not returned), and
    finish_reason is "stop" for a stop string or eos, "length" at max_tokens;
  * completion_tokens counts the tokens generated up to and including the one that
    completed the stop string (or the eos token): what the model actually produced.
    latency_s is the wall time of the whole batch the request was in.

A batch that raises (out of memory, ...) is retried in halves when it ran out of memory,
and otherwise reported as failed requests (Response.error); the next batch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ossinstruct.llm.backends.base import Backend, OnResponse, Request, Response, batch_key, normalize_decoding
from ossinstruct.llm.models import load_causal_lm, load_tokenizer

logger = logging.getLogger("ossinstruct.llm.backends.transformers")


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(self, teacher: dict):
        super().__init__(teacher)
        self.spec = teacher["model"]
        self.revision = teacher.get("revision")
        self.batch_size = int(teacher.get("batch_size") or 8)
        self.dtype = teacher.get("dtype") or "bfloat16"
        self.device_spec = teacher.get("device") or "auto"
        self.seed = int(teacher.get("seed") or 0)
        self.model = None
        self.tokenizer = None
        self.startup_s = None
        import transformers

        self.engine_version = f"transformers {transformers.__version__}"

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        """Load the tokenizer and model (once). generate() calls it when needed."""
        if self.model is not None:
            return
        start = time.monotonic()
        self.tokenizer = load_tokenizer(self.spec, self.revision, padding_side="left")
        self.model = load_causal_lm(self.spec, self.revision, dtype=self.dtype, device=self.device_spec)
        self.device = next(self.model.parameters()).device
        eos = set()
        for value in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if value is None:
                continue
            eos.update(value if isinstance(value, (list, tuple)) else [value])
        self.eos_ids = sorted(eos)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.eos_ids[0] if self.eos_ids else 0
        text_config = self.model.config.get_text_config()
        self.max_positions = getattr(text_config, "max_position_embeddings", None)
        self.startup_s = time.monotonic() - start
        logger.info("loaded %s on %s (%s) in %.1f s", self.spec, self.device, self.model.dtype, self.startup_s)

    def close(self) -> None:
        if self.model is None:
            return
        on_gpu = self.device.type == "cuda"
        self.model = self.tokenizer = None
        import gc

        gc.collect()
        if on_gpu:
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ prompts

    def _has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def _prompt_ids(self, request: Request) -> list[int]:
        if request.messages is not None:
            text = self.tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)
            # The template already wrote the special tokens (bos, turn markers).
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if request.prompt is None:
            raise ValueError(f"request {request.key} has neither prompt nor messages")
        return self.tokenizer(request.prompt, add_special_tokens=True)["input_ids"]

    # ------------------------------------------------------------------ generation

    def generate(self, requests: Sequence[Request], on_response: OnResponse) -> None:
        if not requests:
            return
        self.load()
        if any(r.messages is not None for r in requests) and not self._has_chat_template():
            raise ValueError(
                f"teacher model {self.spec!r} has no chat template (a base model?), so it "
                "cannot take chat messages: set `mode: completion` for this teacher (a "
                "few-shot prompt such as template oss-instruct-fewshot-v1)"
            )

        # Tokenize everything first: a request that cannot even be tokenized fails alone.
        groups: dict[str, list[tuple[Request, list[int]]]] = {}
        for request in requests:
            try:
                ids = self._prompt_ids(request)
                if self.max_positions and len(ids) >= self.max_positions:
                    raise ValueError(
                        f"prompt of {len(ids)} tokens does not fit the model's {self.max_positions} positions"
                    )
            except Exception as err:  # noqa: BLE001 - reported, never raised
                on_response(request, Response(None, None, model=self.spec, error=f"{type(err).__name__}: {err}"))
                continue
            groups.setdefault(batch_key(request.params), []).append((request, ids))

        batches = []
        for items in groups.values():
            items.sort(key=lambda item: len(item[1]), reverse=True)  # OOM shows up first
            for i in range(0, len(items), self.batch_size):
                batches.append(items[i : i + self.batch_size])
        total = sum(len(b) for b in batches)
        self._progress = {
            "done": 0,
            "total": total,
            "batches": 0,
            "n_batches": len(batches),
            "tokens": 0,
            "seconds": 0.0,
        }
        for batch in batches:
            self._run_batch(batch, on_response)

    def _run_batch(self, batch, on_response: OnResponse) -> None:
        start = time.monotonic()
        try:
            responses = self._generate_batch(batch)
        except torch.OutOfMemoryError as err:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(batch) > 1:
                half = len(batch) // 2
                logger.warning("out of memory on a batch of %d; retrying in halves", len(batch))
                self._progress["n_batches"] += 1
                self._run_batch(batch[:half], on_response)
                self._run_batch(batch[half:], on_response)
                return
            responses = self._failed(batch, err, time.monotonic() - start)
        except Exception as err:  # noqa: BLE001 - one batch's failure is not the run's
            logger.exception("batch of %d requests failed", len(batch))
            responses = self._failed(batch, err, time.monotonic() - start)
        # Outside the try: an exception of the callback itself is the caller's to see,
        # and must not make us report the same request twice.
        for (request, _), response in zip(batch, responses):
            on_response(request, response)
        self._log_batch(len(batch), sum(r.completion_tokens for r in responses), time.monotonic() - start)

    def _failed(self, batch, err: BaseException, seconds: float) -> list[Response]:
        message = f"{type(err).__name__}: {err}"
        return [Response(None, None, latency_s=seconds, model=self.spec, error=message) for _ in batch]

    def _log_batch(self, size: int, tokens: int, seconds: float) -> None:
        p = self._progress
        p["done"] += size
        p["batches"] += 1
        p["tokens"] += tokens
        p["seconds"] += seconds
        logger.info(
            "batch %d/%d (%d requests): %d/%d done, %d tokens in %.1f s (%.1f tok/s; %.1f tok/s overall)",
            p["batches"],
            p["n_batches"],
            size,
            p["done"],
            p["total"],
            tokens,
            seconds,
            tokens / seconds if seconds > 0 else 0.0,
            p["tokens"] / p["seconds"] if p["seconds"] > 0 else 0.0,
        )

    def _generate_batch(self, batch) -> list[Response]:
        start = time.monotonic()
        params = normalize_decoding(batch[0][0].params)
        # Rows may differ in max_tokens (a max_length budget): generate up to the largest and
        # cut each row at its own; a sampled batch is seeded by its first request's seed.
        budgets = [normalize_decoding(request.params)["max_tokens"] for request, _ in batch]
        params["max_tokens"] = max(budgets)
        stops = params["stop"]
        width = max(len(ids) for _, ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, ids) in enumerate(batch):
            if ids:
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1

        criterion = StopStringCriterion(self.tokenizer, stops, width)
        kwargs = {
            "max_new_tokens": params["max_tokens"],
            "pad_token_id": self.pad_id,
            "eos_token_id": self.eos_ids or None,
            "stopping_criteria": StoppingCriteriaList([criterion]) if stops else None,
        }
        if params["temperature"] > 0:
            kwargs.update(do_sample=True, temperature=params["temperature"], top_p=params["top_p"], top_k=0)
            torch.manual_seed(self.seed + params.get("seed", 0))
        else:
            kwargs.update(do_sample=False)
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                **kwargs,
            )
        new_tokens = output[:, width:].tolist()
        seconds = time.monotonic() - start

        eos = set(self.eos_ids)
        responses = []
        for row, (_, ids) in enumerate(batch):
            tokens = new_tokens[row][: budgets[row]]
            n_stop = criterion.stopped_at.get(row)
            if n_stop is not None and n_stop > len(tokens):  # stopped only past its own budget
                n_stop = None
            end = len(tokens) if n_stop is None else n_stop
            eos_at = next((j for j in range(end) if tokens[j] in eos), None)
            if eos_at is not None:
                text = self._decode(tokens[:eos_at])
                count, finish = eos_at + 1, "stop"
            else:
                text = self._decode(tokens[:end])
                count = end
                finish = "stop" if n_stop is not None else "length"
            cut = _first_stop(text, stops)
            if cut is not None:
                text, finish = text[:cut], "stop"
            responses.append(
                Response(
                    text=text,
                    finish_reason=finish,
                    prompt_tokens=len(ids),
                    completion_tokens=count,
                    latency_s=seconds,
                    model=self.spec,
                    extra={"engine": self.engine_version},
                )
            )
        return responses

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    positions = [p for p in (text.find(s) for s in stops) if p >= 0]
    return min(positions) if positions else None


class StopStringCriterion(StoppingCriteria):
    """Finish a row as soon as its generated text contains one of the stop strings.

    Each step decodes only the last few generated tokens of each unfinished row (enough
    to hold the longest stop string), so the check costs little next to a forward pass.
    `stopped_at[row]` is the number of generated tokens when the row stopped.
    """

    def __init__(self, tokenizer, stops: Sequence[str], prompt_width: int):
        self.tokenizer = tokenizer
        self.stops = list(stops)
        self.prompt_width = prompt_width
        self.window = 2 * max((len(s) for s in self.stops), default=0) + 8
        self.stopped_at: dict[int, int] = {}

    def __call__(self, input_ids, scores=None, **kwargs):
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        generated = input_ids.shape[1] - self.prompt_width
        if not self.stops or generated <= 0:
            return done
        first = max(self.prompt_width, input_ids.shape[1] - self.window)
        tails = input_ids[:, first:].tolist()
        for row, tail in enumerate(tails):
            if row in self.stopped_at:
                done[row] = True
                continue
            text = self.tokenizer.decode(tail, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            if any(s in text for s in self.stops):
                self.stopped_at[row] = generated
                done[row] = True
        return done
