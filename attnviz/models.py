"""TinyTransformer: a GPT small enough to read in one sitting and train in seconds.

The teaching model of lessons 02 and 03. It follows Karpathy's nanoGPT
(github.com/karpathy/nanoGPT, ``model.py``) — pre-LayerNorm blocks of
attention and MLP on a residual stream (Radford et al. 2019, "Language Models
are Unsupervised Multitask Learners") — with three changes for teaching:

- Attention (``attnviz.mixers.Attention``, the default of the block's sequence mixers)
  runs through ``attnviz.kernels.attention.multi_head_attention``, so the attention
  operator is pluggable (softmax now; linear and sparse later).
- Each attention module has TransformerLens-style hook points (Nanda &
  Bloom 2022): ``hook_pattern`` sees the weights (B, H, T, T) and ``hook_z``
  the per-head outputs (B, H, T, d_head) before the output projection. A
  forward hook on ``hook_pattern`` captures attention maps; a forward hook on
  ``hook_z`` that returns a changed tensor ablates heads.
- Options that lesson 03's experiments need: attention-only blocks (Elhage et
  al. 2021, "A Mathematical Framework for Transformer Circuits"), learned,
  rotary (Su et al. 2021, "RoFormer") or no positions.
- A sparse attention mask from ``kernels/masks.py`` (``TinyConfig(mask=...)``),
  so lesson 04 can measure how far a trained model really looks.

Checkpoints are safetensors files (no pickle); the config, and optionally the
training recipe and history, travel in the file's metadata as JSON
(``attnviz.checkpoints``). The course's own trained models ship with the package:
``load_lesson_model`` (``attnviz.lesson_models``). Those modules and the training
loop import this one; their names stay importable from here (``__getattr__`` below).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from attnviz.kernels.attention import OPERATORS
from attnviz.kernels.masks import MAX_DENSE_LEN, PATTERNS, MaskPattern, make_mask
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.mixers import (
    EXPANDABLE,
    MAX_CONTEXT,
    MAX_D_MODEL,
    MAX_HEADS,
    MAX_STATE_EXPANSION,
    MAX_TAPS,
    MIXERS,
    Attention,  # noqa: F401  (softmax Attention and RoPE moved to mixers; importable here too)
    ShortConv,
    apply_rope,
    build_mixer,
    rope_tables,
)
from attnviz.validation import check_choice, check_int

POSITIONALS = ("learned", "rope", "none")
# the largest sizes TinyConfig accepts (the memory budget decides what a model may build)
MAX_LAYERS = 64
MAX_VOCAB = 2**17
MAX_D_MLP = 4 * MAX_D_MODEL


@dataclass(frozen=True)
class TinyConfig:
    """The shape of a TinyTransformer.

    ``mixer`` chooses the sequence mixer, the model class (``attnviz.mixers.MIXERS``):
    linear attention is ``mixer="linear_attention"``. ``operator="linear"`` is the older
    way to it, deprecated (it warns), and builds another parametrisation of the same
    function (lesson 06):

    - ``operator="linear"`` keeps the default mixer, softmax's ``Attention`` (one ``qkv``
      projection, the hook points, so maps can be captured), and swaps softmax for
      normalised linear attention with φ = elu + 1 (``kernels.attention.linear_operator``),
      formed as (T, T) weights. Positions, masks and ``causal=False`` apply as with softmax;
      φ has d_head features; ``state_size`` counts the KV cache, 2·T·d_model.
    - ``mixer="linear_attention"`` is lesson 06's recurrent mixer
      (``mixers.LinearAttentionMixer``, through ``kernels.linear.linear_attention``): ``qk``
      and ``v`` projections, ``state_expansion`` n features per head (default d_head), causal,
      learned or no positions, no mask, no hook points; ``state_size`` counts its state,
      n·d_model + n·n_heads.

    Where both apply (n = d_head, causal, no mask or RoPE) they compute the same function
    and a seed draws the same initial weights (``qkv`` is ``qk`` above ``v``); their outputs
    agree to rounding, not bit for bit, and their checkpoints do not load into each other.

    Every size has a cap: ``n_layers`` <= ``MAX_LAYERS`` (64), ``n_heads`` <= ``MAX_HEADS``
    (64), ``d_model`` <= ``MAX_D_MODEL`` (4096), ``vocab_size`` <= ``MAX_VOCAB`` (2**17),
    ``context`` <= ``MAX_CONTEXT`` (2**16), ``d_mlp`` <= ``MAX_D_MLP``, ``state_expansion``
    <= ``MAX_STATE_EXPANSION`` (1024), ``short_conv`` <= ``MAX_TAPS`` (64) taps. A config
    is only numbers; ``TinyTransformer`` checks that the model it builds fits the memory
    budget (``attnviz.memory_budget``).
    """

    n_layers: int = 2
    n_heads: int = 1
    d_model: int = 64
    vocab_size: int = 64
    context: int = 64  # the longest sequence the model accepts
    attention_only: bool = False  # no MLPs: the residual stream is embeddings + heads
    d_mlp: int | None = None  # hidden width of the MLPs; default 4 * d_model
    positional: str = "learned"  # "learned", "rope" or "none"
    causal: bool = True
    layer_norm: bool = True
    operator: str = "softmax"  # a name in attnviz.kernels.attention.OPERATORS
    # a sparse mask, and'ed with the causal one: a name in attnviz.kernels.masks.PATTERNS
    # (or a MaskPattern that make_mask built), with its parameters (lesson 04)
    mask: str | None = None
    mask_params: tuple[tuple[str, Any], ...] = ()
    # the sequence mixer of every block, a name in attnviz.mixers.MIXERS (lesson 06), and
    # for "linear_attention" / "s6" its state expansion n (None: the mixer's default)
    mixer: str = "attention"
    state_expansion: int | None = None
    # a causal depthwise convolution of this many taps before each block's mixer (0: none):
    # the short convolution of Mamba, H3 and Based, which lets a mixer see the previous
    # token without attending to it (lesson 06's MQAR sweep)
    short_conv: int = 0
    # Gated Attention (lesson 08): each head's output times a sigmoid gate read from the
    # block's input, query by query (Qiu et al. 2025)
    output_gate: bool = False

    def __post_init__(self) -> None:
        for name, low, high in (("n_layers", 1, MAX_LAYERS), ("n_heads", 1, MAX_HEADS),
                                ("d_model", 1, MAX_D_MODEL), ("vocab_size", 2, MAX_VOCAB),
                                ("context", 1, MAX_CONTEXT)):  # fmt: skip
            object.__setattr__(self, name, check_int(name, getattr(self, name), low=low, high=high))
        for name in ("attention_only", "causal", "layer_norm", "output_gate"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.d_mlp is not None:
            object.__setattr__(self, "d_mlp", check_int("d_mlp", self.d_mlp, low=1, high=MAX_D_MLP))
            if self.attention_only:
                raise ValueError(f"d_mlp must be None when attention_only=True, got {self.d_mlp}")
        check_choice("positional", self.positional, POSITIONALS)
        check_choice("operator", self.operator, tuple(OPERATORS))
        if self.d_model % self.n_heads:
            raise ValueError(
                f"n_heads must divide d_model = {self.d_model}, got n_heads = {self.n_heads}"
            )
        if self.positional == "rope" and self.d_head % 2:
            raise ValueError(
                f"positional='rope' needs an even head size d_model / n_heads, got {self.d_head}"
            )
        object.__setattr__(
            self, "short_conv", check_int("short_conv", self.short_conv, low=0, high=MAX_TAPS)
        )
        self._normalise_mask()
        self._check_mixer()
        if self.operator == "linear":
            warnings.warn(
                "TinyConfig(operator='linear') is deprecated: choose linear attention with "
                "mixer='linear_attention'. operator='linear' keeps softmax's Attention block "
                "(hook points, masks, RoPE) with a linear operator; it still works",
                DeprecationWarning,
                stacklevel=3,
            )

    def _check_mixer(self) -> None:
        check_choice("mixer", self.mixer, MIXERS)
        if self.state_expansion is not None:
            if self.mixer not in EXPANDABLE:
                raise ValueError(
                    f"state_expansion must be None for mixer={self.mixer!r} (only {EXPANDABLE} "
                    f"have one), got {self.state_expansion!r}"
                )
            n = check_int("state_expansion", self.state_expansion, low=1, high=MAX_STATE_EXPANSION)
            object.__setattr__(self, "state_expansion", n)
        if self.mixer != "attention":
            for name, value, default in (
                ("operator", self.operator, "softmax"),
                ("mask", self.mask, None),
                ("positional", self.positional, "learned"),
                ("output_gate", self.output_gate, False),
            ):
                if value != default and not (name == "positional" and value == "none"):
                    raise ValueError(
                        f"{name} applies to mixer='attention' only; with mixer={self.mixer!r} "
                        f"it must be {default!r}, got {value!r}"
                    )
            if not self.causal:
                raise ValueError(f"mixer={self.mixer!r} is causal: causal must be True")

    def _normalise_mask(self) -> None:
        # store the mask as a name and sorted (key, value) pairs: hashable, and plain JSON
        mask, params = self.mask, self.mask_params
        if isinstance(mask, MaskPattern):
            if params:
                raise ValueError("mask_params must be empty when mask is a MaskPattern")
            if not mask.trusted or mask.name not in PATTERNS or "blocked" in mask.params:
                raise TypeError(
                    f"mask must be a pattern that make_mask builds (one of {tuple(PATTERNS)}), "
                    f"got the custom pattern {mask.name!r}"
                )
            mask, params = mask.name, mask.params
        if mask is None:
            if params:
                raise ValueError(f"mask_params must be empty when mask is None, got {params!r}")
            return
        if not isinstance(mask, str):
            raise TypeError(
                f"mask must be None, a pattern name or a MaskPattern, got {type(mask).__name__}"
            )
        if isinstance(params, dict):
            params = params.items()
        try:
            pairs = tuple(sorted((str(k), _frozen(v)) for k, v in params))
        except (TypeError, ValueError):
            raise TypeError(
                f"mask_params must be a dict of the pattern's parameters, got {self.mask_params!r}"
            ) from None
        make_mask(mask, **dict(pairs))  # checks the name and every parameter
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "mask_params", pairs)
        if self.context > MAX_DENSE_LEN:
            raise ValueError(
                f"a masked model's context may be at most {MAX_DENSE_LEN}, got {self.context}"
            )

    def mask_pattern(self) -> MaskPattern | None:
        """The sparse mask the attention layers apply, or None (lesson 04)."""
        return None if self.mask is None else make_mask(self.mask, **dict(self.mask_params))

    @property
    def d_head(self) -> int:
        """Width of one head, d_model / n_heads."""
        return self.d_model // self.n_heads

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict (what a checkpoint stores; lesson 02)."""
        data = asdict(self)
        if self.mask is None:  # unmasked checkpoints read exactly as before masks existed
            del data["mask"], data["mask_params"]
        else:
            data["mask_params"] = {k: _thawed(v) for k, v in self.mask_params}
        if self.mixer == "attention":  # attention checkpoints read as before mixers existed
            del data["mixer"]
        if self.state_expansion is None:
            del data["state_expansion"]
        if not self.short_conv:
            del data["short_conv"]
        if not self.output_gate:  # ungated checkpoints read as before gates existed
            del data["output_gate"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TinyConfig:
        """Rebuild a config from ``to_dict``'s output (lesson 02)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a dict (to_dict's output), got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"data (a config) has unknown keys {sorted(map(str, unknown))}; allowed: "
                f"{sorted(known)}"
            )
        try:
            return cls(**data)
        except (TypeError, ValueError) as error:
            raise type(error)(f"data holds an invalid config: {error}") from None


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _thawed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --- the model --------------------------------------------------------------------------------


class MLP(nn.Module):
    """Two-layer perceptron applied at every position."""

    def __init__(self, d_model: int, d_mlp: int) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, d_mlp)
        self.down = nn.Linear(d_mlp, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.nn.functional.gelu(self.up(x)))  # (B, T, d_model)


class Block(nn.Module):
    """One pre-LayerNorm block: x + attn(conv(ln(x))), then x + mlp(ln(x)).

    ``attn`` is the config's sequence mixer (``attnviz.mixers``), softmax attention by default;
    ``conv`` the optional short causal convolution (``config.short_conv`` taps).
    """

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        norm = nn.LayerNorm if config.layer_norm else lambda _d: nn.Identity()
        self.ln_attn = norm(config.d_model)
        self.attn = build_mixer(config)
        self.conv = ShortConv(config.d_model, config.short_conv) if config.short_conv else None
        self.mlp = None
        if not config.attention_only:
            self.ln_mlp = norm(config.d_model)
            self.mlp = MLP(config.d_model, config.d_mlp or 4 * config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self.ln_attn(x)  # (B, T, d_model)
        if self.conv is not None:
            mixed = self.conv(mixed)
        x = x + self.attn(mixed)
        if self.mlp is not None:
            x = x + self.mlp(self.ln_mlp(x))
        return x


class TinyTransformer(nn.Module):
    """A small GPT: token ids (B, T) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, config: TinyConfig, *, seed: int | None = None) -> None:
        """Build the model; ``seed`` makes the initial weights reproducible (lesson 02).

        ``seed`` is None or an integer in [0, 2**63 - 1]. The parameters, with their
        gradients and AdamW's moments while training, must fit the memory budget.
        """
        super().__init__()
        if not isinstance(config, TinyConfig):
            raise TypeError(f"config must be a TinyConfig, got {type(config).__name__}")
        if seed is not None:
            seed = check_int("seed", seed, low=0, high=2**63 - 1)
        check_bytes(
            f"a TinyTransformer of {config.n_layers} layers, d_model={config.d_model}, "
            f"vocab_size={config.vocab_size} ({_parameter_count(config):,} parameters, with "
            "gradients and AdamW's moments)",
            4 * tensor_bytes(_parameter_count(config)),
            instead="use fewer layers or a smaller d_model, d_mlp or vocab_size",
        )
        self.config = config
        # torch's layers draw default weights from the global generator; a seeded model
        # replaces them all, so it leaves the global generator as it found it
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            self.embed = nn.Embedding(config.vocab_size, config.d_model)
            self.pos_embed = None
            if config.positional == "learned":
                self.pos_embed = nn.Embedding(config.context, config.d_model)
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
            self.ln_final = nn.LayerNorm(config.d_model) if config.layer_norm else nn.Identity()
            self.unembed = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self._init_weights(seed)
        self.eval()

    def _init_weights(self, seed: int | None) -> None:
        # GPT-2 initialisation, as nanoGPT: N(0, 0.02), residual projections scaled by
        # 1/sqrt(2 · n_layers) so the residual stream's variance does not grow with depth.
        g = None if seed is None else torch.Generator().manual_seed(seed)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() < 2:  # LayerNorm gains
                nn.init.ones_(p)
            else:
                std = residual_std if name.endswith(("out.weight", "down.weight")) else 0.02
                nn.init.normal_(p, mean=0.0, std=std, generator=g)
        for module in self.modules():  # mixers whose learning needs a scale of their own
            if module is not self and hasattr(module, "init_weights"):
                module.init_weights(g)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab_size) for ids (B, T); ids (T,) are read as one sequence (1, T).

        The activations of every layer (kept for the backward pass while training) must
        fit the memory budget.
        """
        input_ids = self._check_ids(input_ids)  # (B, T)
        check_bytes(
            f"the activations of a TinyTransformer on input_ids of shape {tuple(input_ids.shape)}",
            _activation_bytes(self.config, *input_ids.shape),
            instead="use shorter or fewer sequences (a smaller batch)",
        )
        x = self.embed(input_ids)  # (B, T, d_model)
        if self.pos_embed is not None:
            x = x + self.pos_embed.weight[: input_ids.shape[1]]  # (B, T, d_model)
        for block in self.blocks:
            x = block(x)  # (B, T, d_model)
        return self.unembed(self.ln_final(x))  # (B, T, vocab_size)

    def _check_ids(self, input_ids: Any) -> torch.Tensor:
        if isinstance(input_ids, np.ndarray):
            input_ids = torch.from_numpy(input_ids)
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(
                f"input_ids must be a torch.Tensor of token ids, got {type(input_ids).__name__}"
            )
        if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
            raise TypeError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
        if input_ids.device.type == "meta":
            raise ValueError("input_ids is a tensor on the meta device, which holds no numbers")
        if input_ids.dim() == 1:
            input_ids = input_ids.unsqueeze(0)  # (1, T)
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must have shape (B, T) or (T,), got shape {tuple(input_ids.shape)}"
            )
        batch, seq_len = input_ids.shape
        context, vocab = self.config.context, self.config.vocab_size
        if batch == 0 or seq_len == 0:
            raise ValueError(
                f"input_ids must hold at least one token, got shape {tuple(input_ids.shape)}"
            )
        if seq_len > context:
            raise ValueError(
                f"input_ids may be at most context = {context} tokens long, got {seq_len}"
            )
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= vocab:
            raise ValueError(
                f"input_ids must be token ids in [0, {vocab - 1}] (vocab_size = {vocab}), "
                f"got values in [{low}, {high}]"
            )
        return input_ids.long()


def _parameter_count(config: TinyConfig) -> int:
    """How many parameters ``TinyTransformer(config)`` has, counted from the config alone."""
    d, n_layers = config.d_model, config.n_layers
    mixer = {
        "attention": 4 * d * d,
        "linear_attention": d * (2 * config.n_heads * (config.state_expansion or config.d_head))
        + 2 * d * d,
        "s6": d * (3 * d + 3 * (config.state_expansion or 16) + 2),
        "qlstm": 5 * d * d + 4 * d,
    }[config.mixer]
    d_mlp = config.d_mlp or 4 * d
    mlp = 0 if config.attention_only else 2 * d * d_mlp + d_mlp + d + 2 * d  # its norm too
    gate = (d + 1) * config.n_heads if config.output_gate else 0
    conv = (config.short_conv + 1) * d if config.short_conv else 0  # depthwise taps + bias
    block = 2 * d + mixer + gate + mlp + conv  # the mixer's norm first
    positions = config.context * d if config.positional == "learned" else 0
    return 2 * config.vocab_size * d + positions + n_layers * block + 2 * d


def _activation_bytes(config: TinyConfig, batch: int, seq_len: int) -> int:
    """Bytes a forward pass on (batch, seq_len) ids holds at its peak, within a small factor:
    every layer's activations (kept for the backward pass) and the logits."""
    d, heads = config.d_model, config.n_heads
    d_mlp = 0 if config.attention_only else config.d_mlp or 4 * d
    n = config.state_expansion or (config.d_head if config.mixer != "s6" else 16)
    per_token = {
        "attention": 3 * heads * seq_len + 8 * d,
        "linear_attention": 3 * heads * seq_len + 4 * heads * n + 8 * d,
        "s6": 8 * d + 4 * n,
        "qlstm": 12 * d,
    }[config.mixer]
    per_layer = per_token + 2 * d_mlp + 4 * d
    return tensor_bytes(batch, seq_len, config.n_layers * per_layer + 3 * config.vocab_size)


