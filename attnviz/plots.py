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
from bokeh.core.properties import value as literal_value
from bokeh.events import Tap
from bokeh.models import (
    BasicTickFormatter,
    BoxAnnotation,
    ColorBar,
    ColumnDataSource,
    CustomJSHover,
    DataRange1d,
    FixedTicker,
    HoverTool,
    Legend,
    LegendItem,
    LinearAxis,
    LinearColorMapper,
    Range1d,
    Span,
    TapTool,
)
from bokeh.palettes import Colorblind8, RdBu11, Viridis256, interp_palette, viridis
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


def _label_ticks(
    axis, n: int, labels: Sequence[str] | None, max_labels: int = MAX_TICK_LABELS
) -> None:
    """Label every row/column when at most ``max_labels`` of them, else about ten.

    The axis keeps one FixedTicker for its lifetime: swapping ticker models would
    make Bokeh re-walk the whole document on every update.
    """
    if not isinstance(axis.ticker, FixedTicker):
        axis.ticker = FixedTicker(ticks=[])
    step = 1 if n <= max_labels else int(np.ceil(n / 10))
    ticks = list(range(0, n, step))
    overrides = {} if labels is None else {i: str(labels[i]) for i in ticks}
    if axis.ticker.ticks != ticks:
        axis.ticker.ticks = ticks
    if axis.major_label_overrides != overrides:
        axis.major_label_overrides = overrides


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


def _image(fig, source: ColumnDataSource, mapper: LinearColorMapper):
    """An image glyph reading the columns image, x, y, dw and dh of ``source``."""
    return fig.image(
        image="image", x="x", y="y", dw="dw", dh="dh", source=source, color_mapper=mapper
    )


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
        **figure_kwargs,
    ) -> None:
        """``max_tick_labels``: label every token up to this many, else about ten;
        ``value_label`` names the values in the hover and on the colour bar."""
        self.max_tick_labels = max_tick_labels
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
        self.picture = _image(fig, self.image, self.mapper)
        fig.add_tools(
            HoverTool(
                renderers=[self.rects],
                tooltips=[("query", "@query"), ("key", "@key"), (value_label, "@weight{0.000}")],
            ),
            HoverTool(
                renderers=[self.picture],
                tooltips=[("query", "$y{0}"), ("key", "$x{0}"), (value_label, "@image{0.000}")],
            ),
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
        _label_ticks(self.figure.xaxis[0], n_k, key_labels, self.max_tick_labels)
        _label_ticks(self.figure.yaxis[0], n_q, query_labels, self.max_tick_labels)

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
        label_axis: bool = False,
        **figure_kwargs,
    ) -> None:
        """``width`` is each bar's width in data units; ``label_axis`` writes the labels
        under the bars (up to 32 of them) instead of numbering the axis."""
        self.label_axis = label_axis
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
        values = np.asarray(values, dtype=np.float64)
        default_positions = positions is None
        positions = np.arange(values.size) if positions is None else np.asarray(positions)
        labels = [str(t) for t in labels] if labels is not None else [str(p) for p in positions]
        self.source.data = dict(x=positions, top=values, label=labels)
        if self.label_axis and default_positions:
            _label_ticks(self.figure.xaxis[0], values.size, labels, max_labels=32)


# -- heads: the model view, a long head view, head scores, training curves ---------------

ROLE_TEXT_DARK = "#ffffff"  # on the dark end of Viridis
ROLE_TEXT_LIGHT = "#222222"  # on the light end
SELECTED_COLOR = "#d55e00"  # Okabe-Ito vermillion: the selected / ablated mark everywhere
# score series: Okabe-Ito without yellow (too faint as a line on white); loss is black
ZOOM_TICK_LABELS = 40  # the zoom labels every token of a window this wide
SCORE_COLORS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00")


def _top(values: np.ndarray, high: float | None) -> float:
    """The top of a colour scale: ``high`` if given, else the largest value (1 if none)."""
    top = float(np.nanmax(values)) if high is None and values.size else (high or 0.0)
    return top if np.isfinite(top) and top > 0 else 1.0


def head_label(layer: int, head: int) -> str:
    """The name a head goes by in every view: ``L1H3`` is layer 1, head 3."""
    return f"L{layer}H{head}"


def _fit_cells(fig, n_rows: int, n_cols: int, cell_px: int, least, margin) -> None:
    """Size a grid figure so each cell is about ``cell_px`` square (never below ``least``)."""
    width = max(least[0], margin[0] + cell_px * n_cols)
    height = max(least[1], margin[1] + cell_px * n_rows)
    if (fig.width, fig.height) != (width, height):
        fig.update(width=width, height=height)


def _grid_ticks(axis, n: int, prefix: str) -> None:
    """Ticks at the centres of n unit cells, labelled prefix + index (L0, L1, ...)."""
    if not isinstance(axis.ticker, FixedTicker):
        axis.ticker = FixedTicker(ticks=[])
    ticks = [i + 0.5 for i in range(n)]
    overrides = {tick: f"{prefix}{i}" for i, tick in enumerate(ticks)}
    if axis.ticker.ticks != ticks:
        axis.ticker.ticks = ticks
    if axis.major_label_overrides != overrides:
        axis.major_label_overrides = overrides


