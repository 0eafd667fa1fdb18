"""Reference softmax attention: softmax(q kᵀ · scale) v, with its weights.

The definition of scaled dot-product attention ("Attention Is All You Need",
Vaswani et al. 2017, Eq. 1). Lesson 01 builds it from Nadaraya-Watson kernel
regression. ``blocked_attention`` (lesson 02) tiles only the query rows: each block of
rows takes a full softmax over all its keys, and it returns the whole (T_q, T_k) weights.
The online softmax of FlashAttention, which streams the keys too with a running max and
sum and never holds the weights, lives in ``online_softmax.py`` (lesson 07).

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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

import numpy as np
import torch

from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import as_tensor, check_bool, check_int, check_real, finite_result

__all__ = [
    "AttentionResult",
    "BLOCK_ELEMENTS",
    "blocked_attention",
    "scaled_dot_product_attention",
    "softmax_weights",
    "weights_into",
]

_OVERFLOW_HINT = "scale q and k (or scale) down, or pass float64 tensors"


class AttentionResult(NamedTuple):
    """What attention returns: the mixed values and the weights that mixed them."""

    output: torch.Tensor  # (..., T_q, d_v)
    weights: torch.Tensor  # (..., T_q, T_k), each row sums to 1 (or 0 if fully masked)


def softmax_weights(
    scores: torch.Tensor, mask: torch.Tensor | None = None, *, dim: int = -1
) -> torch.Tensor:
    """Softmax along ``dim`` that ignores masked-out entries (mask False).

    A row whose every entry is masked gets all-zero weights instead of NaNs. ``dim``
    must be a dimension of ``scores`` and name at least one entry (there is no softmax
    over nothing); scores may hold -inf (weight 0), not NaN or +inf; ``mask`` is None
    or a boolean tensor that broadcasts to ``scores``.
    """
    scores = as_tensor("scores", scores)
    if bool((torch.isnan(scores) | torch.isposinf(scores)).any()):
        raise ValueError("scores must not contain NaN or +inf (-inf is an entry masked out)")
    dim = check_int("dim", dim, low=-scores.dim(), high=scores.dim() - 1)
    if scores.shape[dim] == 0:
        raise ValueError(
            f"scores must have at least one entry along dim={dim} to softmax over, got shape "
            f"{tuple(scores.shape)}"
        )
    if mask is not None:
        mask = _check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))
    top = scores.amax(dim=dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    exp = torch.exp(scores - top)  # subtracting the max keeps exp from overflowing
    total = exp.sum(dim=dim, keepdim=True)
    weights = torch.where(total > 0, exp / total.clamp_min(torch.finfo(exp.dtype).tiny), exp)
    return finite_result("softmax_weights", weights, hint="the scores are too large")


def broadcast_shapes(*shapes: tuple[int, ...]) -> torch.Size:
    """``torch.broadcast_shapes``, without the half second its first call spends importing
    sympy (a first 4,096-token map pays it otherwise); RuntimeError if they do not broadcast."""
    try:
        return torch.Size(np.broadcast_shapes(*(tuple(shape) for shape in shapes)))
    except ValueError:
        raise RuntimeError(f"shapes {[tuple(s) for s in shapes]} do not broadcast") from None


def check_qkv_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """q and k share d_k and k and v share T_k, or a ValueError naming both shapes."""
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


def qkv_lead_shape(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Size:
    """The broadcast of q's, k's and v's leading (batch, head) dimensions, or a ValueError."""
    try:
        return broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            "q, k and v must have broadcastable leading (batch, head) dimensions: got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        ) from None


def _check_mask(mask: object, score_shape: torch.Size) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a boolean torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must have dtype torch.bool (True = may attend), got {mask.dtype}")
    try:
        fits = broadcast_shapes(mask.shape, score_shape) == tuple(score_shape)
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"{tuple(score_shape)} (..., T_q, T_k)"
        )
    if mask.device.type == "meta":
        raise ValueError("mask is a tensor on the meta device, which holds no booleans")
    return mask


