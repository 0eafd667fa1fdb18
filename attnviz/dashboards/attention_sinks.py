"""Lesson 08's dashboard: attention sinks and long context on real text.

The controls on the left pick a head of the shipped character model (``shakespeare``,
trained on *Shakespeare*'s plays, read here on *The Tempest*, never trained on) and the
cache every head keeps: the last ``window`` tokens, with or without the first token (the
sink). Three tabs:

- "map and sink": the head's attention on a held-out passage, a character per row and
  column, the keys its cache dropped in grey; the readout gives the model's loss on long
  held-out passages under this cache, with the sink toggled the other way and with the
  full cache (StreamingLLM, Xiao et al., arXiv:2309.17453: a window alone fails once the
  first token is evicted; keeping it restores the loss).
- "loss by position": loss against position past the training length under each cache
  policy (``attnviz.streaming.streaming_curves``); the policies shown are selectable.
- "heads": every head's first-token sink score α₁ against ε (Gu et al., When Attention
  Sink Emerges, arXiv:2410.10781; ``attnviz.sinks``), DuoAttention's split (each head
  alone made streaming, the rise of the loss on the needle tests' answers ranks them; Xiao
  et al., arXiv:2410.10819) and the mixed cache's loss against the memory it keeps
  (``attnviz.retrieval_heads``).

Everything a control or a tab shows is computed once per process, when the first
dashboard is built (``_precompute``: a few seconds on a 2-core machine), and shared by
every later session: a control only swaps data into the figures. The tabs not shown first
are built when first opened (``LazyTabs``), so a session sends only what is on screen.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import panel as pn
import param

from attnviz import plots, retrieval_heads, shakespeare, sinks, streaming
from attnviz.dashboards.base import CONTROL_WIDTH, Dashboard, _labelled
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.kv_cache import FULL, MAX_CACHE, CachePolicy
from attnviz.plots.attention_sinks import (
    HeadRanking,
    HeadValueGrid,
    MixedCacheCurve,
    PassageMap,
    PolicyCurves,
)
from attnviz.text_models import TEXT_MODELS, TRAIN_LENGTH, load_text_model
from attnviz.validation import check_bool, check_int

MODEL = "shakespeare"  # the shipped real-text model the dashboard reads
WINDOWS = (4, 8, 16, 32)  # the recent tokens a cache may keep (the map's passage is 64)
MAP_SEED = 0  # the held-out passage the map shows (sinks.sink_passages)
READOUT_LENGTH = 2 * TRAIN_LENGTH  # the long passages the loss readout is measured on
READOUT_PASSAGES = 2
CURVE_LENGTH, CURVE_PASSAGES, CURVE_BIN = 2 * TRAIN_LENGTH, 2, 32  # the loss-by-position tab
STREAMING_HEAD = retrieval_heads.DUO_POLICY  # a streaming head's cache
# DuoAttention's split, as lesson 08 §8: scored at the answers of needle tests, a mixed
# cache within this many nats per character of the full cache's answer loss. One needle
# per length and depth (10 tests, about 3 s once per process on 2 cores; the lesson's 30
# take 20 s) singles out the same head as the lesson
EQUAL_LOSS = 0.05
HEAD_NEEDLES = 1
MAP_TAB, CURVES_TAB, HEADS_TAB = "map and sink", "loss by position", "heads"


def cache_policy(window: int, sink: bool) -> CachePolicy:
    """The cache the controls name: the last ``window`` tokens, and the first if ``sink``."""
    window = check_int("window", window, low=1, high=MAX_CACHE)
    sink = check_bool("sink", sink)
    return CachePolicy(sinks=1 if sink else 0, window=window)


@lru_cache(maxsize=1)
def _model():
    return load_text_model(MODEL)


@lru_cache(maxsize=1)
def _map_ids():
    return sinks.sink_passages(1, sinks.SINK_LENGTH, seed=MAP_SEED)[0]


@lru_cache(maxsize=1)
def _readout_ids():
    return sinks.sink_passages(READOUT_PASSAGES, READOUT_LENGTH, seed=MAP_SEED)


@lru_cache(maxsize=2 * len(WINDOWS) + 1)
def _reading(window: int | None, sink: bool) -> streaming.CacheReading:
    """The map and the loss under the cache (``window`` None: the full cache)."""
    policy = FULL if window is None else cache_policy(window, sink)
    with one_thread():
        return streaming.read_under_cache(_model(), _map_ids(), _readout_ids(), policy)


@lru_cache(maxsize=1)
def _readings() -> dict:
    """Every cache the controls can name, computed once per process."""
    readings = {(w, s): _reading(w, s) for w in WINDOWS for s in (False, True)}
    readings[None] = _reading(None, False)
    return readings


@lru_cache(maxsize=1)
def _sink_scores() -> np.ndarray:
    with one_thread():
        return sinks.sink_scores(_model(), sinks.sink_passages())


@lru_cache(maxsize=1)
def _curves() -> streaming.StreamingCurves:
    with one_thread():
        return streaming.streaming_curves(
            _model(), length=CURVE_LENGTH, passages=CURVE_PASSAGES, bin_size=CURVE_BIN
        )


@lru_cache(maxsize=1)
def _heads_tests() -> list:
    return retrieval_heads.needle_tests(needles=HEAD_NEEDLES)


@lru_cache(maxsize=1)
def _heads() -> tuple[np.ndarray, retrieval_heads.MixedCache, dict]:
    """DuoAttention's ranking, the mixed-cache curve and the memory it saves, on the needle
    tests (scored at their answers: the heads that must reach back to the needle)."""
    ids = _heads_tests()
    with one_thread():
        ranking = retrieval_heads.streaming_head_ranking(_model(), ids, STREAMING_HEAD)
        curve = retrieval_heads.mixed_cache_curve(_model(), ids, STREAMING_HEAD, ranking)
    return ranking, curve, retrieval_heads.memory_saved_at_equal_loss(curve, EQUAL_LOSS)


def _precompute() -> None:
    """Everything any control or tab shows, computed once per process (then shared)."""
    _readings()
    _sink_scores()
    _curves()
    _heads()


def _policy_labels() -> list[str]:
    return list(streaming.standard_policies())


def _strongest_sink_head() -> tuple[int, int]:
    scores = _sink_scores()
    layer, head = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(layer), int(head)


_CONFIG = TEXT_MODELS[MODEL]["config"]  # the recipe's shape: no weights read at import


class AttentionSinksDashboard(Dashboard):
    """A head's map on real text with the sink toggled, loss by cache policy, the heads."""

    stem = "attention_sinks"  # its lesson in attnviz.lessons: the title and the slug

    layer = param.Integer(default=0, bounds=(0, _CONFIG["n_layers"] - 1))
    head = param.Integer(default=0, bounds=(0, _CONFIG["n_heads"] - 1))
    window = param.Selector(default=16, objects=list(WINDOWS), doc="recent tokens each head keeps")
    sink = param.Boolean(default=True, doc="the cache keeps the first token (the sink)")
    policies = param.ListSelector(default=_policy_labels(), objects=_policy_labels(),
                                  doc="the cache policies drawn by position")  # fmt: skip

    widget_options = {
        "layer": {"name": "layer"},
        "head": {"name": "head"},
        "window": {"name": "cache window (recent tokens)", "type": pn.widgets.RadioButtonGroup},
        "sink": {"name": "keep the first token (sink)"},
        "policies": {
            "name": "cache policies shown",
            "type": pn.widgets.CheckButtonGroup,
            "width": 600,
        },  # fmt: skip
    }

    def __init__(self, **params):
        super().__init__(**params)  # the settings checked first
        failure = None
        try:
            _precompute()  # the first session in a process pays for every session's numbers
            if "layer" not in params and "head" not in params:  # open on the strongest sink
                self.layer, self.head = _strongest_sink_head()
        except Exception as error:  # missing weights, say: the page says so and stays up
            failure = error
        self._status = pn.pane.Alert(
            " ".join(self.preset_notes), alert_type="warning", visible=bool(self.preset_notes),
            width=CONTROL_WIDTH,
        )  # fmt: skip
        self._readout = pn.pane.Markdown("", margin=(0, 10), width=CONTROL_WIDTH - 20)
        self._map = PassageMap()
        self._labels = shakespeare.token_labels(_map_ids())
        self._curves: PolicyCurves | None = None  # built with their tabs
        self._grid: HeadValueGrid | None = None
        self._ranking: HeadRanking | None = None
        self._mixed: MixedCacheCurve | None = None
        self._heads_readout = pn.pane.Markdown("", margin=(0, 10), width=600)
        self._curves_readout = pn.pane.Markdown("", margin=(0, 10), width=600)
        self.param.watch(lambda *_: self._show_map(), ["layer", "head", "window", "sink"])
        self.param.watch(lambda *_: self._show_head_marks(), ["layer", "head"])
        self.param.watch(lambda *_: self._show_policies(), ["policies"])
        self._show_map()
        if failure is not None:
            self._fail(failure)
        self._tabs = LazyTabs(
            (MAP_TAB, lambda: pn.pane.Bokeh(self._map.figure, sizing_mode="fixed")),
            (CURVES_TAB, self._guarded(self._curves_tab)),
            (HEADS_TAB, self._guarded(self._heads_tab)),
        )

    def _guarded(self, build):
        """``build``, or an alert naming what failed (the page stays up)."""

        def tab():
            try:
                return build()
            except Exception as error:
                self._fail(error)
                return pn.pane.Alert(f"Could not build this tab: {error}", alert_type="warning")

        return tab

    # -- the map and its readout ---------------------------------------------------------
    def _show_map(self) -> None:
        try:
            readings = _readings()
            reading = readings[(self.window, self.sink)]
            policy = cache_policy(self.window, self.sink)
            weights = reading.weights[self.layer, self.head]
            first = float(np.nanmean(weights[:, 0]))
            loss, other = self.loss(), self.loss(not self.sink)
            full = readings[None].loss_after(self.window)
            with self._hold():
                self._map.update(
                    weights, self._labels,
                    title=f"{plots.head_label(self.layer, self.head)} on The Tempest, cache: "
                    f"{policy.label()}",
                )  # fmt: skip
                toggled = "without" if self.sink else "with"
                self._readout.object = (
                    f"**Cache: {policy.label()}** (every head).  \n"
                    f"Mean loss on {READOUT_PASSAGES} held-out passages of {READOUT_LENGTH} "
                    f"characters, once the window is full: **{loss:.3f}** nats/char.  \n"
                    f"{toggled.capitalize()} the sink: {other:.3f} ({other - loss:+.3f}).  \n"
                    f"Full cache: {full:.3f} (it reads past the {TRAIN_LENGTH} tokens it was "
                    f"trained on).  \n"
                    f"{plots.head_label(self.layer, self.head)}'s mean weight on the first "
                    f"token, where its cache holds it: {first:.2f}."
                )
                self._status.object = " ".join(self.preset_notes)
                self._status.visible = bool(self.preset_notes)
        except Exception as error:  # missing weights, say: say so, keep the page alive
            self._fail(error)

    def _fail(self, error: Exception) -> None:
        self._status.object = f"Could not update: {error}"
        self._status.visible = True

    # -- loss by position -----------------------------------------------------------------
    def _curves_tab(self) -> pn.Column:
        curves = _curves()
        self._curves = PolicyCurves(list(curves.losses), train_length=curves.train_length)
        self._curves.update(curves.positions, curves.losses)
        self._show_policies()
        past = curves.mean_past_training
        rows = " · ".join(f"{label}: {loss:.2f}" for label, loss in past.items())
        self._curves_readout.object = (
            f"Mean loss past the training length ({curves.train_length} tokens), "
            f"{CURVE_PASSAGES} held-out passages of {curves.length}: {rows}"
        )
        return pn.Column(
            _labelled(self._controls["policies"]),
            pn.pane.Bokeh(self._curves.figure, sizing_mode="fixed"),
            self._curves_readout,
        )

    def _show_policies(self) -> None:
        if self._curves is not None:
            self._curves.show(list(self.policies))

    # -- heads -------------------------------------------------------------------------
    def _heads_tab(self) -> pn.Column:
        self._grid = HeadValueGrid()
        self._grid.update(_sink_scores(), threshold=sinks.SINK_EPSILON)
        ranking, curve, saved = _heads()
        self._ranking = HeadRanking(
            title=f"DuoAttention: Δ loss when only this head keeps {STREAMING_HEAD.label()}"
        )
        self._mixed = MixedCacheCurve()
        memory = np.asarray(curve.cache_floats, dtype=float) / max(curve.cache_floats)
        heads = list(curve.full_heads)
        chosen = heads.index(saved["full_heads"]) if saved["full_heads"] in heads else None
        self._mixed.update(heads, memory, curve.loss, full_loss=curve.full_loss, chosen=chosen)
        self._show_head_marks()
        rate = float((_sink_scores() > sinks.SINK_EPSILON).mean())
        self._heads_readout.object = (
            f"Heads with α₁ > ε = {sinks.SINK_EPSILON}: **{rate:.0%}**. "
            f"DuoAttention's split on {len(_heads_tests())} needle-in-a-"
            f"haystack tests, scored at the answer, a streaming head keeping "
            f"{STREAMING_HEAD.label()}: full cache {curve.full_loss:.3f} nats/char, every "
            f"head streaming {curve.loss[0]:.3f}. "
            f"The fewest full-cache heads with a loss at most {EQUAL_LOSS} above the full "
            f"cache's: "
            f"{saved['full_heads']} head{'' if saved['full_heads'] == 1 else 's'} "
            f"keep{'s' if saved['full_heads'] == 1 else ''} the full cache, "
            f"{saved['memory_fraction']:.0%} of its memory."
        )
        figures = pn.FlexBox(
            pn.pane.Bokeh(self._grid.figure, sizing_mode="fixed"),
            pn.pane.Bokeh(self._ranking.figure, sizing_mode="fixed"),
            pn.pane.Bokeh(self._mixed.figure, sizing_mode="fixed"),
            max_width=900,
        )
        return pn.Column(self._heads_readout, figures)

    def _show_head_marks(self) -> None:
        if self._grid is None:
            return
        with self._hold():
            self._grid.mark((self.layer, self.head))
            self._ranking.update(_heads()[0], marked=[(self.layer, self.head)])

    # -- what tests and the bench read -----------------------------------------------------
    @property
    def status(self) -> str:
        """The warning shown under the controls: values moved into range, or a failure."""
        return self._status.object if self._status.visible else ""

    @property
    def readout(self) -> str:
        """The map tab's readout (Markdown)."""
        return self._readout.object

    def loss(self, sink: bool | None = None) -> float:
        """The readout's mean loss under the current window, the sink as set (or ``sink``),
        over the predictions made once the window is full."""
        sink = self.sink if sink is None else check_bool("sink", sink)
        return _readings()[(self.window, sink)].loss_after(self.window)

    @property
    def figures(self) -> dict:
        shown = {"map": self._map.figure}
        if self._curves is not None:
            shown["loss_by_position"] = self._curves.figure
        if self._grid is not None:
            shown.update(sink_scores=self._grid.figure, duo_ranking=self._ranking.figure,
                         mixed_cache=self._mixed.figure)  # fmt: skip
        return shown

    def __panel__(self):
        controls = [c for name, c in self._controls.items() if name != "policies"]
        column = pn.Column(*map(_labelled, controls), self._readout, self._status,
                           width=CONTROL_WIDTH)  # fmt: skip
        return pn.Column(self._header(), pn.Row(column, self._tabs))


def app(**defaults) -> AttentionSinksDashboard:
    """Lesson 08's dashboard, any parameter preset, e.g. ``app(window=8, sink=False)``."""
    return AttentionSinksDashboard(**defaults)


__all__ = ["AttentionSinksDashboard", "app", "cache_policy"]
