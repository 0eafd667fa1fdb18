"""Run one call under the memory budget and a deadline, and say how it ended.

Memory: the call runs with ``RLIMIT_DATA`` set to what the process holds now plus twice
the budget (estimates are right within a small factor) plus a margin. An allocation past
that fails inside the call, so "allocated past the budget" shows as an escaped
``MemoryError``/``RuntimeError`` naming the allocator, which :func:`run_guarded` reports
as ``over budget`` rather than as a plain escape. Deadline: ``SIGALRM`` interrupts the
call at the next Python bytecode; a call stuck in C past it is caught by the fuzz tool's
parent process instead.
"""

from __future__ import annotations

import math
import re
import resource
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

try:
    from attnviz.memory_budget import memory_budget
except ImportError:  # an older checkout, fuzzed with this table (tools/fuzz_api.py)

    def memory_budget() -> int:
        return 2 * 2**30


MARGIN = 256 * 2**20
ALLOCATION_ERRORS = ("can't allocate memory", "Unable to allocate", "not enough memory")


class DeadlineExceeded(BaseException):
    """Raised inside a call that ran past its deadline (BaseException: no handler eats it)."""


@dataclass
class Outcome:
    """How a call ended: returned, refused, escaped, over budget or over deadline."""

    status: str
    seconds: float
    error: BaseException | None = None
    result: Any = None

    @property
    def message(self) -> str:
        return "" if self.error is None else f"{type(self.error).__name__}: {self.error}"


def _vm_data() -> int:
    with open("/proc/self/status") as status:
        return int(re.search(r"VmData:\s+(\d+) kB", status.read()).group(1)) * 1024


@contextmanager
def memory_limit(extra_bytes: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = _vm_data() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def interrupt(signum, frame):
        raise DeadlineExceeded(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _is_allocation_failure(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or any(s in str(error) for s in ALLOCATION_ERRORS)


def run_guarded(
    call: Callable[[], Any],
    *,
    allowed: tuple[type[BaseException], ...] = (ValueError, TypeError),
    seconds: float = 30.0,
    budget: int | None = None,
) -> Outcome:
    """Run ``call()`` under the memory limit and ``seconds``; classify how it ended."""
    budget = memory_budget() if budget is None else budget
    start = time.perf_counter()
    try:
        with memory_limit(2 * budget + MARGIN), deadline(seconds):
            result = call()
    except DeadlineExceeded as error:
        return Outcome("over deadline", time.perf_counter() - start, error)
    except allowed as error:
        if _is_allocation_failure(error):
            return Outcome("over budget", time.perf_counter() - start, error)
        return Outcome("refused", time.perf_counter() - start, error)
    except Exception as error:  # noqa: BLE001 - classifying is the point
        status = "over budget" if _is_allocation_failure(error) else "escaped"
        return Outcome(status, time.perf_counter() - start, error)
    return Outcome("returned", time.perf_counter() - start, result=result)


def nonfinite_in(value: Any, depth: int = 0) -> str | None:
    """The path of the first NaN/inf found in a result (tensors, arrays, floats, fields)."""
    if depth > 3:
        return None
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and value.numel() and not bool(torch.isfinite(value).all()):
            return "tensor"
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and value.size and not bool(np.all(np.isfinite(value))):
            return "array"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "float"
    if isinstance(value, (tuple, list)):
        items = value[:16] if isinstance(value, list) else value
        for i, item in enumerate(items):
            found = nonfinite_in(item, depth + 1)
            if found:
                return f"[{i}].{found}"
        return None
    if isinstance(value, dict):
        for key, item in list(value.items())[:16]:
            found = nonfinite_in(item, depth + 1)
            if found:
                return f"[{key!r}].{found}"
        return None
    fields = getattr(value, "__dataclass_fields__", None)
    if fields:
        for key in fields:
            found = nonfinite_in(getattr(value, key, None), depth + 1)
            if found:
                return f".{key}.{found}"
    return None
