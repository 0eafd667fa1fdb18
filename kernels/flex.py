"""Sparse attention through FlexAttention: lesson 04's mask zoo, with empty blocks skipped.

A sparse mask saves time only if the kernel never touches the pairs it forbids.
FlexAttention (Dong, Feng, Guessous, Liang, He 2024, "Flex Attention: A Programming
Model for Generating Optimized Attention Kernels", arXiv 2412.05496) cuts the
(T, T) score grid into (block_size, block_size) tiles and keeps a *block mask*: for
each query block, the key blocks with at least one allowed pair. Empty tiles are
never computed; full tiles are computed without evaluating the mask; only partial
tiles call the pattern's ``mask_mod``. So the work follows the **block density**
(the fraction of tiles computed), not the token density (the fraction of allowed
(query, key) pairs), and a pattern whose allowed pairs are scattered over every
tile (a dilated or random mask) saves nothing.

Three forms of the same masked softmax attention, which the tests hold equal:

* :func:`flex_sparse_attention` — ``flex_attention`` compiled with ``torch.compile``
  (the fast path: skips empty blocks), or eager with ``compile=False`` (a reference
  that materialises every score, as slow as dense attention),
* :func:`dense_masked_attention` — PyTorch's SDPA with the pattern's boolean (T, T)
  mask: every score computed, the forbidden ones thrown away,
* ``kernels.softmax.scaled_dot_product_attention(q, k, v, mask)`` — the definition.

Compiling costs seconds, once per process for each pattern and length: a new
``mask_mod`` (another pattern, or other parameter values) or a new sequence length is a
new graph and recompiles; the same pattern built again with the same parameters does
not. Measured on the project's shared 2-core CPU, one head, d = 64: 3.5 to 6 s per
pattern at T = 1,024, 4 to 18 s at T = 4,096 (other jobs running); once inductor's
on-disk cache holds a kernel, a later process loads it in 0.2 to 1.3 s. Block masks are
cached by (pattern, seq_len, block_size).

A row that no key may attend (possible for a user's pattern or a sparse ``longnet``,
never for the zoo's causal patterns, which all keep the diagonal) gets output 0 in
every form here, as FlexAttention gives it.

Example:
    >>> import torch
    >>> from attnviz.kernels.flex import block_density, flex_sparse_attention
    >>> q = k = v = torch.randn(1, 1, 256, 16)
    >>> out = flex_sparse_attention(q, k, v, "causal", block_size=64, compile=False)
    >>> out.shape, block_density("causal", 256, 64)
    (torch.Size([1, 1, 256, 16]), 0.625)
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from attnviz.kernels.masks import MAX_DENSE_LEN, PATTERNS, MaskPattern, make_mask
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import as_tensor, check_bool, check_choice, check_int, finite_result

__all__ = [
    "BlockLayout",
    "MAX_FLEX_LEN",
    "block_density",
    "block_layout",
    "dense_masked_attention",
    "flex_block_mask",
    "flex_sparse_attention",
    "token_density",
]

#: The longest sequence the flex path takes (its block layout is (T/B)² small booleans;
#: evaluating the pattern over T² pairs, in row chunks, is what bounds it: seconds).
MAX_FLEX_LEN = 1 << 16
#: How many block masks stay cached (each is a few (T/B)² int32 tensors).
CACHED_BLOCK_MASKS = 16
#: How many compiled variants (patterns, lengths) the compiled flex_attention may hold;
#: torch's default (8) would silently fall back to the slow eager path on the 9th pattern.
RECOMPILE_LIMIT = 64
# (query rows × keys) evaluated at once when a pattern is scanned: about 4M pairs.
_CHUNK_PAIRS = 1 << 22
_OVERFLOW_HINT = "scale q and k down"

_block_masks: OrderedDict[tuple, Any] = OrderedDict()
_block_masks_lock = threading.Lock()  # a served dashboard calls from several threads
_compiled = None  # torch.compile(flex_attention), made on first use
_cannot_compile: str | None = None  # why compiling failed in this process, once known


class BlockLayout(NamedTuple):
    """Which (query block, key block) tiles of a pattern hold allowed pairs.

    ``partial``: some pairs allowed (flex evaluates the mask there); ``full``: every pair
    allowed (no mask evaluated). Both (n_blocks, n_blocks) numpy booleans, disjoint.
    """

    partial: np.ndarray
    full: np.ndarray


def _pattern(pattern: Any) -> MaskPattern:
    if isinstance(pattern, MaskPattern):
        return pattern
    if isinstance(pattern, str):
        return make_mask(check_choice("pattern", pattern, PATTERNS))
    raise TypeError(
        "pattern must be a kernels.masks.MaskPattern or the name of one (make_mask), "
        f"got {type(pattern).__name__}"
    )


def _sizes(seq_len: Any, block_size: Any) -> tuple[int, int]:
    """seq_len and block_size, checked, once the (n, n) tile tables are known to fit."""
    seq_len = check_int("seq_len", seq_len, low=1, high=MAX_FLEX_LEN)
    block_size = check_int("block_size", block_size, low=1, high=MAX_FLEX_LEN)
    n = -(-seq_len // block_size)
    # the layout's int64 work arrays (tile bounds, counts) and the block mask's indices
    check_bytes(
        f"the ({n}, {n}) tile tables of seq_len={seq_len} in blocks of block_size={block_size}",
        64 * n * n,
        instead="use a larger block_size",
    )
    return seq_len, block_size


def _allowed_rows(pattern: MaskPattern, start: int, stop: int, seq_len: int) -> torch.Tensor:
    """The pattern's (stop - start, seq_len) boolean rows (keys 0 .. seq_len - 1), True
    where query i may attend key j."""
    # built-in rules run on int32 indices (several times faster for // and %), as dense()
    dtype = torch.int32 if pattern.trusted else torch.int64
    rows = torch.arange(start, stop, dtype=dtype)[:, None]  # (rows, 1)
    keys = torch.arange(seq_len, dtype=dtype)[None, :]  # (1, T)
    zero = torch.zeros((), dtype=dtype)
    allowed = pattern.mask_mod(zero, zero, rows, keys)
    if not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool:
        raise TypeError(f"the mask_mod of pattern {pattern.name!r} must return a bool tensor")
    return allowed.broadcast_to(stop - start, seq_len)


def _row_chunks(pattern: MaskPattern, seq_len: int, width: int):
    """(start, stop, rows) over the queries, rows (stop - start, width) booleans, about
    _CHUNK_PAIRS at a time; keys past seq_len (padding up to ``width``) are False."""
    step = max(1, _CHUNK_PAIRS // width)
    for start in range(0, seq_len, step):
        stop = min(seq_len, start + step)
        keys = stop if pattern.causal else seq_len  # a causal pattern has no later key
        rows = torch.zeros(stop - start, width, dtype=torch.bool)
        rows[:, :keys] = _allowed_rows(pattern, start, stop, keys)
        yield start, stop, rows


def block_layout(pattern: Any, seq_len: int, block_size: int = 128) -> BlockLayout:
    """The tiles of ``pattern`` that FlexAttention computes.

    A pattern defined by distances alone (``pattern.distances``: causal, windows, strided,
    ...) is laid out from its distance set in (T/B)² steps: tile (a, b) holds the
    differences i - j of an interval, so it is touched iff a distance falls in it, and
    full iff all of them do. Any other pattern is scanned in row chunks
    (:func:`_scanned_layout`, about 4M pairs at a time, never the (T, T) mask): 4·10⁹
    pairs at MAX_FLEX_LEN, tens of seconds. A tile that runs past ``seq_len`` is never
    full (its padding is masked), as in ``create_block_mask``.
    """
    pattern = _pattern(pattern)
    seq_len, block_size = _sizes(seq_len, block_size)
    distances = pattern.distances(seq_len)
    if distances is None:
        return _scanned_layout(pattern, seq_len, block_size)
    n = -(-seq_len // block_size)
    starts = np.arange(n) * block_size
    ends = np.minimum(starts + block_size, seq_len)  # one past each block's last token
    low = starts[:, None] - (ends[None, :] - 1)  # (a, b): smallest i - j in the tile
    high = (ends[:, None] - 1) - starts[None, :]  # largest
    inside = np.searchsorted(distances, high, side="right") - np.searchsorted(distances, low)
    touched = inside > 0
    complete = (ends - starts == block_size)[:, None] & (ends - starts == block_size)[None, :]
    full = touched & complete & (low >= 0) & (inside == high - low + 1)
    return BlockLayout(touched & ~full, full)


def _scanned_layout(pattern: MaskPattern, seq_len: int, block_size: int) -> BlockLayout:
    """:func:`block_layout` by evaluating ``mask_mod`` on every pair, in row chunks."""
    n = -(-seq_len // block_size)  # blocks per side
    touched = np.zeros((n, n), dtype=bool)
    complete = np.ones((n, n), dtype=bool)
    for start, stop, rows in _row_chunks(pattern, seq_len, n * block_size):
        tiles = rows.view(stop - start, n, block_size)  # (rows, key block, B)
        any_key, all_keys = tiles.any(dim=-1).numpy(), tiles.all(dim=-1).numpy()
        query_block = np.arange(start, stop) // block_size
        firsts = np.flatnonzero(np.r_[True, np.diff(query_block) > 0])  # rows starting a block
        blocks = query_block[firsts]
        touched[blocks] |= np.logical_or.reduceat(any_key, firsts, axis=0)
        complete[blocks] &= np.logical_and.reduceat(all_keys, firsts, axis=0)
    if seq_len % block_size:
        complete[-1] = False  # the last query block is padded
    full = touched & complete
    return BlockLayout(touched & ~full, full)


def block_density(pattern: Any, seq_len: int, block_size: int = 128) -> float:
    """The fraction of (query block, key block) tiles FlexAttention computes.

    Causal attention with seq_len = n · block_size computes n(n+1)/2 of n² tiles:
    (n + 1) / (2n), which tends to 1/2.
    """
    partial, full = block_layout(pattern, seq_len, block_size)
    return float((partial | full).mean())


def token_density(pattern: Any, seq_len: int) -> float:
    """The fraction of (query, key) pairs the pattern allows: (T + 1) / (2T) for causal."""
    pattern = _pattern(pattern)
    seq_len = check_int("seq_len", seq_len, low=1, high=MAX_FLEX_LEN)
    distances = pattern.distances(seq_len)
    if distances is not None:  # distance d is allowed for the T - d queries i >= d
        allowed = int((seq_len - distances).sum())
    else:
        allowed = sum(int(rows.sum()) for _, _, rows in _row_chunks(pattern, seq_len, seq_len))
    return allowed / seq_len**2


def _cache_key(pattern: MaskPattern, seq_len: int, block_size: int) -> tuple:
    # a built-in pattern is its name and parameters; a user's is its own mask_mod
    rule = repr(sorted(pattern.params.items())) if pattern.trusted else pattern.mask_mod
    return (pattern.name, rule, seq_len, block_size)


def flex_block_mask(pattern: Any, seq_len: int, block_size: int = 128):
    """The ``BlockMask`` of ``pattern`` for FlexAttention, cached by (pattern, seq_len,
    block_size); built from :func:`block_layout`, so it never holds the (T, T) grid
    that ``MaskPattern.block_mask`` (``create_block_mask``) evaluates at once."""
    from torch.nn.attention.flex_attention import BlockMask

    pattern = _pattern(pattern)
    seq_len, block_size = _sizes(seq_len, block_size)
    key = _cache_key(pattern, seq_len, block_size)
    with _block_masks_lock:
        if key in _block_masks:
            _block_masks.move_to_end(key)
            return _block_masks[key]
    partial, full = (torch.from_numpy(x) for x in block_layout(pattern, seq_len, block_size))

    def listed(tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # per query block: how many key blocks, and their indices first (stable order)
        counts = tiles.sum(dim=-1, dtype=torch.int32)  # (n,)
        order = torch.argsort((~tiles).to(torch.int8), dim=-1, stable=True).to(torch.int32)
        return counts[None, None], order[None, None]  # (1, 1, n), (1, 1, n, n)

    block_mask = BlockMask.from_kv_blocks(
        *listed(partial),
        *listed(full),
        BLOCK_SIZE=block_size,
        mask_mod=pattern.mask_mod,
        seq_lengths=(seq_len, seq_len),
    )
    with _block_masks_lock:
        _block_masks[key] = block_mask
        while len(_block_masks) > CACHED_BLOCK_MASKS:
            _block_masks.popitem(last=False)
    return block_mask


def _check_qkv(q: Any, k: Any, v: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k, v of shapes (T, d), (H, T, d) or (B, H, T, d): one sequence, self-attention."""
    layout = "(T, d), (H, T, d) or (B, H, T, d)"
    q = as_tensor("q", q, min_dim=2, finite=True, nonempty=True, layout=layout)
    k = as_tensor("k", k, min_dim=2, finite=True, nonempty=True, layout=layout)
    v = as_tensor("v", v, min_dim=2, finite=True, nonempty=True, layout=layout)
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.dim() > 4:
            raise ValueError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")
    if q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            "q and k must have the same shape and v the same leading dimensions and length "
            f"(a mask pattern is square: T queries, T keys), got q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def _four_d(x: torch.Tensor) -> torch.Tensor:
    return x.reshape((1,) * (4 - x.dim()) + tuple(x.shape))  # (B, H, T, d)


