"""What the study's teacher API calls cost: the estimate before a run, what was spent, and
the ceiling (`max_cost_usd`) that stops the generation jobs before it is crossed.

Prices come from the config's ``prices`` (USD per million prompt and completion tokens, by
model name). Only the ``openai`` backend is paid per token; local backends cost GPU time
(see the planning command), not money.

**Estimate** (:func:`estimate_study_cost`; printed by ``python -m ossinstruct cost`` and
``check-config``, and by the planning command). Per generation entry (teacher, corpus):
seeds (the quotas, or ``max_shards``) x (prompt tokens + completion tokens per request) x
price. Per request:

* prompt tokens: the template's own characters (rendered with an empty seed, exactly)
  plus the mean seed's, at CHARS_PER_TOKEN characters a token (OpenAI's rule of thumb
  for English text; its rate limiter estimates the same way). The mean seed is measured
  over the seed shards already drawn, else DEFAULT_SEED_CHARS;
* completion tokens: the teacher's ``expected_completion_tokens`` (an assumption, 600 by
  default), capped by ``max_tokens``;
* once generation shards exist, both come from their stats (``tokens`` / unique
  requests): measured, not assumed. Each row says which (``basis``).

Beside the study's total: ``spent`` (the ledgers below) and ``remaining`` (the shards not
yet written, at the estimated rate).

**Ledger.** Each generation job records what its shard paid (the usage of every answer
received, over all its attempts) in ``<cache_dir>/spend/<key>.json``, keyed by the shard's
output path, rewritten atomically after every answer. A cached answer costs nothing again.
The study's spend is the sum of its shards' ledgers (paths derived from the config: no
directory listing).

**Ceiling** (:class:`CostCeiling`, the openai backend's ``admit`` hook). Each running job
holds an *allowance* in its ledger: what it may commit (spend, plus its requests in flight
at their maximum cost: prompt estimate + max_tokens). A request that would take the job
past its allowance first tops it up: the job reads every other shard's ledger (the
largest of its spend and its allowance) and takes 1/``teacher_api_jobs`` of what is left
under ``max_cost_usd``, writing its new allowance before it sends. Since at most
``teacher_api_jobs`` jobs run at once and each takes that fraction of the rest it sees,
even jobs that top up at the same moment without seeing each other commit no more than
what was left: the study's spend stays under the ceiling. When the share left is less
than one request's maximum, the job sends nothing more: the requests in flight finish
(their answers are paid for, so they are cached), then the shard fails with
CostCeilingReached naming the figures and the config key; it stops at most
``teacher_api_jobs`` requests' worth below the ceiling. A job gives back what it did not
spend when it ends (also on SIGTERM); a killed job's allowance stays reserved until its
shard runs again. Lock-free (one file per shard, written by rename, read whole), so it
holds on Lustre and GPFS; on NFS, attribute caching can hide another job's new allowance
for up to its timeout (acregmax, default 60 s), during which the jobs can take more than
their fractions: mount with ``actimeo=0``, or leave that margin under the ceiling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from pathlib import Path

from ossinstruct.files import InputError, read_jsonl, write_json_atomic
from ossinstruct.llm.backends.base import Request, Response, StopSending

log = logging.getLogger("ossinstruct.generate.cost")

CHARS_PER_TOKEN = 4.0
# Mean seed length in characters: 1,600 seeds of the magicoder sampler (1-15 lines, 7.4
# on average) from Python 3.11.7's standard library, measured 2026-12-06 with
# sample_shard on a local corpus (path: null, quota 1600). starcoderdata's files differ;
# the estimate uses the drawn seeds' own mean as soon as shards exist.
DEFAULT_SEED_CHARS = 251


class CostCeilingReached(StopSending, InputError):
    """The study's teacher spend would pass max_cost_usd: no request is sent past it."""


# --------------------------------------------------------------------------- prices


def price_of(config: dict, teacher_name: str) -> dict | None:
    """{prompt, completion} in USD per million tokens of a teacher's model, or None: an
    unpriced model, or a backend not paid per token (vllm, transformers)."""
    teacher = config["teachers"][teacher_name]
    if teacher["backend"] != "openai":
        return None
    return config["prices"].get(teacher["model"])


