"""Stage 2: a teacher LLM turns each seed of a shard into a problem and its solution.

For one seed shard: render each seed with the teacher's prompt template, look every
request up in the response cache, send only the misses to the backend (each response is
cached the moment it arrives), then write the generation shard and its stats atomically.
Every seed ends in the shard with a `status`; nothing is dropped here.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

from .backends import get_backend
from .backends.base import Request, Response
from .cache import ResponseCache, request_key
from .io import read_jsonl, write_json_atomic, write_jsonl_atomic
from .logs import Progress
from .parse import parse_response
from .prompts import Template, template_for

log = logging.getLogger("ossinstruct.generate")

# Record statuses.
OK = "ok"
TRUNCATED = "truncated"  # finish_reason "length": the teacher ran out of max_tokens
UNPARSEABLE = "unparseable"
REQUEST_FAILED = "request_failed"  # no response after every retry; asked again on rerun


class GenerationError(RuntimeError):
    pass


def decoding_params(teacher: dict, template: Template) -> dict:
    decoding = teacher["decoding"]
    stop = list(dict.fromkeys([*template.stop, *decoding.get("stop", [])]))
    return {
        "temperature": decoding["temperature"],
        "top_p": decoding["top_p"],
        "max_tokens": decoding["max_tokens"],
        "stop": stop,
    }


def model_id(teacher: dict) -> str:
    return f"{teacher['model']}@{teacher['revision']}" if teacher.get("revision") else teacher["model"]


def build_request(seed: dict, teacher: dict, template: Template, decoding: dict) -> Request:
    payload = template.render(seed["seed"])
    key = request_key(teacher["backend"], model_id(teacher), payload, decoding)
    return Request(key=key, params=decoding, **payload)


def classify(response: Response, template: Template) -> dict:
    """status, reason, problem and solution of one response."""
    if response.failed:
        return {"status": REQUEST_FAILED, "reason": response.error, "problem": None, "solution": None}
    parsed = parse_response(template.data.get("response_prefix", "") + (response.text or ""))
    if response.finish_reason == "length":
        status, reason = TRUNCATED, "finish_reason=length: the response hit max_tokens"
    elif parsed.ok:
        status, reason = OK, None
    else:
        status, reason = UNPARSEABLE, parsed.reason
    return {"status": status, "reason": reason, "problem": parsed.problem, "solution": parsed.solution}


@dataclass
class ShardResult:
    records: list[dict]
    stats: dict


def generate_records(
    seeds: list[dict],
    teacher_name: str,
    teacher: dict,
    cache: ResponseCache,
    prices: dict | None = None,
    label: str = "shard",
) -> ShardResult:
    started = time.monotonic()
    template = template_for(teacher)
    decoding = decoding_params(teacher, template)
    requests = [build_request(seed, teacher, template, decoding) for seed in seeds]

    responses, misses = cache.lookup(requests)  # the same snippet twice in a shard: one request
    cache_hits = len(responses)
    log.info("%s: %d seeds, %d cached, %d to request from %s", label, len(seeds), cache_hits,
             len(misses), teacher_name)

    sent_tokens = Counter()
    if misses:
        progress = Progress(log, label, total=len(misses), every_s=30, unit="requests")

        def on_response(request: Request, response: Response) -> None:
            cache.put(request.key, response)  # before anything else: it is paid for
            responses[request.key] = response
            if not response.failed:
                sent_tokens["prompt"] += response.prompt_tokens
                sent_tokens["completion"] += response.completion_tokens
            progress.step(failed=response.failed)

        backend = get_backend(teacher)
        try:
            backend.generate(list(misses.values()), on_response)
        finally:
            backend.close()
        unanswered = [k for k in misses if k not in responses]
        if unanswered:
            raise GenerationError(f"{label}: backend {teacher['backend']} gave no answer for "
                                  f"{len(unanswered)} requests")

    records = []
    for seed, request in zip(seeds, requests):
        response = responses[request.key]
        records.append({
            **seed,
            "teacher": teacher_name,
            "backend": teacher["backend"],
            "model": model_id(teacher),
            "template_id": template.id,
            "template_sha256": template.sha256,
            "decoding": decoding,
            "request_hash": request.key,
            **classify(response, template),
            "response": response.text,
            "finish_reason": response.finish_reason,
            "usage": {"prompt_tokens": response.prompt_tokens,
                      "completion_tokens": response.completion_tokens},
            "latency_s": round(response.latency_s, 3),
            "attempts": response.attempts,
        })

    stats = shard_stats(records, teacher, cache_hits, len(misses), sent_tokens, prices or {})
    stats["wall_s"] = round(time.monotonic() - started, 3)
    return ShardResult(records, stats)


def shard_stats(records, teacher, cache_hits, sent, sent_tokens, prices) -> dict:
    statuses = Counter(r["status"] for r in records)
    failures = Counter(r["reason"] for r in records if r["status"] != OK)
    unique = {r["request_hash"]: r for r in records}.values()
    total_tokens = {
        "prompt": sum(r["usage"]["prompt_tokens"] for r in unique),
        "completion": sum(r["usage"]["completion_tokens"] for r in unique),
    }
    price = prices.get(teacher["model"])

    def cost(tokens):
        if price is None:
            return None
        return round((tokens["prompt"] * price["prompt"] + tokens["completion"] * price["completion"]) / 1e6, 6)

    return {
        "model": model_id(teacher),
        "backend": teacher["backend"],
        "seeds": len(records),
        "unique_requests": len(unique),
        "cache_hits": cache_hits,
        "requests_sent": sent,
        "request_failures": statuses.get(REQUEST_FAILED, 0),
        "statuses": dict(sorted(statuses.items())),
        "failures_by_reason": dict(sorted(failures.items())),
        "tokens": total_tokens,
        "tokens_this_run": {"prompt": sent_tokens["prompt"], "completion": sent_tokens["completion"]},
        "price_per_million_tokens": price,
        "estimated_cost_usd": cost(total_tokens),
        "estimated_cost_usd_this_run": cost(sent_tokens),
    }


def generate_shard(
    seeds_path: str,
    output_path: str,
    stats_path: str,
    teacher_name: str,
    teacher: dict,
    cache_dir: str,
    prices: dict | None = None,
    max_request_failure_rate: float = 0.0,
) -> dict:
    """Generate one shard file; returns its stats. Raises GenerationError (writing no
    shard) when too many requests failed for good: the rerun asks only for those."""
    seeds = list(read_jsonl(seeds_path, required=("seed",), what="seed"))
    result = generate_records(seeds, teacher_name, teacher, ResponseCache(cache_dir), prices,
                              label=str(output_path))
    stats = result.stats
    failed = stats["request_failures"]
    if seeds and failed / len(seeds) > max_request_failure_rate:
        raise GenerationError(
            f"{output_path}: {failed} of {len(seeds)} requests failed for good "
            f"({stats['failures_by_reason']}); more than max_request_failure_rate="
            f"{max_request_failure_rate}. Received responses are cached; rerun to retry the rest."
        )
    write_jsonl_atomic(output_path, result.records)
    write_json_atomic(stats_path, stats)
    log.info("%s: %s", output_path, stats["statuses"])
    return stats


def teacher_identity(teacher: dict) -> dict:
    """The teacher settings that change what the teacher answers.

    The workflow passes this (not the whole teacher block) as the rule's params, so
    tuning concurrency, rate limits, timeouts, batch size or the endpoint URL never
    reruns finished shards; changing the model, prompt or decoding does.
    """
    template = template_for(teacher)
    identity = {
        "backend": teacher["backend"],
        "model": model_id(teacher),
        "mode": teacher["mode"],
        "template_id": template.id,
        "template_sha256": template.sha256,
        "decoding": decoding_params(teacher, template),
    }
    if teacher["backend"] != "openai":
        identity["dtype"] = teacher["dtype"]
    return identity
