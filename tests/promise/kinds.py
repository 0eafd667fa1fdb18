"""What an argument is, and the values that follow from it.

A kind gives three sets of values for one argument:

- ``valid(dims)``: a hypothesis strategy of small, ordinary values (the call must return,
  or refuse a combination with ValueError/TypeError, never crash),
- ``edges(dims)``: valid extremes, the documented caps (2**30 tokens, 1e300): here the
  memory budget and the deadline bite,
- ``hostile(dims)``: values that must be *refused* with a ValueError or TypeError whose
  message names the argument (None, wrong types, NaN, 10**400, wrong shapes),
- ``probes(dims)``: values with no single right answer (an empty sequence): the call may
  return or refuse, but only ValueError/TypeError may escape.

Tensor shapes are written with symbols (``Tensor("B T d")``); one :class:`Dims` draw per
call gives every symbol one size, so q, k and v agree unless a hostile value breaks one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

NAN, INF = float("nan"), float("inf")
HUGE = 10**400  # overflows float(): the old checks raised OverflowError

#: Default size range of every shape symbol (overridden per entry).
DEFAULT_DIMS = {"B": (1, 2), "H": (1, 2), "T": (1, 8), "S": (1, 8), "d": (1, 6), "n": (1, 4)}


class _Opaque:
    def __repr__(self) -> str:
        return "<object>"


OBJECT = _Opaque()


@dataclass(frozen=True)
class Dims:
    """One size per shape symbol, shared by every tensor argument of one call."""

    sizes: dict[str, int]

    def shape(self, spec: str) -> tuple[int, ...]:
        return tuple(int(s) if s.isdigit() else self.sizes[s] for s in spec.split())


def dims_strategy(ranges: dict[str, tuple[int, int]]) -> st.SearchStrategy[Dims]:
    merged = {**DEFAULT_DIMS, **ranges}
    return st.fixed_dictionaries({k: st.integers(lo, hi) for k, (lo, hi) in merged.items()}).map(
        Dims
    )


def typical_dims(ranges: dict[str, tuple[int, int]]) -> Dims:
    merged = {**DEFAULT_DIMS, **ranges}
    return Dims({k: min(hi, max(lo, 3)) for k, (lo, hi) in merged.items()})


class Kind:
    """An argument's kind. Subclasses say what is valid, extreme and hostile."""

    def valid(self, dims: Dims) -> st.SearchStrategy:
        raise NotImplementedError

    def edges(self, dims: Dims) -> list[Any]:
        return []

    def hostile(self, dims: Dims) -> list[Any]:
        return [None, OBJECT]

    def probes(self, dims: Dims) -> list[Any]:
        return []


@dataclass(frozen=True)
class Int(Kind):
    """An integer in ``[low, high]``; ``typical`` bounds the ordinary draws."""

    low: int | None = None
    high: int | None = None
    typical: tuple[int, int] | None = None

    def _typical(self) -> tuple[int, int]:
        if self.typical:
            return self.typical
        lo = 0 if self.low is None else self.low
        hi = lo + 8 if self.high is None else min(self.high, lo + 8)
        return lo, hi

    def valid(self, dims):
        lo, hi = self._typical()
        plain = st.integers(lo, hi)
        return st.one_of(plain, plain.map(np.int64), plain.map(torch.tensor))

    def edges(self, dims):
        return [v for v in (self.low, self.high) if v is not None]

    def hostile(self, dims):
        values = [None, OBJECT, True, 2.5, "3", NAN, HUGE, -HUGE]
        if self.low is not None:
            values.append(self.low - 1)
        if self.high is not None:
            values.append(self.high + 1)
        return values


def _below(x: float) -> float:
    return math.nextafter(float(x), -INF)


def _above(x: float) -> float:
    return math.nextafter(float(x), INF)


