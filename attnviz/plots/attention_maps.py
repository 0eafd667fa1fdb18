"""Lesson 02 (reading attention maps): the model view, the long head view, head numbers.

``HeadGrid`` draws one thumbnail attention map per head, layers down and heads across,
and reports the head tapped; ``LongHeadView`` draws one head over a long sequence, a
downsampled overview of the whole map with a token-by-token zoom of a window;
``HeadBars`` draws two numbers per head (entropy and the sink score) side by side.

Each is built with as few Bokeh models as it draws (issue #13: a served session pays for
every model): images are float32, renderers carry no copies of their glyph, hidden grids
are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.events import Tap
from bokeh.models import (
    BasicTickFormatter,
    BoxAnnotation,
    CDSView,
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    Image,
    Legend,
    LegendItem,
    LinearColorMapper,
    Quad,
    Range1d,
    Span,
    TapTool,
    VBar,
)

from attnviz.plots import _checks
from attnviz.plots.figures import Heatmap, _fit_cells, _matrix_figure, _top, head_label
from attnviz.plots.theme import (
    PALETTE,
    SCORE_COLORS,
    SELECTED_COLOR,
    _label_ticks,
    drop_unused,
    palette_mapper,
    slim,
    themed_figure,
)

ZOOM_TICK_LABELS = 40  # the zoom labels every token of a window this wide
MAX_CELL_PX = 400  # the largest thumbnail a HeadGrid draws, in pixels
MAX_POSITIONS = 2**24  # the longest axis a LongHeadView's overview spans, in tokens


def _callback(name: str, callback) -> None:
    if not callable(callback):
        raise TypeError(f"{name} must be callable, got {callback!r}")


def _scores(scores, n_layers: int, n_heads: int) -> dict[str, np.ndarray] | None:
    """None, or {name: (layers, heads) finite scores}, each of the thumbnails' grid."""
    if scores is None:
        return None
    checked = {}
    for name, array in _checks.mapping("scores", scores).items():
        array = _checks.values(f"scores[{name!r}]", array, nan_ok=True)
        if array.size != n_layers * n_heads:
            raise ValueError(
                f"scores[{name!r}] must hold one score per head, shape ({n_layers}, {n_heads}), "
                f"got shape {array.shape}"
            )
        checked[str(name)] = array
    return checked


def _image_glyph(fig, source: ColumnDataSource, mapper: LinearColorMapper):
    """An image renderer reading image, x, y, dw and dh of ``source``, with no glyph copies."""
    glyph = Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=mapper)
    return fig.add_glyph(source, glyph)


def _grid_ticks(axis, n: int, prefix: str) -> None:
    """Ticks at the centres of n unit cells, labelled prefix + index (L0, L1, ...)."""
    if not isinstance(axis.ticker, FixedTicker):
        axis.ticker = FixedTicker(ticks=[])
    ticks = [i + 0.5 for i in range(n)]
    overrides = {tick: f"{prefix}{i}" for i, tick in enumerate(ticks)}
    if axis.ticker.ticks != ticks:
        axis.ticker.ticks = ticks
    if axis.major_label_overrides != overrides:
        axis.major_label_overrides = overrides


