"""capture: run a model once and keep every attention weight it computed (lesson 02)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from attnviz.kernels.attention import BLOCKED_SCORES
from attnviz.kernels.softmax import weights_into
from attnviz.maps.attention_maps import AttentionMaps
from attnviz.maps.forward import run, stack_layers
from attnviz.maps.model_io import model_kind, named_hooks, prepare_inputs
from attnviz.memory_budget import check_bytes, memory_budget, tensor_bytes
from attnviz.validation import check_int, finite_result


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
            model's context, or embeddings with NaN/inf or (for a bare
            ``nn.MultiheadAttention``) not of its ``embed_dim``; ``batch_index`` out of
            range; the (L, B, H, T, T) weights estimated past the memory budget
            (``attnviz.memory_budget``: refused before the model runs, saying how many
            tokens fit); weights that overflowed to NaN.
    """
    kind = model_kind(model)
    batch, ids = prepare_inputs(model, input_ids, embeddings_ok=kind == "mha")
    rows = None if ids is None else ids.shape[0]  # embeddings: the batch axis shows in the weights
    batch_index = check_int(
        "batch_index", batch_index, low=0, high=None if rows is None else rows - 1
    )
    if tokens is not None and not (isinstance(tokens, Sequence) and not isinstance(tokens, str)):
        if not any(hasattr(tokens, m) for m in ("convert_ids_to_tokens", "decode")):
            raise TypeError(
                "tokens must be a tokenizer (with convert_ids_to_tokens or decode) or a "
                f"sequence of strings, got {type(tokens).__name__}"
            )
    _check_weights_budget(model, kind, batch, ids is not None)
    arena = _arena(model, batch, kind)  # (L, B, H, T, T) zeros for a long map, or None
    with weights_into([] if arena is None else arena.unbind(0)):
        layers = run(model, batch, kind)[0]
    weights = stack_layers(model, layers, into=arena)  # (L, B, H, T, T)
    batch_index = check_int("batch_index", batch_index, low=0, high=weights.shape[1] - 1)
    weights = weights[:, batch_index]  # (L, H, T, T)
    row_ids = None if ids is None else ids[batch_index].numpy()
    labels = _token_labels(tokens, row_ids, weights.shape[-1])
    finite_result(
        f"the attention weights of {type(model).__name__}",
        weights,
        hint="scale input_ids (the embeddings) down, or check the model's parameters",
    )
    return AttentionMaps(
        weights=weights.float().numpy() if weights.dtype != torch.float64 else weights.numpy(),
        tokens=labels,
        input_ids=row_ids,
        model_name=type(model).__name__,
    )


def _attention_shape(model: nn.Module, kind: str) -> tuple[int, int]:
    """(layers, heads) of ``model``'s attention, as far as its config or modules say."""
    if kind == "mha":
        modules = [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
        return len(modules), max(m.num_heads for m in modules)
    config = getattr(model, "config", None)

    def first(*names: str) -> int | None:
        for name in names:
            value = getattr(config, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return None

    hooks = len(named_hooks(model, "hook_pattern")) if kind == "hook_pattern" else None
    layers = hooks or first("n_layers", "num_hidden_layers", "n_layer", "num_layers") or 1
    heads = first("n_heads", "num_attention_heads", "n_head", "num_heads") or 1
    return layers, heads


def _check_weights_budget(
    model: nn.Module, kind: str, batch: torch.Tensor, ids: bool, instead: str = ""
) -> None:
    """Refuse, before the model runs, a capture whose (L, B, H, T, T) weights pass the budget.

    The peak counts the kept weights twice: the model's own per-layer weights and their
    stack (or the model's scores beside the arena it writes into).
    """
    n_layers, n_heads = _attention_shape(model, kind)
    if ids:
        rows, seq_len = batch.shape
    else:  # embeddings: the longest axis but the features is taken as T
        seq_len = max(batch.shape[:-1])
        rows = math.prod(batch.shape[:-1]) // seq_len
    per_token = 2 * tensor_bytes(n_layers, rows, n_heads)  # float32, times T²
    longest = max(1, math.isqrt(memory_budget() // per_token))
    check_bytes(
        f"the ({n_layers}, {rows}, {n_heads}, T, T) attention weights for T={seq_len}",
        per_token * seq_len * seq_len,
        instead=instead
        or f"use a shorter input (at most about {longest} tokens fit), or read a long "
        "input through maps.downsample/maps.window of a shorter capture",
    )


def _arena(model: nn.Module, batch: torch.Tensor, kind: str) -> torch.Tensor | None:
    """Zeroed (L, B, H, T, T) weights for a long TinyTransformer map: its blocked attention
    writes each layer straight into its slice, and capture keeps the whole (no stack)."""
    config = getattr(model, "config", None)
    seq_len = batch.shape[-1]
    if kind != "hook_pattern" or seq_len * seq_len < BLOCKED_SCORES or batch.dim() != 2:
        return None
    if not all(hasattr(config, name) for name in ("n_layers", "n_heads", "operator")):
        return None
    if config.operator != "softmax" or next(model.parameters()).dtype != torch.float32:
        return None
    shape = (config.n_layers, batch.shape[0], config.n_heads, seq_len, seq_len)
    return torch.zeros(shape, dtype=torch.float32)


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
