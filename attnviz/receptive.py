"""How far information travels through a stack of masked attention layers.

A mask says which keys each query reads in one layer. Because the residual stream carries
every token's state to the next layer, a key's information reaches a query after ``l``
layers when there is a path of at most ``l`` mask edges from the query back to the key::

    reach_0 = identity
    reach_l = reach_{l-1}  ∪  mask ∘ reach_{l-1}      (reach_l[q] = ⋃_{j ∈ mask[q]} reach_{l-1}[j])

``receptive_field(mask, seq_len, n_layers)`` computes, exactly, the first layer at which each
key reaches each query, two ways:

* **any mask** (a ``MaskPattern`` without distances, or a dense ``(T, T)`` boolean array):
  each row of ``reach`` is a bitset of ``uint64`` words, and a layer ORs, for every mask edge
  ``q → j``, the words that row ``j`` gained in the previous layer into row ``q`` (only the
  frontier can add anything new; word blocks where a row gained nothing are skipped). Stops
  early once a layer adds nothing. Up to ``MAX_EXACT_TOKENS`` tokens.
* **offset patterns** (a ``MaskPattern`` whose ``distances(seq_len)`` is not ``None``, or a
  1-D set of distances): query ``i`` reads ``i - d`` for each distance ``d``, so the answer
  depends only on ``q - k``. The distances reachable after ``l`` layers are the ``l``-fold
  sumset of ``D ∪ {0}`` (capped below ``seq_len``), computed on one length-``T`` boolean
  array. Up to ``MAX_DISTANCE_TOKENS`` tokens.

First-layer values: ``0`` for a query and itself (reached before any layer), ``1 ..
n_layers`` for the first layer that brings the key's information, ``NEVER`` (``-1``) when it
does not arrive within ``n_layers`` layers (for a causal mask, every key after the query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .memory_budget import check_bytes
from .validation import check_bool, check_choice, check_int

NEVER = -1  # first-layer value of a (query, key) pair never reached within n_layers
MAX_EXACT_TOKENS = 16_384  # any mask: bitsets of T x T bits (and a T x T first-layer matrix)
MAX_DISTANCE_TOKENS = 1 << 24  # offset patterns: a few length-T arrays
MAX_LAYERS = 16_384
MAX_MATRIX_TOKENS = MAX_EXACT_TOKENS  # largest T whose full first-layer matrix is built
#: The most work one call may do, so every size within the limits above answers in
#: seconds on a 2-core laptop: the distance sweep touches ``seq_len`` cells per layer
#: (about 1e9 a second), the bitset sweep ``seq_len * ceil(seq_len / 64)`` words per layer
#: (about 1e8 a second). A request past it is refused with the largest ``n_layers`` that fits.
MAX_DISTANCE_WORK = 1 << 33  # seq_len x layers swept, distance arithmetic (~8 s)
MAX_BITSET_WORK = 1 << 30  # words x layers swept, bitsets (~10 s)

_WORD_BLOCK = 16  # words (1,024 keys) per column block of the bitset sweep
_EDGE_CHUNK = 1 << 20  # mask edges gathered at once (bounds the temporary to ~128 MB)
_AUTO_FULL_TOKENS = 4_096  # full=None keeps the T x T first-layer matrix up to here
_FFT_OVER = 48  # shifted ORs per layer above which the distance sweep uses one FFT


@dataclass(frozen=True, eq=False)
class ReceptiveField:
    """The exact reach of a mask across ``n_layers`` layers, and the figures derived from it.

    ``coverage[l]`` is the fraction of the considered (query, key) pairs whose key reaches
    the query within ``l`` layers (``l = 0 .. n_layers``); the pairs considered are the
    causal ones (``k <= q``, ``T (T + 1) / 2`` of them) when the mask is causal, else all
    ``T * T``. ``last_row[k]`` is the first layer at which key ``k`` reaches the last query.
    """

    seq_len: int
    n_layers: int
    causal: bool
    method: str  # "bitset" or "distances"
    reached: np.ndarray  # reached[l]: number of considered pairs reached within l layers
    last_row: np.ndarray  # (T,) first layer per key for query T - 1
    by_distance: np.ndarray | None = None  # (T,) first layer per distance q - k (distances)
    matrix: np.ndarray | None = field(default=None, repr=False)  # (T, T) when stored

    @property
    def n_pairs(self) -> int:
        """How many (query, key) pairs coverage is a fraction of."""
        t = self.seq_len
        return t * (t + 1) // 2 if self.causal else t * t

    @property
    def coverage(self) -> np.ndarray:
        """``coverage[l]``: fraction of considered pairs reached within ``l`` layers."""
        return self.reached / self.n_pairs

    @property
    def layers_to_full_coverage(self) -> int | None:
        """The fewest layers after which every considered pair is reached, or ``None``."""
        full = np.flatnonzero(self.reached == self.n_pairs)
        return int(full[0]) if full.size else None

    @property
    def still_growing(self) -> bool:
        """Whether the last layer still brought new pairs, so that more layers may reach
        more; ``False`` once a layer adds nothing (the reach then never grows again)."""
        return bool(self.reached[-1] > self.reached[-2])

    @property
    def n_unreachable(self) -> int:
        """Considered pairs still unreached after ``n_layers`` layers."""
        return int(self.n_pairs - self.reached[-1])

    @property
    def holes(self) -> np.ndarray:
        """Keys (``0 .. T-1``) whose information never reaches the last query."""
        return np.flatnonzero(self.last_row == NEVER)

    @property
    def gaps(self) -> np.ndarray:
        """Holes lying between reached keys: unreached keys after the last query's farthest
        reached key. A window that simply has not grown far enough has none; a pattern that
        skips tokens (dilated, LongNet, a sink with a short window) does."""
        seen = np.flatnonzero(self.last_row != NEVER)
        holes = self.holes
        return holes[holes > seen[0]] if seen.size else holes

    def reach_of_last(self, layers: int) -> np.ndarray:
        """Keys whose information reaches the last query within ``layers`` layers."""
        layers = check_int("layers", layers, low=0, high=self.n_layers)
        return np.flatnonzero((self.last_row != NEVER) & (self.last_row <= layers))

    def theoretical_accuracy(self, layers: int | None = None) -> float | np.ndarray:
        """PowerAttention's α̂_k (App. A): the share of positions the last one reaches within
        ``k`` layers, ``|B_k| / T``. Give the mask at block level (one position per block)
        for the paper's block figure. With ``layers=None``, the array over ``k = 0 ..
        n_layers``."""
        row = self.last_row
        counts = np.bincount(row[row != NEVER], minlength=self.n_layers + 1)
        alpha = np.cumsum(counts)[: self.n_layers + 1] / self.seq_len
        if layers is None:
            return alpha
        layers = check_int("layers", layers, low=0, high=self.n_layers)
        return float(alpha[layers])

    @property
    def first_layer(self) -> np.ndarray:
        """The ``(T, T)`` first-layer matrix (row = query, column = key); built on demand for
        offset patterns up to ``MAX_MATRIX_TOKENS`` tokens."""
        if self.matrix is not None:
            return self.matrix
        if self.by_distance is None:
            raise ValueError(
                "the first-layer matrix was not stored (receptive_field(..., full=False))"
            )
        if self.seq_len > MAX_MATRIX_TOKENS:
            raise ValueError(
                f"seq_len must be at most {MAX_MATRIX_TOKENS:,} to build the first-layer "
                f"matrix, got {self.seq_len:,}; use by_distance or first_layer_overview()"
            )
        t = self.seq_len
        check_bytes(
            f"the ({t:,}, {t:,}) first-layer matrix",
            _array_bytes(t, t, 8) * 2,
            instead="use by_distance or first_layer_overview()",
        )
        q = np.arange(t)
        diff = q[:, None] - q[None, :]
        return np.where(diff >= 0, self.by_distance[np.maximum(diff, 0)], NEVER).astype(
            self.by_distance.dtype
        )

    def first_layer_overview(self, size: int = 512, reduce: str = "max") -> np.ndarray:
        """An at most ``size x size`` reduction of the first-layer matrix for a reach map.

        Each cell covers a tile of (query, key) pairs: ``reduce="max"`` gives the layer by
        which the whole tile is reached (``NEVER`` if some pair never is), ``"min"`` the
        layer at which the first pair of the tile is. For causal masks the pairs after the
        diagonal are left out of the tiles they share with causal pairs. For offset patterns
        the tiles are reduced over the distance profile: exact, except that when ``size``
        does not divide ``seq_len`` the last (shorter) row of tiles is treated as full."""
        size = check_int("size", size, low=1, high=1 << 16)
        reduce = check_choice("reduce", reduce, ("max", "min"))
        t = self.seq_len
        tile = -(-t // size)
        n = -(-t // tile)
        big = np.iinfo(np.int32).max
        if self.matrix is None and self.by_distance is not None:
            check_bytes(
                f"the ({n:,}, {n:,}) reach overview (size={size:,})",
                _array_bytes(n, n, 8) * 6,
                instead="use a smaller size (512 draws a sharp reach map)",
            )
            # the tile of query block I and key block J holds the distances (I - J) * tile
            # + (-tile + 1 .. tile - 1): reduce the distance profile over those windows
            prof = self.by_distance.astype(np.int32)
            val = np.where(prof == NEVER, big, prof)
            padded = np.full(n * tile + tile, big if reduce == "min" else -1, np.int32)
            padded[:t] = val
            blocks = padded[: (n + 1) * tile].reshape(n + 1, tile)
            op = np.maximum if reduce == "max" else np.minimum
            whole = op.reduce(blocks, axis=1)
            qi, ki = np.indices((n, n))
            delta = qi - ki
            # offsets delta*tile + (0..tile-1) (block delta) and delta*tile - (1..tile-1)
            # (the tail of block delta - 1, which is present only for delta >= 1)
            cur = whole[np.clip(delta, 0, n)]
            prev_tail = op.reduce(blocks[:, 1:], axis=1) if tile > 1 else None
            if prev_tail is not None:
                prev = np.where(delta >= 1, prev_tail[np.clip(delta - 1, 0, n)], cur)
                cur = op(cur, prev)
            cur = np.where(cur == big, NEVER, cur)
            out = np.where(delta >= 0, cur, NEVER)
            return out.astype(self.by_distance.dtype)
        check_bytes(
            f"the reach overview of a {t:,}-token first-layer matrix",
            _array_bytes(n * tile, n * tile, 4) * 3,
            instead="use a shorter seq_len",
        )
        first = self.first_layer.astype(np.int32)
        pad = n * tile - t
        if reduce == "max":
            val = np.where(first == NEVER, big, first)
            if self.causal:
                val = np.where(np.tri(t, dtype=bool), val, -1)
            val = np.pad(val, ((0, pad), (0, pad)), constant_values=-1)
            out = val.reshape(n, tile, n, tile).max(axis=(1, 3))
            out = np.where((out == big) | (out == -1), NEVER, out)
        else:
            val = np.where(first == NEVER, big, first)
            val = np.pad(val, ((0, pad), (0, pad)), constant_values=big)
            out = val.reshape(n, tile, n, tile).min(axis=(1, 3))
            out = np.where(out == big, NEVER, out)
        return out.astype(first.dtype if first.dtype != np.int32 else np.int16)

    def last_row_overview(self, size: int = 4_096) -> np.ndarray:
        """The last query's first layers in at most ``size`` cells, for a strip under the
        reach map: each cell the earliest layer reaching one of its keys (``NEVER`` if none
        is), as ``first_layer_overview(reduce="min")`` reduces its tiles.

        A cell covers ``ceil(seq_len / size)`` consecutive keys (the last cell may cover
        fewer); when that is one key, ``last_row`` itself is returned. ``size`` is at most
        ``MAX_DISTANCE_TOKENS``."""
        size = check_int("size", size, low=1, high=MAX_DISTANCE_TOKENS)
        row = self.last_row
        tile = -(-row.size // size)
        if tile == 1:
            return row
        big = np.iinfo(np.int32).max
        values = np.where(row == NEVER, big, row.astype(np.int32))
        pad = -row.size % tile
        values = np.pad(values, (0, pad), constant_values=big).reshape(-1, tile).min(axis=1)
        return np.where(values == big, NEVER, values)


def receptive_field(
    mask: Any,
    seq_len: int,
    n_layers: int,
    *,
    method: str = "auto",
    full: bool | None = None,
) -> ReceptiveField:
    """The exact receptive field of ``mask`` after ``1 .. n_layers`` layers.

    ``mask`` is a ``MaskPattern`` (``attnviz.kernels.masks``), a dense ``(seq_len,
    seq_len)`` boolean array (True: the query may read the key), or a 1-D collection of
    non-negative integer distances (query ``i`` reads ``i - d``; distance 0 is always
    included, and distances ``>= seq_len`` reach nothing). ``method="auto"`` uses distance
    arithmetic whenever the mask is given by distances and bitsets otherwise;
    ``"bitset"`` forces bitsets (for a pattern, its dense matrix), ``"distances"`` requires
    distances. ``full=True`` also stores the bitset path's ``(T, T)`` first-layer matrix,
    ``full=False`` only the per-layer counts and the last query's row, ``None`` (default)
    the matrix up to 4,096 tokens (it takes ``T*T`` bytes: 268 MB at 16,384 tokens). The
    distance path always keeps its compact per-distance profile, and builds the matrix on
    demand.

    Limits: ``seq_len`` up to ``MAX_EXACT_TOKENS`` for bitsets and ``MAX_DISTANCE_TOKENS``
    for distances, ``n_layers`` up to ``MAX_LAYERS``, the bitsets' memory within
    attnviz's memory budget, and the work within ``MAX_DISTANCE_WORK`` (tokens x layers)
    or ``MAX_BITSET_WORK`` (words x layers), so every call answers in seconds. A mask
    whose reach still grows past that work is refused with a ``ValueError`` that names the
    work and the largest ``n_layers`` that fits at this ``seq_len``.
    """
    method = check_choice("method", method, ("auto", "bitset", "distances"))
    if full is not None:
        full = check_bool("full", full)
    n_layers = check_int("n_layers", n_layers, low=1, high=MAX_LAYERS)
    seq_len = check_int("seq_len", seq_len, low=1)
    if seq_len > MAX_DISTANCE_TOKENS:
        got = f"{seq_len:,}" if seq_len < 10**30 else "a larger integer"
        raise ValueError(
            f"seq_len must be at most {MAX_DISTANCE_TOKENS:,} (an offset pattern; a general "
            f"mask {MAX_EXACT_TOKENS:,}), got {got}"
        )
    if mask is None:
        raise TypeError(
            "mask must be a MaskPattern, a (seq_len, seq_len) boolean array or a 1-D set of "
            "distances, got None"
        )

    dense, distances = _read_mask(mask, seq_len, method, full)
    if distances is not None:
        return _field_from_distances(distances, seq_len, n_layers)
    return _field_from_bitsets(dense, n_layers, full)


# ---------------------------------------------------------------------------- input


def _is_pattern(mask: Any) -> bool:
    return callable(getattr(mask, "dense", None)) and callable(getattr(mask, "distances", None))


def _read_mask(
    mask: Any, seq_len: int, method: str, full: bool | None = None
) -> tuple[np.ndarray | None, Any]:
    """Return ``(dense, None)`` or ``(None, distances)`` after checking ``mask``."""
    if _is_pattern(mask):
        distances = None
        if method != "bitset":
            # a pattern's distances may be every offset below seq_len: int64s and their sort
            check_bytes(
                f"the distances of mask {getattr(mask, 'name', '')!r} at seq_len={seq_len:,}",
                seq_len * 40,
                instead="use a shorter seq_len",
            )
            distances = mask.distances(seq_len)
            if distances is not None:
                return None, _check_distances("mask.distances(seq_len)", distances, seq_len)
            if method == "distances":
                raise ValueError(
                    f"method='distances' needs an offset pattern; mask {mask.name!r} has no "
                    "distances (use method='auto' or 'bitset')"
                )
        _check_exact_len(seq_len, full)
        return _check_dense("mask.dense(seq_len)", mask.dense(seq_len), seq_len), None
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    if isinstance(mask, list | tuple | set | frozenset | range):
        mask = np.asarray(sorted(mask) if isinstance(mask, set | frozenset) else list(mask))
        if mask.size == 0:
            mask = mask.astype(np.int64)
        if mask.ndim != 1:
            raise ValueError(f"mask given as a sequence must be 1-D distances, got {mask.shape}")
    if not isinstance(mask, np.ndarray):
        raise TypeError(
            "mask must be a MaskPattern, a (seq_len, seq_len) boolean array or a 1-D set of "
            f"distances, got {type(mask).__name__}"
        )
    if mask.ndim == 1:
        if method == "bitset":
            _check_exact_len(seq_len, full)
            dist = _check_distances("mask", mask, seq_len)
            return _dense_from_distances(dist, seq_len), None
        return None, _check_distances("mask", mask, seq_len)
    if mask.ndim == 2:
        if method == "distances":
            raise ValueError("method='distances' needs distances; mask is a dense matrix")
        _check_exact_len(seq_len, full)
        return _check_dense("mask", mask, seq_len), None
    raise ValueError(
        f"mask must be a (seq_len, seq_len) boolean matrix or 1-D distances, got shape {mask.shape}"
    )


def _check_exact_len(seq_len: int, full: bool | None = None) -> None:
    if seq_len > MAX_EXACT_TOKENS:
        raise ValueError(
            f"seq_len must be at most {MAX_EXACT_TOKENS:,} for a general mask (offset "
            f"patterns allow {MAX_DISTANCE_TOKENS:,}), got {seq_len:,}"
        )
    if full is None:
        full = seq_len <= _AUTO_FULL_TOKENS
    t, words = seq_len, -(-seq_len // 64)
    # the dense mask (T*T bools), reach, front and new front (T*words uint64 each), and
    # with full=True the bit planes of the layers and the (T, T) first-layer matrix
    n_bytes = t * t + 3 * t * words * 8 + (t * t + 8 * t * words * 8 if full else 0)
    check_bytes(
        f"the bitsets of a general mask at seq_len={t:,}" + (" with full=True" if full else ""),
        n_bytes,
        instead="use full=False, an offset pattern (method='distances') or a shorter seq_len",
    )


def _check_dense(name: str, value: Any, seq_len: int) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray) or value.dtype != np.bool_:
        kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise TypeError(f"{name} must be a boolean array (True = may attend), got {kind}")
    if value.shape != (seq_len, seq_len):
        raise ValueError(
            f"{name} must have shape (seq_len, seq_len) = ({seq_len}, {seq_len}), got {value.shape}"
        )
    return value


def _check_distances(name: str, value: Any, seq_len: int) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    value = np.asarray(value)
    if value.dtype == np.bool_ or not np.issubdtype(value.dtype, np.integer):
        raise TypeError(f"{name} must be integer distances, got dtype {value.dtype}")
    if value.ndim != 1:
        raise ValueError(f"{name} must be 1-D distances, got shape {value.shape}")
    if value.size and value.min() < 0:
        raise ValueError(f"{name} must hold distances >= 0, got {int(value.min())}")
    value = value.astype(np.int64)
    value = np.sort(value[(value > 0) & (value < seq_len)])  # numpy's hashing unique is slow
    return value[np.r_[True, value[1:] != value[:-1]]] if value.size else value


def _array_bytes(rows: int, cols: int, itemsize: int) -> int:
    """Bytes of a ``(rows, cols)`` array of ``itemsize``-byte items (exact Python ints)."""
    return int(rows) * int(cols) * int(itemsize)


def _dense_from_distances(dist: np.ndarray, seq_len: int) -> np.ndarray:
    q = np.arange(seq_len)
    diff = q[:, None] - q[None, :]
    allowed = np.zeros(seq_len, bool)
    allowed[0] = True
    allowed[dist] = True
    return (diff >= 0) & allowed[np.maximum(diff, 0)]


# ------------------------------------------------------------------ distance arithmetic


def _runs(dist: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of consecutive distances as ``(first, length)``."""
    if dist.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(dist) != 1) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, dist.size]
    return [(int(dist[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def _dilate(x: np.ndarray, m: int) -> np.ndarray:
    """``y[p] = any(x[p - m + 1 .. p])`` for ``p < len(x) + m - 1`` (doubling, O(log m))."""
    y = np.zeros(x.size + m - 1, bool)
    y[: x.size] = x
    span = 1
    while 2 * span <= m:
        y[span:] |= y[:-span].copy()
        span *= 2
    if span < m:
        y[m - span :] |= y[: y.size - (m - span)].copy()
    return y


def _sumset_step(front: np.ndarray, dist: np.ndarray, runs, t: int) -> np.ndarray:
    """Positions ``p + d`` (``p`` in ``front``, ``d`` in ``dist``) below ``t``."""
    out = np.zeros(t, bool)
    nz = np.flatnonzero(front)
    if nz.size == 0 or dist.size == 0:
        return out
    lo, hi = int(nz[0]), int(nz[-1]) + 1
    sub = front[lo:hi]
    cost = sum(1 + int(np.log2(m)) for _, m in runs)
    if cost > _FFT_OVER:
        ind = np.zeros(int(dist[-1]) + 1)
        ind[dist] = 1.0
        n = sub.size + ind.size - 1
        size = 1 << (n - 1).bit_length()
        conv = np.fft.irfft(np.fft.rfft(sub.astype(float), size) * np.fft.rfft(ind, size), size)
        hit = conv[: min(n, t - lo)] > 0.5
        out[lo : lo + hit.size] = hit
        return out
    for first, m in runs:
        start = lo + first
        if start >= t:
            break
        g = sub if m == 1 else _dilate(sub, m)
        n = min(g.size, t - start)
        out[start : start + n] |= g[:n]
    return out


def _field_from_distances(dist: np.ndarray, t: int, n_layers: int) -> ReceptiveField:
    runs = _runs(dist)
    fft = sum(1 + int(np.log2(m)) for _, m in runs) > _FFT_OVER
    check_bytes(
        f"the distance sweep at seq_len={t:,}",
        t * (112 if fft else 32),  # a few length-T arrays; the FFT's buffers are ~4T floats
        instead="use a shorter seq_len",
    )
    if dist.size:
        # the largest distance is new at every layer until it passes seq_len: a lower
        # bound on the layers swept, so a sweep past the work limit is refused up front
        _check_distance_work(t, n_layers, min(n_layers, -(-(t - 1) // int(dist[-1]))))
    dtype = np.int8 if n_layers <= 127 else np.int16
    first = np.full(t, NEVER, dtype)
    first[0] = 0
    reached = np.zeros(t, bool)
    reached[0] = True
    front = reached.copy()
    for layer in range(1, n_layers + 1):
        _check_distance_work(t, n_layers, layer)
        new = _sumset_step(front, dist, runs, t)
        new &= ~reached
        if not new.any():
            break
        reached |= new
        first[new] = layer
        front = new
    # pairs at distance d: t - d of them (summed in chunks: a few MB at a time)
    per_layer = np.zeros(n_layers + 1)
    for c0 in range(0, t, _EDGE_CHUNK):
        part = first[c0 : c0 + _EDGE_CHUNK]
        hit = part != NEVER
        weights = (t - c0 - np.arange(part.size))[hit].astype(np.float64)
        per_layer += np.bincount(
            part[hit].astype(np.int64), weights=weights, minlength=n_layers + 1
        )[: n_layers + 1]
    counts = np.cumsum(per_layer[: n_layers + 1]).round().astype(np.int64)
    return ReceptiveField(
        seq_len=t,
        n_layers=n_layers,
        causal=True,
        method="distances",
        reached=counts,
        last_row=first[::-1].copy(),
        by_distance=first,
    )


def _check_distance_work(t: int, n_layers: int, layers: int) -> None:
    if t * layers > MAX_DISTANCE_WORK:
        fits = max(1, MAX_DISTANCE_WORK // t)
        raise ValueError(
            f"n_layers={n_layers:,} at seq_len={t:,}: this offset pattern's reach grows for at "
            f"least {layers:,} layers, and sweeping {t:,} tokens x {layers:,} layers is "
            f"past the work limit MAX_DISTANCE_WORK = {MAX_DISTANCE_WORK:,} (about 10 s); "
            f"use n_layers <= {fits:,} at this seq_len, or a shorter seq_len"
        )


def _check_bitset_work(t: int, words: int, n_layers: int, layers: int) -> None:
    if t * words * layers > MAX_BITSET_WORK:
        fits = max(1, MAX_BITSET_WORK // (t * words))
        raise ValueError(
            f"n_layers={n_layers:,} at seq_len={t:,}: this mask's reach grows for at least "
            f"{layers:,} layers, and sweeping {t * words:,} bitset words x {layers:,} "
            f"layers is past the work limit MAX_BITSET_WORK = {MAX_BITSET_WORK:,} (about "
            f"10 s); use n_layers <= {fits:,} at this seq_len, a shorter seq_len, or an "
            "offset pattern (method='distances')"
        )


# ------------------------------------------------------------------------- bitsets


def _bit_positions(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(row, column)`` of every set bit of a ``(rows, n_words)`` uint64 array, row-major."""
    rows, cols = np.nonzero(words)
    out_r, out_c = [], []
    for c0 in range(0, rows.size, _EDGE_CHUNK):
        r, w = rows[c0 : c0 + _EDGE_CHUNK], cols[c0 : c0 + _EDGE_CHUNK]
        i, bit = np.nonzero(_unpack(words[r, w][:, None]))
        out_r.append(r[i].astype(np.int32))
        out_c.append((w[i] * 64 + bit).astype(np.int32))
    if not out_r:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(out_r), np.concatenate(out_c)


def _mask_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's maximal runs of allowed keys as ``(row, first key, last key)``, row-major."""
    t = mask.shape[0]
    words = -(-t // 64)
    packed = np.zeros((t, words * 8), np.uint8)
    packed[:, : -(-t // 8)] = np.packbits(mask, axis=1, bitorder="little")
    bits = packed.view("<u8").astype(np.uint64, copy=False)
    del packed
    one, top = np.uint64(1), np.uint64(63)
    carry = np.zeros_like(bits)
    carry[:, 1:] = bits[:, :-1] >> top  # the key just before each word's first key
    first = bits & ~((bits << one) | carry)
    rows, first_key = _bit_positions(first)
    del first
    carry[:, :-1] = bits[:, 1:] << top  # the key just after each word's last key
    carry[:, -1] = 0
    last = bits & ~((bits >> one) | carry)
    del carry, bits
    return rows, first_key, _bit_positions(last)[1]


def _without_self(q, a, b):
    """The runs with each query left out of its own run (a query already holds its own
    reach), still grouped by query."""
    inside = (a <= q) & (q <= b)
    if not inside.any():
        return q, a, b
    left = inside & (a < q)
    right = inside & (q < b)
    q, a, b = (
        np.concatenate([q[~inside], q[left], q[right]]),
        np.concatenate([a[~inside], a[left], q[right] + 1]),
        np.concatenate([b[~inside], q[left] - 1, b[right]]),
    )
    order = np.argsort(q, kind="stable")
    return q[order], a[order], b[order]


def _field_from_bitsets(mask: np.ndarray, n_layers: int, full: bool | None) -> ReceptiveField:
    t = mask.shape[0]
    words = -(-t // 64)
    block = min(_WORD_BLOCK, words)
    n_blocks = -(-words // block)
    dtype = np.int8 if n_layers <= 127 else np.int16
    if full is None:
        full = t <= _AUTO_FULL_TOKENS

    # a row reads runs of consecutive keys: OR the frontier over a run with a sparse table
    run_q, run_a, run_b = _mask_runs(mask)
    causal = not bool((run_b > run_q).any())
    run_q, run_a, run_b = _without_self(run_q, run_a, run_b)
    run_level = (np.frexp(run_b - run_a + 1)[1] - 1).astype(np.int8)  # floor(log2(length))

    # bitsets stored block by block: reach[bi, q] holds words bi * block .. + block of row q
    eye = np.arange(t)
    reach = np.zeros((n_blocks, t, block), np.uint64)
    word = eye // 64
    reach[word // block, eye, word % block] = np.left_shift(
        np.uint64(1), (eye % 64).astype(np.uint64)
    )
    front = reach.copy()
    # keys each (row, word block) still lacks; a row block with none left is skipped
    block_lo = np.arange(n_blocks) * block * 64
    block_hi = np.minimum(block_lo + block * 64, t)
    top = eye[None, :] + 1 if causal else np.full((1, t), t)
    missing = np.clip(np.minimum(top, block_hi[:, None]) - block_lo[:, None], 0, None)
    missing[eye // (block * 64), eye] -= 1  # missing[bi, q], per word block and row

    counts = np.full(n_layers + 1, t, np.int64)
    last = np.full(t, NEVER, dtype)
    last[t - 1] = 0
    # the first-layer matrix, kept as bit planes: bit b of the layer that first reached
    # (q, k) is bit k of planes[b][q] (built into the (T, T) matrix at the end)
    planes: list[np.ndarray] = []
    total = t
    new_front = np.zeros_like(front)
    for layer in range(1, n_layers + 1):
        _check_bitset_work(t, words, n_layers, layer)
        if layer > 1:
            new_front.fill(0)
        added = 0
        for bi in range(n_blocks):
            fb = front[bi]
            act = fb.any(axis=1)
            if not act.any():
                continue
            seen = np.r_[0, np.cumsum(act)]
            miss = missing[bi]
            live = (seen[run_b + 1] > seen[run_a]) & (miss[run_q] > 0)
            sel = np.flatnonzero(live)
            if sel.size == 0:
                continue
            table = [fb]  # table[k][i] = OR of rows i .. i + 2**k - 1
            for k in range(1, int(run_level[sel].max()) + 1):
                half = 1 << (k - 1)
                table.append(table[k - 1][:-half] | table[k - 1][half:])
            rb, nb = reach[bi], new_front[bi]
            for c0 in range(0, sel.size, _EDGE_CHUNK):
                chunk = sel[c0 : c0 + _EDGE_CHUNK]
                cq, ca, cb, cl = run_q[chunk], run_a[chunk], run_b[chunk], run_level[chunk]
                vals = fb[ca]  # runs of one key (level 0) read one row
                for k in range(1, len(table)):
                    at = np.flatnonzero(cl == k)
                    if at.size:
                        vals[at] = table[k][ca[at]] | table[k][cb[at] - (1 << k) + 1]
                starts = np.flatnonzero(np.r_[True, cq[1:] != cq[:-1]])
                if starts.size < cq.size:
                    vals = np.bitwise_or.reduceat(vals, starts, axis=0)
                rows = cq[starts]
                new = vals & ~rb[rows]
                gained = np.bitwise_count(new).sum(axis=1, dtype=np.int64)
                hit = gained > 0
                if not hit.any():
                    continue
                rows, new, gained = rows[hit], new[hit], gained[hit]
                rb[rows] |= new
                nb[rows] |= new
                miss[rows] -= gained
                added += int(gained.sum())
                if full:
                    while len(planes) < layer.bit_length():
                        planes.append(np.zeros_like(reach))
                    for b, plane in enumerate(planes):
                        if layer >> b & 1:
                            plane[bi][rows] |= new
        if added == 0:
            counts[layer:] = total
            break
        total += added
        counts[layer] = total
        last[_unpack(new_front[:, t - 1].reshape(-1))[:t]] = layer
        front, new_front = new_front, front
    matrix = _matrix_from_planes(planes, reach, words, dtype, causal)[:, :t] if full else None
    return ReceptiveField(
        seq_len=t,
        n_layers=n_layers,
        causal=causal,
        method="bitset",
        reached=counts,
        last_row=last,
        matrix=matrix,
    )


def _unpack(words: np.ndarray) -> np.ndarray:
    """Bits of ``uint64`` words, key ``64 * w + i`` for bit ``i`` of word ``w``."""
    return np.unpackbits(
        np.ascontiguousarray(words).view(np.uint8), axis=-1, bitorder="little"
    ).astype(bool)


def _matrix_from_planes(planes, reach, words: int, dtype, causal: bool) -> np.ndarray:
    """The ``(T, 64 * words)`` first-layer matrix from the bit planes of the layers and the
    final reach (unreached: ``NEVER``), a block of rows at a time."""
    t = reach.shape[1]
    itemsize = np.dtype(dtype).itemsize
    lanes = 8 // itemsize  # matrix entries per uint64
    per_word = 64 // lanes  # uint64 of the matrix per 64-key word
    lane_bits = 8 * itemsize
    spread = np.zeros(1 << lanes, np.uint64)  # bit i of v -> lane i of spread[v] holds 1
    for i in range(lanes):
        spread[(np.arange(1 << lanes) >> i) & 1 == 1] |= np.uint64(1) << np.uint64(lane_bits * i)
    shifts = (lanes * np.arange(per_word)).astype(np.uint64)
    low = np.uint64((1 << lanes) - 1)
    # unreached keys (not in reach) -> NEVER in every lane; plane b -> bit b of the layer
    luts = [spread * np.uint64((1 << lane_bits) - 1)]
    luts += [spread << np.uint64(b) for b in range(len(planes))]

    matrix = np.empty((t, words * 64), dtype)
    out = matrix.view(np.uint64)
    step = max(1, (1 << 19) // (words * 64))
    for r0 in range(0, t, step):
        r1 = min(t, r0 + step)
        hi = min(words, -(-r1 // 64)) if causal else words  # later words: never reached
        out[r0:r1, hi * per_word :] = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
        cell = out[r0:r1, : hi * per_word]
        for i, (stack, lut) in enumerate(zip([reach, *planes], luts, strict=True)):
            rows = np.moveaxis(stack[:, r0:r1], 0, 1).reshape(r1 - r0, -1)[:, :hi]
            rows = ~rows if i == 0 else np.ascontiguousarray(rows)
            if lanes == 8:  # int8: one byte per key, straight from the bits
                bits = np.unpackbits(rows.view(np.uint8), axis=1, bitorder="little")
                byte_cell = cell.view(np.uint8)
                if i == 0:
                    np.multiply(bits, np.uint8(0xFF), out=byte_cell)
                else:
                    bits <<= np.uint8(i - 1)
                    byte_cell |= bits
                continue
            else:
                vals = lut[(rows[:, :, None] >> shifts) & low].reshape(r1 - r0, -1)
            if i == 0:
                cell[...] = vals
            else:
                cell |= vals
    return matrix
