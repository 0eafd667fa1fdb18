"""``attnviz bench --kernels``: time and peak memory of lesson 07's kernels, 1K to 64K tokens.

Each method of :data:`attnviz.fast_kernels.METHODS` (one causal head, d = 64, float32) is
timed at each length (median after a warm-up; the first call's time apart, and for
``flex_sparse`` its compile as ``compile_seconds``), and its peak memory measured in a
fresh interpreter (:func:`attnviz.fast_kernels.peak_memory`). A length the library
refuses under its memory budget is recorded as refused, with the estimate, not run; a
length whose predicted time passes ``max_run_seconds`` is recorded as skipped.

Then issue #15's CPU targets (Lightning Attention-2, Qin et al., arXiv 2401.04658):
chunkwise linear attention at least 10x faster than the quadratic parallel form at
16,384 tokens, and its peak memory linear in length. The parallel form at 16,384 tokens
needs about 3.2 GB, over the default 2 GiB budget: its row records the refusal, and the
target times it once more under a budget raised to 4 GB for that call alone (said in
the target row).

Example:
    >>> from attnviz.bench_kernels import bench_kernels
    >>> rows = bench_kernels((1024, 2048), methods=("sdpa",))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from attnviz.fast_kernels import METHODS, first_and_median, is_budget_refusal, peak_memory
from attnviz.memory_budget import memory_budget_of

BENCH_LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768, 65536)
SPEEDUP_LENGTH = 16_384
SPEEDUP_TARGET = 10.0
SPEEDUP_BUDGET = "4GB"  # the parallel form at 16,384 tokens needs about 3.2 GB
LINEAR_MEMORY_EXPONENT = 1.2  # peak ∝ T^p with p at most this counts as linear
LONG_RUN_SECONDS = 1.0  # a call predicted longer than this is timed once


def _refused(error: ValueError) -> str:
    return f"over the memory budget: {error}"


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def bench_method(
    name: str,
    lengths: Sequence[int] = BENCH_LENGTHS,
    *,
    repeats: int = 3,
    max_run_seconds: float = 60.0,
    peak: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per length for method ``name``: seconds, first call, peak bytes or why not.

    ``progress(row)`` is called with each row once it is done.
    """
    method = METHODS[name]
    rows: list[dict[str, Any]] = []
    last = None  # (length, seconds of one call)
    for seq_len in lengths:
        if progress is not None and rows:
            progress(rows[-1])
        row: dict[str, Any] = {"method": name, "seq_len": seq_len, "seconds": None}
        row |= {"first_call_seconds": None, "repeats": None, "peak_bytes": None}
        row |= {"refused": None, "skipped": None, "threads": _threads()}
        refused_before = len(rows) > 0 and rows[-1]["refused"] is not None
        rows.append(row)
        predicted = 0.0 if last is None else last[1] * (seq_len / last[0]) ** method.time_exponent
        # past a refusal the library refuses again at once (its estimate grows with T): ask
        # it, so the row says "refused" with the estimate rather than "skipped"
        if predicted > max_run_seconds and not refused_before:
            row["skipped"] = f"about {predicted:.3g} s a call predicted, over {max_run_seconds:g} s"
            continue
        # a long call is timed once; without a warm-up unless it compiles
        n = (1 if method.compiles else 0) if predicted > LONG_RUN_SECONDS else repeats
        try:
            first, seconds = first_and_median(name, seq_len, repeats=n)
        except ValueError as error:
            if not is_budget_refusal(error):
                raise
            row["refused"] = _refused(error)
            continue
        row |= {"seconds": seconds, "first_call_seconds": first, "repeats": n}
        if method.compiles:
            row["compile_seconds"] = max(first - seconds, 0.0)
        last = (seq_len, seconds)
        if peak:
            try:
                row["peak_bytes"] = peak_memory(name, seq_len, timeout=max(300.0, 20 * seconds))
            except ValueError as error:  # the child's budget refusal
                if not is_budget_refusal(error):
                    raise
                row["refused"] = _refused(error)
    if progress is not None and rows:
        progress(rows[-1])
    return rows


def _find(rows, method: str, seq_len: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["method"] == method and r["seq_len"] == seq_len), None)


def _why_not(row: dict[str, Any] | None, method: str, seq_len: int) -> str:
    if row is None:
        return f"{method} was not run at {seq_len:,} tokens"
    return f"{method} at {seq_len:,} tokens: {row['refused'] or row['skipped']}"


