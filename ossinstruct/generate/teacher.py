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

from ossinstruct.files import read_jsonl, write_json_atomic, write_jsonl_atomic
from ossinstruct.generate.parse import EMPTY_SOLUTION, parser_for, split_tests
from ossinstruct.generate.prompts import Template, template_for
from ossinstruct.llm.backends import get_backend
from ossinstruct.llm.backends.base import Request, Response
from ossinstruct.llm.cache import ResponseCache, request_key
from ossinstruct.logs import Progress

log = logging.getLogger("ossinstruct.generate.teacher")

# Record statuses. Only "ok" answers become samples: like the authors' generate_data.py,
# an answer whose finish_reason is not "stop" is never parsed into one.
OK = "ok"
TRUNCATED = "truncated"  # finish_reason "length": the teacher ran out of max_tokens
CONTENT_FILTERED = "content_filtered"  # finish_reason "content_filter"
TOOL_CALL = "tool_call"  # finish_reason "tool_calls" / "function_call"
NOT_STOPPED = "not_stopped"  # any other finish_reason, or none reported
UNPARSEABLE = "unparseable"
REQUEST_FAILED = "request_failed"  # no response after every retry; asked again on rerun
PROMPT_TOO_LONG = "prompt_too_long"  # no room left for an answer: never requested (theirs: skipped)
FINISH_STATUSES = {
    "length": TRUNCATED,
    "content_filter": CONTENT_FILTERED,
    "tool_calls": TOOL_CALL,
    "function_call": TOOL_CALL,
}


class GenerationError(RuntimeError):
    pass


def decoding_params(teacher: dict, template: Template) -> dict:
    """The teacher's decoding settings (its identity). A request's own params have
    `max_tokens` settled by :func:`request_max_tokens` and, with `request_seed`, a `seed`."""
    decoding = teacher["decoding"]
    stop = list(dict.fromkeys([*template.stop, *decoding.get("stop", [])]))
    params = {
        "temperature": decoding["temperature"],
        "top_p": decoding["top_p"],
        "max_tokens": decoding["max_tokens"],
        "stop": stop,
    }
    # The authors' budget and per-request OpenAI seed; absent keys keep older identities.
    for key in ("context_tokens", "context_margin", "request_seed"):
        if decoding.get(key) is not None:
            params[key] = decoding[key]
    return params


def _tiktoken_count(text: str, model: str) -> int:
    """Tokens of `text` for `model` as the authors count them (tiktoken.encoding_for_model;
    cl100k_base, gpt-3.5-turbo's encoding, for a model tiktoken does not know)."""
    try:
        import tiktoken  # lazy: only prompts near the context limit need it
    except ImportError as exc:
        raise GenerationError("counting prompt tokens needs tiktoken (pip install tiktoken)") from exc
    from ossinstruct.prefetch import require_tiktoken, tiktoken_encoding

    name = tiktoken_encoding(model) or "cl100k_base"
    require_tiktoken(name)  # offline and not cached: NotCached names it and the command
    try:
        encoding = tiktoken.get_encoding(name)
        return len(encoding.encode(text, disallowed_special=()))
    except Exception as exc:  # its BPE file is downloaded once, then cached
        raise GenerationError(
            f"tiktoken could not load its encoding for {model!r} ({type(exc).__name__}: {exc}); "
            f"it downloads the BPE file once (then TIKTOKEN_CACHE_DIR holds it: `python -m ossinstruct "
            f"prefetch --item tiktoken/{name}`)"
        ) from exc


def request_max_tokens(text: str, model: str, decoding: dict, count_tokens=None) -> int:
    """The authors' answer budget: min(max_tokens, context_tokens - prompt tokens - margin).

    The prompt is the user message (completion mode: the prompt), counted with tiktoken as
    in their generate_data.py. A cl100k token is at least one byte of UTF-8, so a prompt
    of at most context_tokens - margin - max_tokens bytes leaves max_tokens without a
    count: the tokenizer is needed only near the limit. <= 0: no room for an answer.
    """
    max_tokens = decoding["max_tokens"]
    context = decoding.get("context_tokens")
    if context is None:
        return max_tokens
    room = context - decoding.get("context_margin", 0)
    if len(text.encode("utf-8")) + max_tokens <= room:
        return max_tokens
    return min(max_tokens, room - (count_tokens or _tiktoken_count)(text, model))


def model_id(teacher: dict) -> str:
    return f"{teacher['model']}@{teacher['revision']}" if teacher.get("revision") else teacher["model"]


