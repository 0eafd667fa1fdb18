"""Bokeh figure builders shared by every dashboard. No computation lives here.

Each builder returns a small view object holding the figure and the data
sources it draws from; ``update(...)`` swaps the data in place, so a dashboard
changes numbers without rebuilding figures (the browser keeps its zoom and the
update is one small message). Colours come from Viridis, which stays readable
for colour-blind viewers and in greyscale.

The modules, by lesson (import from ``attnviz.plots``; the modules are the map):

* ``theme`` — the shared look: :func:`themed_figure`, the palettes and colours more
  than one lesson uses (``PALETTE``, ``SERIES_COLORS``, ``SCORE_COLORS``,
  ``SELECTED_COLOR``, ``DIVERGING``), ``FONT``, ``MAX_TICK_LABELS``.
* ``figures`` — the general builders: :class:`Heatmap`, :class:`Curves`,
  :class:`Bars`, :func:`head_label`, and the helpers the lesson modules build on.
* ``attention_maps`` (lesson 02) — :class:`HeadGrid`, :class:`LongHeadView`, :class:`HeadBars`.
* ``head_jobs`` (lesson 03) — :class:`ScoreHeatmap`, :class:`TrainingCurves`.
* ``receptive_fields`` (lesson 04) — :class:`ReachMap`, :class:`ReachStrip`,
  :class:`PatternCurves`, :func:`layer_palette`.
* ``associative_memory`` (lesson 05) — :class:`BandCurves`, :class:`SignedHeatmap`,
  :class:`ItemBars`, :class:`StrengthCurves`, :func:`stimulus_colors`,
  :func:`experiment_strengths`, :func:`criterion_curves`.
* ``dsf`` (lesson 06) — :class:`PhiGrid`, :class:`ClassCurves`,
  :func:`recall_vs_state`, :func:`transition_trace`, ``MIXER_STYLES``.
* ``transformer_layer`` (lesson 01b) — :class:`SignedMatrix` (scores with the mask's −∞ in
  grey, the scores of one token pair by position).
* ``fast_kernels`` (lesson 07) — :class:`OnlineSoftmaxView`, :class:`ChunkView`,
  :class:`CostChart`, :class:`SpeedupScatter`.
* ``attention_sinks`` (lesson 08) — :class:`PassageMap`, :class:`HeadValueGrid`,
  :class:`PolicyCurves`, :class:`HeadRanking`, :class:`MixedCacheCurve`, :class:`TwinBars`.

Lesson 01 draws with the general builders only. The modules import in one
direction: theme, then figures, then the lesson modules, which never import
each other.
"""

from __future__ import annotations

from attnviz.plots.associative_memory import (
    GROUP_DASHES,
    MISSING_COLOR,
    BandCurves,
    ItemBars,
    SignedHeatmap,
    StrengthCurves,
    criterion_curves,
    experiment_strengths,
    stimulus_colors,
)
from attnviz.plots.attention_maps import ZOOM_TICK_LABELS, HeadBars, HeadGrid, LongHeadView
from attnviz.plots.attention_sinks import (
    HeadRanking,
    HeadValueGrid,
    MixedCacheCurve,
    PassageMap,
    PolicyCurves,
    TwinBars,
)
from attnviz.plots.dsf import (
    CLASS_COLORS,
    MIXER_STYLES,
    ROW_COLOR,
    ClassCurves,
    PhiGrid,
    recall_vs_state,
    transition_trace,
)
from attnviz.plots.fast_kernels import ChunkView, CostChart, OnlineSoftmaxView, SpeedupScatter
from attnviz.plots.figures import MAX_RECT_CELLS, Bars, Curves, Heatmap, head_label
from attnviz.plots.head_jobs import ROLE_TEXT_DARK, ROLE_TEXT_LIGHT, ScoreHeatmap, TrainingCurves
from attnviz.plots.receptive_fields import (
    FUTURE_COLOR,
    NEVER_COLOR,
    PatternCurves,
    ReachMap,
    ReachStrip,
    layer_palette,
)
from attnviz.plots.theme import (
    DIVERGING,
    FONT,
    MAX_TICK_LABELS,
    PALETTE,
    SCORE_COLORS,
    SELECTED_COLOR,
    SERIES_COLORS,
    themed_figure,
)
from attnviz.plots.transformer_layer import MASKED_COLOR, SignedMatrix

__all__ = [
    "CLASS_COLORS",
    "DIVERGING",
    "FONT",
    "FUTURE_COLOR",
    "GROUP_DASHES",
    "MASKED_COLOR",
    "MAX_RECT_CELLS",
    "MAX_TICK_LABELS",
    "MISSING_COLOR",
    "MIXER_STYLES",
    "NEVER_COLOR",
    "PALETTE",
    "ROLE_TEXT_DARK",
    "ROLE_TEXT_LIGHT",
    "ROW_COLOR",
    "SCORE_COLORS",
    "SELECTED_COLOR",
    "SERIES_COLORS",
    "ZOOM_TICK_LABELS",
    "BandCurves",
    "Bars",
    "ChunkView",
    "ClassCurves",
    "CostChart",
    "Curves",
    "HeadBars",
    "HeadGrid",
    "HeadRanking",
    "HeadValueGrid",
    "Heatmap",
    "ItemBars",
    "LongHeadView",
    "MixedCacheCurve",
    "OnlineSoftmaxView",
    "PassageMap",
    "PatternCurves",
    "PhiGrid",
    "PolicyCurves",
    "ReachMap",
    "ReachStrip",
    "ScoreHeatmap",
    "SignedHeatmap",
    "SignedMatrix",
    "SpeedupScatter",
    "StrengthCurves",
    "TrainingCurves",
    "TwinBars",
    "criterion_curves",
    "experiment_strengths",
    "head_label",
    "layer_palette",
    "recall_vs_state",
    "stimulus_colors",
    "themed_figure",
    "transition_trace",
]