def speedup_target(
    rows: list[dict[str, Any]], parallel: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Chunkwise linear attention against the parallel form at 16,384 tokens (goal 10x).

    ``parallel`` is the parallel form's row measured apart (under a raised budget), if any.
    """
    target = {
        "target": f"chunkwise_linear vs linear_parallel at {SPEEDUP_LENGTH:,} tokens",
        "goal": f"speed-up >= {SPEEDUP_TARGET:g}",
        "speedup": None,
        "met": None,
    }
    fast = _find(rows, "chunkwise_linear", SPEEDUP_LENGTH)
    slow = parallel or _find(rows, "linear_parallel", SPEEDUP_LENGTH)
    for row, name in ((fast, "chunkwise_linear"), (slow, "linear_parallel")):
        if row is None or row["seconds"] is None:
            target["not_measured"] = _why_not(row, name, SPEEDUP_LENGTH)
            return target
    speedup = slow["seconds"] / fast["seconds"]
    target |= {"chunkwise_seconds": fast["seconds"], "parallel_seconds": slow["seconds"]}
    target |= {"speedup": round(speedup, 2), "met": speedup >= SPEEDUP_TARGET}
    if parallel is not None:
        target |= {"parallel_peak_bytes": parallel["peak_bytes"], "budget": parallel["budget"]}
    return target


def parallel_at_target_length(rows: list[dict[str, Any]], *, peak: bool = True):
    """The parallel form at 16,384 tokens under a budget raised for this target alone.

    Its (T, T) scores, decay matrix and product need about 3.2 GB, over the default
    budget of 2 GiB, so its bench row is a refusal; the target still needs its time.
    None when the row was measured, or not asked for.
    """
    row = _find(rows, "linear_parallel", SPEEDUP_LENGTH)
    if row is None or not row["refused"]:
        return None
    with memory_budget_of(SPEEDUP_BUDGET):
        (parallel,) = bench_method(
            "linear_parallel", (SPEEDUP_LENGTH,), repeats=1, max_run_seconds=math.inf, peak=peak
        )
    parallel["budget"] = (
        f"raised to {SPEEDUP_BUDGET} for this target only; at the default budget the row "
        f"says: {row['refused']}"
    )
    return parallel


def memory_target(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Chunkwise linear attention's peak memory grows linearly: T^p with p <= 1.2.

    p is fitted between the two longest lengths measured, at least 4x apart (short
    calls' peaks are lost in the allocator's noise).
    """
    target = {
        "target": "chunkwise_linear peak memory linear in length",
        "goal": f"peak ∝ T^p, p <= {LINEAR_MEMORY_EXPONENT:g}",
        "exponent": None,
        "met": None,
    }
    measured = [r for r in rows if r["method"] == "chunkwise_linear" and (r["peak_bytes"] or 0) > 0]
    longest = measured[-1] if measured else None
    shorter = [r for r in measured if longest and 4 * r["seq_len"] <= longest["seq_len"]]
    if not shorter:
        target["not_measured"] = "needs chunkwise_linear's peak at two lengths at least 4x apart"
        return target
    a, b = shorter[-1], longest
    exponent = math.log(b["peak_bytes"] / a["peak_bytes"]) / math.log(b["seq_len"] / a["seq_len"])
    target |= {"exponent": round(exponent, 3), "met": exponent <= LINEAR_MEMORY_EXPONENT}
    target["between"] = [a["seq_len"], b["seq_len"]]
    return target


def bench_kernels(
    lengths: Sequence[int] = BENCH_LENGTHS,
    *,
    methods: Sequence[str] | None = None,
    repeats: int = 3,
    max_run_seconds: float = 60.0,
    peak: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Every method's rows at every length, then the two target rows."""
    names = tuple(METHODS) if methods is None else tuple(methods)
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise ValueError(f"methods must be names from {tuple(METHODS)}, got {unknown}")
    lengths = tuple(sorted(set(lengths)))
    rows = []
    for name in names:
        rows += bench_method(
            name,
            lengths,
            repeats=repeats,
            max_run_seconds=max_run_seconds,
            peak=peak,
            progress=progress,
        )
    parallel = parallel_at_target_length(rows, peak=peak)
    return rows + [speedup_target(rows, parallel), memory_target(rows)]


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.1f} MB"


def format_kernel_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table (``attnviz bench --kernels`` without ``--json``)."""
    lines = [f"{'method':<18}{'tokens':>8}{'seconds':>12}{'first call':>12}{'peak':>14}  note"]
    for row in rows:
        if "target" in row:
            figure = row.get("speedup", row.get("exponent"))
            note = row.get("not_measured", "")
            lines.append(f"{row['target']}: {figure} ({row['goal']}) met={row['met']} {note}")
            continue
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.4g}"
        first = "-" if row["first_call_seconds"] is None else f"{row['first_call_seconds']:.4g}"
        note = row["refused"] or row["skipped"] or ""
        if row.get("compile_seconds") is not None:
            note = f"compile {row['compile_seconds']:.3g} s"
        lines.append(
            f"{row['method']:<18}{row['seq_len']:>8}{seconds:>12}{first:>12}"
            f"{_bytes(row['peak_bytes']):>14}  {note[:90]}"
        )
    return "\n".join(lines)
