"""The general figure builders, drawn in every lesson (lesson 01 uses only these).

``Heatmap`` draws attention weights (queries down, keys across), ``Curves`` named line
series, ``Bars`` one value per item. With them are the pieces that the lesson modules
build on: a matrix figure drawn as one image (``_matrix_figure``, ``_image``), the top of a
colour scale (``_top``), a grid sized cell by cell (``_fit_cells``) and the name a head
goes by (``head_label``, lessons 02 and 03).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.models import (
    BasicTickFormatter,
    ColorBar,
    ColumnDataSource,
    HoverTool,
    Legend,
    LegendItem,
    LinearColorMapper,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from attnviz.plots import _checks
from attnviz.plots.theme import (
    MAX_TICK_LABELS,
    PALETTE,
    SERIES_COLORS,
    _label_ticks,
    palette_mapper,
    themed_figure,
)

MAX_RECT_CELLS = 64 * 64  # beyond this, the heatmap draws one image instead of rectangles
MAX_INDEX = 2**31 - 1  # the largest layer or head index a label names
MAX_TICK_LABELS_ASKED = 10_000  # Heatmap's max_tick_labels at most (a label per token)


def _matrix_figure(
    title: str,
    x_label: str,
    y_label: str,
    *,
    tools: str,
    width: int,
    height: int,
    figure_kwargs: dict,
    plain_ticks: bool = False,
) -> figure:
    """A figure for a matrix drawn as one image: row 0 at the top, no grid, labelled axes
    (``plain_ticks``: tick numbers never in scientific notation); ``figure_kwargs`` win."""
    options = dict(
        title=title,
        x_range=Range1d(0, 1),
        y_range=Range1d(1, 0),  # row 0 at the top, as in a matrix
        tools=tools,
        width=width,
        height=height,
    )
    options.update(figure_kwargs)
    fig = themed_figure(**options)
    fig.grid.visible = False
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    if plain_ticks:
        for axis in (*fig.xaxis, *fig.yaxis):
            axis.formatter = BasicTickFormatter(use_scientific=False)
    return fig


def _symmetric_scale(
    mapper: LinearColorMapper, matrix: np.ndarray, limit: float | None
) -> np.ndarray:
    """Set a diverging ``mapper`` to ±``limit`` (default: max |matrix|; 1 if that is 0 or not
    finite) and return ``matrix`` as a checked 2-D float64 array (lessons 05, 06)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
    finite = np.abs(matrix[np.isfinite(matrix)])  # NaN cells (no value) left out
    top = float(finite.max()) if limit is None and finite.size else limit or 0.0
    top = top if np.isfinite(top) and top > 0 else 1.0
    if (mapper.low, mapper.high) != (-top, top):
        mapper.update(low=-top, high=top)
    return matrix


def _legend_below(
    fig, items: Sequence[LegendItem], ncols: int, *, clickable: bool = True
) -> Legend:
    """A legend under the axes, ``ncols`` wide: where curves cross everywhere inside the
    plot, the legend goes under it (lessons 05, 06). ``clickable``: a click on an entry
    hides its curve."""
    legend = Legend(
        items=list(items),
        orientation="horizontal",
        ncols=ncols,
        label_text_font_size="11px",
        click_policy="hide" if clickable else "none",
        border_line_color=None,
        margin=4,
        padding=2,
    )
    fig.add_layout(legend, "below")
    return legend


def _image(fig, source: ColumnDataSource, mapper: LinearColorMapper):
    """An image glyph reading the columns image, x, y, dw and dh of ``source``."""
    return fig.image(
        image="image", x="x", y="y", dw="dw", dh="dh", source=source, color_mapper=mapper
    )


def _top(values: np.ndarray, high: float | None) -> float:
    """The top of a colour scale: ``high`` if given, else the largest value (1 if none)."""
    if high is None:
        finite = values[np.isfinite(values)] if values.size else values
        top = float(finite.max()) if finite.size else 0.0  # NaN cells (no value) left out
    else:
        top = high
    return top if np.isfinite(top) and top > 0 else 1.0


def head_label(layer: int, head: int) -> str:
    """The name a head goes by in every view: ``L1H3`` is layer 1, head 3 (each an index
    in [0, ``MAX_INDEX``])."""
    layer = _checks.check_int("layer", layer, low=0, high=MAX_INDEX)
    head = _checks.check_int("head", head, low=0, high=MAX_INDEX)
    return f"L{layer}H{head}"


