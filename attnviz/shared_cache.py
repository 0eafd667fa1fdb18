"""Caches that every session of a server shares, each bounded in entries and in bytes.

A served dashboard computes from its parameters alone (the same settings give the same
numbers), so one student's result serves every other student who picks the same settings:
a room that opens a dashboard at its defaults computes them once. ``functools.lru_cache``
bounds only the number of entries, and an entry of lesson 06 at its largest sizes holds a
few MB, so 512 of them could hold over a GB that never comes back. ``shared_cache`` also
bounds the bytes: the arrays and tensors a result holds are counted when it is stored, and
the least recently used results are dropped until both bounds hold (issue #13: every cache
is bounded, and RSS comes back to idle plus these bounds once the room has left).

``caches()`` reports every shared cache (entries, bytes, bounds, hits, misses): ``attnviz
serve``'s ``/health`` and the classroom load test read it. Results are shared, so they must
never be changed by a caller, and a cached function must not return Bokeh or Panel objects
(a model belongs to one session's document).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

_REGISTRY: dict[str, SharedCache] = {}
MAX_ENTRIES = 10**6  # results one cache may keep
MAX_MEGABYTES = 4096  # MB one cache may keep
_MAX_DEPTH = 4  # how deep nbytes looks into containers and objects for arrays


class CacheInfo(NamedTuple):
    """As ``functools.lru_cache``'s ``cache_info()``, with the bytes held and their bound."""

    hits: int
    misses: int
    maxsize: int
    currsize: int
    nbytes: int
    max_bytes: int


def nbytes(value, _depth: int = 0, _seen: set | None = None) -> int:
    """The bytes held by the numpy arrays and torch tensors in ``value``, looking into
    tuples, lists, dicts, dataclasses and objects' attributes a few levels deep (each
    array counted once); anything else counts as its ``sys.getsizeof``."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if type(value).__module__.startswith("torch") and hasattr(value, "element_size"):
        return int(value.element_size() * value.nelement())
    if _depth >= _MAX_DEPTH:
        return sys.getsizeof(value)
    deeper = functools.partial(nbytes, _depth=_depth + 1, _seen=seen)
    if isinstance(value, dict):
        return sum(deeper(k) + deeper(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return sum(map(deeper, value)) + sys.getsizeof(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(deeper(getattr(value, f.name)) for f in dataclasses.fields(value))
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return sum(map(deeper, vars(value).values())) + sys.getsizeof(value)
    return sys.getsizeof(value)


class SharedCache:
    """A least-recently-used cache of one function's results, bounded in entries and bytes."""

    def __init__(self, function: Callable, max_entries: int, max_bytes: int):
        if not callable(function):
            raise TypeError(f"function must be callable, got {type(function).__name__}")
        max_entries = _check_count("max_entries", max_entries, MAX_ENTRIES)
        max_bytes = _check_count("max_bytes", max_bytes, int(MAX_MEGABYTES * 1e6))
        self.function = function
        name = getattr(function, "__qualname__", type(function).__name__)
        self.name = f"{getattr(function, '__module__', None)}.{name}"
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._results: OrderedDict = OrderedDict()  # key -> (result, bytes)
        self._bytes = self.hits = self.misses = 0
        self._lock = threading.RLock()
        functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                self.hits += 1
                return self._results[key][0]
        result = self.function(*args, **kwargs)  # outside the lock: may take a while
        size = nbytes(result)
        with self._lock:
            self.misses += 1
            if key in self._results:  # another thread stored it meanwhile
                return self._results[key][0]
            if size <= self.max_bytes:  # a result over the whole bound is not kept
                self._results[key] = (result, size)
                self._bytes += size
                self._evict()
        return result

    def _evict(self) -> None:
        while self._results and (
            len(self._results) > self.max_entries or self._bytes > self.max_bytes
        ):
            _, (_, size) = self._results.popitem(last=False)
            self._bytes -= size

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(
                self.hits, self.misses, self.max_entries, len(self._results), self._bytes,
                self.max_bytes,
            )  # fmt: skip

    def cache_clear(self) -> None:
        with self._lock:
            self._results.clear()
            self._bytes = self.hits = self.misses = 0


def shared_cache(*, max_entries: int, max_megabytes: float) -> Callable[[Callable], SharedCache]:
    """Decorator: cache a function of hashable arguments for every session, keeping at most
    ``max_entries`` results and ``max_megabytes`` MB of arrays (least recently used go)."""
    max_entries = _check_count("max_entries", max_entries, MAX_ENTRIES)
    if (
        isinstance(max_megabytes, bool)
        or not isinstance(max_megabytes, int | float)
        or not 0 < max_megabytes <= MAX_MEGABYTES
    ):
        raise ValueError(
            f"max_megabytes must be a number in (0, {MAX_MEGABYTES}], got {max_megabytes!r}"
        )

    def decorate(function: Callable) -> SharedCache:
        cache = SharedCache(function, max_entries, int(max_megabytes * 1e6))
        _REGISTRY[cache.name] = cache
        return cache

    return decorate


def _check_count(name: str, value, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        shown = repr(value) if len(repr(value)) <= 40 else f"a {type(value).__name__}"
        raise ValueError(f"{name} must be a positive integer at most {high}, got {shown}")
    return value


def caches() -> dict[str, dict]:
    """Every shared cache by name: entries, MB held, the bounds, hits and misses."""
    report = {}
    for name, cache in sorted(_REGISTRY.items()):
        info = cache.cache_info()
        report[name] = {
            "entries": info.currsize,
            "megabytes": round(info.nbytes / 1e6, 3),
            "max_entries": info.maxsize,
            "max_megabytes": round(info.max_bytes / 1e6, 3),
            "hits": info.hits,
            "misses": info.misses,
        }
    return report


def bound_megabytes() -> float:
    """The most all shared caches together may hold, in MB (what RSS may keep after a room)."""
    return round(sum(cache.max_bytes for cache in _REGISTRY.values()) / 1e6, 3)


__all__ = ["CacheInfo", "SharedCache", "bound_megabytes", "caches", "nbytes", "shared_cache"]
