"""Lesson 03's dashboard: heads with jobs.

The controls of the model and its heads sit on the left of two tabs.

Tab "heads and knock-outs": every head of a trained model scored against a job
description (``attnviz.maps``: previous-token, duplicate-token and induction
patterns, first-token sink, entropy), coloured by the score you pick and labelled
with the roles its scores earn (thresholds in ``ROLE_RULES``). Tap a head, or tick
its box, to knock it out: the loss on the repeated half (where an induction head
helps) and on the first half (where nothing can help) is measured again at once, and
the bars give every head's loss change when knocked out alone.

Tab "training": the training run, with its own controls — losses and the strongest
head of each kind against the step. The shipped run is shown; "train live" trains
the same recipe again in a worker thread and streams the curves as it goes. The step
slider marks a step and shows every head's recorded scores at that step: watch the
induction head appear as the repeated-half loss falls (Olsson et al. 2022).

The training tab is built the first time it is opened (``LazyTabs``), so a served
session sends only the heads; moving the step (or training live) opens it. ``figures``
holds the figures built so far. Knock-outs of the shipped models are measured once per
process and shared by every session (``shared_cache``).
"""

from __future__ import annotations

import queue
import threading
import time
from functools import lru_cache

import numpy as np
import panel as pn
import param

from attnviz import export, maps, models, plots
from attnviz.dashboards.base import CONTROL_WIDTH, Dashboard, _labelled
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.maps.roles import (
    ABLATION_MODES,
    evaluate_heads,
    loss_targets,
)
from attnviz.models import lesson_held_out
from attnviz.plots.theme import drop_unused, slim
from attnviz.shared_cache import shared_cache
from attnviz.tasks import make_task
from attnviz.validation import check_int, check_real

SCORES = {  # what the heatmap can be coloured by: label -> score name
    "induction": "induction",
    "previous-token": "previous_token",
    "duplicate-token": "duplicate_token",
    "first-token sink α₁": "sink",
    "entropy (0–1)": "entropy",
}
ABLATED_SEQUENCES = 32  # held-out sequences a live knock-out is measured on
DRAIN_MS = 250  # how often the served page takes new training records
MAX_LIVE_STEPS = 10_000  # a live run's steps at most (25x a recipe's; stop ends it sooner)
MAX_WAIT = 3600.0  # seconds ``wait`` may be asked to block, at most
LESSON_03_MODELS = ("induction_1l", "induction_2l")  # the 1-layer control, the 2-layer model
HEADS, TRAINING = "heads and knock-outs", "training"  # the tabs


@lru_cache(maxsize=4)
def _shipped(name: str):
    """A shipped lesson model, its training history and its evaluation (read-only)."""
    model = models.load_lesson_model(name)
    with one_thread():
        evaluation = evaluate_heads(model, lesson_held_out(name))
    return model, models.load_lesson_history(name), evaluation


def _knock_out(model, data, heads: list[tuple[int, int]], mode: str) -> dict[str, float]:
    """The loss change on each half when ``heads`` are knocked out together."""
    data = data[:ABLATED_SEQUENCES]
    targets = loss_targets(data)
    with one_thread():
        return {
            region: maps.ablate(
                model, data.input_ids, targets, heads, mode=mode, loss_mask=data.masks[region]
            )
            for region in ("repeated_half", "first_half")
        }


@shared_cache(max_entries=256, max_megabytes=1)  # two floats each
def _shipped_knock_out(name: str, heads: tuple[tuple[int, int], ...], mode: str) -> dict:
    """``_knock_out`` on a shipped model: the same numbers for every session (read-only)."""
    model, _, _ = _shipped(name)
    return _knock_out(model, lesson_held_out(name), list(heads), mode)


