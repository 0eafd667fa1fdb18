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
training recipe and history, travel in the file's metadata as JSON. The
course's own trained models ship with the package: ``load_lesson_model``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as _save_bytes
from torch import nn

from attnviz.kernels.attention import OPERATORS
from attnviz.kernels.masks import MAX_DENSE_LEN, PATTERNS, MaskPattern, make_mask
from attnviz.mixers import (
    EXPANDABLE,
    MIXERS,
    Attention,  # noqa: F401  (softmax Attention and RoPE moved to mixers; importable here too)
    ShortConv,
    apply_rope,
    build_mixer,
    rope_tables,
)
from attnviz.tasks import TaskData, make_task
from attnviz.training import TrainingHistory, evaluate, token_loss, train
from attnviz.validation import check_choice, check_int

POSITIONALS = ("learned", "rope", "none")
FORMAT = "attnviz.TinyTransformer/1"  # what a checkpoint's metadata says it holds


@dataclass(frozen=True)
class TinyConfig:
    """The shape of a TinyTransformer."""

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

    def __post_init__(self) -> None:
        check_int("n_layers", self.n_layers, low=1)
        check_int("n_heads", self.n_heads, low=1)
        check_int("d_model", self.d_model, low=1)
        check_int("vocab_size", self.vocab_size, low=2)
        check_int("context", self.context, low=1)
        for name in ("attention_only", "causal", "layer_norm"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.d_mlp is not None:
            check_int("d_mlp", self.d_mlp, low=1)
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
        check_int("short_conv", self.short_conv, low=0)
        self._normalise_mask()
        self._check_mixer()

    def _check_mixer(self) -> None:
        check_choice("mixer", self.mixer, MIXERS)
        if self.state_expansion is not None:
            if self.mixer not in EXPANDABLE:
                raise ValueError(
                    f"state_expansion must be None for mixer={self.mixer!r} (only {EXPANDABLE} "
                    f"have one), got {self.state_expansion!r}"
                )
            check_int("state_expansion", self.state_expansion, low=1)
        if self.mixer != "attention":
            for name, value, default in (
                ("operator", self.operator, "softmax"),
                ("mask", self.mask, None),
                ("positional", self.positional, "learned"),
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
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TinyConfig:
        """Rebuild a config from ``to_dict``'s output (lesson 02)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"config has unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
        return cls(**data)


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
        """Build the model; ``seed`` makes the initial weights reproducible (lesson 02)."""
        super().__init__()
        if not isinstance(config, TinyConfig):
            raise TypeError(f"config must be a TinyConfig, got {type(config).__name__}")
        if seed is not None:
            seed = check_int("seed", seed, low=0)
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
        """Logits (B, T, vocab_size) for ids (B, T); ids (T,) are read as one sequence (1, T)."""
        input_ids = self._check_ids(input_ids)  # (B, T)
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


# --- checkpoints: safetensors, config and history in the metadata ----------------------------


def save(
    model: TinyTransformer,
    path: str | Path,
    *,
    history: TrainingHistory | None = None,
    recipe: dict[str, Any] | None = None,
    numerics: str | None = None,
) -> Path:
    """Write ``model`` to a safetensors file, with its config (and history) as JSON (lesson 02).

    The file holds only tensors and JSON, no pickle, and is byte-for-byte the
    same for the same weights, config, history, recipe and ``numerics`` (the
    ``numerics_fingerprint()`` of the machine that trained it, if given).
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    if history is not None and not isinstance(history, TrainingHistory):
        raise TypeError(f"history must be a TrainingHistory, got {type(history).__name__}")
    if recipe is not None and not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict, got {type(recipe).__name__}")
    if numerics is not None and not isinstance(numerics, str):
        raise TypeError(f"numerics must be a str, got {type(numerics).__name__}")
    path = Path(path)
    meta = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "recipe": recipe,
        "history": None if history is None else history.to_dict(),
    }
    if numerics is not None:
        meta["numerics"] = numerics
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    # One metadata key: safetensors writes several keys in an arbitrary order.
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=False)
    path.write_bytes(_save_bytes(tensors, metadata={"attnviz": text}))
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint: format, config, recipe and history (lesson 03)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be a safetensors checkpoint file, got {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("attnviz")
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(f"path {str(path)!r} is not a safetensors file: {error}") from None
    meta = None if raw is None else json.loads(raw)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"path {str(path)!r} is not an attnviz checkpoint (format {FORMAT})")
    return meta


