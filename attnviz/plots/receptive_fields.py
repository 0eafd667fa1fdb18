"""Lesson 04 (receptive fields): the reach map, the last query's strip, per-pattern curves.

``ReachMap`` colours each (query, key) by the first layer whose output carries the key to
the query (``layer_palette``: one Viridis colour per layer, grey for never);
``ReachStrip`` draws one query's row of it; ``PatternCurves`` draws one curve per
attention pattern (coverage against layers, say) on linear or log-log axes.

A served session pays for every Bokeh model it sends (issue #13), so these views send
few: the map and the strip may share one colour mapper and hover formatter, their images
are small integers (``int8``: a 512 x 512 map is 256 kB, not the 1 MB of float32), and
the curves are one multi-line of one source per figure, the log-log twin built only when
first shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.core.properties import field
from bokeh.models import (
    BasicTickFormatter,
    ColorBar,
    ColumnDataSource,
    CustomJSHover,
    FixedTicker,
    GlyphRenderer,
    Grid,
    HoverTool,
    Image,
    Legend,
    LegendItem,
    LinearColorMapper,
    MultiLine,
    Range1d,
    Scatter,
    Span,
)
from bokeh.palettes import viridis
from bokeh.plotting import figure

from attnviz.plots import _checks
from attnviz.plots.figures import _matrix_figure
from attnviz.plots.theme import SCORE_COLORS, themed_figure

MAX_LAYERS_DRAWN = 255  # one Viridis colour per layer 0 .. n_layers: Viridis has 256
MAX_POSITIONS = 2**24  # the longest axis a reach map or strip spans, in tokens
NEVER_COLOR = "#e0e0e0"  # reached by no layer: light grey
FUTURE_COLOR = "#ffffff"  # after the query in a causal mask: background


def layer_mapper() -> LinearColorMapper:
    """The colour scale of first layers: a Viridis colour per layer, ``NEVER_COLOR``
    below 0 (never), ``FUTURE_COLOR`` above the last layer (the future of a causal query).
    ``ReachMap`` and ``ReachStrip`` given the same one stay on one scale with one model."""
    return LinearColorMapper(
        palette=layer_palette(1),
        low=-0.5,
        high=1.5,
        low_color=NEVER_COLOR,
        high_color=FUTURE_COLOR,
        nan_color=FUTURE_COLOR,
    )


def layer_hover(mapper: LinearColorMapper) -> CustomJSHover:
    """The hover's layer: "never" below 0, "future (causal mask)" above the last layer of
    ``mapper`` (the image's marker for the future); one may serve several figures of one
    document (a Bokeh model belongs to one document)."""
    _mapper("mapper", mapper)
    return CustomJSHover(
        args={"mapper": mapper},
        code="""
        if (value == null || isNaN(value) || value > mapper.high) {
          return "future (causal mask)";
        }
        return value < 0 ? "never" : value.toFixed(0);
        """,
    )


def layer_palette(n_layers: int) -> list[str]:
    """One Viridis colour per layer ``0 .. n_layers`` (dark: early, yellow: late), for
    ``n_layers`` in [0, ``MAX_LAYERS_DRAWN``]."""
    n_layers = _checks.check_int("n_layers", n_layers, low=0, high=MAX_LAYERS_DRAWN)
    return list(viridis(max(2, n_layers + 1)))[: n_layers + 1]


def _set_layers(mapper: LinearColorMapper, n_layers: int) -> None:
    palette = layer_palette(n_layers)
    if mapper.palette != palette:
        mapper.update(palette=palette, low=-0.5, high=n_layers + 0.5)


def _layer_values(first: np.ndarray, n_layers: int, name: str = "first") -> np.ndarray:
    """First layers as small integers for the image (``int8`` up to 126 layers, else
    ``int16``); layers beyond ``n_layers`` become never (-1)."""
    dtype = np.int8 if n_layers < np.iinfo(np.int8).max else np.int16
    values = _checks.values(name, first)
    if np.any(values < -1) or np.any(values != np.round(values)):
        raise ValueError(f"{name} must hold layers: whole numbers >= -1 (-1: never)")
    return np.where(values > n_layers, -1, values).astype(dtype)


def _mapper(name: str, mapper) -> None:
    if not isinstance(mapper, LinearColorMapper):
        raise TypeError(f"{name} must be a LinearColorMapper (layer_mapper()), got {mapper!r}")


def _axis(seq_len, n_layers) -> tuple[int, int]:
    seq_len = _checks.check_int("seq_len", seq_len, low=1, high=MAX_POSITIONS)
    n_layers = _checks.check_int("n_layers", n_layers, low=0, high=MAX_LAYERS_DRAWN)
    return seq_len, n_layers


def _picture(fig, source: ColumnDataSource, mapper: LinearColorMapper) -> GlyphRenderer:
    """An image of the columns image, x, y, dw, dh of ``source``: a renderer with its one
    glyph (no copies for selection or muting, which these figures never use)."""
    renderer = GlyphRenderer(
        data_source=source,
        glyph=Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=mapper),
    )
    fig.renderers.append(renderer)
    return renderer


def _drop_grid(fig) -> None:
    """Take the grid out of a figure that draws none (an image fills the frame): hidden
    grid lines are still models sent with every session."""
    fig.center = [item for item in fig.center if not isinstance(item, Grid)]


def first_layers(image: np.ndarray) -> np.ndarray:
    """The first layers an image of ``ReachMap`` or ``ReachStrip`` draws, as floats: ``-1``
    never, ``NaN`` the future of a causal query (stored as the integer type's largest)."""
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"image must be an array of layers, got {image!r}")
    try:
        image = np.asarray(image)
    except (TypeError, ValueError):
        raise TypeError(f"image must be an array of layers, got {image!r}") from None
    if image.dtype.kind not in "biuf":
        raise TypeError(f"image must hold numbers, got dtype {image.dtype}")
    if image.dtype.kind == "b":
        image = image.astype(np.int8)
    future = np.iinfo(image.dtype).max if image.dtype.kind in "iu" else np.inf
    return np.where(image == future, np.nan, image.astype(np.float64))


class ReachMap:
    """Query x key, coloured by the first layer whose output carries the key to the query.

    ``first`` is a ``(rows, cols)`` array over ``seq_len`` queries and keys: the exact
    matrix, or an overview whose cell covers a tile of them. Values: ``0`` (the token
    itself), ``1 .. n_layers``, ``-1`` never (grey); layers above ``n_layers`` are drawn
    as never. With ``causal=True`` the cells wholly after the diagonal (keys a causal
    query cannot look ahead to) are left white (``first_layers`` reads them as NaN).
    Hovering gives query, key and layer. ``mapper`` and ``hover`` (``layer_mapper``,
    ``layer_hover``) may be shared with a ``ReachStrip``.
    """

    def __init__(
        self,
        *,
        title: str = "reach map",
        mapper: LinearColorMapper | None = None,
        hover: CustomJSHover | None = None,
        **figure_kwargs,
    ) -> None:
        if mapper is not None:
            _mapper("mapper", mapper)
        if hover is not None and not isinstance(hover, CustomJSHover):
            raise TypeError(f"hover must be a CustomJSHover (layer_hover(mapper)), got {hover!r}")
        self.mapper = mapper or layer_mapper()
        self.source = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.figure = fig = _matrix_figure(
            title, "key position", "query position", tools="pan,wheel_zoom,reset",
            width=430, height=400, figure_kwargs=figure_kwargs, plain_ticks=True,
        )  # fmt: skip
        _drop_grid(fig)
        self.picture = _picture(fig, self.source, self.mapper)
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[("query", "$y{0}"), ("key", "$x{0}"), ("first layer", "@image{custom}")],
                formatters={"@image": hover or layer_hover(self.mapper)},
            )
        )
        self.color_bar = ColorBar(
            color_mapper=self.mapper, width=10, title="first layer", ticker=FixedTicker(ticks=[])
        )
        fig.add_layout(self.color_bar, "right")

    def update(self, first: np.ndarray, seq_len: int, n_layers: int, causal: bool) -> None:
        """Draw ``first`` (2-D, first layers: whole numbers >= -1) over ``seq_len`` tokens
        (in [1, ``MAX_POSITIONS``]) of ``n_layers`` (in [0, ``MAX_LAYERS_DRAWN``])."""
        seq_len, n_layers = _axis(seq_len, n_layers)
        causal = _checks.check_bool("causal", causal)
        values = _layer_values(first, n_layers)
        if values.ndim != 2:
            raise ValueError(f"first must be a 2-D array, got shape {values.shape}")
        if causal:
            future = np.iinfo(values.dtype).max
            values = np.where(np.tri(*values.shape, dtype=bool), values, future).astype(
                values.dtype
            )
        _set_layers(self.mapper, n_layers)
        ticks = list(range(0, n_layers + 1, max(1, int(np.ceil((n_layers + 1) / 9)))))
        if self.color_bar.ticker.ticks != ticks:
            self.color_bar.ticker.ticks = ticks
        # the y range is flipped, so anchoring at y=0 puts row 0 (query 0) at the top
        self.source.data = dict(image=[values], x=[0], y=[0], dw=[seq_len], dh=[seq_len])
        self.figure.x_range.update(start=0, end=seq_len)
        self.figure.y_range.update(start=seq_len, end=0)


