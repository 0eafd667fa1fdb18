"""Lesson 06 (one framework: the DSF): implicit attention matrices and per-class curves.

``PhiHeatmap`` draws one implicit attention matrix Φ on a diverging scale; ``ClassCurves``
draws one line per model class, each class in its colour, on a linear or log axis;
``recall_vs_state`` draws MQAR recall against state size, one line per class in its
colour and marker. Every class's label, colour and marker are ``attnviz.model_classes``'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.core.properties import value as literal_value
from bokeh.models import (
    BoxAnnotation,
    ColorBar,
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    LegendItem,
    LinearColorMapper,
    Span,
)
from bokeh.plotting import figure

from attnviz.model_classes import BY_KIND, BY_MIXER, CLASSES
from attnviz.plots.figures import (
    _image_figure,
    _legend_below,
    _LinearOrLog,
    _symmetric_scale,
)
from attnviz.plots.theme import DIVERGING, themed_figure

CLASS_COLORS = tuple(model.color for model in CLASSES)  # one per model class, in table order
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
        self.figure, self.source, self.picture = _image_figure(
            title, x_label, y_label, self.mapper, width=340, height=310,
            figure_kwargs=figure_kwargs,
        )  # fmt: skip
        fig = self.figure
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
        matrix = _symmetric_scale(self.mapper, matrix, limit)
        n_rows, n_cols = matrix.shape
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
        self._init_curves(names)
        self._points: dict[str, tuple[float, float]] = {}
        self.colors = {
            n: BY_KIND[n].color if n in BY_KIND else CLASS_COLORS[i % len(CLASS_COLORS)]
            for i, n in enumerate(self.names)
        }
        self.items: dict[bool, dict[str, LegendItem]] = {}
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
            _legend_below(fig, items.values(), ncols=2)
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
        self._set_series(series)
        labels = dict(labels or {})
        for log in (False, True):
            for name in self.names:
                item = self.items[log][name]
                self._show_series(log, name, item, positive_x=False)
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
    _legend_below(fig, [items[name] for name in curves], ncols=2)
    tips = [("", "@name"), ("state", "@x{0,0}"), ("accuracy", "@y{0.000}")]
    fig.add_tools(HoverTool(renderers=renderers, tooltips=tips))
    return fig