class HeadGrid:
    """The model view: one small attention map per head, layers down, heads across.

    Thumbnails are drawn as images in a single figure, so a 12 x 12 grid is still
    one canvas. Each thumbnail sits in the unit cell [head, head + 1) x [layer,
    layer + 1); a transparent box over it carries the hover (layer, head and any
    per-head scores given) and the selection: tapping a thumbnail selects its box.
    ``selected`` reads the (layer, head) chosen and ``on_select`` calls back with it,
    so a dashboard can enlarge that head; the selection lives in
    ``boxes.selected.indices``, which Bokeh syncs with the browser.

    Thumbnails are passed ready to draw (for long sequences, already downsampled,
    for example with ``attnviz.maps.downsample``); this class only draws them.
    """

    GAP = 0.12  # fraction of a cell left blank between thumbnails

    def __init__(
        self,
        thumbnails: np.ndarray,
        scores: Mapping[str, np.ndarray] | None = None,
        *,
        title: str = "every head (tap one to enlarge it)",
        cell_px: int = 76,
        **figure_kwargs,
    ) -> None:
        thumbnails = _checks.values("thumbnails", thumbnails, ndim=4, nan_ok=True)
        n_layers, n_heads = thumbnails.shape[:2]
        scores = _scores(scores, n_layers, n_heads)
        self._score_names = list(scores or {})
        self.cell_px = cell_px = _checks.check_int("cell_px", cell_px, low=1, high=MAX_CELL_PX)
        self.mapper = palette_mapper(PALETTE, low=0.0, high=1.0)
        self.images = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.boxes = ColumnDataSource(data=self._box_data(n_layers, n_heads, scores))
        options = dict(
            width=max(220, 70 + cell_px * n_heads),
            height=max(160, 70 + cell_px * n_layers),
            x_range=Range1d(0, n_heads),
            y_range=Range1d(n_layers, 0),  # layer 0 at the top
            tools="tap,save",
            title=title,
        )
        options.update(figure_kwargs)
        self.figure = fig = themed_figure(**options)
        fig.grid.visible = False
        fig.xaxis.axis_label = "head"
        fig.yaxis.axis_label = "layer"
        fig.xaxis.major_tick_line_color = None
        fig.yaxis.major_tick_line_color = None
        _image_glyph(fig, self.images, self.mapper)
        outline = dict(left="left", right="right", top="top", bottom="bottom", fill_color=None)
        self.box_renderer = fig.add_glyph(
            self.boxes,
            Quad(**outline, line_color="#bbbbbb", line_width=1),
            # the tapped head is outlined; the others keep their outline (BokehJS's own
            # copy for unselected boxes only fades a fill, and there is none)
            selection_glyph=Quad(**outline, line_color=SELECTED_COLOR, line_width=3),
        )
        tooltips = [("head", "@label")] + [(n, f"@{{{n}}}{{0.000}}") for n in self._score_names]
        fig.add_tools(HoverTool(renderers=[self.box_renderer], tooltips=tooltips))
        fig.select_one(TapTool).renderers = [self.box_renderer]
        drop_unused(fig)
        self.update(thumbnails, scores)

    def _box_data(self, n_layers: int, n_heads: int, scores) -> dict:
        layers, heads = np.divmod(np.arange(n_layers * n_heads), n_heads)
        inset = self.GAP / 2
        data = dict(
            left=heads + inset,
            right=heads + 1 - inset,
            top=layers + inset,
            bottom=layers + 1 - inset,
            layer=layers,
            head=heads,
            label=[head_label(int(la), int(he)) for la, he in zip(layers, heads, strict=True)],
        )
        for name in self._score_names:
            data[name] = np.asarray(scores[name], dtype=np.float64).ravel()
        return data

    @property
    def shape(self) -> tuple[int, int]:
        """(layers, heads) drawn now."""
        return int(self.figure.y_range.start), int(self.figure.x_range.end)

    def update(
        self,
        thumbnails: np.ndarray,
        scores: Mapping[str, np.ndarray] | None = None,
        *,
        high: float | None = None,
    ) -> None:
        """Draw new thumbnails, shape (layers, heads, rows, cols), and per-head scores.

        ``high`` is the weight drawn in the brightest colour (default: the largest);
        larger weights are drawn in that colour too.
        """
        thumbnails = _checks.values("thumbnails", thumbnails, nan_ok=True)
        if thumbnails.ndim != 4:
            raise ValueError(
                f"thumbnails must have shape (layers, heads, rows, cols), got {thumbnails.shape}"
            )
        thumbnails = thumbnails.astype(np.float32)  # half the bytes of float64
        n_layers, n_heads, _, _ = thumbnails.shape
        scores = _scores(scores, n_layers, n_heads)
        high = _checks.optional_real("high", high, low=0.0, low_open=True)
        if scores is not None and set(scores) != set(self._score_names):
            raise ValueError(
                f"scores must name {self._score_names} as when the grid was built, "
                f"got {sorted(scores)}"
            )
        self.mapper.high = _top(thumbnails, high)
        inset = self.GAP / 2
        size = 1 - self.GAP
        layers, heads = np.divmod(np.arange(n_layers * n_heads), n_heads)
        self.images.data = dict(
            image=[thumbnails[la, he] for la, he in zip(layers, heads, strict=True)],
            x=heads + inset,
            y=layers + inset,  # the y range is flipped: row 0 of each image at its top
            dw=np.full(layers.size, size),
            dh=np.full(layers.size, size),
        )
        if (n_layers, n_heads) != self.shape or scores is not None:
            selected = self.selected
            self.boxes.data = self._box_data(n_layers, n_heads, scores)
            if selected is not None and (selected[0] >= n_layers or selected[1] >= n_heads):
                self.boxes.selected.indices = []
        self.figure.x_range.update(start=0, end=n_heads)
        self.figure.y_range.update(start=n_layers, end=0)
        _fit_cells(self.figure, n_layers, n_heads, self.cell_px, (220, 160), (70, 70))
        _grid_ticks(self.figure.xaxis[0], n_heads, "H")
        _grid_ticks(self.figure.yaxis[0], n_layers, "L")

    @property
    def selected(self) -> tuple[int, int] | None:
        """The (layer, head) tapped last, or None."""
        indices = self.boxes.selected.indices
        if not indices:
            return None
        index = int(indices[0])
        return int(self.boxes.data["layer"][index]), int(self.boxes.data["head"][index])

    def select(self, layer: int | None, head: int | None = None) -> None:
        """Outline one head's thumbnail (``select(None)`` clears the selection)."""
        if layer is None:
            if head is not None:
                raise ValueError(f"head must be None when layer is None, got {head!r}")
            indices = []
        else:
            layer = _checks.check_int("layer", layer)
            n_layers, n_heads = self.shape
            within = f"(layer, head) must be within ({n_layers}, {n_heads})"
            if not 0 <= layer < n_layers:
                raise ValueError(f"{within}, got ({layer}, {head!r})")
            head = _checks.check_int("head", head)
            if not 0 <= head < n_heads:
                raise ValueError(f"{within}, got ({layer}, {head})")
            indices = [layer * n_heads + head]
        if list(self.boxes.selected.indices) != indices:
            self.boxes.selected.indices = indices

    def on_select(self, callback) -> None:
        """Call ``callback(layer, head)`` whenever a thumbnail is tapped (in the browser too)."""
        _callback("callback", callback)

        def changed(attr, old, new) -> None:
            chosen = self.selected
            if chosen is not None:
                callback(*chosen)

        self.boxes.selected.on_change("indices", changed)