class ReachStrip:
    """One query's row of the reach map: the first layer per key, a strip under the map.

    Keys never reached are grey, so the holes (and the gaps between reached keys) show.
    ``row`` may be pooled: each cell then covers ``seq_len / len(row)`` keys. The strip
    has no colour bar of its own: it reads with the map's (give both one ``mapper``).
    """

    def __init__(
        self,
        *,
        title: str = "the last query: first layer per key",
        mapper: LinearColorMapper | None = None,
        hover: CustomJSHover | None = None,
        **figure_kwargs,
    ):
        if mapper is not None:
            _mapper("mapper", mapper)
        if hover is not None and not isinstance(hover, CustomJSHover):
            raise TypeError(f"hover must be a CustomJSHover (layer_hover(mapper)), got {hover!r}")
        self.mapper = mapper or layer_mapper()
        self.source = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        options = dict(
            title=title,
            x_range=Range1d(0, 1),
            y_range=Range1d(0, 1),
            tools="xpan,xwheel_zoom,reset",
            width=430,
            height=130,
        )
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(y_axis_location=None, **options)
        _drop_grid(fig)
        fig.xaxis.axis_label = "key position"
        fig.xaxis.formatter = BasicTickFormatter(use_scientific=False)
        self.picture = _picture(fig, self.source, self.mapper)
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[("key", "$x{0}"), ("first layer", "@image{custom}")],
                formatters={"@image": hover or layer_hover(self.mapper)},
            )
        )

    def update(self, row: np.ndarray, seq_len: int, n_layers: int) -> None:
        """Draw ``row`` (1-D, first layers per key: whole numbers >= -1) over ``seq_len``
        keys (in [1, ``MAX_POSITIONS``]) of ``n_layers`` (in [0, ``MAX_LAYERS_DRAWN``])."""
        seq_len, n_layers = _axis(seq_len, n_layers)
        values = _layer_values(row, n_layers, "row")
        if values.ndim != 1:
            raise ValueError(f"row must be 1-D, got shape {values.shape}")
        values = values[None, :]
        _set_layers(self.mapper, n_layers)
        self.source.data = dict(image=[values], x=[0], y=[0], dw=[seq_len], dh=[1])
        self.figure.x_range.update(start=0, end=seq_len)


