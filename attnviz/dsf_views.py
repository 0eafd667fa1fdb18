"""Every model class on one seeded input, as lesson 06's dashboard shows it.

One seeded random input u (T tokens, d channels) and seeded random weights for every class
(``dsf.nested_weights``: a smaller size keeps the rest of the draw) go through
``attnviz.dsf``'s builders (``dsf.nested_system``). For each class this computes its
implicit attention matrix Φ per channel, the contributions (Φ_ij u_j)[c] whose row i sums
to y_i[c], the recurrence's own output (``DSF.run``, the definition) and the decay profile.
Each class is computed once per (input, the settings that act on it:
``model_classes.settings_of``) and cached, so changing a setting recomputes only the
classes it acts on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnviz import dsf
from attnviz.model_classes import SETTINGS, model_class
from attnviz.shared_cache import shared_cache
from attnviz.validation import check_bool, check_choice, check_int, check_real, check_text


@dataclass(frozen=True)
class ClassView:
    """What lesson 06 shows of one class (numpy, read-only)."""

    kind: str
    label: str
    state_size: float  # N, math.inf for softmax
    n: int | None  # features per channel (after the feature map), None for d-state classes
    phi: np.ndarray  # per channel, (d, T, T)
    contributions: np.ndarray  # (Φ_ij u_j)[c], (d, T, T): row i sums to y_i[c]
    recurrence: np.ndarray | None  # DSF.run(u), (T, d); None for softmax
    decay: np.ndarray | None  # decay profile against the lag, (T,); None for softmax
    settings: tuple = ()  # model_classes.settings_of's, for phi_summary
    note: str = ""

    def _check(self, i: int, c: int) -> tuple[int, int]:
        d, T = self.phi.shape[0], self.phi.shape[1]
        return check_int("i", i, low=0, high=T - 1), check_int("c", c, low=0, high=d - 1)

    def output(self, i: int, c: int) -> float:
        """y_i[c]: the recurrence's (DSF.run), or Φu's for softmax (no finite state)."""
        i, c = self._check(i, c)
        if self.recurrence is not None:
            return float(self.recurrence[i, c])
        return float(self.contributions[c, i].sum())

    def build_up(self, i: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """(k, Σ_{j<=k} (Φ_ij u_j)[c]) for k = 0..i: y_i[c] summed input by input."""
        i, c = self._check(i, c)
        return np.arange(i + 1), np.cumsum(self.contributions[c, i, : i + 1])


def _cached(name: str, max_megabytes: float):
    """``shared_cache`` under the public name (its report's key): the public function checks
    its arguments, then calls this cached one."""

    def wrap(function):
        function.__name__ = function.__qualname__ = name
        return shared_cache(max_entries=64, max_megabytes=max_megabytes)(function)

    return wrap


def _checked(kind: str, T: int, d: int, seed: int, settings: tuple) -> tuple:
    """The arguments of the functions below, checked (they are cache keys too)."""
    kind = check_choice("kind", kind, dsf.KINDS)
    max_t, max_d, max_n = dsf.NESTED_LIMITS
    T = check_int("T", T, low=1, high=max_t)
    d = check_int("d", d, low=1, high=max_d)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    if not isinstance(settings, tuple) or len(settings) != len(SETTINGS):
        raise TypeError(
            f"settings must be a tuple {SETTINGS} (model_classes.settings_of), got {settings!r}"
        )
    n, feature_map, normalize, gate = settings
    settings = (
        None if n is None else check_int("settings n", n, low=1, high=max_n),
        None if feature_map is None else check_text("settings feature_map", feature_map),
        None if normalize is None else check_bool("settings normalize", normalize),
        None if gate is None else check_real("settings gate", gate, low=-100.0, high=100.0),
    )
    return kind, T, d, seed, settings


def class_system(kind: str, T: int, d: int, seed: int, settings: tuple):
    """``dsf.nested_system`` with ``settings`` (cached): (the system, a note or '').

    Normalisation with a feature map that is not positive (η_i <= 0) falls back to the
    unnormalised class, and the note says so. ``T``, ``d`` and the settings' ``n`` are at
    most ``dsf.NESTED_LIMITS``; the settings' gate is in [-100, 100]."""
    return _class_system(*_checked(kind, T, d, seed, settings))


@_cached("class_system", max_megabytes=48)
def _class_system(kind: str, T: int, d: int, seed: int, settings: tuple):
    n, feature_map, normalize, gate = settings
    try:
        system = dsf.nested_system(
            kind, T, d, seed, n or 1, feature_map, bool(normalize), gate or 0.0
        )
    except ValueError as error:
        if not normalize:
            raise
        note = f"linear attention is shown unnormalised: {error}"
        return dsf.nested_system(kind, T, d, seed, n or 1, feature_map, False, 0.0), note
    return system, ""


def class_view(kind: str, T: int, d: int, seed: int, settings: tuple) -> ClassView:
    """One class on the seeded input with its own settings (cached); arguments as
    :func:`class_system`'s."""
    return _class_view(*_checked(kind, T, d, seed, settings))


@_cached("class_view", max_megabytes=48)
def _class_view(kind: str, T: int, d: int, seed: int, settings: tuple) -> ClassView:
    system, note = _class_system(kind, T, d, seed, settings)
    u = dsf.nested_weights(T, d, settings[0] or 1, seed)["u"]
    phi = system.phi_channels()  # (d, T, T)
    contributions = system.contributions(u)  # (Φ_ij u_j)[c], (d, T, T)
    is_dsf = isinstance(system, dsf.DSF)
    return ClassView(
        kind=kind,
        label=model_class(kind).label if kind != "linear_attention" else system.label,
        state_size=system.state_size,
        n=system.n if is_dsf and "n" in model_class(kind).settings else None,
        phi=phi.numpy(),
        contributions=contributions.numpy(),
        recurrence=system.run(u).numpy() if is_dsf else None,
        decay=system.decay_profile().numpy() if is_dsf else None,
        settings=settings,
        note=note,
    )


def phi_summary(kind: str, T: int, d: int, seed: int, settings: tuple) -> np.ndarray:
    """``phi_summary()`` of the class, rms over channels, (T, T) (cached, on demand);
    arguments as :func:`class_system`'s."""
    return _phi_summary(*_checked(kind, T, d, seed, settings))


@_cached("phi_summary", max_megabytes=8)
def _phi_summary(kind: str, T: int, d: int, seed: int, settings: tuple) -> np.ndarray:
    return _class_system(kind, T, d, seed, settings)[0].phi_summary().numpy()


for _public, _cache in (
    (class_system, _class_system), (class_view, _class_view), (phi_summary, _phi_summary)
):  # fmt: skip
    _public.cache_clear, _public.cache_info = _cache.cache_clear, _cache.cache_info

__all__ = ["ClassView", "class_system", "class_view", "phi_summary"]
