"""The checks at the door of every figure builder and update method (the argument promise).

A figure is given data by a dashboard or by a learner's own code; a wrong shape, a label
too few or an empty mapping must be refused here, naming the argument, rather than end
in an ``IndexError`` deep inside Bokeh's data handling. General checks live in
``attnviz.validation``; these add what figures need beyond them: arrays that may hold
NaN (a line drawn with a gap), sequences of labels of a given length, optional numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from attnviz.validation import (  # noqa: F401 - check_bool: re-exported for the figures
    as_array,
    check_bool,
    check_int,
    check_real,
    check_text,
    short_repr,
)

#: The most values one figure draws (a 4,096-token map is 16.8 M cells; this is 4x that):
#: a figure is sent to a browser, and past this it would freeze the page.
MAX_VALUES = 2**26


def values(
    name: str,
    value: Any,
    *,
    ndim: int | None = None,
    finite: bool = True,
    nan_ok: bool = False,
    nonempty: bool = False,
) -> np.ndarray:
    """``value`` (a sequence, numpy array or tensor of real numbers) as a float64 array.

    ``finite=False`` lets NaN and inf through (a curve drawn with a gap, a divergent
    run drawn off the axis); ``nan_ok`` lets NaN through but not inf (a map's cell with
    no value, drawn grey); ``ndim`` asks for that many dimensions, ``nonempty`` for at
    least one value.
    """
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be numbers, got {short_repr(value)} ({type(value).__name__})")
    if finite and not nan_ok:
        array = as_array(name, value)
    else:
        array = _any_array(name, value)
        if finite and np.isinf(array).any():
            raise ValueError(
                f"{name} must not contain inf (NaN is allowed: a cell with no value, drawn grey)"
            )
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if array.size > MAX_VALUES:
        raise ValueError(
            f"{name} has {array.size:,} values, more than a figure draws ({MAX_VALUES:,}); "
            "pool it first (attnviz.maps.downsample)"
        )
    if nonempty and array.size == 0:
        raise ValueError(f"{name} must hold at least one value, got shape {array.shape}")
    return array


def _any_array(name: str, value: Any) -> np.ndarray:
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {short_repr(value)}")
    if _is_tensor(value):  # plots import no torch (they never compute): known by its type
        if value.device.type == "meta" or value.is_complex():
            raise TypeError(
                f"{name} must hold real numbers, got a {value.dtype} tensor on {value.device}"
            )
        value = value.detach().cpu().float().numpy()
    if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got a numpy array of dtype {value.dtype}")
    try:
        return np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise ValueError(
            f"{name} holds a number too large for a float: {short_repr(value)}"
        ) from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {short_repr(value)}") from None


def _is_tensor(value: Any) -> bool:
    return any(
        cls.__module__ == "torch" and cls.__name__ == "Tensor" for cls in type(value).__mro__
    )


def labels(name: str, value: Any, n: int) -> list[str] | None:
    """``value`` (None, or a sequence of ``n`` labels, each shown with ``str``) as strings."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a sequence of {n} labels (a list or tuple, not a string), "
            f"got {short_repr(value)} ({type(value).__name__})"
        )
    if len(value) != n:
        raise ValueError(f"{name} must hold {n} labels, one per row or column, got {len(value)}")
    return [str(item) for item in value]


def names(name: str, value: Any, *, nonempty: bool = True) -> list[str]:
    """A sequence of distinct strings (series names), not a string itself."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a sequence of names (a list or tuple of strings), "
            f"got {short_repr(value)} ({type(value).__name__})"
        )
    value = list(value)
    for item in value:
        check_text(f"each of {name}", item, empty=True)
    if nonempty and not value:
        raise ValueError(f"{name} must name at least one series, got none")
    if len(set(value)) != len(value):
        raise ValueError(f"{name} must be distinct, got {value}")
    return value


def mapping(name: str, value: Any, *, nonempty: bool = False) -> Mapping:
    """A mapping (a dict), non-empty if asked."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (a dict), got {short_repr(value)}")
    if nonempty and not value:
        raise ValueError(f"{name} must not be empty, got {{}}")
    return value


def text_mapping(name: str, value: Any) -> dict[str, str]:
    """None or a mapping of names to labels, as a dict of strings."""
    if value is None:
        return {}
    return {str(k): str(v) for k, v in mapping(name, value).items()}


def optional_real(name: str, value: Any, **bounds) -> float | None:
    """None, or a finite real number (within ``bounds``)."""
    return None if value is None else check_real(name, value, **bounds)


def optional_int(name: str, value: Any, **bounds) -> int | None:
    """None, or an integer (within ``bounds``)."""
    return None if value is None else check_int(name, value, **bounds)


def is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def series(name: str, value: Any, *, lengths: tuple[int, ...] = (2,), finite: bool = False):
    """One series: a tuple of 1-D arrays of one length (``(x, y)``, ``(x, y, low, high)``)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a tuple of arrays ({' or '.join(map(str, lengths))} of them), "
            f"got {short_repr(value)}"
        )
    if len(value) not in lengths:
        raise ValueError(
            f"{name} must be a tuple of {' or '.join(map(str, lengths))} arrays, got {len(value)}"
        )
    arrays = [values(name, a, ndim=1, finite=finite) for a in value]
    if len({a.size for a in arrays}) > 1:
        raise ValueError(f"{name}'s arrays must be of one length, got {[a.size for a in arrays]}")
    return arrays


__all__: list[str] = []  # private: the figures' own checks, no public API