class HeadGrid:
    """The model view: one small attention map per head, layers down, heads across.

    Thumbnails are drawn as images in a single figure, so a 12 x 12 grid is still
    one canvas. Each thumbnail sits in the unit cell [head, head + 1) x [layer,
    layer + 1); a transparent box over it carries the hover (layer, head and any
    per-head scores given) and the selection: tapping a thumbnail selects its box.
    ``selected`` reads the (layer, head) chosen and ``on_select`` calls back with it,
    so a dashboard can enlarge that head; the selection lives in
    ``boxes.selected.indices``, which Bokeh syncs with the browser.

    Thumbnails are passed ready to draw (for long sequences, already downsampled,
    for example with ``attnviz.maps.downsample``); this class only draws them.
    """

    GAP = 0.12  # fraction of a cell left blank between thumbnails

    def __init__(
        self,
        thumbnails: np.ndarray,
        scores: Mapping[str, np.ndarray] | None = None,
        *,
        title: str = "every head (tap one to enlarge it)",
        cell_px: int = 76,
        **figure_kwargs,
    ) -> None:
        thumbnails = np.asarray(thumbnails)
        n_layers, n_heads = thumbnails.shape[:2]
        self._score_names = list(scores or {})
        self.cell_px = cell_px
        self.mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0)
        self.images = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.boxes = ColumnDataSource(data=self._box_data(n_layers, n_heads, scores))
        options = dict(
            width=max(220, 70 + cell_px * n_heads),
            height=max(160, 70 + cell_px * n_layers),
            x_range=Range1d(0, n_heads),
            y_range=Range1d(n_layers, 0),  # layer 0 at the top
            tools="tap,save",
            title=title,
        )
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.grid.visible = False
        fig.xaxis.axis_label = "head"
        fig.yaxis.axis_label = "layer"
        fig.xaxis.major_tick_line_color = None
        fig.yaxis.major_tick_line_color = None
        _image(fig, self.images, self.mapper)
        self.box_renderer = fig.quad(
            left="left",
            right="right",
            top="top",
            bottom="bottom",
            source=self.boxes,
            fill_alpha=0.0,
            line_color="#bbbbbb",
            line_width=1,
            selection_line_color=SELECTED_COLOR,
            selection_line_width=3,
            selection_fill_alpha=0.0,
            nonselection_fill_alpha=0.0,
            nonselection_line_color="#bbbbbb",
            nonselection_line_alpha=1.0,
        )
        tooltips = [("head", "@label")] + [(n, f"@{{{n}}}{{0.000}}") for n in self._score_names]
        fig.add_tools(HoverTool(renderers=[self.box_renderer], tooltips=tooltips))
        fig.select_one(TapTool).renderers = [self.box_renderer]
        self.update(thumbnails, scores)

    def _box_data(self, n_layers: int, n_heads: int, scores) -> dict:
        layers, heads = np.divmod(np.arange(n_layers * n_heads), n_heads)
        inset = self.GAP / 2
        data = dict(
            left=heads + inset,
            right=heads + 1 - inset,
            top=layers + inset,
            bottom=layers + 1 - inset,
            layer=layers,
            head=heads,
            label=[head_label(int(la), int(he)) for la, he in zip(layers, heads, strict=True)],
        )
        for name in self._score_names:
            data[name] = np.asarray(scores[name], dtype=np.float64).ravel()
        return data

    @property
    def shape(self) -> tuple[int, int]:
        """(layers, heads) drawn now."""
        return int(self.figure.y_range.start), int(self.figure.x_range.end)

    def update(
        self,
        thumbnails: np.ndarray,
        scores: Mapping[str, np.ndarray] | None = None,
        *,
        high: float | None = None,
    ) -> None:
        """Draw new thumbnails, shape (layers, heads, rows, cols), and per-head scores.

        ``high`` is the weight drawn in the brightest colour (default: the largest);
        larger weights are drawn in that colour too.
        """
        thumbnails = np.asarray(thumbnails, dtype=np.float64)
        if thumbnails.ndim != 4:
            raise ValueError(
                f"thumbnails must have shape (layers, heads, rows, cols), got {thumbnails.shape}"
            )
        n_layers, n_heads, _, _ = thumbnails.shape
        if scores is not None and set(scores) != set(self._score_names):
            raise ValueError(
                f"scores must name {self._score_names} as when the grid was built, "
                f"got {sorted(scores)}"
            )
        self.mapper.high = _top(thumbnails, high)
        inset = self.GAP / 2
        size = 1 - self.GAP
        layers, heads = np.divmod(np.arange(n_layers * n_heads), n_heads)
        self.images.data = dict(
            image=[thumbnails[la, he] for la, he in zip(layers, heads, strict=True)],
            x=heads + inset,
            y=layers + inset,  # the y range is flipped: row 0 of each image at its top
            dw=np.full(layers.size, size),
            dh=np.full(layers.size, size),
        )
        if (n_layers, n_heads) != self.shape or scores is not None:
            selected = self.selected
            self.boxes.data = self._box_data(n_layers, n_heads, scores)
            if selected is not None and (selected[0] >= n_layers or selected[1] >= n_heads):
                self.boxes.selected.indices = []
        self.figure.x_range.update(start=0, end=n_heads)
        self.figure.y_range.update(start=n_layers, end=0)
        _fit_cells(self.figure, n_layers, n_heads, self.cell_px, (220, 160), (70, 70))
        _grid_ticks(self.figure.xaxis[0], n_heads, "H")
        _grid_ticks(self.figure.yaxis[0], n_layers, "L")

    @property
    def selected(self) -> tuple[int, int] | None:
        """The (layer, head) tapped last, or None."""
        indices = self.boxes.selected.indices
        if not indices:
            return None
        index = int(indices[0])
        return int(self.boxes.data["layer"][index]), int(self.boxes.data["head"][index])

    def select(self, layer: int | None, head: int | None = None) -> None:
        """Outline one head's thumbnail (None clears the selection)."""
        if layer is None:
            indices = []
        else:
            n_layers, n_heads = self.shape
            if not (0 <= layer < n_layers and 0 <= head < n_heads):
                raise ValueError(
                    f"(layer, head) must be within ({n_layers}, {n_heads}), got ({layer}, {head})"
                )
            indices = [layer * n_heads + head]
        if list(self.boxes.selected.indices) != indices:
            self.boxes.selected.indices = indices

    def on_select(self, callback) -> None:
        """Call ``callback(layer, head)`` whenever a thumbnail is tapped (in the browser too)."""

        def changed(attr, old, new) -> None:
            chosen = self.selected
            if chosen is not None:
                callback(*chosen)

        self.boxes.selected.on_change("indices", changed)


