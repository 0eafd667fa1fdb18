"""Speed-up of sparse attention against mask density, measured on this machine.

A sparse mask lets FlexAttention (Dong et al. 2024, arXiv 2412.05496) skip the
(block_size, block_size) tiles it forbids entirely; dense masked attention computes
every score and throws the forbidden ones away. The time saved follows the **block
density** (the fraction of tiles computed), not the token density: a sliding window
of 256 at 4,096 tokens skips about 90 % of the tiles, while Sparse Transformer's
strided pattern (Child et al. 2019, arXiv 1904.10509) allows only a few % of the pairs
yet touches every tile below the diagonal, so it runs no faster than causal attention.
Lesson 07 ("sparse masks") plots this table; ``attnviz bench`` reports it.

Each row times one pattern: the median of ``repeats`` calls of
``kernels.flex.flex_sparse_attention`` (compiled) and of
``kernels.flex.dense_masked_attention`` (PyTorch SDPA with the boolean mask, built
once beforehand), after one warm-up call of each. The warm-up of flex compiles the
kernel: on a shared 2-core CPU that took 4 to 18 s per pattern at 4,096 tokens (every
new pattern, parameter value or sequence length is a new graph; 0.2 to 1.3 s once
inductor's on-disk cache holds it), so a table of a dozen patterns can take minutes the
first time; ``time_budget`` bounds it.

Example:
    >>> from attnviz.sparse_speed import density_speedup
    >>> rows = density_speedup(["causal", "sliding_window"], seq_len=512, block_size=64,
    ...                        repeats=1, compile=False)
    >>> [row["pattern"] for row in rows]
    ['causal', 'sliding_window']
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch

from attnviz.kernels.flex import (
    block_density,
    dense_masked_attention,
    flex_sparse_attention,
    token_density,
)
from attnviz.kernels.masks import MAX_DENSE_LEN, PATTERNS, MaskPattern, make_mask
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import check_bool, check_choice, check_int, check_real

__all__ = ["DEFAULT_PATTERNS", "default_patterns", "density_speedup"]

#: (name, params) of the default table: sliding windows from narrow to half the default
#: length (block density falls with the width), then the zoo at the sizes its papers use
#: for a few thousand tokens (PAPERS.md §3), from block-aligned (power_attention, longnet)
#: to scattered (strided, dilated, bigbird's random keys), and full causal attention.
DEFAULT_PATTERNS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sliding_window", {"window": 128}),
    ("sliding_window", {"window": 256}),
    ("sliding_window", {"window": 512}),
    ("sliding_window", {"window": 1024}),
    ("sliding_window", {"window": 2048}),
    ("dilated", {"window": 1024, "rate": 2}),
    ("strided", {"stride": 64}),
    ("fixed", {"block": 128, "c": 8}),
    ("longformer", {"window": 256, "global_tokens": 16}),
    ("bigbird", {"window": 256, "global_tokens": 16, "random_keys": 3}),
    ("longnet", {"segment_lengths": (256, 1024, 4096), "dilations": (1, 4, 16)}),
    ("stride_slash", {"window": 256, "stride": 1024, "sink_tokens": 16}),
    ("power_attention", {"block_size": 128, "window_blocks": 4, "sink_block": True}),
    ("causal", {}),
)


def default_patterns() -> list[MaskPattern]:
    """The patterns of :data:`DEFAULT_PATTERNS`, built."""
    return [make_mask(name, **params) for name, params in DEFAULT_PATTERNS]


def _patterns(patterns: Any) -> list[MaskPattern]:
    if patterns is None:
        return default_patterns()
    if isinstance(patterns, str | MaskPattern) or not isinstance(patterns, Sequence):
        raise TypeError(
            "patterns must be a sequence of MaskPattern or make_mask names (or None for "
            f"the defaults), got {type(patterns).__name__}"
        )
    if not patterns:
        raise ValueError("patterns must hold at least one pattern, got an empty sequence")
    built = []
    for index, pattern in enumerate(patterns):
        if isinstance(pattern, str):
            pattern = make_mask(check_choice(f"patterns[{index}]", pattern, PATTERNS))
        if not isinstance(pattern, MaskPattern):
            raise TypeError(
                f"patterns[{index}] must be a MaskPattern or a make_mask name, "
                f"got {type(pattern).__name__}"
            )
        built.append(pattern)
    return built


def _timed(call, repeats: int) -> tuple[float, float, float, Any]:
    """(first call's seconds, median and fastest of ``repeats`` further calls in ms, last
    result). The fastest is the least disturbed by other work on a shared machine."""
    start = time.perf_counter()
    result = call()  # warm-up: compiles flex, faults in SDPA's buffers
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return first, 1e3 * statistics.median(times), 1e3 * min(times), result


def density_speedup(
    patterns: Sequence[Any] | None = None,
    seq_len: int = 4096,
    block_size: int = 128,
    d: int = 64,
    repeats: int = 3,
    *,
    time_budget: float = 600.0,
    compile: bool = True,  # noqa: A002 - flex_sparse_attention's word
    seed: int = 0,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Time flex sparse attention against dense masked attention, pattern by pattern.

    Args:
        patterns: MaskPatterns or ``make_mask`` names; None for :data:`DEFAULT_PATTERNS`.
        seq_len: tokens (one sequence, one head), at most 16,384 (the dense mask's limit).
        block_size: FlexAttention's tile side.
        d: head dimension of the random q, k, v (seeded with ``seed``).
        repeats: timed calls per form after the warm-up; the median is reported.
        time_budget: seconds; no pattern is started once they are spent (the first one
            always runs, and a started one finishes: a compile can overrun by seconds).
        compile: False times eager flex_attention instead (the slow reference, no skip).
        threads: torch threads while timing (at most the CPU count; restored after);
            None keeps torch's setting.
            One thread times steadily on a machine shared with other jobs, where two
            OpenMP threads wait for each other whenever one loses its core.

    Returns:
        One dict per measured pattern: ``pattern`` (name), ``params``, ``token_density``,
        ``block_density``, ``flex_ms``, ``dense_ms``, ``speedup`` (dense_ms / flex_ms),
        ``flex_first_s`` (the warm-up call, compile included), ``flex_min_ms`` and
        ``dense_min_ms`` (the fastest timed call of each) and ``max_abs_diff``
        (flex against dense: a check that both computed the same attention).

    Timings depend on the machine and on what else runs on it.
    """
    built = _patterns(patterns)
    seq_len = check_int("seq_len", seq_len, low=1, high=MAX_DENSE_LEN)
    block_size = check_int("block_size", block_size, low=1, high=MAX_DENSE_LEN)
    d = check_int("d", d, low=1, high=1024)
    repeats = check_int("repeats", repeats, low=1, high=1000)
    time_budget = check_real("time_budget", time_budget, low=0.0, low_open=True)
    check_bool("compile", compile)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    if threads is not None:
        threads = check_int("threads", threads, low=1, high=os.cpu_count() or 1)

    # the largest one-off: dense attention's (T, T) mask and scores, or eager flex's scores
    check_bytes(
        f"the ({seq_len}, {seq_len}) mask and scores that dense masked attention holds",
        tensor_bytes(seq_len, seq_len, dtype=torch.bool)
        + (3 if not compile else 1) * tensor_bytes(seq_len, seq_len, dtype=torch.float32),
        instead="use a shorter seq_len" + ("" if compile else ", or compile=True"),
    )
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 1, seq_len, d, generator=gen) for _ in "qkv")  # (B, H, T, d)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _measure(built, q, k, v, seq_len, block_size, repeats, time_budget, compile)
    finally:
        torch.set_num_threads(previous)