class LongHeadView:
    """One head over a long sequence: an overview of the whole map and a token-level zoom.

    The overview is one image of a downsampled matrix (each pixel the mean weight of
    a block of queries x keys), drawn over the true token positions, so 4,096
    tokens cost no more than 64. A box marks the zoom window; the zoom draws that
    window cell by cell with the tokens on its axes, and hovering a cell shows the
    query token, the key token and the weight. Tap the overview to move the window
    (a dashboard listens with ``on_pick``).

    The overview figure is built the first time ``figure`` is read, and draws the map
    given last: a dashboard that shows it only for inputs longer than the zoom never
    builds (nor sends) it for short ones (issue #13). ``overview_built`` tells whether it
    has been; ``zoom`` is built at once.
    """

    def __init__(
        self,
        overview: np.ndarray,
        n_queries: int,
        n_keys: int,
        window: np.ndarray,
        window_start: tuple[int, int] = (0, 0),
        query_tokens: Sequence[str] | None = None,
        key_tokens: Sequence[str] | None = None,
        *,
        title: str = "the whole map",
        zoom_title: str = "zoom: token by token",
        **figure_kwargs,
    ) -> None:
        self.mapper = palette_mapper(PALETTE, low=0.0, high=1.0)
        self.image = ColumnDataSource(data=dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.window_box = BoxAnnotation(
            left=0,
            right=1,
            top=0,
            bottom=1,
            fill_alpha=0.0,
            line_color=SELECTED_COLOR,
            line_width=2,
        )
        # the window may be a few pixels wide on a long input: cross-hairs find it
        self.crosshair = [
            Span(dimension=dim, line_color=SELECTED_COLOR, line_alpha=0.6, line_dash="dotted")
            for dim in ("width", "height")
        ]
        self._overview_options = dict(title=title, figure_kwargs=figure_kwargs)
        self._overview = None
        self._pick_callbacks: list = []
        self.zoom = Heatmap(
            np.zeros((1, 1)),
            title=zoom_title,
            x_label="key token",
            y_label="query token",
            width=480,
            height=480,
            max_tick_labels=ZOOM_TICK_LABELS,
            image=False,  # a window of at most 40 x 40 tokens: always cells, with tokens
        )
        zoom = drop_unused(slim(self.zoom.figure))
        zoom.xaxis.major_label_orientation = np.pi / 2  # up to 40 labels side by side
        for axis in (*zoom.xaxis, *zoom.yaxis):
            axis.major_label_text_font_size = "9px"
        self.update(overview, n_queries, n_keys, window, window_start, query_tokens, key_tokens)

    @property
    def overview_built(self) -> bool:
        """Whether the overview figure has been built (the first read of ``figure``)."""
        return self._overview is not None

    @property
    def overview_title(self) -> str:
        """The overview's title (set it before the overview is built, or after)."""
        return self._overview_options["title"]

    @overview_title.setter
    def overview_title(self, text: str) -> None:
        self._overview_options["title"] = text
        if self._overview is not None:
            self._overview.title.text = text

    @property
    def figure(self):
        """The overview figure, built the first time it is read."""
        if self._overview is None:
            self._overview = self._build_overview(**self._overview_options)
        return self._overview

    def _build_overview(self, title: str, figure_kwargs: dict):
        fig = _matrix_figure(
            title,
            "key position",
            "query position",
            tools="tap,pan,wheel_zoom,reset,save",
            width=340,
            height=320,
            figure_kwargs=figure_kwargs,
        )
        self.picture = _image_glyph(fig, self.image, self.mapper)
        fig.add_tools(
            HoverTool(
                renderers=[self.picture],
                tooltips=[
                    ("query ≈", "$y{0}"),
                    ("key ≈", "$x{0}"),
                    ("mean weight in block", "@image{0.0000}"),
                ],
            )
        )
        fig.add_layout(self.window_box)
        for span in self.crosshair:
            fig.add_layout(span)
        fig.x_range.update(start=0, end=self.n_keys)
        fig.y_range.update(start=self.n_queries, end=0)
        for callback in self._pick_callbacks:
            fig.on_event(Tap, callback)
        return drop_unused(fig)

    @property
    def figures(self) -> dict:
        """Both figures (the overview is built if it has not been)."""
        return {"overview": self.figure, "zoom": self.zoom.figure}

    def update(
        self,
        overview: np.ndarray,
        n_queries: int,
        n_keys: int,
        window: np.ndarray,
        window_start: tuple[int, int] = (0, 0),
        query_tokens: Sequence[str] | None = None,
        key_tokens: Sequence[str] | None = None,
        *,
        high: float | None = None,
    ) -> None:
        """Show a new map.

        Args:
            overview: (rows, cols) block means of the (n_queries, n_keys) weights.
            window: the exact weights of the zoom, (w_q, w_k), starting at
                ``window_start`` = (first query, first key).
            query_tokens, key_tokens: the tokens of the window's rows and columns
                (labels are prefixed with their positions).
            high: the overview's brightest mean weight (default: its largest).
        """
        self.update_overview(overview, n_queries, n_keys, high=high)
        self.update_window(window, window_start, query_tokens, key_tokens)

    def update_overview(
        self, overview: np.ndarray, n_queries: int, n_keys: int, *, high: float | None = None
    ) -> None:
        """``overview``: finite block means, 2-D, over (``n_queries``, ``n_keys``) positions
        (each in [1, ``MAX_POSITIONS``]); ``high``: the mean weight drawn brightest
        (default: the largest)."""
        overview = _checks.values("overview", overview, nan_ok=True)
        if overview.ndim != 2:
            raise ValueError(f"overview must be a 2-D array, got shape {overview.shape}")
        overview = overview.astype(np.float32)  # half the bytes of float64
        n_queries = _checks.check_int("n_queries", n_queries, low=1, high=MAX_POSITIONS)
        n_keys = _checks.check_int("n_keys", n_keys, low=1, high=MAX_POSITIONS)
        high = _checks.optional_real("high", high, low=0.0, low_open=True)
        self.mapper.high = _top(overview, high)
        # the y range is flipped, so anchoring at y=0 puts row 0 (query 0) at the top
        self.image.data = dict(image=[overview], x=[0], y=[0], dw=[n_keys], dh=[n_queries])
        self.n_queries, self.n_keys = int(n_queries), int(n_keys)
        if self._overview is not None:
            self._overview.x_range.update(start=0, end=n_keys)
            self._overview.y_range.update(start=n_queries, end=0)

    def update_window(
        self,
        window: np.ndarray,
        window_start: tuple[int, int] = (0, 0),
        query_tokens: Sequence[str] | None = None,
        key_tokens: Sequence[str] | None = None,
    ) -> None:
        """Draw ``window`` (finite weights, 2-D, at most ``MAX_RECT_CELLS`` cells) cell by
        cell, its first query and key at ``window_start`` (two integers >= 0), with one token
        per row (``query_tokens``) and per column (``key_tokens``)."""
        window = _checks.values("window", window, ndim=2, nan_ok=True)
        if isinstance(window_start, (str, bytes)) or not isinstance(
            window_start, (tuple, list, np.ndarray)
        ):
            raise TypeError(f"window_start must be (first query, first key), got {window_start!r}")
        if len(window_start) != 2:
            raise ValueError(
                f"window_start must be (first query, first key), got {len(window_start)} values"
            )
        q0, k0 = (
            _checks.check_int("window_start", v, low=0, high=MAX_POSITIONS) for v in window_start
        )
        w_q, w_k = window.shape
        queries = _checks.labels("query_tokens", query_tokens, w_q) or [""] * w_q
        keys = _checks.labels("key_tokens", key_tokens, w_k) or [""] * w_k
        self.zoom.update(
            window,
            [f"{q0 + i} {t}".rstrip() for i, t in enumerate(queries)],
            [f"{k0 + j} {t}".rstrip() for j, t in enumerate(keys)],
        )
        self.window_box.update(left=k0, right=k0 + w_k, top=q0, bottom=q0 + w_q)
        self.crosshair[0].location = q0 + w_q / 2
        self.crosshair[1].location = k0 + w_k / 2
        partial = w_q < getattr(self, "n_queries", 0) or w_k < getattr(self, "n_keys", 0)
        for span in self.crosshair:
            span.visible = partial  # a window showing the whole map needs no marker
        self.window_start = (q0, k0)

    def on_pick(self, callback) -> None:
        """Call ``callback(query, key)`` with the token position tapped on the overview."""
        _callback("callback", callback)

        def picked(event) -> None:
            if event.x is None or event.y is None:
                return
            if not (np.isfinite(event.x) and np.isfinite(event.y)):
                return
            callback(int(np.floor(event.y)), int(np.floor(event.x)))

        self._pick_callbacks.append(picked)
        if self._overview is not None:
            self._overview.on_event(Tap, picked)


class HeadBars:
    """Two numbers per head side by side, on one 0–1 axis: the entropy of its attention
    (1 = spread evenly) and its first-token sink score α₁, with the sink threshold ε.

    One source holds every column and both bar series share one view, so the figure
    costs one renderer's models more than a single bar chart. ``update`` takes the two
    (layers, heads) arrays; hovering a head shows both numbers.
    """

    NAMES = ("entropy (1 = spread evenly)", "first-token sink α₁")
    OFFSET = 0.2  # each series' bars sit this far left / right of the head's position

    def __init__(self, *, eps: float, title: str = "entropy and sink per head", **figure_kwargs):
        """``eps``: the sink threshold drawn dashed, in [0, 1]."""
        eps = _checks.check_real("eps", eps, low=0.0, high=1.0)
        options = dict(title=title, width=420, height=300, tools="save", y_range=Range1d(0, 1.05))
        options.update(figure_kwargs)
        self.least_width = options["width"]
        self.figure = fig = themed_figure(**options)
        fig.xaxis.axis_label = "head"
        fig.yaxis.axis_label = "entropy, α₁"
        fig.yaxis.formatter = BasicTickFormatter(use_scientific=False)
        fig.xaxis.major_label_orientation = 0.8
        fig.xgrid.visible = False
        self.source = ColumnDataSource(
            data=dict(x=[], left=[], right=[], label=[], entropy=[], sink=[])
        )
        view = CDSView()
        self.bars = [
            fig.add_glyph(
                self.source,
                VBar(x=x, top=column, width=2 * self.OFFSET, fill_color=color, line_color=None),
                view=view,
            )
            for x, column, color in (
                ("left", "entropy", SCORE_COLORS[0]),
                ("right", "sink", SCORE_COLORS[1]),
            )
        ]
        self.threshold = Span(
            location=eps, dimension="width", line_color="#666", line_dash="dashed"
        )
        fig.add_layout(self.threshold)
        legend = Legend(
            items=[
                LegendItem(label=name, renderers=[bars])
                for name, bars in zip(self.NAMES, self.bars, strict=True)
            ],
            orientation="horizontal",
            label_text_font_size="11px",
            click_policy="hide",
            border_line_color=None,
            margin=4,
            padding=2,
        )
        fig.add_layout(legend, "below")  # bars reach the top: the legend goes under them
        fig.add_tools(
            HoverTool(
                renderers=self.bars[:1],
                tooltips=[("head", "@label"), ("entropy", "@entropy{0.000}"),
                          ("sink α₁", "@sink{0.000}")],
            )
        )  # fmt: skip
        drop_unused(fig)

    def update(self, entropy: np.ndarray, sink: np.ndarray) -> None:
        """Draw every head's entropy (0–1) and sink score α₁, both (layers, heads), finite."""
        entropy = _checks.values("entropy", entropy, nan_ok=True)
        sink = _checks.values("sink", sink, nan_ok=True)
        if entropy.ndim != 2 or entropy.shape != sink.shape:
            raise ValueError(
                f"entropy and sink must be (layers, heads) of one shape, got "
                f"{entropy.shape} and {sink.shape}"
            )
        layers, heads = np.divmod(np.arange(entropy.size), entropy.shape[1])
        x = np.arange(entropy.size, dtype=np.float64)
        labels = [head_label(int(la), int(he)) for la, he in zip(layers, heads, strict=True)]
        self.source.data = dict(
            x=x,
            left=x - self.OFFSET,
            right=x + self.OFFSET,
            label=labels,
            entropy=entropy.ravel(),
            sink=sink.ravel(),
        )
        width = max(self.least_width, 80 + 26 * entropy.size)  # room for every head's label
        if self.figure.width != width:
            self.figure.width = width
        _label_ticks(self.figure.xaxis[0], entropy.size, labels, max_labels=32)