class HeadJobsDashboard(Dashboard):
    """Head scores with roles, ablation with the live loss change, and the training run."""

    stem = "head_jobs"  # its lesson in attnviz.lessons: the title and the slug

    model = param.Selector(default="induction_2l", objects=list(LESSON_03_MODELS))
    score = param.Selector(default="induction", objects=list(SCORES), doc="colours the heatmap")
    ablation = param.Selector(default="zero", objects=list(ABLATION_MODES), doc="knock out by")
    step = param.Selector(default=0, objects=[0], doc="the training step shown on the right")

    widget_options = {
        "model": {"name": "model"},
        "score": {"name": "colour heads by"},
        "ablation": {"name": "knock a head out by", "type": pn.widgets.RadioButtonGroup},
        "step": {"name": "training step", "type": pn.widgets.DiscreteSlider},
    }

    def __init__(self, **params):
        super().__init__(**params)
        self._live: dict[str, tuple] = {}  # models trained live in this session, by name
        self._records: queue.Queue = queue.Queue()
        self._trainer: threading.Thread | None = None
        self._stop = threading.Event()
        self._drainer = None
        self._shown_history = None
        self._setting_step = False  # the step moved by a new history, not by a user
        self._curves: plots.TrainingCurves | None = None  # built with the training tab
        self._at_step: plots.ScoreHeatmap | None = None
        self._build_views()
        self._build_ablation_boxes()
        self._readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self._ablation_readout = pn.pane.Markdown("", margin=(0, 10), width=CONTROL_WIDTH - 20)
        self._status = pn.pane.Alert("", alert_type="warning", visible=False, width=240)
        self._train_button = pn.widgets.Button(label="train live", color="primary", width=115)
        self._stop_button = pn.widgets.Button(label="stop", disabled=True, width=115)
        self._progress = pn.indicators.Progress(value=0, max=1, width=240, visible=False)
        self._progress_text = pn.pane.Markdown("", margin=(0, 10), width=240)
        self._train_button.on_click(lambda _: self.train_live())
        self._stop_button.on_click(lambda _: self._stop.set())
        self._download = export.download_button(
            self._every_figure, "heads_with_jobs.html", title=self.title, width=240
        )
        self.param.watch(lambda *_: self._show_model(), ["model"])
        self.param.watch(lambda *_: self._show_scores(), ["score"])
        self.param.watch(lambda *_: self._show_ablation(), ["ablation"])
        self.param.watch(lambda *_: self._step_moved(), ["step"])
        self._show_model()
        self._tabs = LazyTabs((HEADS, self._heads_tab), (TRAINING, self._training_tab))

    # -- views -------------------------------------------------------------------------
    def _build_views(self) -> None:
        """The heads' views, shown at once; the training views come with their tab."""
        zeros = {label: np.zeros((1, 1)) for label in SCORES}
        self._heat = plots.ScoreHeatmap(zeros, "induction", title="head scores", cell_px=90)
        self._heat.on_tap(self._toggle)
        self._bars = plots.Bars(
            np.zeros(1),
            title="knocked out alone: Δ loss, repeated half",
            x_label="head",
            y_label="Δ loss (nats per token)",
            height=260,
            tools="save",
            label_axis=True,
        )
        self._bars.figure.width = 320  # Bars' own ``width`` is the bars' width
        drop_unused(slim(self._bars.figure))

    def _build_training_views(self) -> None:
        """The training curves and the heads' record at a step, drawing the current run."""
        if self._curves is not None:
            return
        self._curves = plots.TrainingCurves(
            ["strongest previous-token head", "strongest induction head"],
            loss_names=["held-out loss", "repeated half", "first half"],
            title="training: loss and the strongest head of each kind",
            width=540,
        )
        self._at_step = plots.ScoreHeatmap(
            {"induction": np.zeros((1, 1)), "previous-token": np.zeros((1, 1))},
            "induction",
            title="training's record at this step",
            high=1.0,
            cell_px=70,
        )
        if not self.training:  # a live run streams its own records into the curves
            _, history, _, _ = self._current()
            self._curves.set(list(history.steps), self._series(history))
        self._show_step()

    def _heads_tab(self) -> pn.FlexBox:
        panes = (pn.pane.Bokeh(fig, sizing_mode="fixed") for fig in self._head_figures())
        return pn.FlexBox(*panes, max_width=880)

    def _training_tab(self) -> pn.Column:
        """The training tab: its controls and readout above the curves and the record."""
        self._build_training_views()
        buttons = pn.Column(
            pn.Row(self._train_button, self._stop_button), self._progress, self._progress_text
        )
        pane = dict(sizing_mode="fixed")
        figures = pn.FlexBox(
            pn.pane.Bokeh(self._curves.figure, **pane),
            pn.pane.Bokeh(self._at_step.figure, **pane),
            max_width=880,
        )
        return pn.Column(self._readout, pn.Row(_labelled(self._controls["step"]), buttons), figures)

    def _head_figures(self) -> list:
        return [self._heat.figure, self._bars.figure]

    def _every_figure(self) -> list:
        """Every figure, the training views built if their tab has not been shown (for the
        download)."""
        self._build_training_views()
        return [*self._head_figures(), self._curves.figure, self._at_step.figure]

    def _build_ablation_boxes(self) -> None:
        """One checkbox per head of the largest lesson-03 model; others are hidden."""
        self._boxes: dict[tuple[int, int], pn.widgets.Checkbox] = {}
        layers = max(models.LESSON_MODELS[n]["config"]["n_layers"] for n in LESSON_03_MODELS)
        heads = max(models.LESSON_MODELS[n]["config"]["n_heads"] for n in LESSON_03_MODELS)
        for layer in range(layers):
            for head in range(heads):
                box = pn.widgets.Checkbox(label=plots.head_label(layer, head), width=54)
                box.param.watch(lambda *_: self._show_ablation(), "value")
                self._boxes[(layer, head)] = box

    # -- the model and its numbers -----------------------------------------------------
    def _current(self):
        """(model, history, evaluation, held-out data) for the chosen model."""
        if self.model in self._live:
            return self._live[self.model]
        model, history, evaluation = _shipped(self.model)
        return model, history, evaluation, lesson_held_out(self.model)

    def _show_model(self) -> None:
        try:
            model, history, evaluation, _ = self._current()
        except Exception as error:  # missing weights, say: say so, keep the page alive
            self._fail(error)
            return
        n_layers, n_heads = evaluation.roles.shape
        for (layer, head), box in self._boxes.items():
            present = layer < n_layers and head < n_heads
            box.visible = present
            if not present and box.value:
                box.value = False
        with self._hold():
            self._show_history(history)
            self._show_scores()
            self._show_ablation()

    def _show_history(self, history) -> None:
        steps = list(history.steps)
        self.param.step.objects = steps
        if self._curves is not None:
            self._curves.set(steps, self._series(history))
        if history is not self._shown_history or self.step not in steps:
            self._shown_history = history
            if self.step != steps[-1]:
                self._setting_step = True
                try:
                    self.step = steps[-1]  # a new run opens at its end (the watcher redraws)
                finally:
                    self._setting_step = False
                return
        self._show_step()

    def _step_moved(self) -> None:
        """A user moved the step: open the training tab (built the first time) and draw."""
        if self._setting_step or self._tabs is None:  # None: still in __init__
            self._show_step()
            return
        with self._hold():
            self._tabs.show(TRAINING)  # a tab built now draws the step itself
            self._show_step()

    @staticmethod
    def _series(history) -> dict[str, np.ndarray]:
        """The curves of a history: losses, and the best head of each score per step."""
        strongest = {
            name: history.strongest(name).numpy()
            if name in history.scores
            else np.zeros(len(history.steps))
            for name in ("previous_token", "induction")
        }
        return {
            "held-out loss": history.loss,
            "repeated half": history.region_loss.get("repeated_half", history.loss),
            "first half": history.region_loss.get("first_half", history.loss),
            "strongest previous-token head": strongest["previous_token"],
            "strongest induction head": strongest["induction"],
        }

    def _show_scores(self) -> None:
        try:
            _, _, evaluation, _ = self._current()
            high = None if SCORES[self.score] == "entropy" else 1.0
            self._heat.update(
                {label: evaluation.scores[name] for label, name in SCORES.items()},
                self.score,
                evaluation.roles,
                high=high,
            )
            self._heat.figure.title.text = f"head scores: {self.score}"
        except Exception as error:
            self._fail(error)

    def _ablated(self) -> list[tuple[int, int]]:
        return [head for head, box in self._boxes.items() if box.value and box.visible]

    def _show_ablation(self) -> None:
        try:
            model, _, evaluation, data = self._current()
            heads = self._ablated()
            table = evaluation.single_ablation[self.ablation]
            names = [plots.head_label(*index) for index in np.ndindex(table.shape)]
            if self.model in self._live:  # this session's own run
                changes = _knock_out(model, data, heads, self.ablation)
            else:
                changes = dict(_shipped_knock_out(self.model, tuple(heads), self.ablation))
            with self._hold():
                self._heat.mark(heads)
                self._bars.update(table.ravel(), labels=names)
            self._status.visible = False
        except Exception as error:
            self._fail(error)
            return
        chosen = ", ".join(plots.head_label(*h) for h in heads) or "no head"
        self._ablation_readout.object = (
            f"**{chosen} knocked out** ({self.ablation}):  \n"
            f"repeated-half loss **{changes['repeated_half']:+.3f}** nats/token,  \n"
            f"first-half loss {changes['first_half']:+.3f}."
        )
        self.ablation_change = changes

    def _show_step(self) -> None:
        try:
            _, history, _, _ = self._current()
            index = list(history.steps).index(self.step)
        except Exception as error:
            self._fail(error)
            return
        scores = {
            "induction": np.asarray(history.scores.get("induction", [[[0.0]]])[index]),
            "previous-token": np.asarray(history.scores.get("previous_token", [[[0.0]]])[index]),
        }
        if "induction" not in history.scores:
            scores["induction"] = np.zeros_like(scores["previous-token"])
        series = self._series(history)
        if self._curves is not None:  # the training tab is built
            with self._hold():
                self._curves.mark_step(self.step)
                self._at_step.update(scores, "induction", high=1.0)
                self._at_step.figure.title.text = f"training's record at step {self.step}"
        best = np.unravel_index(np.argmax(scores["induction"]), scores["induction"].shape)
        self._readout.object = (
            f"**step {self.step}** of {history.steps[-1]}: held-out loss "
            f"**{series['held-out loss'][index]:.3f}**, repeated half "
            f"**{series['repeated half'][index]:.3f}**, first half "
            f"{series['first half'][index]:.3f}; strongest induction head "
            f"{plots.head_label(*best)} ({scores['induction'][best]:.2f} of its attention on "
            "the induction stripe, as training records it)."
        )

    def _toggle(self, layer: int, head: int) -> None:
        box = self._boxes.get((layer, head))
        if box is not None and box.visible:
            box.value = not box.value

    def _fail(self, error: Exception) -> None:
        self._status.object = f"Could not update: {error}"
        self._status.visible = True

    # -- training live -----------------------------------------------------------------
    @property
    def training(self) -> bool:
        """True while a live training run is going."""
        return self._trainer is not None and self._trainer.is_alive()

    def train_live(self, steps: int | None = None) -> None:
        """Train the chosen model's recipe again, in a worker thread, streaming the curves.

        The run is this session's own: when it ends, its model and history replace
        the shipped ones here (other sessions keep theirs). ``steps`` (None: the
        recipe's) is in [1, ``MAX_LIVE_STEPS``]; ``close()`` stops a run at its next step.
        """
        if steps is not None:
            steps = check_int("steps", steps, low=1, high=MAX_LIVE_STEPS)
        if self.training:
            return
        name = self.model
        recipe = models.LESSON_MODELS[name]
        train_args = dict(recipe["train"])
        if steps is not None:
            train_args["steps"] = int(steps)
        total = train_args["steps"]
        self._tabs.show(TRAINING)  # where the run is drawn: built now if it was not
        self._stop.clear()
        self._records = records = queue.Queue()
        self._curves.clear()
        self._progress.max, self._progress.value = max(total, 1), 0
        self._progress.visible = True
        self._progress_text.object = f"training {name}: step 0 of {total} …"
        self._train_button.disabled, self._stop_button.disabled = True, False
        stop = self._stop

        def work() -> None:
            try:
                model = models.TinyTransformer(
                    models.TinyConfig(**recipe["config"]), seed=recipe["init_seed"]
                )
                task = make_task(**recipe["task"])

                def record(step, entry) -> bool:
                    records.put(("record", entry))
                    return not stop.is_set()

                # one core trains; the other stays free for the server's event loop
                with one_thread():
                    history = models.train(
                        model, task, progress=False, callback=record, **train_args
                    )
                    data = lesson_held_out(name)
                    evaluation = evaluate_heads(model, data)
                records.put(("done", (model, history, evaluation, data)))
            except Exception as error:  # reported on the page, never raised into the server
                records.put(("error", error))

        self._trainer = threading.Thread(target=work, name="attnviz-train", daemon=True)
        self._trainer.start()
        # served: the session's periodic callback; in a notebook: a task on the kernel's
        # event loop; with no event loop at all (a script, a test) it never fires, and
        # ``wait()`` or ``drain()`` move the records instead
        self._drainer = pn.state.add_periodic_callback(self.drain, period=DRAIN_MS)

    def close(self) -> None:
        """Stop a live training run (its thread ends at its next step) and its drain: a
        closed tab's run must not keep a core busy."""
        self._stop.set()
        if self._drainer is not None:
            self._drainer.stop()
            self._drainer = None

    def drain(self) -> None:
        """Move the records the trainer has sent so far into the figures (server thread)."""
        name = self.model
        with self._hold():
            while True:
                try:
                    kind, payload = self._records.get_nowait()
                except queue.Empty:
                    return
                if kind == "record":
                    self._stream(payload)
                else:
                    self._finish(name, kind, payload)

    def _stream(self, record) -> None:
        region = record.region_loss
        strongest = {
            name: float(record.scores[name].max()) if name in record.scores else 0.0
            for name in ("previous_token", "induction")
        }
        self._curves.stream(
            record.step,
            {
                "held-out loss": record.loss,
                "repeated half": region.get("repeated_half", record.loss),
                "first half": region.get("first_half", record.loss),
                "strongest previous-token head": strongest["previous_token"],
                "strongest induction head": strongest["induction"],
            },
        )
        self._curves.mark_step(record.step)
        self._progress.value = min(record.step, self._progress.max)
        self._progress_text.object = (
            f"training: step {record.step} of {record.total_steps}, "
            f"repeated-half loss {region.get('repeated_half', record.loss):.3f}"
        )

    def _finish(self, name: str, kind: str, payload) -> None:
        if self._drainer is not None:
            self._drainer.stop()
            self._drainer = None
        self._train_button.disabled, self._stop_button.disabled = False, True
        self._progress.visible = False
        if kind == "error":
            self._progress_text.object = ""
            self._fail(payload)
            return
        model, history, evaluation, data = payload
        self._live[name] = (model, history, evaluation, data)
        stopped = " (stopped early)" if self._stop.is_set() else ""
        self._progress_text.object = (
            f"trained live{stopped}: {history.steps[-1]} steps; the heads below are this run's."
        )
        if name == self.model:
            self._show_model()

    def wait(self, timeout: float = 600.0) -> None:
        """Block until a live training run has finished, or ``timeout`` seconds (in [0,
        ``MAX_WAIT``]) have passed, then show its results."""
        timeout = check_real("timeout", timeout, low=0.0, high=MAX_WAIT)
        deadline = time.monotonic() + timeout
        while self.training and time.monotonic() < deadline:
            self._trainer.join(0.1)
        self.drain()

    # -- the Viewer protocol -----------------------------------------------------------
    @property
    def controls(self) -> dict[str, pn.widgets.Widget]:
        """The parameter controls and one ablation checkbox per head of the chosen model."""
        controls = dict(self._controls)
        for head, box in self._boxes.items():
            if box.visible:
                controls[f"ablate {plots.head_label(*head)}"] = box
        return controls

    @property
    def figures(self) -> dict:
        """The figures built so far, by name: ``scores`` and ``ablation`` (tab "heads and
        knock-outs"), then ``training`` and ``at_step`` once the training tab has been
        shown."""
        figures = dict(zip(("scores", "ablation"), self._head_figures(), strict=True))
        if self._curves is not None:
            figures.update(training=self._curves.figure, at_step=self._at_step.figure)
        return figures

    def __panel__(self):
        heads = max(head for _, head in self._boxes) + 1
        boxes = pn.GridBox(*self._boxes.values(), ncols=heads, width=CONTROL_WIDTH - 20)
        controls = pn.Column(
            *(_labelled(widget) for name, widget in self._controls.items() if name != "step"),
            pn.pane.Markdown("**knock out** (or tap a head)", margin=(5, 10, 0, 10)),
            boxes,
            self._ablation_readout,
            self._status,
            self._download,
            width=CONTROL_WIDTH,
        )
        return pn.Column(self._header(), pn.Row(controls, self._tabs))


def app(**defaults) -> HeadJobsDashboard:
    """Lesson 03's dashboard, with any parameter preset (e.g. ``app(ablation="mean")``)."""
    return HeadJobsDashboard(**defaults)
