"""Lesson 03 (heads with jobs): head scores and training curves.

``ScoreHeatmap`` draws a score per head as a layers x heads heatmap, each cell labelled
with the head's role; ``TrainingCurves`` draws the training losses and the head scores
against the step, streamed while the model trains.

Both are built with as few Bokeh models as they draw (issue #13: a served session pays
for every model): renderers carry no copies of their glyph, renderers of one source share
one view, hidden grids are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.events import Tap
from bokeh.models import (
    CDSView,
    ColorBar,
    ColumnDataSource,
    DataRange1d,
    HoverTool,
    Legend,
    LegendItem,
    Line,
    LinearAxis,
    Range1d,
    Rect,
    Scatter,
    Span,
    Text,
)

from attnviz.plots import _checks
from attnviz.plots.figures import _fit_cells, _top, head_label
from attnviz.plots.theme import (
    FONT,
    PALETTE,
    SCORE_COLORS,
    SELECTED_COLOR,
    _label_ticks,
    drop_unused,
    palette_mapper,
    themed_figure,
)

ROLE_TEXT_DARK = "#ffffff"  # on the dark end of Viridis
ROLE_TEXT_LIGHT = "#222222"  # on the light end


MAX_CELL_PX = 400  # the largest cell a ScoreHeatmap draws, in pixels


def _score_grid(scores, value, roles):
    """ScoreHeatmap's data, checked: {name: (layers, heads)} finite scores of one shape,
    ``value`` one of the names, ``roles`` None or a label per head."""
    scores = _checks.mapping("scores", scores, nonempty=True)
    checked = {
        name: _checks.values(f"scores[{name!r}]", a, ndim=2, nan_ok=True)
        for name, a in scores.items()
    }
    shapes = {a.shape for a in checked.values()}
    if len(shapes) > 1:
        raise ValueError(f"scores must all be (layers, heads) of one shape, got {sorted(shapes)}")
    _checks.check_text("value", value, empty=True)
    if value not in checked:
        raise ValueError(f"value must be one of {sorted(checked)}, got {value!r}")
    shape = next(iter(shapes))
    if roles is not None:
        if isinstance(roles, (str, bytes)):
            raise TypeError(f"roles must be a (layers, heads) array of labels, got {roles!r}")
        try:
            roles = np.asarray(roles, dtype=object)
        except (TypeError, ValueError):
            raise TypeError(
                f"roles must be a (layers, heads) array of labels, got {roles!r}"
            ) from None
        if roles.shape != shape:
            raise ValueError(f"roles must have the scores' shape {shape}, got {roles.shape}")
    return checked, roles


class ScoreHeatmap:
    """Head scores as a layers x heads heatmap, each cell labelled with its role.

    ``scores`` maps a score name to a (layers, heads) array; ``value`` names the one
    that colours the cells, and hovering a cell shows all of them. ``roles`` is a
    (layers, heads) array of short labels ("induction", "prev-token", "", ...)
    written in the cells. ``mark`` draws a cross over chosen heads (ablated ones,
    say; ``marked`` lists them). Tapping a cell is reported through
    ``on_tap(callback(layer, head))`` (a tap event: no tap tool, nothing is selected).
    The cells, their text and their crosses read one source (``cells``, also ``text``)
    through one view: a cross is drawn where the column ``mark`` is not 0.
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
        checked, _ = _score_grid(scores, value, roles)
        n_layers, n_heads = checked[value].shape
        self._score_names = list(scores)
        self.cell_px = cell_px = _checks.check_int("cell_px", cell_px, low=1, high=MAX_CELL_PX)
        self.mapper = palette_mapper(PALETTE, low=0.0, high=1.0)
        self.cells = ColumnDataSource(
            data=dict(x=[], y=[], value=[], label=[], role=[], text=[], color=[], mark=[])
        )
        self.text = self.cells  # each cell's text: the columns text and color
        self._marked: list[tuple[int, int]] = []
        options = dict(
            title=title,
            width=max(260, 110 + cell_px * n_heads),
            height=max(180, 80 + cell_px * n_layers),
            x_range=Range1d(-0.5, n_heads - 0.5),
            y_range=Range1d(n_layers - 0.5, -0.5),
            tools="save",
        )
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.grid.visible = False
        fig.xaxis.axis_label = "head"
        fig.yaxis.axis_label = "layer"
        view = CDSView()
        self.rects = fig.add_glyph(
            self.cells,
            Rect(
                x="x",
                y="y",
                width=0.96,
                height=0.96,
                line_color=None,
                fill_color={"field": "value", "transform": self.mapper},
            ),
            view=view,
        )
        fig.add_glyph(
            self.cells,
            Text(
                x="x",
                y="y",
                text="text",
                text_color="color",
                text_align="center",
                text_baseline="middle",
                text_font_size="11px",
                text_font={"value": FONT},
            ),
            view=view,
        )
        fig.add_glyph(
            self.cells,
            Scatter(
                x="x",
                y="y",
                marker="x",
                size=46,
                line_width=3,
                line_color=SELECTED_COLOR,
                line_alpha="mark",  # MARK_ALPHA on a marked cell, 0 elsewhere
            ),
            view=view,
        )
        self.hover = HoverTool(renderers=[self.rects], tooltips=[("head", "@label")])
        fig.add_tools(self.hover)
        self.color_bar = ColorBar(color_mapper=self.mapper, width=10, title=value)
        fig.add_layout(self.color_bar, "right")
        drop_unused(fig)
        self.update(scores, value, roles, high=high)

    def update(
        self,
        scores: Mapping[str, np.ndarray],
        value: str,
        roles: np.ndarray | None = None,
        *,
        high: float | None = None,
    ) -> None:
        """Colour by ``scores[value]`` ({name: (layers, heads)} finite scores of one shape;
        ``roles``: a label per head or None); ``high`` fixes the top of the scale (else the
        max)."""
        scores, roles = _score_grid(scores, value, roles)
        high = _checks.optional_real("high", high, low=0.0, low_open=True)
        shown = scores[value]
        n_layers, n_heads = shown.shape
        roles = np.full(shown.shape, "", dtype=object) if roles is None else roles
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
        data["mark"] = self._mark_column(n_heads, layers.size)
        light = shown.ravel() > 0.6 * top  # Viridis turns light: dark text there
        data["text"] = [
            f"{r}\n{v:.2f}" if r else f"{v:.2f}"
            for r, v in zip(roles.ravel(), shown.ravel(), strict=True)
        ]
        data["color"] = np.where(light, ROLE_TEXT_LIGHT, ROLE_TEXT_DARK)
        self.cells.data = data
        if self.hover.tooltips != columns:
            self.hover.tooltips = columns
        self.color_bar.title = value
        self.figure.x_range.update(start=-0.5, end=n_heads - 0.5)
        self.figure.y_range.update(start=n_layers - 0.5, end=-0.5)
        _fit_cells(self.figure, n_layers, n_heads, self.cell_px, (260, 180), (110, 80))
        _label_ticks(self.figure.xaxis[0], n_heads, [f"H{h}" for h in range(n_heads)])
        _label_ticks(self.figure.yaxis[0], n_layers, [f"L{la}" for la in range(n_layers)])
        self.shape = (n_layers, n_heads)

    MARK_ALPHA = 0.9

    def _mark_column(self, n_heads: int, n_cells: int) -> np.ndarray:
        """The column ``mark``: MARK_ALPHA on each marked cell of the grid drawn, else 0."""
        column = np.zeros(n_cells)
        for layer, head in self._marked:
            if head < n_heads and layer * n_heads + head < n_cells:
                column[layer * n_heads + head] = self.MARK_ALPHA
        return column

    @property
    def marked(self) -> list[tuple[int, int]]:
        """The (layer, head) cells crossed out, sorted."""
        return list(self._marked)

    def mark(self, heads: Sequence[tuple[int, int]]) -> None:
        """Cross out these (layer, head) cells (an empty list clears the marks)."""
        if isinstance(heads, (str, bytes)) or not isinstance(heads, (Sequence, set, frozenset)):
            raise TypeError(f"heads must be a sequence of (layer, head) pairs, got {heads!r}")
        marked = []
        for pair in heads:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"heads must hold (layer, head) pairs, got {pair!r}")
            marked.append(tuple(_checks.check_int("heads", v, low=0) for v in pair))
        self._marked = sorted(marked)
        self.cells.data["mark"] = self._mark_column(self.shape[1], len(self.cells.data["x"]))

    def on_tap(self, callback) -> None:
        """Call ``callback(layer, head)`` when a cell is tapped."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")

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
        self.loss_names = _checks.names("loss_names", loss_names, nonempty=False)
        self.score_names = _checks.names("score_names", score_names, nonempty=False)
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
        # every series reads the one source through one view; no glyph copies
        view = CDSView()
        lines = {}
        for i, name in enumerate(self.loss_names):
            color, dash = self.LOSS_STYLES[i % len(self.LOSS_STYLES)]
            glyph = Line(
                x="step", y=self._columns[name], line_width=2.5, line_color=color, line_dash=dash
            )
            lines[name] = fig.add_glyph(self.source, glyph, view=view)
        losses = list(lines.values())
        fig.y_range = DataRange1d(renderers=losses, start=0.0)
        for i, name in enumerate(self.score_names):
            color = SCORE_COLORS[i % len(SCORE_COLORS)]
            glyph = Line(x="step", y=self._columns[name], line_width=2, line_color=color)
            lines[name] = fig.add_glyph(self.source, glyph, view=view, y_range_name="score")
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
        legend = Legend(
            items=[LegendItem(label=name, renderers=[line]) for name, line in lines.items()],
            orientation="horizontal",
            ncols=min(3, len(names)),
            label_text_font_size="11px",
            click_policy="hide",
            border_line_color=None,
            margin=4,
            padding=2,
        )
        fig.add_layout(legend, "below")  # below the axes: curves cross everywhere inside

    def column(self, name: str) -> str:
        """The source column holding series ``name``."""
        _checks.check_text("name", name, empty=True)
        if name not in self._columns:
            raise ValueError(f"name must be one of {list(self._columns)}, got {name!r}")
        return self._columns[name]

    def _empty(self) -> dict:
        return {"step": [], **{c: [] for c in self._columns.values()}}

    def _columns_for(self, step, values: Mapping[str, Sequence[float]]) -> dict:
        """The steps (finite) and each series' values (NaN allowed: a gap), one per step."""
        steps = np.atleast_1d(_checks.values("step", step))
        if steps.ndim != 1:
            raise ValueError(f"step must be a number or a 1-D array, got shape {steps.shape}")
        if steps.size and steps.min() < 0:
            raise ValueError(f"step must be training steps >= 0, got {steps.min():g}")
        values = _checks.mapping("values", values)
        missing = set(self._columns) - set(values)
        if missing:
            raise ValueError(f"values is missing {sorted(missing)} (needs {list(self._columns)})")
        data = {"step": steps}
        for name, column in self._columns.items():
            series = np.atleast_1d(_checks.values(f"values[{name!r}]", values[name], finite=False))
            if series.shape != steps.shape:
                raise ValueError(
                    f"values[{name!r}] must hold one value per step ({steps.size}), "
                    f"got shape {series.shape}"
                )
            data[column] = series
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
        step = _checks.optional_real("step", step)
        self.step_marker.visible = step is not None
        if step is not None:
            self.step_marker.location = step
