"""Lesson 07's measurements: what each attention kernel costs as the sequence grows.

Six ways to compute one causal head (d = 64, float32, seeded inputs), from the definition
to the fast forms lesson 07 builds:

- ``reference``: softmax(q kᵀ/√d) v with the (T, T) weights materialised
  (``kernels.softmax.scaled_dot_product_attention``; Vaswani et al., arXiv 1706.03762),
- ``online_softmax``: key blocks streamed with a running max and sum, one division at the
  end (``kernels.online_softmax``; FlashAttention-2, Dao, arXiv 2307.08691),
- ``sdpa``: PyTorch's fused ``torch.nn.functional.scaled_dot_product_attention``,
- ``linear_parallel``: decayed linear attention as ((Q Kᵀ) ⊙ M) V, quadratic in T
  (``kernels.chunkwise.linear_attention_parallel``),
- ``chunkwise_linear``: the same outputs in chunks, intra-chunk quadratic, inter-chunk
  through a carried (d, d) state (``kernels.chunkwise``; Lightning Attention-2, Qin et
  al., arXiv 2401.04658),
- ``flex_sparse``: softmax attention over a causal sliding window of 256 keys through
  ``torch.nn.attention.flex_attention`` block masks (``kernels.flex``).

:func:`time_method` times one (method, length); :func:`cost_against_length` sweeps
doubling lengths inside a few seconds, stopping a method once its next length would pass
its share of the time budget; :func:`peak_memory` measures the peak resident memory of one
call in a fresh interpreter. A method whose (T, T) object would pass the library's memory
budget is refused by the library before it allocates; the sweep records the refusal.

Example:
    >>> from attnviz.fast_kernels import cost_against_length
    >>> rows = cost_against_length(("sdpa", "chunkwise_linear"), (256, 512), time_budget=1.0)
    >>> [(row["method"], row["seq_len"]) for row in rows]  # doctest: +SKIP
    [('sdpa', 256), ('sdpa', 512), ('chunkwise_linear', 256), ('chunkwise_linear', 512)]
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from attnviz.memory_budget import ENVIRONMENT_VARIABLE, check_bytes, memory_budget, tensor_bytes
from attnviz.validation import check_choice, check_int, check_real

__all__ = [
    "DEFAULT_LENGTHS",
    "DEFAULT_METHODS",
    "KernelMethod",
    "METHODS",
    "MAX_SEQ_LEN",
    "cost_against_length",
    "first_and_median",
    "make_inputs",
    "peak_memory",
    "time_method",
]

HEAD_DIM = 64
DECAY = 0.999  # λ of the linear methods: λ^(t-s) stays above float32's tiny at 64K tokens
WINDOW = 256  # keys each query reads in flex_sparse (its own included)
CHUNK_SIZE = 64
MAX_SEQ_LEN = 65_536
MAX_HEAD_DIM = 256
MAX_REPEATS = 100
BUDGET_WORDS = "over attnviz's memory budget"  # what memory_budget.check_bytes says


# ------------------------------------------------------------------ the methods


def _reference(q, k, v):
    from attnviz.kernels.softmax import scaled_dot_product_attention

    return scaled_dot_product_attention(q, k, v, causal=True).output


def _online_softmax(q, k, v):
    from attnviz.kernels.online_softmax import online_softmax_attention

    return online_softmax_attention(q, k, v, causal=True).output


def _sdpa(q, k, v):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


def _linear_parallel(q, k, v):
    from attnviz.kernels.chunkwise import linear_attention_parallel

    return linear_attention_parallel(q, k, v, decay=DECAY).output


def _chunkwise_linear(q, k, v):
    from attnviz.kernels.chunkwise import chunkwise_linear_attention

    return chunkwise_linear_attention(q, k, v, decay=DECAY, chunk_size=CHUNK_SIZE).output


def _flex_sparse(q, k, v):
    from attnviz.kernels.flex import flex_sparse_attention
    from attnviz.kernels.masks import make_mask

    return flex_sparse_attention(q, k, v, make_mask("sliding_window", window=WINDOW))


@dataclass(frozen=True)
class KernelMethod:
    """One way to compute a causal head, and how its time grows with the length T.

    ``run(q, k, v)`` takes (1, 1, T, d) tensors and returns the (1, 1, T, d) output;
    ``time_exponent`` is p in time ∝ T^p (2 for the quadratic forms, 1 for the linear
    ones), which the sweep uses to predict the next length's cost; ``compiles`` marks a
    method whose first call at a new length compiles a kernel (timed apart).
    """

    name: str
    label: str
    family: str
    time_exponent: int
    memory: str
    run: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    compiles: bool = False


METHODS: dict[str, KernelMethod] = {
    method.name: method
    for method in (
        KernelMethod(
            "reference", "reference softmax (T×T weights)", "softmax", 2, "O(T²)", _reference
        ),
        KernelMethod(
            "online_softmax", "online softmax (FlashAttention-2)", "softmax", 2, "O(T·d)",
            _online_softmax,
        ),
        KernelMethod("sdpa", "PyTorch SDPA", "softmax", 2, "O(T·d)", _sdpa),
        KernelMethod(
            "linear_parallel", "linear attention, parallel ((QKᵀ)⊙M)V", "linear", 2, "O(T²)",
            _linear_parallel,
        ),
        KernelMethod(
            "chunkwise_linear", "linear attention, chunkwise (Lightning-2)", "linear", 1,
            "O(T·d + d²)", _chunkwise_linear,
        ),
        KernelMethod(
            "flex_sparse", f"FlexAttention, sliding window {WINDOW}", "sparse softmax", 1,
            "O(T·d)", _flex_sparse, compiles=True,
        ),
    )
}  # fmt: skip

#: What the live chart sweeps: every method but flex_sparse, whose first call at each new
#: length compiles for seconds (6 to 17 s on a 2-core CPU; ``attnviz bench --kernels``).
DEFAULT_METHODS = ("reference", "online_softmax", "sdpa", "linear_parallel", "chunkwise_linear")
DEFAULT_LENGTHS = (256, 512, 1024, 2048, 4096, 8192, 16384)


def _method(name: Any) -> KernelMethod:
    return METHODS[check_choice("method", name, METHODS)]


def _seq_len(value: Any) -> int:
    return check_int("seq_len", value, low=1, high=MAX_SEQ_LEN)


def _head_dim(value: Any) -> int:
    return check_int("d", value, low=1, high=MAX_HEAD_DIM)


def make_inputs(seq_len: int, *, d: int = HEAD_DIM, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Seeded q, k, v of shape (1, 1, seq_len, d), float32: one head of one sequence."""
    seq_len, d = _seq_len(seq_len), _head_dim(d)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    check_bytes(
        f"q, k and v of {seq_len} tokens x {d} dimensions",
        3 * tensor_bytes(seq_len, d, dtype=torch.float32),
        instead="use a shorter seq_len",
    )
    generator = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(3, 1, 1, seq_len, d, generator=generator)  # each (1, 1, T, d)
    return q.contiguous(), k.contiguous(), v.contiguous()