def load(path: str | Path) -> TinyTransformer:
    """Read a model written by ``save``, in eval mode (lesson 02)."""
    meta = read_metadata(path)
    model = TinyTransformer(TinyConfig.from_dict(meta["config"]), seed=0)
    with safe_open(str(path), framework="pt") as f:
        state = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # missing, unexpected or misshapen tensors
        raise ValueError(f"path {str(path)!r} does not match its config: {error}") from None
    return model.eval()


def load_history(path: str | Path) -> TrainingHistory | None:
    """The training history stored with a checkpoint, or None (lesson 03)."""
    history = read_metadata(path)["history"]
    return None if history is None else TrainingHistory.from_dict(history)


# --- the course's own models ------------------------------------------------------------------

# Each recipe trains in seconds on a laptop CPU; tools/train_lesson_models.py writes
# attnviz/weights/<name>.safetensors from these, and a test retrains and compares.
# The training data vary the period of the repetition (min_half), so that only an
# induction head, not a head that looks a fixed distance back, predicts the repeats.
_REPEATS = {
    "task": "repeated_tokens",
    "n": 4096,
    "seq_half": 16,
    "vocab": 48,
    "seed": 0,
    "min_half": 4,
}
_TRAIN = {"steps": 400, "lr": 1e-3, "batch_size": 64, "seed": 0, "record_every": 5}
LESSON_MODELS: dict[str, dict[str, Any]] = {
    "induction_2l": {
        "description": "2-layer attention-only model on repeated tokens: an induction head forms",
        "config": {"n_layers": 2, "n_heads": 2, "d_model": 64, "vocab_size": 48, "context": 33,
                   "attention_only": True},
        "init_seed": 0,
        "task": _REPEATS,
        "train": _TRAIN,
    },
    "induction_1l": {
        "description": "1-layer attention-only control on the same task: no induction head",
        "config": {"n_layers": 1, "n_heads": 2, "d_model": 64, "vocab_size": 48, "context": 33,
                   "attention_only": True},
        "init_seed": 0,
        "task": _REPEATS,
        "train": _TRAIN,
    },
    "induction_rope": {
        "description": "2-layer attention-only model with rotary positions that reads up to "
                       "4,096 tokens: trained on periodic tokens of 128, then 1,024 and 2,048 "
                       "tokens, its previous-token and induction heads still work at 4,096",
        "config": {"n_layers": 2, "n_heads": 2, "d_model": 64, "vocab_size": 48,
                   "context": 4096, "attention_only": True, "positional": "rope"},
        "init_seed": 0,
        "task": {"task": "periodic_tokens", "n": 1024, "length": 128, "vocab": 48, "seed": 0,
                 "min_period": 4},
        "train": {"steps": 200, "lr": 3e-3, "batch_size": 32, "seed": 0, "eval_size": 8,
                  "record_every": 10},
        # at 128 tokens the heads are too blunt for 4,096 (a previous-token head that
        # puts 0.9 of its weight on the previous token among 100 keys puts 0.02 there
        # among 3,000): longer inputs sharpen them and show them the longer offsets
        "then": [
            {"task": {"task": "periodic_tokens", "n": 1024, "length": 1024, "vocab": 48,
                      "seed": 1, "min_period": 4},
             "train": {"steps": 150, "lr": 2e-3, "batch_size": 2, "seed": 1, "eval_size": 8,
                       "record_every": 50}},
            {"task": {"task": "periodic_tokens", "n": 128, "length": 2048, "vocab": 48,
                      "seed": 2, "min_period": 4},
             "train": {"steps": 30, "lr": 1e-3, "batch_size": 1, "seed": 2, "eval_size": 2,
                       "record_every": 30}},
        ],
    },
}  # fmt: skip


