"""Lesson 01b's dashboard: one layer of the course's trained model, opened up.

It binds its controls to ``attnviz.transformer_layer`` on the lesson's sequence
(``LESSON_TOKENS``) and one of the two shipped lesson models that differ only in how they
know positions: ``induction_2l`` (learned absolute positions) or ``induction_rope``
(RoPE). Four figures:

* **weights**: softmax(q kᵀ / √d_head) of the chosen layer and head, the query row t
  outlined (``plots.Heatmap``);
* **scores**: the same before the softmax, the causal mask's −∞ in grey
  (``plots.SignedMatrix``);
* **row t, moved**: query t's scores over the keys with the sentence at positions 0, 1, ...
  and at offset, offset + 1, ...: one curve under RoPE, two with learned positions;
* **residual stream at t**: the vector x that enters the layer, each head's write and the
  layer's output, d_model numbers each (``plots.SignedMatrix``): the rows above the output
  add up to it.

A readout gives the numbers: how many keys query t sees, how much the offset changed
the weights, and how closely x + Σ head writes rebuilds the model's own layer output.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import panel as pn
import param

from attnviz import plots
from attnviz.dashboards.base import Dashboard
from attnviz.dashboards.threads import one_thread
from attnviz.lesson_models import load_lesson_model
from attnviz.models import TinyTransformer
from attnviz.plots.theme import drop_unused, slim
from attnviz.transformer_layer import LESSON_TOKENS, layer_walkthrough, shift_change

MODELS = {"learned": "induction_2l", "rope": "induction_rope"}
N_TOKENS = len(LESSON_TOKENS)
MAX_OFFSET = 33 - N_TOKENS  # induction_2l's context is 33 positions


@lru_cache(maxsize=2)
def _model(positional: str) -> TinyTransformer:
    """A shipped lesson model, loaded once per process (read-only: no training here)."""
    return load_lesson_model(MODELS[positional])


class TransformerLayerDashboard(Dashboard):
    """One attention layer of a trained model: weights, scores, positions, residual writes."""

    stem = "transformer_layer"  # its lesson in attnviz.lessons: the title and the slug

    positional = param.Selector(default="learned", objects=list(MODELS))
    layer = param.Integer(default=0, bounds=(0, 1))
    head = param.Integer(default=0, bounds=(0, 1))
    query = param.Integer(default=N_TOKENS - 1, bounds=(0, N_TOKENS - 1), doc="query t")
    offset = param.Integer(default=0, bounds=(0, MAX_OFFSET))
    causal = param.Boolean(default=True)

    widget_options = {
        "positional": {"type": pn.widgets.RadioButtonGroup, "name": "positions"},
        "query": {"name": "query position t"},
        "offset": {"name": "move the sentence: offset"},
        "causal": {"name": "causal mask"},
    }

    def __init__(self, **params):
        super().__init__(**params)
        self._readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        empty = np.zeros((N_TOKENS, N_TOKENS))
        self._weights = plots.Heatmap(
            empty, title="attention weights", image=False, width=400, height=360
        )
        drop_unused(slim(self._weights.figure))
        self._scores = plots.SignedMatrix(
            empty, title="scores q·k / √d_head (grey: masked, −∞)", width=400, height=360
        )
        self._row = plots.Curves(
            {"positions 0, 1, …": (np.arange(N_TOKENS), np.zeros(N_TOKENS)),
             "moved by offset": (np.arange(N_TOKENS), np.zeros(N_TOKENS))},
            title="scores of query t, before and after moving the sentence",
            x_label="key (token index in the sentence)",
            y_label="score",
            dashed=("moved by offset",),
            legend_location="bottom_left",
            width=400,
            height=320,
        )  # fmt: skip
        self._stream = plots.SignedMatrix(
            np.zeros((4, 64)),
            title="residual stream at t: input, writes, output",
            x_label="coordinate of d_model",
            y_label="",
            value_label="value",
            width=560,
            height=260,
        )
        self.param.watch(lambda *_: self._update(), list(self._control_names()))
        self._update()

    # -- updates -----------------------------------------------------------------------
    def _update(self) -> None:
        """Compute the layer for the current settings and draw every figure."""
        model = _model(self.positional)
        options = dict(layer=self.layer, causal=self.causal)
        with one_thread():
            walk = layer_walkthrough(model, LESSON_TOKENS, offset=self.offset, **options)
            start = layer_walkthrough(model, LESSON_TOKENS, **options) if self.offset else walk
            change = shift_change(model, LESSON_TOKENS, offset=self.offset, **options)
        h, t = self.head, self.query
        labels = [f"{tok}@{pos}" for tok, pos in zip(walk.tokens, walk.positions, strict=True)]
        names = ["x (in)"] + [f"head {i} writes" for i in range(walk.n_heads)]
        names += ["MLP writes"] * walk.has_mlp + ["output"]
        mlp = [walk.mlp_out[t]] if walk.has_mlp else []
        stream = np.stack([walk.x[t], *walk.head_writes[:, t], *mlp, walk.output[t]])
        with self._hold():
            self._weights.update(walk.weights[h], labels, labels)
            self._weights.mark_row(t)
            self._scores.update(walk.scores[h], labels, labels)
            keys = np.arange(N_TOKENS, dtype=float)
            self._row.update("positions 0, 1, …", keys, _masked_as_gap(start.scores[h, t]))
            self._row.update("moved by offset", keys, _masked_as_gap(walk.scores[h, t]))
            self._stream.update(stream, names, None)
            self._readout.object = self._readout_text(walk, change)

    def _readout_text(self, walk, change: float) -> str:
        t, h = self.query, self.head
        seen = int((walk.weights[h, t] > 0).sum())
        top = int(walk.weights[h, t].argmax())
        model = MODELS[self.positional]
        mask = "causal mask on" if self.causal else "**no mask**: the future leaks in"
        why = "RoPE: only m − n counts" if self.positional == "rope" else "learned positions"
        return (
            f"**{model}**, layer {self.layer}, head {h} ({mask}). Query t = {t} (token "
            f"{walk.tokens[t]} at position {walk.positions[t]}) puts weight on **{seen}** of "
            f"{N_TOKENS} keys, most ({walk.weights[h, t, top]:.3f}) on key {top}.  \n"
            f"Moving the sentence {self.offset} positions later changes a weight by at most "
            f"**{change:.3g}** ({why}).  \n"
            f"Residual stream: x + Σ head writes{' + MLP' if walk.has_mlp else ''} rebuilds "
            f"the layer's output to **{walk.decomposition_gap:.1e}**."
        )

    # -- the Viewer protocol -------------------------------------------------------------
    @property
    def figures(self) -> dict:
        """The figures, by name: ``weights``, ``scores``, ``row`` and ``stream``."""
        return {
            "weights": self._weights.figure,
            "scores": self._scores.figure,
            "row": self._row.figure,
            "stream": self._stream.figure,
        }

    @property
    def readout(self) -> str:
        """The readout's text (markdown)."""
        return self._readout.object

    def __panel__(self):
        panes = [pn.pane.Bokeh(fig, sizing_mode="fixed") for fig in self.figures.values()]
        return pn.Column(
            self._header(),
            self._readout,
            pn.Row(self._control_column(), pn.FlexBox(*panes, max_width=900)),
        )


def _masked_as_gap(row: np.ndarray) -> np.ndarray:
    """A row of scores with the mask's −∞ as NaN: a curve draws a gap there."""
    return np.where(np.isneginf(row), np.nan, row)


def app(**defaults) -> TransformerLayerDashboard:
    """Lesson 01b's dashboard, with any parameter preset (e.g. ``app(positional="rope")``)."""
    return TransformerLayerDashboard(**defaults)


__all__ = ["TransformerLayerDashboard", "app"]
