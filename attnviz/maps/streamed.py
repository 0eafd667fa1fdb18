"""Attention maps at 65,536 tokens: keep Q, K and the log-sum-exp, recompute any tile.

A causal head map of 65,536 tokens is 16 GB of float32; lesson 02's long view needs a
pooled overview of it and an exact zoom, never the whole. FlashAttention-2 (Dao 2023,
arXiv 2307.08691) streams key blocks with a running max and denominator and keeps, per
query row, the log-sum-exp ``lse = log Σ_s exp(q·k_s·scale)``. With it any weight of
the map is one exponential away: a[t, s] = exp(q_t·k_s·scale − lse_t). So:

* :func:`stream_capture` runs a ``TinyTransformer`` (softmax attention, rotary or no
  positions) over a long input through the online-softmax kernel
  (``attnviz.kernels.online_softmax``) or PyTorch's fused one, keeping per layer and head
  q and k (after RoPE) and, below the layer shown, lse: O(L·H·T·d) memory, never T × T.
  Only the layers up to the one asked for run, and the one shown runs no attention.
* :func:`streamed_overview` pools a head's map like ``maps.downsample`` (same blocks, max
  or mean, same ``Pooled`` record) in ONE pass over the keys: per strip of queries, key
  tiles are scored, exponentiated against a running row max and pooled at once
  (FlashAttention's online softmax applied to the pooled cells: a cell kept under an older
  max is rescaled by 2^(m_old − m_new) at the end), so the row's lse falls out of the same
  pass; tiles above a causal diagonal are zero and skipped.
* :func:`streamed_window` cuts the exact full-resolution zoom, like ``maps.window``.

The naive references beside them: the materialised path (``capture`` then ``downsample``
and ``window``), and the two-pass form (``_pool_tiles``: the kernel's lse first, then
each tile exp(q kᵀ·scale − lse)); tests hold the streamed forms to both.

Example:
    >>> import torch
    >>> from attnviz.lesson_models import load_lesson_model
    >>> model = load_lesson_model("induction_rope")  # RoPE: reads past its 4,096 context
    >>> ids = torch.randint(0, 48, (65_536,), generator=torch.Generator().manual_seed(0))
    >>> heads = stream_capture(model, ids, up_to_layer=1)  # doctest: +SKIP
    >>> streamed_overview(heads, 1, 0, 256).values.shape  # doctest: +SKIP
    (256, 256)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from attnviz.kernels.attention import split_heads
from attnviz.kernels.online_softmax import attention_tile, online_softmax_attention
from attnviz.maps.attention_maps import check_span
from attnviz.maps.capturing import _token_labels
from attnviz.maps.overview import MAX_SIZE, Pooled, Window, _block_edges
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.mixers import MAX_CONTEXT, apply_rope, rope_tables
from attnviz.validation import check_choice, check_int, finite_result

MAX_TOKENS = MAX_CONTEXT  # 65,536: the longest input (RoPE tables stop there)
KERNEL_BLOCK = 512  # query and key block of the online-softmax pass
# A tile of 256 queries × 2,048 keys (2 MiB of float32) stays in cache: past ~4 MiB the
# product, exp and pooling run at memory speed, 5x slower on a 2-core CPU
TILE_ELEMENTS = 2**19  # weights in one recomputed tile
TILE_COLUMNS = 2**11  # keys in one tile
KERNELS = ("online", "fused")


@dataclass(frozen=True)
class StreamedMaps:
    """What a streamed forward pass keeps of each head: q, k and lse, never the map."""

    q: torch.Tensor  # (L, H, T, d_head) queries after RoPE
    k: torch.Tensor  # (L, H, T, d_head) keys after RoPE
    # (L - 1, H, T) log Σ_s exp(q_t·k_s·scale), natural log of the scaled scores, of the
    # layers below the last one kept (their kernel gives it free); the last layer's lse is
    # computed where it is needed: by the overview's strip pass, or for a window's rows
    lse: torch.Tensor
    scale: float  # the scores' factor, 1/√d_head
    causal: bool
    tokens: list[str]  # T labels

    @property
    def n_layers(self) -> int:
        """Layers captured (up to the one asked for)."""
        return int(self.q.shape[0])

    @property
    def n_heads(self) -> int:
        """Heads per layer."""
        return int(self.q.shape[1])

    @property
    def seq_len(self) -> int:
        """Tokens in the input, T."""
        return int(self.q.shape[2])


def stream_capture(
    model: nn.Module,
    input_ids: Any,
    *,
    up_to_layer: int | None = None,
    tokens: Any = None,
    kernel: str = "online",
) -> StreamedMaps:
    """Run ``model`` over a long input with online softmax; keep q, k, lse (lesson 02, 07).

    Args:
        model: an attnviz ``TinyTransformer`` with softmax attention and rotary or no
            positions (learned positions stop at the model's context: longer inputs are
            refused), no sparse mask.
        input_ids: token ids, (T,) or (1, T), 1 <= T <= ``MAX_TOKENS`` (65,536).
        up_to_layer: the last layer captured (default: the last layer); later layers
            do not run.
        tokens: labels for the positions, as for ``capture`` (default: the ids).
        kernel: ``"online"``, lesson 07's FlashAttention-2 in PyTorch
            (``attnviz.kernels.online_softmax``: readable, a Python loop over blocks), or
            ``"fused"``, PyTorch's own CPU FlashAttention-2 kernel (C++, the same algorithm
            and the same lse, ``aten._scaled_dot_product_flash_attention_for_cpu``).

    Returns:
        StreamedMaps with q, k (L', H, T, d_head), L' = up_to_layer + 1, and the lse
        (L' − 1, H, T) of the layers below: the layer shown runs no attention (its map
        needs only q and k; :func:`streamed_overview` finds its lse in the same pass).
        The model's hook points (``hook_pattern``, ``hook_z``) do not run.
    """
    from attnviz.models import TinyTransformer

    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be an attnviz TinyTransformer, got {type(model).__name__}")
    config = model.config
    if config.mixer != "attention" or config.operator != "softmax" or config.mask is not None:
        raise ValueError(
            "model must use softmax attention with no sparse mask (mixer='attention', "
            f"operator='softmax', mask=None), got mixer={config.mixer!r}, "
            f"operator={config.operator!r}, mask={config.mask!r}"
        )
    ids = _check_ids(input_ids, config.vocab_size)
    seq_len = ids.shape[0]
    if config.positional == "learned" and seq_len > config.context:
        raise ValueError(
            f"input_ids may be at most context = {config.context} tokens long for a model "
            f"with learned positions (it has no position past them), got {seq_len}; a model "
            "with rotary or no positions reads up to 65,536"
        )
    last = config.n_layers - 1
    up_to_layer = last if up_to_layer is None else check_int("up_to_layer", up_to_layer,
                                                            low=0, high=last)  # fmt: skip
    kernel = check_choice("kernel", kernel, KERNELS)
    labels = _token_labels(tokens, ids.numpy(), seq_len)
    n_layers, n_heads, d_head = up_to_layer + 1, config.n_heads, config.d_head
    d_model = config.d_model
    check_bytes(
        f"a streamed forward pass over {seq_len:,} tokens ({n_layers} layers kept)",
        tensor_bytes(n_layers, n_heads, seq_len, 2 * d_head + 1)  # q, k, lse kept
        + tensor_bytes(seq_len, 12 * d_model + 4 * (config.d_mlp or 4 * d_model))  # activations
        + 3 * tensor_bytes(n_heads, KERNEL_BLOCK, KERNEL_BLOCK),  # the kernel's score blocks
        instead="use a shorter input or fewer layers",
    )
    scale = 1.0 / math.sqrt(d_head)
    if config.positional == "rope":
        cos, sin = rope_tables(seq_len, d_head)  # (T, d_head/2) each
    q_kept, k_kept, lse_kept = [], [], []
    with torch.no_grad():
        x = model.embed(ids[None])  # (1, T, d_model)
        if model.pos_embed is not None:
            x = x + model.pos_embed.weight[:seq_len]  # (1, T, d_model)
        for layer, block in enumerate(model.blocks[:n_layers]):
            mixed = block.ln_attn(x)  # (1, T, d_model)
            if block.conv is not None:
                mixed = block.conv(mixed)
            attn = block.attn
            q, k, v = attn.qkv(mixed).split(d_model, dim=-1)  # (1, T, d_model) each
            q, k, v = (split_heads(t, n_heads) for t in (q, k, v))  # (1, H, T, d_head)
            if config.positional == "rope":
                q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            q_kept.append(q[0])
            k_kept.append(k[0])
            if layer == up_to_layer:
                break  # the layer shown: q and k are all its map needs (its lse: one strip pass)
            z, lse = _attention(q, k, v, scale, config.causal, kernel)  # (1, H, T, d), (1, H, T)
            lse_kept.append(lse[0])  # (H, T): free from the kernel below the layer shown
            z = z.transpose(1, 2).reshape(1, seq_len, d_model)  # (1, T, d_model)
            x = x + attn.out(z)
            if block.mlp is not None:
                x = x + block.mlp(block.ln_mlp(x))
    lse = torch.stack(lse_kept) if lse_kept else torch.empty(0, n_heads, seq_len)
    lse = finite_result("the log-sum-exp of the attention scores", lse)
    return StreamedMaps(
        q=torch.stack(q_kept).contiguous(),  # (L', H, T, d_head)
        k=torch.stack(k_kept).contiguous(),
        lse=lse.contiguous(),  # (L' - 1, H, T): the layers below the one shown
        scale=scale,
        causal=config.causal,
        tokens=labels,
    )


def _attention(q, k, v, scale: float, causal: bool, kernel: str) -> tuple[torch.Tensor, ...]:
    """Softmax attention's output (B, H, T, d) and lse (B, H, T), never the (T, T) weights."""
    if kernel == "fused":
        fused = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        output, lse = fused(q.contiguous(), k.contiguous(), v.contiguous(), 0.0, causal,
                            scale=scale)[:2]  # fmt: skip
        return output, lse
    result = online_softmax_attention(q, k, v, scale=scale, causal=causal, block_size=KERNEL_BLOCK)
    return result.output, result.lse


def streamed_overview(
    streamed: StreamedMaps,
    layer: int,
    head: int,
    max_size: int = 256,
    *,
    reduce: str = "max",
) -> Pooled:
    """One head's map pooled to at most ``max_size`` × ``max_size`` blocks, tile by tile.

    The same blocks, reductions and record as ``maps.downsample`` of the materialised
    map (lesson 02): ``reduce="max"`` keeps a one-token stripe visible, ``"mean"``
    preserves mass. Each tile of at most ``TILE_ELEMENTS`` weights is recomputed from
    q, k and lse, pooled at once and dropped; above a causal diagonal nothing is computed.
    """
    q, k = _head(streamed, layer, head)
    max_size = check_int("max_size", max_size, low=1, high=MAX_SIZE)
    reduce = check_choice("reduce", reduce, ("max", "mean"))
    return _pool_strips(streamed, q, k, max_size, reduce)[0]


def _tiling(seq_len: int, max_size: int) -> tuple[np.ndarray, int, int, int, int]:
    """How a head's map is cut for pooling: the overview's block edges, the block size,
    the number of blocks, and the most columns and rows one tile of scores holds."""
    edges = _block_edges(seq_len, max_size)
    col_limit = min(seq_len, TILE_COLUMNS)
    return (edges, int(edges[1] - edges[0]), len(edges) - 1, col_limit,
            max(1, TILE_ELEMENTS // col_limit))  # fmt: skip


def _pool_strips(
    streamed: StreamedMaps,
    q: torch.Tensor,
    k: torch.Tensor,
    max_size: int,
    reduce: str,
    *,
    entropy: bool = False,
) -> tuple[Pooled, torch.Tensor, np.ndarray | None]:
    """:func:`streamed_overview` of one head's q, k (arguments already checked), its lse
    (T,) and, with ``entropy``, each query row's entropy −Σ_s a ln a in nats, (T,)
    float64 — all in one pass over the keys per strip of queries, no lse needed first.

    Per strip of rows and key tile: scores s in base 2, m_new = max(m, rowmax s),
    p = 2^(s − m_new), ℓ ← ℓ·2^(m − m_new) + Σ p; the tile's blocks pooled from p and
    kept with the max they were taken under. At the strip's end every pooled cell is
    brought to the final max and divided by ℓ (the exact weight a = p·2^(m_cell − m)/ℓ
    pools the same way: max and sum commute with a positive factor per row), then
    pooled over rows. lse = (m + log2 ℓ)·ln 2. Equal to :func:`_pool_tiles` to rounding.
    """
    seq_len = streamed.seq_len
    edges, size, n_blocks, col_limit, row_limit = _tiling(seq_len, max_size)
    check_bytes(
        f"the overview of a {seq_len:,}-token head ({n_blocks} × {n_blocks} blocks, one "
        "strip of pooled cells and one tile of recomputed weights, with its scores)",
        tensor_bytes(n_blocks, n_blocks)
        + 3 * tensor_bytes(row_limit, n_blocks)
        + 3 * tensor_bytes(TILE_ELEMENTS),
        instead="use a smaller max_size",
    )
    log2e = 1.0 / math.log(2.0)
    q2 = q * (streamed.scale * log2e)  # (T, d): scores in base 2, exp2 is the fast one
    k_t = k.T.contiguous()  # (d, T)
    pooled = torch.zeros(n_blocks, n_blocks)  # causal blocks never visited stay 0
    lse2 = torch.empty(seq_len, dtype=q.dtype)
    rows = torch.zeros(seq_len, dtype=torch.float64) if entropy else None
    spans = list(_aligned_spans(seq_len, size, row_limit))
    lock = threading.Lock()

    def work(part: list[tuple[int, int]]) -> None:
        buffers = (torch.empty(TILE_ELEMENTS), torch.empty(TILE_ELEMENTS) if entropy else None)
        for r0, r1 in part:
            strip, lse2[r0:r1], entropy_rows = _strip(q2, k_t, r0, r1, size, reduce,
                                                      streamed.causal, buffers)  # fmt: skip
            if rows is not None:
                rows[r0:r1] = entropy_rows
            with lock:  # strips cut from one block of rows meet in its pooled row
                target = pooled[r0 // size : r0 // size + strip.shape[0], : strip.shape[1]]
                if reduce == "max":
                    torch.maximum(target, strip, out=target)
                else:
                    target += strip

    _in_workers(work, spans)
    if reduce == "mean":
        counts = torch.from_numpy(np.diff(edges).astype(np.float32))  # (n_blocks,)
        pooled /= counts[:, None] * counts[None, :]
    lse = finite_result("the log-sum-exp of the attention scores", lse2 * math.log(2.0))
    result = Pooled(pooled.numpy(), edges, edges.copy())
    return result, lse, None if rows is None else rows.numpy()


def _strip(
    q2: torch.Tensor,
    k_t: torch.Tensor,
    r0: int,
    r1: int,
    size: int,
    reduce: str,
    causal: bool,
    buffers: tuple[torch.Tensor, torch.Tensor | None],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One strip of :func:`_pool_strips`, queries [r0, r1): its rows pooled (rows', column
    blocks), lse in base 2 (r1 − r0,) and, with a second buffer, entropies in nats."""
    buffer, log_buffer = buffers
    seq_len, n = k_t.shape[1], r1 - r0
    floor = torch.finfo(q2.dtype).min  # masked scores: 2^(floor − m) = 0, and 0·floor = 0
    end = min(seq_len, -(-r1 // size) * size) if causal else seq_len
    n_cols = -(-end // size)  # column blocks this strip reaches
    cells = torch.zeros(n, n_cols, dtype=q2.dtype)  # pooled p, each under cell_max
    cell_max = torch.full((n, n_cols), -torch.inf, dtype=q2.dtype)
    m = torch.full((n,), -torch.inf, dtype=q2.dtype)
    total = torch.zeros(n, dtype=q2.dtype)
    weighted = torch.zeros(n, dtype=torch.float64)  # Σ p·s under m, with a log buffer
    for c0, c1 in _aligned_spans(end, size, min(seq_len, TILE_COLUMNS)):
        tile = buffer[: n * (c1 - c0)].view(n, c1 - c0)
        torch.mm(q2[r0:r1], k_t[:, c0:c1], out=tile)  # log2 e · scale · q·k
        if causal and c1 - 1 > r0:  # the tile crosses the diagonal
            above = torch.arange(c0, c1)[None, :] > torch.arange(r0, r1)[:, None]
            tile.masked_fill_(above, floor)
        m_new = torch.maximum(m, tile.amax(1))  # (n,)
        alpha = torch.exp2(m - m_new)  # the old sums' factor (0 on the first tile)
        tile.sub_(m_new[:, None])  # s − m_new <= 0
        if log_buffer is not None:
            logs = log_buffer[: tile.numel()].view_as(tile)
            logs.copy_(tile)
            torch.exp2(logs, out=tile)
            step = torch.linalg.vecdot(tile, logs).double()  # Σ p (s − m_new)
            step += tile.sum(1).double() * m_new.double()  # Σ p·s under m_new
            weighted = weighted * alpha.double() + step
        else:
            tile.exp2_()  # p = 2^(s − m_new)
        total = total * alpha + tile.sum(1)
        m = m_new
        part = _pool(tile, 1, size, reduce)  # (n, blocks of the tile)
        cb = c0 // size
        target = cells[:, cb : cb + part.shape[1]]
        if c0 % size:  # a piece of a block already begun: bring it to m_new first
            target[:, 0] *= torch.exp2(cell_max[:, cb] - m_new)
            part[:, 0] = torch.maximum(target[:, 0], part[:, 0]) if reduce == "max" else (
                target[:, 0] + part[:, 0])  # fmt: skip
        target.copy_(part)
        cell_max[:, cb : cb + part.shape[1]] = m_new[:, None]
    cells *= torch.exp2(cell_max - m[:, None]) / total[:, None]  # exact pooled weights
    lse2 = m + torch.log2(total)
    entropy_rows = None
    if log_buffer is not None:  # Σ a log2 a = Σ p·s / ℓ − lse2 (all under the final max)
        entropy_rows = (lse2.double() - weighted / total.double()) * math.log(2.0)
    return _pool(cells, 0, size, reduce), lse2, entropy_rows


def _in_workers(work: Any, spans: list[tuple[int, int]]) -> None:
    """Run ``work`` over ``spans`` in as many threads as PyTorch's intra-op setting, each
    computing one thread's share of whole strips, its own operations single-threaded: no
    barrier per small operation (2 intra-op threads on a busy machine waited at every
    one, 20x slower than 1); one share runs in the caller when the setting is 1."""
    n_workers = min(torch.get_num_threads(), len(spans))
    if n_workers <= 1:
        work(spans)
        return
    errors: list[BaseException] = []
    before = torch.get_num_threads()  # the caller's: a worker's setting is also the default
    # of threads started later, so each worker puts the caller's back when it ends

    def run(share: list[tuple[int, int]]) -> None:
        torch.set_num_threads(1)  # this worker's operations run on it alone
        try:
            work(share)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            errors.append(error)
        finally:
            torch.set_num_threads(before)

    threads = [threading.Thread(target=run, args=(spans[i::n_workers],)) for i in range(n_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _pool_tiles(
    streamed: StreamedMaps,
    q: torch.Tensor,
    k: torch.Tensor,
    lse: torch.Tensor,
    max_size: int,
    reduce: str,
    *,
    entropy: bool = False,
) -> tuple[Pooled, np.ndarray | None]:
    """The two-pass reference of :func:`_pool_strips`: with the head's lse known (a first
    pass, the attention kernel's), each tile exp(q kᵀ·scale − lse) is exact on its own and
    pooled at once; with ``entropy``, each query row's entropy −Σ_s a ln a in nats, (T,)
    float64, summed in the same pass (log2 a is the tile before its exponential)."""
    seq_len = streamed.seq_len
    edges, size, n_blocks, col_limit, row_limit = _tiling(seq_len, max_size)
    check_bytes(
        f"the overview of a {seq_len:,}-token head ({n_blocks} × {n_blocks} blocks and one "
        "tile of recomputed weights, with its scores)",
        tensor_bytes(n_blocks, n_blocks) + 3 * tensor_bytes(TILE_ELEMENTS),
        instead="use a smaller max_size",
    )
    tiles = _TileMaker(q, k, lse, streamed.scale, streamed.causal, keep_logs=entropy)
    pooled = torch.zeros(n_blocks, n_blocks)  # causal blocks never visited stay 0
    rows = torch.zeros(seq_len, dtype=torch.float64) if entropy else None
    for r0, r1 in _aligned_spans(seq_len, size, row_limit):
        for c0, c1 in _aligned_spans(seq_len, size, col_limit):
            if streamed.causal:
                if c0 >= r1:
                    break  # every later tile of this strip is above the diagonal
                c1 = min(c1, -(-r1 // size) * size)  # the blocks the diagonal crosses, no more
            tile = tiles.weights(r0, r1, c0, c1)  # (r1 - r0, c1 - c0)
            if rows is not None:  # −Σ a ln a; masked weights are 0 and add nothing
                log2_sum = torch.linalg.vecdot(tile, tiles.logs(r0, r1, c0, c1))  # Σ a log2 a
                rows[r0:r1] -= log2_sum.double() * math.log(2.0)
            part = _pool(_pool(tile, 0, size, reduce), 1, size, reduce)  # (rows', cols')
            rb, cb = r0 // size, c0 // size
            target = pooled[rb : rb + part.shape[0], cb : cb + part.shape[1]]
            if reduce == "max":
                torch.maximum(target, part, out=target)
            else:
                target += part
    if reduce == "mean":
        counts = torch.from_numpy(np.diff(edges).astype(np.float32))  # (n_blocks,)
        pooled /= counts[:, None] * counts[None, :]
    result = Pooled(pooled.numpy(), edges, edges.copy())
    return result, None if rows is None else rows.numpy()


def streamed_window(
    streamed: StreamedMaps,
    layer: int,
    head: int,
    rows: tuple[int, int],
    cols: tuple[int, int] | None = None,
) -> Window:
    """The exact weights of queries [rows) × keys [cols) of one head, labelled (lesson 02).

    Like ``maps.window`` on the materialised map; recomputed from q, k and lse.
    ``cols`` defaults to ``rows``.
    """
    q, k = _head(streamed, layer, head)
    row_span = check_span("rows", rows, streamed.seq_len)
    col_span = check_span("cols", rows if cols is None else cols, streamed.seq_len)
    check_bytes(
        f"a window of {row_span[1] - row_span[0]:,} × {col_span[1] - col_span[0]:,} weights",
        3 * tensor_bytes(row_span[1] - row_span[0], col_span[1] - col_span[0]),
        instead="zoom into a smaller region",
    )
    lse = torch.zeros(streamed.seq_len, dtype=q.dtype)  # only the window's rows are read
    lse[row_span[0] : row_span[1]] = _rows_lse(streamed, layer, head, row_span)
    values = attention_tile(
        q, k, lse, rows=row_span, cols=col_span, scale=streamed.scale, causal=streamed.causal
    )
    labels = streamed.tokens
    return Window(
        values.numpy(),
        labels[row_span[0] : row_span[1]],
        labels[col_span[0] : col_span[1]],
        row_span,
        col_span,
    )


class _TileMaker:
    """Tiles exp(q kᵀ·scale − lse) of one head, the fast form of ``attention_tile``.

    lse rides in the product as one more dimension, [q·scale, −lse]·[k, 1], so a tile is
    one matrix product and one in-place exponential, written into one reused buffer (a
    fresh 2 MiB tensor per tile costs page faults). The product is taken in base 2
    (both factors times log2 e) because ``exp2`` runs 2.8x faster than ``exp`` on this
    AVX-512 CPU. Equal to ``attention_tile`` to rounding.
    """

    def __init__(self, q: torch.Tensor, k: torch.Tensor, lse: torch.Tensor, scale: float,
                 causal: bool, *, keep_logs: bool = False) -> None:  # fmt: skip
        ones = torch.ones(k.shape[0], 1, dtype=k.dtype)
        log2e = 1.0 / math.log(2.0)
        self.q = torch.cat([q * (scale * log2e), -lse[:, None] * log2e], dim=1)  # (T, d + 1)
        self.k_t = torch.cat([k, ones], dim=1).T.contiguous()  # (d_head + 1, T)
        self.causal = causal
        self.buffer = torch.empty(TILE_ELEMENTS, dtype=q.dtype)
        self.log_buffer = torch.empty(TILE_ELEMENTS, dtype=q.dtype) if keep_logs else None

    def weights(self, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        """The exact weights of queries [r0, r1) × keys [c0, c1), in the shared buffer
        (with ``keep_logs``, their logarithms stay in the second buffer: :meth:`logs`)."""
        tile = self.buffer[: (r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)
        if self.log_buffer is None:
            torch.mm(self.q[r0:r1], self.k_t[:, c0:c1], out=tile)  # log2 a = (s·scale − lse)·log2 e
            tile.exp2_()
        else:
            torch.exp2(torch.mm(self.q[r0:r1], self.k_t[:, c0:c1], out=self.logs(r0, r1, c0, c1)),
                       out=tile)  # fmt: skip
        if self.causal and c1 - 1 > r0:  # the tile crosses the diagonal
            above = torch.arange(c0, c1)[None, :] > torch.arange(r0, r1)[:, None]
            tile.masked_fill_(above, 0.0)
        return tile

    def logs(self, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        """log2 of the weights of the last :meth:`weights` call (finite above a causal
        diagonal too, where the weights are 0)."""
        return self.log_buffer[: (r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)


def _head(streamed: Any, layer: Any, head: Any) -> tuple[torch.Tensor, ...]:
    """q, k (T, d_head) of one head, the arguments checked."""
    if not isinstance(streamed, StreamedMaps):
        raise TypeError(
            f"streamed must be the StreamedMaps of stream_capture, got {type(streamed).__name__}"
        )
    layer = check_int("layer", layer, low=0, high=streamed.n_layers - 1)
    head = check_int("head", head, low=0, high=streamed.n_heads - 1)
    return streamed.q[layer, head], streamed.k[layer, head]


def _rows_lse(streamed: StreamedMaps, layer: int, head: int, rows: tuple[int, int]) -> torch.Tensor:
    """lse of query rows [start, stop) of one head: kept below the layer shown, else
    computed over those rows' keys (their causal prefix), a strip at a time."""
    start, stop = rows
    if layer < streamed.lse.shape[0]:
        return streamed.lse[layer, head, start:stop]
    q, k = streamed.q[layer, head], streamed.k[layer, head]
    out = torch.empty(stop - start, dtype=q.dtype)
    n_keys = stop if streamed.causal else streamed.seq_len
    step = max(1, TILE_ELEMENTS // n_keys)
    for r0 in range(start, stop, step):
        r1 = min(r0 + step, stop)
        keys = r1 if streamed.causal else streamed.seq_len
        scores = q[r0:r1] @ k[:keys].T * streamed.scale  # (r1 - r0, keys)
        if streamed.causal:
            above = torch.arange(keys)[None, :] > torch.arange(r0, r1)[:, None]
            scores.masked_fill_(above, -torch.inf)
        out[r0 - start : r1 - start] = torch.logsumexp(scores, 1)
    return finite_result("the log-sum-exp of the attention scores", out)


def _aligned_spans(length: int, size: int, limit: int) -> Iterator[tuple[int, int]]:
    """Spans of at most ``limit`` positions that never cut a block of ``size``: whole
    blocks when a block fits in ``limit``, else pieces of one block."""
    if size <= limit:
        step = size * (limit // size)
        yield from ((start, min(start + step, length)) for start in range(0, length, step))
        return
    for block in range(0, length, size):
        end = min(block + size, length)
        yield from ((start, min(start + limit, end)) for start in range(block, end, limit))


def _pool(tile: torch.Tensor, axis: int, size: int, reduce: str) -> torch.Tensor:
    """Pool ``axis`` of a block-aligned tile into blocks of ``size`` (the last may be short)."""
    length = tile.shape[axis]
    if length <= size:  # one block (or a piece of one)
        return tile.amax(axis, keepdim=True) if reduce == "max" else tile.sum(axis, keepdim=True)
    full = length // size
    body = tile.narrow(axis, 0, full * size)
    shape = list(tile.shape)
    shape[axis : axis + 1] = [full, size]
    body = body.reshape(shape)  # the block axis, then the positions within a block
    pooled = body.amax(axis + 1) if reduce == "max" else body.sum(axis + 1)
    if full * size == length:
        return pooled
    return torch.cat([pooled, _pool(tile.narrow(axis, full * size, length - full * size),
                                    axis, size, reduce)], dim=axis)  # fmt: skip


def _check_ids(input_ids: Any, vocab_size: int) -> torch.Tensor:
    """(T,) int64 ids from (T,) or (1, T) integers in [0, vocab_size)."""
    if isinstance(input_ids, (list, tuple)):
        input_ids = np.asarray(input_ids)
        if input_ids.dtype.kind not in "iu":
            raise TypeError(f"input_ids must be a list of integer token ids, got {input_ids!r}")
    if isinstance(input_ids, np.ndarray):
        if input_ids.dtype.kind not in "iu":
            raise TypeError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
        input_ids = torch.from_numpy(input_ids)
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(
            f"input_ids must be token ids (a torch.Tensor, numpy array or list), got "
            f"{type(input_ids).__name__}"
        )
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise TypeError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
    if input_ids.device.type == "meta":
        raise ValueError("input_ids is a tensor on the meta device, which holds no numbers")
    shape = tuple(input_ids.shape)
    if input_ids.dim() == 2 and shape[0] == 1:
        input_ids = input_ids[0]
    if input_ids.dim() != 1 or not 1 <= input_ids.shape[0] <= MAX_TOKENS:
        raise ValueError(
            f"input_ids must have shape (T,) or (1, T) with 1 <= T <= {MAX_TOKENS}, got "
            f"shape {shape}"
        )
    low, high = int(input_ids.min()), int(input_ids.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"input_ids must be token ids in [0, {vocab_size - 1}] (vocab_size = {vocab_size}), "
            f"got values in [{low}, {high}]"
        )
    return input_ids.long()


__all__ = [
    "KERNELS",
    "MAX_TOKENS",
    "StreamedMaps",
    "stream_capture",
    "streamed_overview",
    "streamed_window",
]
