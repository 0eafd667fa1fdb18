"""Lesson 01's dashboard: attention is a soft lookup.

Top row: Nadaraya-Watson kernel regression. Drag (or click) on the fit to move
the query; the kernel and bandwidth decide how the values are weighted, and the
heatmap shows every query's weights over the keys. Bottom row: dot-product
attention on random vectors; d_k, temperature and the 1/sqrt(d_k) switch decide
how peaked the softmax gets, measured against the saturation curves.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import panel as pn
import param
from bokeh.events import Pan, Tap
from bokeh.models import ColumnDataSource, Span

from attnviz import lookup, plots
from attnviz.dashboards.base import Dashboard

N_GRID_QUERIES = 41  # rows of the weights heatmap
N_FIT_POINTS = 241  # resolution of the fitted curve
N_RANDOM = 8  # queries and keys in the random dot-product example
SATURATION_D_KS = tuple(2**i for i in range(10))  # 1 ... 512


@lru_cache(maxsize=1)
def _saturation() -> lookup.SaturationStudy:
    return lookup.softmax_saturation(SATURATION_D_KS, n_keys=N_RANDOM, n_samples=256, seed=0)


@lru_cache(maxsize=64)
def _data(n_points: int, noise: float) -> lookup.RegressionData:
    return lookup.make_regression_data(n_points, noise=noise, seed=0)


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
        self._build_regression_views()
        self._build_attention_views()
        self._readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self.param.watch(
            lambda *_: self._update_regression(),
            ["kernel", "bandwidth", "query", "n_points", "noise"],
        )
        self.param.watch(lambda *_: self._update_attention(), ["d_k", "temperature", "scaled"])
        self._update_regression()
        self._update_attention()

    # -- views -------------------------------------------------------------------------
    def _build_regression_views(self) -> None:
        fit = plots.Curves(
            {"fit f̂(x)": ([], []), "truth f(x)": ([], [])},
            title="kernel regression: the query looks up values by distance",
            x_label="x (queries and keys)",
            y_label="y (values)",
            dashed=("truth f(x)",),
            legend_location="bottom_right",
            tools="wheel_zoom,reset,save",
        )
        self._keys_source = ColumnDataSource(data=dict(x=[], y=[], weight=[], size=[]))
        fit.figure.scatter(
            "x",
            "y",
            source=self._keys_source,
            size="size",
            color="#0072b2",
            alpha=0.75,
            legend_label="keys → values",
        )
        self._query_line = Span(dimension="height", line_color="#d55e00", line_width=2)
        fit.figure.add_layout(self._query_line)
        fit.figure.on_event(Tap, self._move_query)
        fit.figure.on_event(Pan, self._move_query)
        self._fit = fit
        self._nw_heatmap = plots.Heatmap(
            np.zeros((1, 1)),
            title="Nadaraya-Watson weights (row = query)",
            x_label="key x_i",
            y_label="query x",
        )

    def _build_attention_views(self) -> None:
        self._attention_heatmap = plots.Heatmap(
            np.zeros((N_RANDOM, N_RANDOM)),
            title="softmax(q·k · scale) on random vectors",
        )
        study = _saturation()
        self._saturation = plots.Curves(
            {
                "unscaled q·k": (study.d_ks, study.entropy_unscaled),
                "q·k / √d_k": (study.d_ks, study.entropy_scaled),
            },
            title=f"mean row entropy vs d_k (τ = 1, {N_RANDOM} keys; uniform = ln {N_RANDOM})",
            x_label="d_k",
            y_label="entropy (nats)",
            x_axis_type="log",
            legend_location="bottom_left",
            marker_label="the heatmap at left",
        )

    def _move_query(self, event) -> None:
        if event.x is not None and np.isfinite(event.x):
            low, high = self.param.query.bounds
            self.query = float(np.clip(event.x, low, high))

    # -- updates -----------------------------------------------------------------------
    def _update_regression(self) -> None:
        data = _data(self.n_points, round(self.noise, 6))
        grid = np.linspace(data.low, data.high, N_FIT_POINTS)
        options = dict(kernel=self.kernel, bandwidth=self.bandwidth)
        fit, _ = lookup.nadaraya_watson(grid, data.keys, data.values, **options)
        rows = np.linspace(data.low, data.high, N_GRID_QUERIES)
        heat = lookup.nadaraya_watson_weights(rows, data.keys, **options)
        (prediction,), (weights,) = lookup.nadaraya_watson(
            np.array([self.query]), data.keys, data.values, **options
        )
        with self._hold():
            self._fit.update("fit f̂(x)", grid, fit)
            self._fit.update("truth f(x)", grid, data.truth(grid))
            self._fit.mark("fit f̂(x)", self.query, prediction if np.isfinite(prediction) else None)
            self._keys_source.data = dict(
                x=data.keys,
                y=data.values,
                weight=weights,
                size=4 + 26 * np.sqrt(weights / max(weights.max(), 1e-12)),
            )
            self._query_line.location = self.query
            self._nw_heatmap.update(
                heat, [f"{x:.2f}" for x in rows], [f"{x:.2f}" for x in data.keys]
            )
            self._nw_heatmap.mark_row(int(np.abs(rows - self.query).argmin()))
        self._regression_numbers = (prediction, weights)
        self._write_readout()

    def _update_attention(self) -> None:
        weights = lookup.random_attention(
            self.d_k,
            n_queries=N_RANDOM,
            n_keys=N_RANDOM,
            temperature=self.temperature,
            scaled=self.scaled,
            seed=0,
        )
        row_entropy = float(lookup.entropy(weights).mean())
        labels = [f"q{i}" for i in range(N_RANDOM)], [f"k{j}" for j in range(N_RANDOM)]
        with self._hold():
            self._attention_heatmap.update(weights, *labels)
            name = "q·k / √d_k" if self.scaled else "unscaled q·k"
            other = "unscaled q·k" if self.scaled else "q·k / √d_k"
            self._saturation.mark(name, self.d_k, row_entropy)
            self._saturation.mark(other, None)
        self._attention_numbers = (row_entropy, float(weights.max(axis=1).mean()))
        self._write_readout()

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
        return {
            "fit": self._fit.figure,
            "nw_weights": self._nw_heatmap.figure,
            "attention": self._attention_heatmap.figure,
            "saturation": self._saturation.figure,
        }

    def __panel__(self):
        pane = dict(sizing_mode="fixed")
        # a FlexBox wraps the four figures onto more rows in a narrow notebook
        figures = pn.FlexBox(
            pn.pane.Bokeh(self._fit.figure, **pane),
            pn.pane.Bokeh(self._nw_heatmap.figure, **pane),
            pn.pane.Bokeh(self._attention_heatmap.figure, **pane),
            pn.pane.Bokeh(self._saturation.figure, **pane),
            max_width=900,
        )
        return pn.Column(
            self._header(),
            pn.Row(self._control_column(), pn.Column(self._readout, figures)),
        )


def app(**defaults) -> SoftLookupDashboard:
    """Lesson 01's dashboard, with any parameter preset (e.g. ``app(kernel="boxcar")``)."""
    return SoftLookupDashboard(**defaults)