def train_lesson_model(
    name: str, *, progress: bool = False, num_threads: int | None = 1
) -> tuple[TinyTransformer, TrainingHistory]:
    """Train a lesson model from its recipe in ``LESSON_MODELS`` (lessons 02, 03).

    A recipe may go on training on further tasks (``"then"``, e.g. longer inputs);
    the history then continues through them, its steps counted from the start.
    ``num_threads`` is ``train``'s: the shipped models were trained on one thread,
    and another count rounds the last bits differently (the same behaviour, other bits).
    """
    recipe = _lesson_recipe(name)
    model = TinyTransformer(TinyConfig(**recipe["config"]), seed=recipe["init_seed"])
    options = {"progress": progress, "num_threads": num_threads}
    history = train(model, make_task(**recipe["task"]), **options, **recipe["train"])
    for stage in recipe.get("then", ()):
        more = train(model, make_task(**stage["task"]), **options, **stage["train"])
        _extend(history, more)
    return model, history


def numerics_fingerprint() -> str:
    """How this machine's CPU kernels round when training (the shipped models' provenance).

    Training is deterministic on one machine, but the last bits of matrix products
    and reductions may differ between CPUs and PyTorch builds (PyTorch promises
    bit-equal results only on one platform and release). This trains the first
    lesson recipe for three steps and hashes the weights: machines with equal
    fingerprints retrain the shipped models bit for bit (tools/train_lesson_models.py
    stores the fingerprint in each file).
    """
    recipe = LESSON_MODELS["induction_2l"]
    model = TinyTransformer(TinyConfig(**recipe["config"]), seed=recipe["init_seed"])
    task = make_task(**{**recipe["task"], "n": 256})
    train(model, task, progress=False, **{**recipe["train"], "steps": 3, "record_every": 3})
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.numpy().tobytes())
    return f"torch {torch.__version__}, {digest.hexdigest()[:16]}"


def _extend(history: TrainingHistory, more: TrainingHistory) -> None:
    """Append a later stage's records, all but its step 0 (the weights of the last record)."""
    offset = history.steps[-1]
    history.steps += [offset + step for step in more.steps[1:]]
    history.loss += more.loss[1:]
    for key, values in history.region_loss.items():
        values += more.region_loss[key][1:]
    for key, values in history.scores.items():
        values += more.scores[key][1:]
    history.train_loss += more.train_loss
    history.recipe = {**history.recipe, "then": [*history.recipe.get("then", []), more.recipe]}


def lesson_model_path(name: str) -> Path:
    """Where the shipped weights of a lesson model live (lessons 02, 03)."""
    _lesson_recipe(name)
    return Path(str(resources.files("attnviz") / "weights" / f"{name}.safetensors"))


def load_lesson_model(name: str) -> TinyTransformer:
    """Load one of the course's trained models, e.g. ``"induction_2l"`` (lessons 02, 03)."""
    return load(lesson_model_path(name))


def load_lesson_history(name: str) -> TrainingHistory:
    """The training history shipped with a lesson model, to plot without retraining (lesson 03)."""
    history = load_history(lesson_model_path(name))
    if history is None:
        raise ValueError(f"the weights of {name!r} were saved without a training history")
    return history


@lru_cache(maxsize=8)
def lesson_held_out(name: str) -> TaskData:
    """The sequences a lesson model's training held out, its recipe's first ``eval_size``:
    what lesson 03 and its dashboard measure the model on. Made once per model (drawing the
    recipe's whole task costs more than a dashboard control may); treat it as read-only."""
    recipe = _lesson_recipe(name)
    return make_task(**recipe["task"])[: recipe["train"].get("eval_size", 64)]


def _lesson_recipe(name: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in LESSON_MODELS:
        raise ValueError(f"name must be one of {tuple(LESSON_MODELS)}, got {name!r}")
    return LESSON_MODELS[name]


__all__ = [
    "LESSON_MODELS",
    "TinyConfig",
    "TinyTransformer",
    "TrainingHistory",
    "apply_rope",
    "evaluate",
    "lesson_held_out",
    "lesson_model_path",
    "load",
    "load_history",
    "load_lesson_history",
    "load_lesson_model",
    "numerics_fingerprint",
    "read_metadata",
    "rope_tables",
    "save",
    "token_loss",
    "train",
    "train_lesson_model",
]