@dataclass(frozen=True)
class Real(Kind):
    """A finite real number in the given interval."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    typical: tuple[float, float] | None = None

    def _typical(self) -> tuple[float, float]:
        if self.typical:
            return self.typical
        lo = -2.0 if self.low is None else float(self.low)
        hi = lo + 4.0 if self.high is None else float(self.high)
        return lo, hi

    def valid(self, dims):
        lo, hi = self._typical()
        return st.floats(
            lo, hi, exclude_min=self.low_open and lo == self.low,
            exclude_max=self.high_open and hi == self.high, allow_nan=False,
        )  # fmt: skip

    def edges(self, dims):
        values = []
        if self.low is not None and not self.low_open:
            values.append(self.low)
        elif self.low is not None:
            values.append(math.nextafter(self.low, INF))
        else:
            values.append(-1e300)
        if self.high is not None and not self.high_open:
            values.append(self.high)
        elif self.high is not None:
            values.append(math.nextafter(self.high, -INF))
        else:
            values.append(1e300)
        return values

    def hostile(self, dims):
        values = [None, OBJECT, True, "1", NAN, INF, -INF, HUGE, -HUGE, complex(1, 1)]
        if self.low is not None:  # just outside: 1 below, or the next float for huge bounds
            values.append(self.low if self.low_open else min(self.low - 1, _below(self.low)))
        if self.high is not None:
            values.append(self.high if self.high_open else max(self.high + 1, _above(self.high)))
        return values


@dataclass(frozen=True)
class Choice(Kind):
    options: tuple[str, ...]

    def valid(self, dims):
        return st.sampled_from(self.options)

    def hostile(self, dims):
        return [None, OBJECT, 3, "no-such-choice", ""]


@dataclass(frozen=True)
class Bool(Kind):
    def valid(self, dims):
        return st.booleans()

    def hostile(self, dims):
        return [None, OBJECT, "yes", 0.5, 2]


@dataclass(frozen=True)
class Text(Kind):
    """Any string from ``examples`` is valid; other types are hostile."""

    examples: tuple[str, ...] = ("abc",)

    def valid(self, dims):
        return st.sampled_from(self.examples)

    def hostile(self, dims):
        return [None, OBJECT, 3]


@dataclass(frozen=True)
class Tensor(Kind):
    """A float tensor of shape ``spec`` (symbols from :class:`Dims`).

    ``low``/``high`` bound the ordinary values (e.g. ``high=0`` for log-decays);
    ``numpy`` says a numpy array is valid too; ``empty`` says which symbol may be 0 in
    a probe.
    """

    spec: str
    low: float = -2.0
    high: float = 2.0
    numpy: bool = True
    empty: str | None = "T"
    nonfinite_ok: bool = False  # NaN/inf inputs are allowed (e.g. -inf log-weights)

    def _make(self, dims, fill=None, dtype=torch.float32, seed=0):
        shape = dims.shape(self.spec)
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand(shape, generator=gen, dtype=torch.float64)
        x = (self.low + (self.high - self.low) * x).to(dtype)
        if fill is not None and x.numel():
            x.view(-1)[0] = fill
        return x

    def valid(self, dims):
        seeds = st.integers(0, 2**16)
        tensors = seeds.map(lambda s: self._make(dims, seed=s))
        if self.numpy:
            return st.one_of(tensors, tensors.map(lambda x: x.numpy()))
        return tensors

    def edges(self, dims):
        edges = [self._make(dims).double(), self._make(dims).half()]
        big = max(abs(self.low), abs(self.high))
        if big:
            scale = 1e30 / big
            edges.append(self._make(dims) * scale)  # finite, and far past exp's range
        return edges

    def hostile(self, dims):
        shape = dims.shape(self.spec)
        values = [None, OBJECT, "tensor", self._make(dims).to(torch.complex64),
                  torch.empty(shape, device="meta")]  # fmt: skip
        if not self.nonfinite_ok:
            values += [self._make(dims, fill=NAN), self._make(dims, fill=INF)]
        values.append(self._make(dims).unsqueeze(0))  # one dimension too many
        if len(shape) > 1:
            values.append(self._make(dims)[0])  # one too few
        return values

    def probes(self, dims):
        if self.empty is None or self.empty not in self.spec.split():
            return []
        return [self._make(Dims({**dims.sizes, self.empty: 0}))]


@dataclass(frozen=True)
class Sizes(Kind):
    """A shape symbol's size as an int argument (``Sizes("T")``): always agrees with tensors."""

    symbol: str
    low: int = 1
    high: int | None = None

    def valid(self, dims):
        return st.just(dims.sizes[self.symbol])

    def hostile(self, dims):
        values = [None, OBJECT, 2.5, True, HUGE, self.low - 1]
        if self.high is not None:
            values.append(self.high + 1)
        return values


@dataclass(frozen=True)
class Fixed(Kind):
    """Values built by ``factories`` (a model, a mask, a callable); ``bad`` must be refused."""

    factories: tuple[Callable[[], Any], ...]
    bad: tuple[Any, ...] = (None, OBJECT)
    edge_factories: tuple[Callable[[], Any], ...] = ()

    def valid(self, dims):
        return st.sampled_from(self.factories).map(lambda make: make())

    def edges(self, dims):
        return [make() for make in self.edge_factories]

    def hostile(self, dims):
        return list(self.bad)


@dataclass(frozen=True)
class Optional(Kind):
    """``None`` or a value of ``kind``."""

    kind: Kind

    def valid(self, dims):
        return st.one_of(st.none(), self.kind.valid(dims))

    def edges(self, dims):
        return self.kind.edges(dims)

    def hostile(self, dims):
        return [v for v in self.kind.hostile(dims) if v is not None]

    def probes(self, dims):
        return self.kind.probes(dims)


@dataclass(frozen=True)
class Seq(Kind):
    """A list of ``kind`` values, ``length`` long (range), e.g. token ids."""

    kind: Kind
    length: tuple[int, int] = (1, 6)
    hostile_items: bool = True

    def valid(self, dims):
        return st.lists(self.kind.valid(dims), min_size=self.length[0], max_size=self.length[1])

    def hostile(self, dims):
        values = [None, OBJECT, "text"]
        if self.hostile_items:
            values += [[h] for h in self.kind.hostile(dims) if h is not None][:4]
        return values

    def probes(self, dims):
        return [[]]


@dataclass
class Entry:
    """One public callable and the kind of each argument.

    ``name`` is the public dotted path; ``call`` defaults to the object at that path
    (a method or a bound use is given as a lambda). ``args`` are passed by keyword,
    ``positional`` by position (first), ``fixed`` kwargs are always passed as given.
    ``nan_ok`` says why NaN is a legitimate answer; ``examples`` is hypothesis' budget.
    """

    name: str
    args: dict[str, Kind] = field(default_factory=dict)
    call: Callable[..., Any] | None = None
    positional: Sequence[str] = ()
    dims: dict[str, tuple[int, int]] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    nan_ok: str = ""
    examples: int = 15
    deadline: float = 30.0
    allowed: tuple[type[BaseException], ...] = (ValueError, TypeError)
    names: dict[str, str] = field(default_factory=dict)  # arg -> word its messages use

    def resolve(self) -> Callable[..., Any]:
        if self.call is not None:
            return self.call
        import importlib

        module_name, _, attr = self.name.rpartition(".")
        module = importlib.import_module(module_name)
        return getattr(module, attr)


def Receiver(*factories: Callable[[], Any]) -> Fixed:  # noqa: N802 - reads as a kind
    """The object a method is called on (never hostile: ``None.method`` is not our error)."""
    return Fixed(tuple(factories), bad=())
