"""Lesson 02's dashboard: reading attention maps.

Pick a trained model and an input (a task preset, or your own words); the model
runs once and every head's attention weights are captured (``attnviz.maps``).
The controls sit on the left, a readout above two tabs. Tab "attention maps": the
model view shows one thumbnail per head, layers down and heads across; tap one to
enlarge it. The head view draws that head token by token (a zoom window of up to
``ZOOM`` tokens: hover a cell for the query token, the key token and the weight); an
input longer than the window also gets an overview of the whole map (pooled for long
inputs; tap it to move the window) and the zoom sliders. Tab "entropy and sink per
head": one bar chart gives each head's entropy (how spread out its attention is)
beside its first-token sink score α₁ (Gu et al. 2025). The second tab is built the
first time it is opened (``LazyTabs``) and the overview with the first long input, so
a served session sends only what is on screen; ``figures`` holds the figures built so
far.

Inputs of any length the model accepts, up to 4,096 tokens, use the same views:
thumbnails and the overview are pooled (``maps.downsample``), the zoom is exact.
Past 4,096 tokens (or past the model's context), a model that can read them (softmax
attention with rotary or no positions, like ``induction_rope``) is read up to
``LONG_TOKENS`` = 65,536 tokens without ever holding a T × T map
(``maps.read_long_heads``: q and k of every head, by online softmax; each head's
overview, log-sum-exp, entropy and sink in one streamed pass); the zoom is recomputed
exactly from q, k and its rows' lse (``maps.streamed_window``) each time it moves.
Long inputs (over ``SYNC_TOKENS``) are computed in a worker thread when served,
so the server keeps answering other sessions meanwhile; each reading is cached.
"""

from __future__ import annotations

import copy
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import panel as pn
import param
import torch

from attnviz import export, maps, models, plots
from attnviz.dashboards.base import Dashboard
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.maps.model_io import model_kind, model_limits
from attnviz.plots.attention_maps import HeadBars
from attnviz.shared_cache import nbytes
from attnviz.validation import check_real

MAX_TOKENS = 4096  # the longest input whose maps the dashboard holds (context allowing)
LONG_TOKENS = maps.streamed.MAX_TOKENS  # 65,536: the longest, streamed (RoPE or no positions)
SYNC_TOKENS = 512  # longer inputs are computed off the server's event loop when served
ZOOM = 40  # the zoom window: this many queries x keys, each labelled
THUMBNAIL = 48  # model-view thumbnails pool longer inputs to this many rows / columns
OVERVIEW = 256  # the overview pools longer inputs to this many rows / columns
SINK_EPS = 0.3  # Gu et al. 2025: a head has a first-token sink when alpha_1 > 0.3
CACHE_SIZE = 8  # analysed inputs kept per dashboard ...
CACHE_MEGABYTES = 300  # ... and at most this much of them (a 4,096-token reading: 269 MB)
COLOUR_QUANTILE = 0.995  # thumbnails and the overview saturate above this quantile
EMBEDDING_VOCAB = 64  # a model of bare attention reads the ids through this many embeddings
MAX_WAIT = 3600.0  # seconds ``wait`` may be asked to block, at most

PRESETS = maps.INPUT_PRESETS
MAPS, NUMBERS = "attention maps", "entropy and sink per head"  # the tabs
DEFAULT_TEXT = "the cat sat on the mat and the dog sat on the cat"


def _colour_top(weights: np.ndarray) -> float:
    """The weight drawn brightest: the 99.5th percentile, so that the few rows at the
    start of a causal map (query 0 must put all its weight on key 0) do not leave the
    rest of a long map dark. Larger weights are drawn in the same brightest colour."""
    return float(max(np.quantile(weights, COLOUR_QUANTILE), 1e-6))


@lru_cache(maxsize=8)
def _lesson_model(name: str) -> torch.nn.Module:
    """A shipped lesson model, loaded once per process and only ever read."""
    return models.load_lesson_model(name)


def _context(model: torch.nn.Module) -> int:
    """The longest input the model reads (its config's, else ``MAX_TOKENS``)."""
    _, context = model_limits(model)
    return int(context or MAX_TOKENS)


def _held(model: torch.nn.Module) -> int:
    """The longest input whose maps are held whole: the model's context, at most 4,096."""
    return min(_context(model), MAX_TOKENS)


