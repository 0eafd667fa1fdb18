"""Long inputs: a pooled overview of a head, and a labelled full-resolution window.

Lesson 02 draws a 4,096-token head as a 256 × 256 image (:func:`downsample`) and
zooms into a region of it with its token labels (:func:`window`). Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from attnviz.maps.attention_maps import AttentionMaps, check_span, map_array
from attnviz.validation import check_choice, check_int

MAX_SIZE = 2**31  # the largest max_size of downsample: past any length numpy indexes


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
    mass. ``max_size`` is at most ``MAX_SIZE`` (2**31). Pure numpy; its time on a
    4,096-token head is part of the first-render target of ``attnviz bench``.
    """
    array = map_array("weights", weights)
    max_size = check_int("max_size", max_size, low=1, high=MAX_SIZE)
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
    array = map_array("weights", weights)
    if tokens is None and isinstance(weights, AttentionMaps):
        tokens = weights.tokens
    n_q, n_k = array.shape[-2:]
    row_span = check_span("rows", rows, n_q)
    col_span = check_span("cols", rows if cols is None else cols, n_k)
    if tokens is None:
        labels = [str(i) for i in range(max(n_q, n_k))]
    else:
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise TypeError(f"tokens must be a list of strings, got {type(tokens).__name__}")
        labels = list(tokens)
        if not all(isinstance(label, str) for label in labels):
            raise TypeError("tokens must be a list of strings, got other items")
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
