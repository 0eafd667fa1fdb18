"""Lesson 05's dashboard: attention as Pavlovian conditioning.

Three tabs, each a thin binding of widgets to ``attnviz.memory`` or
``attnviz.conditioning`` and to builders of ``attnviz.plots``:

* **Capacity**: ``memory.capacity_sweep`` for the chosen d_k, rule, keys and criterion,
  measured against N up to the N slider (mean over ``TRIALS`` memories, ± one standard
  deviation as a band), with the analytic curve the result carries for the criterion
  (``predicted_mse`` = (N − 1)/d_k for "mse") dashed; beside it the curves of several
  d_k against the load N/d_k, which collapse onto one.
* **Memory player**: ``memory.write_all`` writes ``memory_items`` random unit
  associations (k_i → v_i, d_v = d_k) one at a time; a player steps and scrubs through
  t. The memory matrix S_t is drawn on a diverging scale, and per stored item the
  retrieval error ‖S_t k_i − v_i‖: Hebbian crosstalk grows once t passes d_k, the
  delta rule keeps the newest items exact and overwrites the old.
* **Conditioning**: ``conditioning.run`` of a named experiment, or of a schedule typed
  in its text form, under the delta rule (DeltaNet, equal to Rescorla–Wagner) and the
  Hebbian memory side by side, with β, λ and the saliences of A, B and X.

A tab is built the first time it is opened (``LazyTabs``): a served session sends the
capacity tab only (issue #13), and a tab opened later draws the current settings. Every
sweep and recording is cached by its parameters for every session (``shared_cache``:
bounded in entries and bytes), so returning to a setting costs nothing, and computes on
one torch thread (see ``threads.py``).
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param

from attnviz import conditioning, memory, plots
from attnviz.dashboards.base import (
    CONTROL_WIDTH,
    Dashboard,
    _clamp_number,
    clamp_params,
)
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.plots.theme import slim
from attnviz.shared_cache import shared_cache
from attnviz.validation import check_choice, check_int, short_repr

TRIALS = 20  # memories per (d_k, N) of a sweep: enough for a smooth mean and its spread
N_POINTS = 24  # numbers of stored items N per capacity curve
COLLAPSE_DIMS = (4, 8, 16, 32)  # the d_k drawn against the load N/d_k
COLLAPSE_LOADS = tuple(np.arange(1, 13) / 3)  # N/d_k = 1/3 ... 4
SEED = 0  # the draws of keys and values: the same memory for the same settings
MEMORY_ITEMS = 48  # the player writes at most this many associations (3 x its largest d_k)
MEMORY_DIMS = (4, 16)  # the player's d_k range
CAPACITY_DIMS = (2, 128)  # the capacity explorer's d_k range
CAPACITY_ITEMS = (2, 256)  # ... and its N range (a sweep at the top: about a second)
MAX_GRID = 10**6  # n_grid's largest n_max and d_k (the grid itself is N_POINTS numbers)
SLIDER_STIMULI = ("A", "B", "X")  # the stimuli with a salience slider; others take the default
DEFAULT_EXPERIMENT = "blocking"
CRITERION_LABELS = {
    "mse": "mean squared error ‖r − v‖²",
    "worst": "worst item's ‖r − v‖²",
    "top1": "top-1 accuracy",
    "coherence": "bound ((N − 1) μ)², μ the largest key overlap",
}
RULE_LABELS = {
    "delta": "delta rule (DeltaNet) = Rescorla–Wagner",
    "hebbian": "Hebbian (linear attention)",
}
CONDITIONING_RULES = ("delta", "hebbian")  # left and right figure

CAPACITY_TAB, PLAYER_TAB, CONDITIONING_TAB = "Capacity", "Memory player", "Conditioning"

_SWEEP_NAMES = ("measured", "predicted")
_COLLAPSE_NAMES = (*(f"d_k = {d}" for d in COLLAPSE_DIMS), "chosen")
_FIRST = conditioning.EXPERIMENTS[DEFAULT_EXPERIMENT]


def n_grid(n_max: int, d_k: int) -> np.ndarray:
    """The numbers of items N a capacity curve measures: ``N_POINTS`` from 1 to ``n_max``,
    and N = d_k itself when it is in range (where the marker stands). Both in [1,
    ``MAX_GRID``]."""
    n_max = check_int("n_max", n_max, low=1, high=MAX_GRID)
    d_k = check_int("d_k", d_k, low=1, high=MAX_GRID)
    sizes = np.round(np.linspace(1, n_max, N_POINTS)).astype(int)
    if d_k <= n_max:
        sizes = np.append(sizes, d_k)
    return np.unique(sizes)


@shared_cache(max_entries=256, max_megabytes=4)  # a sweep: under 1 kB
def sweep(d_k: int, n_max: int, rule: str, keys: str, criterion: str) -> memory.CapacityResult:
    """One d_k's capacity curve up to ``n_max`` items (cached, read-only); d_k and n_max
    within the dashboard's sliders (``CAPACITY_DIMS``, ``CAPACITY_ITEMS``)."""
    d_k = check_int("d_k", d_k, low=CAPACITY_DIMS[0], high=CAPACITY_DIMS[1])
    n_max = check_int("n_max", n_max, low=CAPACITY_ITEMS[0], high=CAPACITY_ITEMS[1])
    _check_sweep(rule, keys, criterion)
    with one_thread():
        return memory.capacity_sweep(
            d_k, n_grid(n_max, d_k), TRIALS, keys=keys, criterion=criterion, rule=rule, seed=SEED
        )


