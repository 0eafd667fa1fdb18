"""One memory budget, checked before anything large is allocated.

Every function that builds a (T, T) matrix, a (d, T, T) stack, a bitset or a sweep
estimates its bytes first with :func:`check_bytes`. Over the budget it refuses with a
``ValueError`` that names the size, the estimate and the limit, and says which cheaper
form would do (``form="recurrent"``, ``method="distances"``, a shorter input) — instead
of swapping a laptop to a halt or dying with ``MemoryError`` halfway through.

The budget is one number for the whole library:

- the default is 2 GiB, well under a learner's laptop and a classroom server,
- ``ATTNVIZ_MEMORY_BUDGET`` (``"4GB"``, ``"512MiB"``, ``"3e9"``) sets it for a process,
- :func:`set_memory_budget` sets it in code, :func:`memory_budget_of` for a ``with`` block.

Estimates count the largest objects a call holds at once (the peak), not every
temporary; they are meant to be right within a small factor, which is what a refusal
needs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import Any

import torch

DEFAULT_BUDGET = 2 * 2**30  # bytes
ENVIRONMENT_VARIABLE = "ATTNVIZ_MEMORY_BUDGET"
SMALLEST_BUDGET = 2**20  # 1 MiB: below this nothing in the course runs

_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "kib": 2**10,
    "m": 10**6, "mb": 10**6, "mib": 2**20,
    "g": 10**9, "gb": 10**9, "gib": 2**30,
    "t": 10**12, "tb": 10**12, "tib": 2**40,
}  # fmt: skip


def parse_bytes(name: str, value: Any) -> int:
    """``value`` (an int of bytes or a string like ``"2GB"``) as a whole number of bytes."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(
                f"{name} must be a number of bytes or a size like '2GB' or '512MiB', got {value!r}"
            )
        number = float(match.group(1)) * _UNITS[unit]
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of bytes or a string like '2GB', got {value!r}")
    else:
        number = value
    if isinstance(number, int) and number > 10**30:  # math.isfinite overflows on such ints
        number = math.inf
    if not math.isfinite(number) or number < SMALLEST_BUDGET:
        raise ValueError(
            f"{name} must be at least {format_bytes(SMALLEST_BUDGET)} and finite, got {value!r}"
        )
    return int(number)


def _check_n_bytes(n_bytes: Any) -> int | float:
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, (Integral, float)):
        raise TypeError(f"n_bytes must be a number of bytes, got {n_bytes!r:.60}")
    n_bytes = int(n_bytes) if isinstance(n_bytes, Integral) else n_bytes
    if isinstance(n_bytes, float) and not math.isfinite(n_bytes) or n_bytes < 0:
        raise ValueError(f"n_bytes must be a finite number >= 0, got {n_bytes!r:.60}")
    return n_bytes


def format_bytes(n_bytes: float) -> str:
    """``3.2 GB``, ``512 MB``, ``40 kB``: decimal units, as ``free`` and file managers show."""
    n_bytes = _check_n_bytes(n_bytes)
    if n_bytes >= 1e18:  # exact integers this large overflow a float division
        return f"about 10^{int(math.log10(n_bytes))} bytes"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            value = n_bytes / size
            return f"{value:.3g} {unit}" if value < 1e6 else f"{value:.3e} {unit}"
    return f"{int(n_bytes)} bytes"


def _from_environment() -> int:
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    return DEFAULT_BUDGET if not text else parse_bytes(ENVIRONMENT_VARIABLE, text)


_budget = _from_environment()


def memory_budget() -> int:
    """The budget in bytes that every large allocation is checked against."""
    return _budget


def set_memory_budget(value: Any) -> int:
    """Set the budget (bytes, or a string like ``"4GB"``); return the previous one."""
    global _budget
    previous, _budget = _budget, parse_bytes("budget", value)
    return previous


@contextmanager
def memory_budget_of(value: Any) -> Iterator[int]:
    """``with memory_budget_of("8GB"):`` — a different budget inside the block only."""
    previous = set_memory_budget(value)
    try:
        yield _budget
    finally:
        set_memory_budget(previous)


def element_bytes(dtype: torch.dtype | None = None) -> int:
    """Bytes per element of ``dtype`` (the default float dtype when None)."""
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or None, got {dtype!r:.60}")
    return torch.empty((), dtype=dtype).element_size()


def tensor_bytes(*shape: int, dtype: torch.dtype | None = None) -> int:
    """Bytes of a tensor of ``shape``: exact Python integers, so no size overflows."""
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, Integral):
            raise TypeError(f"shape must be sizes (ints), got {size!r:.60} in {shape!r:.80}")
        if size < 0:
            raise ValueError(f"shape must be sizes >= 0, got {size} in {shape!r:.80}")
    return math.prod(int(size) for size in shape) * element_bytes(dtype)


def check_bytes(what: str, n_bytes: int | float, *, instead: str = "") -> int:
    """Refuse, before allocating, anything estimated past the budget.

    ``what`` names the object and its size (``"the (T, T) weights for seq_len=100000"``),
    ``instead`` says what would fit (``"use form='recurrent'"``). Returns ``n_bytes``.
    """
    if not isinstance(what, str):
        raise TypeError(f"what must be a string naming the object, got {what!r:.60}")
    if not isinstance(instead, str):
        raise TypeError(f"instead must be a string (the cheaper form), got {instead!r:.60}")
    n_bytes = _check_n_bytes(n_bytes)
    if n_bytes > _budget:
        advice = f"; {instead}" if instead else ""
        raise ValueError(
            f"{what} would need about {format_bytes(n_bytes)}, over attnviz's memory budget of "
            f"{format_bytes(_budget)}{advice} (or raise the budget with "
            f"attnviz.memory_budget.set_memory_budget or {ENVIRONMENT_VARIABLE})"
        )
    return int(n_bytes)


__all__ = [
    "DEFAULT_BUDGET",
    "ENVIRONMENT_VARIABLE",
    "check_bytes",
    "element_bytes",
    "format_bytes",
    "memory_budget",
    "memory_budget_of",
    "parse_bytes",
    "set_memory_budget",
    "tensor_bytes",
]
