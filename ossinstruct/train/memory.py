"""Peak GPU memory of one training process, from the model's shape and the run's settings.

    estimate(KNOWN_ARCHITECTURES["codellama/CodeLlama-7b-Python-hf"], TrainingSetup(...))
    -> MemoryEstimate: components (weights, gradients, DDP buckets, optimizer state,
       activations, transients) in bytes, each with its arithmetic, and the peak

What is counted (per process, i.e. per GPU; b = per-device batch, s = max_length, so a
micro-batch holds t = b * s tokens at most: rows are padded to the longest in the batch;
h = hidden size, F = MLP width, L = layers, V = vocabulary, P = parameters):

* weights: P x bytes of the weights' dtype (bf16: 2). LoRA adds its adapters in fp32.
* gradients: trainable parameters x the same bytes (transformers keeps them in the
  parameters' dtype).
* DDP buckets (strategy ddp, world size > 1): DDP copies the gradients into its
  all-reduce buckets (``gradient_as_bucket_view=False``, accelerate's default): another
  trainable x bytes.
* optimizer state: Adafactor (transformers', beta1 None, the paper's) keeps fp32 row and
  column second moments per matrix, (rows + cols) x 4 bytes, and a full fp32 second moment
  for vectors: megabytes. AdamW: 2 states in the parameters' dtype. SGD: none.
* activations (what autograd saves in the forward, per token, per decoder layer, for the
  Llama layer of the paper's base models: RMSNorm, attention through SDPA, SwiGLU MLP;
  d = bytes of the compute dtype, 2 under bf16): each RMSNorm saves its input in fp32
  (4h) and two d x h tensors; attention saves q, k, v after RoPE, its output, the output
  projection's input and the log-sum-exp (4 bytes per head); the MLP saves the gate and
  up projections, the activation and the product (4 d x F). Per layer and token:
  ``norms x (4h + 2dh) + d(q + 2kv) + 2dq + 4 heads + 4dF``; Llama at bf16 is
  26h + 8F bytes, 194,560 for h = 4096, F = 11008 (6.2 MB per token for 32 layers).
  Eager attention also saves the attention matrix: heads x s^2 x (4 + d) per row
  (4 under fp32). LoRA
  adds, per adapted linear layer, its adapter's fp32 dropout output and mask (5 bytes per
  input element) and its rank-r fp32 output.
  The head: the final norm's 4h + 2dh (TRL's fused LM head never builds the t x V
  logits).
* activations with gradient checkpointing (each decoder layer recomputed in the
  backward): every layer's input, d x h per token, and the head; in the backward one
  layer's full activations exist again while it is recomputed ("recompute").
* transients: TRL's fused LM head, in the backward, holds its tile buffer
  (min(t, 4096) x 32768 x d), fp32 gradients of its weight (4Vh, then cast: w x Vh) and
  of the hidden states (4th, then cast) while every activation is still alive;
  Adafactor's step holds fp32 copies of the largest parameter (its gradient, the
  parameter itself when the weights are bf16, the squared gradient and the update: 16
  bytes per element, 12 for fp32 weights) once the activations are gone. The peak is the
  larger of the two moments: static + activations + max(head backward, recompute), or
  static + optimizer step.
* FSDP / DeepSpeed ZeRO-3 (world size n): accelerate upcasts FSDP's sharded parameters
  to fp32 under bf16 mixed precision (4 + 4 bytes of parameters and gradients, / n);
  ZeRO-3 keeps fp32 master weights, bf16 weights and bf16 gradients (4 + 2 + 2, / n)
  and converts up to 1e9 gradient elements to fp32 at its step. Both gather the current
  and the prefetched unit unsharded (2 x the largest unit, bf16, and its gradients).
  These two are estimates from the libraries' documented behaviour, not measured here.

Not counted by torch's allocator, so added when comparing with a GPU's memory: the CUDA
context, cuBLAS workspaces and NCCL buffers (CONTEXT_GIB), and the caching allocator's
fragmentation (FRAGMENTATION x the peak). `fits` compares
``peak x (1 + FRAGMENTATION) + CONTEXT_GIB`` with the GPU's memory.

tests/test_train_memory.py checks the activation, parameter and gradient terms against
torch's memory profiler on a tiny Llama's real training step on CPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

GIB = 2**30
CONTEXT_GIB = 1.5  # CUDA context + cuBLAS workspace + NCCL buffers, outside torch's allocator
FRAGMENTATION = 0.10  # the caching allocator's slack over the live peak
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
DEEPSPEED_SUB_GROUP = 10**9
HEAD_TOKEN_TILE, HEAD_VOCAB_TILE = (
    4096,
    32768,
)  # trl.kernels.chunked_logprob's tile (TRL 1.16)  # ZeRO-3 sub_group_size: gradient elements made fp32 at once


@dataclass(frozen=True)
class Architecture:
    """The shape of a decoder-only model: what memory depends on."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool = False
    norms_per_layer: int = 2  # Llama: input and post-attention; Gemma 3: 4
    qk_norm: bool = False  # Gemma 3 normalises q and k per head

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def layer_matrices(self) -> list[tuple[int, int]]:
        h, q, kv, f = self.hidden, self.q_dim, self.kv_dim, self.intermediate
        return [(q, h), (kv, h), (kv, h), (h, q), (f, h), (f, h), (h, f)]

    def layer_vectors(self) -> list[int]:
        return [self.hidden] * self.norms_per_layer + ([self.head_dim] * 2 if self.qk_norm else [])

    def matrices(self) -> list[tuple[int, int]]:
        """Every weight matrix (rows, cols): embedding, the layers', the LM head unless tied."""
        head = [] if self.tied_embeddings else [(self.vocab, self.hidden)]
        return [(self.vocab, self.hidden)] + self.layer_matrices() * self.layers + head

    def vectors(self) -> list[int]:
        return self.layer_vectors() * self.layers + [self.hidden]

    @property
    def layer_params(self) -> int:
        return sum(r * c for r, c in self.layer_matrices()) + sum(self.layer_vectors())

    @property
    def params(self) -> int:
        return sum(r * c for r, c in self.matrices()) + sum(self.vectors())

    @property
    def largest_param(self) -> int:
        return max(r * c for r, c in self.matrices())

    @classmethod
    def from_hf_config(cls, config: dict) -> Architecture:
        """From a transformers config.json (Llama, Mistral, Qwen2, Gemma 3 and alike)."""
        config = config.get("text_config", config)
        try:
            hidden = int(config["hidden_size"])
            heads = int(config["num_attention_heads"])
            gemma3 = str(config.get("model_type", "")).startswith("gemma3")
            return cls(
                hidden=hidden,
                intermediate=int(config["intermediate_size"]),
                layers=int(config["num_hidden_layers"]),
                heads=heads,
                kv_heads=int(config.get("num_key_value_heads") or heads),
                head_dim=int(config.get("head_dim") or hidden // heads),
                vocab=int(config["vocab_size"]),
                tied_embeddings=bool(config.get("tie_word_embeddings", gemma3)),
                norms_per_layer=4 if gemma3 else 2,
                qk_norm=gemma3,
            )
        except KeyError as missing:
            raise ValueError(f"config.json has no {missing}: not a decoder-only language model's config") from None


# The paper's base models and the demo's, from their config.json (hub commits of 2024-2025):
# the estimate needs no download for them.
KNOWN_ARCHITECTURES = {
    # CodeLlama-7b-Python-hf: 6.74B parameters (32000 tokens; the other CodeLlama-7b have 32016)
    "codellama/CodeLlama-7b-Python-hf": Architecture(4096, 11008, 32, 32, 32, 128, 32000),
    # deepseek-coder-6.7b-base: 6.74B parameters, a Llama layer
    "deepseek-ai/deepseek-coder-6.7b-base": Architecture(4096, 11008, 32, 32, 32, 128, 32256),
    # The demo's Gemma 3 270M (embedded:gemma-3-270m): 268M parameters, tied embeddings
    "embedded:gemma-3-270m": Architecture(
        640, 2048, 18, 4, 1, 256, 262144, tied_embeddings=True, norms_per_layer=4, qk_norm=True
    ),
}


def architecture_of(base: str, revision: str | None = None) -> tuple[Architecture | None, str]:
    """(architecture, where it came from) of a base model spec, without downloading: a
    directory's config.json, the known table, or the Hugging Face cache; (None, why not)."""
    path = Path(base).expanduser()
    if (path / "config.json").is_file():
        return Architecture.from_hf_config(json.loads((path / "config.json").read_text())), str(path / "config.json")
    if base in KNOWN_ARCHITECTURES:
        return KNOWN_ARCHITECTURES[base], "ossinstruct.train.memory.KNOWN_ARCHITECTURES"
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(base, "config.json", revision=revision)
    except Exception:  # not a hub id, or no huggingface_hub: no estimate, never a failure
        cached = None
    if isinstance(cached, str) and Path(cached).is_file():
        return Architecture.from_hf_config(json.loads(Path(cached).read_text())), cached
    return None, f"{base}: no config.json in that directory, in KNOWN_ARCHITECTURES or in the Hugging Face cache"


@dataclass(frozen=True)
class TrainingSetup:
    """What memory depends on in a run's settings."""

    per_device_batch_size: int
    max_length: int
    gradient_checkpointing: bool = False
    precision: str = "bf16"  # bf16 (autocast) or fp32: the activations' dtype
    weights_dtype: str = "bfloat16"
    optimizer: str = "adafactor"
    strategy: str = "ddp"
    world_size: int = 1
    lora: dict | None = None
    attn_implementation: str | None = "sdpa"


@dataclass
class MemoryEstimate:
    """Bytes per process: components (name -> bytes), their arithmetic, the peak."""

    components: dict[str, int]
    arithmetic: dict[str, str]
    peak: int
    peak_moment: str
    notes: list[str] = field(default_factory=list)

    def gib(self, name: str | None = None) -> float:
        return (self.peak if name is None else self.components[name]) / GIB

    def required_gib(self) -> float:
        """GPU memory the run needs: the peak, the allocator's slack, the CUDA context."""
        return self.peak / GIB * (1 + FRAGMENTATION) + CONTEXT_GIB

    def fits(self, gpu_memory_gib: float) -> bool:
        return self.required_gib() <= gpu_memory_gib

    def lines(self) -> list[str]:
        width = max(len(name) for name in self.components)
        out = [
            f"  {name:<{width}}  {value / GIB:7.2f} GiB  {self.arithmetic[name]}"
            for name, value in self.components.items()
        ]
        out.append(f"  {'peak':<{width}}  {self.peak / GIB:7.2f} GiB  ({self.peak_moment})")
        out.append(
            f"  {'needs':<{width}}  {self.required_gib():7.2f} GiB  peak x {1 + FRAGMENTATION:.2f} "
            f"(allocator) + {CONTEXT_GIB} GiB (CUDA context, NCCL)"
        )
        return out + [f"  note: {note}" for note in self.notes]

    def as_dict(self) -> dict:
        return {
            "components_gib": {k: round(v / GIB, 3) for k, v in self.components.items()},
            "peak_gib": round(self.gib(), 3),
            "peak_moment": self.peak_moment,
            "required_gib": round(self.required_gib(), 3),
        }


def _lora_shapes(arch: Architecture, lora: dict) -> list[tuple[int, int]]:
    """(in, out) of every linear layer LoRA adapts (all-linear: every layer's seven)."""
    targets = lora.get("target_modules") or "all-linear"
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    shapes = [(c, r) for r, c in arch.layer_matrices()]
    chosen = [s for n, s in zip(names, shapes, strict=True) if targets == "all-linear" or n in targets]
    return chosen * arch.layers


def layer_activation_bytes(arch: Architecture, d: int) -> int:
    """Bytes autograd saves per token in one decoder layer (no checkpointing)."""
    h, q, kv, f = arch.hidden, arch.q_dim, arch.kv_dim, arch.intermediate
    norms = arch.norms_per_layer * (4 * h + 2 * d * h)
    qk_norms = (4 + 2 * d) * (q + kv) if arch.qk_norm else 0
    attention = d * (q + 2 * kv) + 2 * d * q + 4 * arch.heads
    mlp = 4 * d * f
    return norms + qk_norms + attention + mlp


def estimate(arch: Architecture, setup: TrainingSetup) -> MemoryEstimate:
    """Peak memory of one training process (see the module docstring for the arithmetic)."""
    w = DTYPE_BYTES[setup.weights_dtype]
    d = 2 if setup.precision == "bf16" else 4
    n = max(1, setup.world_size)
    tokens = setup.per_device_batch_size * setup.max_length
    P = arch.params
    components: dict[str, int] = {}
    arithmetic: dict[str, str] = {}
    notes: list[str] = []

    def add(name: str, value: float, how: str) -> None:
        components[name] = int(value)
        arithmetic[name] = how

    if setup.lora:
        shapes = _lora_shapes(arch, setup.lora)
        r = int(setup.lora["r"])
        trainable = sum(r * (i + o) for i, o in shapes)
        trainable_bytes = 4  # peft keeps adapters in fp32 (autocast_adapter_dtype)
        largest = max(r * max(i, o) for i, o in shapes)
        notes.append("LoRA: its terms checked on a tiny Llama on CPU (bench/train_memory.py)")
        add("weights", P * w + trainable * 4, f"{P / 1e9:.2f}B x {w} B + LoRA {trainable / 1e6:.1f}M x 4 B")
    else:
        trainable, trainable_bytes, largest = P, w, arch.largest_param
        add("weights", P * w, f"{P / 1e9:.2f}B parameters x {w} B")
    sharded = setup.strategy in ("fsdp", "deepspeed") and n > 1 and not setup.lora
    if sharded and setup.strategy == "fsdp":
        # accelerate upcasts FSDP's parameters to fp32 under bf16 mixed precision
        add("weights", P * 4 / n, f"{P / 1e9:.2f}B x 4 B (fp32 under FSDP mixed precision) / {n} shards")
        add("gradients", P * 4 / n, f"{P / 1e9:.2f}B x 4 B / {n} shards")
    elif sharded:
        add("weights", P * (4 + 2) / n, f"{P / 1e9:.2f}B x (4 B fp32 master + 2 B bf16) / {n} shards")
        add("gradients", P * 2 / n, f"{P / 1e9:.2f}B x 2 B / {n} shards")
    else:
        add("gradients", trainable * trainable_bytes, f"{trainable / 1e9:.3g}B trainable x {trainable_bytes} B")
    if setup.strategy == "ddp" and n > 1:
        add(
            "ddp_buckets",
            trainable * trainable_bytes,
            f"DDP's all-reduce buckets: a second copy of the gradients (world size {n})",
        )
    # optimizer state
    state_bytes = 4 if sharded else trainable_bytes
    if setup.optimizer == "adafactor":
        if setup.lora:
            rows_cols = sum(r + i + r + o for i, o in _lora_shapes(arch, setup.lora))
        else:
            rows_cols = sum(r + c for r, c in arch.matrices()) + sum(arch.vectors())
        add("optimizer_state", rows_cols * 4 / (n if sharded else 1), "Adafactor: (rows + cols) x 4 B per matrix")
    elif setup.optimizer in ("adamw", "adamw_torch"):
        add(
            "optimizer_state",
            2 * trainable * state_bytes / (n if sharded else 1),
            f"AdamW: 2 states x {trainable / 1e9:.3g}B x {state_bytes} B" + (f" / {n}" if sharded else ""),
        )
    else:
        add("optimizer_state", 0, f"{setup.optimizer}: no state")
    # activations
    per_layer = layer_activation_bytes(arch, d)
    if setup.lora:
        # each adapted layer adds its adapter's fp32 dropout output and mask (5 B per input
        # element) and its rank-r fp32 output; the frozen layers save what full fine-tuning does
        per_layer += sum(5 * i + 4 * r for i, _ in _lora_shapes(arch, setup.lora)) // arch.layers
    head = 4 * arch.hidden + 2 * d * arch.hidden  # the final norm (the fused head saves its output)
    eager = setup.attn_implementation == "eager"
    # softmax's fp32 output, and its cast to the compute dtype when that is narrower
    matrix_bytes = 4 + (d if d < 4 else 0)
    attention_matrix = arch.heads * setup.max_length**2 * matrix_bytes * setup.per_device_batch_size if eager else 0
    if setup.gradient_checkpointing:
        add(
            "activations",
            tokens * (arch.layers * d * arch.hidden + head),
            f"checkpointed: {tokens} tokens x ({arch.layers} layers' inputs x {d * arch.hidden} B + head {head} B)",
        )
        add("recompute", tokens * per_layer + attention_matrix, f"one layer recomputed: {tokens} x {per_layer} B")
    else:
        add(
            "activations",
            tokens * (arch.layers * per_layer + head) + arch.layers * attention_matrix,
            f"{tokens} tokens ({setup.per_device_batch_size} x {setup.max_length}) x "
            f"({arch.layers} layers x {per_layer} B + head {head} B)",
        )
    if eager:
        notes.append("eager attention saves the s x s attention matrix per head: use sdpa or flash attention")
    # TRL's fused LM head: a [min(t, 4096), 32768] tile buffer, fp32 gradients of its weight
    # and of the hidden states, and their casts back
    tile = min(tokens, HEAD_TOKEN_TILE) * HEAD_VOCAB_TILE * d
    head_weight = 0 if setup.lora else (4 + w) * arch.vocab * arch.hidden  # frozen under LoRA
    add(
        "head_backward",
        tile + head_weight + (4 + d) * tokens * arch.hidden,
        f"LM head: tile buffer {tile / 2**20:.0f} MiB + fp32 gradient of its weight and its cast "
        f"({head_weight / 2**20:.0f} MiB) + of the hidden states ({4 + d} B x t x h)",
    )
    if setup.optimizer == "adafactor":
        step_factor = 12 if w == 4 or (sharded and setup.strategy == "fsdp") else 16
    elif setup.optimizer in ("adamw", "adamw_torch"):
        step_factor = 2 * trainable_bytes
    else:
        step_factor = trainable_bytes
    step_largest = largest if not sharded else -(-arch.largest_param // n)
    if sharded and setup.strategy == "deepspeed":
        step = 4 * min(DEEPSPEED_SUB_GROUP, -(-P // n))
        add("optimizer_step", step, "ZeRO-3 makes up to 1e9 gradient elements fp32 at its step (4 B each)")
    else:
        add(
            "optimizer_step",
            step_factor * step_largest,
            f"{step_factor} B x the largest parameter ({step_largest / 1e6:.0f}M): fp32 copies during its update",
        )
    if sharded:
        unit = max(arch.layer_params, arch.vocab * arch.hidden * (1 if arch.tied_embeddings else 2))
        add(
            "unsharded_units",
            2 * unit * 2 * 2,
            "the current and the prefetched unit gathered in bf16, and their gradients",
        )
    static = sum(
        components.get(k, 0) for k in ("weights", "gradients", "ddp_buckets", "optimizer_state", "unsharded_units")
    )
    backward_peak = (
        static + components["activations"] + max(components["head_backward"], components.get("recompute", 0))
    )
    step_peak = static + components["optimizer_step"]
    if backward_peak >= step_peak:
        peak, moment = backward_peak, "the backward: saved activations and the LM head's (or a recomputed layer's)"
    else:
        peak, moment = step_peak, "the optimizer step"
    if sharded:
        notes.append(f"{setup.strategy}: estimated from the library's documented behaviour, not measured")
    return MemoryEstimate(components, arithmetic, peak, moment, notes)


# --------------------------------------------------------------------------- measurement


def measure_cpu_step(arch: Architecture, setup: TrainingSetup, seed: int = 0) -> dict:
    """Peak memory of a real training step of a random `arch` Llama on CPU, by torch's
    memory profiler: the step as the recipe runs it (TRL's fused LM head, transformers'
    Adafactor, the second step, so that gradients and optimizer state exist), bytes per
    category (parameter, gradient, activation, ...) at the peak. For tests and bench/."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.optimization import Adafactor
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(seed)
    config = LlamaConfig(
        hidden_size=arch.hidden,
        intermediate_size=arch.intermediate,
        num_hidden_layers=arch.layers,
        num_attention_heads=arch.heads,
        num_key_value_heads=arch.kv_heads,
        head_dim=arch.head_dim,
        vocab_size=arch.vocab,
        max_position_embeddings=max(setup.max_length, 64),
        tie_word_embeddings=arch.tied_embeddings,
        attn_implementation=setup.attn_implementation or "sdpa",
    )
    dtype = getattr(torch, setup.weights_dtype)
    model = LlamaForCausalLM(config).to(dtype)
    add_fused_lm_head(model)
    if setup.lora:
        from peft import LoraConfig, get_peft_model

        lora = setup.lora
        model = get_peft_model(
            model,
            LoraConfig(
                r=lora["r"],
                lora_alpha=lora.get("alpha", 2 * lora["r"]),
                lora_dropout=lora.get("dropout", 0.05),
                target_modules=lora.get("target_modules") or "all-linear",
                task_type="CAUSAL_LM",
            ),
        )
    if setup.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    ids = torch.randint(0, arch.vocab, (setup.per_device_batch_size, setup.max_length))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = Adafactor(trainable, lr=1e-5, scale_parameter=False, relative_step=False)

    def step() -> None:
        model(input_ids=ids, labels=ids, fused_lm_head=True).loss.backward()
        optimizer.step()

    step()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        step()
    timeline = prof._memory_profile()  # torch's categorised memory timeline (private API)
    live: dict[str, int] = {}
    peak, at_peak = 0, {}
    for _, action, (key, version), size in timeline.timeline:
        category = timeline._categories.get(key, version)
        name = category.name.lower() if category else "unknown"
        if action.name in ("PREEXISTING", "CREATE"):
            live[name] = live.get(name, 0) + size
        elif action.name == "DESTROY":
            live[name] = live.get(name, 0) - size
        total = sum(live.values())
        if total > peak:
            peak, at_peak = total, dict(live)
    return {"peak": peak, "at_peak": {k: v for k, v in at_peak.items() if v}}


def cpu_head_tiles(arch: Architecture, setup: TrainingSetup) -> int:
    """What TRL's LM head allocates on CPU only (its torch fallback of the Triton kernel):
    about eight fp32 copies of a [min(t, 4096), min(V, 32768)] logits tile."""
    tokens = setup.per_device_batch_size * setup.max_length
    return 8 * 4 * min(tokens, HEAD_TOKEN_TILE) * min(arch.vocab, HEAD_VOCAB_TILE)


# --------------------------------------------------------------------------- a study's training jobs


@dataclass
class CheckpointMemory:
    """The memory plan of one training job (one checkpoint) of a config."""

    checkpoint: str
    where: str  # the config key that declares it
    base: str
    source: str  # where the architecture came from, or why there is none
    gpus_per_node: int
    nodes: int
    gpu_memory_gib: float
    configured_checkpointing: bool | str
    gradient_checkpointing: bool
    setup: TrainingSetup | None = None
    estimate: MemoryEstimate | None = None
    alternatives: list[str] = field(default_factory=list)
    architecture: Architecture | None = None

    @property
    def on_gpu(self) -> bool:
        return self.gpus_per_node > 0

    @property
    def fits(self) -> bool | None:
        """None when there is nothing to compare (a CPU job, an unknown architecture)."""
        if not self.on_gpu or self.estimate is None:
            return None
        return self.estimate.fits(self.gpu_memory_gib)

    def summary(self) -> str:
        if self.estimate is None:
            return f"{self.checkpoint}: no memory estimate ({self.source})"
        s = self.setup
        head = (
            f"{self.checkpoint}: {self.base}, {s.per_device_batch_size} x {s.max_length} tokens per device, "
            f"{s.strategy} over {s.world_size} process(es), gradient checkpointing "
            f"{'on' if s.gradient_checkpointing else 'off'}"
            + (" (auto)" if self.configured_checkpointing == "auto" else "")
        )
        if not self.on_gpu:
            return f"{head}: a CPU job, peak {self.estimate.gib():.1f} GiB (no GPU to compare with)"
        verdict = "fits" if self.fits else "does NOT fit"
        return (
            f"{head}: needs {self.estimate.required_gib():.1f} GiB per GPU, {verdict} "
            f"cluster.gpu_memory_gib = {self.gpu_memory_gib:g}"
        )


def root_base(config: dict, model_name: str) -> tuple[str, str | None]:
    """The base model (spec, revision) at the start of a model's `from` chain."""
    from ossinstruct.config import model_specs

    specs = model_specs(config)
    model = specs[model_name]
    while "from" in model:
        model = specs[model["from"]]
    return model["base"], model.get("revision")


def setup_from_training(training: dict, max_length: int, world_size: int, on_gpu: bool, checkpointing: bool):
    """The TrainingSetup of a stage's resolved `training` settings on `world_size` processes."""
    from ossinstruct.train.config import normalise_lora

    precision = "bf16" if training.get("bf16", True) and on_gpu else "fp32"
    model_dtype = training.get("model_dtype", "auto")
    if model_dtype == "auto":
        model_dtype = "bfloat16" if precision == "bf16" else "float32"
    lora = training.get("lora")
    return TrainingSetup(
        per_device_batch_size=int(training["per_device_batch_size"]),
        max_length=int(max_length),
        gradient_checkpointing=checkpointing,
        precision=precision,
        weights_dtype=model_dtype,
        optimizer=training.get("optimizer", "adafactor"),
        strategy=training.get("strategy", "ddp"),
        world_size=world_size,
        lora=normalise_lora(lora) if lora else None,
        attn_implementation=training.get("attn_implementation"),
    )


def resolve_checkpointing(configured: bool | str, arch: Architecture | None, setup: TrainingSetup, gpu_memory_gib):
    """gradient_checkpointing: true/false as set; "auto": on only where the run would not fit
    `gpu_memory_gib` without it (off on CPU, or when the architecture is unknown)."""
    if configured != "auto":
        return bool(configured)
    if arch is None or gpu_memory_gib is None:
        return False
    from dataclasses import replace

    return not estimate(arch, replace(setup, gradient_checkpointing=False)).fits(gpu_memory_gib)


def _alternatives(arch: Architecture, setup: TrainingSetup, gpu_memory_gib: float) -> list[str]:
    """Settings, each changed alone or with gradient checkpointing, under which the run fits."""
    from dataclasses import replace

    tries = [
        ("gradient_checkpointing: true", {"gradient_checkpointing": True}),
        ("per_device_batch_size: 1", {"per_device_batch_size": 1}),
        (
            "per_device_batch_size: 1, gradient_checkpointing: true",
            {"per_device_batch_size": 1, "gradient_checkpointing": True},
        ),
        ("strategy: fsdp", {"strategy": "fsdp"}),
        ("strategy: fsdp, gradient_checkpointing: true", {"strategy": "fsdp", "gradient_checkpointing": True}),
    ]
    found = []
    for label, change in tries:
        if all(getattr(setup, k) == v for k, v in change.items()):
            continue
        if change.get("strategy") == "fsdp" and setup.world_size < 2:
            continue
        candidate = estimate(arch, replace(setup, **change))
        if candidate.fits(gpu_memory_gib):
            found.append(f"{label} (needs {candidate.required_gib():.1f} GiB)")
    return found


def checkpoint_memory(config: dict, checkpoint: str) -> CheckpointMemory:
    """The memory plan of the job that trains `checkpoint` under `config`."""
    from ossinstruct import workflow as wf

    recipe = wf.train_recipe(config, checkpoint)
    model, stage = wf.parse_checkpoint(config, checkpoint)
    resources = wf.job_resources("train", model.get("resources"))
    index = next(i for i, m in enumerate(config["models"]) if m["name"] == model["name"])
    gpus, nodes = int(resources["gpu"]), int(resources["nodes"])  # gpu: of each node
    gpu_memory = float(config["cluster"]["gpu_memory_gib"])
    training = recipe["training"]
    base, revision = root_base(config, model["name"])
    arch, source = architecture_of(base, revision)
    configured = training.get("gradient_checkpointing", "auto")
    setup = setup_from_training(training, recipe["max_length"], max(1, gpus) * nodes, gpus > 0, False)
    resolved = resolve_checkpointing(configured, arch, setup, gpu_memory if gpus > 0 else None)
    from dataclasses import replace

    setup = replace(setup, gradient_checkpointing=resolved)
    plan = CheckpointMemory(
        checkpoint=checkpoint,
        where=f"models.{index} ({model['name']}) stage {stage}",
        base=base,
        source=source,
        gpus_per_node=gpus,
        nodes=nodes,
        gpu_memory_gib=gpu_memory,
        configured_checkpointing=configured,
        gradient_checkpointing=resolved,
        setup=setup,
        estimate=estimate(arch, setup) if arch else None,
        architecture=arch,
    )
    if plan.fits is False:
        plan.alternatives = _alternatives(arch, setup, gpu_memory)
    return plan


def training_memory(config: dict) -> list[CheckpointMemory]:
    from ossinstruct import workflow as wf

    return [checkpoint_memory(config, name) for name in wf.checkpoint_names(config)]


def check_training_memory(config: dict) -> list[CheckpointMemory]:
    """Every training job's plan; a ConfigError naming the first that cannot fit the
    cluster's GPUs (cluster.gpu_memory_gib), with its arithmetic and settings that fit."""
    from ossinstruct.config import ConfigError

    plans = training_memory(config)
    for plan in plans:
        if plan.fits is False:
            fixes = "; ".join(plan.alternatives) or "none of gradient checkpointing, batch 1 per device or FSDP"
            parts = ", ".join(f"{k} {v / GIB:.1f}" for k, v in plan.estimate.components.items() if v >= GIB / 10)
            raise ConfigError(
                f"config key {plan.where}: training {plan.checkpoint} would run out of GPU memory: it needs "
                f"{plan.estimate.required_gib():.1f} GiB per GPU ({parts} GiB; peak {plan.estimate.gib():.1f} GiB "
                f"at {plan.estimate.peak_moment}), more than cluster.gpu_memory_gib ({plan.gpu_memory_gib:g}). "
                f"Settings that fit (training, or models.N.training): {fixes}; or more GPUs "
                "(models.N.resources.gpu, nodes). `python -m ossinstruct plan` prints the arithmetic."
            )
    return plans


# --------------------------------------------------------------------------- a job at its start


def device_memory_gib() -> float | None:
    """Total memory of this process's GPU (torch.cuda), None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory / GIB


def job_plan(model_config: dict, hyperparameters: dict, gradient_checkpointing: bool | str, gpu_memory: float | None):
    """(gradient checkpointing resolved, estimate or None, why none) for the job at hand: the
    loaded model's config, the resolved hyperparameters, this GPU's memory (None on CPU)."""
    try:
        arch = Architecture.from_hf_config(model_config)
    except ValueError as exc:
        return gradient_checkpointing is True, None, str(exc)
    setup = TrainingSetup(
        per_device_batch_size=hyperparameters["per_device_batch_size"],
        max_length=hyperparameters["max_length"],
        precision=hyperparameters["precision"],
        weights_dtype=hyperparameters["model_dtype"],
        optimizer=hyperparameters["optimizer"],
        strategy=hyperparameters.get("strategy", "ddp"),
        world_size=hyperparameters["world_size"],
        lora=hyperparameters["lora"],
        attn_implementation=hyperparameters["attn_implementation"],
    )
    resolved = resolve_checkpointing(gradient_checkpointing, arch, setup, gpu_memory)
    from dataclasses import replace

    return resolved, estimate(arch, replace(setup, gradient_checkpointing=resolved)), None