def usd(price: dict, prompt_tokens: float, completion_tokens: float) -> float:
    return (prompt_tokens * price["prompt"] + completion_tokens * price["completion"]) / 1e6


# --------------------------------------------------------------------------- ledger


def ledger_path(cache_dir: str | os.PathLike, output_path: str | os.PathLike) -> Path:
    """Where the generation shard `output_path` records its spend (rule output paths are
    relative to the working directory, as the config's targets are)."""
    key = hashlib.sha256(os.path.normpath(str(output_path)).encode("utf-8")).hexdigest()[:32]
    return Path(cache_dir) / "spend" / f"{key}.json"


def read_ledger(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable spend ledger %s (%s)", path, exc)
        return None


class SpendLedger:
    """One shard's spend over all its attempts (the usage of every answer received) and
    the allowance its running job holds (see CostCeiling)."""

    def __init__(self, cache_dir: str | os.PathLike, output_path: str | os.PathLike, model: str, price: dict):
        self.path = ledger_path(cache_dir, output_path)
        self.output, self.model, self.price = str(output_path), model, price
        earlier = read_ledger(self.path) or {}
        self.prompt_tokens = int(earlier.get("prompt_tokens", 0))
        self.completion_tokens = int(earlier.get("completion_tokens", 0))
        self.usd = float(earlier.get("usd", 0.0))
        self.allowance = self.usd  # a new job holds nothing yet (a killed one's is void)

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.usd += usd(self.price, prompt_tokens, completion_tokens)
        self.write()

    def write(self) -> None:
        write_json_atomic(
            self.path,
            {
                "output": self.output,
                "model": self.model,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "usd": round(self.usd, 9),
                "allowance": round(max(self.allowance, self.usd), 9),
                "updated": time.time(),
            },
        )


def study_shards(config: dict) -> list[tuple[str, str]]:
    """(teacher, output path) of every generation shard the study targets."""
    from ossinstruct.workflow import generation_targets

    shards = []
    for entry in config["generations"]:
        targets = [t for t in generation_targets({**config, "generations": [entry]}) if t.endswith(".jsonl")]
        shards += [(entry["teacher"], t) for t in targets]
    return shards


def study_spent(config: dict, exclude: str | None = None, committed: bool = False) -> tuple[float, int]:
    """(USD recorded, shards with a ledger) over the study's shards, but `exclude`;
    `committed`: each shard's allowance where larger than its spend (a running job's)."""
    total, shards = 0.0, 0
    for _, output in study_shards(config):
        if exclude is not None and os.path.normpath(output) == os.path.normpath(exclude):
            continue
        entry = read_ledger(ledger_path(config["cache_dir"], output))
        if entry:
            spent = float(entry.get("usd", 0.0))
            total += max(spent, float(entry.get("allowance", 0.0))) if committed else spent
            shards += 1
    return total, shards


# --------------------------------------------------------------------------- ceiling


def _prompt_chars(request: Request) -> int:
    if request.prompt is not None:
        return len(request.prompt)
    return sum(len(str(m.get("content") or "")) for m in request.messages or [])


class CostCeiling:
    """The openai backend's `admit` hook and the job's answer accounting (see the module
    docstring for what it guarantees)."""

    def __init__(self, config: dict, teacher_name: str, output_path: str, price: dict):
        teacher = config["teachers"][teacher_name]
        self.config, self.output = config, str(output_path)
        self.max_usd = float(config["max_cost_usd"])
        self.jobs = int(config["teacher_api_jobs"])
        self.price = price
        self.ledger = SpendLedger(config["cache_dir"], output_path, teacher["model"], price)
        self.in_flight: dict[str, float] = {}
        self.top_ups = 0

    def request_max_usd(self, request: Request) -> float:
        prompt = math.ceil(_prompt_chars(request) / CHARS_PER_TOKEN)
        return usd(self.price, prompt, int(request.params.get("max_tokens") or 0))

    def committed(self) -> float:
        return self.ledger.usd + sum(self.in_flight.values())

    def admit(self, request: Request) -> None:
        most = self.request_max_usd(request)
        if self.committed() + most > self.ledger.allowance:
            self._top_up(most)
        self.in_flight[request.key] = most

    def _top_up(self, most: float) -> None:
        others, _ = study_spent(self.config, exclude=self.output, committed=True)
        committed = self.committed()
        share = (self.max_usd - others - committed) / self.jobs
        if share < most:
            raise CostCeilingReached(
                f"{self.output}: stopped before the study's teacher spend could pass max_cost_usd "
                f"${self.max_usd:.2f} (config key max_cost_usd): ${others + self.ledger.usd:.2f} spent or held "
                f"by running jobs (this shard ${self.ledger.usd:.2f}, ${committed - self.ledger.usd:.2f} in "
                f"flight), leaving a share of ${max(share, 0):.4f} under {self.jobs} job(s), less than the "
                f"${most:.4f} the next request may cost. Answers received are cached; raise max_cost_usd to "
                "go on (`python -m ossinstruct cost` estimates the rest)"
            )
        self.ledger.allowance = committed + share
        self.ledger.write()  # before the request is sent: the others see it
        self.top_ups += 1

    def answered(self, request: Request, response: Response) -> None:
        """An answer arrived (or the request failed for good): its usage is spent."""
        self.in_flight.pop(request.key, None)
        if not response.failed:
            self.ledger.add(response.prompt_tokens, response.completion_tokens)

    def release(self) -> None:
        """The job ends: give back the allowance it did not spend."""
        self.in_flight.clear()
        self.ledger.allowance = self.ledger.usd
        self.ledger.write()


def job_ceiling(config: dict, teacher_name: str, output_path: str) -> CostCeiling | None:
    """The ceiling of one generation job, or None (no max_cost_usd, or a teacher not paid
    per token)."""
    if config.get("max_cost_usd") is None:
        return None
    price = price_of(config, teacher_name)
    if price is None:
        return None
    return CostCeiling(config, teacher_name, output_path, price)


# --------------------------------------------------------------------------- estimate


def _measured_seed_chars(root: Path, corpus: str) -> tuple[float | None, int]:
    chars, seeds = 0, 0
    for path in sorted((root / "results" / "seeds" / corpus).glob("*/[0-9]*.jsonl")):
        for record in read_jsonl(path, what="seed"):
            chars += len(record.get("seed") or "")
            seeds += 1
    return (chars / seeds if seeds else None), seeds


def _measured_tokens(root: Path, shard_paths: list[str]) -> tuple[dict | None, int]:
    """Mean prompt and completion tokens per unique request over the finished shards' stats."""
    prompt = completion = requests = shards = 0
    for output in shard_paths:
        stats_path = root / (output.removesuffix(".jsonl") + ".stats.json")
        try:
            stats = json.loads(stats_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if stats.get("unique_requests"):
            prompt += stats["tokens"]["prompt"]
            completion += stats["tokens"]["completion"]
            requests += stats["unique_requests"]
            shards += 1
    if not requests:
        return None, 0
    return {"prompt": prompt / requests, "completion": completion / requests}, shards


def _template_chars(teacher: dict) -> int:
    from ossinstruct.generate.prompts import template_for

    payload = template_for(teacher).render("")
    if "prompt" in payload:
        return len(payload["prompt"])
    return sum(len(m["content"]) for m in payload["messages"])


def estimate_study_cost(config: dict, root: str | os.PathLike = ".") -> dict:
    """The study's teacher API cost (a validated config; `root` holds results/).

    Returns {"rows": [one per generation entry: teacher, corpus, model, backend, seeds,
    shards, shards_done, prompt_tokens_per_request, completion_tokens_per_request, basis,
    price (USD per million, or None), usd (or None), spent_usd, remaining_usd],
    "total_usd", "spent_usd", "remaining_usd", "max_cost_usd", "unpriced" (openai models
    without a price), "over_ceiling" (bool)}. `usd` totals are over the priced rows.
    """
    from ossinstruct.config import generation_languages
    from ossinstruct.seeds import sampling as seedlib
    from ossinstruct.workflow import generation_shards

    root = Path(root)
    rows, unpriced = [], []
    shards_of: dict[tuple[str, str], list[str]] = {}
    for teacher_name, output in study_shards(config):
        corpus = output.split("/")[3]
        shards_of.setdefault((teacher_name, corpus), []).append(output)
    for entry in config["generations"]:
        name, corpus = entry["teacher"], entry["corpus"]
        teacher = config["teachers"][name]
        seeds_per_shard = []
        for lang in generation_languages(config, entry):
            counts = seedlib.shard_counts(config, corpus, lang)
            seeds_per_shard += [counts[int(s)] for s in generation_shards(config, entry, lang)]
        outputs = shards_of.get((name, corpus), [])
        measured, shards_measured = _measured_tokens(root, outputs)
        if measured:
            prompt, completion = measured["prompt"], measured["completion"]
            basis = f"measured over {shards_measured} finished shard(s)"
        else:
            seed_chars, seeds_seen = _measured_seed_chars(root, corpus)
            basis = f"prompt: template + mean seed of {seeds_seen} drawn seeds" if seed_chars else "prompt: assumed"
            seed_chars = seed_chars or DEFAULT_SEED_CHARS
            prompt = (_template_chars(teacher) + seed_chars) / CHARS_PER_TOKEN
            max_tokens = teacher["decoding"]["max_tokens"]
            completion = min(teacher["expected_completion_tokens"], max_tokens)
            basis += f"; completion: assumed {completion} (expected_completion_tokens)"
        price = price_of(config, name)
        if price is None and teacher["backend"] == "openai":
            unpriced.append(teacher["model"])
        done = [o for o in outputs if (root / o).is_file()]
        remaining_seeds = sum(n for o, n in zip(outputs, seeds_per_shard) if not (root / o).is_file())
        spent = sum(float((read_ledger(ledger_path(config["cache_dir"], o)) or {}).get("usd", 0.0)) for o in outputs)
        seeds = sum(seeds_per_shard)
        rows.append(
            {
                "teacher": name,
                "corpus": corpus,
                "model": teacher["model"],
                "backend": teacher["backend"],
                "seeds": seeds,
                "shards": len(outputs),
                "shards_done": len(done),
                "prompt_tokens_per_request": round(prompt, 1),
                "completion_tokens_per_request": round(completion, 1),
                "basis": basis,
                "price": price,
                "usd": None if price is None else usd(price, seeds * prompt, seeds * completion),
                "spent_usd": spent,
                "remaining_usd": None
                if price is None
                else usd(price, remaining_seeds * prompt, remaining_seeds * completion),
            }
        )
    priced = [r for r in rows if r["usd"] is not None]
    total = sum(r["usd"] for r in priced)
    spent = sum(r["spent_usd"] for r in rows)
    remaining = sum(r["remaining_usd"] for r in priced)
    ceiling = config.get("max_cost_usd")
    return {
        "rows": rows,
        "total_usd": total,
        "spent_usd": spent,
        "remaining_usd": remaining,
        "max_cost_usd": ceiling,
        "unpriced": sorted(set(unpriced)),
        "over_ceiling": ceiling is not None and spent + remaining > ceiling,
    }


def format_cost(estimate: dict) -> str:
    """The estimate as a few lines of text (the cost command, check-config, onstart)."""
    lines = []
    for r in estimate["rows"]:
        money = (
            "not paid per token"
            if r["backend"] != "openai"
            else "no price"
            if r["usd"] is None
            else f"${r['usd']:,.2f}"
        )
        lines.append(
            f"{r['teacher']} on {r['corpus']}: {r['seeds']:,} seeds x ({r['prompt_tokens_per_request']:,.0f} prompt + "
            f"{r['completion_tokens_per_request']:,.0f} completion tokens) = {money} "
            f"[{r['shards_done']}/{r['shards']} shards done; {r['basis']}]"
        )
    ceiling = estimate["max_cost_usd"]
    lines.append(
        f"teacher API cost: ${estimate['total_usd']:,.2f} estimated for the study; ${estimate['spent_usd']:,.2f} "
        f"spent so far, ${estimate['remaining_usd']:,.2f} estimated for the shards left; max_cost_usd: "
        + ("none" if ceiling is None else f"${ceiling:,.2f}")
    )
    if estimate["unpriced"]:
        lines.append(f"no price for {', '.join(estimate['unpriced'])} (config key prices): not counted")
    if estimate["over_ceiling"]:
        lines.append(
            f"the estimate passes max_cost_usd: the generation jobs will stop before ${ceiling:,.2f} "
            "with shards left (raise max_cost_usd, or accept a partial run)"
        )
    return "\n".join(lines)
