"""Compare what a lesson prints now with what it printed when it was saved, number by number.

nbval re-runs every lesson and compares each cell's printed text with the saved text.
Results that depend on how a CPU rounds must not be compared exactly: other CPUs and
PyTorch builds round the last bits of matrix products differently, and a printed
``0.1235`` can come out as ``0.123`` or ``0.124``; a model trained for hundreds of steps
carries those bits further. ``lessons/conftest.py`` therefore lets two texts pass when
they are the same words and the same numbers to within:

* one unit in the last printed digit, for every number printed with a decimal point or
  an exponent (``0.114`` matches ``0.115``, not ``0.116``); integers must be equal;
* nothing at all below ``NOISE_FLOOR``: the lessons print float64 round-off errors
  (``2.2e-16``), whose size depends on the CPU, and every genuine value they print is
  larger (the smallest, a decay product of 4e-44, is there to be "negligible");
* a cell's own ``tolerance`` (``abs`` and ``rel``), for the few cells that print the
  results of training; the cell's metadata says what was measured to choose it.

A number is a run of digits with an optional fraction and exponent that is not part of a
word: ``L1H0``, ``induction_2l`` and ``06-same-phi`` hold none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

#: Below this magnitude two printed numbers are both round-off noise, and equal.
NOISE_FLOOR = 1e-9

NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")


def _last_digit(token: str) -> float:
    """The value of one unit in the last printed digit of a float token; 0 for an integer."""
    mantissa, _, exponent = token.lower().partition("e")
    if "." not in mantissa and not exponent:
        return 0.0
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def check_tolerance(tolerance: Any) -> dict[str, float]:
    """A cell's tolerance as ``{"abs": a, "rel": r}``: finite, >= 0, either may be left out."""
    if tolerance is None:
        return {"abs": 0.0, "rel": 0.0}
    if not isinstance(tolerance, Mapping):
        raise TypeError(f"tolerance must be a dict with 'abs' and/or 'rel', got {tolerance!r}")
    unknown = set(tolerance) - {"abs", "rel", "why"}
    if unknown:
        raise ValueError(f"tolerance has unknown keys {sorted(unknown)}; allowed: abs, rel, why")
    checked = {}
    for key in ("abs", "rel"):
        value = tolerance.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"tolerance[{key!r}] must be a number, got {value!r}")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"tolerance[{key!r}] must be finite and >= 0, got {value!r}")
        checked[key] = float(value)
    return checked


def numbers_match(saved: str, printed: str, tolerance: Any = None) -> bool:
    """True when ``printed`` is ``saved`` up to the rounding the module docstring allows."""
    if not isinstance(saved, str) or not isinstance(printed, str):
        raise TypeError("saved and printed must be strings")
    if saved == printed:
        return True
    tol = check_tolerance(tolerance)
    if NUMBER.split(saved) != NUMBER.split(printed):  # the words between the numbers
        return False
    for old, new in zip(NUMBER.findall(saved), NUMBER.findall(printed), strict=True):
        a, b = float(old), float(new)
        if a == b or (abs(a) < NOISE_FLOOR and abs(b) < NOISE_FLOOR):
            continue
        unit = max(_last_digit(old), _last_digit(new))
        allowed = max(unit, tol["abs"] + tol["rel"] * abs(a))
        if abs(a - b) > allowed * (1 + 1e-9):  # the factor absorbs the parse's own rounding
            return False
    return True


__all__ = ["NOISE_FLOOR", "NUMBER", "check_tolerance", "numbers_match"]