def build_request(seed: dict, teacher: dict, template: Template, decoding: dict) -> Request | None:
    """The seed's request, or None when its prompt leaves no room for an answer."""
    payload = template.render(seed["seed"])
    text = payload["prompt"] if "prompt" in payload else payload["messages"][-1]["content"]
    params = {k: decoding[k] for k in ("temperature", "top_p", "max_tokens", "stop")}
    params["max_tokens"] = request_max_tokens(text, teacher["model"], decoding)
    if params["max_tokens"] <= 0:
        return None
    if decoding.get("request_seed") is not None:  # theirs: seed=args.seed + index
        params["seed"] = int(decoding["request_seed"]) + int(seed.get("index") or 0)
    key = request_key(teacher["backend"], model_id(teacher), payload, params)
    return Request(key=key, params=params, **payload)


def classify(response: Response, template: Template, parser: str = "magicoder") -> dict:
    """status, reason, problem and solution of one response."""
    if response.failed:
        return {"status": REQUEST_FAILED, "reason": response.error, "problem": None, "solution": None}
    parsed = parser_for(parser)(template.data.get("response_prefix", "") + (response.text or ""))
    finish = response.finish_reason
    if finish == "stop":
        status, reason = (OK, None) if parsed.ok else (UNPARSEABLE, parsed.reason)
    elif finish == "length":
        status, reason = TRUNCATED, "finish_reason=length: the response hit max_tokens"
    else:
        status, reason = FINISH_STATUSES.get(finish, NOT_STOPPED), f"finish_reason={finish}"
    result = {"status": status, "reason": reason, "problem": parsed.problem, "solution": parsed.solution}
    if template.data.get("tests_section"):  # only these templates' records have the keys
        result.update(_tests_of(result))
    return result


def _tests_of(result: dict) -> dict:
    """`tests` and `tests_reason` of a tests-section template's record; the solution loses
    its [Tests] section (an empty remainder makes an ok record unparseable)."""
    if not result["solution"]:
        return {"tests": None, "tests_reason": result["reason"] or "no solution"}
    split = split_tests(result["solution"])
    out = {"solution": split.solution, "tests": split.tests, "tests_reason": split.reason}
    if not split.solution and result["status"] == OK:
        out.update(status=UNPARSEABLE, reason=EMPTY_SOLUTION)
    return out


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
    ceiling=None,
) -> ShardResult:
    """`ceiling`: the job's ossinstruct.generate.cost.CostCeiling (max_cost_usd), or None."""
    started = time.monotonic()
    template = template_for(teacher)
    decoding = decoding_params(teacher, template)
    requests = [build_request(seed, teacher, template, decoding) for seed in seeds]

    responses, misses = cache.lookup(
        [r for r in requests if r is not None]
    )  # the same snippet twice in a shard: one request
    cache_hits = len(responses)
    log.info("%s: %d seeds, %d cached, %d to request from %s", label, len(seeds), cache_hits, len(misses), teacher_name)

    sent_tokens = Counter()
    if misses:
        progress = Progress(log, label, total=len(misses), every_s=30, unit="requests")

        def on_response(request: Request, response: Response) -> None:
            cache.put(request.key, response)  # before anything else: it is paid for
            if ceiling is not None:
                ceiling.answered(request, response)
            responses[request.key] = response
            if not response.failed:
                sent_tokens["prompt"] += response.prompt_tokens
                sent_tokens["completion"] += response.completion_tokens
            progress.step(failed=response.failed)

        # Lazily: the openai client is this backend's dependency only (the data steps
        # import this module for its statuses).
        from ossinstruct.llm.backends.openai_api import TeacherUnavailable

        backend = get_backend(teacher)
        if ceiling is not None:
            backend.admit = ceiling.admit
        try:
            backend.generate(list(misses.values()), on_response)
        except TeacherUnavailable as exc:  # the model is gone or the key refused: every request would fail
            raise exc.named(teacher_name) from None
        finally:
            backend.close()
            if ceiling is not None:
                ceiling.release()
        unanswered = [k for k in misses if k not in responses]
        if unanswered:
            raise GenerationError(
                f"{label}: backend {teacher['backend']} gave no answer for {len(unanswered)} requests"
            )

    records = []
    for seed, request in zip(seeds, requests):
        if request is None:
            records.append(_too_long_record(seed, teacher_name, teacher, template, decoding))
            continue
        response = responses[request.key]
        records.append(
            {
                **seed,
                "teacher": teacher_name,
                "backend": teacher["backend"],
                "model": model_id(teacher),
                "template_id": template.id,
                "template_sha256": template.sha256,
                "decoding": {**decoding, **request.params},
                "request_hash": request.key,
                **classify(response, template, teacher.get("parser", "magicoder")),
                "response": response.text,
                "finish_reason": response.finish_reason,
                "usage": {"prompt_tokens": response.prompt_tokens, "completion_tokens": response.completion_tokens},
                "latency_s": round(response.latency_s, 3),
                "attempts": response.attempts,
            }
        )

    stats = shard_stats(records, teacher, cache_hits, len(misses), sent_tokens, prices or {})
    stats["wall_s"] = round(time.monotonic() - started, 3)
    return ShardResult(records, stats)


