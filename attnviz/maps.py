"""Attention maps: capture them from a model, score the heads, pool them for display.

Lesson 02 (reading attention maps) captures the weights a model computes and reads
them: one (query × key) heat map per head, its entropy, its attention sink.
Lesson 03 (heads with jobs) scores every head against a job description:
previous-token, duplicate-token and induction heads (Olsson et al. 2022, with the
detection patterns of TransformerLens' ``head_detector``), first-token sinks (Gu et
al. 2025, arXiv 2410.10781), retrieval heads on the needle task (Wu et al. 2024,
arXiv 2404.15574); it follows information through the layers with attention
rollout (Abnar & Zuidema 2020, arXiv 2005.00928) and asks whether a head matters by
ablating it.

Shapes: ``weights`` are (L, H, T, T) = (layers, heads, query, key); row t of a head
holds how query t spread its attention over the keys. Every head score is an
(L, H) array. Positions are 0-based, so the paper's "first token" is position 0.

Example:
    >>> import torch
    >>> mha = torch.nn.MultiheadAttention(embed_dim=8, num_heads=2)
    >>> maps = capture(mha, torch.randn(5, 8))
    >>> maps.weights.shape, sink_score(maps).shape
    ((1, 2, 5, 5), (1, 2))

This module computes only; it never imports Panel or Bokeh.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from attnviz.validation import check_choice, check_int, check_real

HEAD_KINDS = ("previous_token", "duplicate_token", "induction")
IGNORE_INDEX = -100  # a target with no loss (torch cross_entropy, attnviz.tasks)
ErrorMeasure = Literal["mul", "abs"]

# Attribute names a model config may use for its context length, most specific first.
_CONTEXT_NAMES = (
    "context",
    "max_position_embeddings",
    "n_positions",
    "n_ctx",
    "block_size",
    "max_seq_len",
)


# ---------------------------------------------------------------------------
# The captured maps
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class AttentionMaps:
    """The attention weights of one sequence, every layer and head (lesson 02).

    Attributes:
        weights: (L, H, T, T) array; ``weights[l, h, t]`` is query t's attention
            over the keys in head h of layer l.
        tokens: T labels, one per position (token strings, or ids as text).
        input_ids: (T,) token ids, or None when the model was fed embeddings.
        model_name: the class name of the model the maps came from.
    """

    weights: np.ndarray  # (L, H, T, T)
    tokens: list[str]
    input_ids: np.ndarray | None = None  # (T,)
    model_name: str = field(default="")

    def __post_init__(self) -> None:
        weights = _to_numpy("weights", self.weights)
        if weights.ndim != 4 or weights.shape[-1] != weights.shape[-2]:
            raise ValueError(
                "weights must have shape (layers, heads, query, key) with query == key, "
                f"got {weights.shape}"
            )
        if weights.size == 0:
            raise ValueError(f"weights must not be empty, got shape {weights.shape}")
        if not np.issubdtype(weights.dtype, np.floating):
            weights = weights.astype(np.float32)
        seq_len = weights.shape[-1]
        tokens = list(self.tokens)
        if len(tokens) != seq_len or not all(isinstance(t, str) for t in tokens):
            raise ValueError(
                f"tokens must be {seq_len} strings (one per position), got {len(tokens)} items"
            )
        input_ids = self.input_ids
        if input_ids is not None:
            input_ids = _to_numpy("input_ids", input_ids).astype(np.int64).reshape(-1)
            if input_ids.shape != (seq_len,):
                raise ValueError(
                    f"input_ids must have {seq_len} entries (one per position), "
                    f"got {input_ids.shape[0]}"
                )
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "input_ids", input_ids)

    def __repr__(self) -> str:
        name = self.model_name or "model"
        return (
            f"AttentionMaps({name}: {self.n_layers} layers × {self.n_heads} heads "
            f"× {self.seq_len} tokens)"
        )

    @property
    def n_layers(self) -> int:
        """Number of attention layers L."""
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        """Number of heads per layer H."""
        return self.weights.shape[1]

    @property
    def seq_len(self) -> int:
        """Sequence length T."""
        return self.weights.shape[-1]

    def layer(self, layer: int) -> np.ndarray:
        """The (H, T, T) weights of one layer."""
        return self.weights[check_int("layer", layer, low=0, high=self.n_layers - 1)]

    def head(self, layer: int, head: int) -> np.ndarray:
        """The (T, T) weights of one head: row = query, column = key."""
        layer = check_int("layer", layer, low=0, high=self.n_layers - 1)
        return self.weights[layer, check_int("head", head, low=0, high=self.n_heads - 1)]

    def entropy(self, *, normalize: bool = False, per_query: bool = False) -> np.ndarray:
        """Attention entropy per head in nats; see :func:`entropy`."""
        return entropy(self, normalize=normalize, per_query=per_query)

    def rollout(self, *, residual: float = 0.5) -> np.ndarray:
        """Attention rollout through the layers, (L, T, T); see :func:`rollout`."""
        return rollout(self, residual=residual)

    def scores(self, *, exclude_bos: bool = False) -> dict[str, np.ndarray]:
        """Every map-only head score, each (L, H): the table of lesson 03.

        Keys: ``previous_token``, ``duplicate_token`` and ``induction`` (only when
        the maps hold token ids), ``sink`` (α of position 0) and ``entropy``.
        """
        out = {"previous_token": previous_token_score(self, exclude_bos=exclude_bos)}
        if self.input_ids is not None:
            out["duplicate_token"] = duplicate_token_score(self, exclude_bos=exclude_bos)
            out["induction"] = induction_score(self, exclude_bos=exclude_bos)
        out["sink"] = sink_score(self)
        out["entropy"] = entropy(self)
        return out

    def downsample(
        self, layer: int, head: int, max_size: int = 256, *, reduce: str = "max"
    ) -> Pooled:
        """A pooled overview of one head; see :func:`downsample`."""
        return downsample(self.head(layer, head), max_size, reduce=reduce)

    def window(
        self,
        layer: int,
        head: int,
        rows: tuple[int, int],
        cols: tuple[int, int] | None = None,
    ) -> Window:
        """A labelled full-resolution region of one head; see :func:`window`."""
        return window(self.head(layer, head), rows, cols, tokens=self.tokens)


# ---------------------------------------------------------------------------
# Capture
# ---------------------------------------------------------------------------


def capture(
    model: nn.Module,
    input_ids: Any,
    *,
    tokens: Any = None,
    batch_index: int = 0,
) -> AttentionMaps:
    """Run ``model`` once and keep every attention weight it computed (lesson 02).

    Three kinds of model are understood, tried in this order:

    * a Hugging Face ``transformers`` model (GPT-2, BERT, Llama, ...): run with
      ``output_attentions=True``; a model built with the ``sdpa`` or flash kernels
      is switched to ``eager`` attention for the call and switched back after.
    * any module with submodules named ``hook_pattern`` (attnviz's
      ``TinyTransformer``): a forward hook on each records the (B, H, T, T)
      pattern it is applied to; layer l is the l-th such module.
    * any module built on ``torch.nn.MultiheadAttention`` (including a bare one,
      called as ``mha(x, x, x)``): a pre-hook forces ``need_weights=True,
      average_attn_weights=False`` and a hook keeps the per-head weights. The
      PyTorch fast path, which never forms the weights, is off during the call.

    The model runs in eval mode (dropout off) under ``torch.no_grad()``; its
    train/eval flags, hooks and settings are restored afterwards.

    Args:
        model: the model.
        input_ids: token ids, (T,) for one sequence or (B, T) for a batch; the
            whole batch is run and the maps of row ``batch_index`` are kept. A model
            built on ``nn.MultiheadAttention`` may instead take a float tensor of
            embeddings, passed on unchanged.
        tokens: labels for the positions: a tokenizer (anything with
            ``convert_ids_to_tokens`` or ``decode``), or a sequence of T strings.
            Default: the ids as text (positions, for embeddings).
        batch_index: which row of a batch to keep.

    Returns:
        AttentionMaps with ``weights`` of shape (L, H, T, T).

    Raises:
        TypeError: the model computes no attention weights this can capture.
        ValueError: ``input_ids`` empty, out of the vocabulary or longer than the
            model's context; ``batch_index`` out of range.
    """
    kind = _model_kind(model)
    batch, ids = _prepare_inputs(model, input_ids, kind)
    rows = None if ids is None else ids.shape[0]  # embeddings: the batch axis shows in the weights
    batch_index = check_int(
        "batch_index", batch_index, low=0, high=None if rows is None else rows - 1
    )
    weights = _stack_layers(model, _run(model, batch, kind)[0])  # (L, B, H, T, T)
    batch_index = check_int("batch_index", batch_index, low=0, high=weights.shape[1] - 1)
    weights = weights[:, batch_index]  # (L, H, T, T)
    row_ids = None if ids is None else ids[batch_index].numpy()
    labels = _token_labels(tokens, row_ids, weights.shape[-1])
    return AttentionMaps(
        weights=weights.float().numpy() if weights.dtype != torch.float64 else weights.numpy(),
        tokens=labels,
        input_ids=row_ids,
        model_name=type(model).__name__,
    )


def _model_kind(model: Any) -> str:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    transformers = sys.modules.get("transformers")  # a HF model implies it is imported
    if transformers is not None and isinstance(model, transformers.PreTrainedModel):
        return "hf"
    if _named_hooks(model, "hook_pattern"):
        return "hook_pattern"
    if any(isinstance(m, nn.MultiheadAttention) for m in model.modules()):
        return "mha"
    raise TypeError(
        f"model {type(model).__name__} has no attention this can capture: expected a Hugging "
        "Face transformers model, a module with `hook_pattern` hook points (attnviz "
        "TinyTransformer), or one built on torch.nn.MultiheadAttention"
    )


def _named_hooks(model: nn.Module, name: str) -> list[nn.Module]:
    """Submodules called ``name`` (e.g. blocks.3.attn.hook_pattern), in registration order."""
    return [m for path, m in model.named_modules() if path.rsplit(".", 1)[-1] == name and path]


def _model_limits(model: nn.Module) -> tuple[int | None, int | None]:
    """(vocabulary size, context length) when the model declares them."""
    config = getattr(model, "config", None)
    vocab = getattr(config, "vocab_size", None)
    context = None
    for name in _CONTEXT_NAMES:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            context = value
            break
    if not isinstance(vocab, int) or isinstance(vocab, bool) or vocab <= 0:
        vocab = None
        get_embeddings = getattr(model, "get_input_embeddings", None)
        embedding = get_embeddings() if callable(get_embeddings) else None
        if not isinstance(embedding, nn.Embedding):
            embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
            embedding = embeddings[0] if len(embeddings) == 1 else None
        if isinstance(embedding, nn.Embedding):
            vocab = embedding.num_embeddings
    return vocab, context


def _prepare_inputs(
    model: nn.Module, input_ids: Any, kind: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return (what the model is called with, the (B, T) int64 ids or None)."""
    if isinstance(input_ids, torch.Tensor) and input_ids.is_floating_point():
        if kind != "mha":
            raise TypeError(
                f"input_ids must be integer token ids for {type(model).__name__}, "
                f"got a {input_ids.dtype} tensor"
            )
        if input_ids.dim() not in (2, 3) or input_ids.numel() == 0:
            raise ValueError(
                "input_ids given as embeddings must be a non-empty (T, d) or batched "
                f"3-D tensor, got shape {tuple(input_ids.shape)}"
            )
        return input_ids, None
    ids = _as_ids("input_ids", input_ids)
    if ids.dim() == 1:
        ids = ids.unsqueeze(0)  # (1, T)
    if ids.dim() != 2:
        raise ValueError(f"input_ids must have shape (T,) or (batch, T), got {tuple(ids.shape)}")
    if ids.shape[0] == 0:
        raise ValueError(f"input_ids must hold at least one sequence, got shape {tuple(ids.shape)}")
    vocab, context = _model_limits(model)
    if ids.shape[1] == 0 or (context is not None and ids.shape[1] > context):
        allowed = f"between 1 and {context}" if context is not None else "at least 1"
        raise ValueError(
            f"input_ids must have {allowed} positions (the model's context), got {ids.shape[1]}"
        )
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or (vocab is not None and high >= vocab):
        allowed = f"[0, {vocab - 1}]" if vocab is not None else "[0, inf)"
        bad = low if low < 0 else high
        raise ValueError(
            f"input_ids must be token ids in {allowed} (the model's vocabulary), got {bad}"
        )
    return ids, ids