def _fit_cells(fig, n_rows: int, n_cols: int, cell_px: int, least, margin) -> None:
    """Size a grid figure so each cell is about ``cell_px`` square (never below ``least``)."""
    width = max(least[0], margin[0] + cell_px * n_cols)
    height = max(least[1], margin[1] + cell_px * n_rows)
    if (fig.width, fig.height) != (width, height):
        fig.update(width=width, height=height)


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
        value_label: str = "weight",
        max_tick_labels: int = MAX_TICK_LABELS,
        image: bool = True,
        **figure_kwargs,
    ) -> None:
        """``max_tick_labels``: label every token up to this many, else about ten;
        ``value_label`` names the values in the hover and on the colour bar;
        ``image=False`` never switches to one image (for a matrix of at most
        ``MAX_RECT_CELLS`` cells): the figure then sends one renderer fewer."""
        self.max_tick_labels = _checks.check_int(
            "max_tick_labels", max_tick_labels, low=0, high=MAX_TICK_LABELS_ASKED
        )
        self.n_rows = 1
        self.image_allowed = _checks.check_bool("image", image)
        self.mapper = palette_mapper(PALETTE, low=0.0, high=1.0)
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
        fig.add_tools(
            HoverTool(
                renderers=[self.rects],
                tooltips=[("query", "@query"), ("key", "@key"), (value_label, "@weight{0.000}")],
            )
        )
        self.picture = None
        if image:
            self.picture = _image(fig, self.image, self.mapper)
            fig.add_tools(
                HoverTool(
                    renderers=[self.picture],
                    tooltips=[("query", "$y{0}"), ("key", "$x{0}"), (value_label, "@image{0.000}")],
                )
            )
        fig.add_layout(ColorBar(color_mapper=self.mapper, width=10, title=value_label), "right")
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
        """Show new weights (n_queries, n_keys), optionally with new token labels
        (``query_labels``: one per row, ``key_labels``: one per column). A NaN weight is a
        cell with no value, drawn grey (a pair never reached, say); inf is refused."""
        weights = _checks.values("weights", weights, ndim=2, nan_ok=True)
        n_q, n_k = weights.shape
        query_labels = _checks.labels("query_labels", query_labels, n_q)
        key_labels = _checks.labels("key_labels", key_labels, n_k)
        top = _top(weights, None)
        self.mapper.high = top if top > 0 else 1.0
        if n_q * n_k > MAX_RECT_CELLS and not self.image_allowed:
            raise ValueError(
                f"a heatmap built with image=False draws at most {MAX_RECT_CELLS} cells, "
                f"got {n_q} x {n_k}"
            )
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
        self.n_rows = n_q
        self.figure.x_range.update(start=-0.5, end=n_k - 0.5)
        self.figure.y_range.update(start=n_q - 0.5, end=-0.5)
        _label_ticks(self.figure.xaxis[0], n_k, key_labels, self.max_tick_labels)
        _label_ticks(self.figure.yaxis[0], n_q, query_labels, self.max_tick_labels)

    def mark_row(self, row: int | None) -> None:
        """Outline one query row, an index of the rows drawn (None hides the marker)."""
        row = _checks.optional_int("row", row, low=0, high=self.n_rows - 1)
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
        """``series`` maps names to (x, y), 1-D arrays of one length (NaN draws a gap);
        ``marker_label`` names the marker points in the legend (say, "this sample")."""
        series = _checks.mapping("series", series)
        arrays = {str(n): _checks.series(f"series[{n!r}]", xy) for n, xy in series.items()}
        self.figure = themed_figure(title=title, **figure_kwargs)
        self.figure.xaxis.axis_label = x_label
        self.figure.yaxis.axis_label = y_label
        self.sources: dict[str, ColumnDataSource] = {}
        self.markers: dict[str, ColumnDataSource] = {}
        for i, (name, (x, y)) in enumerate(arrays.items()):
            color = SERIES_COLORS[i % len(SERIES_COLORS)]
            source = ColumnDataSource(data=dict(x=x, y=y))
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
        if not arrays:  # no series, no legend to style
            return
        self.figure.legend.location = legend_location
        self.figure.legend.background_fill_alpha = 0.6
        self.figure.legend.label_text_font_size = "11px"
        self.figure.legend.click_policy = "hide"

    def _name(self, name: str) -> str:
        _checks.check_text("name", name, empty=True)
        if name not in self.sources:
            raise ValueError(f"name must be one of the series {list(self.sources)}, got {name!r}")
        return name

    def update(self, name: str, x: np.ndarray, y: np.ndarray) -> None:
        """Redraw series ``name`` as (x, y), 1-D arrays of one length (NaN draws a gap)."""
        name = self._name(name)
        x = _checks.values("x", x, ndim=1, finite=False)
        y = _checks.values("y", y, ndim=1, finite=False)
        if x.size != y.size:
            raise ValueError(f"x and y must be of one length, got {x.size} and {y.size}")
        self.sources[name].data = dict(x=x, y=y)

    def mark(self, name: str, x: float | None, y: float | None = None) -> None:
        """Put the series' marker at (x, y); None clears it."""
        name = self._name(name)
        x = _checks.optional_real("x", x)
        y = _checks.optional_real("y", y)
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
        label_axis: bool = False,
        **figure_kwargs,
    ) -> None:
        """``width`` is each bar's width in data units; ``label_axis`` writes the labels
        under the bars (up to 32 of them) instead of numbering the axis."""
        width = _checks.check_real("width", width, low=0, low_open=True)
        self.label_axis = _checks.check_bool("label_axis", label_axis)
        self.figure = themed_figure(title=title, **figure_kwargs)
        self.figure.xaxis.axis_label = x_label
        self.figure.yaxis.axis_label = y_label
        # small values read 0.007, not 7.000e-3
        self.figure.yaxis.formatter = BasicTickFormatter(use_scientific=False)
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
        """Draw ``values`` (1-D, finite) at ``positions`` (default 0, 1, ...), one label each."""
        values = _checks.values("values", values, ndim=1)
        default_positions = positions is None
        if positions is None:
            positions = np.arange(values.size)
        else:
            positions = _checks.values("positions", positions, ndim=1)
            if positions.size != values.size:
                raise ValueError(
                    f"positions must hold one position per value ({values.size}), "
                    f"got {positions.size}"
                )
        labels = _checks.labels("labels", labels, values.size) or [str(p) for p in positions]
        self.source.data = dict(x=positions, top=values, label=labels)
        if self.label_axis and default_positions:
            _label_ticks(self.figure.xaxis[0], values.size, labels, max_labels=32)