class LongHeadView:
    """One head over a long sequence: an overview of the whole map and a token-level zoom.

    The overview is one image of a downsampled matrix (each pixel the mean weight of
    a block of queries x keys), drawn over the true token positions, so 4,096
    tokens cost no more than 64. A box marks the zoom window; the zoom draws that
    window cell by cell with the tokens on its axes, and hovering a cell shows the
    query token, the key token and the weight. Tap the overview to move the window
    (a dashboard listens with ``on_pick``).
    """

    def __init__(
        self,
        overview: np.ndarray,
        n_queries: int,
        n_keys: int,
        window: np.ndarray,
        window_start: tuple[int, int] = (0, 0),
        query_tokens: Sequence[str] | None = None,
        key_tokens: Sequence[str] | None = None,
        *,
        title: str = "the whole map",
        zoom_title: str = "zoom: token by token",
        **figure_kwargs,
    ) -> None:
        self.mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0)
        self.image = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.figure = fig = _matrix_figure(
            title,
            "key position",
            "query position",
            tools="tap,pan,wheel_zoom,reset,save",
            width=340,
            height=320,
            figure_kwargs=figure_kwargs,
        )
        self.picture = _image(fig, self.image, self.mapper)
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[
                    ("query ≈", "$y{0}"),
                    ("key ≈", "$x{0}"),
                    ("mean weight in block", "@image{0.0000}"),
                ],
            )
        )
        self.window_box = BoxAnnotation(
            left=0,
            right=1,
            top=0,
            bottom=1,
            fill_alpha=0.0,
            line_color=SELECTED_COLOR,
            line_width=2,
        )
        fig.add_layout(self.window_box)
        # the window may be a few pixels wide on a long input: cross-hairs find it
        self.crosshair = [
            Span(dimension=dim, line_color=SELECTED_COLOR, line_alpha=0.6, line_dash="dotted")
            for dim in ("width", "height")
        ]
        for span in self.crosshair:
            fig.add_layout(span)
        self.zoom = Heatmap(
            np.zeros((1, 1)),
            title=zoom_title,
            x_label="key token",
            y_label="query token",
            width=480,
            height=480,
            max_tick_labels=ZOOM_TICK_LABELS,
        )
        zoom = self.zoom.figure
        zoom.xaxis.major_label_orientation = np.pi / 2  # up to 40 labels side by side
        for axis in (*zoom.xaxis, *zoom.yaxis):
            axis.major_label_text_font_size = "9px"
        self.update(overview, n_queries, n_keys, window, window_start, query_tokens, key_tokens)

    @property
    def figures(self) -> dict:
        return {"overview": self.figure, "zoom": self.zoom.figure}

    def update(
        self,
        overview: np.ndarray,
        n_queries: int,
        n_keys: int,
        window: np.ndarray,
        window_start: tuple[int, int] = (0, 0),
        query_tokens: Sequence[str] | None = None,
        key_tokens: Sequence[str] | None = None,
        *,
        high: float | None = None,
    ) -> None:
        """Show a new map.

        Args:
            overview: (rows, cols) block means of the (n_queries, n_keys) weights.
            window: the exact weights of the zoom, (w_q, w_k), starting at
                ``window_start`` = (first query, first key).
            query_tokens, key_tokens: the tokens of the window's rows and columns
                (labels are prefixed with their positions).
            high: the overview's brightest mean weight (default: its largest).
        """
        self.update_overview(overview, n_queries, n_keys, high=high)
        self.update_window(window, window_start, query_tokens, key_tokens)

    def update_overview(
        self, overview: np.ndarray, n_queries: int, n_keys: int, *, high: float | None = None
    ) -> None:
        """``high``: the mean weight drawn brightest (default: the largest)."""
        overview = np.asarray(overview, dtype=np.float64)
        if overview.ndim != 2:
            raise ValueError(f"overview must be a 2-D array, got shape {overview.shape}")
        self.mapper.high = _top(overview, high)
        # the y range is flipped, so anchoring at y=0 puts row 0 (query 0) at the top
        self.image.data = dict(image=[overview], x=[0], y=[0], dw=[n_keys], dh=[n_queries])
        self.figure.x_range.update(start=0, end=n_keys)
        self.figure.y_range.update(start=n_queries, end=0)
        self.n_queries, self.n_keys = int(n_queries), int(n_keys)

    def update_window(
        self,
        window: np.ndarray,
        window_start: tuple[int, int] = (0, 0),
        query_tokens: Sequence[str] | None = None,
        key_tokens: Sequence[str] | None = None,
    ) -> None:
        window = np.asarray(window, dtype=np.float64)
        q0, k0 = (int(v) for v in window_start)
        w_q, w_k = window.shape
        queries = [str(t) for t in query_tokens] if query_tokens is not None else [""] * w_q
        keys = [str(t) for t in key_tokens] if key_tokens is not None else [""] * w_k
        self.zoom.update(
            window,
            [f"{q0 + i} {t}".rstrip() for i, t in enumerate(queries)],
            [f"{k0 + j} {t}".rstrip() for j, t in enumerate(keys)],
        )
        self.window_box.update(left=k0, right=k0 + w_k, top=q0, bottom=q0 + w_q)
        self.crosshair[0].location = q0 + w_q / 2
        self.crosshair[1].location = k0 + w_k / 2
        partial = w_q < getattr(self, "n_queries", 0) or w_k < getattr(self, "n_keys", 0)
        for span in self.crosshair:
            span.visible = partial  # a window showing the whole map needs no marker
        self.window_start = (q0, k0)

    def on_pick(self, callback) -> None:
        """Call ``callback(query, key)`` with the token position tapped on the overview."""

        def picked(event) -> None:
            if event.x is None or event.y is None:
                return
            if not (np.isfinite(event.x) and np.isfinite(event.y)):
                return
            callback(int(np.floor(event.y)), int(np.floor(event.x)))

        self.figure.on_event(Tap, picked)


class ScoreHeatmap:
    """Head scores as a layers x heads heatmap, each cell labelled with its role.

    ``scores`` maps a score name to a (layers, heads) array; ``value`` names the one
    that colours the cells, and hovering a cell shows all of them. ``roles`` is a
    (layers, heads) array of short labels ("induction", "prev-token", "", ...)
    written in the cells. ``mark`` draws a cross over chosen heads (ablated ones,
    say). Tapping a cell is reported through ``on_tap(callback(layer, head))``.
    """

    def __init__(
        self,
        scores: Mapping[str, np.ndarray],
        value: str,
        roles: np.ndarray | None = None,
        *,
        title: str = "head scores",
        high: float | None = None,
        cell_px: int = 78,
        **figure_kwargs,
    ) -> None:
        first = np.asarray(next(iter(scores.values())))
        n_layers, n_heads = first.shape
        self._score_names = list(scores)
        self.cell_px = cell_px
        self.mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0)
        self.cells = ColumnDataSource(data=dict(x=[], y=[], value=[], label=[], role=[]))
        self.text = ColumnDataSource(data=dict(x=[], y=[], text=[], color=[]))
        self.marks = ColumnDataSource(data=dict(x=[], y=[]))
        options = dict(
            title=title,
            width=max(260, 110 + cell_px * n_heads),
            height=max(180, 80 + cell_px * n_layers),
            x_range=Range1d(-0.5, n_heads - 0.5),
            y_range=Range1d(n_layers - 0.5, -0.5),
            tools="tap,save",
        )
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.grid.visible = False
        fig.xaxis.axis_label = "head"
        fig.yaxis.axis_label = "layer"
        self.rects = fig.rect(
            "x",
            "y",
            0.96,
            0.96,
            source=self.cells,
            line_color=None,
            fill_color={"field": "value", "transform": self.mapper},
            selection_fill_alpha=1.0,
            nonselection_fill_alpha=1.0,
        )
        fig.text(
            "x",
            "y",
            text="text",
            source=self.text,
            text_color="color",
            text_align="center",
            text_baseline="middle",
            text_font_size="11px",
            text_font={"value": FONT},
        )
        fig.scatter(
            "x",
            "y",
            source=self.marks,
            marker="x",
            size=46,
            line_width=3,
            color=SELECTED_COLOR,
            alpha=0.9,
        )
        self.hover = HoverTool(renderers=[self.rects], tooltips=[("head", "@label")])
        fig.add_tools(self.hover)
        fig.select_one(TapTool).renderers = [self.rects]
        self.color_bar = ColorBar(color_mapper=self.mapper, width=10, title=value)
        fig.add_layout(self.color_bar, "right")
        self.update(scores, value, roles, high=high)

    def update(
        self,
        scores: Mapping[str, np.ndarray],
        value: str,
        roles: np.ndarray | None = None,
        *,
        high: float | None = None,
    ) -> None:
        """Colour by ``scores[value]``; ``high`` fixes the top of the scale (else the max)."""
        if value not in scores:
            raise ValueError(f"value must be one of {sorted(scores)}, got {value!r}")
        shown = np.asarray(scores[value], dtype=np.float64)
        n_layers, n_heads = shown.shape
        roles = np.full(shown.shape, "", dtype=object) if roles is None else np.asarray(roles)
        top = _top(shown, high)
        self.mapper.update(low=0.0, high=top)
        layers, heads = np.divmod(np.arange(n_layers * n_heads), n_heads)
        data = dict(
            x=heads,
            y=layers,
            value=shown.ravel(),
            label=[head_label(int(la), int(he)) for la, he in zip(layers, heads, strict=True)],
            role=[str(r) or "—" for r in roles.ravel()],
        )
        columns = [("head", "@label"), ("role", "@role")]
        for i, (name, array) in enumerate(scores.items()):
            data[f"s{i}"] = np.asarray(array, dtype=np.float64).ravel()
            columns.append((name, f"@s{i}{{0.000}}"))
        self.cells.data = data
        if self.hover.tooltips != columns:
            self.hover.tooltips = columns
        self.color_bar.title = value
        light = shown.ravel() > 0.6 * top  # Viridis turns light: dark text there
        self.text.data = dict(
            x=heads,
            y=layers,
            text=[
                f"{r}\n{v:.2f}" if r else f"{v:.2f}"
                for r, v in zip(roles.ravel(), shown.ravel(), strict=True)
            ],
            color=np.where(light, ROLE_TEXT_LIGHT, ROLE_TEXT_DARK),
        )
        self.figure.x_range.update(start=-0.5, end=n_heads - 0.5)
        self.figure.y_range.update(start=n_layers - 0.5, end=-0.5)
        _fit_cells(self.figure, n_layers, n_heads, self.cell_px, (260, 180), (110, 80))
        _label_ticks(self.figure.xaxis[0], n_heads, [f"H{h}" for h in range(n_heads)])
        _label_ticks(self.figure.yaxis[0], n_layers, [f"L{la}" for la in range(n_layers)])
        self.shape = (n_layers, n_heads)

    def mark(self, heads: Sequence[tuple[int, int]]) -> None:
        """Cross out these (layer, head) cells (an empty list clears the marks)."""
        heads = sorted(heads)
        self.marks.data = dict(x=[h for _, h in heads], y=[la for la, _ in heads])

    def on_tap(self, callback) -> None:
        """Call ``callback(layer, head)`` when a cell is tapped."""

        def tapped(event) -> None:
            if event.x is None or event.y is None:
                return
            if not (np.isfinite(event.x) and np.isfinite(event.y)):
                return
            layer, head = int(round(event.y)), int(round(event.x))
            if 0 <= layer < self.shape[0] and 0 <= head < self.shape[1]:
                callback(layer, head)

        self.figure.on_event(Tap, tapped)