def _as_ids(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be integer token ids, got {type(value).__name__}"
            ) from None
        if array.dtype == object or (array.size and array.dtype.kind not in "iu"):
            raise TypeError(f"{name} must be integer token ids, got dtype {array.dtype}")
        tensor = torch.from_numpy(array.astype(np.int64))
    if tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex():
        raise TypeError(f"{name} must be integer token ids, got dtype {tensor.dtype}")
    return tensor.long()


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


@contextmanager
def _mha_slow_path() -> Iterator[None]:
    """Turn off PyTorch's fused MHA / encoder fast path, which never forms the weights."""
    backend = getattr(torch.backends, "mha", None)
    if backend is None or not hasattr(backend, "set_fastpath_enabled"):
        yield
        return
    was = backend.get_fastpath_enabled()
    backend.set_fastpath_enabled(False)
    try:
        yield
    finally:
        backend.set_fastpath_enabled(was)


def _run(model: nn.Module, batch: torch.Tensor, kind: str) -> tuple[list[torch.Tensor], Any]:
    """One forward pass; return the per-layer weights (B, H, T, T) and the raw output."""
    with torch.no_grad(), _eval_mode(model):
        if kind == "hf":
            return _run_hf(model, batch)
        if kind == "hook_pattern":
            return _run_hooked(model, batch, _named_hooks(model, "hook_pattern"), mha=False)
        modules = [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
        with _mha_slow_path():
            return _run_hooked(model, batch, modules, mha=True)


def _run_hf(model: nn.Module, ids: torch.Tensor) -> tuple[list[torch.Tensor], Any]:
    config = model.config
    before = getattr(config, "_attn_implementation", None)
    switched = False
    if before not in (None, "eager") and hasattr(model, "set_attn_implementation"):
        try:
            model.set_attn_implementation("eager")
            switched = True
        except (ValueError, TypeError, ImportError, NotImplementedError, AttributeError):
            pass  # older releases fall back to eager by themselves with output_attentions
    try:
        out = model(input_ids=ids, output_attentions=True)
    finally:
        if switched:
            model.set_attn_implementation(before)
    attentions = getattr(out, "attentions", None)
    if not attentions or any(not isinstance(a, torch.Tensor) for a in attentions):
        raise TypeError(
            f"model {type(model).__name__} returned no attention weights with "
            f"output_attentions=True (attn_implementation={before!r}); build it with "
            "attn_implementation='eager', or use a model whose attention forms its weights"
        )
    return list(attentions), out


def _run_hooked(
    model: nn.Module, batch: torch.Tensor, modules: list[nn.Module], *, mha: bool
) -> tuple[list[torch.Tensor], Any]:
    seen: dict[int, torch.Tensor] = {}
    index = {id(m): i for i, m in enumerate(modules)}

    def keep(module: nn.Module, args: tuple, output: Any) -> None:
        weights = output[1] if mha else output
        if id(module) in seen:
            raise ValueError(
                f"attention layer {index[id(module)]} of {type(model).__name__} ran twice in "
                "one forward pass; capture needs each attention module to run once"
            )
        if weights.dim() == 3:  # unbatched MultiheadAttention: (H, T, S)
            weights = weights.unsqueeze(0)
        seen[id(module)] = weights.detach()  # (B, H, T, S)

    def force_weights(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        # MultiheadAttention.forward(query, key, value, key_padding_mask, need_weights,
        #                            attn_mask, average_attn_weights, is_causal)
        args = list(args)
        if len(args) > 4:
            args[4] = True
        else:
            kwargs["need_weights"] = True
        if len(args) > 6:
            args[6] = False
        else:
            kwargs["average_attn_weights"] = False
        return tuple(args), kwargs

    with ExitStack() as stack:
        for module in modules:
            if mha:
                handle = module.register_forward_pre_hook(force_weights, with_kwargs=True)
                stack.callback(handle.remove)
            handle = module.register_forward_hook(keep)
            stack.callback(handle.remove)
        out = (
            model(batch, batch, batch) if isinstance(model, nn.MultiheadAttention) else model(batch)
        )
    missing = [i for i, m in enumerate(modules) if id(m) not in seen]
    if len(missing) == len(modules):
        raise TypeError(
            f"model {type(model).__name__} did not compute attention weights: its "
            f"{'MultiheadAttention modules' if mha else 'hook_pattern hook points'} never ran "
            "(an attention operator that forms no T×T pattern, such as linear attention, "
            "has no map to capture)"
        )
    if missing:
        raise ValueError(
            f"attention layer(s) {missing} of {type(model).__name__} did not run, so the "
            "maps would have gaps"
        )
    return [seen[id(m)] for m in modules], out


def _stack_layers(model: nn.Module, layers: list[torch.Tensor]) -> torch.Tensor:
    shapes = {tuple(w.shape) for w in layers}
    if len(shapes) != 1:
        raise ValueError(
            f"the attention layers of {type(model).__name__} have different shapes "
            f"{sorted(shapes)}; capture needs self-attention of one shape in every layer"
        )
    weights = torch.stack(layers)  # (L, B, H, T, S)
    if weights.shape[-1] != weights.shape[-2]:
        raise ValueError(
            f"{type(model).__name__} computed cross-attention of shape {tuple(weights.shape)}; "
            "capture needs self-attention (query length == key length)"
        )
    return weights.cpu()


def _token_labels(tokens: Any, ids: np.ndarray | None, seq_len: int) -> list[str]:
    if tokens is None:
        return [str(int(i)) for i in ids] if ids is not None else [str(i) for i in range(seq_len)]
    if isinstance(tokens, str):
        raise TypeError("tokens must be a tokenizer or a sequence of strings, got one str")
    for method in ("convert_ids_to_tokens", "decode"):
        if hasattr(tokens, method):
            if ids is None:
                raise ValueError(
                    "tokens as a tokenizer needs token ids, but input_ids are embeddings"
                )
            if method == "convert_ids_to_tokens":
                return [str(t) for t in tokens.convert_ids_to_tokens([int(i) for i in ids])]
            return [str(tokens.decode([int(i)])) for i in ids]
    if isinstance(tokens, Sequence) and all(isinstance(t, str) for t in tokens):
        if len(tokens) != seq_len:
            raise ValueError(
                f"tokens must hold {seq_len} strings (one per position), got {len(tokens)}"
            )
        return list(tokens)
    raise TypeError(
        "tokens must be a tokenizer (with convert_ids_to_tokens or decode) or a sequence of "
        f"strings, got {type(tokens).__name__}"
    )


def _logits_of(out: Any, vocab: int | None) -> torch.Tensor | None:
    """The (B, T, V) logits in a model's output, if there are any."""
    candidate = getattr(out, "logits", None)
    if candidate is None and isinstance(out, torch.Tensor):
        candidate = out
    if candidate is None and isinstance(out, (tuple, list)) and out:
        candidate = out[0] if isinstance(out[0], torch.Tensor) else None
    if not isinstance(candidate, torch.Tensor) or candidate.dim() != 3:
        return None
    if vocab is not None and candidate.shape[-1] != vocab:
        return None
    return candidate


# ---------------------------------------------------------------------------
# Head scores on the maps alone
# ---------------------------------------------------------------------------


def _to_numpy(name: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.float16, torch.bfloat16):
            value = value.float()
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an AttentionMaps, a torch.Tensor or a numpy.ndarray, "
            f"got {type(value).__name__}"
        ) from None


def _weights_of(maps: Any, name: str = "maps") -> np.ndarray:
    """(L, H, T, T) weights from AttentionMaps or an array; 2-D = one head, 3-D = one layer."""
    if isinstance(maps, AttentionMaps):
        return maps.weights
    weights = _to_numpy(name, maps)
    if weights.dtype.kind not in "fiu" or weights.dtype == bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {weights.dtype}")
    if weights.ndim not in (2, 3, 4) or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(
            f"{name} must have shape (layers, heads, T, T), (heads, T, T) or (T, T), "
            f"got {weights.shape}"
        )
    if weights.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise ValueError(f"{name} must hold finite, non-negative attention weights")
    return weights.reshape((1,) * (4 - weights.ndim) + weights.shape)


def _ids_for(maps: Any, input_ids: Any, seq_len: int) -> np.ndarray:
    if input_ids is None:
        ids = maps.input_ids if isinstance(maps, AttentionMaps) else None
        if ids is None:
            raise ValueError(
                "input_ids is required: these maps hold no token ids to compare "
                "(pass the (T,) ids the maps were computed on)"
            )
        return ids
    ids = _as_ids("input_ids", input_ids).numpy().reshape(-1)
    if ids.shape != (seq_len,):
        raise ValueError(
            f"input_ids must have {seq_len} entries (the maps' sequence length), got {ids.size}"
        )
    return ids


def detection_pattern(kind: str, input_ids: Any) -> np.ndarray:
    """The (T, T) 0/1 pattern a head with a given job would show (lesson 03).

    TransformerLens ``head_detector`` definitions (all lower-triangular):

    * ``previous_token``: P[i, i-1] = 1.
    * ``duplicate_token``: P[i, j] = 1 if token i == token j and j < i.
    * ``induction``: P[i, j] = 1 if token i == token j-1 and j-1 < i, i.e. the
      duplicate pattern shifted one column right: attend to what followed the
      earlier copy of the current token.

    Args:
        kind: one of ``previous_token``, ``duplicate_token``, ``induction``.
        input_ids: the (T,) token ids (only the length matters for previous_token).
    """
    kind = check_choice("kind", kind, HEAD_KINDS)
    ids = _as_ids("input_ids", input_ids).numpy().reshape(-1)
    if ids.size == 0:
        raise ValueError("input_ids must hold at least one token, got 0")
    seq_len = ids.size
    if kind == "previous_token":
        return np.eye(seq_len, k=-1)
    duplicate = np.tril(ids[:, None] == ids[None, :], k=-1).astype(np.float64)  # (T, T)
    if kind == "duplicate_token":
        return duplicate
    induction = np.zeros_like(duplicate)
    induction[:, 1:] = duplicate[:, :-1]  # shift right; column 0 stays 0
    return induction


def pattern_score(
    maps: Any,
    pattern: Any,
    *,
    exclude_bos: bool = False,
    exclude_current_token: bool = False,
    error_measure: ErrorMeasure = "mul",
) -> np.ndarray:
    """How well each head matches a (T, T) detection pattern P, as an (L, H) array.

    TransformerLens ``compute_head_attention_similarity_score``:

    * ``"mul"`` (default): Σ(A ⊙ P) / ΣA, the fraction of the head's attention mass
      that lands where P says it should (1 = all of it). A head with ΣA = 0 after
      the exclusions scores 0.
    * ``"abs"``: 1 − Σ|A − P| / T, i.e. 1 − mean|A − P|·T (1 = exact match).

    ``exclude_bos`` drops key column 0 and ``exclude_current_token`` the diagonal
    from both sums (lesson 03: attention parked on the first token or on itself
    should not count against a head).
    """
    weights = _weights_of(maps)
    seq_len = weights.shape[-1]
    pattern = _to_numpy("pattern", pattern).astype(np.float64)
    if pattern.shape != (seq_len, seq_len):
        raise ValueError(
            f"pattern must have shape ({seq_len}, {seq_len}) to match the maps, got {pattern.shape}"
        )
    error_measure = check_choice("error_measure", error_measure, ("mul", "abs"))
    keep = np.ones((seq_len, seq_len))
    if exclude_bos:
        keep[:, 0] = 0
    if exclude_current_token:
        np.fill_diagonal(keep, 0)
    scores = np.zeros(weights.shape[:2])
    for layer in range(weights.shape[0]):
        a = weights[layer].astype(np.float64)  # (H, T, T)
        if error_measure == "mul":
            hit = np.einsum("hqk,qk->h", a, pattern * keep)
            total = np.einsum("hqk,qk->h", a, keep)
            scores[layer] = np.divide(hit, total, out=np.zeros_like(hit), where=total > 0)
        else:
            scores[layer] = 1.0 - (np.abs(a - pattern) * keep).sum(axis=(1, 2)) / seq_len
    return scores


def previous_token_score(
    maps: Any,
    *,
    exclude_bos: bool = False,
    exclude_current_token: bool = False,
    error_measure: ErrorMeasure = "mul",
) -> np.ndarray:
    """Previous-token score per head, (L, H) (lesson 03).

    The share of attention on the key just before each query. A perfect
    previous-token head scores (T−1)/T (query 0 has no previous token and must
    look at itself), and exactly 1 with ``exclude_current_token=True``.
    """
    weights = _weights_of(maps)
    pattern = np.eye(weights.shape[-1], k=-1)
    return pattern_score(
        weights,
        pattern,
        exclude_bos=exclude_bos,
        exclude_current_token=exclude_current_token,
        error_measure=error_measure,
    )


def duplicate_token_score(
    maps: Any,
    input_ids: Any = None,
    *,
    exclude_bos: bool = False,
    exclude_current_token: bool = False,
    error_measure: ErrorMeasure = "mul",
) -> np.ndarray:
    """Duplicate-token score per head, (L, H) (lesson 03).

    The share of attention on earlier copies of the query's own token.
    ``input_ids`` default to the ids stored in the maps.
    """
    weights = _weights_of(maps)
    ids = _ids_for(maps, input_ids, weights.shape[-1])
    return pattern_score(
        weights,
        detection_pattern("duplicate_token", ids),
        exclude_bos=exclude_bos,
        exclude_current_token=exclude_current_token,
        error_measure=error_measure,
    )


def induction_score(
    maps: Any,
    input_ids: Any = None,
    *,
    exclude_bos: bool = False,
    exclude_current_token: bool = False,
    error_measure: ErrorMeasure = "mul",
) -> np.ndarray:
    """Induction (prefix-matching) score per head, (L, H) (lesson 03).

    The share of attention on the token that followed an earlier copy of the
    query's token (Olsson et al. 2022). On [BOS, r₁..r_n, r₁..r_n] with distinct
    r, a perfect induction head's second half sits on the −(n−1) diagonal.
    ``input_ids`` default to the ids stored in the maps.
    """
    weights = _weights_of(maps)
    ids = _ids_for(maps, input_ids, weights.shape[-1])
    return pattern_score(
        weights,
        detection_pattern("induction", ids),
        exclude_bos=exclude_bos,
        exclude_current_token=exclude_current_token,
        error_measure=error_measure,
    )


def token_importance(maps: Any) -> np.ndarray:
    """α_k per head and key position, (L, H, T) (Gu et al. 2025; lesson 02).

    α_k = (1/(T−k)) Σ_{t≥k} A[t, k] with 0-based k: the mean attention key k gets
    from the queries that can see it in a causal model. 1/T ≤ α_0 ≤ 1.
    """
    weights = _weights_of(maps)
    seq_len = weights.shape[-1]
    lower = np.tril(np.ones((seq_len, seq_len), dtype=bool))  # query t ≥ key k
    out = np.empty(weights.shape[:3])
    for layer in range(weights.shape[0]):
        received = np.where(lower, weights[layer], 0).sum(axis=-2, dtype=np.float64)  # (H, T)
        out[layer] = received / (seq_len - np.arange(seq_len))
    return out


def sink_score(maps: Any, *, position: int = 0) -> np.ndarray:
    """Sink score α of one key position per head, (L, H) (Gu et al. 2025; lesson 02).

    α_k = (1/(T−k)) Σ_{t≥k} A[t, k] for k = ``position`` (default 0, the paper's
    first token α₁). A head has a first-token sink when α₁ > ε (ε = 0.3 in the
    paper, measured at T = 64); see :func:`sink_fraction`.
    """
    weights = _weights_of(maps)
    seq_len = weights.shape[-1]
    position = check_int("position", position, low=0, high=seq_len - 1)
    return weights[..., position:, position].mean(axis=-1, dtype=np.float64)


def sink_fraction(maps: Any, *, eps: float = 0.3) -> float:
    """Sink₁^ε: the fraction of heads, over all layers, with a first-token sink α₁ > ε.

    Gu et al. 2025: Sink₁^ε = (1/L) Σ_l (1/H) Σ_h 𝟙(α₁^{l,h} > ε), with ε = 0.3 and
    T = 64 in the paper (the value falls as T or ε grows). Lesson 02.
    """
    eps = check_real("eps", eps, low=0, high=1)
    return float(np.mean(sink_score(maps) > eps))


def entropy(maps: Any, *, normalize: bool = False, per_query: bool = False) -> np.ndarray:
    """Attention entropy −Σ_k A[t, k] ln A[t, k] in nats, per head (lesson 02).

    Low entropy = a focused head, high = a diffuse one. Returns the mean over
    queries, (L, H), or with ``per_query=True`` the (L, H, T) values.

    ``normalize=True`` divides each row by ln(number of keys the query could see):
    t + 1 when the maps are causal (nothing above the diagonal), T otherwise, so 1
    means uniform over the visible keys. A query that sees a single key has
    normalised entropy 0 and is left out of the mean (unless no query sees more).
    """
    weights = _weights_of(maps)
    seq_len = weights.shape[-1]
    rows = np.empty(weights.shape[:3])
    causal = True
    upper = np.triu(np.ones((seq_len, seq_len), dtype=bool), k=1)
    for layer in range(weights.shape[0]):
        a = weights[layer].astype(np.float64)  # (H, T, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            rows[layer] = -np.where(a > 0, a * np.log(a), 0.0).sum(axis=-1)
        causal = causal and not np.any(a[:, upper])
    if not normalize:
        return rows if per_query else rows.mean(axis=-1)
    visible = np.arange(1, seq_len + 1) if causal else np.full(seq_len, seq_len)
    choice = visible > 1
    scale = np.log(np.where(choice, visible, 2))
    rows = np.where(choice, rows / scale, 0.0)
    if per_query:
        return rows
    return rows[..., choice].mean(axis=-1) if choice.any() else np.zeros(weights.shape[:2])


def rollout(maps: Any, *, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020), cumulative per layer, (L, T, T).

    Each layer's heads are averaged, the residual stream is modelled as attention
    to oneself, Ã = residual·I + (1 − residual)·mean_h A (the paper's 0.5/0.5
    convention by default), rows are renormalised, and the layers multiply:
    R_0 = Ã_0, R_l = Ã_l R_{l−1}. Row t of R_l says how much of token t's
    representation after layer l traces back to each input token (lesson 03).
    """
    residual = check_real("residual", residual, low=0, high=1)
    weights = _weights_of(maps)
    seq_len = weights.shape[-1]
    eye = np.eye(seq_len)
    out = np.empty((weights.shape[0], seq_len, seq_len))
    flow = eye
    for layer in range(weights.shape[0]):
        mixed = residual * eye + (1 - residual) * weights[layer].mean(axis=0, dtype=np.float64)
        total = mixed.sum(axis=-1, keepdims=True)
        mixed = np.divide(mixed, total, out=np.zeros_like(mixed), where=total > 0)
        flow = mixed @ flow  # (T, T)
        out[layer] = flow
    return out


# ---------------------------------------------------------------------------
# Scores that run the model: retrieval (needle task) and ablation
# ---------------------------------------------------------------------------


class RetrievalTrace(NamedTuple):
    """What :func:`retrieval_trace` saw while decoding greedily."""

    scores: np.ndarray  # (L, H) retrieval score per head
    generated: np.ndarray  # (n_generate,) token ids decoded greedily
    argmax_positions: np.ndarray  # (n_generate, L, H) where each head looked hardest
    copies: np.ndarray  # (n_generate, L, H) bool: head copy-pasted at this step


def retrieval_trace(
    model: nn.Module, input_ids: Any, needle: tuple[int, int], *, n_generate: int
) -> RetrievalTrace:
    """Decode greedily and record which heads copy-paste from the needle (lesson 03).

    Wu et al. 2024, "Retrieval Head": at each generated token w, head h
    copy-pastes when (1) w is in the needle and (2) the input position with the
    head's largest attention (from the query that produced w) lies inside the
    needle span and holds w. With g_h the needle positions head h copy-pasted
    from, score_h = |g_h| / |needle| (counting positions, so a repeated token is
    counted once per place it sits). A head scoring ≥ 0.1 is a retrieval head.

    Args:
        model: a model whose output holds (B, T, vocab) logits (TinyTransformer, a
            Hugging Face causal LM).
        input_ids: the (T,) prompt: haystack with the needle inside, then the
            question (``attnviz.tasks`` builds one).
        needle: (start, end), the needle's positions ``[start, end)`` in the prompt.
        n_generate: how many tokens to decode.
    """
    kind = _model_kind(model)
    if isinstance(input_ids, torch.Tensor) and input_ids.is_floating_point():
        raise TypeError("input_ids must be integer token ids, got a float tensor")
    batch, ids = _prepare_inputs(model, input_ids, kind)
    if batch.shape[0] != 1:
        raise ValueError(
            f"input_ids must be one sequence, (T,) or (1, T), got {tuple(batch.shape)}"
        )
    prompt_len = batch.shape[1]
    start, end = _check_span("needle", needle, prompt_len)
    vocab, context = _model_limits(model)
    high = None if context is None else context - prompt_len + 1  # the last step sees T + n - 1
    n_generate = check_int("n_generate", n_generate, low=1, high=high)

    generated, positions, copies = [], [], []
    current = batch  # (1, T)
    for _ in range(n_generate):
        layers, out = _run(model, current, kind)
        logits = _logits_of(out, vocab)
        if logits is None:
            raise TypeError(
                f"model {type(model).__name__} returns no (batch, T, vocab) logits, so it "
                "cannot decode; retrieval needs a language model"
            )
        token = int(logits[0, -1].argmax())
        last = _stack_layers(model, layers)[:, 0, :, -1, :]  # (L, H, T_now)
        argmax = last.argmax(dim=-1).numpy()  # (L, H)
        seq = current[0].numpy()
        copy = (argmax >= start) & (argmax < end) & (seq[argmax] == token)
        generated.append(token)
        positions.append(argmax)
        copies.append(copy)
        current = torch.cat([current, torch.tensor([[token]])], dim=1)

    positions_arr = np.stack(positions)  # (n, L, H)
    copies_arr = np.stack(copies)  # (n, L, H)
    scores = np.zeros(positions_arr.shape[1:])
    for layer, head in np.ndindex(scores.shape):
        hit = positions_arr[copies_arr[:, layer, head], layer, head]
        scores[layer, head] = len(set(hit.tolist())) / (end - start)
    return RetrievalTrace(scores, np.array(generated, dtype=np.int64), positions_arr, copies_arr)


def retrieval_score(
    model: nn.Module, input_ids: Any, needle: tuple[int, int], *, n_generate: int
) -> np.ndarray:
    """Retrieval score per head, (L, H), on one needle prompt; see :func:`retrieval_trace`."""
    return retrieval_trace(model, input_ids, needle, n_generate=n_generate).scores


def _check_span(name: str, span: Any, length: int) -> tuple[int, int]:
    if isinstance(span, (torch.Tensor, np.ndarray)):
        span = span.tolist()  # e.g. a row of attnviz.tasks' spans["needle"]
    if not isinstance(span, (tuple, list)) or len(span) != 2:
        raise TypeError(f"{name} must be a (start, end) pair of positions, got {span!r}")
    start = check_int(f"{name} start", span[0], low=0, high=length - 1)
    end = check_int(f"{name} end", span[1], low=start + 1, high=length)
    return start, end


def ablate(
    model: nn.Module,
    input_ids: Any,
    targets: Any,
    heads: Sequence[tuple[int, int]],
    *,
    mode: str = "zero",
    loss_mask: Any = None,
) -> float:
    """Knock out heads and return the change in the task loss (lesson 03).

    A forward hook on each layer's ``hook_z`` (the per-head outputs (B, H, T,
    d_head) before the output projection, attnviz TinyTransformer) replaces the
    chosen heads' outputs with zeros (``mode="zero"``) or with that head's mean
    output over the batch and positions of this data (``mode="mean"``).

    Args:
        model: a model with ``hook_z`` hook points and (B, T, vocab) logits.
        input_ids: (T,) or (B, T) token ids.
        targets: the next-token targets, same shape as ``input_ids``; -100 (the
            ignore index of ``torch.nn.functional.cross_entropy`` and
            ``attnviz.tasks``) marks a position with no loss.
        heads: the (layer, head) pairs to knock out together; empty = none.
        mode: ``"zero"`` or ``"mean"``.
        loss_mask: optional boolean mask, same shape as ``input_ids``: the
            positions the loss is averaged over (default all).

    Returns:
        ablated loss − clean loss, in nats per token (> 0: the heads mattered).
    """
    setup = _AblationSetup(model, input_ids, targets, mode, loss_mask)
    pairs = setup.check_heads(heads)
    return setup.loss(pairs) - setup.clean_loss


def ablation_table(
    model: nn.Module,
    input_ids: Any,
    targets: Any,
    *,
    mode: str = "zero",
    loss_mask: Any = None,
) -> np.ndarray:
    """Loss change from knocking out each head alone, (L, H) (lesson 03); see :func:`ablate`."""
    setup = _AblationSetup(model, input_ids, targets, mode, loss_mask)
    table = np.zeros((len(setup.hooks), setup.n_heads))
    for layer, head in np.ndindex(table.shape):
        table[layer, head] = setup.loss([(layer, head)]) - setup.clean_loss
    return table


class _AblationSetup:
    """A clean run (loss, each head's mean z) that ablated runs are compared with."""

    def __init__(
        self, model: nn.Module, input_ids: Any, targets: Any, mode: str, loss_mask: Any
    ) -> None:
        kind = _model_kind(model)
        self.model = model
        self.mode = check_choice("mode", mode, ("zero", "mean"))
        self.hooks = _named_hooks(model, "hook_z")
        if not self.hooks:
            raise TypeError(
                f"ablation needs per-head outputs: model {type(model).__name__} has no "
                "`hook_z` hook points (attnviz TinyTransformer has them)"
            )
        if isinstance(input_ids, torch.Tensor) and input_ids.is_floating_point():
            raise TypeError("input_ids must be integer token ids, got a float tensor")
        self.batch, _ = _prepare_inputs(model, input_ids, kind)  # (B, T)
        self.vocab, _ = _model_limits(model)
        self.targets = self._check_like("targets", targets)
        scored = self.targets != IGNORE_INDEX
        kept = self.targets[scored]
        if kept.numel() and (
            kept.min() < 0 or (self.vocab is not None and kept.max() >= self.vocab)
        ):
            allowed = f"[0, {self.vocab - 1}]" if self.vocab is not None else "[0, inf)"
            bad = int(kept.min()) if kept.min() < 0 else int(kept.max())
            raise ValueError(
                f"targets must be token ids in {allowed} or {IGNORE_INDEX} (no loss), got {bad}"
            )
        if loss_mask is None:
            self.mask = scored
        else:
            mask = loss_mask if isinstance(loss_mask, torch.Tensor) else torch.as_tensor(loss_mask)
            if mask.dtype != torch.bool:
                raise TypeError(f"loss_mask must be boolean, got dtype {mask.dtype}")
            mask = mask.reshape(self.batch.shape) if mask.numel() == self.batch.numel() else mask
            if mask.shape != self.batch.shape:
                raise ValueError(
                    f"loss_mask must have the shape of input_ids {tuple(self.batch.shape)}, "
                    f"got {tuple(mask.shape)}"
                )
            self.mask = mask & scored
        if not self.mask.any():
            raise ValueError(
                "loss_mask must keep at least one position whose target is not "
                f"{IGNORE_INDEX}, got none"
            )
        z_means: list[torch.Tensor] = []

        def keep_mean(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            if output.dim() != 4:
                raise ValueError(
                    f"hook_z output must be (batch, heads, T, d_head), got {tuple(output.shape)}"
                )
            z_means.append(output.mean(dim=(0, 2)))  # (H, d_head)

        self.clean_loss = self._loss_with([keep_mean] * len(self.hooks))
        self.z_means = z_means
        self.n_heads = z_means[0].shape[0]

    def _check_like(self, name: str, value: Any) -> torch.Tensor:
        tensor = _as_ids(name, value)
        if tensor.numel() == self.batch.numel():
            tensor = tensor.reshape(self.batch.shape)
        if tensor.shape != self.batch.shape:
            raise ValueError(
                f"{name} must have the shape of input_ids {tuple(self.batch.shape)}, "
                f"got {tuple(tensor.shape)}"
            )
        return tensor

    def check_heads(self, heads: Any) -> list[tuple[int, int]]:
        if isinstance(heads, (str, bytes)) or not isinstance(heads, Sequence):
            raise TypeError(f"heads must be a list of (layer, head) pairs, got {heads!r}")
        pairs = []
        for pair in heads:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"heads must be a list of (layer, head) pairs, got item {pair!r}")
            layer = check_int("heads layer", pair[0], low=0, high=len(self.hooks) - 1)
            head = check_int("heads head", pair[1], low=0, high=self.n_heads - 1)
            pairs.append((layer, head))
        return pairs

    def loss(self, heads: list[tuple[int, int]]) -> float:
        by_layer: list[list[int]] = [[] for _ in self.hooks]
        for layer, head in heads:
            by_layer[layer].append(head)

        def knock_out(layer: int) -> Callable[..., torch.Tensor | None]:
            def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
                if not by_layer[layer]:
                    return None
                z = output.clone()  # (B, H, T, d_head)
                for head in by_layer[layer]:
                    if self.mode == "zero":
                        z[:, head] = 0
                    else:
                        z[:, head] = self.z_means[layer][head]
                return z

            return hook

        return self._loss_with([knock_out(layer) for layer in range(len(self.hooks))])

    def _loss_with(self, hooks: list[Callable[..., Any]]) -> float:
        with ExitStack() as stack, torch.no_grad(), _eval_mode(self.model):
            for module, hook in zip(self.hooks, hooks, strict=True):
                stack.callback(module.register_forward_hook(hook).remove)
            out = self.model(self.batch)
        logits = _logits_of(out, self.vocab)
        if logits is None:
            raise TypeError(
                f"model {type(self.model).__name__} returns no (batch, T, vocab) logits, "
                "so there is no task loss to compare"
            )
        per_token = nn.functional.cross_entropy(
            logits.double().reshape(-1, logits.shape[-1]),
            self.targets.reshape(-1),
            reduction="none",
            ignore_index=IGNORE_INDEX,
        ).reshape(self.targets.shape)  # (B, T)
        return float(per_token[self.mask].mean())


# ---------------------------------------------------------------------------
# Long inputs: a pooled overview and a labelled window
# ---------------------------------------------------------------------------


class Pooled(NamedTuple):
    """A block-pooled overview of attention maps."""

    values: np.ndarray  # (..., n_rows, n_cols)
    row_edges: np.ndarray  # (n_rows + 1,): block i pools queries [row_edges[i], row_edges[i+1])
    col_edges: np.ndarray  # (n_cols + 1,): block j pools keys [col_edges[j], col_edges[j+1])


class Window(NamedTuple):
    """A full-resolution region of attention maps, with its labels."""

    values: np.ndarray  # (..., stop - start rows, stop - start cols)
    row_tokens: list[str]
    col_tokens: list[str]
    rows: tuple[int, int]  # [start, stop) query positions
    cols: tuple[int, int]  # [start, stop) key positions


def _map_array(name: str, weights: Any) -> np.ndarray:
    if isinstance(weights, AttentionMaps):
        return weights.weights
    array = _to_numpy(name, weights)
    if array.ndim < 2 or array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f"{name} must be a non-empty (..., query, key) array, got {array.shape}")
    return array