class PatternCurves:
    """One line per named pattern (coverage against layers, say), any subset shown.

    Every name has its colour, fixed at construction; ``update`` shows the given series
    (in the order of ``names``, the legend too) and no other, the ``highlight`` one drawn
    thicker. All lines of a figure are one multi-line glyph of one source, so showing
    another subset is a data change, not new models; hovering a line gives its name and
    its nearest point. There are two figures, linear and log-log (points at x <= 0 or
    y <= 0 left out of the log one); ``set_log`` shows one and hides the other. The log
    one is built, from the series kept, the first time it is shown: a student who never
    asks for log axes never pays for it, and switching back and forth sends no new
    models. ``figure`` is the one shown, ``figures`` those built so far. ``mark`` draws
    a vertical line with a dot on each shown series.
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
        self.names = _checks.names("names", names)
        self.log = False
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # per figure (False: linear, True: log-log) built so far
        self.figures: dict[bool, figure] = {}
        self.sources: dict[bool, ColumnDataSource] = {}  # xs, ys, name, color, width
        self.lines: dict[bool, GlyphRenderer] = {}  # the multi-line
        self.dots: dict[bool, ColumnDataSource] = {}  # x, y, name, color
        self.markers: dict[bool, Span] = {}
        self._mark_x: float | None = None
        self._highlight: str | None = None
        colours = [*SCORE_COLORS, "#000000", "#999999", "#e69f00", "#56b4e9", "#8c564b"]
        self._colours = {n: colours[i % len(colours)] for i, n in enumerate(self.names)}
        self._labels = (x_label, y_label)
        self._options = dict(title=title, width=430, height=340, tools="pan,wheel_zoom,reset")
        self._options.update(figure_kwargs)
        self._legend_location = legend_location
        self._build(False)

    def _build(self, log: bool) -> None:
        """Make the linear (``log=False``) or the log-log figure: one multi-line, its
        legend, the marker and its dots."""
        options = dict(self._options)
        if log:
            options.update(x_axis_type="log", y_axis_type="log")
        fig = themed_figure(**options)
        x_label, y_label = self._labels
        fig.xaxis.axis_label = x_label + (" (log)" if log else "")
        fig.yaxis.axis_label = y_label + (" (log)" if log else "")
        fig.visible = log == self.log
        source = ColumnDataSource(data=dict(xs=[], ys=[], name=[], color=[], width=[]))
        lines = GlyphRenderer(
            data_source=source,
            glyph=MultiLine(xs="xs", ys="ys", line_color="color", line_width="width"),
        )
        dots = ColumnDataSource(data=dict(x=[], y=[], name=[], color=[]))
        dot_renderer = GlyphRenderer(
            data_source=dots,
            glyph=Scatter(x="x", y="y", size=8, fill_color="color", line_color="color"),
        )
        marker = Span(dimension="height", line_color="#666666", line_dash="dashed")
        fig.renderers.extend([lines, dot_renderer])
        fig.add_layout(marker)
        fig.add_layout(
            Legend(
                items=[LegendItem(label=field("name"), renderers=[lines])],
                location=self._legend_location,
                background_fill_alpha=0.6,
                label_text_font_size="11px",
            )
        )
        fig.add_tools(
            HoverTool(
                renderers=[lines],
                tooltips=[("pattern", "@name"), ("x", "$snap_x{0.[00]}"), ("y", "$snap_y{0.0000}")],
            )
        )
        self.figures[log], self.sources[log], self.lines[log] = fig, source, lines
        self.dots[log], self.markers[log] = dots, marker
        self._draw(log)
        self._draw_mark(log)

    def update(
        self, series: Mapping[str, tuple[np.ndarray, np.ndarray]], highlight: str | None = None
    ) -> None:
        """Show exactly ``series`` ({name: (x, y)}, 1-D arrays of one length, x increasing
        for ``mark``; NaN draws a gap); hide every other name; ``highlight`` names the one
        drawn thick."""
        series = _checks.mapping("series", series)
        unknown = set(series) - set(self.names)
        if unknown:
            raise ValueError(f"unknown series {sorted(unknown)}; known: {self.names}")
        if highlight is not None:
            _checks.check_text("highlight", highlight, empty=True)
        self._series = {
            name: tuple(_checks.series(f"series[{name!r}]", xy)) for name, xy in series.items()
        }
        self._highlight = highlight
        for log in self.figures:
            self._draw(log)
            self._draw_mark(log)

    def shown(self, log: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The series the linear (or log) figure draws now, {name: (x, y)}, read back from
        its source (the log figure is built, hidden, if it has not been shown)."""
        log = _checks.check_bool("log", log)
        if log not in self.figures:
            self._build(log)
        data = self.sources[log].data
        rows = zip(data["name"], data["xs"], data["ys"], strict=True)
        return {name: (np.asarray(x), np.asarray(y)) for name, x, y in rows}

    def _draw(self, log: bool) -> None:
        names = [name for name in self.names if name in self._series]
        xs, ys = [], []
        for name in names:
            x, y = self._series[name]
            if log:
                keep = (x > 0) & (y > 0)
                x, y = x[keep], y[keep]
            xs.append(x)
            ys.append(y)
        self.sources[log].data = dict(
            xs=xs,
            ys=ys,
            name=names,
            color=[self._colours[name] for name in names],
            width=[4 if name == self._highlight else 2 for name in names],
        )

    @property
    def figure(self) -> figure:
        """The figure shown now (linear or log)."""
        return self.figures[self.log]

    def set_log(self, log: bool) -> None:
        """Show the log figure (True) or the linear one (False), building the log one the
        first time."""
        self.log = _checks.check_bool("log", log)
        if self.log not in self.figures:
            self._build(self.log)
        for which, fig in self.figures.items():
            if fig.visible != (which == self.log):
                fig.visible = which == self.log

    def mark(self, x: float | None) -> None:
        """A vertical dashed line at ``x``, and a dot where each shown series crosses it
        (None hides them)."""
        self._mark_x = _checks.optional_real("x", x)
        for log in self.figures:
            self._draw_mark(log)

    def _draw_mark(self, log: bool) -> None:
        x = self._mark_x
        names = [n for n in self.names if n in self._series and self._series[n][0].size]
        names = names if x is not None else []
        ys = [float(np.interp(x, *self._series[name])) for name in names]
        marker = self.markers[log]
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