@shared_cache(max_entries=64, max_megabytes=2)  # 1.5 kB
def collapse(rule: str, keys: str, criterion: str) -> tuple[memory.CapacityResult, ...]:
    """The curves of ``COLLAPSE_DIMS`` at the loads ``COLLAPSE_LOADS`` (cached, read-only)."""
    _check_sweep(rule, keys, criterion)
    results = []
    with one_thread():
        for d_k in COLLAPSE_DIMS:
            sizes = np.unique(np.maximum(1, np.round(np.array(COLLAPSE_LOADS) * d_k)).astype(int))
            results.append(
                memory.capacity_sweep(
                    d_k, sizes, TRIALS, keys=keys, criterion=criterion, rule=rule, seed=SEED
                )
            )
    return tuple(results)


def _check_sweep(rule: str, keys: str, criterion: str) -> None:
    check_choice("rule", rule, memory.SWEEP_RULES)
    check_choice("keys", keys, memory.KEY_KINDS)
    check_choice("criterion", criterion, memory.CRITERIA)


def predicted(result: memory.CapacityResult) -> np.ndarray | None:
    """The analytic curve the result carries for its criterion (``predicted_mse`` ...), if any."""
    if not isinstance(result, memory.CapacityResult):
        raise TypeError(f"result must be a memory.CapacityResult (from sweep), got {result!r}")
    curve = getattr(result, f"predicted_{result.criterion}", None)
    return None if curve is None else np.asarray(curve)


def recording(d_k: int, n_items: int, rule: str) -> dict[str, np.ndarray]:
    """The memory after each write, and every item's retrieval error at each t (cached).

    ``states``: (N + 1, d_v, d_k) from ``memory.write_all``; ``errors[t, i]`` =
    ‖S_t k_i − v_i‖, (N + 1, N): item i read back from the memory after t writes.
    ``d_k`` in ``MEMORY_DIMS``, ``n_items`` in [1, ``MEMORY_ITEMS``], as the player's sliders.
    """
    d_k = check_int("d_k", d_k, low=MEMORY_DIMS[0], high=MEMORY_DIMS[1])
    n_items = check_int("n_items", n_items, low=1, high=MEMORY_ITEMS)
    check_choice("rule", rule, memory.SWEEP_RULES)
    return _recording(d_k, n_items, rule)  # checked first: the cache keys by ==, True == 1


recording.cache_info = lambda: _recording.cache_info()
recording.cache_clear = lambda: _recording.cache_clear()


