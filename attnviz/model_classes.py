"""The model classes the course compares, listed once (lesson 06).

Softmax attention, linear attention (plain, with a learned normaliser, gated), S6 and SSD
(Mamba), the qLSTM and RG-LRU. For each: its kind in ``attnviz.dsf``, the label every
figure and table shows, which settings act on it, the mixer that trains it in the MQAR
sweep (``attnviz.mixers``, ``attnviz.state_size``) if one does, and its colour and marker
in every figure. Lesson 06's dashboard, its figures (``attnviz.plots.dsf``) and the lesson
read this table; nothing else keeps a list of the classes' names.

The settings (``SETTINGS``) are lesson 06's controls: ``n``, the state expansion (features
per channel); ``feature_map``, the attention classes' φ; ``normalize``, linear attention's
division by η_i; ``gate``, the bias of the forget gates (larger keeps more of the past).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from attnviz.validation import check_bool, check_choice, check_int, check_real, check_text

SETTINGS = ("n", "feature_map", "normalize", "gate")


@dataclass(frozen=True)
class ModelClass:
    """One class of sequence model: its names, what acts on it, how it is drawn."""

    kind: str  # its name in attnviz.dsf.KINDS
    label: str  # what figures and tables call it
    settings: tuple[str, ...]  # those of SETTINGS that change it
    mixer: str | None  # its name in attnviz.mixers.MIXERS, if the MQAR sweep trains it
    color: str  # Okabe-Ito, black and grey: one colour per class (MQAR's four as in the README)
    marker: str  # its dots, where several classes share a figure


CLASSES: tuple[ModelClass, ...] = (
    ModelClass("softmax", "softmax attention", ("n",), "attention", "#0072b2", "star"),
    ModelClass("linear_attention", "linear attention", ("n", "feature_map", "normalize"),
               "linear_attention", "#d55e00", "circle"),
    ModelClass("normalized_attention", "normalised attention (learned)", ("n", "feature_map"),
               None, "#e69f00", "diamond"),
    ModelClass("gated_linear_attention", "gated linear attention", ("n", "feature_map", "gate"),
               None, "#56b4e9", "inverted_triangle"),
    ModelClass("s6", "S6 (Mamba)", ("n", "gate"), "s6", "#009e73", "triangle"),
    ModelClass("ssd", "SSD (Mamba-2)", ("n", "gate"), None, "#000000", "hex"),
    ModelClass("qlstm", "qLSTM", ("gate",), "qlstm", "#cc79a7", "square"),
    ModelClass("rg_lru", "RG-LRU (Griffin)", ("gate",), None, "#999999", "plus"),
)  # fmt: skip

BY_KIND = {model.kind: model for model in CLASSES}
BY_MIXER = {model.mixer: model for model in CLASSES if model.mixer}


def model_class(name: str) -> ModelClass:
    """The class with this DSF kind or MQAR mixer name (``"softmax"`` or ``"attention"``)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a class's kind or mixer name (a str), got {name!r}")
    found = BY_KIND.get(name) or BY_MIXER.get(name)
    if found is None:
        known = ", ".join([*BY_KIND, *(m for m in BY_MIXER if m not in BY_KIND)])
        raise ValueError(
            f"name must be a model class's kind or mixer name: no model class {name!r}; "
            f"known: {known}"
        )
    return found


def acted_on_by(setting: str) -> tuple[str, ...]:
    """The kinds that ``setting`` (one of ``SETTINGS``) changes, in table order."""
    setting = check_choice("setting", setting, SETTINGS)
    return tuple(model.kind for model in CLASSES if setting in model.settings)


def labels(names) -> dict[str, str]:
    """{name: label} for kinds or mixer names, e.g. ``labels(sweep.mixers())``."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(
            f"names must be an iterable of kinds or mixer names, got {type(names).__name__}"
        )
    out = {}
    for name in names:
        try:
            out[name] = model_class(name).label
        except (TypeError, ValueError) as error:
            raise type(error)(f"names: {error}") from None
    return out


def settings_of(kind: str, n: int, feature_map: str, normalize: bool, gate: float) -> tuple:
    """(n, feature_map, normalize, gate) with None for each setting that does not act on
    ``kind``: two settings that differ only where the class does not look are equal, so a
    cache keyed on them computes the class once. ``n`` is at least 1, ``feature_map`` a
    name, ``normalize`` a bool and ``gate`` a finite number (lesson 06's controls)."""
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a class's kind (a str), got {kind!r}")
    kind = check_choice("kind", kind, tuple(BY_KIND))
    n = check_int("n", n, low=1, high=2**31)
    feature_map = check_text("feature_map", feature_map)
    normalize = check_bool("normalize", normalize)
    gate = check_real("gate", gate)
    acts = model_class(kind).settings
    values = {"n": n, "feature_map": feature_map, "normalize": normalize, "gate": gate}
    return tuple(values[name] if name in acts else None for name in SETTINGS)


__all__ = [
    "BY_KIND",
    "BY_MIXER",
    "CLASSES",
    "SETTINGS",
    "ModelClass",
    "acted_on_by",
    "labels",
    "model_class",
    "settings_of",
]