def is_budget_refusal(error: BaseException) -> bool:
    """True for the library's ``check_bytes`` refusal (a ValueError naming the budget)."""
    return isinstance(error, ValueError) and BUDGET_WORDS in str(error)


# ------------------------------------------------------------------ time


_clock = time.perf_counter  # the sweep's clock (tests count calls with a fake one)


def _timed_runs(
    method: KernelMethod, seq_len: int, d: int, repeats: int, stop_after: float = math.inf
) -> tuple[float, float]:
    """(first call's seconds, median of ``repeats`` later calls; the first if repeats=0).

    Past ``stop_after`` seconds in all, no further repeat starts (one always runs).
    """
    q, k, v = make_inputs(seq_len, d=d)
    with torch.no_grad():
        start = _clock()
        method.run(q, k, v)  # warm-up: allocator, caches, and a compile for flex
        first = _clock() - start
        times = []
        for _ in range(repeats):
            if times and _clock() - start >= stop_after:
                break
            begin = _clock()
            method.run(q, k, v)
            times.append(_clock() - begin)
    return first, statistics.median(times) if times else first


def time_method(method: str, seq_len: int, *, d: int = HEAD_DIM, repeats: int = 3) -> float:
    """Median seconds of one causal head of ``seq_len`` tokens, after one warm-up call.

    Raises the library's ValueError when the method's (T, T) object would pass the memory
    budget (see :mod:`attnviz.memory_budget`).
    """
    repeats = check_int("repeats", repeats, low=1, high=MAX_REPEATS)
    return first_and_median(method, seq_len, d=d, repeats=repeats)[1]


