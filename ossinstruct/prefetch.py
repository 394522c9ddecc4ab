"""Downloads before the first run: everything a job would fetch from the network, fetched
once where the network is, into a shared cache; then every job runs offline.

Compute nodes often have no internet. What the study's jobs would otherwise fetch at run
time, on those nodes, are the *items* of this module (which jobs need which:
ossinstruct/study_downloads.py):

* ``model/<repo>@<revision>``: a hub model, by snapshot_download into the hub cache: the
  base model of a training stage, a model evaluated as it is (vLLM or transformers), a
  local teacher (backend vllm or transformers). Weights in safetensors only when the repo
  has them (not also its .bin/.pth copies: half the bytes of CodeLlama's repository);
* ``dataset/<repo>@<revision>``: a hub dataset repository (Evol-Instruct, the
  decontamination sources, MultiPL-E, DS-1000, APPS), whose files the loaders then read
  from the local snapshot (ossinstruct.benchmarks.sources, ossinstruct.curate.evol);
* ``evalplus/<release>@<version>``: a HumanEval+ or MBPP+ release file from GitHub
  (evalplus's own URL), stored as ``<cache>/evalplus/<release>-<version>.jsonl``, where
  ossinstruct.benchmarks.evalplus.data reads it;
* ``tiktoken/<encoding>``: the BPE file tiktoken counts a teacher's prompt tokens with
  (the authors' max_tokens budget), under TIKTOKEN_CACHE_DIR.

The seed corpora are not items: rule seed_pool reads each language's pool once
(ossinstruct/seeds/pool.py). Both kinds of download run as localrules, on the machine
where snakemake runs (the login node: it has the network), before the jobs that need them.

Rule prefetch fetches one item and writes its marker ``<cache>/ready/<item>.json``
(what was fetched: commit, files, bytes, when). The rules that need an item take its
marker as an input that is never a rerun trigger by itself (ancient). So
`snakemake --profile slurm` fetches what is missing first, on the login node, and
`snakemake --until prefetch` fetches everything without running anything else.
`python -m ossinstruct prefetch` does the same without Snakemake (``--item NAME`` fetches
one again, e.g. after its files were deleted).

The workflow sets, for every job (:func:`job_environment`): HF_HOME, HF_HUB_CACHE,
HF_DATASETS_CACHE and TIKTOKEN_CACHE_DIR under ``downloads.cache_dir`` (shared: on a
cluster, a filesystem the nodes mount), HF_TOKEN_PATH to where the token was (so `hf auth
login` keeps working), and with ``downloads.offline_jobs`` (default) HF_HUB_OFFLINE,
HF_DATASETS_OFFLINE and TRANSFORMERS_OFFLINE. A job that needs something not cached then
fails at once with :class:`NotCached`, which names the item, the cache and the command
that fetches it, instead of hanging on a firewalled connection or failing deep inside a
library.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ossinstruct.files import InputError, atomic_path

log = logging.getLogger("ossinstruct.prefetch")

DOWNLOADS_ENV = "OSSINSTRUCT_DOWNLOADS"  # the cache's absolute path, for the jobs
OFFLINE_ENV = "OSSINSTRUCT_OFFLINE"  # "1": jobs run offline (downloads.offline_jobs)
# The offline switches the workflow set (not the user): rule prefetch lifts these only.
SET_BY_WORKFLOW_ENV = "OSSINSTRUCT_OFFLINE_SET"
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
MARKERS = "ready"
# Weight formats a repository may hold twice; with safetensors present, the others stay.
DUPLICATE_WEIGHTS = ["*.bin", "*.pth", "*.pt", "*.h5", "*.msgpack", "*.ckpt", "*.onnx", "*.gguf", "original/*"]
FETCH_COMMAND = "python -m ossinstruct prefetch"


class NotCached(InputError, RuntimeError):
    """A job runs offline and something it needs is not in the download cache."""


@dataclass(frozen=True)
class Item:
    name: str  # kind/<id>: the marker's path under <cache>/ready/
    kind: str  # model, dataset, evalplus, tiktoken
    spec: dict = field(hash=False, compare=False)  # what to fetch (rule prefetch's params)
    why: tuple[str, ...] = field(default=(), hash=False, compare=False)  # the config keys that need it


# --------------------------------------------------------------------------- the cache


def cache_dir(config: dict) -> Path:
    return Path(config["downloads"]["cache_dir"]).expanduser()


def marker_path(config: dict, name: str) -> str:
    """The marker of item `name`, as a rule's output path (relative when the cache is)."""
    return os.path.join(str(cache_dir(config)), MARKERS, f"{name}.json")


