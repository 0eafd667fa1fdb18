"""Multi-head attention with a pluggable attention operator.

Multi-head attention ("Attention Is All You Need", Vaswani et al. 2017, §3.2.2)
runs one attention operator per head on (B, H, T, d_head) tensors. What the
operator computes is left open: lesson 02 uses the softmax operator of
``kernels/softmax.py``; later lessons swap in linear and sparse operators
without touching the model that calls them.

An operator is any callable

    operator(q, k, v, mask, scale) -> AttentionResult(output, weights)

with q (B, H, T_q, d_k), k (B, H, T_k, d_k), v (B, H, T_k, d_v), mask a
boolean tensor broadcastable to (B, H, T_q, T_k) (True = may attend) or None,
and scale a float. It returns the mixed values (B, H, T_q, d_v) and the
attention weights (B, H, T_q, T_k) that mixed them: the weights are what
lessons 02 and 03 draw. ``multi_head_attention`` checks the arguments, folds a
causal mask into ``mask``, calls the operator and checks what it returns.

Example:
    >>> import torch
    >>> x = torch.randn(2, 5, 16)                    # (B, T, d_model)
    >>> q = k = v = split_heads(x, n_heads=4)        # (B, H, T, d_head)
    >>> out, weights = multi_head_attention(q, k, v, causal=True)
    >>> merge_heads(out).shape, weights.shape
    (torch.Size([2, 5, 16]), torch.Size([2, 4, 5, 5]))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from attnviz.kernels.feature_maps import feature_map
from attnviz.kernels.softmax import (
    AttentionResult,
    _check_mask,
    blocked_attention,
    check_qkv_shapes,
    scaled_dot_product_attention,
)
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import as_tensor, check_bool, check_int, check_real, finite_result

Operator = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, float], AttentionResult
]


def softmax_operator(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    scale: float,
) -> AttentionResult:
    """Softmax attention, softmax(q kᵀ · scale) v, as an operator (lesson 02).

    The reference ``scaled_dot_product_attention`` of ``kernels/softmax.py``,
    with the operator signature ``(q, k, v, mask, scale)``; long inputs that need
    no gradient run its block-wise form ``blocked_attention`` (same numbers).
    """
    q, k, v, mask, scale = _check_operator_args(q, k, v, mask, scale)
    if _blocked_pays_off(q, k, v):
        return blocked_attention(q, k, v, mask, scale=scale)
    return scaled_dot_product_attention(q, k, v, mask, scale=scale)


_ELU_PLUS_ONE = feature_map("elu_plus_one")  # the map of the "linear" operator


def linear_operator(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    scale: float,
) -> AttentionResult:
    """Normalised linear attention with φ = elu + 1, as an operator (lesson 06).

    The weights are A[i, j] = φ(q_i)ᵀφ(k_j) / Σ_{j'} φ(q_i)ᵀφ(k_j') over the keys that
    ``mask`` allows (Katharopoulos et al. 2020, Eq. 6-7); masked weights are 0, and so
    is a row with no allowed key. With the causal mask that ``multi_head_attention``
    folds in, this is ``linear_attention(q, k, v, normalize=True,
    feature_map="elu_plus_one")``, written as a (T_q, T_k) matrix so that the model's
    attention maps can be drawn; the output is weights @ v. ``scale`` is not used: a
    common factor on the scores cancels in the row normalisation.
    """
    q, k, v, mask, scale = _check_operator_args(q, k, v, mask, scale)
    if k.shape[-2] == 0:
        raise ValueError(f"k and v must hold at least one key (T_k >= 1), got k {tuple(k.shape)}")
    _check_score_bytes(
        "linear_operator", q, k, 3, "use linear_attention (no (T, T) matrix) or shorter inputs"
    )
    phi = _ELU_PLUS_ONE
    scores = phi(q) @ phi(k).mT  # (B, H, T_q, T_k), > 0
    if mask is not None:
        scores = scores.masked_fill(~mask, 0.0)
    total = scores.sum(dim=-1, keepdim=True)  # η_i, (B, H, T_q, 1)
    weights = scores / total.clamp_min(torch.finfo(scores.dtype).tiny)  # rows sum to 1 (or 0)
    output = finite_result(
        "linear_operator", weights @ v, hint="scale q, k and v down, or pass float64 tensors"
    )
    finite_result("linear_operator's weights", weights, hint="scale q and k down")
    return AttentionResult(output, weights)


def sigmoid_operator(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    scale: float,
) -> AttentionResult:
    """Sigmoid attention without normalisation, σ(q kᵀ · scale) v, as an operator (lesson 08).

    Each weight is σ(q_i·k_j · scale) on its own, A[i, j] in (0, 1); masked weights are 0.
    No row sums to 1, so a query that finds nothing to read need not put its weight
    anywhere: Gu et al. (ICLR 2025, "When Attention Sink Emerges", PAPERS.md §6) train
    this form and find almost no first-token sinks (0.44 % against 18.18 % for softmax at
    60M parameters). Its weights are drawn and measured like softmax's.
    """
    q, k, v, mask, scale = _check_operator_args(q, k, v, mask, scale)
    _check_score_bytes("sigmoid_operator", q, k, 2, "use shorter inputs")
    weights = torch.sigmoid((q @ k.mT) * scale)  # (B, H, T_q, T_k)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    output = finite_result(
        "sigmoid_operator", weights @ v, hint="scale q, k and v down, or pass float64 tensors"
    )
    return AttentionResult(output, weights)


def _check_score_bytes(name: str, q: torch.Tensor, k: torch.Tensor, copies: int, instead: str):
    """An operator that forms (T_q, T_k) matrices (``copies`` of them) must fit the budget."""
    lead, t_q, t_k = q.shape[:-2], q.shape[-2], k.shape[-2]
    check_bytes(
        f"the ({t_q}, {t_k}) scores and weights of {name} for leading dimensions {tuple(lead)}",
        tensor_bytes(*lead, t_q, t_k, copies, dtype=q.dtype),
        instead=instead,
    )


def _check_operator_args(q, k, v, mask, scale):
    """An operator's door: (B, H, T, d) tensors that fit, a boolean mask or None, a scale."""
    q = as_tensor("q", q, ndim=4, finite=True, layout="(B, H, T_q, d_k)")
    k = as_tensor("k", k, ndim=4, finite=True, layout="(B, H, T_k, d_k)")
    v = as_tensor("v", v, ndim=4, finite=True, layout="(B, H, T_k, d_v)")
    if q.shape[:2] != k.shape[:2] or k.shape[:2] != v.shape[:2]:
        raise ValueError(
            "q, k and v must share batch and head dimensions (B, H): got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    check_qkv_shapes(q, k, v)
    scale = check_real("scale", scale)
    if mask is not None:
        mask = _check_mask(mask, (*q.shape[:-1], k.shape[-2]))
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    return q.to(dtype), k.to(dtype), v.to(dtype), mask, scale  # (B, H, T_q, d_v), (B, H, T_q, T_k)


# From this many scores per head (512 x 512) on, softmax attention that needs no gradient
# runs a block of query rows at a time (``blocked_attention``): same numbers, far less memory
# traffic. Shorter inputs, and every pass that trains, run the reference.
BLOCKED_SCORES = 512 * 512


def _blocked_pays_off(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
    return not needs_grad and q.shape[-2] * k.shape[-2] >= BLOCKED_SCORES


# Operators by name, so a model's config can name its operator in plain JSON.
# Lesson 06 adds "linear", lesson 08 "sigmoid" (no normalisation, no sink).
OPERATORS: dict[str, Operator] = {
    "softmax": softmax_operator,
    "linear": linear_operator,
    "sigmoid": sigmoid_operator,
}


def get_operator(operator: str | Operator) -> Operator:
    """Return the operator registered under a name, or a callable as it is (lesson 02)."""
    if isinstance(operator, str):
        if operator not in OPERATORS:
            raise ValueError(f"operator must be one of {tuple(OPERATORS)}, got {operator!r}")
        return OPERATORS[operator]
    if not callable(operator):
        raise TypeError(
            "operator must be a callable (q, k, v, mask, scale) -> AttentionResult or one of "
            f"{tuple(OPERATORS)}, got {type(operator).__name__}"
        )
    return operator


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Split the feature dimension into heads: (B, T, d_model) -> (B, H, T, d_head) (lesson 02)."""
    x = as_tensor("x", x, ndim=3, layout="(B, T, d_model)")
    n_heads = check_int("n_heads", n_heads, low=1)
    batch, seq_len, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(
            f"n_heads must divide the last dimension of x (d_model = {d_model}), got {n_heads}"
        )
    x = x.view(batch, seq_len, n_heads, d_model // n_heads)  # (B, T, H, d_head)
    return x.transpose(1, 2)  # (B, H, T, d_head)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Concatenate the heads again: (B, H, T, d_head) -> (B, T, H·d_head) (lesson 02)."""
    x = as_tensor("x", x, ndim=4, layout="(B, H, T, d_head)")
    batch, n_heads, seq_len, d_head = x.shape
    x = x.transpose(1, 2)  # (B, T, H, d_head)
    return x.reshape(batch, seq_len, n_heads * d_head)  # (B, T, d_model)


#: The longest side of a ``causal_mask`` (which must also fit the memory budget).
MAX_MASK_LEN = 1 << 20


def causal_mask(t_q: int, t_k: int | None = None, *, device: Any = None) -> torch.Tensor:
    """Boolean (T_q, T_k) mask, True where key j <= query i (lesson 02).

    Top-left aligned, as ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``.
    t_q and t_k are in [1, MAX_MASK_LEN]; the mask (t_q x t_k bytes) must fit the
    memory budget; ``device`` is None, a ``torch.device`` or a device name.
    """
    t_q = check_int("t_q", t_q, low=1, high=MAX_MASK_LEN)
    t_k = t_q if t_k is None else check_int("t_k", t_k, low=1, high=MAX_MASK_LEN)
    check_bytes(
        f"the (t_q, t_k) = ({t_q}, {t_k}) causal mask",
        t_q * t_k,
        instead="use shorter inputs, or causal=True of an attention function",
    )
    return torch.ones(t_q, t_k, dtype=torch.bool, device=_device(device)).tril()


def _device(device: Any) -> torch.device | None:
    if device is None or isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(
            f"device must be None, a torch.device or a name like 'cpu', got {type(device).__name__}"
        )
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be a torch device name like 'cpu', got {device!r}") from None


def multi_head_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    operator: str | Operator = softmax_operator,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> AttentionResult:
    """Run an attention operator on every head at once (lesson 02).

    Args:
        q: queries, (B, H, T_q, d_k).
        k: keys, (B, H, T_k, d_k).
        v: values, (B, H, T_k, d_v).
        operator: a callable ``(q, k, v, mask, scale) -> AttentionResult`` or the
            name of a registered one (``OPERATORS``); default softmax attention.
        mask: optional boolean mask broadcastable to (B, H, T_q, T_k); True means
            the query may attend to that key.
        causal: if True, query i may only attend to keys j <= i (and'ed with mask).
        scale: multiplies the scores; default 1/sqrt(d_k).

    Returns:
        AttentionResult(output (B, H, T_q, d_v), weights (B, H, T_q, T_k)).
    """
    if scale is None:
        scale = 1.0 / math.sqrt(max(_last_size(q), 1))
    q, k, v, mask, scale = _check_operator_args(q, k, v, mask, scale)
    operator = get_operator(operator)
    check_bool("causal", causal)
    batch, n_heads, t_q, _ = q.shape
    t_k = k.shape[-2]
    score_shape = (batch, n_heads, t_q, t_k)
    if causal and mask is None and operator is softmax_operator and _blocked_pays_off(q, k, v):
        # a long causal map: the block-wise kernel masks only each block's diagonal
        # square and never forms (or reads) a (T_q, T_k) mask
        result = blocked_attention(q, k, v, scale=scale, causal=True)
    else:
        if causal:
            lower = causal_mask(t_q, t_k, device=q.device)  # (T_q, T_k)
            mask = lower if mask is None else mask & lower
        result = operator(q, k, v, mask, scale)

    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(
            f"operator must return AttentionResult(output, weights), got {type(result).__name__}"
        )
    output, weights = result
    out_shape = (batch, n_heads, t_q, v.shape[-1])
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != out_shape:
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"operator returned output {got}, expected shape {out_shape}")
    if not isinstance(weights, torch.Tensor) or tuple(weights.shape) != score_shape:
        got = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"operator returned weights {got}, expected shape {score_shape}")
    return AttentionResult(output, weights)


def _last_size(x: Any) -> int:
    """The last dimension of a tensor or array (1 for anything else: the checks refuse it)."""
    shape = getattr(x, "shape", None)
    return int(shape[-1]) if isinstance(shape, tuple | torch.Size) and len(shape) else 1