def _too_long_record(seed: dict, teacher_name: str, teacher: dict, template: Template, decoding: dict) -> dict:
    return {
        **seed,
        "teacher": teacher_name,
        "backend": teacher["backend"],
        "model": model_id(teacher),
        "template_id": template.id,
        "template_sha256": template.sha256,
        "decoding": decoding,
        "request_hash": None,
        "status": PROMPT_TOO_LONG,
        "reason": (
            f"the prompt leaves no room for an answer within context_tokens="
            f"{decoding.get('context_tokens')}; not requested"
        ),
        "problem": None,
        "solution": None,
        "response": None,
        "finish_reason": None,
        "usage": {"prompt_tokens": 0, "completion_tokens": 0},
        "latency_s": 0.0,
        "attempts": 0,
    }


def shard_stats(records, teacher, cache_hits, sent, sent_tokens, prices) -> dict:
    statuses = Counter(r["status"] for r in records)
    failures = Counter(r["reason"] for r in records if r["status"] != OK)
    unique = {r["request_hash"]: r for r in records if r["request_hash"]}.values()
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


def job_rate_limits(teacher: dict, api_jobs: int) -> dict:
    """The teacher block one generation job sends with: its requests_per_minute and
    tokens_per_minute are the account's limits, shared evenly by the `api_jobs` jobs the
    workflow lets call a teacher API at once (config key teacher_api_jobs, the llm_api
    resource's cap), so that together they stay within the account's."""
    shared = dict(teacher)
    for key in ("requests_per_minute", "tokens_per_minute"):
        if teacher.get(key):
            shared[key] = teacher[key] / api_jobs
    if api_jobs > 1 and (teacher.get("requests_per_minute") or teacher.get("tokens_per_minute")):
        log.info(
            "rate limits: this job's share, 1/%d of the account's: %s requests/min, %s tokens/min",
            api_jobs,
            f"{shared['requests_per_minute']:g}" if shared.get("requests_per_minute") else "unlimited",
            f"{shared['tokens_per_minute']:g}" if shared.get("tokens_per_minute") else "unlimited",
        )
    return shared


def generate_shard(
    seeds_path: str,
    output_path: str,
    stats_path: str,
    teacher_name: str,
    teacher: dict,
    cache_dir: str,
    prices: dict | None = None,
    max_request_failure_rate: float = 0.0,
    api_jobs: int = 1,
    ceiling=None,
) -> dict:
    """Generate one shard file; returns its stats. Raises GenerationError (writing no
    shard) when too many requests failed for good: the rerun asks only for those.
    `api_jobs`: the generation jobs that may run at once, sharing the rate limits;
    `ceiling`: the study's cost ceiling (ossinstruct.generate.cost.job_ceiling), or None."""
    seeds = list(read_jsonl(seeds_path, required=("seed",), what="seed"))
    if teacher["backend"] == "openai":
        teacher = job_rate_limits(teacher, api_jobs)
    result = generate_records(
        seeds, teacher_name, teacher, ResponseCache(cache_dir), prices, label=str(output_path), ceiling=ceiling
    )
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


def preflight_teacher(name: str, teacher: dict) -> None:
    """Before any job: an OpenAI-compatible teacher's endpoint must serve its model to its
    key (TeacherUnavailable otherwise, naming the model and the config key). Local backends
    load their model in the job (ossinstruct.llm.models says when it is not cached)."""
    if teacher["backend"] == "openai":
        from ossinstruct.llm.backends.openai_api import check_model

        check_model(teacher, name)


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
        "parser": teacher.get("parser", "magicoder"),
    }
    if teacher["backend"] != "openai":
        identity["dtype"] = teacher["dtype"]
    return identity