def _compile_error(error: BaseException) -> str | None:
    """Why compiling is impossible here (no working C++ compiler), or None for another error."""
    from torch._inductor.exc import CppCompileError, InvalidCxxCompiler

    seen, depth = error, 0
    while seen is not None and depth < 16:  # inductor wraps it: InductorError, Lowering...
        if isinstance(seen, (InvalidCxxCompiler, CppCompileError)):
            first_line = (str(seen).strip().splitlines() or [""])[0]
            return f"{type(seen).__name__}: {first_line}"
        seen = getattr(seen, "inner_exception", None) or seen.__cause__ or seen.__context__
        depth += 1
    return None


def _flex_compiled(q, k, v, block_mask) -> torch.Tensor | None:
    """The compiled kernel's output, or None (with a warning) where it cannot compile."""
    global _compiled, _cannot_compile
    from torch.nn.attention.flex_attention import flex_attention

    if _cannot_compile is None and not torch._dynamo.is_dynamo_supported():
        _cannot_compile = "torch.compile is not supported on this Python or platform"
    if _cannot_compile is not None:
        warnings.warn(
            f"flex_sparse_attention runs eager, without skipping blocks: {_cannot_compile}",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    if _compiled is None:
        _compiled = torch.compile(flex_attention, dynamic=False)
    try:
        config = torch._dynamo.config  # the limit's name before torch 2.6: cache_size_limit
        limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
        with config.patch({limit: RECOMPILE_LIMIT}):
            return _compiled(q, k, v, block_mask=block_mask)
    except Exception as error:  # noqa: BLE001 - only a missing compiler is caught below
        reason = _compile_error(error)
        if reason is None:
            raise
        _cannot_compile = f"torch.compile could not build the kernel ({reason})"
        return _flex_compiled(q, k, v, block_mask)


def flex_sparse_attention(
    q: Any,
    k: Any,
    v: Any,
    pattern: Any,
    *,
    block_size: int = 128,
    compile: bool = True,  # noqa: A002 - the word torch uses
) -> torch.Tensor:
    """Masked softmax attention through ``torch.nn.attention.flex_attention``.

    Args:
        q, k, v: (T, d), (H, T, d) or (B, H, T, d); q and k the same shape, v the same
            but for its last dimension d_v.
        pattern: a ``kernels.masks.MaskPattern`` or a ``make_mask`` name (its defaults).
        block_size: tile side of the block mask (FlexAttention's default is 128).
        compile: True runs the compiled kernel, which skips empty tiles (compiled once
            per process and pattern: seconds; computed in float32, the CPU kernel's
            precision); False runs eager flex_attention, a slow reference that
            materialises the (T, T) scores (float64 stays float64). Without a working
            C++ compiler, True falls back to eager with a RuntimeWarning.

    Returns:
        The output, shaped like q with d_v last (float32 when compiled).

    Lesson 07 ("sparse masks") measures its speed-up against mask density.
    """
    q, k, v = _check_qkv(q, k, v)
    pattern = _pattern(pattern)
    block_size = check_int("block_size", block_size, low=1, high=MAX_FLEX_LEN)
    check_bool("compile", compile)
    seq_len = q.shape[-2]
    if seq_len > MAX_FLEX_LEN:
        raise ValueError(f"q, k and v must hold at most {MAX_FLEX_LEN} tokens, got {seq_len}")
    block_mask = flex_block_mask(pattern, seq_len, block_size)
    lead = q.shape[:-2]
    q4, k4, v4 = _four_d(q), _four_d(k), _four_d(v)
    out = None
    if compile:
        out = _flex_compiled(q4.float(), k4.float(), v4.float(), block_mask)
    if out is None:
        from torch.nn.attention.flex_attention import flex_attention

        check_bytes(
            f"the ({seq_len}, {seq_len}) scores that eager flex_attention materialises for "
            f"leading dimensions {tuple(lead)}",
            3 * tensor_bytes(*lead, seq_len, seq_len, dtype=q.dtype),
            instead="use compile=True, or a shorter sequence",
        )
        with warnings.catch_warnings():  # eager is asked for: no "called without compile"
            warnings.filterwarnings("ignore", message="flex_attention called without")
            out = flex_attention(q4, k4, v4, block_mask=block_mask)
    out = out.reshape(*lead, seq_len, v.shape[-1])  # (..., T, d_v)
    return finite_result("flex attention", out, hint=_OVERFLOW_HINT)


def dense_masked_attention(q: Any, k: Any, v: Any, pattern: Any) -> torch.Tensor:
    """PyTorch's SDPA with the pattern's dense boolean (T, T) mask: the dense baseline.

    ``pattern`` is a ``MaskPattern``, a ``make_mask`` name, or the (T, T) boolean mask
    itself (built once with ``pattern.dense(T)``, to time attention without the mask).
    Every score is computed; a row with no allowed key gives 0. Shapes as
    :func:`flex_sparse_attention`; T at most 16,384 (the dense mask's limit).
    """
    q, k, v = _check_qkv(q, k, v)
    seq_len, lead = q.shape[-2], q.shape[:-2]
    if seq_len > MAX_DENSE_LEN:
        raise ValueError(
            f"dense_masked_attention holds a (T, T) mask: T must be at most {MAX_DENSE_LEN}, "
            f"got {seq_len}; use flex_sparse_attention"
        )
    # the boolean mask and SDPA's float copy of it; its CPU kernel works in tiles (measured
    # at 4,096 tokens: one (T, T) float32 more at the peak, for 1 head as for 8)
    check_bytes(
        f"the ({seq_len}, {seq_len}) mask and scores of dense masked attention for "
        f"leading dimensions {tuple(lead)}",
        tensor_bytes(seq_len, seq_len, dtype=torch.bool)
        + tensor_bytes(seq_len, seq_len, dtype=q.dtype),
        instead="use flex_sparse_attention, or a shorter sequence",
    )
    if isinstance(pattern, torch.Tensor):
        mask = pattern
        if mask.dtype != torch.bool or tuple(mask.shape) != (seq_len, seq_len):
            raise ValueError(
                f"pattern given as a mask must be a bool tensor of shape ({seq_len}, "
                f"{seq_len}), got {mask.dtype} of shape {tuple(mask.shape)}"
            )
    else:
        mask = torch.from_numpy(_pattern(pattern).dense(seq_len))  # (T, T)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (..., T, d_v)
    out = torch.where(mask.any(dim=-1, keepdim=True), out, torch.zeros((), dtype=out.dtype))
    return finite_result("dense masked attention", out, hint=_OVERFLOW_HINT)
