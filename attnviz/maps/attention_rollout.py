"""Attention rollout: follow information through the layers (Abnar & Zuidema 2020).

"Quantifying Attention Flow in Transformers", arXiv 2005.00928, with the paper's
residual convention; lesson 03.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from attnviz.maps.attention_maps import weights_of
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import check_real


def rollout(maps: Any, *, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020), cumulative per layer, (L, T, T).

    Each layer's heads are averaged, the residual stream is modelled as attention
    to oneself, Ã = residual·I + (1 − residual)·mean_h A (the paper's 0.5/0.5
    convention by default), rows are renormalised, and the layers multiply:
    R_0 = Ã_0, R_l = Ã_l R_{l−1}. Row t of R_l says how much of token t's
    representation after layer l traces back to each input token (lesson 03).
    """
    residual = check_real("residual", residual, low=0, high=1)
    weights = weights_of(maps)
    seq_len = weights.shape[-1]
    check_bytes(
        f"rollout's (L, T, T) float64 flows for T={seq_len}",
        tensor_bytes(weights.shape[0] + 4, seq_len, seq_len, dtype=torch.float64),
        instead="roll out a shorter input",
    )  # the result, plus the identity, a mixed layer, its sums and the running flow
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