def first_and_median(
    method: str, seq_len: int, *, d: int = HEAD_DIM, repeats: int = 3
) -> tuple[float, float]:
    """(seconds of the first call, median seconds of ``repeats`` calls after it).

    The first call holds one-off costs: a compile (``flex_sparse``), the allocator's
    first touch of memory. ``repeats=0`` times the first call only and gives it twice
    (for calls so long that a warm-up would double the run for nothing).
    """
    kernel = _method(method)
    seq_len, d = _seq_len(seq_len), _head_dim(d)
    repeats = check_int("repeats", repeats, low=0, high=MAX_REPEATS)
    return _timed_runs(kernel, seq_len, d, repeats)


def _lengths(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"lengths must be a sequence of token counts, got {value!r:.60}")
    lengths = tuple(
        check_int(f"lengths[{i}]", length, low=1, high=MAX_SEQ_LEN)
        for i, length in enumerate(value)
    )
    if not lengths or any(b <= a for a, b in zip(lengths, lengths[1:], strict=False)):
        raise ValueError(f"lengths must be a non-empty increasing sequence, got {lengths}")
    return lengths


def _methods(value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"methods must be a sequence of names from {tuple(METHODS)}")
    names = tuple(check_choice(f"methods[{i}]", name, METHODS) for i, name in enumerate(value))
    if not names or len(set(names)) != len(names):
        raise ValueError(f"methods must be distinct names from {tuple(METHODS)}, got {names}")
    return names


def _row(method: str, seq_len: int, **fields: Any) -> dict[str, Any]:
    row = {"method": method, "seq_len": seq_len, "seconds": None, "refused": None}
    row["stopped"] = None
    row.update(fields)
    return row


def cost_against_length(
    methods: Sequence[str] = DEFAULT_METHODS,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    *,
    time_budget: float = 3.0,
    d: int = HEAD_DIM,
    repeats: int = 3,
) -> list[dict[str, Any]]:
    """Time each method at increasing lengths, inside ``time_budget`` seconds in all.

    Each method gets an equal share of the budget. It always runs its shortest length
    (its warm-up and at least one timed call; no more repeats once past the share); then,
    before each longer one, the cost of the last length (warm-up and repeats) is
    scaled by (T'/T)^p, p its ``time_exponent``, and the method stops if that would pass
    its share. A length whose (T, T) object the library refuses (memory budget) is not run.

    Returns one row per (method, length): ``seconds`` (the median) when measured,
    ``refused`` (the library's message) or ``stopped`` (the predicted cost) otherwise.
    """
    names, lengths = _methods(methods), _lengths(lengths)
    time_budget = check_real("time_budget", time_budget, low=0.0, high=3600.0, low_open=True)
    d = _head_dim(d)
    repeats = check_int("repeats", repeats, low=1, high=MAX_REPEATS)
    share = time_budget / len(names)
    rows = []
    for name in names:
        method = METHODS[name]
        spent, last = 0.0, None  # seconds used; (length, cost) of the last measured run
        for seq_len in lengths:
            if last is not None:
                predicted = last[1] * (seq_len / last[0]) ** method.time_exponent
                if spent + predicted > share:
                    stopped = (
                        f"about {predicted:.2g} s predicted, past this method's share "
                        f"({share:.2g} s, {spent:.2g} s used)"
                    )
                    rows.append(_row(name, seq_len, stopped=stopped))
                    continue
            start = _clock()
            try:  # on a busy machine the prediction can be short: stop repeating at the share
                seconds = _timed_runs(method, seq_len, d, repeats, share - spent)[1]
            except ValueError as error:
                if not is_budget_refusal(error):
                    raise
                spent += _clock() - start
                rows.append(_row(name, seq_len, refused=f"over the memory budget: {error}"))
                continue
            cost = _clock() - start
            spent, last = spent + cost, (seq_len, cost)
            rows.append(_row(name, seq_len, seconds=seconds))
    return rows