def _measure(built, q, k, v, seq_len, block_size, repeats, time_budget, compile):  # noqa: A002
    """density_speedup's rows, its arguments checked."""
    started = time.perf_counter()
    rows = []
    for pattern in built:
        if rows and time.perf_counter() - started >= time_budget:
            break
        mask = torch.from_numpy(pattern.dense(seq_len))  # (T, T), built once, not timed
        _, dense_ms, dense_min_ms, dense = _timed(
            lambda mask=mask: dense_masked_attention(q, k, v, mask), repeats
        )
        del mask  # 256 MiB at 16,384 tokens: freed before flex runs
        flex_first, flex_ms, flex_min_ms, sparse = _timed(
            lambda pattern=pattern: flex_sparse_attention(
                q, k, v, pattern, block_size=block_size, compile=compile
            ),
            repeats,
        )
        rows.append({
            "pattern": pattern.name,
            "params": dict(pattern.params),
            "token_density": token_density(pattern, seq_len),
            "block_density": block_density(pattern, seq_len, block_size),
            "flex_ms": flex_ms,
            "dense_ms": dense_ms,
            "speedup": dense_ms / flex_ms if flex_ms > 0 else float("inf"),
            "flex_first_s": flex_first,
            "flex_min_ms": flex_min_ms,
            "dense_min_ms": dense_min_ms,
            "max_abs_diff": float((sparse - dense).abs().max()),
        })  # fmt: skip
    return rows
