"""Lesson 04 (receptive fields): the reach map, the last query's strip, per-pattern curves.

``ReachMap`` colours each (query, key) by the first layer whose output carries the key to
the query (``layer_palette``: one Viridis colour per layer, grey for never);
``ReachStrip`` draws one query's row of it; ``PatternCurves`` draws one curve per
attention pattern (coverage against layers, say) on linear or log-log axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.models import (
    BasicTickFormatter,
    ColorBar,
    ColumnDataSource,
    CustomJSHover,
    FixedTicker,
    HoverTool,
    Legend,
    LegendItem,
    LinearColorMapper,
    Range1d,
    Span,
)
from bokeh.palettes import viridis

from attnviz.plots.figures import _image, _image_figure, _LinearOrLog
from attnviz.plots.theme import SCORE_COLORS, themed_figure

NEVER_COLOR = "#e0e0e0"  # reached by no layer: light grey
FUTURE_COLOR = "#ffffff"  # after the query in a causal mask: background


def _layer_hover() -> CustomJSHover:
    """The hover's layer: "never" below 0, "future (causal mask)" for NaN (a new model for
    every figure: a Bokeh model belongs to one document)."""
    return CustomJSHover(
        code="""
        if (value == null || isNaN(value)) { return "future (causal mask)"; }
        return value < 0 ? "never" : value.toFixed(0);
        """
    )


def layer_palette(n_layers: int) -> list[str]:
    """One Viridis colour per layer ``0 .. n_layers`` (dark: early, yellow: late)."""
    return list(viridis(max(2, n_layers + 1)))[: n_layers + 1]


class _LayerImage:
    """What the reach map and the strip share: a colour per first layer, grey for never."""

    def _init_mapper(self) -> None:
        self.mapper = LinearColorMapper(
            palette=layer_palette(1),
            low=-0.5,
            high=1.5,
            low_color=NEVER_COLOR,
            nan_color=FUTURE_COLOR,
        )

    def _set_layers(self, n_layers: int) -> None:
        palette = layer_palette(n_layers)
        if self.mapper.palette != palette:
            self.mapper.update(palette=palette, low=-0.5, high=n_layers + 0.5)
        ticks = list(range(0, n_layers + 1, max(1, int(np.ceil((n_layers + 1) / 9)))))
        if self.color_bar.ticker.ticks != ticks:
            self.color_bar.ticker.ticks = ticks


def _layer_values(first: np.ndarray, n_layers: int) -> np.ndarray:
    """First layers as floats for the image; layers beyond ``n_layers`` become never (-1)."""
    values = np.asarray(first, dtype=np.float32)
    return np.where(values > n_layers, -1.0, values).astype(np.float32)


class ReachMap(_LayerImage):
    """Query x key, coloured by the first layer whose output carries the key to the query.

    ``first`` is a ``(rows, cols)`` array over ``seq_len`` queries and keys: the exact
    matrix, or an overview whose cell covers a tile of them. Values: ``0`` (the token
    itself), ``1 .. n_layers``, ``-1`` never (grey); layers above ``n_layers`` are drawn
    as never. With ``causal=True`` the cells wholly after the diagonal (keys a causal
    query cannot look ahead to) are left white. Hovering gives query, key and layer.
    """

    def __init__(self, *, title: str = "reach map", **figure_kwargs) -> None:
        self._init_mapper()
        self.figure, self.source, self.picture = _image_figure(
            title, "key position", "query position", self.mapper, width=430, height=400,
            figure_kwargs=figure_kwargs,
        )  # fmt: skip
        fig = self.figure
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[("query", "$y{0}"), ("key", "$x{0}"), ("first layer", "@image{custom}")],
                formatters={"@image": _layer_hover()},
            )
        )
        self.color_bar = ColorBar(
            color_mapper=self.mapper, width=10, title="first layer", ticker=FixedTicker(ticks=[])
        )
        fig.add_layout(self.color_bar, "right")

    def update(self, first: np.ndarray, seq_len: int, n_layers: int, causal: bool) -> None:
        values = _layer_values(first, n_layers)
        if values.ndim != 2:
            raise ValueError(f"first must be a 2-D array, got shape {values.shape}")
        if causal:
            values = np.where(np.tri(*values.shape, dtype=bool), values, np.nan)
        self._set_layers(n_layers)
        # the y range is flipped, so anchoring at y=0 puts row 0 (query 0) at the top
        self.source.data = dict(image=[values], x=[0], y=[0], dw=[seq_len], dh=[seq_len])
        self.figure.x_range.update(start=0, end=seq_len)
        self.figure.y_range.update(start=seq_len, end=0)


class ReachStrip(_LayerImage):
    """One query's row of the reach map: the first layer per key, a strip under the map.

    Keys never reached are grey, so the holes (and the gaps between reached keys) show.
    ``row`` may be pooled: each cell then covers ``seq_len / len(row)`` keys.
    """

    def __init__(self, *, title: str = "the last query: first layer per key", **figure_kwargs):
        self._init_mapper()
        self.source = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        options = dict(
            title=title,
            x_range=Range1d(0, 1),
            y_range=Range1d(0, 1),
            tools="xpan,xwheel_zoom,reset,save",
            width=430,
            height=130,
        )
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.grid.visible = False
        fig.yaxis.visible = False
        fig.xaxis.axis_label = "key position"
        fig.xaxis.formatter = BasicTickFormatter(use_scientific=False)
        self.picture = _image(fig, self.source, self.mapper)
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[("key", "$x{0}"), ("first layer", "@image{custom}")],
                formatters={"@image": _layer_hover()},
            )
        )
        self.color_bar = ColorBar(
            color_mapper=self.mapper, width=8, ticker=FixedTicker(ticks=[]), visible=False
        )
        fig.add_layout(self.color_bar, "right")

    def update(self, row: np.ndarray, seq_len: int, n_layers: int) -> None:
        values = _layer_values(row, n_layers)[None, :]
        self._set_layers(n_layers)
        self.source.data = dict(image=[values], x=[0], y=[0], dw=[seq_len], dh=[1])
        self.figure.x_range.update(start=0, end=seq_len)


class PatternCurves(_LinearOrLog):
    """One line per named pattern (coverage against layers, say), any subset shown.

    Every name gets its line, colour and legend entry once, at construction; ``update``
    shows the given series and hides the rest (their legend entries too), the
    ``highlight`` one drawn thicker. There are two figures, linear and log-log, with the
    same lines; ``set_log`` shows one and hides the other (points at x <= 0 or y <= 0
    are left out of the log one), so switching sends no new models. ``figure`` is the one
    shown. ``mark`` draws a vertical line on both.
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        legend_location: str = "bottom_right",
        **figure_kwargs,
    ) -> None:
        self._init_curves(names)
        self._items: dict[bool, dict[str, LegendItem]] = {}
        self.markers: dict[bool, Span] = {}
        self._mark_x: float | None = None
        colours = [*SCORE_COLORS, "#000000", "#999999", "#e69f00", "#56b4e9", "#8c564b"]
        for log in (False, True):
            options = dict(title=title, width=430, height=340, tools="pan,wheel_zoom,reset,save")
            if log:
                options.update(x_axis_type="log", y_axis_type="log")
            options.update(figure_kwargs)
            fig = themed_figure(**options)
            fig.xaxis.axis_label = x_label + (" (log)" if log else "")
            fig.yaxis.axis_label = y_label + (" (log)" if log else "")
            fig.visible = not log
            sources, lines, items = {}, {}, {}
            for i, name in enumerate(self.names):
                source = ColumnDataSource(data=dict(x=[], y=[], name=[]))
                line = fig.line(
                    "x", "y", source=source, line_width=2, color=colours[i % len(colours)]
                )
                line.visible = False
                sources[name], lines[name] = source, line
                items[name] = LegendItem(label=name, renderers=[line], visible=False)
            fig.add_layout(
                Legend(
                    items=list(items.values()),
                    location=legend_location,
                    background_fill_alpha=0.6,
                    label_text_font_size="11px",
                )
            )
            marker = Span(dimension="height", line_color="#666666", line_dash="dashed")
            fig.add_layout(marker)
            dots = ColumnDataSource(data=dict(x=[], y=[], name=[], color=[]))
            fig.scatter("x", "y", source=dots, size=8, color="color")
            self.dots[log] = dots
            self._colours = {n: colours[i % len(colours)] for i, n in enumerate(self.names)}
            fig.add_tools(
                HoverTool(
                    renderers=list(lines.values()),
                    tooltips=[("pattern", "@name"), ("x", "@x{0.[00]}"), ("y", "@y{0.0000}")],
                )
            )
            self.figures[log], self.sources[log], self.lines[log] = fig, sources, lines
            self._items[log], self.markers[log] = items, marker

    def update(
        self, series: Mapping[str, tuple[np.ndarray, np.ndarray]], highlight: str | None = None
    ) -> None:
        """Show exactly ``series`` ({name: (x, y)}); hide every other name."""
        self._set_series(series)
        for log in (False, True):
            for name in self.names:
                self._show_series(log, name, self._items[log][name], positive_x=True)
                line, width = self.lines[log][name], 4 if name == highlight else 2
                if line.glyph.line_width != width:
                    line.glyph.line_width = width
        self.mark(self._mark_x)

    def mark(self, x: float | None) -> None:
        """A vertical dashed line at ``x``, and a dot where each shown series crosses it
        (None hides them)."""
        self._mark_x = x
        names = list(self._series) if x is not None else []
        ys = [float(np.interp(x, *self._series[name])) for name in names]
        for log, marker in self.markers.items():
            marker.visible = x is not None
            if x is not None:
                marker.location = x
            keep = [i for i, y in enumerate(ys) if not log or (x > 0 and y > 0)]
            self.dots[log].data = dict(
                x=[x] * len(keep),
                y=[ys[i] for i in keep],
                name=[names[i] for i in keep],
                color=[self._colours[names[i]] for i in keep],
            )