def check_attention_args(q, k, v, scale, causal) -> tuple:
    """The door of the softmax attentions (and online softmax): finite q, k, v that fit,
    a scale, a causal flag."""
    q = as_tensor("q", q, min_dim=2, finite=True, layout="(..., T_q, d_k)")
    k = as_tensor("k", k, min_dim=2, finite=True, layout="(..., T_k, d_k)")
    v = as_tensor("v", v, min_dim=2, finite=True, layout="(..., T_k, d_v)")
    check_qkv_shapes(q, k, v)
    if k.shape[-2] == 0:
        raise ValueError(
            f"k and v must hold at least one key (T_k >= 1): a query needs a key to attend, "
            f"got k of shape {tuple(k.shape)}"
        )
    lead = qkv_lead_shape(q, k, v)
    scale = 1.0 / math.sqrt(max(q.shape[-1], 1)) if scale is None else check_real("scale", scale)
    check_bool("causal", causal)
    return q, k, v, scale, lead


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

    Raises:
        ValueError: k and v hold no key (T_k = 0); the (..., T_q, T_k) scores and
            weights would not fit the memory budget (use ``blocked_attention``, or
            shorter inputs); or finite inputs overflowed (scores past the float range).
    """
    q, k, v, scale, lead = check_attention_args(q, k, v, scale, causal)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    t_q, t_k = q.shape[-2], k.shape[-2]
    check_bytes(
        f"the ({t_q}, {t_k}) scores and weights of scaled_dot_product_attention for leading "
        f"dimensions {tuple(lead)}",
        tensor_bytes(*lead, t_q, t_k, 6, dtype=dtype),
        instead="use blocked_attention (one (T_q, T_k) tensor) or shorter inputs",
    )
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)

    scores = torch.matmul(q, k.transpose(-2, -1)) * scale  # (..., T_q, T_k)
    # an overflow to -inf would read as a masked key, to +inf as NaN weights
    finite_result("the scores q kᵀ · scale", scores, hint=_OVERFLOW_HINT)
    if mask is not None:
        mask = _check_mask(mask, scores.shape)
    if causal:
        t_q, t_k = scores.shape[-2:]
        # top-left aligned, as torch.nn.functional.scaled_dot_product_attention(is_causal=True)
        lower = torch.ones(t_q, t_k, dtype=torch.bool, device=scores.device).tril()
        mask = lower if mask is None else mask & lower
    weights = _softmax(scores, mask)  # (..., T_q, T_k)
    output = torch.matmul(weights, v)  # (..., T_q, d_v)
    finite_result("attention", output, hint=_OVERFLOW_HINT)
    return AttentionResult(output, weights)


def _softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``softmax_weights`` along the last dimension, for scores built here (no checks)."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    top = scores.amax(dim=-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    exp = torch.exp(scores - top)
    total = exp.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, exp / total.clamp_min(torch.finfo(exp.dtype).tiny), exp)


def _zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A zero tensor; on the CPU from zeroed pages the OS maps only when first written.

    numpy's zeros come from ``calloc``: the pages of a causal map's future (half of
    a long map) are never written, so never faulted in, where ``torch.zeros`` writes
    every page first.
    """
    if device.type == "cpu" and dtype in (torch.float32, torch.float64):
        numpy_dtype = np.float32 if dtype == torch.float32 else np.float64
        return torch.from_numpy(np.zeros(shape, dtype=numpy_dtype))
    return torch.zeros(shape, dtype=dtype, device=device)


# Zeroed tensors that the next blocked_attention calls write their weights into (see
# ``weights_into``), the next one last.
_DESTINATIONS: ContextVar[list[torch.Tensor] | None] = ContextVar("destinations", default=None)


@contextmanager
def weights_into(buffers: Iterable[torch.Tensor]) -> Iterator[None]:
    """Inside the block, ``blocked_attention`` calls write their weights into ``buffers``.

    The n-th call takes the n-th buffer when it is a zeroed, contiguous tensor of the
    weights' size, dtype and device (else it makes its own). ``attnviz.maps.capture``
    lends the layers of one (L, B, H, T, T) array this way, so a long capture never
    copies its maps into a stack: at 4,096 tokens, 268 MB less to write.
    """
    if isinstance(buffers, (str, bytes, torch.Tensor)) or not isinstance(buffers, Iterable):
        raise TypeError(
            f"buffers must be an iterable of torch tensors, got {type(buffers).__name__}"
        )
    buffers = list(buffers)
    for i, buffer in enumerate(buffers):
        if not isinstance(buffer, torch.Tensor):
            raise TypeError(f"buffers[{i}] must be a torch.Tensor, got {type(buffer).__name__}")
        if not buffer.is_floating_point() or buffer.device.type == "meta":
            raise TypeError(
                f"buffers[{i}] must be a real floating tensor on a device that holds numbers, "
                f"got dtype {buffer.dtype} on {buffer.device}"
            )
    token = _DESTINATIONS.set(buffers[::-1])
    try:
        yield
    finally:
        _DESTINATIONS.reset(token)


def _destination(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device):
    waiting = _DESTINATIONS.get()
    if not waiting:
        return None
    buffer = waiting.pop()
    fits = (
        buffer.numel() == math.prod(shape)
        and buffer.dtype == dtype
        and buffer.device == device
        and buffer.is_contiguous()
    )
    return buffer.view(shape) if fits else None


# Elements of one block of scores: 2**19 float32 = 2 MB, so a block's passes stay in cache.
BLOCK_ELEMENTS = 1 << 19


