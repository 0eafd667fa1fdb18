"""What attnviz.maps reads off a model: its kind, its limits, its inputs and its logits.

A model is one of three kinds (see :func:`attnviz.maps.capture`): ``"hf"``, a
Hugging Face ``transformers`` model; ``"hook_pattern"``, a module with
``hook_pattern`` hook points (attnviz ``TinyTransformer``); ``"mha"``, a module built
on ``torch.nn.MultiheadAttention``. Token ids are checked against the vocabulary
and context the model declares, so a wrong id is named before the model runs.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from torch import nn

from attnviz.maps.attention_maps import as_ids
from attnviz.validation import as_tensor, check_bool, check_int, check_text

# Attribute names a model config may use for its context length, most specific first.
_CONTEXT_NAMES = (
    "context",
    "max_position_embeddings",
    "n_positions",
    "n_ctx",
    "block_size",
    "max_seq_len",
)


def _check_module(model: Any, name: str = "model") -> nn.Module:
    """``model`` if it is a ``torch.nn.Module``; TypeError naming ``name`` otherwise."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def model_kind(model: Any) -> str:
    """``"hf"``, ``"hook_pattern"`` or ``"mha"``; TypeError for anything else."""
    _check_module(model)
    transformers = sys.modules.get("transformers")  # a HF model implies it is imported
    if transformers is not None and isinstance(model, transformers.PreTrainedModel):
        return "hf"
    if named_hooks(model, "hook_pattern"):
        return "hook_pattern"
    if any(isinstance(m, nn.MultiheadAttention) for m in model.modules()):
        return "mha"
    raise TypeError(
        f"model {type(model).__name__} has no attention this can capture: expected a Hugging "
        "Face transformers model, a module with `hook_pattern` hook points (attnviz "
        "TinyTransformer), or one built on torch.nn.MultiheadAttention"
    )


def named_hooks(model: nn.Module, name: str) -> list[nn.Module]:
    """Submodules called ``name`` (e.g. blocks.3.attn.hook_pattern), in registration order."""
    _check_module(model)
    check_text("name", name)
    return [m for path, m in model.named_modules() if path.rsplit(".", 1)[-1] == name and path]


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def model_limits(model: nn.Module) -> tuple[int | None, int | None]:
    """(vocabulary size, context length) when the model declares them."""
    _check_module(model)
    config = getattr(model, "config", None)
    context = None
    for name in _CONTEXT_NAMES:
        context = _positive_int(getattr(config, name, None))
        if context is not None:
            break
    vocab = _positive_int(getattr(config, "vocab_size", None))
    if vocab is None:
        get_embeddings = getattr(model, "get_input_embeddings", None)
        embedding = get_embeddings() if callable(get_embeddings) else None
        if not isinstance(embedding, nn.Embedding):
            embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
            embedding = embeddings[0] if len(embeddings) == 1 else None
        if isinstance(embedding, nn.Embedding):
            vocab = embedding.num_embeddings
    return vocab, context


def check_token_ids(name: str, ids: torch.Tensor, vocab: int | None, also: str = "") -> None:
    """Raise ValueError naming an id outside [0, vocab); ``also`` says what else is allowed.

    ``ids``: token ids of any shape (a tensor, array or list of integers); ``vocab``: the
    vocabulary size, or None for no upper limit.
    """
    ids = as_ids(check_text("name", name), ids)
    if vocab is not None:
        vocab = check_int("vocab", vocab, low=1, high=2**62)
    check_text("also", also, empty=True)
    if ids.numel() == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or (vocab is not None and high >= vocab):
        allowed = f"[0, {vocab - 1}]" if vocab is not None else "[0, inf)"
        bad = low if low < 0 else high
        raise ValueError(f"{name} must be token ids in {allowed}{also}, got {bad}")


