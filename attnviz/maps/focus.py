"""Where a head's attention goes: first-token sinks and entropy (lesson 02).

A sink is a key that soaks up attention whatever the query (Gu et al. 2025,
"When Attention Sink Emerges", arXiv 2410.10781); entropy says how focused or
diffuse each query's attention is. Positions are 0-based, so the paper's "first
token" is position 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnviz.maps.attention_maps import weights_of
from attnviz.validation import check_int, check_real


def token_importance(maps: Any) -> np.ndarray:
    """α_k per head and key position, (L, H, T) (Gu et al. 2025; lesson 02).

    α_k = (1/(T−k)) Σ_{t≥k} A[t, k] with 0-based k: the mean attention key k gets
    from the queries that can see it in a causal model. 1/T ≤ α_0 ≤ 1.
    """
    weights = weights_of(maps)
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
    weights = weights_of(maps)
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
