"""Lesson 06 (one framework: the DSF): implicit attention matrices and per-class curves.

``PhiGrid`` draws the implicit attention matrices Φ of several classes in one figure, each
on its own diverging scale; ``ClassCurves`` draws one line per model class, each class in
its colour, on a linear or log axis;
``recall_vs_state`` draws MQAR recall against state size, one line per class in its
colour and marker; ``transition_trace`` a scalar transition Λ_i against the step.
Every class's label, colour and marker are ``attnviz.model_classes``'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.core.properties import value as literal_value
from bokeh.models import (
    CDSView,
    ColorBar,
    ColumnDataSource,
    CustomJSHover,
    FixedTicker,
    GlyphRenderer,
    HoverTool,
    Image,
    LegendItem,
    Line,
    LinearColorMapper,
    Quad,
    Range1d,
    Scatter,
    Span,
    Text,
)
from bokeh.plotting import figure

from attnviz.model_classes import BY_KIND, BY_MIXER, CLASSES
from attnviz.plots import _checks
from attnviz.plots.figures import _legend_below
from attnviz.plots.theme import DIVERGING, FONT, slim, themed_figure

CLASS_COLORS = tuple(model.color for model in CLASSES)  # one per model class, in table order
ROW_COLOR = "#d55e00"  # the outlined row: the step of the recurrence
MAX_COLUMNS = 16  # PhiGrid: panels side by side at most
MAX_PANEL_PX = 2000  # PhiGrid: the largest panel, in pixels


class PhiGrid:
    """The implicit attention matrices Φ of several classes in one figure, side by side.

    Each class's Φ (outputs i down, inputs j across) is one image of a grid of panels, on a
    diverging scale centred at 0 and scaled to the class's own largest magnitude: blue
    negative, white zero, red positive, so the causal upper triangle reads white. One figure
    with one image renderer, however many classes, so a served session sends few models
    (issue #13); hovering names the class, i, j, Φ_ij over its largest |Φ|, and that
    largest |Φ|. ``mark_row`` outlines row i of every panel (the step of the recurrence).
    ``drawn`` holds each class's matrix as given, ``titles`` each panel's title.
    """

    def __init__(
        self,
        *,
        columns: int = 3,
        panel_px: int = 200,
        value_label: str = "Φ_ij",
        **figure_kwargs,
    ) -> None:
        columns = _checks.check_int("columns", columns, low=1, high=MAX_COLUMNS)
        panel_px = _checks.check_int("panel_px", panel_px, low=1, high=MAX_PANEL_PX)
        self.columns, self.panel_px = columns, panel_px
        self.drawn: dict[str, np.ndarray] = {}
        self.titles: dict[str, str] = {}
        self._size = 1  # tokens per panel side
        self.mapper = LinearColorMapper(palette=DIVERGING, low=-1.0, high=1.0)
        self.images = ColumnDataSource(
            data=dict(image=[], x=[], y=[], dw=[], dh=[], label=[], top=[])
        )
        self.labels = ColumnDataSource(data=dict(x=[], y=[], text=[]))
        self.rows = ColumnDataSource(data=dict(left=[], right=[], top=[], bottom=[]))
        options = dict(
            x_range=Range1d(0, 1), y_range=Range1d(1, 0),  # row 0 of each panel on top
            x_axis_type=None, y_axis_type=None,  # no axes: each panel says what it shows
            tools="pan,wheel_zoom,reset,save", min_border=8,
        )  # fmt: skip
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        view = CDSView()
        self.picture = fig.add_glyph(
            self.images,
            Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=self.mapper),
            view=view,
        )
        fig.add_glyph(
            self.labels,
            Text(x="x", y="y", text="text", text_font=literal_value(FONT), text_font_size="12px",
                 text_baseline="bottom"),
        )  # fmt: skip
        self.row = fig.add_glyph(
            self.rows,
            Quad(left="left", right="right", top="top", bottom="bottom", fill_color=ROW_COLOR,
                 fill_alpha=0.12, line_color=ROW_COLOR, line_width=2),
        )  # fmt: skip
        self._cell = CustomJSHover(
            args=dict(pitch=1.0), code="return String(Math.floor(value % pitch))"
        )
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[("", "@label"), ("i", "$y{custom}"), ("j", "$x{custom}"),
                          (f"{value_label} ÷ max |{value_label}|", "@image{0.000}"),
                          (f"max |{value_label}|", "@top{0.000}")],
                formatters={"$x": self._cell, "$y": self._cell},
            )
        )  # fmt: skip
        self.color_bar = ColorBar(
            color_mapper=self.mapper, width=10, title=f"{value_label} ÷ max |{value_label}|"
        )
        fig.add_layout(self.color_bar, "right")

    def _pitch(self) -> float:
        """Grid units from one panel's corner to the next: the panel and a gap for its title."""
        return self._size * 1.25

    def _corner(self, k: int) -> tuple[float, float]:
        pitch = self._pitch()
        return (k % self.columns) * pitch, (k // self.columns) * pitch + 0.2 * self._size

    def update(self, matrices: Mapping[str, np.ndarray], titles: Mapping[str, str]) -> None:
        """Draw ``matrices`` ({name: (T, T)}, in order), each on ±its largest magnitude and
        titled by ``titles`` (a title per name); an empty mapping clears the figure. NaN
        and inf cells are drawn blank."""
        matrices = {
            name: _checks.values(f"matrices[{name!r}]", m, finite=False)
            for name, m in _checks.mapping("matrices", matrices).items()
        }
        titles = _checks.text_mapping("titles", titles)
        missing = [name for name in matrices if name not in titles]
        if missing:
            raise ValueError(f"titles must give every matrix a title, missing {missing}")
        sizes = {np.shape(m) for m in matrices.values()}
        if len(sizes) > 1 or any(len(size) != 2 or size[0] != size[1] for size in sizes):
            raise ValueError(f"matrices must be square and of one size, got shapes {sizes}")
        self.drawn = {name: np.asarray(m, dtype=np.float64) for name, m in matrices.items()}
        self.titles = {name: titles[name] for name in matrices}
        self._size = next(iter(sizes))[0] if sizes else 1
        columns = dict(image=[], x=[], y=[], dw=[], dh=[], label=[], top=[])
        text = dict(x=[], y=[], text=[])
        for k, (name, matrix) in enumerate(self.drawn.items()):
            x, y = self._corner(k)
            top = float(np.nanmax(np.abs(matrix))) if matrix.size else 0.0
            top = top if np.isfinite(top) and top > 0 else 1.0
            # float32 is plenty for colours and halves what goes to the browser
            columns["image"].append((matrix / top).astype(np.float32))
            row = dict(x=x, y=y, dw=self._size, dh=self._size, label=self.titles[name], top=top)
            for key, item in row.items():
                columns[key].append(item)
            text["x"].append(x)
            text["y"].append(y - 0.03 * self._size)
            text["text"].append(self.titles[name])
        self.images.data = columns
        self.labels.data = text
        self._fit()

    def _fit(self) -> None:
        """Size the figure to the panels: square cells, ``panel_px`` per panel."""
        pitch, n = self._pitch(), max(1, len(self.drawn))
        across = min(n, self.columns)
        down = -(-n // self.columns)
        x_end = across * pitch - 0.25 * self._size
        y_end = down * pitch
        self.figure.x_range.update(start=0, end=x_end)
        self.figure.y_range.update(start=y_end, end=0)
        px = self.panel_px / pitch
        width = int(round(x_end * px)) + 90  # the colour bar
        height = int(round(y_end * px)) + 40
        if (self.figure.width, self.figure.height) != (width, height):
            self.figure.update(width=width, height=height)
        if self._cell.args.get("pitch") != pitch:
            self._cell.args = dict(pitch=pitch)

    def mark_row(self, row: int | None) -> None:
        """Outline row ``row`` of every panel (None hides the outlines)."""
        row = _checks.optional_int("row", row, low=0, high=2**24)
        columns = dict(left=[], right=[], top=[], bottom=[])
        if row is not None:
            for k in range(len(self.drawn)):
                x, y = self._corner(k)
                columns["left"].append(x)
                columns["right"].append(x + self._size)
                columns["top"].append(y + int(row))
                columns["bottom"].append(y + int(row) + 1)
        self.rows.data = columns


class ClassCurves:
    """One line (and one dot) per name of a fixed set, each in its colour for good.

    The same name keeps its colour in every ClassCurves built with the same ``names``, so
    figures side by side read alike. ``update`` shows the series given (they share one x)
    and hides the rest (their legend entries too); ``points`` puts one dot per name. The
    y axis is linear or log (``set_log``): Bokeh cannot switch an axis type in place, so
    there are two figures, and each is built the first time it is shown (points at y <= 0
    are left out of the log one). The lines of one figure read one data source (x and a
    column per name), so a figure of eight classes sends few models (issue #13). ``figure``
    is the one shown; ``figures`` the ones built so far, by ``log``.
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
        self.names = _checks.names("names", names)
        labels = _checks.text_mapping("labels", labels)
        self.colors = {
            n: BY_KIND[n].color if n in BY_KIND else CLASS_COLORS[i % len(CLASS_COLORS)]
            for i, n in enumerate(self.names)
        }
        self.labels = {name: str((labels or {}).get(name, name)) for name in self.names}
        self._options = dict(title=title, x_label=x_label, y_label=y_label, **figure_kwargs)
        self.log = False
        self.x = np.zeros(0)
        self.series: dict[str, np.ndarray] = {}  # y per name shown
        self._points: dict[str, tuple[float, float]] = {}
        self.figures: dict[bool, figure] = {}
        self.sources: dict[bool, ColumnDataSource] = {}
        self.dots: dict[bool, ColumnDataSource] = {}
        self.lines: dict[bool, dict[str, GlyphRenderer]] = {}
        self.items: dict[bool, dict[str, LegendItem]] = {}

    def _build(self, log: bool) -> figure:
        options = dict(width=460, height=360, tools="pan,wheel_zoom,reset,save")
        options.update({k: v for k, v in self._options.items() if not k.endswith("_label")})
        if log:
            options.update(y_axis_type="log")
        fig = themed_figure(**options)
        fig.xaxis.axis_label = self._options["x_label"]
        fig.yaxis.axis_label = self._options["y_label"] + (" (log)" if log else "")
        source = ColumnDataSource(data=dict(x=[], **{name: [] for name in self.names}))
        view = CDSView()
        lines, items = {}, {}
        for name in self.names:
            glyph = Line(x="x", y=name, line_width=2, line_color=self.colors[name])
            lines[name] = fig.add_glyph(source, glyph, view=view, name=self.labels[name],
                                        visible=False)  # fmt: skip
            items[name] = LegendItem(
                label=literal_value(self.labels[name]), renderers=[lines[name]], visible=False
            )
        _legend_below(fig, items.values(), ncols=2)
        dots = ColumnDataSource(data=dict(x=[], y=[], name=[], color=[]))
        dot = fig.add_glyph(dots, Scatter(x="x", y="y", size=9, fill_color="color",
                                          line_color="#ffffff", line_width=1),
                            name="a point (points)")  # fmt: skip
        fig.add_tools(
            HoverTool(
                renderers=[*lines.values(), dot],
                tooltips=[("", "$name"), ("x", "$snap_x{0.[00]}"), ("y", "$snap_y{0.0000}")],
            )
        )
        self.figures[log], self.sources[log], self.dots[log] = fig, source, dots
        self.lines[log], self.items[log] = lines, items
        self._draw(log)
        return fig

    @property
    def figure(self) -> figure:
        """The figure shown now (linear or log), built if it has not been shown yet."""
        return self.figures.get(self.log) or self._build(self.log)

    def set_log(self, log: bool) -> None:
        """Show the log figure (True) or the linear one (False)."""
        self.log = _checks.check_bool("log", log)
        self.figure  # noqa: B018 - built on first use
        for which, fig in self.figures.items():
            if fig.visible != (which == self.log):
                fig.visible = which == self.log

    def update(
        self,
        series: Mapping[str, tuple[np.ndarray, np.ndarray]],
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Show exactly ``series`` ({name: (x, y)}, 1-D arrays, one x for all; NaN in y
        draws a gap); hide every other name."""
        series = _checks.mapping("series", series)
        unknown = set(series) - set(self.names)
        if unknown:
            raise ValueError(f"unknown series {sorted(unknown)}; known: {self.names}")
        series = {n: _checks.series(f"series[{n!r}]", xy) for n, xy in series.items()}
        labels = _checks.text_mapping("labels", labels)
        xs = [x for x, _ in series.values()]
        if any(x.shape != xs[0].shape or not np.array_equal(x, xs[0]) for x in xs):
            raise ValueError("series must share one x (the classes are drawn against it)")
        self.x = xs[0] if xs else np.zeros(0)
        self.series = {name: y for name, (_, y) in series.items()}
        self.labels.update(labels)
        for log in self.figures:
            self._draw(log)

    def points(self, points: Mapping[str, tuple[float, float]]) -> None:
        """One dot per name at (x, y), finite numbers ({} clears them)."""
        checked = {}
        for name, point in _checks.mapping("points", points).items():
            if not isinstance(point, (tuple, list)) or len(point) != 2:
                raise TypeError(f"points[{name!r}] must be (x, y), got {point!r}")
            x, y = (_checks.check_real(f"points[{name!r}]", v) for v in point)
            checked[name] = (x, y)
        self._points = checked
        for log in self.figures:
            self._draw_points(log)

    def _draw(self, log: bool) -> None:
        """Draw the kept series on the linear or log figure; on log axes y <= 0 is left out."""
        columns = {"x": self.x}
        for name in self.names:
            y = self.series.get(name, np.full(self.x.shape, np.nan))
            columns[name] = np.where(y > 0, y, np.nan) if log else y
        self.sources[log].data = columns
        for name in self.names:
            shown = name in self.series
            line, item = self.lines[log][name], self.items[log][name]
            if line.visible != shown:
                line.visible = item.visible = shown
            if line.name != self.labels[name]:
                line.name = self.labels[name]
                item.label = literal_value(self.labels[name])  # a plain string names a column
        self._draw_points(log)

    def _draw_points(self, log: bool) -> None:
        keep = [n for n, (_, y) in self._points.items() if not log or y > 0]
        self.dots[log].data = dict(
            x=[self._points[n][0] for n in keep],
            y=[self._points[n][1] for n in keep],
            name=keep,
            color=[self.colors.get(n, "#000000") for n in keep],
        )


# the MQAR mixers' colour and marker, by attnviz.mixers name: a marker per class too, since
# softmax's one dot often sits on another class's last one
MIXER_STYLES = {mixer: (model.color, model.marker) for mixer, model in BY_MIXER.items()}


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
    curves = _checks.mapping("curves", curves)
    if not curves:
        raise ValueError("curves must name at least one class, got an empty mapping")
    curves = {
        name: _checks.series(f"curves[{name!r}]", series, lengths=(2, 4), finite=True)
        for name, series in curves.items()
    }
    labels = _checks.text_mapping("labels", labels)
    chance = _checks.optional_real("chance", chance, low=0.0, high=1.0)
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
    items, renderers = {}, []
    order = sorted(curves, key=lambda name: name == "attention")  # softmax on top
    for name in order:
        x, y, *spread = curves[name]
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
    _legend_below(fig, [items[name] for name in curves], ncols=2)
    tips = [("", "@name"), ("state", "@x{0,0}"), ("accuracy", "@y{0.000}")]
    fig.add_tools(HoverTool(renderers=renderers, tooltips=tips))
    return slim(fig)


def transition_trace(
    traces: Mapping[str, Sequence[float]],
    *,
    labels: Mapping[str, str] | None = None,
    title: str = "the transition Λ_i at each step",
    **figure_kwargs,
) -> figure:
    """A scalar transition Λ_i against the step i = 1..T, one line per class (lesson 06).

    ``traces`` maps a class (a kind of ``attnviz.dsf``, e.g. "linear_attention") to its
    Λ_i, each > 0 (``DSF.spectrum()[:, 0]`` of a scalar system). A dashed line marks
    Λ = 1: below it a step decays the state, above it the step amplifies it.
    """
    traces = _checks.mapping("traces", traces, nonempty=True)
    checked = {
        str(name): _checks.values(f"traces[{name!r}]", trace, ndim=1, finite=True)
        for name, trace in traces.items()
    }
    for name, trace in checked.items():
        if trace.size == 0 or trace.min() <= 0:
            raise ValueError(
                f"traces[{name!r}] must be a non-empty sequence of positive Λ_i, got "
                f"{'none' if trace.size == 0 else f'{trace.min():g}'}"
            )
    labels = _checks.text_mapping("labels", labels)
    options = dict(title=title, width=560, height=340, tools="pan,wheel_zoom,reset,save")
    options.update(figure_kwargs)
    fig = themed_figure(**options)
    fig.xaxis.axis_label = "step i"
    fig.yaxis.axis_label = "Λ_i"
    fig.add_layout(Span(location=1.0, dimension="width", line_color="#666666",
                        line_dash="dashed", line_width=1.5))  # fmt: skip
    items = []
    for i, (name, trace) in enumerate(checked.items()):
        color = BY_KIND[name].color if name in BY_KIND else CLASS_COLORS[i % len(CLASS_COLORS)]
        label = labels.get(name, BY_KIND[name].label if name in BY_KIND else name)
        steps = np.arange(1, trace.size + 1, dtype=np.float64)
        source = ColumnDataSource(data=dict(x=steps, y=trace, name=[label] * trace.size))
        line = fig.line("x", "y", source=source, color=color, line_width=2)
        dots = fig.scatter("x", "y", source=source, size=5, color=color)
        items.append(LegendItem(label=literal_value(label), renderers=[line, dots]))
    _legend_below(fig, items, ncols=2)
    fig.add_tools(HoverTool(tooltips=[("", "@name"), ("i", "@x{0}"), ("Λ_i", "@y{0.000}")]))
    return slim(fig)