class TrainingCurves:
    """Training losses (left axis) and head scores (right axis, 0 to 1) against the step.

    ``loss_names`` and ``score_names`` name the series; every method takes their
    values as one mapping ``{name: values}``. One ColumnDataSource holds every
    series, so ``stream`` appends a new training step as one small message while
    the model trains; ``set`` replaces the whole history (a shipped run, say), and
    ``mark_step`` draws a vertical line (the step a heatmap shows). Losses are
    black and grey (solid, dashed, dotted); scores take the colour-blind-safe
    colours.
    """

    LOSS_STYLES = (("#000000", "solid"), ("#777777", "dashed"), ("#000000", "dotted"))

    def __init__(
        self,
        score_names: Sequence[str],
        *,
        loss_names: Sequence[str] = ("loss",),
        title: str = "training: loss and head scores",
        loss_label: str = "loss (nats per token)",
        score_label: str = "score",
        **figure_kwargs,
    ) -> None:
        self.loss_names = list(loss_names)
        self.score_names = list(score_names)
        if not self.loss_names or set(self.loss_names) & set(self.score_names):
            raise ValueError("loss_names must be non-empty and differ from score_names")
        names = [*self.loss_names, *self.score_names]
        self._columns = {name: f"c{i}" for i, name in enumerate(names)}
        self.source = ColumnDataSource(data=self._empty())
        options = dict(title=title, width=520, height=380, tools="pan,wheel_zoom,reset,save")
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.xaxis.axis_label = "training step"
        fig.yaxis.axis_label = loss_label
        fig.extra_y_ranges = {"score": Range1d(0.0, 1.05)}
        score_axis = LinearAxis(y_range_name="score", axis_label=score_label)
        score_axis.axis_label_text_font = FONT
        score_axis.axis_label_text_font_style = "normal"
        score_axis.major_label_text_font_size = "11px"
        fig.add_layout(score_axis, "right")
        losses = []
        for i, name in enumerate(self.loss_names):
            color, dash = self.LOSS_STYLES[i % len(self.LOSS_STYLES)]
            losses.append(
                fig.line(
                    "step",
                    self._columns[name],
                    source=self.source,
                    line_width=2.5,
                    color=color,
                    line_dash=dash,
                    legend_label=name,
                )
            )
        fig.y_range = DataRange1d(renderers=losses, start=0.0)
        for i, name in enumerate(self.score_names):
            fig.line(
                "step",
                self._columns[name],
                source=self.source,
                y_range_name="score",
                line_width=2,
                color=SCORE_COLORS[i % len(SCORE_COLORS)],
                legend_label=name,
            )
        fig.add_tools(
            HoverTool(
                tooltips=[("step", "@step")]
                + [(n, f"@{c}{{0.000}}") for n, c in self._columns.items()],
                mode="vline",
                renderers=losses[:1],
            )
        )
        self.step_marker = Span(
            location=0,
            dimension="height",
            line_color="#666666",
            line_dash="dashed",
            line_width=2,
            visible=False,
        )
        fig.add_layout(self.step_marker)
        legend = fig.legend[0]
        fig.add_layout(legend, "below")  # below the axes: curves cross everywhere inside
        legend.update(
            orientation="horizontal",
            ncols=min(3, len(names)),
            label_text_font_size="11px",
            click_policy="hide",
            border_line_color=None,
            margin=4,
            padding=2,
        )

    def column(self, name: str) -> str:
        """The source column holding series ``name``."""
        return self._columns[name]

    def _empty(self) -> dict:
        return {"step": [], **{c: [] for c in self._columns.values()}}

    def _columns_for(self, step, values: Mapping[str, Sequence[float]]) -> dict:
        missing = set(self._columns) - set(values)
        if missing:
            raise ValueError(f"values is missing {sorted(missing)} (needs {list(self._columns)})")
        data = {"step": np.atleast_1d(np.asarray(step, dtype=np.float64))}
        for name, column in self._columns.items():
            data[column] = np.atleast_1d(np.asarray(values[name], dtype=np.float64))
        return data

    def set(self, step, values: Mapping[str, Sequence[float]]) -> None:
        """Replace the whole history: the steps and ``{series name: values}``."""
        self.source.data = self._columns_for(step, values)

    def clear(self) -> None:
        self.source.data = self._empty()

    def stream(self, step, values: Mapping[str, Sequence[float] | float]) -> None:
        """Append recorded steps (arrays, or one step of scalars) without resending the rest."""
        self.source.stream(self._columns_for(step, values))

    def mark_step(self, step: float | None) -> None:
        """Draw a vertical line at ``step`` (None hides it)."""
        self.step_marker.visible = step is not None
        if step is not None:
            self.step_marker.location = float(step)