def job_environment(config: dict, environ: dict | None = None) -> dict[str, str]:
    """The variables every job runs with (see the module docstring); the workflow sets them
    in its own environment, which the jobs inherit (SLURM's sbatch exports it)."""
    environ = os.environ if environ is None else environ
    root = cache_dir(config).resolve()
    hf_home = root / "huggingface"
    original_token = environ.get("HF_TOKEN_PATH") or str(
        Path(environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "token"
    )
    env = {
        DOWNLOADS_ENV: str(root),
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_DATASETS_CACHE": str(hf_home / "datasets"),
        "TIKTOKEN_CACHE_DIR": str(root / "tiktoken"),
    }
    if environ.get(DOWNLOADS_ENV) != str(root):  # the token file the user had, once
        env["HF_TOKEN_PATH"] = original_token
    if config["downloads"]["offline_jobs"]:
        env[OFFLINE_ENV] = "1"
        already = set(filter(None, environ.get(SET_BY_WORKFLOW_ENV, "").split(",")))
        for name in OFFLINE_SWITCHES:
            if name in already or not environ.get(name):
                env[name] = "1"
                already.add(name)
        env[SET_BY_WORKFLOW_ENV] = ",".join(sorted(already))
    return env


def go_online() -> None:
    """Rule prefetch's first step: lift the offline switches the workflow set for jobs
    (those the user set stay: then nothing can be fetched, and the error says so)."""
    for name in os.environ.get(SET_BY_WORKFLOW_ENV, "").split(","):
        if name:
            os.environ.pop(name, None)
    os.environ.pop(OFFLINE_ENV, None)


def offline() -> bool:
    """Whether this process is a job the workflow runs offline (downloads.offline_jobs):
    then what it needs must be cached, and NotCached says so at once. (A user's own
    HF_HUB_OFFLINE leaves the libraries to behave as they do.)"""
    return os.environ.get(OFFLINE_ENV) == "1"


def downloads_root() -> Path | None:
    value = os.environ.get(DOWNLOADS_ENV)
    return Path(value) if value else None


def _not_cached(what: str, name: str, where: str, detail: str = "") -> NotCached:
    detail = f" ({detail})" if detail else ""
    return NotCached(
        f"{what} is not in the download cache {where}{detail}, and this job runs offline "
        f"(downloads.offline_jobs). Fetch it where the network is: `{FETCH_COMMAND} --item {name}` "
        "(or `snakemake --until prefetch`), then rerun"
    )


# --------------------------------------------------------------------------- items


def hub_id(spec: str | None) -> bool:
    """A hub repo id ("org/name", or a bare "gpt2"), not a path, a .gguf file or an
    embedded model (as ossinstruct.llm.models.resolve_model tells them apart)."""
    if not spec or spec.startswith("embedded:") or spec.lower().endswith(".gguf"):
        return False
    if spec.startswith(("/", "./", "../", "~")) or Path(spec).expanduser().exists():
        return False
    return spec.count("/") <= 1


def model_item(repo: str, revision: str | None, why: str) -> Item:
    revision = revision or "main"
    return Item(f"model/{repo}@{revision}", "model", {"repo": repo, "revision": revision}, (why,))


def dataset_item(repo: str, revision: str | None, why: str, allow: list[str] | None = None) -> Item:
    revision = revision or "main"
    spec = {"repo": repo, "revision": revision, **({"allow_patterns": sorted(allow)} if allow else {})}
    return Item(f"dataset/{repo}@{revision}", "dataset", spec, (why,))


def hub_source_item(spec: dict | None, why: str) -> Item | None:
    """The dataset item of a benchmark or Evol-Instruct source spec (None: not the hub)."""
    if not spec or spec.get("source") != "huggingface" or not hub_id(spec.get("dataset")):
        return None
    files = spec.get("data_files")
    allow = ([files] if isinstance(files, str) else list(files)) if files else None
    return dataset_item(spec["dataset"], spec.get("revision"), why, allow)


def tiktoken_encoding(model: str) -> str | None:
    """The encoding tiktoken counts `model`'s tokens with, or None for a model it does not
    know (their fallback, cl100k_base, is then fetched on first use, not prefetched)."""
    try:
        import tiktoken.model
    except ImportError:
        return None
    try:
        return tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return None


# --------------------------------------------------------------------------- fetching


def fetch(item: Item, root: str | os.PathLike) -> dict:
    """Download `item` into the cache under `root` (network needed); returns its marker
    content. Each kind writes atomically or verifies completeness, so a killed fetch is
    resumed, never taken as done."""
    started = time.monotonic()
    kind = item.kind
    if kind in ("model", "dataset"):
        info = _fetch_hub(item.spec, kind, root)
    elif kind == "evalplus":
        info = fetch_evalplus(item.spec["release"], item.spec["version"], root)
    elif kind == "tiktoken":
        info = fetch_tiktoken(item.spec["encoding"], root)
    else:
        raise ValueError(f"unknown download kind {kind!r}")
    return {"item": item.name, "spec": item.spec, **info, "seconds": round(time.monotonic() - started, 1)}


def _hub_cache(root) -> str:
    return str(Path(root) / "huggingface" / "hub")


def model_ignore_patterns(files: list[str]) -> list[str]:
    """Weight copies to leave out: with safetensors present, the other formats."""
    return DUPLICATE_WEIGHTS if any(f.endswith(".safetensors") for f in files) else ["*.h5", "*.msgpack", "*.onnx"]


def _fetch_hub(spec: dict, kind: str, root) -> dict:
    from huggingface_hub import HfApi, snapshot_download

    repo_type = "dataset" if kind == "dataset" else None
    allow = spec.get("allow_patterns")
    ignore = None
    if kind == "model":
        info = HfApi().model_info(spec["repo"], revision=spec["revision"])
        ignore = model_ignore_patterns([s.rfilename for s in info.siblings or []])
    path = snapshot_download(
        spec["repo"],
        repo_type=repo_type,
        revision=spec["revision"],
        cache_dir=_hub_cache(root),
        allow_patterns=allow,
        ignore_patterns=ignore,
    )
    files = [p for p in Path(path).rglob("*") if p.is_file()]
    return {
        "commit": Path(path).name,
        "path": path,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "allow_patterns": allow,
        "ignore_patterns": ignore,
    }


def _download(url: str, target: Path, timeout: float = 60.0) -> None:
    """`url` into `target` atomically (a killed download leaves no file under the name)."""
    with atomic_path(target) as tmp, urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def evalplus_path(release: str, version: str, root: str | os.PathLike | None = None) -> Path | None:
    root = root if root is not None else downloads_root()
    return None if root is None else Path(root) / "evalplus" / f"{release}-{version}.jsonl"


def evalplus_url(release: str, version: str) -> str:
    """evalplus's own URL of a release file (its get_dataset_metadata)."""
    from evalplus.data.utils import get_dataset_metadata

    return get_dataset_metadata(release, version, False)[0]


def fetch_evalplus(release: str, version: str, root, url: str | None = None) -> dict:
    """A HumanEval+ / MBPP+ release (.jsonl.gz on GitHub), stored uncompressed as evalplus
    stores it, after checking that every line is a JSON task."""
    target = evalplus_path(release, version, root)
    url = url or evalplus_url(release, version)
    gz = target.with_name(target.name + ".gz")
    _download(url, gz)
    tasks = 0
    try:
        with atomic_path(target) as tmp:
            with gzip.open(gz, "rb") as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
            with open(tmp, encoding="utf-8") as fh:  # every line a task, before it is taken
                for lineno, line in enumerate(fh, 1):
                    if line.strip():
                        if "task_id" not in json.loads(line):
                            raise ValueError(f"{url}: line {lineno} is not an EvalPlus task (no task_id)")
                        tasks += 1
    finally:
        gz.unlink(missing_ok=True)
    return {"url": url, "path": str(target), "tasks": tasks, "sha256": _sha256(target)}


def require_evalplus(release: str, version: str) -> Path | None:
    """The cached release file, or None when the job may download it (online); offline and
    missing: NotCached."""
    path = evalplus_path(release, version)
    if path is not None and path.is_file():
        return path
    if offline():
        where = str(path.parent) if path else f"(no {DOWNLOADS_ENV})"
        raise _not_cached(f"{release} {version} (evalplus's release file)", f"evalplus/{release}@{version}", where)
    return None


def tiktoken_source(encoding: str) -> tuple[str, str | None]:
    """(URL, expected sha256) of an encoding's BPE file, from tiktoken's own registry
    without downloading it (its constructor is run with the loader replaced)."""
    import tiktoken_ext.openai_public as public

    constructor = public.ENCODING_CONSTRUCTORS[encoding]
    seen = {}

    def record(path, expected_hash=None, *args, **kwargs):
        seen["url"], seen["sha256"] = path, expected_hash
        return {}

    def unsupported(*args, **kwargs):  # gpt2's two-file format: never fetched here
        raise ValueError(f"tiktoken encoding {encoding!r}: its files are not fetched by prefetch")

    real, real_data_gym = public.load_tiktoken_bpe, public.data_gym_to_mergeable_bpe_ranks
    public.load_tiktoken_bpe, public.data_gym_to_mergeable_bpe_ranks = record, unsupported
    try:
        constructor()
    finally:
        public.load_tiktoken_bpe, public.data_gym_to_mergeable_bpe_ranks = real, real_data_gym
    return seen["url"], seen.get("sha256")


def tiktoken_cache_file(url: str, root=None) -> Path | None:
    """Where tiktoken looks for `url` (TIKTOKEN_CACHE_DIR/sha1(url)): its read_file_cached."""
    directory = Path(root) / "tiktoken" if root is not None else None
    directory = directory or (Path(os.environ["TIKTOKEN_CACHE_DIR"]) if os.environ.get("TIKTOKEN_CACHE_DIR") else None)
    return None if directory is None else directory / hashlib.sha1(url.encode()).hexdigest()


def fetch_tiktoken(encoding: str, root, url: str | None = None, sha256: str | None = None) -> dict:
    """An encoding's BPE file into the cache file tiktoken reads, checked against the hash
    tiktoken expects."""
    if url is None:
        url, sha256 = tiktoken_source(encoding)
    target = tiktoken_cache_file(url, root)
    if target.is_file() and (sha256 is None or _sha256(target) == sha256):
        return {"url": url, "path": str(target), "sha256": _sha256(target)}
    _download(url, target)
    actual = _sha256(target)
    if sha256 is not None and actual != sha256:
        target.unlink()
        raise ValueError(f"{url}: sha256 {actual} differs from tiktoken's {sha256}")
    return {"url": url, "path": str(target), "sha256": actual}


def require_tiktoken(encoding: str) -> None:
    """Offline, the encoding's BPE file must be cached (tiktoken would try the network,
    which on a firewalled node can hang): NotCached otherwise."""
    if not offline():
        return
    url, _ = tiktoken_source(encoding)
    path = tiktoken_cache_file(url)
    if path is None or not path.is_file():
        where = str(path.parent) if path else "(TIKTOKEN_CACHE_DIR is not set)"
        raise _not_cached(f"tiktoken's {encoding} BPE file", f"tiktoken/{encoding}", where)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- offline use


def _marker(root: Path, name: str) -> dict | None:
    try:
        return json.loads((root / MARKERS / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def cached_snapshot(repo: str, revision: str | None, kind: str = "model") -> str:
    """The local snapshot of a hub repo, complete (offline: the files prefetch fetched,
    checked against the cached tree listing); NotCached otherwise."""
    from huggingface_hub import constants, snapshot_download

    revision = revision or "main"
    name = f"{kind}/{repo}@{revision}"
    root = downloads_root()
    marker = _marker(root, name) if root else None
    try:
        return snapshot_download(
            repo,
            repo_type="dataset" if kind == "dataset" else None,
            revision=revision,
            local_files_only=True,
            allow_patterns=(marker or {}).get("allow_patterns"),
            ignore_patterns=(marker or {}).get("ignore_patterns"),
        )
    except Exception as exc:  # LocalEntryNotFoundError, IncompleteSnapshotError
        what = f"{'dataset' if kind == 'dataset' else 'model'} {repo} (revision {revision})"
        raise _not_cached(what, name, constants.HF_HUB_CACHE, f"{type(exc).__name__}: {str(exc)[:160]}") from None


def local_dataset(repo: str, revision: str | None) -> str | None:
    """Offline: the local snapshot of a hub dataset for the loaders (NotCached when
    missing); online: None (the loaders ask the hub, as before)."""
    if not offline() or not hub_id(repo):
        return None
    return cached_snapshot(repo, revision, "dataset")
