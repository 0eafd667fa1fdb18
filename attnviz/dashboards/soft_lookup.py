"""Lesson 01's dashboard: attention is a soft lookup.

A readout of both examples sits above two tabs, each with its own controls on the left
of its two figures. Tab "kernel regression": Nadaraya-Watson kernel regression. Drag (or
click) on the fit to move the query; the kernel and bandwidth decide how the values are
weighted (each key's dot is sized by its weight; hover a key for its weight), and the
heatmap shows every query's weights over the keys. Tab "dot-product attention": softmax
attention on random vectors; d_k, temperature and the 1/sqrt(d_k) switch decide how
peaked the softmax gets, measured against the saturation curves (the random example's
weights are cached for every session: ``shared_cache``). Setting a parameter from code
(``dashboard.d_k = 256``) opens the tab that it changes.

A tab's figures are built the first time it is shown (``LazyTabs``), so a served session
sends only what is on screen; ``figures`` holds the figures built so far.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import panel as pn
import param
from bokeh.events import Pan, Tap
from bokeh.models import (
    CDSView,
    ColumnDataSource,
    HoverTool,
    Legend,
    LegendItem,
    Line,
    Scatter,
    Span,
)

from attnviz import lookup, plots
from attnviz.dashboards.base import CONTROL_WIDTH, Dashboard
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.plots.theme import SELECTED_COLOR, SERIES_COLORS, drop_unused, slim, themed_figure
from attnviz.shared_cache import shared_cache

N_GRID_QUERIES = 41  # rows of the weights heatmap
N_FIT_POINTS = 241  # resolution of the fitted curve
N_RANDOM = 8  # queries and keys in the random dot-product example
SATURATION_D_KS = tuple(2**i for i in range(10))  # 1 ... 512
REGRESSION, ATTENTION = "kernel regression", "dot-product attention"  # the tabs
REGRESSION_PARAMS = ("kernel", "bandwidth", "query", "n_points", "noise")
ATTENTION_PARAMS = ("d_k", "temperature", "scaled")
FIT_COLOR, TRUTH_COLOR, KEY_COLOR = SERIES_COLORS[0], SERIES_COLORS[1], "#0072b2"
UNSCALED_COLOR, SCALED_COLOR = SERIES_COLORS[0], SERIES_COLORS[1]


@lru_cache(maxsize=1)
def _saturation() -> lookup.SaturationStudy:
    with one_thread():
        return lookup.softmax_saturation(SATURATION_D_KS, n_keys=N_RANDOM, n_samples=256, seed=0)


@shared_cache(max_entries=512, max_megabytes=1)  # 8 x 8 weights: 0.5 kB each
def _random_attention(d_k: int, temperature: float, scaled: bool) -> np.ndarray:
    """The random example's weights (seeded: the same for every session), read-only."""
    with one_thread():  # 8 x d_k products: threads only wait for each other on a busy machine
        weights = lookup.random_attention(
            d_k, n_queries=N_RANDOM, n_keys=N_RANDOM, temperature=temperature, scaled=scaled, seed=0
        )
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=64)
def _data(n_points: int, noise: float) -> lookup.RegressionData:
    return lookup.make_regression_data(n_points, noise=noise, seed=0)


def _legend(fig, items: list[tuple[str, object]], location: str) -> None:
    """A clickable legend inside the axes: one entry per (label, renderer)."""
    legend = Legend(
        items=[LegendItem(label=label, renderers=[renderer]) for label, renderer in items],
        location=location,
        background_fill_alpha=0.6,
        label_text_font_size="11px",
        click_policy="hide",
    )
    fig.add_layout(legend)


