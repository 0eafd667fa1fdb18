"""Lesson 05 (associative memory and conditioning): recall, the memory, strengths.

``BandCurves`` draws curves with a band around each (recall against the items stored);
``SignedHeatmap`` a memory matrix S on a diverging scale; ``ItemBars`` one bar per stored
item in a fixed number of slots; ``StrengthCurves`` the associative strength of each
stimulus over trials, a stimulus in its colour (``stimulus_colors``), a group in its dash,
and ``experiment_strengths`` one experiment's groups drawn with it; ``criterion_curves``
each capacity criterion's error against the items stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.core.properties import field
from bokeh.core.properties import value as literal_value
from bokeh.models import (
    BasicTickFormatter,
    CDSView,
    ColorBar,
    ColumnDataSource,
    DataRange1d,
    GlyphRenderer,
    Grid,
    HoverTool,
    Legend,
    LegendItem,
    LinearColorMapper,
    MultiLine,
    Patches,
    Range1d,
    Rect,
    Span,
    Text,
    VBar,
    VSpan,
)
from bokeh.plotting import figure

from attnviz.conditioning import ExperimentResult
from attnviz.plots import _checks
from attnviz.plots.figures import _legend_below, _matrix_figure, _symmetric_scale
from attnviz.plots.theme import (
    DIVERGING,
    FONT,
    SCORE_COLORS,
    SELECTED_COLOR,
    SERIES_COLORS,
    _label_ticks,
    slim,
    themed_figure,
)

MISSING_COLOR = "#bbbbbb"  # an item not written yet
MAX_CELLS = 128 * 128  # a SignedHeatmap draws cells one by one: meant for small memories
MAX_SLOTS = 4096  # ItemBars' slots: one outlined bar each


class BandCurves:
    """Named curves, each with an optional band around it (mean ± spread, say).

    Every name has its colour (and dash) fixed at construction; ``update`` shows the
    series given (in the order of ``names``) and no other, so a dashboard can show a
    different subset (or relabel one, ``labels``) without new models. A series is
    ``(x, y)`` or ``(x, y, low, high)``; the band fills between low and high. ``dashed``
    names are drawn dashed (an analytic curve beside measured ones), ``highlight`` thicker.
    ``mark`` draws a vertical dashed line (N = d_k, say).

    All curves of the figure are one multi-line and all bands one set of patches, of one
    source (``source``: a row per shown name), with one legend entry per row under the
    axes: a session sends a handful of models however many names there are. ``shown()``
    reads back what is drawn.
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
        self.names = _checks.names("names", names)
        dashed = _checks.names("dashed", dashed, nonempty=False)
        colors = _checks.text_mapping("colors", colors)
        options = dict(title=title, width=460, height=380, tools="pan,wheel_zoom,reset,save")
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.xaxis.axis_label = x_label
        fig.yaxis.axis_label = y_label
        colours = dict(colors or {})
        self.colors = {
            name: colours.get(name, SCORE_COLORS[i % len(SCORE_COLORS)])
            for i, name in enumerate(self.names)
        }
        self.dashed = set(dashed)
        self.source = ColumnDataSource(
            data=dict(xs=[], ys=[], band_xs=[], band_ys=[], name=[], label=[], color=[],
                      dash=[], width=[])
        )  # fmt: skip
        view = CDSView()  # the bands and the lines read the same rows
        self.bands = _glyph(
            fig,
            self.source,
            Patches(xs="band_xs", ys="band_ys", fill_color="color", fill_alpha=0.2,
                    line_color=None),
            view,
        )  # fmt: skip
        self.lines = _glyph(
            fig,
            self.source,
            MultiLine(xs="xs", ys="ys", line_color="color", line_dash="dash", line_width="width"),
            view,
        )
        _legend_under(fig, [self.lines, self.bands], ncols=3)
        fig.add_tools(
            HoverTool(
                renderers=[self.lines],
                tooltips=[("", "@name"), ("x", "$snap_x{0.[00]}"), ("y", "$snap_y{0.000}")],
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
        """Show exactly ``series`` ({name: (x, y) or (x, y, low, high)}, 1-D arrays of one
        length; NaN draws a gap); hide the others. ``highlight`` names the one drawn thick."""
        series = _checks.mapping("series", series)
        unknown = set(series) - set(self.names)
        if unknown:
            raise ValueError(f"unknown series {sorted(unknown)}; known: {self.names}")
        arrays = {
            name: _checks.series(f"series[{name!r}]", xy, lengths=(2, 4))
            for name, xy in series.items()
        }
        labels = _checks.text_mapping("labels", labels)
        if highlight is not None:
            _checks.check_text("highlight", highlight, empty=True)
        data: dict[str, list] = {key: [] for key in self.source.data}
        for name in (name for name in self.names if name in series):
            x, y, *spread = arrays[name]
            low, high = spread if spread else (y, y)
            data["xs"].append(x)
            data["ys"].append(y)
            data["band_xs"].append(np.concatenate([x, x[::-1]]))
            data["band_ys"].append(np.concatenate([low, high[::-1]]))
            data["name"].append(name)
            data["label"].append(labels.get(name, name))
            data["color"].append(self.colors[name])
            data["dash"].append("dashed" if name in self.dashed else "solid")
            data["width"].append(4 if name == highlight else 2)
        self.source.data = data

    def shown(self) -> dict[str, dict[str, np.ndarray]]:
        """What is drawn, read back from the source: {name: {x, y, low, high}}."""
        data = self.source.data
        shown = {}
        for i, name in enumerate(data["name"]):
            x, band = np.asarray(data["xs"][i]), np.asarray(data["band_ys"][i])
            n = x.size
            shown[name] = dict(x=x, y=np.asarray(data["ys"][i]), low=band[:n], high=band[n:][::-1])
        return shown

    def mark(self, x: float | None) -> None:
        """A vertical dashed line at ``x`` (None hides it)."""
        x = _checks.optional_real("x", x)
        self.marker.visible = x is not None
        if x is not None:
            self.marker.location = x


def _glyph(fig, source: ColumnDataSource, glyph, view: CDSView | None = None) -> GlyphRenderer:
    """Draw ``glyph`` from ``source`` on ``fig``: a renderer with its one glyph (no copies
    for selection or muting, which these figures never use), ``view`` shared by renderers
    of one source. Each model is sent with every session (issue #13)."""
    renderer = GlyphRenderer(data_source=source, glyph=glyph)
    if view is not None:
        renderer.view = view
    fig.renderers.append(renderer)
    return renderer


def _legend_under(fig, renderers: Sequence[GlyphRenderer], ncols: int) -> Legend:
    """One legend entry per distinct ``label`` of the renderers' (one) source, under the
    axes, ``ncols`` wide (a multi-line's entries cannot hide one curve: not clickable)."""
    item = LegendItem(label=field("label"), renderers=list(renderers))
    return _legend_below(fig, [item], ncols, clickable=False)


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
        self.figure = fig = _matrix_figure(
            title, x_label, y_label, tools="save", width=400, height=360,
            figure_kwargs=figure_kwargs,
        )  # fmt: skip
        fig.center = [item for item in fig.center if not isinstance(item, Grid)]  # hidden anyway
        self.rects = _glyph(
            fig,
            self.cells,
            Rect(
                x="x",
                y="y",
                width=1,
                height=1,
                line_color="#ffffff",
                line_width=0.5,
                fill_color={"field": "value", "transform": self.mapper},
            ),
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
        """Draw ``matrix`` (rows, cols) of finite numbers on the scale ±``limit`` (a number
        >= 0; default: max |matrix|). Drawn cell by cell: at most ``MAX_CELLS`` cells."""
        matrix = _checks.values("matrix", matrix, ndim=2, nan_ok=True)
        if matrix.size > MAX_CELLS:
            raise ValueError(
                f"matrix has {matrix.size:,} cells, more than a SignedHeatmap draws cell by "
                f"cell ({MAX_CELLS:,}); draw a smaller matrix (or a Heatmap)"
            )
        limit = _checks.optional_real("limit", limit, low=0.0)
        matrix = _symmetric_scale(self.mapper, matrix, limit)
        n_rows, n_cols = matrix.shape
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
        slots = VBar(
            x="x", top=1.0, width=0.8, fill_color=None, line_color=MISSING_COLOR,
            line_dash="dotted",
        )  # fmt: skip
        _glyph(fig, self.slots, slots)
        bars = VBar(x="x", top="top", width=0.8, fill_color="color", line_color=None)
        bars = _glyph(fig, self.source, bars)
        fig.add_tools(
            HoverTool(renderers=[bars], tooltips=[("item", "@label"), ("value", "@top{0.000}")])
        )
        self.marker = Span(
            dimension="height", line_color="#666666", line_dash="dashed", visible=False
        )
        fig.add_layout(self.marker)

    def update(self, values: np.ndarray, n_slots: int, highlight: int | None = None) -> None:
        """Draw ``values`` (1-D, finite) in the first of ``n_slots`` slots (at most
        ``MAX_SLOTS``); ``highlight`` is the index of a bar drawn, drawn selected (None: none)."""
        values = _checks.values("values", values, ndim=1)
        n_slots = _checks.check_int("n_slots", n_slots, low=0, high=MAX_SLOTS)
        n = values.size
        highlight = _checks.optional_int("highlight", highlight, low=0, high=n - 1)
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
        x = _checks.optional_real("x", x)
        self.marker.visible = x is not None
        if x is not None:
            self.marker.location = x


GROUP_DASHES = ("solid", "dashed", "dotted", "dotdash")  # first group solid, control dashed


def stimulus_colors(stimuli: Sequence[str]) -> dict[str, str]:
    """One colour per stimulus, by its place in ``stimuli``: the same in every figure."""
    stimuli = _checks.names("stimuli", stimuli, nonempty=False)
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
        view = CDSView()  # the phase lines and their names read the same rows
        _glyph(fig, self.phases, VSpan(x="x", line_color="#888888", line_dash="dotted"), view)
        _glyph(
            fig,
            self.phases,
            Text(
                x="x",
                y="y",
                text="name",
                x_offset=4,
                text_font_size="11px",
                text_color="#555555",
                text_baseline="bottom",
                text_font={"value": FONT},
            ),
            view,
        )
        lines = _glyph(
            fig,
            self.source,
            MultiLine(xs="xs", ys="ys", line_color="color", line_dash="dash", line_width=2.5),
        )
        fig.add_tools(
            HoverTool(
                renderers=[lines],
                tooltips=[("", "@label"), ("trial", "$x{0}"), ("V", "$y{0.000}")],
            )
        )
        _legend_under(fig, [lines], ncols=3)  # curves cross everywhere inside

    def show_experiment(self, result: ExperimentResult, *, stimuli: Sequence[str]) -> None:
        """Draw every group of a ``conditioning.ExperimentResult``: each stimulus a group
        presents, a control group's trials ending where the first group's do (so the
        compound phases line up), and the first group's phases marked."""
        if not isinstance(result, ExperimentResult):
            raise TypeError(
                f"result must be a conditioning.ExperimentResult, got {type(result).__name__}"
            )
        groups = list(result.groups)
        first = result.groups[groups[0]]
        curves = [
            (group, s, run.strength(s), max(0, first.n_trials - run.n_trials))
            for group, run in result.groups.items()
            for s in run.stimuli
            if any(s in trial.stimuli for trial in run.trials)
        ]
        phases = [
            (start, phase.name or f"phase {i + 1}")
            for i, (start, phase) in enumerate(
                zip(first.phase_starts[:-1], first.schedule, strict=True)
            )
        ]
        self.update(curves, stimuli=stimuli, groups=groups, phases=phases)

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
        groups = _checks.names("groups", groups)
        curves = _curves(curves, colors, groups)
        phases = _phases(phases)
        xs, ys, color, dash, label, stimulus, group = ([] for _ in range(7))
        for group_name, name, values, *start in curves:
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


def _curves(curves, colors: dict, groups: list) -> list[tuple]:
    """StrengthCurves' curves, checked: (group, stimulus, strengths[, first_trial]) each,
    the strengths 1-D (inf or NaN allowed: a divergent delta rule is drawn off the axis)."""
    if isinstance(curves, (str, bytes)) or not isinstance(curves, Sequence):
        raise TypeError(
            f"curves must be a sequence of (group, stimulus, strengths), got {curves!r}"
        )
    checked = []
    for i, curve in enumerate(curves):
        if not isinstance(curve, (tuple, list)) or len(curve) not in (3, 4):
            raise TypeError(
                f"curves[{i}] must be (group, stimulus, strengths[, first_trial]), got {curve!r}"
            )
        group, stimulus, strengths, *start = curve
        if group not in groups:
            raise ValueError(f"curves[{i}]'s group must be one of groups {groups}, got {group!r}")
        if stimulus not in colors:
            raise ValueError(
                f"curves[{i}]'s stimulus must be one of stimuli {list(colors)}, got {stimulus!r}"
            )
        values = _checks.values(f"curves[{i}]'s strengths", strengths, ndim=1, finite=False)
        start = [_checks.check_real(f"curves[{i}]'s first_trial", start[0])] if start else []
        checked.append((group, stimulus, values, *start))
    return checked


def _phases(phases) -> list[tuple[float, str]]:
    """StrengthCurves' phases, checked: (first trial, name) each."""
    if isinstance(phases, (str, bytes)) or not isinstance(phases, Sequence):
        raise TypeError(f"phases must be a sequence of (first trial, name), got {phases!r}")
    checked = []
    for i, phase in enumerate(phases):
        if not isinstance(phase, (tuple, list)) or len(phase) != 2:
            raise TypeError(f"phases[{i}] must be (first trial, name), got {phase!r}")
        checked.append((_checks.check_real(f"phases[{i}]'s first trial", phase[0]), phase[1]))
    return checked


def criterion_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    tolerance: float | None = None,
    labels: Mapping[str, str] | None = None,
    title: str = "capacity by criterion: error against the items stored",
    x_label: str = "N, items stored (log)",
    y_label: str = "error ‖S k_i − v_i‖² (log)",
    **figure_kwargs,
) -> figure:
    """Each capacity criterion's error against N on log-log axes, one line per criterion
    (lesson 05, ``memory.capacity_sweep``'s criteria and bounds beside them).

    ``curves`` maps a criterion to (N, error), N > 0 and errors > 0 where drawn (a zero
    error, an exact memory, is left off the log axis); ``tolerance`` draws a dashed line
    at that error: where each curve crosses it is that criterion's capacity.
    """
    curves = _checks.mapping("curves", curves, nonempty=True)
    checked = {
        str(name): _checks.series(f"curves[{name!r}]", xy, finite=True)
        for name, xy in curves.items()
    }
    labels = _checks.text_mapping("labels", labels)
    tolerance = _checks.optional_real("tolerance", tolerance, low=0.0, low_open=True)
    for name, (x, _) in checked.items():
        if x.size and x.min() <= 0:
            raise ValueError(f"curves[{name!r}]'s N must be positive, got {x.min():g}")
    options = dict(title=title, width=560, height=380, tools="pan,wheel_zoom,reset,save",
                   x_axis_type="log", y_axis_type="log")  # fmt: skip
    options.update(figure_kwargs)
    fig = themed_figure(**options)
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    items = []
    for i, (name, (x, y)) in enumerate(checked.items()):
        shown = y > 0  # the log axis cannot draw an exact memory's zero
        label = labels.get(name, name)
        source = ColumnDataSource(
            data=dict(x=x[shown], y=y[shown], name=[label] * int(shown.sum()))
        )
        color = SCORE_COLORS[i % len(SCORE_COLORS)]
        line = fig.line("x", "y", source=source, color=color, line_width=2.5)
        items.append(LegendItem(label=literal_value(label), renderers=[line]))
    if tolerance is not None:
        fig.add_layout(Span(location=tolerance, dimension="width", line_color="#666666",
                            line_dash="dashed", line_width=1.5))  # fmt: skip
    _legend_below(fig, items, 2)
    fig.add_tools(HoverTool(tooltips=[("", "@name"), ("N", "@x{0,0}"), ("error", "@y{0.000}")]))
    return slim(fig)


def experiment_strengths(result, *, title: str = "", **figure_kwargs) -> figure:
    """The associative strengths V of one experiment's groups over trials (lesson 05):
    a ``conditioning.ExperimentResult`` (``conditioning.run(name, rule=...)``) drawn as
    ``StrengthCurves`` draws it, a stimulus in its colour and a group in its dash, the
    phases marked. A control group's trials end where the first group's do, so the
    compound phases line up. Only stimuli a group presents are drawn for it."""
    if not isinstance(result, ExperimentResult):
        raise TypeError(
            "result must be a conditioning.ExperimentResult (conditioning.run(<experiment "
            f"name>, rule=...)), got {type(result).__name__}"
        )
    _checks.check_text("title", title, empty=True)
    stimuli = list(dict.fromkeys(s for run in result.groups.values() for s in run.stimuli))
    view = StrengthCurves(
        title=title or f"{result.experiment.name}, {result.rule}", **figure_kwargs
    )
    view.show_experiment(result, stimuli=stimuli)
    return view.figure