# --- names that moved out, importable from here as before --------------------------------------

# Checkpoint I/O, the lesson models and the training loop import this module, so this
# module must not import them when it loads (issue #12: no import circles). A module-level
# __getattr__ (PEP 562) runs only when a name is not found here, after this module has
# loaded: it imports the name from its home then, so ``models.load_lesson_model(...)``
# and ``from attnviz.models import save`` keep working.
_CHECKPOINT_NAMES = ("load", "load_history", "read_metadata", "save")  # and FORMAT
_LESSON_MODEL_NAMES = (
    "LESSON_MODELS",
    "lesson_held_out",
    "lesson_model_path",
    "load_lesson_history",
    "load_lesson_model",
    "numerics_fingerprint",
    "train_lesson_model",
)
_TRAINING_NAMES = ("TrainingHistory", "evaluate", "token_loss", "train")


def __getattr__(name: str) -> Any:
    """A name that moved to ``attnviz.checkpoints``, ``.lesson_models`` or ``.training``."""
    if name in _CHECKPOINT_NAMES or name == "FORMAT":
        from attnviz import checkpoints

        return getattr(checkpoints, name)
    if name in _LESSON_MODEL_NAMES:
        from attnviz import lesson_models

        return getattr(lesson_models, name)
    if name in _TRAINING_NAMES:
        from attnviz import training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """This module's names and the moved ones, so completion still offers them."""
    moved = (*_CHECKPOINT_NAMES, "FORMAT", *_LESSON_MODEL_NAMES, *_TRAINING_NAMES)
    return sorted({*globals(), *moved})


__all__ = [
    "MAX_CONTEXT",
    "MAX_D_MLP",
    "MAX_D_MODEL",
    "MAX_HEADS",
    "MAX_LAYERS",
    "MAX_STATE_EXPANSION",
    "MAX_TAPS",
    "MAX_VOCAB",
    "TinyConfig",
    "TinyTransformer",
    "apply_rope",
    "rope_tables",
    *_CHECKPOINT_NAMES,
    *_LESSON_MODEL_NAMES,
    *_TRAINING_NAMES,
]