def _readable(model: torch.nn.Module) -> int:
    """The longest input the dashboard reads with ``model``: ``LONG_TOKENS`` for a model
    that ``maps.stream_capture`` reads past its context, else what ``_held`` says."""
    config = getattr(model, "config", None)
    streamable = (
        isinstance(model, models.TinyTransformer)
        and config.mixer == "attention"
        and config.operator == "softmax"
        and config.mask is None
        and config.positional in ("rope", "none")
    )
    return LONG_TOKENS if streamable else _held(model)


def _vocab(model: torch.nn.Module) -> int:
    """The model's vocabulary; a model of bare attention (built on nn.MultiheadAttention,
    with no embedding of its own) reads ``EMBEDDING_VOCAB`` ids through ``_model_input``."""
    vocab, _ = model_limits(model)
    return int(vocab or EMBEDDING_VOCAB)


def _model_input(model: torch.nn.Module, ids: np.ndarray):
    """What the model is given: the token ids, or, for a model built on
    nn.MultiheadAttention with no embedding of its own (``maps.capture`` passes a float
    (T, d) tensor on as embeddings), the ids' rows of a fixed random embedding (seed 0,
    unit variance) of the attention's width."""
    vocab, _ = model_limits(model)
    if vocab is not None or model_kind(model) != "mha":
        return ids
    attention = next(m for m in model.modules() if isinstance(m, torch.nn.MultiheadAttention))
    dtype = next(model.parameters(), torch.empty(0)).dtype
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(EMBEDDING_VOCAB, attention.embed_dim, generator=generator).to(dtype)
    return table[torch.as_tensor(ids, dtype=torch.long)]


def _extra_models(extra_models) -> dict[str, torch.nn.Module]:
    """``extra_models`` checked: None or {name: a model ``maps.capture`` reads}."""
    if extra_models is None:
        return {}
    if not isinstance(extra_models, Mapping):
        raise TypeError(
            f"extra_models must be a dict of {{name: model}}, got {type(extra_models).__name__}"
        )
    for name, model in extra_models.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"extra_models' names must be non-empty strings, got {name!r}")
        try:
            model_kind(model)
        except TypeError as error:
            raise TypeError(f"extra_models[{name!r}]: {error}") from None
    return dict(extra_models)