def prepare_inputs(
    model: nn.Module, input_ids: Any, *, embeddings_ok: bool, name: str = "input_ids"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return (what the model is called with, the (B, T) int64 ids or None).

    With ``embeddings_ok`` (a model built on nn.MultiheadAttention), a float
    tensor of finite numbers is passed on as embeddings, in the model's dtype, and the
    ids are None; a bare ``nn.MultiheadAttention`` takes only embeddings, of its
    ``embed_dim``. ``name`` is the argument named in errors.
    """
    _check_module(model)
    embeddings_ok = check_bool("embeddings_ok", embeddings_ok)
    bare_mha = isinstance(model, nn.MultiheadAttention)
    floating = isinstance(input_ids, torch.Tensor) and (
        input_ids.is_floating_point() or input_ids.is_complex()
    )
    if bare_mha and not embeddings_ok:
        raise TypeError(
            f"model must have token ids and logits here: a bare nn.MultiheadAttention takes "
            f"embeddings, so {name} cannot be token ids for it"
        )
    integers = isinstance(input_ids, (torch.Tensor, np.ndarray, list, tuple)) and not floating
    if bare_mha and integers and not _float_array(input_ids):
        raise TypeError(
            f"{name} must be float embeddings (T, embed_dim={model.embed_dim}) for a bare "
            "nn.MultiheadAttention, which has no embedding to look token ids up in"
        )
    if floating or bare_mha:
        if not embeddings_ok:
            raise TypeError(
                f"{name} must be integer token ids for {type(model).__name__}, "
                f"got a {input_ids.dtype} tensor"
            )
        return _embeddings(model, input_ids, name), None
    ids = as_ids(name, input_ids)
    if ids.dim() == 1:
        ids = ids.unsqueeze(0)  # (1, T)
    if ids.dim() != 2:
        raise ValueError(f"{name} must have shape (T,) or (batch, T), got {tuple(ids.shape)}")
    if ids.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sequence, got shape {tuple(ids.shape)}")
    vocab, context = model_limits(model)
    if ids.shape[1] == 0 or (context is not None and ids.shape[1] > context):
        allowed = f"between 1 and {context}" if context is not None else "at least 1"
        raise ValueError(
            f"{name} must have {allowed} positions (the model's context), got {ids.shape[1]}"
        )
    check_token_ids(name, ids, vocab, " (the model's vocabulary)")
    return ids, ids


def _float_array(value: Any) -> bool:
    """A numpy array of floats (embeddings as numpy)."""
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _embeddings(model: nn.Module, value: Any, name: str) -> torch.Tensor:
    """Finite float embeddings (T, d) or (batched) 3-D, in the model's dtype."""
    x = as_tensor(name, value, min_dim=2, finite=True, nonempty=True, layout="(T, d)")
    if x.dim() > 3:
        raise ValueError(
            f"{name} given as embeddings must be a (T, d) or batched 3-D tensor, "
            f"got shape {tuple(x.shape)}"
        )
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.is_floating_point():
        x = x.to(dtype=parameter.dtype, device=parameter.device)
    embed_dim = getattr(model, "embed_dim", None)
    if isinstance(model, nn.MultiheadAttention) and x.shape[-1] != embed_dim:
        raise ValueError(
            f"{name} must be embeddings of the attention's embed_dim={embed_dim} features "
            f"(last dimension), got shape {tuple(x.shape)}"
        )
    return x


def logits_of(model: nn.Module, out: Any, vocab: int | None, *, needed_for: str) -> torch.Tensor:
    """The (B, T, V) logits in a model's output; TypeError saying what they were ``needed_for``."""
    _check_module(model)
    if vocab is not None:
        vocab = check_int("vocab", vocab, low=1)
    check_text("needed_for", needed_for)
    candidate = getattr(out, "logits", None)
    if candidate is None and isinstance(out, torch.Tensor):
        candidate = out
    if candidate is None and isinstance(out, (tuple, list)) and out:
        candidate = out[0] if isinstance(out[0], torch.Tensor) else None
    found = isinstance(candidate, torch.Tensor) and candidate.dim() == 3
    if not found or (vocab is not None and candidate.shape[-1] != vocab):
        wanted = "vocab" if vocab is None else f"vocab={vocab}"
        raise TypeError(
            f"model {type(model).__name__} returns no (batch, T, {wanted}) logits (in out, "
            f"its output), {needed_for}"
        )
    return candidate