# -- receptive fields: the reach map, the last query's strip, per-pattern curves ---------

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
        self.source = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.figure = fig = _matrix_figure(
            title,
            "key position",
            "query position",
            tools="pan,wheel_zoom,reset,save",
            width=430,
            height=400,
            figure_kwargs=figure_kwargs,
            plain_ticks=True,
        )
        self.picture = _image(fig, self.source, self.mapper)
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


class _LinearOrLog:
    """Two twin figures, linear axes and log axes (``self.figures[False]`` and
    ``[True]``); one is shown at a time. Bokeh cannot switch an axis type in place."""

    figures: dict
    log: bool

    @property
    def figure(self):
        """The figure shown now (linear or log)."""
        return self.figures[self.log]

    def set_log(self, log: bool) -> None:
        """Show the log figure (True) or the linear one (False)."""
        self.log = bool(log)
        for which, fig in self.figures.items():
            if fig.visible != (which == self.log):
                fig.visible = which == self.log


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
        self.names = list(names)
        self.log = False
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.figures: dict[bool, figure] = {}
        self.sources: dict[bool, dict[str, ColumnDataSource]] = {}
        self.lines: dict[bool, dict] = {}
        self._items: dict[bool, dict[str, LegendItem]] = {}
        self.markers: dict[bool, Span] = {}
        self.dots: dict[bool, ColumnDataSource] = {}
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

    def _draw(self, log: bool, name: str, x: np.ndarray, y: np.ndarray) -> None:
        if log:
            keep = (x > 0) & (y > 0)
            x, y = x[keep], y[keep]
        self.sources[log][name].data = dict(x=x, y=y, name=[name] * len(x))

    def update(
        self, series: Mapping[str, tuple[np.ndarray, np.ndarray]], highlight: str | None = None
    ) -> None:
        """Show exactly ``series`` ({name: (x, y)}); hide every other name."""
        unknown = set(series) - set(self.names)
        if unknown:
            raise ValueError(f"unknown series {sorted(unknown)}; known: {self.names}")
        self._series = {
            name: (np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
            for name, (x, y) in series.items()
        }
        for log in (False, True):
            for name in self.names:
                line, item = self.lines[log][name], self._items[log][name]
                shown = name in self._series
                if shown:
                    self._draw(log, name, *self._series[name])
                elif line.visible:
                    self.sources[log][name].data = dict(x=[], y=[], name=[])
                width = 4 if name == highlight else 2
                if line.visible != shown:
                    line.visible = shown
                    item.visible = shown
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


# -- associative memory and conditioning (lesson 05) -------------------------------------

DIVERGING = interp_palette(RdBu11, 255)  # blue (negative) .. white (0) .. red (positive)
MISSING_COLOR = "#bbbbbb"  # an item not written yet


class BandCurves:
    """Named curves, each with an optional band around it (mean ± spread, say).

    Every name gets its line, band, colour and legend entry once, at construction;
    ``update`` shows the series given and hides the rest, so a dashboard can show a
    different subset (or relabel one, ``labels``) without new models. A series is
    ``(x, y)`` or ``(x, y, low, high)``; the band fills between low and high. ``dashed``
    names are drawn dashed (an analytic curve beside measured ones), ``highlight`` thicker.
    ``mark`` draws a vertical dashed line (N = d_k, say).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        dashed: Sequence[str] = (),
        colors: Mapping[str, str] | None = None,
        **figure_kwargs,
    ) -> None:
        self.names = list(names)
        options = dict(title=title, width=460, height=380, tools="pan,wheel_zoom,reset,save")
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.xaxis.axis_label = x_label
        fig.yaxis.axis_label = y_label
        colours = dict(colors or {})
        self.sources: dict[str, ColumnDataSource] = {}
        self.lines: dict = {}
        self.bands: dict = {}
        self.items: dict[str, LegendItem] = {}
        for i, name in enumerate(self.names):
            color = colours.get(name, SCORE_COLORS[i % len(SCORE_COLORS)])
            source = ColumnDataSource(data=dict(x=[], y=[], low=[], high=[], name=[]))
            band = fig.varea(
                x="x", y1="low", y2="high", source=source, fill_color=color, fill_alpha=0.2
            )
            line = fig.line(
                "x",
                "y",
                source=source,
                color=color,
                line_width=2,
                line_dash="dashed" if name in dashed else "solid",
            )
            band.visible = line.visible = False
            self.sources[name], self.lines[name], self.bands[name] = source, line, band
            self.items[name] = LegendItem(label=name, renderers=[line, band], visible=False)
        fig.add_layout(
            Legend(
                items=list(self.items.values()),
                orientation="horizontal",
                ncols=3,
                label_text_font_size="11px",
                click_policy="hide",
                border_line_color=None,
                margin=4,
                padding=2,
            ),
            "below",  # curves cross everywhere inside: the legend goes under the axes
        )
        fig.add_tools(
            HoverTool(
                renderers=list(self.lines.values()),
                tooltips=[("", "@name"), ("x", "@x{0.[00]}"), ("y", "@y{0.000}")],
            )
        )
        self.marker = Span(
            dimension="height", line_color="#666666", line_dash="dashed", visible=False
        )
        fig.add_layout(self.marker)

    def update(
        self,
        series: Mapping[str, tuple],
        *,
        labels: Mapping[str, str] | None = None,
        highlight: str | None = None,
    ) -> None:
        """Show exactly ``series`` ({name: (x, y) or (x, y, low, high)}); hide the others."""
        unknown = set(series) - set(self.names)
        if unknown:
            raise ValueError(f"unknown series {sorted(unknown)}; known: {self.names}")
        labels = dict(labels or {})
        for name in self.names:
            line, band, item = self.lines[name], self.bands[name], self.items[name]
            shown = name in series
            if shown:
                x, y, *spread = (np.asarray(a, dtype=np.float64) for a in series[name])
                low, high = spread if spread else (y, y)
                self.sources[name].data = dict(x=x, y=y, low=low, high=high, name=[name] * len(x))
            elif line.visible:
                self.sources[name].data = dict(x=[], y=[], low=[], high=[], name=[])
            if line.visible != shown:
                line.visible = band.visible = item.visible = shown
            label = labels.get(name, name)
            if getattr(item.label, "value", None) != label:
                item.label = literal_value(label)  # a plain string would name a column
            width = 4 if name == highlight else 2
            if line.glyph.line_width != width:
                line.glyph.line_width = width

    def mark(self, x: float | None) -> None:
        """A vertical dashed line at ``x`` (None hides it)."""
        self.marker.visible = x is not None
        if x is not None:
            self.marker.location = float(x)


class SignedHeatmap:
    """A small matrix of signed numbers on a diverging scale centred at 0 (a memory S).

    Blue is negative, white zero, red positive; ``update(matrix, limit)`` fixes the
    scale to ±limit (default: the largest magnitude), so a player scrubbing through
    the matrices of one recording keeps one scale. Hovering a cell gives its row,
    column and value. Drawn cell by cell: meant for matrices up to about 64 x 64.
    """

    def __init__(
        self,
        matrix: np.ndarray,
        *,
        title: str = "",
        x_label: str = "column",
        y_label: str = "row",
        value_label: str = "value",
        **figure_kwargs,
    ) -> None:
        self.mapper = LinearColorMapper(palette=DIVERGING, low=-1.0, high=1.0)
        self.cells = ColumnDataSource(data=dict(x=[], y=[], value=[]))
        options = dict(
            title=title,
            x_range=Range1d(-0.5, 0.5),
            y_range=Range1d(0.5, -0.5),  # row 0 at the top, as in a matrix
            tools="save",
            width=400,
            height=360,
        )
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.grid.visible = False
        fig.xaxis.axis_label = x_label
        fig.yaxis.axis_label = y_label
        self.rects = fig.rect(
            "x",
            "y",
            1,
            1,
            source=self.cells,
            line_color="#ffffff",
            line_width=0.5,
            fill_color={"field": "value", "transform": self.mapper},
        )
        fig.add_tools(
            HoverTool(
                renderers=[self.rects],
                tooltips=[(y_label, "@y"), (x_label, "@x"), (value_label, "@value{0.000}")],
            )
        )
        fig.add_layout(ColorBar(color_mapper=self.mapper, width=10, title=value_label), "right")
        self.update(matrix)

    def update(self, matrix: np.ndarray, limit: float | None = None) -> None:
        """Draw ``matrix`` (rows, cols) on the scale ±``limit`` (default: max |matrix|)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
        n_rows, n_cols = matrix.shape
        top = float(np.nanmax(np.abs(matrix))) if limit is None and matrix.size else limit or 0.0
        top = top if np.isfinite(top) and top > 0 else 1.0
        if (self.mapper.low, self.mapper.high) != (-top, top):
            self.mapper.update(low=-top, high=top)
        ys, xs = np.divmod(np.arange(n_rows * n_cols), n_cols)
        self.cells.data = dict(x=xs, y=ys, value=matrix.ravel())
        self.figure.x_range.update(start=-0.5, end=n_cols - 0.5)
        self.figure.y_range.update(start=n_rows - 0.5, end=-0.5)
        _label_ticks(self.figure.xaxis[0], n_cols, None)
        _label_ticks(self.figure.yaxis[0], n_rows, None)


class ItemBars:
    """One bar per item in a fixed number of slots; the slots not filled stay empty.

    ``update(values, n_slots, highlight)`` draws ``values[i]`` in slot i for the first
    ``len(values)`` slots (the rest wait, outlined in grey), the ``highlight`` one in
    the selected colour (the item written last, say). ``mark`` draws a vertical dashed
    line between slots (where the memory's capacity d_k ends).
    """

    def __init__(self, *, title: str = "", x_label: str = "item", y_label: str = "", **kw):
        options = dict(title=title, width=460, height=300, tools="save")
        options.update(kw)
        self.figure = fig = themed_figure(**options)
        fig.xaxis.axis_label = x_label
        fig.yaxis.axis_label = y_label
        fig.yaxis.formatter = BasicTickFormatter(use_scientific=False)
        fig.x_range = Range1d(-0.5, 0.5)
        fig.y_range = DataRange1d(start=0.0)
        self.source = ColumnDataSource(data=dict(x=[], top=[], color=[], label=[]))
        self.slots = ColumnDataSource(data=dict(x=[]))
        fig.vbar(
            x="x",
            top=1.0,
            width=0.8,
            source=self.slots,
            fill_color=None,
            line_color=MISSING_COLOR,
            line_dash="dotted",
        )
        bars = fig.vbar(
            x="x", top="top", width=0.8, source=self.source, color="color", line_color=None
        )
        fig.add_tools(
            HoverTool(renderers=[bars], tooltips=[("item", "@label"), ("value", "@top{0.000}")])
        )
        self.marker = Span(
            dimension="height", line_color="#666666", line_dash="dashed", visible=False
        )
        fig.add_layout(self.marker)

    def update(self, values: np.ndarray, n_slots: int, highlight: int | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        n = values.size
        if n > n_slots:
            raise ValueError(f"values must fit in n_slots={n_slots}, got {n} values")
        colors = [SERIES_COLORS[5]] * n
        if highlight is not None and 0 <= highlight < n:
            colors[highlight] = SELECTED_COLOR
        self.source.data = dict(
            x=np.arange(n), top=values, color=colors, label=[str(i) for i in range(n)]
        )
        self.slots.data = dict(x=np.arange(n, n_slots))
        self.figure.x_range.update(start=-0.5, end=n_slots - 0.5)

    def mark(self, x: float | None) -> None:
        """A vertical dashed line at ``x`` (None hides it)."""
        self.marker.visible = x is not None
        if x is not None:
            self.marker.location = float(x)


GROUP_DASHES = ("solid", "dashed", "dotted", "dotdash")  # first group solid, control dashed


def stimulus_colors(stimuli: Sequence[str]) -> dict[str, str]:
    """One colour per stimulus, by its place in ``stimuli``: the same in every figure."""
    return {s: SCORE_COLORS[i % len(SCORE_COLORS)] for i, s in enumerate(stimuli)}


class StrengthCurves:
    """Associative strength V of each stimulus over trials, one line per (group, stimulus).

    A stimulus keeps its colour (by its place in ``stimuli``) and a group its dash (the
    first group solid, the second, a control group, dashed), so two figures given the
    same stimuli and groups read alike. Phase boundaries are dotted vertical lines with
    the phase's name at the top. All lines are one multi-line glyph: any number of
    stimuli and groups is a data change, not a new model.
    """

    def __init__(
        self,
        *,
        title: str = "",
        x_label: str = "trial",
        y_label: str = "associative strength V",
        **figure_kwargs,
    ) -> None:
        options = dict(title=title, width=460, height=400, tools="pan,wheel_zoom,reset,save")
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.xaxis.axis_label = x_label
        fig.yaxis.axis_label = y_label
        self.source = ColumnDataSource(
            data=dict(xs=[], ys=[], color=[], dash=[], label=[], stimulus=[], group=[])
        )
        self.phases = ColumnDataSource(data=dict(x=[], y=[], name=[]))
        fig.add_layout(Span(location=0, dimension="width", line_color="#999999", line_width=1))
        fig.vspan(x="x", source=self.phases, line_color="#888888", line_dash="dotted")
        fig.text(
            x="x",
            y="y",
            text="name",
            source=self.phases,
            x_offset=4,
            text_font_size="11px",
            text_color="#555555",
            text_baseline="bottom",
            text_font={"value": FONT},
        )
        lines = fig.multi_line(
            xs="xs",
            ys="ys",
            source=self.source,
            line_color="color",
            line_dash="dash",
            line_width=2.5,
            legend_field="label",
        )
        fig.add_tools(
            HoverTool(
                renderers=[lines],
                tooltips=[("", "@label"), ("trial", "$x{0}"), ("V", "$y{0.000}")],
            )
        )
        legend = fig.legend[0]
        fig.add_layout(legend, "below")  # curves cross everywhere inside
        legend.update(
            orientation="horizontal",
            ncols=3,
            label_text_font_size="11px",
            border_line_color=None,
            margin=4,
            padding=2,
        )

    def update(
        self,
        curves: Sequence[tuple],
        *,
        stimuli: Sequence[str],
        groups: Sequence[str],
        phases: Sequence[tuple[int, str]] = (),
    ) -> None:
        """Draw ``curves``, each ``(group, stimulus, strengths)`` over trials 0..T, or
        ``(group, stimulus, strengths, first_trial)`` to start a curve later on the axis.

        ``stimuli`` and ``groups`` fix the colours and dashes; ``phases`` are
        ``(first trial, name)`` of the phases to mark. A single group is not named in
        the legend.
        """
        colors = stimulus_colors(stimuli)
        groups = list(groups)
        xs, ys, color, dash, label, stimulus, group = ([] for _ in range(7))
        for group_name, name, values, *start in curves:
            values = np.asarray(values, dtype=np.float64)
            xs.append(np.arange(values.size, dtype=np.float64) + (start[0] if start else 0))
            ys.append(values)
            color.append(colors[name])
            dash.append(GROUP_DASHES[groups.index(group_name) % len(GROUP_DASHES)])
            label.append(name if len(groups) == 1 else f"{name} ({group_name})")
            stimulus.append(name)
            group.append(group_name)
        self.source.data = dict(
            xs=xs, ys=ys, color=color, dash=dash, label=label, stimulus=stimulus, group=group
        )
        finite = [v[np.isfinite(v)] for v in ys]
        top = max((float(v.max()) for v in finite if v.size), default=1.0)
        bottom = min((float(v.min()) for v in finite if v.size), default=0.0)
        y = top + 0.04 * max(top - bottom, 1e-9)  # phase names just above the curves
        self.phases.data = dict(
            x=[float(start) for start, _ in phases],
            y=[y] * len(phases),
            name=[str(name) for _, name in phases],
        )


# -- one framework: the DSF (lesson 06) ---------------------------------------------------

CLASS_COLORS = (*SCORE_COLORS, "#000000", "#999999")  # eight: one per model class
ROW_COLOR = "#d55e00"  # the outlined row: the step of the recurrence


class PhiHeatmap:
    """One implicit attention matrix Φ (outputs i down, inputs j across) on a diverging scale.

    Blue negative, white zero, red positive, centred at 0 and scaled to ±limit (default:
    the largest magnitude), so the causal upper triangle reads white. Drawn as one image
    whatever its size, so several side by side stay fast; hovering gives i, j and Φ_ij.
    ``mark_row`` outlines row i (the step of the recurrence); ``color_bar.title`` names
    what is drawn.
    """

    def __init__(
        self,
        *,
        title: str = "Φ",
        x_label: str = "j, input token",
        y_label: str = "i, output token",
        value_label: str = "Φ_ij",
        **figure_kwargs,
    ) -> None:
        self.mapper = LinearColorMapper(palette=DIVERGING, low=-1.0, high=1.0)
        self.source = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.figure = fig = _matrix_figure(
            title,
            x_label,
            y_label,
            tools="pan,wheel_zoom,reset,save",
            width=340,
            height=310,
            figure_kwargs=figure_kwargs,
            plain_ticks=True,
        )
        self.picture = _image(fig, self.source, self.mapper)
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[("i", "$y{0}"), ("j", "$x{0}"), (value_label, "@image{0.000}")],
            )
        )
        self.color_bar = ColorBar(color_mapper=self.mapper, width=10, title=value_label)
        fig.add_layout(self.color_bar, "right")
        self.row = BoxAnnotation(
            left=0,
            right=1,
            top=0,
            bottom=1,
            fill_color=ROW_COLOR,
            fill_alpha=0.12,
            line_color=ROW_COLOR,
            line_width=2,
            visible=False,
        )
        fig.add_layout(self.row)

    def update(self, matrix: np.ndarray, limit: float | None = None) -> None:
        """Draw ``matrix`` (T_out, T_in) on the scale ±``limit`` (default: max |matrix|)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
        n_rows, n_cols = matrix.shape
        top = float(np.nanmax(np.abs(matrix))) if limit is None and matrix.size else limit or 0.0
        top = top if np.isfinite(top) and top > 0 else 1.0
        if (self.mapper.low, self.mapper.high) != (-top, top):
            self.mapper.update(low=-top, high=top)
        # cell (i, j) spans [j, j + 1) x [i, i + 1); the y range is flipped, so row 0 is on top;
        # float32 is plenty for colours and halves what goes to the browser
        image = matrix.astype(np.float32)
        self.source.data = dict(image=[image], x=[0], y=[0], dw=[n_cols], dh=[n_rows])
        if (self.figure.x_range.start, self.figure.x_range.end) != (0, n_cols):
            self.figure.x_range.update(start=0, end=n_cols)
        if (self.figure.y_range.start, self.figure.y_range.end) != (n_rows, 0):
            self.figure.y_range.update(start=n_rows, end=0)
        if self.row.right != n_cols:
            self.row.right = n_cols

    def mark_row(self, row: int | None) -> None:
        """Outline row ``row`` (None hides the outline)."""
        if row is None:
            if self.row.visible:
                self.row.visible = False
            return
        self.row.update(top=int(row), bottom=int(row) + 1, visible=True)


class ClassCurves(_LinearOrLog):
    """One line (and one dot) per name of a fixed set, each in its colour for good.

    The same name keeps its colour in every ClassCurves built with the same ``names``, so
    figures side by side read alike. ``update`` shows the series given and hides the rest
    (their legend entries too); ``points`` puts one dot per name. There are two figures,
    a linear and a log y axis, with the same lines; ``set_log`` shows one (points at
    y <= 0 are left out of the log one), so switching sends no new models. ``figure`` is
    the one shown.
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        labels: Mapping[str, str] | None = None,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        **figure_kwargs,
    ) -> None:
        self.names = list(names)
        self.log = False
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._points: dict[str, tuple[float, float]] = {}
        self.colors = {n: CLASS_COLORS[i % len(CLASS_COLORS)] for i, n in enumerate(self.names)}
        self.figures: dict[bool, figure] = {}
        self.sources: dict[bool, dict[str, ColumnDataSource]] = {}
        self.lines: dict[bool, dict] = {}
        self.items: dict[bool, dict[str, LegendItem]] = {}
        self.dots: dict[bool, ColumnDataSource] = {}
        labels = dict(labels or {})
        for log in (False, True):
            options = dict(title=title, width=460, height=360, tools="pan,wheel_zoom,reset,save")
            if log:
                options.update(y_axis_type="log")
            options.update(figure_kwargs)
            fig = themed_figure(**options)
            fig.xaxis.axis_label = x_label
            fig.yaxis.axis_label = y_label + (" (log)" if log else "")
            fig.visible = not log
            sources, lines, items = {}, {}, {}
            for name in self.names:
                source = ColumnDataSource(data=dict(x=[], y=[], name=[]))
                line = fig.line("x", "y", source=source, line_width=2, color=self.colors[name])
                line.visible = False
                sources[name], lines[name] = source, line
                items[name] = LegendItem(
                    label=literal_value(labels.get(name, name)), renderers=[line], visible=False
                )
            fig.add_layout(
                Legend(
                    items=list(items.values()),
                    orientation="horizontal",
                    ncols=2,
                    label_text_font_size="11px",
                    click_policy="hide",
                    border_line_color=None,
                    margin=4,
                    padding=2,
                ),
                "below",  # curves cross everywhere inside: the legend goes under the axes
            )
            dots = ColumnDataSource(data=dict(x=[], y=[], name=[], color=[]))
            dot = fig.scatter(
                "x", "y", source=dots, size=9, color="color", line_color="#ffffff", line_width=1
            )
            fig.add_tools(
                HoverTool(
                    renderers=[*lines.values(), dot],
                    tooltips=[("", "@name"), ("x", "@x{0.[00]}"), ("y", "@y{0.0000}")],
                )
            )
            self.figures[log], self.sources[log], self.lines[log] = fig, sources, lines
            self.items[log], self.dots[log] = items, dots

    def update(
        self,
        series: Mapping[str, tuple[np.ndarray, np.ndarray]],
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Show exactly ``series`` ({name: (x, y)}); hide every other name."""
        unknown = set(series) - set(self.names)
        if unknown:
            raise ValueError(f"unknown series {sorted(unknown)}; known: {self.names}")
        self._series = {
            name: (np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
            for name, (x, y) in series.items()
        }
        labels = dict(labels or {})
        for log in (False, True):
            for name in self.names:
                line, item = self.lines[log][name], self.items[log][name]
                shown = name in self._series
                if shown:
                    x, y = self._series[name]
                    if log:
                        keep = y > 0
                        x, y = x[keep], y[keep]
                    self.sources[log][name].data = dict(x=x, y=y, name=[name] * len(x))
                elif line.visible:
                    self.sources[log][name].data = dict(x=[], y=[], name=[])
                if line.visible != shown:
                    line.visible = item.visible = shown
                if name in labels and getattr(item.label, "value", None) != labels[name]:
                    item.label = literal_value(labels[name])  # a plain string names a column

    def points(self, points: Mapping[str, tuple[float, float]]) -> None:
        """One dot per name at (x, y) ({} clears them)."""
        for log, dots in self.dots.items():
            keep = [n for n, (_, y) in points.items() if not log or y > 0]
            dots.data = dict(
                x=[float(points[n][0]) for n in keep],
                y=[float(points[n][1]) for n in keep],
                name=keep,
                color=[self.colors.get(n, "#000000") for n in keep],
            )


# attnviz.mixers.MIXERS' colour and marker (plots never import torch): a marker per class
# too, since softmax's one dot often sits on another class's last one
MIXER_STYLES = {
    "attention": (CLASS_COLORS[0], "star"),
    "linear_attention": (CLASS_COLORS[1], "circle"),
    "s6": (CLASS_COLORS[2], "triangle"),
    "qlstm": (CLASS_COLORS[3], "square"),
}


def recall_vs_state(
    curves: Mapping[str, tuple[Sequence[float], ...]],
    *,
    labels: Mapping[str, str] | None = None,
    chance: float | None = None,
    title: str = "MQAR recall against state size",
    **figure_kwargs,
) -> figure:
    """Accuracy against state size on a log axis, one line with dots per class (lesson 06).

    ``curves`` maps a class to (state sizes, accuracies) or (sizes, accuracies, lows,
    highs), the lows and highs drawn as a bar per dot (the spread over seeds). A class
    with one state size (softmax's KV cache, the qLSTM) is a dot; softmax attention is
    drawn last, as a star, so no other class hides it. The x ticks are the powers of two
    the sizes span. ``chance`` draws a dashed line at that accuracy.
    """
    if not curves:
        raise ValueError("curves must name at least one class, got an empty mapping")
    every_x = [float(x) for series in curves.values() for x in series[0]]
    if not every_x or min(every_x) <= 0:
        raise ValueError(f"curves' state sizes must be positive, got {sorted(every_x)[:3]}")
    low_x, high_x = min(every_x), max(every_x)
    options = dict(title=title, width=560, height=380, tools="pan,wheel_zoom,reset,save",
                   x_axis_type="log", y_range=(-0.02, 1.05),
                   x_range=(low_x / 1.4, high_x * 1.4))  # fmt: skip
    options.update(figure_kwargs)
    fig = themed_figure(**options)
    powers = range(int(np.floor(np.log2(low_x))), int(np.ceil(np.log2(high_x))) + 1)
    fig.xaxis.ticker = FixedTicker(ticks=[2.0**k for k in powers], minor_ticks=[])
    fig.xaxis.axis_label = "state size (floats per layer, per sequence; log)"
    fig.yaxis.axis_label = "held-out accuracy"
    labels = dict(labels or {})
    items, renderers = {}, []
    order = sorted(curves, key=lambda name: name == "attention")  # softmax on top
    for name in order:
        x, y, *spread = (np.asarray(a, dtype=np.float64) for a in curves[name])
        i = list(curves).index(name)
        color, marker = MIXER_STYLES.get(name, (CLASS_COLORS[i % len(CLASS_COLORS)], "circle"))
        label = labels.get(name, name)
        source = ColumnDataSource(data=dict(x=x, y=y, name=[label] * len(x)))
        line = fig.line("x", "y", source=source, color=color, line_width=2)
        dots = fig.scatter("x", "y", source=source, size=16 if marker == "star" else 10,
                           marker=marker, color=color, line_color="#ffffff")  # fmt: skip
        parts = [line, dots]
        if spread:
            low, high = spread
            parts.append(fig.segment(x0=x, y0=low, x1=x, y1=high, color=color, line_width=2))
        items[name] = LegendItem(label=literal_value(label), renderers=parts)
        renderers.append(dots)
    if chance is not None:
        fig.add_layout(Span(location=float(chance), dimension="width", line_color="#666666",
                            line_dash="dashed"))  # fmt: skip
    legend = Legend(items=[items[name] for name in curves], orientation="horizontal", ncols=2,
                    border_line_color=None, label_text_font_size="11px", click_policy="hide",
                    margin=4, padding=2)  # fmt: skip
    fig.add_layout(legend, "below")
    tips = [("", "@name"), ("state", "@x{0,0}"), ("accuracy", "@y{0.000}")]
    fig.add_tools(HoverTool(renderers=renderers, tooltips=tips))
    return fig
