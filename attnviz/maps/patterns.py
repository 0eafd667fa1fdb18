"""Heads with jobs: score each head against the pattern its job would draw (lesson 03).

Previous-token, duplicate-token and induction heads (Olsson et al. 2022), with the
detection patterns and the similarity score of TransformerLens' ``head_detector``.
Every score is an (L, H) array.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from attnviz.maps.attention_maps import as_ids, ids_for, to_numpy, weights_of
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import check_bool, check_choice

HEAD_KINDS = ("previous_token", "duplicate_token", "induction")
ErrorMeasure = Literal["mul", "abs"]


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
    ids = as_ids("input_ids", input_ids).numpy()
    if ids.ndim == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.ndim != 1:
        raise ValueError(f"input_ids must have shape (T,) or (1, T), got {ids.shape}")
    if ids.size == 0:
        raise ValueError("input_ids must hold at least one token, got 0")
    if ids.min() < 0:
        raise ValueError(f"input_ids must be token ids >= 0, got {ids.min()}")
    seq_len = ids.size
    check_bytes(
        f"the ({seq_len}, {seq_len}) {kind} pattern",
        3 * tensor_bytes(seq_len, seq_len, dtype=torch.float64),
        instead="score a shorter input (the pattern grows as T²)",
    )
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
    weights = weights_of(maps)
    seq_len = weights.shape[-1]
    pattern = to_numpy("pattern", pattern).astype(np.float64)
    if pattern.shape != (seq_len, seq_len):
        raise ValueError(
            f"pattern must have shape ({seq_len}, {seq_len}) to match the maps, got {pattern.shape}"
        )
    if not np.all(np.isfinite(pattern)):
        raise ValueError("pattern must hold finite numbers (no NaN or inf)")
    exclude_bos = check_bool("exclude_bos", exclude_bos)
    exclude_current_token = check_bool("exclude_current_token", exclude_current_token)
    error_measure = check_choice("error_measure", error_measure, ("mul", "abs"))
    n_heads = weights.shape[1]
    check_bytes(
        f"pattern_score's float64 work arrays for {n_heads} heads of T={seq_len}",
        tensor_bytes(2 * n_heads + 3, seq_len, seq_len, dtype=torch.float64),
        instead="score a shorter input",
    )  # a layer in float64 and |A - P|, the pattern, keep and their product
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


def _job_score(kind: str, maps: Any, input_ids: Any, **options: Any) -> np.ndarray:
    """pattern_score against ``kind``'s detection pattern; ids are needed for all but one."""
    weights = weights_of(maps)
    seq_len = weights.shape[-1]
    if kind == "previous_token":
        pattern = np.eye(seq_len, k=-1)  # needs no ids
    else:
        pattern = detection_pattern(kind, ids_for(maps, input_ids, seq_len))
    return pattern_score(weights, pattern, **options)


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
    return _job_score(
        "previous_token",
        maps,
        None,
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
    return _job_score(
        "duplicate_token",
        maps,
        input_ids,
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
    return _job_score(
        "induction",
        maps,
        input_ids,
        exclude_bos=exclude_bos,
        exclude_current_token=exclude_current_token,
        error_measure=error_measure,
    )
