"""The study's downloads: which items (ossinstruct/prefetch.py) each job of the study needs,
and rule prefetch's step, which fetches one of them.

Apart from ossinstruct/prefetch.py because it reads the whole study (the config, the
workflow's targets, the benchmark registry), while prefetch.py is what every loader
imports to find a download in the cache: the loaders sit below the workflow, this module
above it.
"""

from __future__ import annotations

import logging
import time

from ossinstruct import workflow as wf
from ossinstruct.benchmarks import REGISTRY
from ossinstruct.config import dataset_specs, evaluated_models
from ossinstruct.files import InputError, write_json_atomic
from ossinstruct.prefetch import (
    Item,
    cache_dir,
    fetch,
    hub_id,
    hub_source_item,
    marker_path,
    model_item,
    tiktoken_encoding,
)

log = logging.getLogger("ossinstruct.study_downloads")


def items_by_consumer(config: dict) -> dict[tuple[str, str], list[Item]]:
    """{(rule, job key): the items its jobs need}: generate (teacher), train (checkpoint),
    eval_generate (model), eval_data (benchmark), benchmark_strings (benchmark),
    ingest_evol (dataset)."""
    needs: dict[tuple[str, str], list[Item]] = {}

    def add(rule: str, key: str, item: Item | None) -> None:
        if item is not None:
            needs.setdefault((rule, key), []).append(item)

    generating = {e["teacher"] for e in config["generations"]}
    generating |= {g["teacher"] for d in config["datasets"] for g in d.get("generations", [])}
    for name in sorted(generating):
        teacher = config["teachers"][name]
        where = f"teachers.{name}.model"
        if teacher["backend"] in ("vllm", "transformers") and hub_id(teacher["model"]):
            add("generate", name, model_item(teacher["model"], teacher.get("revision"), where))
        if teacher["backend"] == "openai" and teacher["decoding"].get("context_tokens"):
            encoding = tiktoken_encoding(teacher["model"])
            if encoding:
                add("generate", name, Item(f"tiktoken/{encoding}", "tiktoken", {"encoding": encoding}, (where,)))
    for checkpoint in wf.checkpoint_names(config):
        base = wf.checkpoint_base(config, checkpoint)
        if "model" in base and hub_id(base["model"]):
            add("train", checkpoint, model_item(base["model"], base.get("revision"), f"models ({checkpoint}).base"))
    for name, spec in evaluated_models(config).items():
        if not spec["trained"] and hub_id(spec["model"]):
            add("eval_generate", name, model_item(spec["model"], spec["revision"], f"evaluation.models ({name})"))
    for benchmark in config["decontamination"]["benchmarks"]:
        add(
            "benchmark_strings",
            benchmark,
            hub_source_item(wf.benchmark_source(config, benchmark), f"decontamination.sources.{benchmark}"),
        )
    for benchmark in config["evaluation"]["benchmarks"]:
        if wf.eval_data_path(config, benchmark):
            continue
        plugin = REGISTRY[benchmark]
        where = f"evaluation.data.{benchmark}"
        release = plugin.release_name
        if release:  # HumanEval+, MBPP+: evalplus's GitHub release
            version = (config["evaluation"]["data"].get(benchmark) or {}).get("version") or plugin.paper_release
            add(
                "eval_data",
                benchmark,
                Item(f"evalplus/{release}@{version}", "evalplus", {"release": release, "version": version}, (where,)),
            )
        else:
            add("eval_data", benchmark, hub_source_item(dict(plugin.default_source), where))
    for name, spec in dataset_specs(config).items():
        if "evol" in spec:
            add("ingest_evol", name, hub_source_item({"split": "train", **spec["evol"]}, f"datasets.{name}.evol"))
    return needs


def study_items(config: dict, needs: dict | None = None) -> dict[str, Item]:
    """Every item the study's jobs need, by name (each once, with every config key needing
    it); `needs`: items_by_consumer(config), when already computed."""
    items: dict[str, Item] = {}
    for found in (needs if needs is not None else items_by_consumer(config)).values():
        for item in found:
            known = items.get(item.name)
            spec = dict(item.spec)
            if known is not None:
                # One repository read two ways (e.g. APPS's test file, and all of it):
                # the union of the files, or the whole repository when one needs it.
                mine, theirs = spec.get("allow_patterns"), known.spec.get("allow_patterns")
                spec.pop("allow_patterns", None)
                if mine and theirs:
                    spec["allow_patterns"] = sorted(set(mine) | set(theirs))
            why = tuple(dict.fromkeys((*(known.why if known else ()), *item.why)))
            items[item.name] = Item(item.name, item.kind, spec, why)
    return items


def markers_for(config: dict, rule: str, key: str, needs: dict | None = None) -> list[str]:
    """The markers a job of `rule` (for `key`: its teacher, checkpoint, model, benchmark or
    dataset) needs before it can run offline; `needs` as in study_items."""
    needs = needs if needs is not None else items_by_consumer(config)
    return [marker_path(config, item.name) for item in needs.get((rule, key), [])]


def prefetch_item(config: dict, name: str, marker: str | None = None) -> dict:
    """Rule prefetch's step (and the CLI's): fetch item `name` of the study, then write
    its marker; returns the marker's content."""
    items = study_items(config)
    if name not in items:
        raise InputError(
            f"no download named {name!r} in this study; its downloads: {', '.join(sorted(items)) or 'none'}"
        )
    item = items[name]
    log.info("fetching %s (needed by config key %s)", name, ", ".join(item.why))
    info = fetch(item, cache_dir(config))
    info["fetched_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_json_atomic(marker or marker_path(config, name), info)
    log.info("fetched %s: %s", name, {k: v for k, v in info.items() if k in ("commit", "files", "bytes", "tasks")})
    return info
