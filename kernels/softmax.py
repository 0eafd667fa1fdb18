"""Reference softmax attention: softmax(q kᵀ · scale) v, with its weights.

The definition of scaled dot-product attention ("Attention Is All You Need",
Vaswani et al. 2017, Eq. 1). Lesson 01 builds it from Nadaraya-Watson kernel
regression; lesson 07 tiles it with the online-softmax recurrence.

Shapes follow PyTorch: q is (..., T_q, d_k), k is (..., T_k, d_k), v is
(..., T_k, d_v); the leading dimensions (batch, heads) broadcast.

Example:
    >>> import torch
    >>> q, k, v = torch.randn(4, 8), torch.randn(6, 8), torch.randn(6, 3)
    >>> out = scaled_dot_product_attention(q, k, v)
    >>> out.output.shape, out.weights.shape
    (torch.Size([4, 3]), torch.Size([4, 6]))
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from attnviz.validation import as_tensor, check_real


class AttentionResult(NamedTuple):
    """What attention returns: the mixed values and the weights that mixed them."""

    output: torch.Tensor  # (..., T_q, d_v)
    weights: torch.Tensor  # (..., T_q, T_k), each row sums to 1 (or 0 if fully masked)


def softmax_weights(
    scores: torch.Tensor, mask: torch.Tensor | None = None, *, dim: int = -1
) -> torch.Tensor:
    """Softmax along ``dim`` that ignores masked-out entries (mask False).

    A row whose every entry is masked gets all-zero weights instead of NaNs.
    """
    scores = as_tensor("scores", scores)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    top = scores.amax(dim=dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    exp = torch.exp(scores - top)  # subtracting the max keeps exp from overflowing
    total = exp.sum(dim=dim, keepdim=True)
    return torch.where(total > 0, exp / total.clamp_min(torch.finfo(exp.dtype).tiny), exp)


def _check_mask(mask: object, score_shape: torch.Size) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a boolean torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must have dtype torch.bool (True = may attend), got {mask.dtype}")
    try:
        torch.broadcast_shapes(mask.shape, score_shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"{tuple(score_shape)} (..., T_q, T_k)"
        ) from None
    return mask


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    causal: bool = False,
) -> AttentionResult:
    """Attend from queries to keys and mix the values.

    Args:
        q: queries, (..., T_q, d_k).
        k: keys, (..., T_k, d_k).
        v: values, (..., T_k, d_v).
        mask: optional boolean mask broadcastable to (..., T_q, T_k); True means
            the query may attend to that key.
        scale: multiplies the scores; default 1/sqrt(d_k). A temperature τ is
            ``scale = 1 / (τ · sqrt(d_k))``.
        causal: if True, query i may only attend to keys j <= i (combined with mask).

    Returns:
        AttentionResult(output (..., T_q, d_v), weights (..., T_q, T_k)).
    """
    q = as_tensor("q", q, min_dim=2)
    k = as_tensor("k", k, min_dim=2)
    v = as_tensor("v", v, min_dim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share the last dimension d_k: q has shape {tuple(q.shape)}, "
            f"k has shape {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of keys T_k: k has shape {tuple(k.shape)}, "
            f"v has shape {tuple(v.shape)}"
        )
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    else:
        scale = check_real("scale", scale)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)

    scores = torch.matmul(q, k.transpose(-2, -1)) * scale  # (..., T_q, T_k)
    if mask is not None:
        mask = _check_mask(mask, scores.shape)
    if causal:
        t_q, t_k = scores.shape[-2:]
        # top-left aligned, as torch.nn.functional.scaled_dot_product_attention(is_causal=True)
        lower = torch.ones(t_q, t_k, dtype=torch.bool, device=scores.device).tril()
        mask = lower if mask is None else mask & lower
    weights = softmax_weights(scores, mask)  # (..., T_q, T_k)
    output = torch.matmul(weights, v)  # (..., T_q, d_v)
    return AttentionResult(output, weights)
