"""The calls made for one table entry, and what counts as breaking the promise.

A *sweep* makes, for every argument, one call per edge, hostile and probe value of its
kind, every other argument drawn valid; *valid draws* are whole calls of ordinary values.
:func:`violation` says what, if anything, a call's outcome broke:

- only ValueError/TypeError (or the entry's ``allowed``) may escape, from any call;
- nothing may allocate past the budget or run past the deadline;
- a hostile value must be refused, with a message naming the argument;
- a result computed from finite inputs must be finite (unless ``nan_ok`` says why not).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .guard import Outcome, nonfinite_in, run_guarded
from .kinds import Dims, Entry, dims_strategy

ROLES = ("edge", "hostile", "probe")


@dataclass
class Case:
    entry: Entry
    kwargs: dict[str, Any]
    role: str  # "valid", "edge", "hostile" or "probe"
    argument: str | None = None
    value: Any = None

    def describe(self) -> str:
        if self.argument is None:
            return f"{self.entry.name}(valid draw)"
        return f"{self.entry.name}({self.argument}={_short(self.value)}) [{self.role}]"

    def run(self) -> Outcome:
        fn = self.entry.resolve()
        args = [self.kwargs[name] for name in self.entry.positional]
        kwargs = {k: v for k, v in self.kwargs.items() if k not in self.entry.positional}
        kwargs.update(self.entry.fixed)
        return run_guarded(
            lambda: fn(*args, **kwargs), allowed=self.entry.allowed, seconds=self.entry.deadline
        )


def _short(value: Any) -> str:
    import numpy as np
    import torch

    if isinstance(value, (torch.Tensor, np.ndarray)):
        dtype = str(value.dtype).replace("torch.", "")
        device = getattr(value, "device", "cpu")
        where = " meta" if str(device) == "meta" else ""
        return f"<{type(value).__name__} {tuple(value.shape)} {dtype}{where}>"
    text = repr(value)
    if isinstance(value, int) and len(text) > 24:
        return "10**400" if value > 0 else "-10**400"
    return text if len(text) <= 40 else text[:37] + "..."


def draw_valid(data: st.DataObject, entry: Entry, dims: Dims) -> dict[str, Any]:
    return {name: data.draw(kind.valid(dims), label=name) for name, kind in entry.args.items()}


def sweep(data: st.DataObject, entry: Entry) -> Iterator[Case]:
    """Every edge, hostile and probe value of every argument, the others drawn valid."""
    for name, kind in entry.args.items():
        for role in ROLES:
            dims = data.draw(dims_strategy(entry.dims), label="dims")
            values = {"edge": kind.edges, "hostile": kind.hostile, "probe": kind.probes}[role]
            for value in values(dims):
                kwargs = draw_valid(data, entry, dims)
                kwargs[name] = value
                yield Case(entry, kwargs, role, name, value)


def valid_case(data: st.DataObject, entry: Entry) -> Case:
    dims = data.draw(dims_strategy(entry.dims), label="dims")
    return Case(entry, draw_valid(data, entry, dims), "valid")


def violation(case: Case, outcome: Outcome) -> str | None:
    """What the outcome broke, or None."""
    if outcome.status in ("escaped", "over budget", "over deadline"):
        return f"{outcome.status}: {outcome.message[:300]}"
    if case.role == "hostile":
        if outcome.status == "returned":
            return "accepted a value it must refuse"
        words = [case.argument, case.entry.names.get(case.argument, case.argument)]
        if not any(word in str(outcome.error) for word in words):
            return f"refused without naming {case.argument!r}: {outcome.message[:200]}"
        return None
    if outcome.status == "returned" and not case.entry.nan_ok:
        where = nonfinite_in(outcome.result)
        if where:
            return f"returned NaN/inf from finite inputs (at {where})"
    return None
