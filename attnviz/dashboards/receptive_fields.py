"""Lesson 04's dashboard: receptive fields — how far can a token see after L sparse layers?

Pick a mask from the zoo (``attnviz.kernels.masks``) and its parameters (the inspected
pattern's own sliders sit under its menu), the patterns to compare, a sequence length
and a number of layers. Beside the controls: a readout of the inspected pattern, two
tabs of figures, and the table of every shown pattern: how many layers each needs to
see everything, its holes, α̂ and its coverage at the chosen depth.

* **Reach map**: the map colours every (query, key) pair by the first layer whose output
  carries the key's information to the query (``attnviz.receptive``); long sequences are
  drawn as an overview whose cell is the layer by which its whole tile is reached. The
  strip under it is the last query's row: its grey keys are the holes.
* **Coverage curves**: the share of pairs reached against layers for the patterns
  compared (each at its own parameters: the inspected one at the sliders', the others at
  the values last set for them), on linear or log-log axes (ticking log axes opens it).

A served session sends only what is on screen (issue #13): the coverage tab is built
the first time it is opened, its log-log twin the first time log axes are asked for,
and a pattern's sliders the first time it is inspected; a view built later draws the
current settings.

Every field is computed once for ``MAX_LAYERS`` layers and cached for every session
(``shared_cache``: bounded in entries and bytes), so the layer slider only slices it.
Offset patterns (sliding window, dilated, strided, stride-slash, token-level
PowerAttention) are exact up to ``MAX_TOKENS`` tokens by distance arithmetic; any other
mask is exact by bitsets, up to ``MAX_GENERAL_TOKENS`` here (a longer request is computed
at that length, and the status says so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import panel as pn
import param
from bokeh.layouts import column
from bokeh.models import CustomJSTickFormatter

from attnviz import plots
from attnviz.dashboards.base import CONTROL_WIDTH, Dashboard, _clamp_number
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.kernels.masks import PATTERNS, make_mask
from attnviz.plots import receptive_fields as rf_plots
from attnviz.receptive import ReceptiveField, receptive_field
from attnviz.shared_cache import shared_cache
from attnviz.validation import check_bool, check_choice, check_int, short_repr

MAX_LAYERS = 32  # the layer slider's top; every field is computed this deep
LENGTHS = tuple(2**k for k in range(6, 19))  # 64 ... 262,144 tokens
MAX_TOKENS = LENGTHS[-1]
MAX_GENERAL_TOKENS = 2_048  # masks without an offset form: bitsets, T x T (~0.1 s here)
OVERVIEW = 512  # the reach map's cells per side, at most (exact up to 512 tokens)
STRIP_BINS = 4_096  # the last query's strip, cells at most (exact up to 4,096 keys)
DEFAULT_COMPARE = ("sliding_window", "dilated", "power_attention")
REACH_TAB, COVERAGE_TAB = "Reach map", "Coverage curves"  # the figures' two tabs

# pattern -> {argument: (label, default, low, high)}; a bool default makes a checkbox.
# LongNet's two sliders give segments w0 * 2**i with dilations 2**i, i < levels.
PATTERN_PARAMETERS: dict[str, dict[str, tuple]] = {
    "full": {},
    "causal": {},
    "sliding_window": {
        "window": ("window (keys seen)", 16, 1, 1024),
        "sink_tokens": ("sink tokens", 0, 0, 16),
    },
    "dilated": {
        "window": ("span (distances below)", 32, 1, 1024),
        "rate": ("rate (dilation)", 2, 1, 16),
        "sink_tokens": ("sink tokens", 0, 0, 16),
    },
    "strided": {"stride": ("stride", 16, 1, 256)},
    "fixed": {
        "block": ("block", 16, 1, 256),
        "c": ("summary cells c (≤ block)", 1, 1, 256),
    },
    "longformer": {
        "window": ("window (keys seen)", 16, 1, 1024),
        "global_tokens": ("global tokens", 1, 0, 16),
    },
    "bigbird": {
        "window": ("window (keys seen)", 8, 1, 1024),
        "global_tokens": ("global tokens", 1, 0, 16),
        "random_keys": ("random keys per query", 2, 0, 16),
    },
    "longnet": {
        "segment": ("first segment w₀", 16, 2, 512),
        "levels": ("levels (w₀·2ⁱ, rate 2ⁱ)", 3, 1, 6),
    },
    "stride_slash": {
        "window": ("window (keys seen)", 6, 1, 1024),
        "stride": ("slash stride", 8, 1, 256),
        "sink_tokens": ("sink tokens", 1, 0, 16),
    },
    "power_attention": {  # the sink first: a large block and window would hide it
        "sink_block": ("sink block", False, None, None),
        "window_blocks": ("window (blocks)", 1, 1, 64),
        "block_size": ("block size", 1, 1, 256),
    },
}


def mask_arguments(name: str, values: dict) -> dict:
    """The ``make_mask`` keywords for a pattern's slider values (LongNet's two sliders
    become its lists; ``fixed``'s c is kept within its block). ``values`` sets exactly the
    pattern's parameters (``PATTERN_PARAMETERS``), each within its slider's range."""
    values = _checked_values(name, values)
    if name == "longnet":
        levels = range(int(values["levels"]))
        return {
            "segment_lengths": [int(values["segment"]) << i for i in levels],
            "dilations": [1 << i for i in levels],
        }
    if name == "fixed":
        return {"block": values["block"], "c": min(values["c"], values["block"])}
    return dict(values)


def describe(name: str, values: dict) -> str:
    """A pattern's parameters as a short line for the table (``values`` as for
    ``mask_arguments``)."""
    values = _checked_values(name, values)
    if not values:
        return "—"
    if name == "longnet":
        args = mask_arguments(name, values)
        return f"w = {args['segment_lengths']}, r = {args['dilations']}"
    shown = mask_arguments(name, values)
    return ", ".join(
        f"{key} {'yes' if value is True else 'no' if value is False else value}"
        for key, value in shown.items()
    )


@lru_cache(maxsize=256)
def _effective_length(name: str, params: tuple, seq_len: int) -> int:
    """``seq_len``, or the general-mask cap for a pattern without an offset form."""
    mask = make_mask(name, **mask_arguments(name, dict(params)))
    if mask.distance_rule is None:
        return min(seq_len, MAX_GENERAL_TOKENS)
    return seq_len


def field_of(name: str, params: tuple, seq_len: int) -> ReceptiveField:
    """The pattern's exact receptive field over ``MAX_LAYERS`` layers (cached, read-only).

    ``params`` are the pattern's (argument, value) pairs (``tuple(values.items())``, as for
    ``mask_arguments``); ``seq_len`` is one of ``LENGTHS`` or any length in [1, the
    largest] (a pattern without an offset form: at most ``MAX_GENERAL_TOKENS``)."""
    if not isinstance(params, tuple):
        raise TypeError(f"params must be a tuple of (argument, value) pairs, got {params!r}")
    if not all(isinstance(pair, tuple) and len(pair) == 2 for pair in params):
        raise TypeError(f"params must be a tuple of (argument, value) pairs, got {params!r}")
    _checked_values(name, dict(params), "params")
    seq_len = check_int("seq_len", seq_len, low=1, high=MAX_TOKENS)
    if seq_len > MAX_GENERAL_TOKENS and _effective_length(name, params, seq_len) < seq_len:
        raise ValueError(
            f"seq_len must be at most {MAX_GENERAL_TOKENS} for {name!r}, which has no offset "
            f"form (its field is T x T bitsets), got {seq_len}"
        )
    return _field_of(name, params, seq_len)  # checked first: the cache keys by ==, True == 1


field_of.cache_info = lambda: _field_of.cache_info()
field_of.cache_clear = lambda: _field_of.cache_clear()


@shared_cache(max_entries=48, max_megabytes=64)  # a 2,048-token bitset field: 4.2 MB
def _field_of(name: str, params: tuple, seq_len: int) -> ReceptiveField:
    mask = make_mask(name, **mask_arguments(name, dict(params)))
    with one_thread():  # a dense mask is torch: on a busy machine, threads only wait
        return receptive_field(mask, seq_len, MAX_LAYERS)


@shared_cache(max_entries=48, max_megabytes=24)  # an overview: 0.26 or 0.52 MB
def _overview(name: str, params: tuple, seq_len: int) -> np.ndarray:
    field = field_of(name, params, seq_len)
    if seq_len <= OVERVIEW:
        return field.first_layer
    # each cell: the earliest layer reaching a pair of its tile, so a pattern that skips
    # single keys (dilated) still shows where it reaches; its holes are in the strip
    return field.first_layer_overview(OVERVIEW, reduce="min")


def _layers_text(field: ReceptiveField) -> str:
    """Layers to full coverage, "never" when growth stopped short, "> N" when still growing."""
    full = field.layers_to_full_coverage
    if full is not None:
        return str(full)
    return f"> {field.n_layers}" if field.still_growing else "never"


class ReceptiveFieldsDashboard(Dashboard):
    """The reach of one mask pattern, layer by layer, beside the patterns it is compared with."""

    stem = "receptive_fields"  # its lesson in attnviz.lessons: the title and the slug

    pattern = param.Selector(default="power_attention", objects=list(PATTERNS))
    compare = param.ListSelector(default=list(DEFAULT_COMPARE), objects=list(PATTERNS))
    seq_len = param.Selector(default=512, objects=list(LENGTHS), precedence=-1)  # own slider
    linked_too = ("seq_len",)  # a link sets the length as it sets any control
    layers = param.Integer(default=8, bounds=(1, MAX_LAYERS))
    log_axes = param.Boolean(default=False, label="log axes")

    widget_options = {
        "pattern": {"name": "pattern to inspect"},
        "compare": {"type": pn.widgets.CheckBoxGroup, "name": "patterns to compare"},
        "layers": {"name": "layers"},
        "log_axes": {"name": "log axes (coverage curves)"},
    }

    def __init__(self, pattern_params: dict[str, dict] | None = None, **params):
        """``pattern_params`` presets parameters, e.g. ``{"dilated": {"rate": 3}}``; values
        outside a slider's range are clamped to it. ``seq_len`` moves to the nearest of
        ``LENGTHS`` (NaN, inf: the default); the note is in ``preset_notes``."""
        note = ""
        if "seq_len" in params:
            params["seq_len"], note = _nearest_length(params["seq_len"])
        super().__init__(**params)
        if note:
            self.preset_notes.append(note)
        self._controls["seq_len"] = self._length_slider()
        self._notes: list[str] = []
        self._pattern_values = _preset_values(pattern_params or {})
        # a pattern's sliders are built the first time it is inspected (issue #13)
        self._pattern_widgets: dict[str, dict[str, pn.widgets.Widget]] = {}
        self._status = pn.pane.Alert(
            "", alert_type="warning", visible=False, width=CONTROL_WIDTH - 20
        )
        self._readout = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self._table = pn.pane.Markdown("", margin=(0, 10), width=560)
        self._compare_label = pn.pane.Markdown("patterns to compare", margin=(5, 10, -10, 10))
        # the inspected pattern's own sliders sit under its menu, swapped when it changes
        self._control_column = pn.Column(*self._control_objects(), width=CONTROL_WIDTH)
        mapper = rf_plots.layer_mapper()  # the map and the strip: one scale, one hover
        hover = rf_plots.layer_hover(mapper)
        self._reach = plots.ReachMap(title="reach map", mapper=mapper, hover=hover)
        self._strip = plots.ReachStrip(mapper=mapper, hover=hover)
        self._curves: plots.PatternCurves | None = None  # built with its tab
        self._coverage = pn.Column(margin=0)  # the curves' figures, linear and log-log
        self._fields: dict[str, ReceptiveField] = {}
        self.table_rows: list[dict] = []
        self._update()
        self._tabs = LazyTabs(
            (REACH_TAB, lambda: _pane(column(self._reach.figure, self._strip.figure))),
            (COVERAGE_TAB, self._build_curves),
        )
        self.param.watch(self._show_parameters, ["pattern"])
        self.param.watch(lambda *_: self._update(), ["pattern", "compare", "seq_len"])
        self.param.watch(lambda *_: self._draw(), ["layers"])
        self.param.watch(lambda *_: self._set_log(), ["log_axes"])

    # -- controls ------------------------------------------------------------------------
    def _length_slider(self) -> pn.widgets.IntSlider:
        """The sequence length: a plain slider over the index into ``LENGTHS``, showing the
        length (a ``DiscreteSlider`` is a layout of three widgets: ten times the cost)."""
        slider = pn.widgets.IntSlider(
            label="sequence length (tokens)",
            start=0,
            end=len(LENGTHS) - 1,
            value=LENGTHS.index(self.seq_len),
            format=CustomJSTickFormatter(code=f"return {list(LENGTHS)}[tick].toLocaleString()"),
            tooltips=False,
            width=CONTROL_WIDTH - 20,
        )
        slider.param.watch(lambda event: setattr(self, "seq_len", LENGTHS[event.new]), "value")
        self.param.watch(
            lambda event: setattr(slider, "value", LENGTHS.index(event.new)), "seq_len"
        )
        return slider

    def _widgets_of(self, name: str) -> dict[str, pn.widgets.Widget]:
        """The pattern's own sliders, built the first time they are asked for."""
        if name not in self._pattern_widgets:
            widgets = {}
            for arg, (label, default, low, high) in PATTERN_PARAMETERS[name].items():
                value = self._pattern_values[name][arg]
                if isinstance(default, bool):
                    widget = pn.widgets.Checkbox(label=label, value=value)
                else:
                    widget = pn.widgets.IntSlider(
                        label=label, start=low, end=high, value=value, width=CONTROL_WIDTH - 20
                    )
                widget.param.watch(
                    lambda event, n=name, a=arg: self._parameter_moved(n, a, event.new), "value"
                )
                widgets[arg] = widget
            self._pattern_widgets[name] = widgets
        return self._pattern_widgets[name]

    def _parameter_moved(self, name: str, arg: str, value) -> None:
        self._pattern_values[name][arg] = value
        if name == self.pattern or name in self.compare:
            self._update()

    def _values(self, name: str) -> dict:
        return dict(self._pattern_values[name])

    def pattern_values(self, name: str) -> dict:
        """The parameters set for pattern ``name`` (its sliders' values, whether or not
        they have been built yet), e.g. ``{"window": 32, "rate": 2, "sink_tokens": 0}``."""
        check_choice("name", name, PATTERN_PARAMETERS)
        return self._values(name)

    @property
    def controls(self) -> dict[str, pn.widgets.Widget]:
        """The controls a user moves: the pattern, its own parameters, the patterns to
        compare, length, layers and log axes."""
        controls = {"pattern": self._controls["pattern"]}
        for arg, widget in self._widgets_of(self.pattern).items():
            controls[f"{self.pattern}.{arg}"] = widget
        for name in ("compare", "seq_len", "layers", "log_axes"):
            controls[name] = self._controls[name]
        return controls

    @property
    def compare_widget(self) -> pn.widgets.Widget:
        return self._controls["compare"]

    # -- updates -------------------------------------------------------------------------
    def _shown(self) -> list[str]:
        """The inspected pattern first, then the compared ones."""
        return [self.pattern, *(name for name in self.compare if name != self.pattern)]

    def _update(self) -> None:
        """Compute (or fetch) every shown pattern's field, then draw."""
        self._notes = []
        fields: dict[str, ReceptiveField] = {}
        for name in self._shown():
            try:
                params = tuple(sorted(self._values(name).items()))
                length = _effective_length(name, params, int(self.seq_len))
                if length < self.seq_len:
                    self._notes.append(
                        f"{name} has no offset form: computed exactly at {length:,} tokens "
                        f"(the cap for general masks here), not {self.seq_len:,}."
                    )
                fields[name] = field_of(name, params, length)
                if name == self.pattern:
                    self._overview_now = _overview(name, params, length)
            except Exception as error:  # a dashboard never dies on a control value
                self._notes.append(f"Could not compute {name}: {error}")
        self._fields = fields
        self._draw()

    def _draw(self) -> None:
        try:
            self._draw_views()
        except Exception as error:  # a dashboard never dies on a control value
            self._notes.append(f"Could not draw: {error}")
        self._status.object = "  \n".join(self._notes)
        self._status.visible = bool(self._notes)

    def _draw_views(self) -> None:
        layers = int(self.layers)
        self.table_rows = [self._row(name, field) for name, field in self._fields.items()]
        with self._hold():
            self._draw_curves()
            inspected = self._fields.get(self.pattern)
            if inspected is not None:
                t = inspected.seq_len
                self._reach.update(self._overview_now, t, layers, inspected.causal)
                tile = t // OVERVIEW
                cells = "" if t <= OVERVIEW else f" (a cell: {tile}×{tile} pairs, earliest)"
                self._reach.figure.title.text = f"{self.pattern} · {t:,} tokens{cells}"
                self._strip.update(inspected.last_row_overview(STRIP_BINS), t, layers)
                pooled = "" if t <= STRIP_BINS else f"; a cell: {t // STRIP_BINS} keys"
                self._strip.figure.title.text = (
                    f"last query: first layer per key (grey: never{pooled})"
                )
        self._table.object = self._table_markdown()
        self._readout.object = self._readout_text(layers)

    def _draw_curves(self) -> None:
        """Draw the coverage curves of the fields shown, if their tab has been built."""
        if self._curves is None:
            return
        series = {
            name: (np.arange(field.n_layers + 1), field.coverage)
            for name, field in self._fields.items()
        }
        self._curves.update(series, highlight=self.pattern)
        self._curves.mark(int(self.layers))

    def _build_curves(self) -> pn.Column:
        """The coverage tab, built the first time it is shown, drawing the current state."""
        self._curves = plots.PatternCurves(
            list(PATTERNS),
            title="share of (query, key) pairs reached",
            x_label="layers",
            y_label="coverage",
        )
        try:
            self._draw_curves()
        except Exception as error:  # a dashboard never dies on a control value
            self._notes.append(f"Could not draw: {error}")
        self._curves.set_log(self.log_axes)
        self._coverage.objects = [_pane(fig) for fig in self._curves.figures.values()]
        return self._coverage

    def _set_log(self) -> None:
        """Switch the curves' axes, and show them: log axes are the curves' control."""
        with self._hold():
            if self._curves is not None:
                built = len(self._curves.figures)
                self._curves.set_log(self.log_axes)
                if len(self._curves.figures) > built:  # the log-log twin, built just now
                    self._coverage.append(_pane(self._curves.figures[True]))
            self._tabs.show(COVERAGE_TAB)  # builds the curves on these axes if not yet

    def _row(self, name: str, field: ReceptiveField) -> dict:
        return {
            "pattern": name,
            "parameters": describe(name, self._values(name)),
            "tokens": field.seq_len,
            "layers_to_full": field.layers_to_full_coverage,
            "layers_text": _layers_text(field),
            "holes": int(field.holes.size),
            "gaps": int(field.gaps.size),
            "alpha_1": float(field.theoretical_accuracy(1)),
            "coverage": float(field.coverage[min(int(self.layers), field.n_layers)]),
        }

    def _table_markdown(self) -> str:
        layers = int(self.layers)
        lines = [
            "| pattern | parameters | tokens | layers to see everything | holes (gaps) "
            f"| α̂ at 1 layer | coverage at {layers} |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for row in self.table_rows:
            name = f"**{row['pattern']}**" if row["pattern"] == self.pattern else row["pattern"]
            lines.append(
                f"| {name} | {row['parameters']} | {row['tokens']:,} | {row['layers_text']} "
                f"| {row['holes']:,} ({row['gaps']:,}) | {row['alpha_1']:.4f} "
                f"| {row['coverage']:.4f} |"
            )
        lines.append(
            f"\nholes: keys the last query never sees within {MAX_LAYERS} layers; gaps: holes "
            "between keys it does see. α̂: PowerAttention's share of positions the last one "
            "reaches."
        )
        return "\n".join(lines)

    def _readout_text(self, layers: int) -> str:
        field = self._fields.get(self.pattern)
        if field is None:
            return f"**{self.pattern}**: nothing to show (see the status)."
        t = field.seq_len
        seen = field.reach_of_last(min(layers, field.n_layers)).size
        holes, gaps = field.holes, field.gaps
        hole_text = (
            "no holes"
            if holes.size == 0
            else f"{holes.size:,} keys never (within {MAX_LAYERS}), {gaps.size:,} of them gaps"
        )
        return (
            f"**{self.pattern}** ({describe(self.pattern, self._values(self.pattern))}), "
            f"**{t:,} tokens**: after **{layers}** layers the last query sees "
            f"**{seen:,} of {t:,}** keys, coverage {field.coverage[layers]:.3f}; "
            f"everything after **{_layers_text(field)}** layers; {hole_text}."
        )

    # -- the Viewer protocol -------------------------------------------------------------
    @property
    def fields(self) -> dict[str, ReceptiveField]:
        """The receptive fields drawn now, by pattern name (inspected one first)."""
        return dict(self._fields)

    @property
    def figures(self) -> dict:
        """The figures built so far: the reach map and the strip, and the coverage curves
        (linear or log-log, as shown) once their tab has been opened (``show``)."""
        figures = {"reach": self._reach.figure, "strip": self._strip.figure}
        if self._curves is not None:
            figures["coverage"] = self._curves.figure
        return figures

    def _show_parameters(self, event) -> None:
        """Show the inspected pattern's sliders (built the first time it is inspected)."""
        self._control_column.objects = self._control_objects()

    def _control_objects(self) -> list:
        c = self._controls
        return [
            c["pattern"],
            *self._widgets_of(self.pattern).values(),
            self._compare_label,
            *(c[name] for name in ("compare", "seq_len", "layers", "log_axes")),
            self._status,
        ]

    def __panel__(self):
        figures = pn.FlexBox(self._tabs, self._table, max_width=1040)
        return pn.Column(
            self._header(), pn.Row(self._control_column, pn.Column(self._readout, figures))
        )


def _preset_values(preset: dict) -> dict[str, dict]:
    """Every pattern's parameters: its defaults, overridden by ``preset`` ({pattern:
    {argument: value}}), numbers clamped to their slider's range."""
    if not isinstance(preset, Mapping):
        raise TypeError(
            f"pattern_params must be a dict of {{pattern: {{argument: value}}}}, got {preset!r}"
        )
    unknown = set(preset) - set(PATTERN_PARAMETERS)
    if unknown:
        raise ValueError(
            f"pattern_params names unknown patterns {sorted(unknown)}; "
            f"allowed: {list(PATTERN_PARAMETERS)}"
        )
    values: dict[str, dict] = {}
    for name, spec in PATTERN_PARAMETERS.items():
        given = preset.get(name, {})
        if not isinstance(given, Mapping):
            raise TypeError(
                f"pattern_params[{name!r}] must be a dict of {{argument: value}}, got {given!r}"
            )
        extra = set(given) - set(spec)
        if extra:
            raise ValueError(
                f"pattern_params[{name!r}] has no {sorted(extra)}; allowed: {list(spec)}"
            )
        values[name] = {}
        for arg, (_, default, low, high) in spec.items():
            value = given.get(arg, default)
            where = f"pattern_params[{name!r}][{arg!r}]"
            if isinstance(default, bool):
                values[name][arg] = check_bool(where, value)
            else:
                values[name][arg], _ = _clamp_number(where, value, low, high, default, integer=True)
    return values


def _nearest_length(value) -> tuple[int, str]:
    """``value`` (a number) as the nearest of ``LENGTHS`` on a log scale, and a note."""
    default = ReceptiveFieldsDashboard.param.seq_len.default
    number, _ = _clamp_number("seq_len", value, LENGTHS[0], LENGTHS[-1], default, integer=False)
    nearest = min(LENGTHS, key=lambda n: abs(math.log(n) - math.log(number)))
    if nearest == value:
        return nearest, ""
    return nearest, f"seq_len = {short_repr(value)} is not a length offered: using {nearest}."


def _checked_values(name, values, what: str = "values") -> dict:
    """``values`` of pattern ``name``: exactly its parameters, each in its slider's range."""
    check_choice("name", name, PATTERN_PARAMETERS)
    if not isinstance(values, Mapping):
        raise TypeError(f"{what} must be a dict of {{argument: value}}, got {values!r}")
    spec = PATTERN_PARAMETERS[name]
    if set(values) != set(spec):
        raise ValueError(f"{what} of {name!r} must set exactly {list(spec)}, got {list(values)}")
    checked = {}
    for arg, (_, default, low, high) in spec.items():
        where = f"{what}[{arg!r}]"
        if isinstance(default, bool):
            checked[arg] = check_bool(where, values[arg])
        else:
            checked[arg] = check_int(where, values[arg], low=low, high=high)
    return checked


def _pane(fig) -> pn.pane.Bokeh:
    return pn.pane.Bokeh(fig, sizing_mode="fixed")


def app(**defaults) -> ReceptiveFieldsDashboard:
    """Lesson 04's dashboard, any parameter preset, e.g. ``app(pattern="dilated",
    seq_len=1024, pattern_params={"dilated": {"rate": 3}})``."""
    return ReceptiveFieldsDashboard(**defaults)
