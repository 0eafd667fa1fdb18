"""Bokeh figure builders shared by every dashboard. No computation lives here.

Each builder returns a small view object holding the figure and the data
sources it draws from; ``update(...)`` swaps the data in place, so a dashboard
changes numbers without rebuilding figures (the browser keeps its zoom and the
update is one small message). Colours come from Viridis, which stays readable
for colour-blind viewers and in greyscale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    LinearColorMapper,
    Range1d,
    Span,
)
from bokeh.palettes import Colorblind8, Viridis256
from bokeh.plotting import figure

PALETTE = Viridis256
SERIES_COLORS = Colorblind8  # Okabe-Ito: distinguishable under every common colour blindness
FONT = "Helvetica, Arial, sans-serif"
MAX_TICK_LABELS = 24  # beyond this, only every k-th token label is drawn
MAX_RECT_CELLS = 64 * 64  # beyond this, the heatmap draws one image instead of rectangles


def themed_figure(**kwargs) -> figure:
    """A figure in the attnviz look: light grid, quiet toolbar, readable fonts."""
    options = dict(
        height=320,
        width=420,
        toolbar_location="above",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        background_fill_color="#ffffff",
        border_fill_color="#ffffff",
        outline_line_color=None,
    )
    options.update(kwargs)
    fig = figure(**options)
    fig.title.text_font = FONT
    fig.title.text_font_size = "13px"
    fig.toolbar.logo = None
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_font = FONT
        axis.axis_label_text_font_style = "normal"
        axis.major_label_text_font_size = "11px"
    fig.grid.grid_line_color = "#e8e8e8"
    return fig


def _label_ticks(axis, n: int, labels: Sequence[str] | None) -> None:
    """Label every row/column when they fit, else about ten of them.

    The axis keeps one FixedTicker for its lifetime: swapping ticker models would
    make Bokeh re-walk the whole document on every update.
    """
    if not isinstance(axis.ticker, FixedTicker):
        axis.ticker = FixedTicker(ticks=[])
    step = 1 if n <= MAX_TICK_LABELS else int(np.ceil(n / 10))
    ticks = list(range(0, n, step))
    overrides = {} if labels is None else {i: str(labels[i]) for i in ticks}
    if axis.ticker.ticks != ticks:
        axis.ticker.ticks = ticks
    if axis.major_label_overrides != overrides:
        axis.major_label_overrides = overrides


class Heatmap:
    """An attention-weights heatmap: rows are queries, columns are keys.

    Token labels go on the axes when they fit; hovering a cell shows the query
    token, the key token and the weight; a colour bar gives the scale. Large
    matrices switch to a single image so they stay fast.
    """

    def __init__(
        self,
        weights: np.ndarray,
        query_labels: Sequence[str] | None = None,
        key_labels: Sequence[str] | None = None,
        *,
        title: str = "attention weights",
        x_label: str = "key",
        y_label: str = "query",
        **figure_kwargs,
    ) -> None:
        self.mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0)
        self.cells = ColumnDataSource(data=dict(x=[], y=[], weight=[], query=[], key=[]))
        self.image = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.figure = themed_figure(
            title=title,
            x_range=Range1d(-0.5, 0.5),
            y_range=Range1d(0.5, -0.5),  # query 0 at the top, as in a matrix
            tools="pan,wheel_zoom,reset,save",
            **figure_kwargs,
        )
        fig = self.figure
        fig.xaxis.axis_label = x_label
        fig.yaxis.axis_label = y_label
        fig.xaxis.major_label_orientation = 0.9
        fig.grid.visible = False
        self.rects = fig.rect(
            "x",
            "y",
            1,
            1,
            source=self.cells,
            line_color=None,
            fill_color={"field": "weight", "transform": self.mapper},
        )
        self.picture = fig.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.image,
            color_mapper=self.mapper,
        )
        fig.add_tools(
            HoverTool(
                renderers=[self.rects],
                tooltips=[("query", "@query"), ("key", "@key"), ("weight", "@weight{0.000}")],
            ),
            HoverTool(
                renderers=[self.picture],
                tooltips=[("query", "$y{0}"), ("key", "$x{0}"), ("weight", "@image{0.000}")],
            ),
        )
        fig.add_layout(ColorBar(color_mapper=self.mapper, width=10, title="weight"), "right")
        self.row_marker = Span(
            location=0, dimension="width", line_color="#d55e00", line_width=2, visible=False
        )
        fig.add_layout(self.row_marker)
        self.update(weights, query_labels, key_labels)

    def update(
        self,
        weights: np.ndarray,
        query_labels: Sequence[str] | None = None,
        key_labels: Sequence[str] | None = None,
    ) -> None:
        """Show new weights (n_queries, n_keys), optionally with new token labels."""
        weights = np.asarray(weights, dtype=np.float64)
        n_q, n_k = weights.shape
        query_labels = [str(t) for t in query_labels] if query_labels is not None else None
        key_labels = [str(t) for t in key_labels] if key_labels is not None else None
        top = float(np.nanmax(weights)) if weights.size else 1.0
        self.mapper.high = top if top > 0 else 1.0
        if n_q * n_k <= MAX_RECT_CELLS:
            ys, xs = np.divmod(np.arange(n_q * n_k), n_k)
            queries = query_labels or [str(i) for i in range(n_q)]
            keys = key_labels or [str(j) for j in range(n_k)]
            self.cells.data = dict(
                x=xs,
                y=ys,
                weight=weights.ravel(),
                query=[queries[i] for i in ys],
                key=[keys[j] for j in xs],
            )
            self.image.data = dict(image=[], x=[], y=[], dw=[], dh=[])
        else:
            self.cells.data = dict(x=[], y=[], weight=[], query=[], key=[])
            # image rows run bottom-up; the y range is flipped, so anchor at the bottom
            self.image.data = dict(image=[weights], x=[-0.5], y=[-0.5], dw=[n_k], dh=[n_q])
        self.figure.x_range.update(start=-0.5, end=n_k - 0.5)
        self.figure.y_range.update(start=n_q - 0.5, end=-0.5)
        _label_ticks(self.figure.xaxis[0], n_k, key_labels)
        _label_ticks(self.figure.yaxis[0], n_q, query_labels)

    def mark_row(self, row: int | None) -> None:
        """Outline one query row (None hides the marker)."""
        self.row_marker.visible = row is not None
        if row is not None:
            self.row_marker.location = row


class Curves:
    """Named line series on shared axes, with an optional marker point per series."""

    def __init__(
        self,
        series: Mapping[str, tuple[np.ndarray, np.ndarray]],
        *,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        dashed: Sequence[str] = (),
        legend_location: str = "top_left",
        marker_label: str | None = None,
        **figure_kwargs,
    ) -> None:
        """``marker_label`` names the marker points in the legend (say, "this sample")."""
        self.figure = themed_figure(title=title, **figure_kwargs)
        self.figure.xaxis.axis_label = x_label
        self.figure.yaxis.axis_label = y_label
        self.sources: dict[str, ColumnDataSource] = {}
        self.markers: dict[str, ColumnDataSource] = {}
        for i, (name, (x, y)) in enumerate(series.items()):
            color = SERIES_COLORS[i % len(SERIES_COLORS)]
            source = ColumnDataSource(data=dict(x=np.asarray(x), y=np.asarray(y)))
            marker = ColumnDataSource(data=dict(x=[], y=[]))
            self.figure.line(
                "x",
                "y",
                source=source,
                line_width=2,
                color=color,
                legend_label=name,
                line_dash="dashed" if name in dashed else "solid",
            )
            marker_legend = {} if marker_label is None else {"legend_label": marker_label}
            self.figure.scatter("x", "y", source=marker, size=10, color=color, **marker_legend)
            self.sources[name] = source
            self.markers[name] = marker
        self.figure.add_tools(HoverTool(tooltips=[("x", "@x{0.[00]}"), ("y", "@y{0.000}")]))
        self.figure.legend.location = legend_location
        self.figure.legend.background_fill_alpha = 0.6
        self.figure.legend.label_text_font_size = "11px"
        self.figure.legend.click_policy = "hide"

    def update(self, name: str, x: np.ndarray, y: np.ndarray) -> None:
        self.sources[name].data = dict(x=np.asarray(x), y=np.asarray(y))

    def mark(self, name: str, x: float | None, y: float | None = None) -> None:
        """Put the series' marker at (x, y); None clears it."""
        self.markers[name].data = dict(x=[] if x is None else [x], y=[] if x is None else [y])


class Bars:
    """A bar chart of one value per labelled item (for example one weight per key)."""

    def __init__(
        self,
        values: np.ndarray,
        positions: np.ndarray | None = None,
        labels: Sequence[str] | None = None,
        *,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        width: float = 0.8,
        **figure_kwargs,
    ) -> None:
        self.figure = themed_figure(title=title, **figure_kwargs)
        self.figure.xaxis.axis_label = x_label
        self.figure.yaxis.axis_label = y_label
        self.source = ColumnDataSource(data=dict(x=[], top=[], label=[]))
        self.figure.vbar(
            x="x",
            top="top",
            width=width,
            source=self.source,
            color=SERIES_COLORS[5],
            line_color=None,
        )
        self.figure.add_tools(HoverTool(tooltips=[("item", "@label"), ("value", "@top{0.000}")]))
        self.update(values, positions, labels)

    def update(
        self,
        values: np.ndarray,
        positions: np.ndarray | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        values = np.asarray(values, dtype=np.float64)
        positions = np.arange(values.size) if positions is None else np.asarray(positions)
        labels = [str(t) for t in labels] if labels is not None else [str(p) for p in positions]
        self.source.data = dict(x=positions, top=values, label=labels)
