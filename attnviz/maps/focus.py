"""Where a head's attention goes: first-token sinks and entropy (lesson 02).

A sink is a key that soaks up attention whatever the query (Gu et al. 2025,
"When Attention Sink Emerges", arXiv 2410.10781); entropy says how focused or
diffuse each query's attention is. Positions are 0-based, so the paper's "first
token" is position 0.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from attnviz.maps.attention_maps import to_numpy, weights_of
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import check_bool, check_int, check_real


def token_importance(maps: Any) -> np.ndarray:
    """α_k per head and key position, (L, H, T) (Gu et al. 2025; lesson 02).

    α_k = (1/(T−k)) Σ_{t≥k} A[t, k] with 0-based k: the mean attention key k gets
    from the queries that can see it in a causal model. 1/T ≤ α_0 ≤ 1.
    """
    weights = weights_of(maps)
    seq_len = weights.shape[-1]
    check_bytes(
        f"token_importance's masked copy of {weights.shape[1]} heads of T={seq_len}",
        tensor_bytes(weights.shape[1] + 1, seq_len, seq_len, dtype=torch.float64),
        instead="measure a shorter input",
    )
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
    weights = weights_of(maps)
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
    normalize = check_bool("normalize", normalize)
    per_query = check_bool("per_query", per_query)
    return _summarise(*entropy_rows(weights_of(maps)), normalize=normalize, per_query=per_query)


class Entropy(NamedTuple):
    """Both entropies of every head from one pass over the maps (:func:`head_entropy`)."""

    nats: np.ndarray  # (L, H) mean entropy in nats: entropy(maps)
    normalized: np.ndarray  # (L, H) mean normalised entropy: entropy(maps, normalize=True)


def head_entropy(maps: Any) -> Entropy:
    """``entropy(maps)`` and ``entropy(maps, normalize=True)`` at the cost of one (lesson 02).

    The per-query entropies are computed once and summarised twice: what a
    dashboard that shows both wants for a 4,096-token input.
    """
    rows, causal = entropy_rows(weights_of(maps))
    return Entropy(_summarise(rows, causal), _summarise(rows, causal, normalize=True))


# Elements of one block of a head's rows: 2**20 float32 = 4 MB, so a block's passes stay
# in cache.
_BLOCK_ELEMENTS = 1 << 20


def entropy_rows(weights: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per-query entropies in nats, (L, H, T) float64, and whether every map is causal.

    ``weights`` is (L, H, T, T). A block of query rows at a time, in torch, in the
    weights' precision (float32 stays float32; other dtypes are widened to
    float64): keys right of a block's last query are only checked for being zero
    (they are, under a causal mask) and enter the entropy only when they are not.
    Zero weights add nothing, as 0 ln 0 = 0. Weights must be finite and non-negative
    (a tensor or array).
    """
    array = to_numpy("weights", weights)
    if array.ndim != 4 or array.shape[-1] != array.shape[-2]:
        raise ValueError(f"weights must have shape (layers, heads, T, T), got {tuple(array.shape)}")
    weights = weights_of(array, "weights")
    if weights.dtype not in (np.float32, np.float64):
        weights = weights.astype(np.float64)
    n_layers, n_heads, seq_len, _ = weights.shape
    tiny = float(np.finfo(weights.dtype).tiny)
    rows = np.empty((n_layers, n_heads, seq_len))
    block = max(1, _BLOCK_ELEMENTS // (n_heads * seq_len))
    causal = True
    for layer in range(n_layers):
        a = _as_torch(weights[layer])  # (H, T, T), no copy where numpy allows
        out = torch.from_numpy(rows[layer])  # (H, T)
        for start in range(0, seq_len, block):
            stop = min(start + block, seq_len)
            part = a[:, start:stop]  # (H, rows, T)
            out[:, start:stop] = _row_entropy(part[..., :stop], tiny)
            future = part[..., stop:]  # keys after the block's last query
            if future.numel() and _nonzero(future):
                causal = False
                out[:, start:stop] += _row_entropy(future, tiny)
            if causal and _nonzero(part[..., start:stop].triu(1)):
                causal = False  # a key after its query inside the block's diagonal square
    return rows, causal


def _as_torch(array: np.ndarray) -> torch.Tensor:
    if array.flags.writeable and array.dtype.isnative and all(s >= 0 for s in array.strides):
        return torch.from_numpy(array)
    return torch.from_numpy(np.array(array, dtype=array.dtype.newbyteorder("=")))


def _row_entropy(a: torch.Tensor, tiny: float) -> torch.Tensor:
    """−Σ a ln a over the last axis, counting only a > 0."""
    p = torch.where(a > 0, a, 0.0) if _has_non_positive(a) else a
    return -(p * p.clamp_min(tiny).log()).sum(-1)


def _has_non_positive(a: torch.Tensor) -> bool:
    """Negative or NaN weights (never from a softmax): those count as 0, as 0 ln 0."""
    low = a.amin()  # NaN when any entry is NaN
    return bool(low < 0) or bool(low.isnan())


def _nonzero(a: torch.Tensor) -> bool:
    """Whether any entry of ``a`` is not 0 (NaN included); amax/amin are cheap reductions."""
    return bool(a.amax() != 0) or bool(a.amin() != 0)


def _summarise(
    rows: np.ndarray, causal: bool, *, normalize: bool = False, per_query: bool = False
) -> np.ndarray:
    seq_len = rows.shape[-1]
    if not normalize:
        return rows if per_query else rows.mean(axis=-1)
    visible = np.arange(1, seq_len + 1) if causal else np.full(seq_len, seq_len)
    choice = visible > 1
    scale = np.log(np.where(choice, visible, 2))
    rows = np.where(choice, rows / scale, 0.0)
    if per_query:
        return rows
    return rows[..., choice].mean(axis=-1) if choice.any() else np.zeros(rows.shape[:2])
