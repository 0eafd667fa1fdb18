"""Lesson 06's dashboard: one input, every class, one kind of system (the DSF).

It binds controls to ``attnviz.dsf_views`` (every class on one seeded input: Φ per channel,
the contributions Φ_ij u_j, the recurrence's output, the decay profile, cached per class
and the settings that act on it) and draws them in three tabs (``LazyTabs``: a tab's
figures are built the first time it is opened, so a served session sends only the first):

* **Φ of every class**: each class shown gets its implicit attention matrix Φ (y = Φu),
  side by side in one figure (``plots.PhiGrid``), in the same format: per channel c (for
  the attention classes the (c, c) entry of each d x d block, K_ij W_v[c, c]) or the
  summary over channels, titled with the size N of its recurrent state, row i (the step)
  outlined; under it a table of the state sizes and y_i[c] both ways.
* **decay and build-up**: how far ℓ steps of Λ shrink the state, against the lag ℓ
  (``DSF.decay_profile``; flat at 1 for linear attention; softmax has no Λ); and y = Φu
  built up: at step i (the player), the partial sums Σ_{j<=k} (Φ_ij u_j)[c] over
  k = 0..i, one line per class, and as a dot the recurrence's own output y_i[c]
  (``DSF.run``, the definition): the line ends on the dot.
* **trained on MQAR**: the shipped MQAR sweep's recall against state size
  (``state_size.shipped``, lesson 06 section 7), the same in every session.

The toggles change Φ where they act (``attnviz.model_classes``): normalisation (linear
attention's rows then sum to W_v), the feature map (the attention classes), the state
expansion n (attention and S6 / SSD) and the gate bias (gated linear attention, S6, SSD,
qLSTM, RG-LRU: larger keeps more of the past).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import panel as pn
import param

from attnviz import dsf, dsf_views, model_classes, plots
from attnviz.dashboards.base import (
    CONTROL_WIDTH,
    Dashboard,
    _clamp_number,
    _labelled,
    clamp_params,
)
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.dsf_views import ClassView
from attnviz.kernels.feature_maps import FEATURE_MAPS
from attnviz.state_size import shipped
from attnviz.validation import short_repr

MAX_T, MAX_D, MAX_N = dsf.NESTED_LIMITS  # the sliders' tops: every draw is made at these sizes
DEFAULT_KINDS = ("softmax", "linear_attention", "gated_linear_attention", "s6", "qlstm", "rg_lru")
LABELS = {model.kind: model.label for model in model_classes.CLASSES}
TABLE_CSS = """
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; }
td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
"""


def _size_text(view: ClassView, d: int) -> str:
    if math.isinf(view.state_size):
        return "∞"
    if view.n is None:
        return f"{int(view.state_size)} (d)"
    return f"{int(view.state_size)} ({view.n}·{d})"


class DSFDashboard(Dashboard):
    """Φ of every class on one input, the recurrence stepped, and the toggles that change Φ."""

    stem = "dsf"  # its lesson in attnviz.lessons: the title and the slug

    kinds = param.ListSelector(
        default=list(DEFAULT_KINDS), objects={LABELS[k]: k for k in dsf.KINDS}
    )
    T = param.Integer(default=32, bounds=(8, MAX_T), doc="tokens")
    d = param.Integer(default=8, bounds=(4, MAX_D), doc="channels")
    seed = param.Integer(default=0, bounds=(0, 20))
    feature_map = param.Selector(default="elu_plus_one", objects=list(FEATURE_MAPS))
    normalize = param.Boolean(default=False)
    n = param.Integer(default=4, bounds=(1, MAX_N), doc="state expansion")
    gate_bias = param.Number(default=2.0, bounds=(-4.0, 8.0), step=0.25)
    channel = param.Integer(default=0, bounds=(0, 7))
    summary = param.Boolean(default=False)
    log_decay = param.Boolean(default=True)
    step = param.Integer(default=8, bounds=(0, 31), doc="the recurrence's step i")

    widget_options = {
        "kinds": {"type": pn.widgets.MultiChoice, "name": "classes shown"},
        "T": {"name": "T, tokens"},
        "d": {"name": "d, channels"},
        "seed": {"name": "seed (input and weights)"},
        "feature_map": {"name": "feature map φ (attention classes)"},
        "normalize": {"name": "normalise linear attention (÷ η_i)"},
        "n": {"name": "n, state expansion (attention, S6, SSD)"},
        "gate_bias": {"name": "gate bias (larger keeps more of the past)"},
        "channel": {"name": "channel c"},
        "summary": {"name": "Φ summary: rms over channels"},
        "log_decay": {"name": "log scale (decay profiles)"},
        "step": {
            "type": pn.widgets.Player,
            "name": "step i of the recurrence",
            "interval": 500,
            "loop_policy": "once",
            "show_loop_controls": False,
            "visible_buttons": ["first", "previous", "reverse", "pause", "play", "next", "last"],
            "width": CONTROL_WIDTH - 10,
        },
    }

    def __init__(self, **params):
        """Any parameter may be preset; numbers out of range are clamped (the status says
        so), step and channel to the chosen T and d."""
        params = dict(params)
        fitted = {k: params.pop(k) for k in ("step", "channel") if k in params}
        params, clamped = clamp_params(type(self), params)
        if "kinds" in params:
            kinds = params["kinds"]
            if isinstance(kinds, (str, bytes)) or not isinstance(kinds, (list, tuple)):
                raise TypeError(f"kinds must be a list of class names, got {kinds!r}")
            kept = [k for k in params["kinds"] if k in dsf.KINDS]
            if kept != list(params["kinds"]):
                clamped.append(
                    f"unknown classes left out: {sorted(set(params['kinds']) - set(kept))}."
                )
            params["kinds"] = kept
        super().__init__(**params)
        self._fitting = False
        self._ready = False
        self._notes: dict[str, list[str]] = {"preset": clamped, "compute": []}
        self._views: dict[str, ClassView] = {}
        self._drawn: tuple | None = None  # what the Φ grid shows, to skip redraws
        self._status = pn.pane.Alert("", alert_type="warning", visible=False, margin=(0, 10))
        self._readout = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
        self._table = pn.pane.HTML("", margin=(0, 10), width=720, stylesheets=[TABLE_CSS])
        self._phi = plots.PhiGrid()
        self._decay: plots.ClassCurves | None = None  # built with their tab
        self._build_up: plots.ClassCurves | None = None
        self._recall = None
        self._recall_note = None
        self._decay_pane = None
        for name, value in fitted.items():
            # a number of any size (NaN, inf: 0), never a wrong type; fitted to T or d
            whole = isinstance(value, numbers.Integral)  # an int of any size stays exact
            number, _ = _clamp_number(name, value, None, None, 0, integer=whole)
            self._fit(name, number)
            if getattr(self, name) != value:
                self._notes["preset"].append(
                    f"{name} = {short_repr(value)} is out of range: using {getattr(self, name)}."
                )
        self._fit("step", self.step)
        self._fit("channel", self.channel)
        self.param.watch(self._inputs_changed, ["T", "d", "seed"])
        self.param.watch(
            lambda *_: self._update(), ["kinds", "feature_map", "normalize", "n", "gate_bias"]
        )
        self.param.watch(lambda *_: self._fitting or self._draw(), ["channel", "summary", "step"])
        self.param.watch(self._set_log_decay, ["log_decay"])
        self._update()
        self._tabs = LazyTabs(
            ("Φ of every class", self._phi_tab),
            ("decay and build-up", self._curves_tab),
            ("trained on MQAR", self._recall_tab),
        )
        self._ready = True

    # -- the tabs, each built the first time it is shown -----------------------------------
    def _phi_tab(self):
        return pn.Column(pn.pane.Bokeh(self._phi.figure, sizing_mode="fixed"), self._table)

    def _curves_tab(self):
        self._decay = plots.ClassCurves(
            dsf.KINDS,
            labels=LABELS,
            title="decay profile: ℓ steps of Λ scale the state by",
            x_label="lag ℓ (tokens)",
            y_label="geometric-mean Λ product",
        )
        self._build_up = plots.ClassCurves(
            dsf.KINDS,
            labels=LABELS,
            title="y_i[c] built up",
            x_label="k: inputs j ≤ k summed",
            y_label="Σ_(j≤k) (Φ_ij u_j)[c]",
        )
        self._decay.set_log(self.log_decay)
        self._draw()
        pane = dict(sizing_mode="fixed")
        self._decay_pane = pn.pane.Bokeh(self._decay.figure, **pane)
        return pn.FlexBox(
            self._decay_pane, pn.pane.Bokeh(self._build_up.figure, **pane), max_width=1060
        )

    def _set_log_decay(self, *_) -> None:
        """Show the decay profiles on the log or the linear figure (built on first use)."""
        if self._decay is None:  # its tab has not been shown: it will start as set
            return
        with self._hold():
            self._decay.set_log(self.log_decay)
            if self._decay_pane.object is not self._decay.figure:
                self._decay_pane.object = self._decay.figure

    def _recall_tab(self):
        sweep = shipped()  # trained models, not this input: the same figure in every session
        setting = sweep.settings["per_setting"][0]
        kv, seeds = setting["num_kv_pairs"], len(setting["seeds"])
        self._recall = plots.recall_vs_state(
            sweep.curves(), labels=model_classes.labels(sweep.mixers()), chance=1 / kv,
            title="trained on MQAR: recall against state size",
        )  # fmt: skip
        self._recall_note = pn.pane.HTML(
            f"<b>Trained models</b> (lesson 06, section 7): 2-layer models of four classes "
            f"trained on MQAR ({setting['seq_len']} tokens, {kv} key-value pairs), dots the "
            f"mean over {seeds} seeds, bars the worst to the best seed, dashed 1/{kv}. "
            "The state size counts the numbers one layer carries from token to token.",
            margin=(10, 10, 0, 10), width=540,
        )  # fmt: skip
        return pn.Column(self._recall_note, pn.pane.Bokeh(self._recall, sizing_mode="fixed"))

    # -- controls ------------------------------------------------------------------------
    def _fit(self, name: str, value) -> None:
        """Give ``step`` the range 0..T-1 (``channel`` 0..d-1) and set it, clamped to it."""
        top = (self.T if name == "step" else self.d) - 1
        finite = not isinstance(value, float) or math.isfinite(value)  # an int: any size
        value = int(min(max(value, 0), top)) if finite else 0
        self._set_in_range(name, value, top)  # one redraw, by the caller

    def _inputs_changed(self, *events) -> None:
        for event in events:
            if event.name == "T":  # at the last step, stay at the last step
                self._fit("step", self.T - 1 if self.step >= event.old - 1 else self.step)
            if event.name == "d":
                self._fit("channel", self.channel)
        self._update()

    @property
    def figures(self) -> dict:
        """The figures built so far, by name: ``phi`` (every class's Φ), then, once their
        tabs have been shown, ``decay`` (the linear or the log one, as shown), ``build_up``
        and ``recall``."""
        figures = {"phi": self._phi.figure}
        if self._decay is not None:
            figures["decay"] = self._decay.figure
            figures["build_up"] = self._build_up.figure
        if self._recall is not None:
            figures["recall"] = self._recall
        return figures

    @property
    def status(self) -> str:
        """The status line's text ('' when there is nothing to say)."""
        return self._status.object if self._status.visible else ""

    @property
    def views(self) -> dict[str, ClassView]:
        """What is drawn now, per class shown (in ``dsf.KINDS`` order)."""
        return dict(self._views)

    def _shown(self) -> list[str]:
        return [kind for kind in dsf.KINDS if kind in self.kinds]

    def _note(self, section: str, notes: list[str]) -> None:
        self._notes[section] = notes
        if self._ready:
            self._notes["preset"] = []
        shown = [note for part in self._notes.values() for note in part]
        text = "  \n".join(shown)
        if self._status.object != text:
            self._status.object = text
        if self._status.visible != bool(shown):
            self._status.visible = bool(shown)

    # -- updates -------------------------------------------------------------------------
    def _update(self) -> None:
        """Compute (or fetch) every shown class, then draw."""
        notes, views = [], {}
        T, d, seed = int(self.T), int(self.d), int(self.seed)
        for kind in self._shown():
            settings = model_classes.settings_of(
                kind, int(self.n), self.feature_map, self.normalize, float(self.gate_bias)
            )
            try:
                with one_thread():
                    views[kind] = dsf_views.class_view(kind, T, d, seed, settings)
            except Exception as error:  # a dashboard never dies on a control value
                notes.append(f"Could not compute {LABELS[kind]}: {error}")
                continue
            if views[kind].note:
                notes.append(views[kind].note)
        self._views = views
        self._draw(notes)

    def _draw(self, notes: list[str] | None = None) -> None:
        notes = list(self._notes["compute"] if notes is None else notes)
        notes = [n for n in notes if not n.startswith("Could not draw")]
        try:
            self._draw_views()
        except Exception as error:  # a dashboard never dies on a control value
            notes.append(f"Could not draw: {error}")
        self._note("compute", notes)

    def _draw_views(self) -> None:
        c, i = int(self.channel), int(self.step)
        views = self._views
        with self._hold():
            key = (tuple((k, id(v)) for k, v in views.items()), "summary" if self.summary else c)
            if self._drawn != key:
                self._phi.update(
                    {k: self._summary(v) if self.summary else v.phi[c] for k, v in views.items()},
                    {k: self._phi_title(v) for k, v in views.items()},
                )
                what = "rms over channels" if self.summary else f"channel c = {c}"
                self._phi.figure.title.text = f"Φ of every class shown, {what}"
                self._drawn = key
            self._phi.mark_row(i)
            if self._decay is not None:
                lags = np.arange(int(self.T))
                self._decay.update(
                    {k: (lags, v.decay) for k, v in views.items() if v.decay is not None}
                )
                self._build_up.update({k: v.build_up(i, c) for k, v in views.items()})
                self._build_up.points({k: (i, v.output(i, c)) for k, v in views.items()})
                self._build_up.figure.title.text = (
                    f"y_{i}[{c}] built up from its inputs; dots: the recurrence's y_{i}[{c}]"
                )
        readout = self._readout_text()
        if self._readout.object != readout:
            self._readout.object = readout
        self._table.object = self._table_text(i, c)

    @staticmethod
    def _phi_title(view: ClassView) -> str:
        size = "∞" if math.isinf(view.state_size) else int(view.state_size)
        return f"{view.label} · N = {size}"

    def _summary(self, view: ClassView) -> np.ndarray:
        with one_thread():
            return dsf_views.phi_summary(
                view.kind, int(self.T), int(self.d), int(self.seed), view.settings
            )

    def _readout_text(self) -> str:
        if not self._views:
            return "<p><b>Choose at least one class</b> to see its Φ.</p>"
        return (
            f"<p><b>One input u: T = {self.T} tokens, d = {self.d} channels</b> "
            f"(seed {self.seed}). Each Φ: output token i down, input token j across, "
            "y = Φu; the outlined row is the step i. Attention classes: the (c, c) entry of "
            "each block Φ_ij = K_ij W_v.</p>"
        )

    def _table_text(self, i: int, c: int) -> str:
        """The state sizes and y_i[c] both ways, as HTML (a Markdown table costs ~7 ms to
        parse, a seventh of the budget of a step)."""
        head = (
            "class",
            "state size N",
            "Σ<sub>j</sub> (Φ<sub>ij</sub> u<sub>j</sub>)[c]",
            "recurrence y<sub>i</sub>[c]",
            "decay at ℓ = T/2",
        )
        rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
        half = int(self.T) // 2
        for view in self._views.values():
            cells = (
                view.label,
                _size_text(view, int(self.d)),
                f"{float(view.contributions[c, i].sum()):.6f}",
                "—" if view.recurrence is None else f"{view.recurrence[i, c]:.6f}",
                "—" if view.decay is None else f"{view.decay[half]:.3g}",
            )
            rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        return (
            f"<table>{''.join(rows)}</table><p><b>step i = {i}, channel c = {c}</b>: y_i[c] "
            "summed from Φ, and by the recurrence. Softmax has no finite state (N = ∞): its "
            "y_i is Φu only.</p>"
        )

    # -- the Viewer protocol -------------------------------------------------------------
    def __panel__(self):
        c = self._controls
        controls = pn.Column(*map(_labelled, c.values()), width=CONTROL_WIDTH)
        shown = pn.Column(self._readout, self._tabs)
        return pn.Column(self._header(), self._status, pn.Row(controls, shown))


def app(**defaults) -> DSFDashboard:
    """Lesson 06's dashboard, any parameter preset, e.g. ``app(kinds=["s6", "ssd"], T=64)``."""
    return DSFDashboard(**defaults)