@shared_cache(max_entries=128, max_megabytes=16)  # at most 0.12 MB
def _recording(d_k: int, n_items: int, rule: str) -> dict[str, np.ndarray]:
    keys, values = memory.random_pairs(MEMORY_ITEMS, d_k, seed=SEED)  # more items: more of
    keys, values = keys[:n_items], values[:n_items]  # the same draw
    with one_thread():
        states = memory.write_all(keys, values, rule)  # (N + 1, d_v, d_k)
        errors = memory.retrieval_errors(states, keys, values)  # (N + 1, N)
    return {"states": states.numpy(), "errors": errors.numpy()}


class AssociativeMemoryDashboard(Dashboard):
    """Capacity curves, a memory written step by step, and Pavlovian experiments."""

    stem = "associative_memory"  # its lesson in attnviz.lessons: the title and the slug

    # capacity explorer
    d_k = param.Integer(default=32, bounds=CAPACITY_DIMS, doc="key dimension")
    n_items = param.Integer(default=128, bounds=CAPACITY_ITEMS, doc="largest N stored")
    rule = param.Selector(default="hebbian", objects=list(memory.SWEEP_RULES))
    keys = param.Selector(default="random", objects=list(memory.KEY_KINDS))
    criterion = param.Selector(default="mse", objects=list(memory.CRITERIA))
    # memory player
    memory_d_k = param.Integer(default=8, bounds=MEMORY_DIMS)
    memory_items = param.Integer(default=24, bounds=(1, MEMORY_ITEMS))
    memory_rule = param.Selector(default="hebbian", objects=list(memory.SWEEP_RULES))
    t = param.Integer(default=8, bounds=(0, 24), doc="associations written")
    # conditioning
    experiment = param.Selector(default=DEFAULT_EXPERIMENT, objects=list(conditioning.EXPERIMENTS))
    schedule = param.String(default=_FIRST.schedules["experimental"], precedence=-1)
    beta = param.Number(default=_FIRST.beta, bounds=(0.01, 1.0), step=0.01)
    lam = param.Number(default=_FIRST.lam, bounds=(0.0, 2.0), step=0.05)
    salience_A = param.Number(default=_FIRST.saliences["A"], bounds=(0.01, 1.0), step=0.01)
    salience_B = param.Number(default=_FIRST.saliences["B"], bounds=(0.01, 1.0), step=0.01)
    salience_X = param.Number(default=conditioning.DEFAULT_SALIENCE, bounds=(0.01, 1.0), step=0.01)

    widget_options = {
        "d_k": {"name": "d_k (key dimension)"},
        "n_items": {"name": "N, items stored (up to)"},
        "rule": {"type": pn.widgets.RadioButtonGroup, "name": "rule"},
        "keys": {"type": pn.widgets.RadioButtonGroup, "name": "keys"},
        "criterion": {"type": pn.widgets.RadioButtonGroup, "name": "criterion"},
        "memory_d_k": {"name": "d_k (key dimension)"},
        "memory_items": {"name": "N, associations to write"},
        "memory_rule": {"type": pn.widgets.RadioButtonGroup, "name": "rule"},
        "t": {
            "type": pn.widgets.Player,
            "name": "t, associations written",
            "interval": 600,
            "loop_policy": "once",
            "show_loop_controls": False,
            "visible_buttons": ["first", "previous", "reverse", "pause", "play", "next", "last"],
            "width": CONTROL_WIDTH - 10,
        },
        "experiment": {"name": "experiment"},
        "beta": {"name": "β, learning rate of the US"},
        "lam": {"name": "λ, US magnitude"},
        "salience_A": {"name": "α_A, salience of A"},
        "salience_B": {"name": "α_B, salience of B"},
        "salience_X": {"name": "α_X, salience of X"},
    }

    def __init__(self, **params):
        """Any parameter may be preset; numbers out of range are clamped (the status says
        so). Choosing an ``experiment`` loads its schedule, β, λ and saliences unless they
        are given too."""
        params = dict(params)
        given_t = "t" in params
        t = params.pop("t", None)  # its range is 0..memory_items: fitted below
        t_note = ""
        if given_t:  # a number (clamped below; NaN, inf: the default), never a wrong type
            t, t_note = _clamp_number("t", t, None, None, self.param.t.default, integer=True)
        params, clamped = clamp_params(type(self), params)
        given = set(params)
        super().__init__(**params)
        self._ready = False
        self._fitting = False
        self._loading = False
        self._presented: set[str] = set(conditioning.EXPERIMENTS[self.experiment].saliences)
        # notes on preset values stay until the first control moves
        self._notes: dict[str, list[str]] = {
            "preset": clamped,
            "capacity": [],
            "memory": [],
            "conditioning": [],
        }
        self._status = pn.pane.Alert("", alert_type="warning", visible=False, margin=(0, 10))
        self._schedule_input = pn.widgets.TextInput.from_param(
            self.param.schedule,
            name="schedule (experimental group; Enter runs it)",
            width=CONTROL_WIDTH - 20,
        )
        self._capacity_readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self._memory_readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self._conditioning_readout = pn.pane.Markdown("", margin=(0, 10), width=720)
        # each tab's figures, built the first time the tab is shown (issue #13)
        self._capacity: plots.BandCurves | None = None
        self._collapse: plots.BandCurves | None = None
        self._matrix: plots.SignedHeatmap | None = None
        self._item_errors: plots.ItemBars | None = None
        self._error_curve: plots.Curves | None = None
        self._strengths: dict[str, plots.StrengthCurves] = {}
        # the experiment's own settings, except those the caller chose
        if "experiment" in given:
            self._load_experiment(keep=given)
        self._fit_player(self.t if t is None else t)
        if t_note:
            self._notes["preset"].append(t_note)
        elif t is not None and self.t != t:
            self._notes["preset"].append(f"t = {short_repr(t)} is out of range: using {self.t}.")
        self.param.watch(
            lambda *_: self._update_capacity(), ["d_k", "n_items", "rule", "keys", "criterion"]
        )
        self.param.watch(self._memory_changed, ["memory_d_k", "memory_items", "memory_rule"])
        self.param.watch(lambda *_: self._fitting or self._draw_memory(), ["t"])
        self.param.watch(
            self._conditioning_changed,
            ["experiment", "schedule", "beta", "lam", *(f"salience_{s}" for s in SLIDER_STIMULI)],
        )
        self._update_conditioning()  # its stimuli choose the salience sliders shown
        self._tabs = LazyTabs(
            (CAPACITY_TAB, lambda: self._build(self._build_capacity)),
            (PLAYER_TAB, lambda: self._build(self._build_player)),
            (CONDITIONING_TAB, lambda: self._build(self._build_conditioning)),
        )
        self._ready = True

    # -- views -------------------------------------------------------------------------
    def _build(self, builder):
        """Build a tab: opening one is not moving a control, so the notes on preset
        values stay."""
        ready, self._ready = self._ready, False
        try:
            return builder()
        finally:
            self._ready = ready

    def _build_capacity(self) -> pn.Row:
        """The capacity tab: its figures, drawn from the current settings."""
        self._capacity = plots.BandCurves(
            _SWEEP_NAMES,
            title="recall against N, the number of stored items",
            x_label="N, items stored",
            dashed=("predicted",),
            colors={"measured": plots.SCORE_COLORS[0], "predicted": "#000000"},
        )
        self._collapse = plots.BandCurves(
            _COLLAPSE_NAMES,
            title="against the load N/d_k, the curves collapse",
            x_label="load N / d_k",
            colors={"chosen": "#000000"},
        )
        self._update_capacity()
        c = self._controls
        return pn.Row(
            _column(c["d_k"], c["n_items"], c["rule"], c["keys"], c["criterion"]),
            pn.Column(
                self._capacity_readout,
                pn.FlexBox(_pane(self._capacity.figure), _pane(self._collapse.figure),
                           max_width=960),
            ),
        )  # fmt: skip

    def _build_player(self) -> pn.Row:
        """The memory player tab: its figures, drawn at the current t."""
        self._matrix = plots.SignedHeatmap(
            np.zeros((1, 1)),
            title="memory S_t (d_v × d_k)",
            x_label="key coordinate",
            y_label="value coordinate",
            value_label="S",
        )
        self._item_errors = plots.ItemBars(
            title="retrieval error per stored item ‖S_t k_i − v_i‖",
            x_label="item i (in write order)",
            y_label="‖S_t k_i − v_i‖",
        )
        self._error_curve = plots.Curves(
            {"mean error of the items written": (np.zeros(0), np.zeros(0))},
            title="mean retrieval error as the memory fills",
            x_label="t, associations written",
            y_label="mean ‖S_t k_i − v_i‖",
            marker_label="now",
            legend_location="bottom_right",
            width=460,
            height=260,
            tools="save",  # as the other two: the player moves, not the axes
        )
        slim(self._error_curve.figure)
        self._draw_memory()
        c = self._controls
        return pn.Row(
            _column(c["memory_d_k"], c["memory_items"], c["memory_rule"], c["t"]),
            pn.Column(
                self._memory_readout,
                pn.FlexBox(
                    _pane(self._matrix.figure),
                    pn.Column(
                        _pane(self._item_errors.figure), _pane(self._error_curve.figure), margin=0
                    ),
                    max_width=960,
                ),
            ),
        )

    def _build_conditioning(self) -> pn.Row:
        """The conditioning tab: both rules' figures, drawn from the current experiment."""
        self._strengths = {
            rule: plots.StrengthCurves(title=RULE_LABELS[rule]) for rule in CONDITIONING_RULES
        }
        self._update_conditioning()
        c = self._controls
        return pn.Row(
            _column(
                c["experiment"],
                self._schedule_input,
                c["beta"],
                c["lam"],
                *(c[f"salience_{s}"] for s in SLIDER_STIMULI),
            ),
            pn.Column(
                pn.FlexBox(*(_pane(v.figure) for v in self._strengths.values()), max_width=960),
                self._conditioning_readout,
            ),
        )

    @property
    def figures(self) -> dict:
        """The figures built so far, by name: a tab's figures are built the first time it
        is shown (``show``), so at first only the capacity tab's ("capacity", "collapse");
        then "memory", "item_errors", "error_curve" (memory player) and "delta",
        "hebbian" (conditioning)."""
        figures = {}
        if self._capacity is not None:
            figures.update(capacity=self._capacity.figure, collapse=self._collapse.figure)
        if self._matrix is not None:
            figures.update(
                memory=self._matrix.figure,
                item_errors=self._item_errors.figure,
                error_curve=self._error_curve.figure,
            )
        figures.update({rule: view.figure for rule, view in self._strengths.items()})
        return figures

    @property
    def controls(self) -> dict[str, pn.widgets.Widget]:
        """Every control, by parameter name; a salience slider only while its stimulus is
        in the schedule (the typed schedule text is not here: see ``schedule_input``)."""
        controls = {
            name: widget
            for name, widget in self._controls.items()
            if not name.startswith("salience_")
        }
        for stimulus in SLIDER_STIMULI:
            if stimulus in self._presented:
                controls[f"salience_{stimulus}"] = self._controls[f"salience_{stimulus}"]
        return controls

    @property
    def schedule_input(self) -> pn.widgets.TextInput:
        """The text box of the experimental group's schedule."""
        return self._schedule_input

    @property
    def status(self) -> str:
        """The status line's text ('' when there is nothing to say)."""
        return self._status.object if self._status.visible else ""

    def _note(self, section: str, notes: list[str]) -> None:
        self._notes[section] = notes
        if self._ready:
            self._notes["preset"] = []
        shown = [note for part in self._notes.values() for note in part]
        self._status.object = "  \n".join(shown)
        self._status.visible = bool(shown)

    # -- capacity ----------------------------------------------------------------------
    def _update_capacity(self) -> None:
        if self._capacity is None:  # its tab is not built yet: it draws when it is
            return
        notes = []
        try:
            result = sweep(self.d_k, self.n_items, self.rule, self.keys, self.criterion)
            curves = collapse(self.rule, self.keys, self.criterion)
            self._draw_capacity(result, curves)
        except Exception as error:  # a dashboard never dies on a control value
            notes.append(f"Could not compute the capacity curve: {error}")
        self._note("capacity", notes)

    def _draw_capacity(self, result: memory.CapacityResult, curves) -> None:
        n = result.n_items
        mean, sd = result.measured[0], result.spread[0]
        series = {"measured": (n, mean, mean - sd, mean + sd)}
        analytic = predicted(result)
        labels = {"measured": f"measured, ± sd over {result.trials} memories"}
        if analytic is not None:
            series["predicted"] = (n, analytic[0])
            labels["predicted"] = "(N − 1)/d_k" if result.criterion == "mse" else "predicted"
        chosen = {"chosen": (result.load[0], mean)}
        for d_k, curve in zip(COLLAPSE_DIMS, curves, strict=True):
            if d_k != self.d_k:  # the chosen one is drawn from its own sweep
                chosen[f"d_k = {d_k}"] = (curve.load[0], curve.measured[0])
        y_label = CRITERION_LABELS.get(result.criterion, result.criterion)
        with self._hold():
            self._capacity.update(series, labels=labels)
            self._capacity.mark(self.d_k if self.d_k <= self.n_items else None)
            self._collapse.update(
                chosen, labels={"chosen": f"d_k = {self.d_k} (chosen)"}, highlight="chosen"
            )
            self._collapse.mark(1.0)
            for fig in (self._capacity.figure, self._collapse.figure):
                if fig.yaxis[0].axis_label != y_label:
                    fig.yaxis[0].axis_label = y_label
            self._capacity.figure.title.text = (
                f"{result.rule}, {result.keys} keys, d_k = {self.d_k}: recall against N"
            )
        self._capacity_readout.object = self._capacity_text(result, analytic)

    def _capacity_text(self, result: memory.CapacityResult, analytic) -> str:
        n = result.n_items
        last = len(n) - 1
        name = CRITERION_LABELS.get(result.criterion, result.criterion)
        text = (
            f"**d_k = {self.d_k}, N = {n[last]}** (load N/d_k = {result.load[0, last]:.2f}), "
            f"{result.rule}, {result.keys} keys: {name} **{result.measured[0, last]:.3f}** "
            f"± {result.spread[0, last]:.3f}"
        )
        if analytic is not None:
            text += f" (predicted {analytic[0, last]:.3f})"
        text += f"; SNR d_k/(N − 1) = **{result.snr[0, last]:.3f}**."
        if self.d_k <= n[last]:
            at = int(np.searchsorted(n, self.d_k))
            text += (
                f" At N = d_k = {self.d_k}: {result.measured[0, at]:.3f}, "
                f"SNR {result.snr[0, at]:.3f}."
            )
        return text

    # -- memory player -----------------------------------------------------------------
    def _fit_player(self, t: int) -> None:
        """Give the player the range 0..N and put it at ``t``, clamped to that range."""
        n = int(self.memory_items)
        value = min(max(int(t), 0), n)  # an int of any size: no overflow
        self._fitting = True  # one redraw, by the caller
        try:
            if n > self.param.t.bounds[1]:  # widen first, then move; narrow after moving
                self.param.t.bounds = (0, n)
                self.t = value
            else:
                self.t = value
                self.param.t.bounds = (0, n)
        finally:
            self._fitting = False

    def _memory_changed(self, *events) -> None:
        old_n = next((e.old for e in events if e.name == "memory_items"), self.memory_items)
        self._fit_player(self.memory_items if self.t >= old_n else self.t)
        self._draw_memory()

    def _draw_memory(self) -> None:
        if self._matrix is None:  # its tab is not built yet: it draws when it is
            return
        notes = []
        try:
            self._draw_memory_views()
        except Exception as error:  # a dashboard never dies on a control value
            notes.append(f"Could not draw the memory: {error}")
        self._note("memory", notes)

    def _draw_memory_views(self) -> None:
        n, d_k = int(self.memory_items), int(self.memory_d_k)
        t = int(np.clip(self.t, 0, n))
        record = recording(d_k, n, self.memory_rule)
        states, errors = record["states"], record["errors"]
        written = errors[t, :t]  # the items stored so far, read back now
        history = memory.mean_error_of_items_written(errors)  # (N,)
        with self._hold():
            self._matrix.update(states[t], limit=float(np.abs(states).max()))
            self._matrix.figure.title.text = f"S_t after t = {t} of {n} writes"
            self._item_errors.update(written, n, highlight=t - 1 if t else None)
            self._item_errors.mark(d_k - 0.5 if d_k < n else None)
            self._error_curve.update(
                "mean error of the items written", np.arange(1, n + 1), history
            )
            self._error_curve.mark(
                "mean error of the items written",
                t if t else None,
                float(history[t - 1]) if t else None,
            )
        mean = f"{history[t - 1]:.3f}" if t else "—"
        newest = f"; the newest item {written[-1]:.3f}, the oldest {written[0]:.3f}" if t else ""
        self._memory_readout.object = (
            f"**t = {t} of {n}** written ({self.memory_rule}, d_k = {d_k}; the dashed line "
            f"is d_k): mean error ‖S_t k_i − v_i‖ of the stored items **{mean}**{newest}."
        )

    # -- conditioning ------------------------------------------------------------------
    def _load_experiment(self, keep=frozenset()) -> None:
        """Set the schedule, β, λ and saliences to the chosen experiment's."""
        experiment = conditioning.EXPERIMENTS[self.experiment]
        values = {
            "schedule": experiment.schedules[next(iter(experiment.groups))],
            "beta": experiment.beta,
            "lam": experiment.lam,
            **{f"salience_{s}": a for s, a in experiment.saliences.items() if s in SLIDER_STIMULI},
        }
        values = {k: v for k, v in values.items() if k not in keep}
        values, _ = clamp_params(type(self), values)
        self._loading = True
        try:
            self.param.update(values)
        finally:
            self._loading = False

    def _conditioning_changed(self, *events) -> None:
        if self._loading:
            return
        if any(e.name == "experiment" for e in events):
            self._load_experiment()
        self._update_conditioning()

    def _saliences(self, stimuli) -> dict[str, float]:
        """α per stimulus: the sliders' for A, B and X, the module's default for the rest."""
        return {
            s: getattr(self, f"salience_{s}")
            if s in SLIDER_STIMULI
            else conditioning.DEFAULT_SALIENCE
            for s in stimuli
        }

    def conditioning_target(self) -> conditioning.Experiment | str:
        """What ``conditioning.run`` is given: the experiment's name, or an Experiment with
        the typed schedule as its first group (its other groups kept). Raises ValueError
        for a schedule that does not parse."""
        experiment = conditioning.EXPERIMENTS[self.experiment]
        first = next(iter(experiment.groups))
        typed = conditioning.parse_schedule(self.schedule)
        if conditioning.format_schedule(typed) == experiment.schedules[first]:
            return experiment.name
        groups = {**experiment.groups, first: typed}
        found = {s for g in groups.values() for p in g for tr in p.trials for s in tr.stimuli}
        stimuli = [s for s in SLIDER_STIMULI if s in found] + sorted(found - set(SLIDER_STIMULI))
        focus = experiment.focus if experiment.focus in stimuli else stimuli[0]
        return conditioning.Experiment(
            f"{experiment.name}, your schedule",
            experiment.claim,
            groups,
            self._saliences(stimuli),
            self.beta,
            self.lam,
            focus,
        )

    def conditioning_results(self) -> dict[str, conditioning.ExperimentResult]:
        """``conditioning.run`` of what is shown, per rule ("delta", "hebbian")."""
        target = self.conditioning_target()
        if isinstance(target, str):
            stimuli = conditioning.EXPERIMENTS[target].saliences
            options = dict(saliences=self._saliences(stimuli), beta=self.beta, lam=self.lam)
        else:
            options = {}
        return {rule: conditioning.run(target, rule=rule, **options) for rule in CONDITIONING_RULES}

    def _update_conditioning(self) -> None:
        notes = []
        try:
            results = self.conditioning_results()
        except (ValueError, TypeError) as error:  # a typed schedule that does not parse
            notes.append(f"schedule: {error}")
            self._note("conditioning", notes)
            return
        except Exception as error:  # a dashboard never dies on a control value
            self._note("conditioning", [f"Could not run the experiment: {error}"])
            return
        first = next(iter(results.values()))
        stimuli = next(iter(first.groups.values())).stimuli
        self._presented = {
            s for group in first.groups.values() for trial in group.trials for s in trial.stimuli
        }
        others = sorted(self._presented - set(SLIDER_STIMULI))
        if others:
            notes.append(
                f"{', '.join(others)} {'has' if len(others) == 1 else 'have'} no slider: "
                f"salience α = {conditioning.DEFAULT_SALIENCE}."
            )
        rate = conditioning.largest_rate(first)
        if rate >= conditioning.DIVERGENT_RATE:  # the error grows by |1 − β Σα| per trial
            notes.append(
                f"β Σα = {rate:.2f} ≥ {conditioning.DIVERGENT_RATE:g} on a compound: "
                "the delta rule diverges."
            )
        try:
            self._draw_conditioning(results, stimuli)
        except Exception as error:  # a dashboard never dies on a control value
            notes.append(f"Could not draw the experiment: {error}")
        for s in SLIDER_STIMULI:
            widget = self._controls[f"salience_{s}"]
            if widget.visible != (s in self._presented):
                widget.visible = s in self._presented
        self._note("conditioning", notes)

    def _draw_conditioning(self, results, stimuli) -> None:
        with self._hold():  # the figures if their tab is built (else none); the readout
            for rule, view in self._strengths.items():
                view.show_experiment(results[rule], stimuli=stimuli)
        self._conditioning_readout.object = self._conditioning_text(results)

    def _conditioning_text(self, results) -> str:
        delta = results["delta"]
        experiment = delta.experiment
        stimuli = next(iter(delta.groups.values())).stimuli
        lines = [
            f"**{experiment.name}**: {experiment.claim}",
            "",
            "| group | rule | " + " | ".join(f"final V_{s}" for s in stimuli) + " |",
            "|---|---|" + "---:|" * len(stimuli),
        ]
        for group in delta.groups:
            for rule, result in results.items():
                final = result[group].final(3)
                cells = " | ".join(f"{final[s]:.3f}" for s in stimuli)
                lines.append(f"| {group} | {rule} | {cells} |")
        schedules = "; ".join(
            f"{g}: {conditioning.format_schedule(s)}" for g, s in experiment.groups.items()
        )
        lines.append(f"\nschedules — {schedules}. β = {self.beta:.2f}, λ = {self.lam:.2f}.")
        return "\n".join(lines)

    # -- the Viewer protocol -----------------------------------------------------------
    def __panel__(self):
        return pn.Column(self._header(), self._status, self._tabs)


def _column(*widgets) -> pn.Column:
    """A tab's controls, a button group under its name (in the column itself: a column
    per label would cost a session a model each)."""
    objects = []
    for widget in widgets:
        if isinstance(widget, pn.widgets.RadioButtonGroup):
            objects.append(pn.pane.Markdown(widget.name, margin=(0, 10, -8, 10)))
        objects.append(widget)
    return pn.Column(*objects, width=CONTROL_WIDTH)


def _pane(fig) -> pn.pane.Bokeh:
    return pn.pane.Bokeh(fig, sizing_mode="fixed")


def app(**defaults) -> AssociativeMemoryDashboard:
    """Lesson 05's dashboard, any parameter preset, e.g. ``app(d_k=64, rule="delta",
    experiment="extinction")``."""
    return AssociativeMemoryDashboard(**defaults)