@torch.no_grad()
def blocked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    causal: bool = False,
) -> AttentionResult:
    """The reference attention, a block of query rows at a time (lesson 02).

    Not online softmax: every block of rows sees all its keys at once and takes a full
    softmax (``kernels.online_softmax`` streams the keys instead).

    Same numbers as :func:`scaled_dot_product_attention` to float rounding, for
    long inputs: each block of query rows is scored, masked and softmaxed in a
    small buffer that stays in cache, then written once into the weights it
    returns; keys that no query of the block may see (the future, under a causal
    mask) are never scored and keep weight 0. A 4,096-token causal map so costs
    one (T_q, T_k) tensor and about half the work, where the reference makes
    several full-size temporaries: what decides how fast a long head view first
    draws. Inference only: it runs under ``torch.no_grad()``.

    Args:
        q, k, v: (..., T_q, d_k), (..., T_k, d_k), (..., T_k, d_v); the leading
            dimensions broadcast, the dtypes promote, as in the reference.
        mask: None, or a boolean mask broadcastable to (..., T_q, T_k) (True = may
            attend). A row with no key allowed gets all-zero weights.
        scale: multiplies the scores; default 1/sqrt(d_k).
        causal: if True, query i may only attend to keys j <= i (combined with
            mask). Without a mask this reads no mask at all: only the block's
            diagonal square is masked.

    Returns:
        AttentionResult(output (..., T_q, d_v), weights (..., T_q, T_k)).

    Raises:
        ValueError: as :func:`scaled_dot_product_attention` (no key, the weights past
            the memory budget, an overflow).
    """
    q, k, v, scale, lead = check_attention_args(q, k, v, scale, causal)
    if min(q.numel(), k.numel(), v.numel()) == 0:  # no query or d = 0: the reference
        return scaled_dot_product_attention(q, k, v, mask, scale=scale, causal=causal)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    t_q, d_k = q.shape[-2:]
    t_k, d_v = v.shape[-2:]
    score_shape = torch.Size((*lead, t_q, t_k))
    check_bytes(
        f"the {tuple(score_shape)} weights of blocked_attention",
        tensor_bytes(*score_shape, dtype=dtype),
        instead="use shorter inputs",
    )
    if mask is not None:
        mask = _check_mask(mask, score_shape)
        if causal:  # as the reference: the causal mask and'ed into the given one
            mask = mask & torch.ones(t_q, t_k, dtype=torch.bool, device=mask.device).tril()
            causal = False
        mask = mask.reshape((1,) * (len(score_shape) - mask.dim()) + mask.shape)
        mask = mask.expand(*mask.shape[:-2], t_q, t_k)  # its own leading dims, full rows
    # (N, T, d) operands; q, k and v are small beside the (N, T_q, T_k) weights
    qs = q.to(dtype).expand(*lead, t_q, d_k).reshape(-1, t_q, d_k)
    keys = k.to(dtype).expand(*lead, t_k, d_k).reshape(-1, t_k, d_k).transpose(-2, -1)
    vs = v.to(dtype).expand(*lead, t_k, d_v).reshape(-1, t_k, d_v)
    n = qs.shape[0]
    weights = _destination((n, t_q, t_k), dtype, q.device)  # (N, T_q, T_k), zeroed
    if weights is None:
        weights = _zeros((n, t_q, t_k), dtype, q.device)
    output = torch.empty(n, t_q, d_v, dtype=dtype, device=q.device)  # (N, T_q, d_v)
    rows = max(1, min(t_q, BLOCK_ELEMENTS // (n * t_k)))
    buffer = torch.empty(n * rows * t_k, dtype=dtype, device=q.device)  # one block's scores
    if causal:  # future[i, j]: key start + j lies after query start + i
        future = torch.ones(rows, rows, dtype=torch.bool, device=q.device).triu(1)
    for start in range(0, t_q, rows):
        stop = min(start + rows, t_q)
        size = stop - start
        allowed = None if mask is None else mask[..., start:stop, :]  # (..., size, T_k)
        # keys after the last one a query of the block may see are never scored
        seen = t_k
        if causal:
            seen = min(stop, t_k)
        elif allowed is not None and stop < t_k and not allowed[..., stop:].any():
            seen = stop
        if allowed is not None:
            allowed = allowed[..., :seen]
        scores = buffer[: n * size * seen].view(n, size, seen)
        torch.bmm(qs[:, start:stop], keys[..., :seen], out=scores)
        scores.mul_(scale)
        if causal and start < seen:  # only the diagonal square holds future keys
            scores[..., start:].masked_fill_(future[:size, : seen - start], float("-inf"))
        if allowed is not None:
            scores.view(*lead, size, seen).masked_fill_(~allowed, float("-inf"))
        torch.softmax(scores, dim=-1, out=scores)
        if allowed is not None and scores[..., 0].isnan().any():
            # softmax of a fully masked row is NaN; the reference gives all zeros
            shut = ~allowed.any(dim=-1, keepdim=True)  # (..., size, 1)
            scores.view(*lead, size, seen).masked_fill_(shut, 0.0)
        weights[:, start:stop, :seen] = scores
        output[:, start:stop] = torch.bmm(scores, vs[:, :seen])
    finite_result("blocked_attention", output, hint=_OVERFLOW_HINT)
    return AttentionResult(output.view(*lead, t_q, d_v), weights.view(*lead, t_q, t_k))