class AttentionMapsDashboard(Dashboard):
    """The model view (every head), the head view (one head, any length) and head numbers."""

    stem = "attention_maps"  # its lesson in attnviz.lessons: the title and the slug

    model = param.Selector(default="induction_2l", objects=list(models.LESSON_MODELS))
    preset = param.Selector(default="repeated tokens", objects=list(PRESETS))
    seq_len = param.Integer(default=33, bounds=(2, LONG_TOKENS), doc="tokens in the input")
    seed = param.Integer(default=0, bounds=(0, 99), doc="which random draw of the preset")
    # not checked on set: a browser may send a head of the model shown before (a stale
    # select); the dashboard moves such a value to a head there is (``_head_moved``)
    head = param.Selector(
        default="L1H0", objects=["L1H0"], check_on_set=False, doc="the head drawn large"
    )
    text = param.String(default=DEFAULT_TEXT, precedence=-1)
    zoom_query = param.Integer(default=0, bounds=(0, LONG_TOKENS - 1), precedence=-1)
    zoom_key = param.Integer(default=0, bounds=(0, LONG_TOKENS - 1), precedence=-1)

    widget_options = {
        "model": {"name": "model"},
        "preset": {"name": "input"},
        "seq_len": {"name": "length (tokens)"},
        "seed": {"name": "random draw"},
        "head": {"name": "head (or tap a thumbnail)"},
    }

    def __init__(self, extra_models: dict[str, torch.nn.Module] | None = None, **params):
        """``extra_models`` adds your own models by name (any model ``maps.capture`` reads:
        a TinyTransformer, a Hugging Face model, or one built on nn.MultiheadAttention, a
        bare one too, which reads the ids through a fixed random embedding). Numbers are
        clamped (``clamp_params``); ``head`` must name a head of the model shown."""
        self._extra_models = _extra_models(extra_models)
        # the model and head lists are known only now: set those two after the rest
        model = params.pop("model", next(iter(self._extra_models), None))
        head = params.pop("head", None)
        super().__init__(**params)
        self.param.model.objects = [*models.LESSON_MODELS, *self._extra_models]
        if model is not None:
            self.model = model
        self._cache: OrderedDict[tuple, maps.HeadReading] = OrderedDict()
        self._sizes: dict[tuple, int] = {}  # bytes held by each reading kept
        self._analysis: maps.HeadReading | None = None
        self._heads: list[str] = ["L1H0"]  # the heads of the model shown
        self._busy = False
        self._pending: tuple | None = None
        self._worker: threading.Thread | None = None
        self._text_input = pn.widgets.TextAreaInput.from_param(
            self.param.text, name="your tokens (words or ids)", height=70, width=240
        )
        self._zoom_sliders = {
            "zoom_query": pn.widgets.IntSlider.from_param(
                self.param.zoom_query, name="zoom: first query", width=240
            ),
            "zoom_key": pn.widgets.IntSlider.from_param(
                self.param.zoom_key, name="zoom: first key", width=240
            ),
        }
        self._status = pn.pane.Alert("", alert_type="warning", visible=False, width=240)
        self._readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self._download = export.download_button(
            self._every_figure, "attention_maps.html", title=self.title, width=240
        )
        self._numbers: HeadBars | None = None  # built with its tab
        self._build_views()
        self._text_box = pn.Column(margin=0)
        self._show_text_box()
        self.param.watch(self._show_text_box, ["preset"])
        self.param.watch(
            lambda *_: self._request_input(), ["model", "preset", "seq_len", "seed", "text"]
        )
        # while a new input is shown, it redraws the head itself: no second redraw
        self.param.watch(lambda *_: self._busy or self._head_moved(), ["head"])
        self.param.watch(lambda *_: self._busy or self._show_window(), ["zoom_query", "zoom_key"])
        self._request_input(force_sync=True)
        if head is not None:
            if not isinstance(head, str):
                raise TypeError(f"head must be a head's name such as 'L0H1', got {head!r}")
            if head not in self._heads:
                raise ValueError(
                    f"head must be one of the model's heads {self._heads}, got {head!r}"
                )
            self.head = head
        self._tabs = LazyTabs((MAPS, self._maps_tab), (NUMBERS, self._numbers_tab))

    # -- views -------------------------------------------------------------------------
    def _build_views(self) -> None:
        empty = np.zeros((1, 1, 1, 1))
        self._grid = plots.HeadGrid(
            empty,
            {"entropy (0–1)": np.zeros((1, 1)), "sink α₁": np.zeros((1, 1))},
            title="every head",
            cell_px=100,
        )
        self._grid.on_select(self._tap_head)
        self._head_view = plots.LongHeadView(
            np.zeros((1, 1)), 1, 1, np.zeros((1, 1)), title="the whole input"
        )
        self._head_view.on_pick(self._pick_window)
        pane = dict(sizing_mode="fixed")
        self._grid_pane = pn.pane.Bokeh(self._grid.figure, **pane)
        self._zoom_pane = pn.pane.Bokeh(self._head_view.zoom.figure, **pane)
        self._overview_pane = None  # built with the first input longer than the zoom
        self._maps_box = pn.FlexBox(self._grid_pane, self._zoom_pane, max_width=1120)
        self._zoom_box = pn.Column(margin=0)  # the zoom sliders, for long inputs

    def _maps_tab(self) -> pn.FlexBox:
        return self._maps_box

    def _map_figures(self) -> list:
        """The maps' figures built so far: the model view, the overview (once an input
        longer than the zoom has been shown), the zoom."""
        overview = [self._head_view.figure] if self._head_view.overview_built else []
        return [self._grid.figure, *overview, self._head_view.zoom.figure]

    def _lay_out_long_views(self, long: bool) -> None:
        """Show the overview and the zoom sliders only while the input is longer than the
        zoom (a shorter one is shown whole, token by token, by the zoom): built and sent
        the first time a long input is shown."""
        if long and self._overview_pane is None:
            self._overview_pane = pn.pane.Bokeh(self._head_view.figure, sizing_mode="fixed")
        panes = [self._grid_pane, self._overview_pane, self._zoom_pane]
        shown = [pane for pane in panes if long or pane is not self._overview_pane]
        if self._maps_box.objects != shown:
            self._maps_box.objects = shown
        sliders = list(self._zoom_sliders.values()) if long else []
        if self._zoom_box.objects != sliders:
            self._zoom_box.objects = sliders

    def _show_text_box(self, *_) -> None:
        """The box for your own tokens is on the page only while that input is chosen."""
        boxes = [self._text_input] if self.preset == "your tokens" else []
        if self._text_box.objects != boxes:
            self._text_box.objects = boxes

    def _numbers_tab(self) -> pn.pane.Bokeh:
        """Build the bar chart of every head's numbers, draw the current input on it."""
        if self._numbers is None:
            self._numbers = HeadBars(
                eps=SINK_EPS,
                title=f"entropy and sink α₁ per head (ε = {SINK_EPS}, dashed)",
            )
            self._draw_numbers()
        return pn.pane.Bokeh(self._numbers.figure, sizing_mode="fixed")

    def _draw_numbers(self) -> None:
        if self._numbers is not None and self._analysis is not None:
            self._numbers.update(self._analysis.entropy, self._analysis.sink)

    def _every_figure(self) -> list:
        """Every figure, the bars built if their tab has not been shown (for the download)."""
        self._numbers_tab()
        return [*self._map_figures(), self._numbers.figure]

    # -- inputs ------------------------------------------------------------------------
    def _model_object(self, name: str) -> torch.nn.Module:
        if name in self._extra_models:
            return self._extra_models[name]
        return _lesson_model(name)

    def _input_key(self) -> tuple[tuple, str]:
        """What the analysis depends on, with the length clamped to what the model reads."""
        model = self._model_object(self.model)
        context = _readable(model)
        length = int(np.clip(self.seq_len, 2, context))
        note = ""
        if length != self.seq_len:
            note = f"{self.model} reads at most {context} tokens: showing {length}."
        text = self.text if self.preset == "your tokens" else ""
        return (self.model, self.preset, length, self.seed, text), note

    def _compute(self, key: tuple, model: torch.nn.Module) -> maps.HeadReading | maps.LongReading:
        name, preset, length, seed, text = key
        ids, labels = maps.preset_input(preset, length, _vocab(model), seed, text)
        if length > _held(model):  # never T × T: streamed from q, k and lse
            with one_thread():
                return maps.read_long_heads(
                    model, ids, labels, thumbnail=THUMBNAIL, overview=OVERVIEW
                )
        ids = _model_input(model, ids)
        # one intra-op thread at every length: a long input's attention and entropy run
        # block by block (many mid-sized operations), and on a busy 2-core machine two
        # threads made each of them wait for a descheduled thread (a 4,096-token first
        # render took 6 s instead of 0.8 s); on an idle one they gained under a third
        with one_thread():
            return maps.read_heads(model, ids, labels, thumbnail=THUMBNAIL)

    def _served(self) -> bool:
        document = pn.state.curdoc
        return document is not None and document.session_context is not None

    def _request_input(self, force_sync: bool = False) -> None:
        """Analyse the chosen input (from the cache, now, or in a worker thread)."""
        try:
            key, note = self._input_key()
            if key in self._cache:
                self._cache.move_to_end(key)
                self._show_input(self._cache[key], note)
                return
            model = self._model_object(self.model)
            if not force_sync and key[2] > SYNC_TOKENS and self._served():
                self._compute_in_background(key, note, model)
                return
            self._store(key, self._compute(key, model), note)
        except Exception as error:  # a dashboard never dies on a control value
            self._fail(error)

    def _store(self, key: tuple, analysis: maps.HeadReading | maps.LongReading, note: str) -> None:
        """Keep ``analysis`` (the newest is always kept) and drop the least recently shown
        beyond ``CACHE_SIZE`` readings or ``CACHE_MEGABYTES`` MB, then show it."""
        self._cache[key] = analysis
        self._sizes[key] = nbytes(analysis)
        while len(self._cache) > 1 and (
            len(self._cache) > CACHE_SIZE or sum(self._sizes.values()) > CACHE_MEGABYTES * 1e6
        ):
            dropped, _ = self._cache.popitem(last=False)
            self._sizes.pop(dropped, None)
        self._show_input(analysis, note)

    def _compute_in_background(self, key: tuple, note: str, model: torch.nn.Module) -> None:
        document = pn.state.curdoc
        self._pending = key
        self._status.object = f"computing the maps of {key[2]:,} tokens …"
        self._status.visible = True
        worker_model = copy.deepcopy(model)  # hooks on a private copy: nothing shared

        def work() -> None:
            try:
                result = self._compute(key, worker_model)
            except Exception as error:
                result = error

            def finish() -> None:
                if self._pending != key:  # the user asked for something else meanwhile
                    return
                self._pending = None
                if isinstance(result, Exception):
                    self._fail(result)
                else:
                    self._store(key, result, note)

            try:
                document.add_next_tick_callback(finish)
            except Exception:  # the session ended meanwhile: nobody is waiting for this
                pass

        self._worker = threading.Thread(target=work, name="attnviz-maps", daemon=True)
        self._worker.start()

    def _fail(self, error: Exception) -> None:
        self._status.object = f"Could not show this input: {error}"
        self._status.visible = True

    # -- updates -----------------------------------------------------------------------
    def _show_input(self, analysis: maps.HeadReading | maps.LongReading, note: str = "") -> None:
        self._analysis = analysis
        self._pending = None
        captured = analysis.maps
        names = [
            plots.head_label(layer, head)
            for layer in range(captured.n_layers)
            for head in range(captured.n_heads)
        ]
        self._status.visible = bool(note)
        self._status.object = note
        length = captured.seq_len
        self._busy = True
        try:
            with self._hold():
                self._heads = list(names)  # a copy: the selector appends to its own
                self.param.head.objects = list(names)
                if self.head not in names:  # a model with fewer heads: its last layer's first
                    self.head = plots.head_label(captured.n_layers - 1, 0)
                room = max(0, length - ZOOM)
                # a slider needs end > start (Bokeh's E-1021); with no room to move, the zoom
                # sliders are hidden and the window clipped to the input anyway
                self.param.zoom_query.bounds = (0, max(1, room))
                self.param.zoom_key.bounds = (0, max(1, room))
                self.zoom_query = min(self.zoom_query, room)
                self.zoom_key = min(self.zoom_key, room)
                self._grid.update(
                    analysis.thumbnails,
                    {"entropy (0–1)": analysis.entropy, "sink α₁": analysis.sink},
                    high=_colour_top(analysis.thumbnails),
                )
                self._draw_numbers()
                self._show_head()
        finally:
            self._busy = False
        with self._hold():
            self._lay_out_long_views(length > ZOOM)

    def _selected(self) -> tuple[int, int]:
        layer, head = (int(n) for n in re.fullmatch(r"L(\d+)H(\d+)", self.head).groups())
        return layer, head

    def _head_moved(self) -> None:
        """A head chosen: one of the model's, or a stale value (a browser's select still
        showing the heads of the model before), which moves to the head outlined."""
        heads = self._heads  # a selector not checked on set adds what it is given: not these
        if self.head not in heads:
            selected = self._grid.selected
            outlined = plots.head_label(*selected) if selected is not None else None
            self._busy = True
            try:
                self.head = outlined if outlined in heads else heads[0]
                self.param.head.objects = list(heads)
            finally:
                self._busy = False
        self._show_head()

    def _show_head(self) -> None:
        if self._analysis is None:
            return
        try:
            layer, head = self._selected()
            analysis, length = self._analysis, self._analysis.maps.seq_len
            if isinstance(analysis, maps.LongReading):  # pooled in the streamed pass
                pooled = analysis.overviews[layer, head]
            else:
                weights = analysis.maps.head(layer, head)  # (T, T)
                pooled = maps.downsample(weights, OVERVIEW, reduce="max").values
            with self._hold():
                self._grid.select(layer, head)
                self._head_view.update_overview(pooled, length, length, high=_colour_top(pooled))
                self._head_view.overview_title = f"{self.head} over the whole input"
                self._show_window()
        except Exception as error:
            self._fail(error)

    def _show_window(self) -> None:
        if self._analysis is None:
            return
        try:
            layer, head = self._selected()
            captured = self._analysis.maps
            length = captured.seq_len
            size = min(ZOOM, length)
            q0 = int(np.clip(self.zoom_query, 0, length - size))
            k0 = int(np.clip(self.zoom_key, 0, length - size))
            rows, cols = (q0, q0 + size), (k0, k0 + size)
            if isinstance(self._analysis, maps.LongReading):  # recomputed, exact
                cut = maps.streamed_window(captured, layer, head, rows, cols)
            else:
                cut = maps.window(captured.head(layer, head), rows, cols, tokens=captured.tokens)
            self._head_view.update_window(cut.values, (q0, k0), cut.row_tokens, cut.col_tokens)
            self._head_view.zoom.figure.title.text = (
                f"{self.head}, queries {q0}–{q0 + size - 1} × keys {k0}–{k0 + size - 1}"
            )
            self._write_readout(layer, head)
        except Exception as error:
            self._fail(error)

    def _write_readout(self, layer: int, head: int) -> None:
        analysis = self._analysis
        captured = analysis.maps
        length = captured.seq_len
        if isinstance(analysis, maps.LongReading):
            last = maps.streamed_window(captured, layer, head, (length - 1, length), (0, length))
            last = last.values[0]  # the last query's weights over the keys
        else:
            last = captured.head(layer, head)[-1]  # the last query's weights over the keys
        top = int(np.argmax(last))
        self._readout.object = (
            f"**{self.model}**: {captured.n_layers} layers × {captured.n_heads} heads; "
            f"input *{self.preset}*, **{captured.seq_len} tokens**.  \n"
            f"**{self.head}**: entropy {analysis.entropy_nats[layer, head]:.3f} nats "
            f"({analysis.entropy[layer, head]:.2f} of uniform), "
            f"sink α₁ **{analysis.sink[layer, head]:.3f}**; the last query "
            f"(‘{captured.tokens[-1]}’) looks hardest at position {top} "
            f"(‘{captured.tokens[top]}’), weight **{last[top]:.3f}**."
        )

    # -- taps --------------------------------------------------------------------------
    def _tap_head(self, layer: int, head: int) -> None:
        name = plots.head_label(layer, head)
        if name in self.param.head.objects and name != self.head:
            self.head = name

    def _pick_window(self, query: int, key: int) -> None:
        if self._analysis is None:
            return
        room = max(0, self._analysis.maps.seq_len - ZOOM)
        self.param.update(
            zoom_query=int(np.clip(query - ZOOM // 2, 0, room)),
            zoom_key=int(np.clip(key - ZOOM // 2, 0, room)),
        )

    # -- the Viewer protocol -----------------------------------------------------------
    @property
    def controls(self) -> dict[str, pn.widgets.Widget]:
        """The controls; the zoom sliders count only while the input is longer than the zoom."""
        controls = dict(self._controls)
        if self._analysis is not None and self._analysis.maps.seq_len > ZOOM:
            controls.update(self._zoom_sliders)
        return controls

    @property
    def shown_tokens(self) -> int:
        """Tokens in the input drawn now: ``seq_len``, unless the model reads fewer (0 before
        the first input is shown)."""
        return 0 if self._analysis is None else self._analysis.maps.seq_len

    @property
    def figures(self) -> dict:
        """The figures built so far, by name: ``heads`` and ``zoom`` (tab "attention
        maps"), ``overview`` once an input longer than the zoom has been shown, and
        ``numbers`` once its tab has been."""
        figures = {"heads": self._grid.figure}
        if self._head_view.overview_built:
            figures["overview"] = self._head_view.figure
        figures["zoom"] = self._head_view.zoom.figure
        if self._numbers is not None:
            figures["numbers"] = self._numbers.figure
        return figures

    def wait(self, timeout: float = 120.0) -> None:
        """Block until a background computation (long input, when served) has finished, or
        ``timeout`` seconds (in [0, ``MAX_WAIT``]) have passed."""
        timeout = check_real("timeout", timeout, low=0.0, high=MAX_WAIT)
        if self._worker is not None:
            self._worker.join(timeout)

    def __panel__(self):
        controls = self._control_column(
            self._text_box, self._zoom_box, self._status, self._download
        )
        return pn.Column(self._header(), pn.Row(controls, pn.Column(self._readout, self._tabs)))


def app(**defaults) -> AttentionMapsDashboard:
    """Lesson 02's dashboard, with any parameter preset (e.g. ``app(preset="copy")``).

    Pass ``extra_models={"name": model}`` to add your own models (a TinyTransformer, a
    Hugging Face model, anything ``attnviz.maps.capture`` reads).
    """
    return AttentionMapsDashboard(**defaults)
