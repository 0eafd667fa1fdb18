"""Argument checks used at the door of every public function.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, the value it got and what is allowed, so a learner never has to read a
stack trace from deep inside torch or numpy.

The checks are the one place that knows the awkward values, so no caller has to:

- ``None`` is refused by name (never silently dropped),
- ``True``/``False`` are not numbers here, even though Python says ``bool`` is an ``int``,
- huge integers (``10**400``) are out of range, not an ``OverflowError`` from ``float()``,
- numpy scalars and 0-d tensors count as the numbers they hold,
- tensors on the ``meta`` device hold no numbers, complex tensors are refused, and
  half-precision tensors are computed in float32 (CPU kernels are slow or missing for them),
- NaN and inf are refused wherever a finite number is needed.

:func:`finite_result` is the exit check: a result that turned NaN from finite inputs
raises instead of reaching a plot.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def _is_tensor(value: Any) -> bool:
    """True for a torch tensor, without importing torch: if torch is not imported yet, no
    tensor exists (so modules that never compute, like plots and exercises, stay light)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def short_repr(value: Any) -> str:
    """A value as an error message shows it: at most 60 characters, huge ints by their digits."""
    if _is_tensor(value) and value.numel() > 1:
        return f"tensor of shape {tuple(value.shape)}"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real message
        text = f"<{type(value).__name__}>"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**24:
        digits = len(text.lstrip("-")) if text[0] in "-0123456789" else "thousands of"
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of {digits} digits"
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return type(value).__name__


def plain_number(value: Any) -> Any:
    """A 0-d tensor, a numpy scalar or a 0-d array as the Python number it holds; any
    other value as it is (the checks then say what is wrong with it)."""
    if _is_tensor(value) and value.dim() == 0 and value.device.type != "meta":
        if value.is_complex():
            return complex(value.item())
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _interval(low, high, low_open=False, high_open=False, fmt="g") -> str:
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    lo = "-inf" if low is None else format(low, fmt)
    hi = "inf" if high is None else format(high, fmt)
    return f"{left}{lo}, {hi}{right}"


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given bounds."""
    value = plain_number(value)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{name} must be a real number, got {short_repr(value)} ({_type_name(value)})"
        )
    bounds = _interval(low, high, low_open, high_open)
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float: outside every bound we use
        raise ValueError(
            f"{name} must be a finite number in {bounds}, got {short_repr(value)}"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be in {bounds}, got {number:g}")
    return number


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int inside ``[low, high]``."""
    value = plain_number(value)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {short_repr(value)} ({_type_name(value)})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {short_repr(value)}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (numpy's bool too)."""
    if isinstance(value, np.bool_):
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(
            f"{name} must be True or False, got {short_repr(value)} ({_type_name(value)})"
        )
    return value


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed`` strings."""
    allowed = tuple(allowed)
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be one of {allowed}, got {short_repr(value)} ({_type_name(value)})"
        )
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {short_repr(value)}")
    return value


def check_text(name: str, value: Any, *, empty: bool = False) -> str:
    """Return ``value`` if it is a string (non-empty unless ``empty``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {short_repr(value)} ({_type_name(value)})")
    if not empty and not value:
        raise ValueError(f"{name} must be a non-empty string, got ''")
    return value


def check_positive_sizes(name: str, shape: Iterable[int]) -> None:
    """Every dimension of ``shape`` is at least one (an empty input has nothing to attend to)."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
        raise TypeError(f"{name} must have a shape (a sequence of sizes), got {short_repr(shape)}")
    shape = tuple(shape)
    if any(size == 0 for size in shape):
        raise ValueError(f"{name} must not be empty, got shape {shape}")


def check_real_tensor(name: str, value: torch.Tensor) -> torch.Tensor:
    """``value`` (a tensor) if it holds real numbers in a dense layout: not on the meta
    device (no numbers at all), not complex, not sparse."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {short_repr(value)}")
    if value.device.type == "meta":
        raise ValueError(f"{name} is a tensor on the meta device, which holds no numbers")
    if value.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    if value.layout != torch.strided:
        raise TypeError(f"{name} must be a dense tensor, got layout {value.layout}")
    return value


def as_tensor(
    name: str,
    value: Any,
    *,
    min_dim: int = 1,
    ndim: int | None = None,
    finite: bool = False,
    nonempty: bool = False,
    layout: str = "",
) -> torch.Tensor:
    """Accept a torch tensor or a numpy array of real numbers; return a floating torch tensor.

    Integer and bool inputs become the default float dtype; float16 and bfloat16 become
    float32. ``ndim`` asks for exactly that many dimensions, ``finite`` refuses NaN and
    inf, ``nonempty`` refuses a zero-sized dimension; ``layout`` (e.g. ``"(B, T, d)"``)
    is named in the shape error.
    """
    import torch

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} must hold real numbers, got a numpy array of dtype {value.dtype}"
            )
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        got = f"{short_repr(value)} ({_type_name(value)})"
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {got}")
    check_real_tensor(name, value)
    shape = tuple(value.shape)
    wanted = f" {layout}" if layout else ""
    if ndim is not None and value.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s){wanted}, got shape {shape}")
    if value.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s){wanted}, got shape {shape}"
        )
    if nonempty:
        check_positive_sizes(name, shape)
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    elif value.dtype in (torch.float16, torch.bfloat16):
        value = value.float()
    if finite and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
    return value