class SoftLookupDashboard(Dashboard):
    """Nadaraya-Watson kernel regression beside dot-product attention."""

    stem = "soft_lookup"  # its lesson in attnviz.lessons: the title and the slug

    kernel = param.Selector(default="gaussian", objects=list(lookup.SMOOTHING_KERNELS))
    bandwidth = param.Number(default=0.5, bounds=(0.05, 5.0), step=0.05, doc="h")
    query = param.Number(default=4.0, bounds=(0.0, 10.0), step=0.05, doc="query x")
    n_points = param.Integer(default=40, bounds=(3, 200), doc="number of keys")
    noise = param.Number(default=0.5, bounds=(0.0, 2.0), step=0.05)
    d_k = param.Integer(default=64, bounds=(1, 512))
    temperature = param.Number(default=1.0, bounds=(0.05, 10.0), step=0.05)
    scaled = param.Boolean(default=True, label="divide scores by √d_k")

    widget_options = {
        "bandwidth": {"name": "bandwidth h"},
        "query": {"name": "query x (or drag on the fit)"},
        "n_points": {"name": "number of keys"},
        "noise": {"name": "noise on the values"},
        "d_k": {"name": "d_k (random q, k)"},
        "temperature": {"name": "temperature τ"},
    }

    def __init__(self, **params):
        super().__init__(**params)
        self._readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self._regression_views: dict | None = None  # built with their tab
        self._attention_views: dict | None = None
        self._update_regression()
        self._update_attention()
        _saturation()  # the same curves in every session: computed once per process
        self._tabs = LazyTabs((REGRESSION, self._regression_tab), (ATTENTION, self._attention_tab))
        self.param.watch(lambda *_: self._moved(REGRESSION), list(REGRESSION_PARAMS))
        self.param.watch(lambda *_: self._moved(ATTENTION), list(ATTENTION_PARAMS))

    # -- views -------------------------------------------------------------------------
    def _regression_tab(self) -> pn.Row:
        """Build the kernel-regression views, draw the current state, lay them out with
        their controls."""
        fig = themed_figure(
            title="kernel regression: the query looks up values by distance",
            tools="wheel_zoom,reset,save",
        )
        fig.xaxis.axis_label = "x (queries and keys)"
        fig.yaxis.axis_label = "y (values)"
        # the fit and the truth share one source (one x grid) and one view
        curve = ColumnDataSource(data=dict(x=[], fit=[], truth=[]))
        view = CDSView()
        fit_line = fig.add_glyph(
            curve, Line(x="x", y="fit", line_width=2, line_color=FIT_COLOR), view=view
        )
        truth_line = fig.add_glyph(
            curve,
            Line(x="x", y="truth", line_width=2, line_color=TRUTH_COLOR, line_dash="dashed"),
            view=view,
        )
        keys = ColumnDataSource(data=dict(x=[], y=[], weight=[], size=[]))
        key_dots = fig.add_glyph(
            keys,
            Scatter(
                x="x",
                y="y",
                size="size",
                fill_color=KEY_COLOR,
                line_color=KEY_COLOR,
                fill_alpha=0.75,
                line_alpha=0.75,
            ),
        )
        prediction = ColumnDataSource(data=dict(x=[], y=[]))
        fig.add_glyph(
            prediction, Scatter(x="x", y="y", size=10, fill_color=FIT_COLOR, line_color=FIT_COLOR)
        )
        query_line = Span(dimension="height", line_color=SELECTED_COLOR, line_width=2)
        fig.add_layout(query_line)
        fig.add_tools(
            HoverTool(
                renderers=[key_dots],
                tooltips=[
                    ("key x", "@x{0.00}"),
                    ("value", "@y{0.000}"),
                    ("weight", "@weight{0.000}"),
                ],
            )
        )
        _legend(
            fig,
            [("fit f̂(x)", fit_line), ("truth f(x)", truth_line), ("keys → values", key_dots)],
            "bottom_right",
        )
        fig.on_event(Tap, self._move_query)
        fig.on_event(Pan, self._move_query)
        heatmap = plots.Heatmap(
            np.zeros((1, 1)),
            title="Nadaraya-Watson weights (row = query)",
            x_label="key x_i",
            y_label="query x",
        )
        drop_unused(slim(heatmap.figure))
        self._regression_views = dict(
            fit=fig,
            curve=curve,
            keys=keys,
            prediction=prediction,
            query_line=query_line,
            heatmap=heatmap,
        )
        self._draw_regression()
        return self._tab(REGRESSION_PARAMS, fig, heatmap.figure)

    def _attention_tab(self) -> pn.Row:
        """Build the dot-product views, draw the current state, lay them out with their
        controls."""
        heatmap = plots.Heatmap(
            np.zeros((N_RANDOM, N_RANDOM)),
            title="softmax(q·k · scale) on random vectors",
            image=False,  # 8 x 8: always cells, labelled q0 … k7
        )
        drop_unused(slim(heatmap.figure))
        study = _saturation()
        fig = themed_figure(
            title=f"mean row entropy vs d_k (τ = 1, {N_RANDOM} keys; uniform = ln {N_RANDOM})",
            x_axis_type="log",
        )
        fig.xaxis.axis_label = "d_k"
        fig.yaxis.axis_label = "entropy (nats)"
        curves = ColumnDataSource(
            data=dict(
                d_k=np.asarray(study.d_ks),
                unscaled=np.asarray(study.entropy_unscaled),
                scaled=np.asarray(study.entropy_scaled),
            )
        )
        view = CDSView()
        lines = {
            column: fig.add_glyph(
                curves, Line(x="d_k", y=column, line_width=2, line_color=color), view=view
            )
            for column, color in (("unscaled", UNSCALED_COLOR), ("scaled", SCALED_COLOR))
        }
        marker = ColumnDataSource(data=dict(x=[], y=[], color=[]))
        dot = fig.add_glyph(
            marker, Scatter(x="x", y="y", size=10, fill_color="color", line_color="color")
        )
        fig.add_tools(
            HoverTool(
                renderers=[lines["unscaled"]],
                mode="vline",
                tooltips=[
                    ("d_k", "@d_k"),
                    ("entropy, unscaled", "@unscaled{0.000}"),
                    ("entropy, q·k / √d_k", "@scaled{0.000}"),
                ],
            )
        )
        _legend(
            fig,
            [
                ("unscaled q·k", lines["unscaled"]),
                ("q·k / √d_k", lines["scaled"]),
                ("the heatmap at left", dot),
            ],
            "bottom_left",
        )
        self._attention_views = dict(heatmap=heatmap, saturation=fig, marker=marker)
        self._draw_attention()
        return self._tab(ATTENTION_PARAMS, heatmap.figure, fig)

    def _move_query(self, event) -> None:
        if event.x is not None and np.isfinite(event.x):
            low, high = self.param.query.bounds
            self.query = float(np.clip(event.x, low, high))

    # -- updates -----------------------------------------------------------------------
    def _moved(self, tab: str) -> None:
        """A control moved: compute, open the tab it changes (building it if need be),
        and draw there."""
        with self._hold():
            if tab == REGRESSION:
                self._update_regression()
            else:
                self._update_attention()
            self._tabs.show(tab)

    def _update_regression(self) -> None:
        """Compute the regression for the current parameters; draw it if it is built."""
        data = _data(self.n_points, round(self.noise, 6))
        grid = np.linspace(data.low, data.high, N_FIT_POINTS)
        options = dict(kernel=self.kernel, bandwidth=self.bandwidth)
        fit, _ = lookup.nadaraya_watson(grid, data.keys, data.values, **options)
        rows = np.linspace(data.low, data.high, N_GRID_QUERIES)
        heat = lookup.nadaraya_watson_weights(rows, data.keys, **options)
        (prediction,), (weights,) = lookup.nadaraya_watson(
            np.array([self.query]), data.keys, data.values, **options
        )
        self._regression = dict(
            data=data,
            grid=grid,
            fit=fit,
            rows=rows,
            heat=heat,
            prediction=prediction,
            weights=weights,
        )
        self._regression_numbers = (prediction, weights)
        self._draw_regression()
        self._write_readout()

    def _draw_regression(self) -> None:
        views = self._regression_views
        if views is None:  # its tab has not been opened yet
            return
        state = self._regression
        data, grid, rows, weights = state["data"], state["grid"], state["rows"], state["weights"]
        prediction = state["prediction"]
        with self._hold():
            views["curve"].data = dict(x=grid, fit=state["fit"], truth=data.truth(grid))
            shown = np.isfinite(prediction)
            views["prediction"].data = dict(
                x=[self.query] if shown else [], y=[prediction] if shown else []
            )
            views["keys"].data = dict(
                x=data.keys,
                y=data.values,
                weight=weights,
                size=4 + 26 * np.sqrt(weights / max(weights.max(), 1e-12)),
            )
            views["query_line"].location = self.query
            views["heatmap"].update(
                state["heat"], [f"{x:.2f}" for x in rows], [f"{x:.2f}" for x in data.keys]
            )
            views["heatmap"].mark_row(int(np.abs(rows - self.query).argmin()))

    def _update_attention(self) -> None:
        """Compute the random attention for the current parameters; draw it if it is built."""
        weights = _random_attention(self.d_k, round(self.temperature, 6), self.scaled)
        row_entropy = float(lookup.entropy(weights).mean())
        self._attention = weights
        self._attention_numbers = (row_entropy, float(weights.max(axis=1).mean()))
        self._draw_attention()
        self._write_readout()

    def _draw_attention(self) -> None:
        views = self._attention_views
        if views is None:  # its tab has not been opened yet
            return
        row_entropy, _ = self._attention_numbers
        labels = [f"q{i}" for i in range(N_RANDOM)], [f"k{j}" for j in range(N_RANDOM)]
        color = SCALED_COLOR if self.scaled else UNSCALED_COLOR
        with self._hold():
            views["heatmap"].update(self._attention, *labels)
            views["marker"].data = dict(x=[self.d_k], y=[row_entropy], color=[color])

    def _write_readout(self) -> None:
        if not hasattr(self, "_attention_numbers") or not hasattr(self, "_regression_numbers"):
            return
        prediction, weights = self._regression_numbers
        row_entropy, top = self._attention_numbers
        used = int((weights > 1e-3).sum())
        pred = f"{prediction:.3f}" if np.isfinite(prediction) else "none: no key within h"
        self._readout.object = (
            f"**query x = {self.query:.2f}** → prediction **{pred}**; "
            f"{used} of {weights.size} keys carry weight > 0.001; "
            f"largest weight {weights.max():.3f}.  \n"
            f"**random attention, d_k = {self.d_k}**: mean row entropy "
            f"**{row_entropy:.3f}** nats (uniform = {np.log(N_RANDOM):.3f}); "
            f"mean largest weight {top:.3f}."
        )

    # -- the Viewer protocol -------------------------------------------------------------
    @property
    def figures(self) -> dict:
        """The figures built so far, by name: ``fit`` and ``nw_weights`` (tab "kernel
        regression"), ``attention`` and ``saturation`` (tab "dot-product attention"); a
        tab's figures are built the first time it is shown."""
        figures = {}
        if self._regression_views is not None:
            figures["fit"] = self._regression_views["fit"]
            figures["nw_weights"] = self._regression_views["heatmap"].figure
        if self._attention_views is not None:
            figures["attention"] = self._attention_views["heatmap"].figure
            figures["saturation"] = self._attention_views["saturation"]
        return figures

    def __panel__(self):
        return pn.Column(self._header(), self._readout, self._tabs)

    def _tab(self, names: tuple[str, ...], *figures) -> pn.Row:
        """A tab: its controls on the left, its two figures side by side (wrapping onto two
        rows in a narrow notebook)."""
        controls = pn.Column(*(self._controls[name] for name in names), width=CONTROL_WIDTH)
        panes = (pn.pane.Bokeh(fig, sizing_mode="fixed") for fig in figures)
        return pn.Row(controls, pn.FlexBox(*panes, max_width=900))


def app(**defaults) -> SoftLookupDashboard:
    """Lesson 01's dashboard, with any parameter preset (e.g. ``app(kernel="boxcar")``)."""
    return SoftLookupDashboard(**defaults)
