"""Lesson 08 (attention sinks and long context): the figures of sinks, caches and heads.

``PassageMap`` draws one head's attention on a held-out passage with a character per row
and column (the first token shown as ⟨bos⟩), the keys its cache dropped in grey.
``HeadValueGrid`` draws one number per head (layers down, heads across) with the value
written in each cell and the heads over a threshold outlined: the sink score α₁ against
Gu et al.'s ε (When Attention Sink Emerges, arXiv:2410.10781). ``PolicyCurves`` draws loss
by position under each cache policy with the training length marked (StreamingLLM, Xiao
et al., arXiv:2309.17453). ``HeadRanking`` draws one bar per head (Wu et al.'s retrieval
score, arXiv:2404.15574, or DuoAttention's loss increase, Xiao et al., arXiv:2410.10819).
``MixedCacheCurve`` draws a mixed cache's loss against the memory it keeps, and
``TwinBars`` the twin models' sink rates and held-out losses side by side.

Nothing is computed here: the numbers come from ``attnviz.sinks``, ``attnviz.streaming``
and ``attnviz.retrieval_heads``. Example::

    from attnviz.plots.attention_sinks import PolicyCurves
    curves = PolicyCurves(["window 64", "1 sink + window 64", "full"], train_length=256)
    curves.update([32, 96], {"window 64": [1.9, 3.5], "1 sink + window 64": [1.9, 2.0],
                             "full": [1.9, 2.1]})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.models import (
    BasicTickFormatter,
    ColumnDataSource,
    FactorRange,
    HoverTool,
    LegendItem,
    Range1d,
    Span,
)

from attnviz.plots import _checks
from attnviz.plots.figures import Heatmap, _legend_below, head_label
from attnviz.plots.theme import SCORE_COLORS, SELECTED_COLOR, palette_mapper, themed_figure

MAX_HEADS = 4096  # heads one grid or ranking draws
MAX_POLICIES = len(SCORE_COLORS)  # one colour per cache policy (Okabe-Ito, no yellow)
BAR_COLOR = SCORE_COLORS[0]  # a head's bar; the marked ones in SELECTED_COLOR
SINK_LINE_COLOR = SELECTED_COLOR  # cells over the threshold, the marked head
TEXT_ON_DARK, TEXT_ON_LIGHT = "#ffffff", "#222222"  # a cell's number on either end of Viridis


class PassageMap:
    """One head's attention weights on a passage of real text, a character per token.

    Rows are queries, columns keys; a NaN weight (a key the head's cache no longer holds)
    is drawn grey. Built on ``Heatmap``, with the title naming the head and its cache; a
    new map of the passage drawn last sends only its weights (the labels stay).
    """

    def __init__(self, *, width: int = 600, height: int = 580) -> None:
        width = _checks.check_int("width", width, low=100, high=4000)
        height = _checks.check_int("height", height, low=100, high=4000)
        self.heatmap = Heatmap(
            np.zeros((1, 1)),
            title="attention of one head",
            x_label="key (character)",
            y_label="query (character)",
            max_tick_labels=64,
            image=False,
            width=width,
            height=height,
        )
        self.figure = self.heatmap.figure
        self.heatmap.mapper.nan_color = "#cccccc"
        self._drawn: tuple[int, list[str]] | None = None  # (tokens, labels) drawn last

    def update(self, weights, labels: Sequence[str], *, title: str = "") -> None:
        """Draw ``weights`` (T, T), ``labels`` one per token (BOS first), under ``title``."""
        weights = _checks.values("weights", weights, ndim=2, nan_ok=True)
        if weights.shape[0] != weights.shape[1]:
            raise ValueError(f"weights must be square (queries = keys), got {weights.shape}")
        labels = _checks.labels("labels", labels, weights.shape[0])
        title = _checks.check_text("title", title, empty=True)
        if (weights.shape[0], labels) == self._drawn:  # the same passage: new weights only
            self.heatmap.cells.data["weight"] = weights.ravel()
            finite = weights[np.isfinite(weights)]
            top = float(finite.max()) if finite.size else 0.0
            self.heatmap.mapper.high = top if top > 0 else 1.0
        else:
            self.heatmap.update(weights, labels, labels)
            self._drawn = (weights.shape[0], labels)
        self.figure.title.text = title or "attention of one head"


class HeadValueGrid:
    """One value per head on a layers × heads grid, each value written in its cell.

    ``threshold`` outlines the heads above it (a sink: α₁ > ε); ``mark((layer, head))``
    outlines one head (the one picked) in a thicker line.
    """

    def __init__(
        self,
        *,
        title: str = "first-token sink score α₁ per head",
        value_label: str = "α₁",
        high: float | None = 1.0,
        cell_px: int = 70,
    ) -> None:
        self.value_label = _checks.check_text("value_label", value_label)
        self.high = _checks.optional_real("high", high, low=0, low_open=True)
        self.cell_px = _checks.check_int("cell_px", cell_px, low=10, high=400)
        self.mapper = palette_mapper(low=0.0, high=self.high or 1.0)
        self.source = ColumnDataSource(
            data=dict(x=[], y=[], value=[], text=[], text_color=[], head=[], line=[], line_width=[])
        )
        fig = themed_figure(
            title=_checks.check_text("title", title),
            x_range=Range1d(-0.5, 0.5),
            y_range=Range1d(0.5, -0.5),
            tools="save",
            width=2 * cell_px + 90,
            height=2 * cell_px + 80,
        )
        fig.rect("x", "y", 0.94, 0.94, source=self.source,
                 fill_color={"field": "value", "transform": self.mapper},
                 line_color="line", line_width="line_width")  # fmt: skip
        fig.text("x", "y", text="text", source=self.source, text_align="center",
                 text_baseline="middle", text_font_size="11px",
                 text_color="text_color")  # fmt: skip
        fig.add_tools(HoverTool(tooltips=[("head", "@head"), (self.value_label, "@value{0.000}")]))
        fig.grid.visible = False
        fig.xaxis.axis_label = "head"
        fig.yaxis.axis_label = "layer"
        self.figure = fig
        self.threshold: float | None = None
        self.marked: tuple[int, int] | None = None
        self._values = np.zeros((0, 0))

    def update(self, values, *, threshold: float | None = None) -> None:
        """Draw ``values`` (L, H), the heads above ``threshold`` (None: none) outlined."""
        values = _checks.values("values", values, ndim=2, nonempty=True)
        if values.size > MAX_HEADS:
            raise ValueError(f"values must hold at most {MAX_HEADS} heads, got {values.size}")
        self.threshold = _checks.optional_real("threshold", threshold)
        self._values = values
        n_layers, n_heads = values.shape
        top = self.high if self.high is not None else float(np.abs(values).max()) or 1.0
        self.mapper.update(low=min(0.0, float(values.min())), high=max(top, float(values.max())))
        self._draw()
        fig = self.figure
        fig.x_range.update(start=-0.5, end=n_heads - 0.5)
        fig.y_range.update(start=n_layers - 0.5, end=-0.5)
        fig.update(width=n_heads * self.cell_px + 90, height=n_layers * self.cell_px + 80)
        for axis, n in ((fig.xaxis[0], n_heads), (fig.yaxis[0], n_layers)):
            axis.ticker = list(range(n))

    def mark(self, head: tuple[int, int] | None) -> None:
        """Outline ``head``, a (layer, head) pair of the grid drawn, or none (None)."""
        if head is None:
            self.marked = None
        else:
            layer, index = _head_pair("head", head)
            n_layers, n_heads = self._values.shape
            _checks.check_int("head's layer", layer, low=0, high=max(n_layers - 1, 0))
            _checks.check_int("head's index", index, low=0, high=max(n_heads - 1, 0))
            self.marked = (layer, index)
        self._draw()

    def _draw(self) -> None:
        values = self._values
        n_layers, n_heads = values.shape
        layers, heads = np.divmod(np.arange(values.size), max(n_heads, 1))
        over = (
            values.ravel() > self.threshold
            if self.threshold is not None
            else np.zeros(values.size, bool)
        )
        low, high = self.mapper.low, self.mapper.high
        light = values.ravel() > low + 0.6 * (high - low)  # Viridis turns light: dark text
        pairs = [(int(layer), int(head)) for layer, head in zip(layers, heads, strict=True)]
        marked = [pair == self.marked for pair in pairs]
        self.source.data = dict(
            x=heads, y=layers, value=values.ravel(),
            text=[f"{v:.2f}" for v in values.ravel()],
            text_color=np.where(light, TEXT_ON_LIGHT, TEXT_ON_DARK).tolist(),
            head=[head_label(*pair) for pair in pairs],
            line=["#000000" if m else SINK_LINE_COLOR if o else None
                  for m, o in zip(marked, over, strict=True)],
            line_width=[4 if m else 2 for m in marked],
        )  # fmt: skip


class PolicyCurves:
    """Loss against position, one line per cache policy; the training length marked.

    ``show(labels)`` draws only the lines named (the others emptied, their legend kept).
    """

    def __init__(
        self,
        policies: Sequence[str],
        *,
        train_length: int,
        title: str = "loss by position under each cache policy",
        width: int = 600,
        height: int = 400,
    ) -> None:
        self.policies = _checks.names("policies", policies)
        if len(self.policies) > MAX_POLICIES:
            raise ValueError(
                f"policies must name at most {MAX_POLICIES} policies, got {len(self.policies)}"
            )
        train_length = _checks.check_int("train_length", train_length, low=1, high=2**20)
        fig = themed_figure(
            title=_checks.check_text("title", title),
            width=_checks.check_int("width", width, low=100, high=4000),
            height=_checks.check_int("height", height, low=100, high=4000),
            tools="pan,wheel_zoom,reset,save",
        )
        fig.xaxis.axis_label = "position in the passage (token)"
        fig.yaxis.axis_label = "loss (nats per character)"
        self.sources: dict[str, ColumnDataSource] = {}
        self.lines = {}
        for i, label in enumerate(self.policies):
            source = ColumnDataSource(data=dict(x=[], y=[]))
            dash = "dashed" if label == "full" else "solid"
            self.lines[label] = fig.line("x", "y", source=source, line_width=2, line_dash=dash,
                                         color=SCORE_COLORS[i])  # fmt: skip
            self.sources[label] = source
        self.train_length = Span(location=train_length, dimension="height", line_color="#444444",
                                 line_dash="dotted", line_width=2)  # fmt: skip
        fig.add_layout(self.train_length)
        fig.add_tools(HoverTool(tooltips=[("position", "@x{0}"), ("loss", "@y{0.000}")]))
        # under the axes: a window alone runs high across the plot, where a legend inside sat
        items = [LegendItem(label=label, renderers=[line]) for label, line in self.lines.items()]
        _legend_below(fig, items, ncols=3)
        self.figure = fig
        self.shown: list[str] = list(self.policies)  # the policies drawn (``show``)
        self._data: dict[str, dict] = {}

    def update(self, positions, losses: Mapping[str, Sequence[float]]) -> None:
        """Draw each policy's ``losses`` (one per position; NaN: a gap) at ``positions``
        (the bin centres); a policy not in ``losses`` is drawn empty."""
        positions = _checks.values("positions", positions, ndim=1)
        losses = _checks.mapping("losses", losses)
        unknown = set(map(str, losses)) - set(self.policies)
        if unknown:
            raise ValueError(f"losses names policies not drawn: {sorted(unknown)}")
        data = {}
        for label in self.policies:
            if label not in losses:
                continue
            y = _checks.values(f"losses[{label!r}]", losses[label], ndim=1, nan_ok=True)
            if y.size != positions.size:
                raise ValueError(
                    f"losses[{label!r}] must hold one loss per position ({positions.size}), "
                    f"got {y.size}"
                )
            data[label] = dict(x=positions, y=y)
        self._data = data
        self._draw()

    def show(self, labels: Sequence[str]) -> None:
        """Draw the lines of ``labels`` only (the others are emptied, their legend kept)."""
        labels = _checks.names("labels", labels, nonempty=False)
        unknown = set(labels) - set(self.policies)
        if unknown:
            raise ValueError(f"labels must be among {self.policies}, got {sorted(unknown)}")
        self.shown = [label for label in self.policies if label in labels]
        self._draw()

    def _draw(self) -> None:
        for label, source in self.sources.items():
            data = self._data.get(label) if label in self.shown else None
            source.data = dict(data) if data else dict(x=[], y=[])


class HeadRanking:
    """One bar per head (``L1H2`` under it): a score, or the loss a change costs."""

    def __init__(
        self,
        *,
        title: str = "loss increase when only this head streams",
        y_label: str = "Δ loss (nats per character)",
        width: int = 520,
        height: int = 300,
    ) -> None:
        self.source = ColumnDataSource(data=dict(head=[], value=[], color=[]))
        fig = themed_figure(
            title=_checks.check_text("title", title),
            x_range=FactorRange(factors=[]),
            width=_checks.check_int("width", width, low=100, high=4000),
            height=_checks.check_int("height", height, low=100, high=4000),
            tools="save",
        )
        fig.vbar(x="head", top="value", width=0.8, color="color", source=self.source)
        fig.yaxis.axis_label = _checks.check_text("y_label", y_label)
        fig.yaxis.formatter = BasicTickFormatter(use_scientific=False)
        fig.xaxis.major_label_orientation = 0.9
        fig.xgrid.visible = False
        fig.add_tools(HoverTool(tooltips=[("head", "@head"), ("value", "@value{0.0000}")]))
        self.figure = fig

    def update(self, values, *, marked: Sequence[tuple[int, int]] = ()) -> None:
        """Draw ``values`` (L, H), heads in layer order; ``marked`` heads in vermillion."""
        values = _checks.values("values", values, ndim=2, nonempty=True)
        if values.size > MAX_HEADS:
            raise ValueError(f"values must hold at most {MAX_HEADS} heads, got {values.size}")
        if isinstance(marked, (str, bytes)) or not isinstance(marked, Sequence):
            raise TypeError(
                f"marked must be a list of (layer, head) pairs, got {_checks.short_repr(marked)}"
            )
        marked = {_head_pair("marked", pair) for pair in marked}
        n_layers, n_heads = values.shape
        heads = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
        names = [head_label(*pair) for pair in heads]
        colors = [SELECTED_COLOR if pair in marked else BAR_COLOR for pair in heads]
        if list(self.figure.x_range.factors) != names:
            self.figure.x_range.factors = names
        self.source.data = dict(head=names, value=values.ravel(), color=colors)


def _head_pair(name: str, pair) -> tuple[int, int]:
    if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise TypeError(f"{name} must hold (layer, head) pairs, got {_checks.short_repr(pair)}")
    return (_checks.check_int(f"{name} layer", pair[0], low=0),
            _checks.check_int(f"{name} head", pair[1], low=0))  # fmt: skip


class MixedCacheCurve:
    """A mixed cache's loss against the share of the full cache's memory it keeps.

    Each point keeps the full cache on the first k heads of a ranking (the rest stream);
    the dashed line is the full cache's loss, the marked point the least memory within a
    tolerance of it (DuoAttention, arXiv:2410.10819).
    """

    def __init__(self, *, width: int = 480, height: int = 320) -> None:
        self.source = ColumnDataSource(data=dict(x=[], y=[], heads=[]))
        self.chosen = ColumnDataSource(data=dict(x=[], y=[]))
        fig = themed_figure(
            title="mixed cache: loss against memory kept",
            width=_checks.check_int("width", width, low=100, high=4000),
            height=_checks.check_int("height", height, low=100, high=4000),
            tools="save",
        )
        fig.line("x", "y", source=self.source, line_width=2, color=SCORE_COLORS[0])
        fig.scatter("x", "y", source=self.source, size=7, color=SCORE_COLORS[0])
        fig.scatter("x", "y", source=self.chosen, size=14, marker="circle", fill_color=None,
                    line_color=SELECTED_COLOR, line_width=3)  # fmt: skip
        self.full_loss = Span(location=0.0, dimension="width", line_dash="dashed",
                              line_color="#444444", line_width=2)  # fmt: skip
        fig.add_layout(self.full_loss)
        fig.xaxis.axis_label = "memory kept (share of the full cache)"
        fig.yaxis.axis_label = "loss (nats per character)"
        fig.add_tools(HoverTool(tooltips=[("full-cache heads", "@heads"), ("memory", "@x{0.00}"),
                                          ("loss", "@y{0.000}")]))  # fmt: skip
        self.figure = fig

    def update(self, full_heads, memory, loss, *, full_loss: float, chosen: int | None = None):
        """Draw one point per mixed cache: ``full_heads`` (heads keeping the full cache),
        ``memory`` (share of the full cache's floats), ``loss``; ``full_loss`` the line;
        ``chosen`` the index of the point to ring (None: none)."""
        full_heads = _checks.values("full_heads", full_heads, ndim=1, nonempty=True)
        memory = _checks.values("memory", memory, ndim=1)
        loss = _checks.values("loss", loss, ndim=1)
        if not full_heads.size == memory.size == loss.size:
            raise ValueError(
                f"full_heads, memory and loss must be of one length, got {full_heads.size}, "
                f"{memory.size} and {loss.size}"
            )
        self.full_loss.location = _checks.check_real("full_loss", full_loss)
        chosen = _checks.optional_int("chosen", chosen, low=0, high=loss.size - 1)
        self.source.data = dict(x=memory, y=loss, heads=full_heads.astype(int).tolist())
        self.chosen.data = (
            dict(x=[], y=[]) if chosen is None else dict(x=[memory[chosen]], y=[loss[chosen]])
        )


class TwinBars:
    """The twin models side by side: their sink rate Sink₁^ε and their held-out loss."""

    def __init__(self, *, width: int = 300, height: int = 280) -> None:
        width = _checks.check_int("width", width, low=100, high=4000)
        height = _checks.check_int("height", height, low=100, high=4000)
        self.source = ColumnDataSource(data=dict(name=[], sink_rate=[], loss=[], color=[]))
        self.figures = {}
        for key, title, label in (
            ("sink_rate", "heads with a first-token sink (Sink₁^ε)", "share of heads"),
            ("loss", "held-out loss", "nats per character"),
        ):
            fig = themed_figure(title=title, x_range=FactorRange(factors=[]), width=width,
                                height=height, tools="save")  # fmt: skip
            fig.vbar(x="name", top=key, width=0.7, color="color", source=self.source)
            fig.yaxis.axis_label = label
            fig.xgrid.visible = False
            fig.add_tools(HoverTool(tooltips=[("model", "@name"), (label, f"@{key}{{0.000}}")]))
            self.figures[key] = fig

    def update(self, names: Sequence[str], sink_rates, losses) -> None:
        """Draw one bar per twin: ``names`` (labels), ``sink_rates`` in [0, 1], ``losses``."""
        names = _checks.names("names", names)
        sink_rates = _checks.values("sink_rates", sink_rates, ndim=1)
        losses = _checks.values("losses", losses, ndim=1)
        if not len(names) == sink_rates.size == losses.size:
            raise ValueError(
                f"names, sink_rates and losses must be of one length, got {len(names)}, "
                f"{sink_rates.size} and {losses.size}"
            )
        if ((sink_rates < 0) | (sink_rates > 1)).any():
            raise ValueError(f"sink_rates must lie in [0, 1], got {sink_rates.tolist()}")
        for fig in self.figures.values():
            fig.x_range.factors = list(names)
        colors = [SCORE_COLORS[i % len(SCORE_COLORS)] for i in range(len(names))]
        self.source.data = dict(name=names, sink_rate=sink_rates, loss=losses, color=colors)


__all__ = [
    "HeadRanking",
    "HeadValueGrid",
    "MixedCacheCurve",
    "PassageMap",
    "PolicyCurves",
    "TwinBars",
]