def as_array(name: str, value: Any, *, ndim: int | None = None) -> np.ndarray:
    """Accept a sequence, numpy array or tensor of finite numbers; return a float64 array."""
    import torch

    if value is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta" or value.is_complex():
            raise TypeError(
                f"{name} must hold real numbers, got a {value.dtype} tensor on {value.device}"
            )
        value = (
            value.detach().cpu().float().numpy()
            if value.dtype == torch.bfloat16
            else value.detach().cpu().numpy()
        )
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be an array of numbers, got {short_repr(value)}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {short_repr(value)}") from None
    if raw.dtype.kind in "USVM":  # strings, bytes, records, dates: not numbers
        raise TypeError(
            f"{name} must be an array of numbers, got {short_repr(value)} (dtype {raw.dtype})"
        )
    if raw.dtype.kind == "c":
        raise TypeError(f"{name} must hold real numbers, got complex values")
    try:
        array = np.asarray(raw, dtype=np.float64)
    except OverflowError:
        raise ValueError(
            f"{name} must contain only finite numbers, got {short_repr(value)}"
        ) from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {short_repr(value)}") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain only finite numbers")
    return array


def check_sign(name: str, x: torch.Tensor, *, nonpositive: bool, why: str) -> None:
    """Every entry <= 0 (``nonpositive``) or >= 0, or a ValueError with the first offender."""
    x = as_tensor(name, x, min_dim=0)
    bad = x > 0 if check_bool("nonpositive", nonpositive) else x < 0
    if bool(bad.any()):
        first = x[bad].flatten()[0].item()
        sign = "<= 0" if nonpositive else ">= 0"
        raise ValueError(f"{name} must be {sign} everywhere ({why}), got {first:g}")


def finite_result(what: str, value: Any, *, hint: str = "") -> Any:
    """Return ``value`` (a tensor, array or number) if it holds no NaN or inf.

    Called on a result computed from finite inputs: if it overflowed, the inputs were
    too large for the arithmetic, and the learner hears which and why instead of
    seeing a blank plot. ``hint`` says what to change.
    """
    if _is_tensor(value):
        import torch

        ok = value.numel() == 0 or not value.is_floating_point()
        ok = ok or bool(torch.isfinite(value).all())
    elif isinstance(value, np.ndarray):
        ok = value.size == 0 or value.dtype.kind != "f" or bool(np.all(np.isfinite(value)))
    elif isinstance(value, Real) and not isinstance(value, bool):
        try:
            ok = math.isfinite(float(value))
        except OverflowError:  # an int past a float: it cannot be used as one
            ok = False
    else:
        raise TypeError(f"{what} must be a tensor, an array or a number, got {short_repr(value)}")
    if not ok:
        extra = f": {hint}" if hint else ""
        raise ValueError(
            f"{what} overflowed to NaN or inf from finite inputs (the numbers are too large "
            f"for {_dtype_name(value)} arithmetic){extra}"
        )
    return value


def _dtype_name(value: Any) -> str:
    dtype = getattr(value, "dtype", None)
    return str(dtype).replace("torch.", "") if dtype is not None else "float"


__all__ = [
    "check_real_tensor",
    "plain_number",
    "short_repr",
    "as_array",
    "as_tensor",
    "check_bool",
    "check_choice",
    "check_int",
    "check_positive_sizes",
    "check_real",
    "check_sign",
    "check_text",
    "finite_result",
]