def _block_edges(length: int, max_size: int) -> np.ndarray:
    """Edges of equal blocks of ceil(length / max_size) positions; the last may be shorter."""
    size = -(-length // max_size)
    count = -(-length // size)
    return np.minimum(np.arange(count + 1) * size, length)


def _pool_axis(array: np.ndarray, edges: np.ndarray, axis: int, reduce: str) -> np.ndarray:
    """Pool ``axis`` (-2 or -1) into the blocks given by ``edges``.

    Full blocks are pooled through a reshape, then the shorter tail block: this
    runs at memory speed, where ``np.maximum.reduceat`` along the query axis of a
    4096 × 4096 map is several times slower.
    """
    length = array.shape[axis]
    size = int(edges[1] - edges[0])
    full = length // size
    pool = np.max if reduce == "max" else np.sum
    if axis == -2:
        n_k = array.shape[-1]
        body = array[..., : full * size, :].reshape(*array.shape[:-2], full, size, n_k)
        tail = array[..., full * size :, :]
    else:
        body = array[..., : full * size].reshape(*array.shape[:-1], full, size)
        tail = array[..., full * size :]
    pooled = pool(body, axis=axis)  # the block axis: (..., full, Tk) or (..., n_rows, full)
    if tail.shape[axis] == 0:
        return pooled
    return np.concatenate([pooled, pool(tail, axis=axis, keepdims=True)], axis=axis)


def downsample(weights: Any, max_size: int = 256, *, reduce: str = "max") -> Pooled:
    """Pool (..., Tq, Tk) maps into at most ``max_size`` × ``max_size`` blocks.

    For the overview of a long input (lesson 02: a 4,096-token head drawn as a
    256 × 256 image). Blocks hold ceil(T / max_size) positions along each axis
    (the last block may be shorter). ``reduce="max"`` keeps a sharp one-token
    stripe visible (a block shows its strongest weight); ``"mean"`` preserves
    mass. Pure numpy, about 15 ms for one 4096 × 4096 head.
    """
    array = _map_array("weights", weights)
    max_size = check_int("max_size", max_size, low=1)
    reduce = check_choice("reduce", reduce, ("max", "mean"))
    n_q, n_k = array.shape[-2:]
    row_edges = _block_edges(n_q, max_size)
    col_edges = _block_edges(n_k, max_size)
    if n_q <= max_size and n_k <= max_size:
        return Pooled(array, row_edges, col_edges)
    pooled = _pool_axis(array, row_edges, -2, reduce)  # (..., n_rows, Tk)
    pooled = _pool_axis(pooled, col_edges, -1, reduce)  # (..., n_rows, n_cols)
    if reduce == "mean":
        sizes = np.diff(row_edges)[:, None] * np.diff(col_edges)[None, :]  # (n_rows, n_cols)
        pooled = pooled / sizes
    return Pooled(pooled, row_edges, col_edges)


def window(
    weights: Any,
    rows: tuple[int, int],
    cols: tuple[int, int] | None = None,
    *,
    tokens: Sequence[str] | None = None,
) -> Window:
    """Cut the region queries [rows) × keys [cols) out of (..., Tq, Tk) maps (lesson 02).

    The zoomed, labelled view beside a :func:`downsample` overview. ``cols``
    defaults to ``rows``; ``tokens`` (default: positions) label both axes.
    """
    array = _map_array("weights", weights)
    if tokens is None and isinstance(weights, AttentionMaps):
        tokens = weights.tokens
    n_q, n_k = array.shape[-2:]
    row_span = _check_span("rows", rows, n_q)
    col_span = _check_span("cols", rows if cols is None else cols, n_k)
    if tokens is None:
        labels = [str(i) for i in range(max(n_q, n_k))]
    else:
        labels = list(tokens)
        if len(labels) < max(n_q, n_k):
            raise ValueError(f"tokens must label all {max(n_q, n_k)} positions, got {len(labels)}")
    values = array[..., row_span[0] : row_span[1], col_span[0] : col_span[1]]
    return Window(
        values,
        labels[row_span[0] : row_span[1]],
        labels[col_span[0] : col_span[1]],
        row_span,
        col_span,
    )


__all__ = [
    "AttentionMaps",
    "Pooled",
    "RetrievalTrace",
    "Window",
    "ablate",
    "ablation_table",
    "capture",
    "detection_pattern",
    "downsample",
    "duplicate_token_score",
    "entropy",
    "induction_score",
    "pattern_score",
    "previous_token_score",
    "retrieval_score",
    "retrieval_trace",
    "rollout",
    "sink_fraction",
    "sink_score",
    "token_importance",
    "window",
]