# ------------------------------------------------------------------ memory

_PEAK_SCRIPT = """
import json, sys
from attnviz.fast_kernels import _peak_in_this_process
try:
    result = {"peak_bytes": _peak_in_this_process(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))}
except ValueError as error:
    result = {"error": str(error)}
print(json.dumps(result))
"""


def _rss_bytes(field: str) -> int | None:
    """``VmRSS`` or ``VmHWM`` (peak) of this process from /proc, None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux's clear_refs "5"); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _maxrss_bytes() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS: bytes; Linux: KiB


def _peak_in_this_process(method: str, seq_len: int, d: int) -> int:
    """Bytes one call adds to the peak RSS, once imports and inputs are in place."""
    import gc

    kernel = _method(method)
    q, k, v = make_inputs(_seq_len(seq_len), d=_head_dim(d))
    with torch.no_grad():
        if kernel.compiles:  # compile at this length first: the kernel's memory, not Inductor's
            kernel.run(q, k, v)
        else:  # import the kernel's module and touch its code once, on a tiny input
            kernel.run(*make_inputs(min(seq_len, 16), d=d))
        gc.collect()
        if _reset_peak():
            baseline = _rss_bytes("VmRSS")
            kernel.run(q, k, v)
            return max(_rss_bytes("VmHWM") - baseline, 0)
        baseline = _maxrss_bytes()  # no reset: the peak so far, which the call must pass
        kernel.run(q, k, v)
        return max(_maxrss_bytes() - baseline, 0)


def peak_memory(method: str, seq_len: int, *, d: int = HEAD_DIM, timeout: float = 300.0) -> int:
    """Peak resident bytes one call of ``method`` adds, measured in a fresh interpreter.

    The child (one thread, ``OMP_NUM_THREADS=1``) imports attnviz and the kernel, builds
    the inputs and runs the kernel once on a tiny input (a compiling method: once at full
    length), resets its peak RSS, runs the call, and reports the peak minus the RSS
    before it (``ru_maxrss`` where the peak cannot be reset). It runs under this
    process's memory budget; a refusal is raised here as the same ValueError, and a
    child past ``timeout`` seconds as TimeoutError.
    """
    kernel = _method(method)
    seq_len, d = _seq_len(seq_len), _head_dim(d)
    timeout = check_real("timeout", timeout, low=0.0, high=3600.0, low_open=True)
    env = {**os.environ, ENVIRONMENT_VARIABLE: str(memory_budget()), "OMP_NUM_THREADS": "1"}
    env.setdefault("PYTHONPATH", "")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this checkout first
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env["PYTHONPATH"]) if p)
    command = [sys.executable, "-c", _PEAK_SCRIPT, kernel.name, str(seq_len), str(d)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise TimeoutError(
            f"peak_memory: {kernel.name} at seq_len={seq_len} ran past timeout={timeout:g} s"
        ) from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(
            f"peak_memory: the child measuring {kernel.name} at seq_len={seq_len} failed "
            f"(status {done.returncode}): {tail[0]}"
        )
    result = json.loads(lines[-1])
    if "error" in result:
        raise ValueError(result["error"])
    return int(result["peak_bytes"])
