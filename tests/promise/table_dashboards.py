"""Table entries for the dashboards area (see promise.table): ``attnviz.dashboards`` and
``attnviz.plots``.

Dashboard constructors *clamp* (``attnviz.dashboards.base.clamp_params``): a number out of
a control's range, however large (10**400, ±inf, NaN), is a probe that must not crash, and
only a wrong type (None, a string, a bool, an object) must be refused by name; that is the
``Clamped`` kind. Constructors take ~50 ms, so dashboard entries sweep a few arguments each.
Figures check their data at the door: shapes, label counts, empty mappings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

from .kinds import (
    HUGE,
    INF,
    NAN,
    OBJECT,
    Bool,
    Choice,
    Entry,
    Fixed,
    Int,
    Kind,
    Optional,
    Real,
    Receiver,
    Tensor,
    Text,
)

DASHBOARD = dict(examples=3)  # a constructor takes ~50 ms: few valid draws


@dataclass(frozen=True)
class Clamped(Kind):
    """A dashboard setting with a slider's range: out-of-range numbers are clamped."""

    low: float
    high: float
    integer: bool = False

    def valid(self, dims):
        if self.integer:
            return st.integers(int(self.low), int(self.high))
        return st.floats(self.low, self.high, allow_nan=False)

    def edges(self, dims):
        return [self.low, self.high]

    def probes(self, dims):  # clamped to the range (NaN, inf: the default), never a crash
        return [self.low - 1, self.high + 1, HUGE, -HUGE, NAN, INF, -INF]

    def hostile(self, dims):
        values = [None, OBJECT, "3", True]
        return values + [2.5] if self.integer else values + [complex(1, 1)]


@dataclass(frozen=True)
class Labels(Kind):
    """One label per index of the shape symbol ``symbol`` (a list of strings)."""

    symbol: str

    def valid(self, dims):
        n = dims.sizes[self.symbol]
        return st.just([f"t{i}" for i in range(n)])

    def hostile(self, dims):
        n = dims.sizes[self.symbol]
        return [OBJECT, "abc", 3, [f"t{i}" for i in range(n + 1)]]


def _has_nan(value) -> bool:
    return (
        isinstance(value, torch.Tensor)
        and value.device.type != "meta"
        and not value.is_complex()
        and bool(torch.isnan(value).any())
    )


@dataclass(frozen=True)
class MapTensor(Tensor):
    """Values drawn as a map: NaN is a cell with no value, drawn grey (a probe: lesson 04
    draws the pairs never reached so); inf is refused."""

    def hostile(self, dims):
        return [value for value in super().hostile(dims) if not _has_nan(value)]

    def probes(self, dims):
        return [*super().probes(dims), self._make(dims, fill=NAN)]


def _lazy(module: str, name: str):
    """The object ``module.name``, imported when first called (the table imports fast)."""

    def get():
        import importlib

        return getattr(importlib.import_module(module), name)

    return get


def _make(module: str, name: str, *args, **kwargs):
    return lambda: _lazy(module, name)()(*args, **kwargs)


D = "attnviz.dashboards"
P = "attnviz.plots"


# --------------------------------------------------------------------------- dashboards


def _mha():
    torch.manual_seed(0)
    return torch.nn.MultiheadAttention(8, 2, batch_first=True)


def _tiny():
    from attnviz import models

    return models.TinyTransformer(
        models.TinyConfig(vocab_size=16, d_model=16, n_heads=2, n_layers=1, context=64), seed=0
    )


def _capacity():
    from attnviz.dashboards import associative_memory

    return associative_memory.sweep(4, 8, "hebbian", "random", "mse")


def _lesson(stem: str):
    def get():
        from attnviz.lessons import lesson

        return lesson(stem)

    return get


def _tabs():
    return (("one", lambda: "first"), ("two", lambda: "second"))


AM = f"{D}.associative_memory"
AMAPS = f"{D}.attention_maps"
RF = f"{D}.receptive_fields"
AMD = _make(AM, "AssociativeMemoryDashboard")
MAPS_D = _make(AMAPS, "AttentionMapsDashboard")
HJ_D = _make(f"{D}.head_jobs", "HeadJobsDashboard")
RF_D = _make(RF, "ReceptiveFieldsDashboard")
SOFT_D = _make(f"{D}.soft_lookup", "SoftLookupDashboard")
FK_D = _make(f"{D}.fast_kernels", "FastKernelsDashboard")
AS_D = _make(f"{D}.attention_sinks", "AttentionSinksDashboard")
SINK_WINDOW = Fixed((lambda: 4, lambda: 32), bad=(None, OBJECT, 5, "4", 4.5, True))

RULES = ("hebbian", "delta")
KEYS = ("random", "orthogonal")
CRITERIA = ("mse", "worst", "top1")
PATTERN_NAMES = (
    "full", "causal", "sliding_window", "dilated", "strided", "fixed", "longformer",
    "bigbird", "longnet", "stride_slash", "power_attention",
)  # fmt: skip
VALUES = Fixed(
    (lambda: {"window": 8, "rate": 2, "sink_tokens": 0},),
    bad=(None, OBJECT, "window", {"window": OBJECT}, {"window": NAN}, {"window": HUGE}),
)
PRESET_PARAMS = Optional(
    Fixed(
        (lambda: {"dilated": {"rate": 3}}, lambda: {}),
        bad=(OBJECT, "dilated", {"dilated": OBJECT}, {"nope": {}}, {"dilated": {"rate": "x"}}),
    )
)

DASHBOARD_ENTRIES: list[Entry] = [
    Entry(
        f"{AM}.n_grid",
        {"n_max": Int(1, 10**6, typical=(1, 300)), "d_k": Int(1, 10**6, typical=(1, 64))},
    ),
    Entry(
        f"{AM}.sweep",
        {
            "d_k": Int(2, 128, typical=(2, 8)),
            "n_max": Int(2, 256, typical=(2, 12)),
            "rule": Choice(RULES),
            "keys": Choice(KEYS),
            "criterion": Choice(CRITERIA),
        },
        examples=5,
    ),  # fmt: skip
    Entry(
        f"{AM}.collapse",
        {"rule": Choice(RULES), "keys": Choice(KEYS), "criterion": Choice(CRITERIA)},
        examples=4,
    ),
    Entry(f"{AM}.predicted", {"result": Fixed((_capacity,), bad=(None, OBJECT, 3))}),
    Entry(
        f"{AM}.recording",
        {"d_k": Int(4, 16), "n_items": Int(1, 48, typical=(1, 12)), "rule": Choice(RULES)},
        examples=5,
    ),
    Entry(
        f"{AM}.AssociativeMemoryDashboard",
        {
            "d_k": Clamped(2, 128, True),
            "t": Clamped(0, 24, True),
            "beta": Clamped(0.01, 1.0),
            "rule": Choice(RULES),
            "schedule": Text(("20 A+", "10 AX+ / 5 A-")),
        },
        **DASHBOARD,
    ),  # fmt: skip
    Entry(
        f"{AM}.app",
        {"lam": Clamped(0.0, 2.0), "experiment": Choice(("blocking", "extinction"))},
        **DASHBOARD,
    ),
    Entry(
        f"{AMAPS}.AttentionMapsDashboard",
        {
            "seq_len": Clamped(2, 65_536, True),
            "seed": Clamped(0, 99, True),
            "extra_models": Optional(
                Fixed(
                    (lambda: {"mha": _mha()}, lambda: {"tiny": _tiny()}),
                    bad=(OBJECT, "mha", {"mha": OBJECT}, {3: _mha()}),
                )
            ),
            "preset": Choice(("repeated tokens", "copy")),
        },
        **DASHBOARD,
    ),  # fmt: skip
    Entry(
        f"{AMAPS}.AttentionMapsDashboard.wait",
        {"dashboard": Receiver(MAPS_D), "timeout": Real(0.0, 3600.0, typical=(0.0, 1.0))},
        call=lambda dashboard, timeout: dashboard.wait(timeout),
        **DASHBOARD,
    ),
    Entry(f"{AMAPS}.app", {"seq_len": Clamped(2, 65_536, True)}, **DASHBOARD),
    Entry(f"{D}.base.Dashboard", {}, **DASHBOARD),
    Entry(
        f"{D}.base.Dashboard.show_tab",
        {
            "dashboard": Receiver(SOFT_D),
            "title": Text(("kernel regression", "dot-product attention")),
        },
        call=lambda dashboard, title: dashboard.show_tab(title),
        **DASHBOARD,
    ),
    Entry(
        f"{D}.base.clamp_params",
        {
            "dashboard_class": Fixed(
                (_lazy(f"{D}.soft_lookup", "SoftLookupDashboard"),),
                bad=(None, OBJECT, 3, "SoftLookupDashboard"),
            ),
            "params": Fixed(
                (lambda: {"bandwidth": 9.0, "n_points": HUGE}, lambda: {"noise": NAN}, dict),
                bad=(None, OBJECT, "bandwidth"),
            ),
        },
        positional=("dashboard_class", "params"),
    ),  # fmt: skip
    Entry(
        f"{D}.dsf.DSFDashboard",
        {
            "T": Clamped(8, 96, True),
            "step": Clamped(0.0, 95.0),  # fitted to 0..T-1; a fraction is truncated
            "gate_bias": Clamped(-4.0, 8.0),
            "normalize": Bool(),
            "feature_map": Choice(("elu_plus_one", "relu")),
            "kinds": Fixed((lambda: ["softmax", "s6"], list), bad=(None, OBJECT, "softmax")),
        },
        **DASHBOARD,
    ),  # fmt: skip
    Entry(f"{D}.dsf.app", {"d": Clamped(4, 16, True)}, **DASHBOARD),
    Entry(
        f"{D}.fast_kernels.FastKernelsDashboard",
        {
            "seq_len": Clamped(2, 64, True),
            "block_size": Clamped(1, 64, True),
            "query": Clamped(0, 63, True),  # fitted to 0..T-1
            "decay": Clamped(0.5, 1.0),
            "causal": Bool(),
        },
        **DASHBOARD,
    ),
    Entry(
        f"{D}.fast_kernels.FastKernelsDashboard.wait",
        {"dashboard": Receiver(FK_D), "timeout": Real(0.0, 600.0, typical=(0.0, 0.5))},
        call=lambda dashboard, timeout: dashboard.wait(timeout),
        **DASHBOARD,
    ),
    Entry(f"{D}.fast_kernels.app", {"chunk_size": Clamped(1, 64, True)}, **DASHBOARD),
    Entry(
        f"{D}.attention_sinks.AttentionSinksDashboard",
        {
            "layer": Clamped(0, 3, True),
            "head": Clamped(0, 3, True),
            "window": SINK_WINDOW,
            "sink": Bool(),
        },
        **DASHBOARD,
    ),
    Entry(
        f"{D}.attention_sinks.AttentionSinksDashboard.loss",
        {"dashboard": Receiver(AS_D), "sink": Optional(Bool())},
        call=lambda dashboard, sink: dashboard.loss(sink),
        **DASHBOARD,
    ),
    Entry(f"{D}.attention_sinks.app", {"window": SINK_WINDOW}, **DASHBOARD),
    Entry(
        f"{D}.attention_sinks.cache_policy",
        {"window": Int(1, 2**16, typical=(1, 64)), "sink": Bool()},
        positional=("window", "sink"),
    ),
    Entry(
        f"{D}.head_jobs.HeadJobsDashboard",
        {"model": Choice(("induction_1l", "induction_2l")), "ablation": Choice(("zero", "mean"))},
        **DASHBOARD,
    ),
    Entry(
        f"{D}.head_jobs.HeadJobsDashboard.train_live",
        {"dashboard": Receiver(HJ_D), "steps": Optional(Int(1, 10_000, typical=(1, 2)))},
        call=lambda dashboard, steps: (
            dashboard.train_live(steps),
            dashboard.close(),
            dashboard.wait(60),
        )[-1],
        examples=2,
    ),  # fmt: skip
    Entry(
        f"{D}.head_jobs.HeadJobsDashboard.wait",
        {"dashboard": Receiver(HJ_D), "timeout": Real(0.0, 3600.0, typical=(0.0, 1.0))},
        call=lambda dashboard, timeout: dashboard.wait(timeout),
        **DASHBOARD,
    ),
    Entry(f"{D}.head_jobs.app", {"score": Choice(("induction", "previous-token"))}, **DASHBOARD),
    Entry(
        f"{D}.lazy_tabs.LazyTabs",
        {
            "tabs": Fixed(
                (_tabs,),
                bad=(
                    (OBJECT,),
                    (("a",),),
                    ((3, lambda: 1),),
                    (("a", None),),
                    (("a", dict), ("a", dict)),
                    (),
                ),
            ),
            "active": Int(0, 1),
        },
        call=lambda tabs, active: _lazy(f"{D}.lazy_tabs", "LazyTabs")()(*tabs, active=active),
        names={"tabs": "tab"},
    ),  # fmt: skip
    Entry(
        f"{D}.lazy_tabs.LazyTabs.show",
        {
            "tabs": Receiver(lambda: _lazy(f"{D}.lazy_tabs", "LazyTabs")()(*_tabs())),
            "title": Text(("one", "two")),
        },
        call=lambda tabs, title: tabs.show(title),
    ),  # fmt: skip
    Entry(
        f"{RF}.mask_arguments",
        {"name": Choice(PATTERN_NAMES[3:4]), "values": VALUES},
        positional=("name", "values"),
    ),
    Entry(
        f"{RF}.describe",
        {"name": Choice(PATTERN_NAMES[3:4]), "values": VALUES},
        positional=("name", "values"),
    ),
    Entry(
        f"{RF}.field_of",
        {
            "name": Choice(("causal", "sliding_window")),
            "params": Fixed((lambda: (),), bad=(None, OBJECT, "window", ((OBJECT, 3),))),
            "seq_len": Int(1, 262144, typical=(1, 64)),
        },
        positional=("name", "params", "seq_len"),
    ),  # fmt: skip
    Entry(
        f"{RF}.ReceptiveFieldsDashboard",
        {
            "layers": Clamped(1, 32, True),
            "seq_len": Clamped(64.0, 262144.0),  # snapped to the nearest of LENGTHS
            "pattern_params": PRESET_PARAMS,
            "pattern": Choice(("dilated", "causal")),
        },
        **DASHBOARD,
    ),  # fmt: skip
    Entry(
        f"{RF}.ReceptiveFieldsDashboard.pattern_values",
        {"dashboard": Receiver(RF_D), "name": Choice(PATTERN_NAMES)},
        call=lambda dashboard, name: dashboard.pattern_values(name),
        **DASHBOARD,
    ),
    Entry(f"{RF}.app", {"log_axes": Bool(), "layers": Clamped(1, 32, True)}, **DASHBOARD),
    Entry(
        f"{D}.registry.DashboardEntry",
        {
            "slug": Text(("mine",)),
            "title": Text(("Mine",)),
            "description": Text(("one line",)),
            "lesson": Text(("01_mine",)),
            "factory": Fixed((lambda: dict,), bad=(None, OBJECT, "dict")),
        },
    ),  # fmt: skip
    Entry(f"{D}.registry.entries", {}),
    Entry(f"{D}.registry.get", {"slug": Text(("soft_lookup", "dsf"))}),
    Entry(
        f"{D}.registry.lesson_dashboard",
        {"lesson": Fixed((_lesson("soft_lookup"), _lesson("dsf")), bad=(None, OBJECT, "dsf"))},
        positional=("lesson",),
    ),
    Entry(
        f"{D}.registry.register",
        {
            "slug": Text(("promise-table",)),
            "title": Text(("Mine",)),
            "description": Text(("one line",)),
            "lesson": Text(("01_mine",)),
        },
    ),  # fmt: skip
    Entry(
        f"{D}.soft_lookup.SoftLookupDashboard",
        {
            "bandwidth": Clamped(0.05, 5.0),
            "n_points": Clamped(3, 200, True),
            "scaled": Bool(),
            "kernel": Choice(("gaussian",)),
        },
        **DASHBOARD,
    ),  # fmt: skip
    Entry(f"{D}.soft_lookup.app", {"d_k": Clamped(1, 512, True)}, **DASHBOARD),
    Entry(
        f"{D}.transformer_layer.TransformerLayerDashboard",
        {
            "offset": Clamped(0, 21, True),
            "query": Clamped(0, 11, True),
            "causal": Bool(),
            "positional": Choice(("learned", "rope")),
        },
        **DASHBOARD,
    ),  # fmt: skip
    Entry(f"{D}.transformer_layer.app", {"head": Clamped(0, 1, True)}, **DASHBOARD),
    Entry(f"{D}.threads.one_thread", {}),
]


# --------------------------------------------------------------------------- plots

PA = f"{P}.associative_memory"
PM = f"{P}.attention_maps"
PD = f"{P}.dsf"
PF = f"{P}.figures"
PK = f"{P}.fast_kernels"
PS = f"{P}.attention_sinks"
PH = f"{P}.head_jobs"
PR = f"{P}.receptive_fields"
PT = f"{P}.theme"
PL = f"{P}.transformer_layer"

MATRIX = MapTensor("T S", low=0.0, high=1.0)
SIGNED = MapTensor("T S")
ROW = Tensor("T", low=0.0, high=1.0)
X = Real()  # a marker's place: any finite number
OPT_X = Optional(Real())
SMALL = {"T": (1, 6), "S": (1, 6)}
SIZE_PX = Int(100, 4000, typical=(100, 200))
CALLBACK = Fixed((lambda: lambda *args: None,), bad=(None, OBJECT, 3))
FIGURE = Fixed((_make(PT, "themed_figure"),), bad=(None, OBJECT, "figure"))
SERIES_NAMES = Fixed((lambda: ["a", "b"],), bad=(None, OBJECT, "ab", [OBJECT], ["a", "a"], []))
MAPPING_BAD = (None, OBJECT, "a", [("a", 1)])


def _xy(n=4):
    x = np.arange(n, dtype=np.float64)
    return x, x**2


def _xy_positive(n=4):
    x = np.arange(1, n + 1, dtype=np.float64)
    return x, x**2


def _conditioning():
    from attnviz import conditioning

    return conditioning


def _series(bad_name="zzz"):
    unknown = () if bad_name is None else ({bad_name: _xy()},)
    return Fixed(
        (lambda: {"a": _xy()}, lambda: {"a": _xy(), "b": _xy()}, dict),
        bad=(*MAPPING_BAD, *unknown, {"a": OBJECT}, {"a": (np.arange(3.0),)},
             {"a": (np.arange(3.0), np.arange(4.0))}, {"a": (np.arange(3.0), "abc")}),
    )  # fmt: skip


def _scores():
    return {"induction": np.full((2, 3), 0.5), "sink": np.linspace(0, 1, 6).reshape(2, 3)}


def _step_update(view, scores, block, m_before, m_after, l_before, l_after, rescale, output, final):
    keywords = dict(m_before=m_before, m_after=m_after, l_before=l_before, l_after=l_after)
    return view.update(scores, block, rescale=rescale, output=output, final=final, **keywords)


def _receiver(module, name, *args, **kwargs):
    """One figure per entry, built once: its methods check at the door, so a refused call
    leaves it as it was (and a figure costs ~50 ms to build)."""
    return Receiver(functools.cache(_make(module, name, *args, **kwargs)))


def _strength_curves():
    return [("experimental", "A", np.linspace(0, 1, 5)), ("experimental", "X", np.zeros(5), 2)]


def _layers(shape):
    return lambda: np.full(shape, 1, dtype=np.int64)


LAYER_IMAGE = Fixed(
    (_layers((4, 4)),),
    bad=(None, OBJECT, "abc", np.full(4, 1.5), np.full((2, 2), NAN), np.full((2, 2), -3)),
)
LAYER_ROW = Fixed((_layers(4),), bad=(None, OBJECT, "abc", np.full((2, 2), 1)))

PLOT_ENTRIES: list[Entry] = [
    # associative_memory
    Entry(
        f"{PA}.BandCurves",
        {
            "names": SERIES_NAMES,
            "dashed": Fixed((tuple, lambda: ("a",)), bad=(None, OBJECT, 3, "a")),
            "colors": Optional(Fixed((lambda: {"a": "#000000"},), bad=MAPPING_BAD[1:])),
        },
        positional=("names",),
    ),  # fmt: skip
    Entry(
        f"{PA}.BandCurves.update",
        {
            "view": _receiver(PA, "BandCurves", ["a", "b"]),
            "series": Fixed(
                (lambda: {"a": _xy()}, lambda: {"a": (*_xy(), _xy()[1] - 1, _xy()[1] + 1)}, dict),
                bad=(
                    *MAPPING_BAD,
                    {"zzz": _xy()},
                    {"a": OBJECT},
                    {"a": (np.arange(3.0),)},
                    {"a": (np.arange(3.0), np.arange(4.0))},
                ),
            ),
            "labels": Optional(Fixed((lambda: {"a": "A"},), bad=MAPPING_BAD[1:])),
            "highlight": Optional(Text(("a",))),
        },
        call=lambda view, series, labels, highlight: view.update(
            series, labels=labels, highlight=highlight
        ),
    ),  # fmt: skip
    Entry(
        f"{PA}.BandCurves.mark",
        {"view": _receiver(PA, "BandCurves", ["a"]), "x": OPT_X},
        call=lambda view, x: view.mark(x),
    ),
    Entry(f"{PA}.SignedHeatmap", {"matrix": SIGNED}, positional=("matrix",), dims=SMALL),
    Entry(
        f"{PA}.SignedHeatmap.update",
        {
            "view": _receiver(PA, "SignedHeatmap", np.eye(2)),
            "matrix": SIGNED,
            "limit": Optional(Real(0.0, None, typical=(0.0, 3.0))),
        },
        call=lambda view, matrix, limit: view.update(matrix, limit),
        dims=SMALL,
    ),  # fmt: skip
    Entry(f"{PL}.SignedMatrix", {"matrix": SIGNED}, positional=("matrix",), dims=SMALL),
    Entry(
        f"{PL}.SignedMatrix.update",
        {
            "view": _receiver(PL, "SignedMatrix", np.eye(2)),
            "matrix": SIGNED,
            "limit": Optional(Real(0.0, None, typical=(0.0, 3.0))),
        },
        call=lambda view, matrix, limit: view.update(matrix, limit=limit),
        dims=SMALL,
    ),  # fmt: skip
    Entry(f"{PA}.ItemBars", {"title": Text(("errors",))}),
    Entry(
        f"{PA}.ItemBars.update",
        {
            "view": _receiver(PA, "ItemBars"),
            "values": Tensor("T", low=0.0, high=2.0),
            "n_slots": Int(None, 4096, typical=(8, 12)),
            "highlight": Optional(Int(0, 7)),
        },
        call=lambda view, values, n_slots, highlight: view.update(values, n_slots, highlight),
    ),  # fmt: skip
    Entry(
        f"{PA}.ItemBars.mark",
        {"view": _receiver(PA, "ItemBars"), "x": OPT_X},
        call=lambda view, x: view.mark(x),
    ),
    Entry(
        f"{PA}.stimulus_colors",
        {"stimuli": Fixed((lambda: ["A", "B", "X"], list), bad=(None, OBJECT, "ABX", [OBJECT]))},
        positional=("stimuli",),
    ),
    Entry(f"{PA}.StrengthCurves", {"title": Text(("V",))}),
    Entry(
        f"{PA}.StrengthCurves.update",
        {
            "view": _receiver(PA, "StrengthCurves"),
            "curves": Fixed(
                (_strength_curves, list),
                bad=(
                    None,
                    OBJECT,
                    "A",
                    [OBJECT],
                    [("experimental", "Q", np.zeros(3))],
                    [("nobody", "A", np.zeros(3))],
                    [("experimental", "A", "abc")],
                ),
            ),
            "stimuli": Fixed((lambda: ["A", "B", "X"],), bad=(None, OBJECT, "ABX")),
            "groups": Fixed(
                (lambda: ["experimental", "control"],), bad=(None, OBJECT, "experimental")
            ),
            "phases": Fixed(
                (lambda: [(0, "training"), (3, "test")], tuple),
                bad=(None, OBJECT, "training", [(OBJECT, "x")], [(NAN, "x")]),
            ),
        },
        call=lambda view, curves, stimuli, groups, phases: view.update(
            curves, stimuli=stimuli, groups=groups, phases=phases
        ),
    ),  # fmt: skip
    Entry(
        f"{PA}.StrengthCurves.show_experiment",
        {
            "view": _receiver(PA, "StrengthCurves"),
            "result": Fixed(
                (lambda: _conditioning().run("blocking"),), bad=(None, OBJECT, "blocking", 3)
            ),
            "stimuli": Fixed((lambda: ["A", "B", "X"],), bad=(None, OBJECT, "ABX")),
        },
        call=lambda view, result, stimuli: view.show_experiment(result, stimuli=stimuli),
    ),  # fmt: skip
    Entry(
        f"{PA}.criterion_curves",
        {
            "curves": Fixed(
                (lambda: {"mse": _xy_positive()}, lambda: {"a": _xy_positive(), "b": _xy()}),
                bad=(
                    *MAPPING_BAD,
                    {},
                    {"a": OBJECT},
                    {"a": (np.arange(3.0),)},
                    {"a": (np.zeros(2), np.ones(2))},
                    {"a": (np.ones(2), np.full(2, NAN))},
                ),
            ),
            "tolerance": Optional(Real(0.0, None, low_open=True, typical=(0.01, 1.0))),
            "labels": Optional(Fixed((lambda: {"a": "A"},), bad=MAPPING_BAD[1:])),
        },
        positional=("curves",),
    ),  # fmt: skip
    Entry(
        f"{PA}.experiment_strengths",
        {
            "result": Fixed(
                (
                    lambda: _conditioning().run("blocking"),
                    lambda: _conditioning().run("acquisition", rule="hebbian"),
                ),
                bad=(None, OBJECT, "blocking", 3),
            ),
            "title": Text(("", "blocking")),
        },
        positional=("result",),
    ),  # fmt: skip
    # attention_maps
    Entry(
        f"{PM}.HeadGrid",
        {
            "thumbnails": MapTensor("n H T T", low=0.0, high=1.0, empty="n"),
            "scores": Optional(Fixed((dict,), bad=(OBJECT, "entropy", {"entropy": OBJECT}))),
            "cell_px": Int(1, 400, typical=(20, 80)),
        },
        positional=("thumbnails",),
        dims={"T": (1, 4)},
    ),  # fmt: skip
    Entry(
        f"{PM}.HeadGrid.update",
        {
            "view": _receiver(PM, "HeadGrid", np.zeros((1, 1, 2, 2))),
            "thumbnails": MapTensor("n H T T", low=0.0, high=1.0, empty="n"),
            "high": Optional(Real(0.0, None, low_open=True, typical=(0.1, 1.0))),
        },
        call=lambda view, thumbnails, high: view.update(thumbnails, high=high),
        dims={"T": (1, 4)},
    ),  # fmt: skip
    Entry(
        f"{PM}.HeadGrid.select",
        {
            "view": _receiver(PM, "HeadGrid", np.zeros((2, 3, 2, 2))),
            "layer": Optional(Int(0, 1)),
            "head": Optional(Int(0, 2)),
        },
        call=lambda view, layer, head: view.select(layer, head),
    ),  # fmt: skip
    Entry(
        f"{PM}.HeadGrid.on_select",
        {"view": _receiver(PM, "HeadGrid", np.zeros((1, 1, 2, 2))), "callback": CALLBACK},
        call=lambda view, callback: view.on_select(callback),
    ),
    Entry(
        f"{PM}.LongHeadView",
        {
            "overview": MATRIX,
            "n_queries": Int(1, 2**24, typical=(1, 64)),
            "n_keys": Int(1, 2**24, typical=(1, 64)),
            "window": MapTensor("d d", low=0.0, high=1.0),
            "window_start": Fixed(
                (lambda: (0, 0), lambda: (3, 5)),
                bad=(None, OBJECT, "ab", (1,), (OBJECT, 0), (-1, 0), (HUGE, 0)),
            ),
        },
        positional=("overview", "n_queries", "n_keys", "window"),
    ),  # fmt: skip
    Entry(
        f"{PM}.LongHeadView.update",
        {
            "view": _receiver(PM, "LongHeadView", np.zeros((1, 1)), 1, 1, np.zeros((1, 1))),
            "overview": MATRIX,
            "n_queries": Int(1, 2**24, typical=(1, 64)),
            "n_keys": Int(1, 2**24, typical=(1, 64)),
            "window": MapTensor("d d", low=0.0, high=1.0),
            "high": Optional(Real(0.0, None, low_open=True, typical=(0.1, 1.0))),
        },
        call=lambda view, overview, n_queries, n_keys, window, high: view.update(
            overview, n_queries, n_keys, window, high=high
        ),
    ),  # fmt: skip
    Entry(
        f"{PM}.LongHeadView.update_overview",
        {
            "view": _receiver(PM, "LongHeadView", np.zeros((1, 1)), 1, 1, np.zeros((1, 1))),
            "overview": MATRIX,
            "n_queries": Int(1, 2**24, typical=(1, 64)),
            "n_keys": Int(1, 2**24, typical=(1, 64)),
        },
        call=lambda view, overview, n_queries, n_keys: view.update_overview(
            overview, n_queries, n_keys
        ),
    ),  # fmt: skip
    Entry(
        f"{PM}.LongHeadView.update_window",
        {
            "view": _receiver(PM, "LongHeadView", np.zeros((1, 1)), 1, 1, np.zeros((1, 1))),
            "window": MapTensor("T S", low=0.0, high=1.0),
            "query_tokens": Optional(Labels("T")),
            "key_tokens": Optional(Labels("S")),
        },
        call=lambda view, window, query_tokens, key_tokens: view.update_window(
            window, (0, 0), query_tokens, key_tokens
        ),
        dims=SMALL,
    ),  # fmt: skip
    Entry(
        f"{PM}.LongHeadView.on_pick",
        {
            "view": _receiver(PM, "LongHeadView", np.zeros((1, 1)), 1, 1, np.zeros((1, 1))),
            "callback": CALLBACK,
        },
        call=lambda view, callback: view.on_pick(callback),
    ),  # fmt: skip
    Entry(f"{PM}.HeadBars", {"eps": Real(0.0, 1.0)}),
    Entry(
        f"{PM}.HeadBars.update",
        {
            "view": _receiver(PM, "HeadBars", eps=0.3),
            "entropy": MapTensor("n H", low=0.0, high=1.0),
            "sink": MapTensor("n H", low=0.0, high=1.0),
        },
        call=lambda view, entropy, sink: view.update(entropy, sink),
    ),  # fmt: skip
    # dsf
    # fast_kernels
    # attention_sinks
    Entry(f"{PS}.PassageMap", {"width": SIZE_PX, "height": SIZE_PX}),
    Entry(
        f"{PS}.PassageMap.update",
        {
            "view": _receiver(PS, "PassageMap"),
            "weights": MapTensor("T T", low=0.0, high=1.0),
            "labels": Labels("T"),
            "title": Text(("", "L0H1, cache: window 4")),
        },
        call=lambda view, weights, labels, title: view.update(weights, labels, title=title),
        dims={"T": (1, 6)},
    ),
    Entry(
        f"{PS}.HeadValueGrid",
        {
            "title": Text(("sinks",)),
            "value_label": Text(("α₁",)),
            "high": Optional(Real(0.0, None, low_open=True)),
            "cell_px": Int(10, 400, typical=(10, 80)),
        },
    ),
    Entry(
        f"{PS}.HeadValueGrid.update",
        {
            "view": _receiver(PS, "HeadValueGrid"),
            "values": Tensor("n H", low=0.0, high=1.0),
            "threshold": Optional(Real()),
        },
        call=lambda view, values, threshold: view.update(values, threshold=threshold),
    ),
    Entry(
        f"{PS}.HeadValueGrid.mark",
        {
            "view": Receiver(_make(PS, "HeadValueGrid")),
            "head": Fixed(
                (lambda: (0, 0), lambda: None),
                bad=(OBJECT, "L0H0", (0,), (1, 0), (0, -1), (0.5, 0), (True, 0)),
            ),
        },
        call=lambda view, head: (view.update(np.ones((1, 1))), view.mark(head)),
    ),
    Entry(
        f"{PS}.PolicyCurves",
        {
            "policies": SERIES_NAMES,
            "train_length": Int(1, 2**20, typical=(1, 256)),
            "title": Text(("loss",)),
            "width": SIZE_PX,
            "height": SIZE_PX,
        },
        positional=("policies",),
    ),
    Entry(
        f"{PS}.PolicyCurves.update",
        {
            "view": _receiver(PS, "PolicyCurves", ["a", "b"], train_length=8),
            "positions": Fixed(
                (lambda: np.arange(3.0),), bad=(None, OBJECT, "ab", np.ones((3, 1)))
            ),
            "losses": Fixed(
                (lambda: {"a": [1.0, 2.0, np.nan]}, dict),
                bad=(*MAPPING_BAD, {"zzz": [1.0] * 3}, {"a": OBJECT}, {"a": [1.0]}),
            ),
        },
        call=lambda view, positions, losses: view.update(positions, losses),
    ),
    Entry(
        f"{PS}.PolicyCurves.show",
        {
            "view": _receiver(PS, "PolicyCurves", ["a", "b"], train_length=8),
            "labels": Fixed((lambda: ["a"], list), bad=(None, OBJECT, "a", ["zzz"], [OBJECT])),
        },
        call=lambda view, labels: view.show(labels),
    ),
    Entry(
        f"{PS}.HeadRanking",
        {"title": Text(("Δ loss",)), "y_label": Text(("Δ",)), "width": SIZE_PX, "height": SIZE_PX},
    ),
    Entry(
        f"{PS}.HeadRanking.update",
        {
            "view": _receiver(PS, "HeadRanking"),
            "values": Tensor("n H"),
            "marked": Fixed(
                (lambda: [(0, 0)], list), bad=(None, OBJECT, ["L0H0"], [(0,)], [(-1, 0)])
            ),
        },
        call=lambda view, values, marked: view.update(values, marked=marked),
    ),
    Entry(f"{PS}.MixedCacheCurve", {"width": SIZE_PX, "height": SIZE_PX}),
    Entry(
        f"{PS}.MixedCacheCurve.update",
        {
            "view": _receiver(PS, "MixedCacheCurve"),
            "full_heads": Fixed((lambda: [0, 2, 4],), bad=(None, OBJECT, "ab", [], [0, 1])),
            "memory": Fixed((lambda: [0.2, 0.6, 1.0],), bad=(None, OBJECT, [0.2, NAN, 1.0])),
            "loss": Fixed((lambda: [2.5, 2.0, 1.9],), bad=(None, OBJECT, [2.0, INF, 1.0])),
            "full_loss": Real(),
            "chosen": Optional(Int(0, 2)),
        },
        call=lambda view, full_heads, memory, loss, full_loss, chosen: view.update(
            full_heads, memory, loss, full_loss=full_loss, chosen=chosen
        ),
    ),
    Entry(f"{PS}.TwinBars", {"width": SIZE_PX, "height": SIZE_PX}),
    Entry(
        f"{PS}.TwinBars.update",
        {
            "view": _receiver(PS, "TwinBars"),
            "names": Fixed((lambda: ["softmax", "sigmoid"],), bad=(None, OBJECT, "ab", ["a"])),
            "sink_rates": Fixed((lambda: [0.5, 0.0],), bad=(None, OBJECT, [1.5, 0.0], [NAN, 0])),
            "losses": Fixed((lambda: [1.6, 1.7],), bad=(None, OBJECT, [1.6], [INF, 1.0])),
        },
        call=lambda view, names, sink_rates, losses: view.update(names, sink_rates, losses),
    ),
    Entry(f"{PK}.OnlineSoftmaxView", {"width": SIZE_PX, "height": SIZE_PX}),
    Entry(
        f"{PK}.OnlineSoftmaxView.update",
        {
            "view": _receiver(PK, "OnlineSoftmaxView"),
            "scores": Fixed(
                (lambda: np.arange(4.0), lambda: np.array([1.0, np.nan, np.nan, np.nan])),
                bad=(None, OBJECT, "abc", np.ones((2, 2)), np.array([1.0, np.inf]), np.ones(0)),
            ),
            "block": Fixed(
                (lambda: (0, 2), lambda: [2, 4]),
                bad=(None, OBJECT, "ab", (0,), (3, 2), (0, 99), (-1, 2), (0.5, 2)),
            ),
            "m_before": Fixed(
                (lambda: 1.0, lambda: float("-inf")), bad=(None, OBJECT, "1", NAN, INF, True)
            ),
            "m_after": Real(),
            "l_before": Real(),
            "l_after": Real(),
            "rescale": Real(),
            "output": Fixed((lambda: np.ones(3),), bad=(None, OBJECT, "abc", np.ones((3, 1)))),
            "final": Fixed(
                (lambda: np.zeros(3),), bad=(None, OBJECT, np.ones(2), np.array([NAN] * 3))
            ),
        },
        call=_step_update,
        examples=5,
    ),  # fmt: skip
    Entry(f"{PK}.ChunkView", {"width": SIZE_PX, "height": SIZE_PX}),
    Entry(
        f"{PK}.ChunkView.update",
        {
            "view": _receiver(PK, "ChunkView"),
            "seq_len": Fixed((lambda: 4,), bad=(None, OBJECT, 0, 2.5, "4", HUGE, 3, 5)),
            "chunks": Fixed(
                (lambda: [(0, 2), (2, 4)], lambda: [(0, 1), (1, 3), (3, 4)]),
                bad=(
                    None,
                    OBJECT,
                    "ab",
                    [],
                    [(0, 2)],
                    [(0, 2), (3, 4)],
                    [(0, 2), OBJECT],
                    [(2, 4), (0, 2)],
                ),
            ),
            "current": Int(0, 1),
        },
        call=lambda view, seq_len, chunks, current: view.update(seq_len, chunks, current),
        examples=5,
    ),  # fmt: skip
    Entry(
        f"{PK}.CostChart",
        {"methods": SERIES_NAMES, "width": SIZE_PX, "height": SIZE_PX},
        positional=("methods",),
    ),
    Entry(
        f"{PK}.CostChart.update",
        {
            "view": _receiver(PK, "CostChart", ["a", "b"]),
            "measured": Fixed(
                (lambda: {"a": ([256.0, 512.0], [0.01, 0.04])}, dict),
                bad=(
                    *MAPPING_BAD,
                    {"zzz": ([1.0], [1.0])},
                    {"a": OBJECT},
                    {"a": ([1.0, 2.0], [0.0, 1.0])},
                    {"a": ([1.0, 2.0], [1.0])},
                ),
            ),
            "refused": Optional(
                Fixed(
                    (lambda: {"b": [4096.0]}, dict),
                    bad=(OBJECT, "b", {"zzz": [1.0]}, {"b": OBJECT}, {"b": [NAN]}),
                )
            ),
        },
        call=lambda view, measured, refused: view.update(measured, refused),
        examples=5,
    ),  # fmt: skip
    Entry(f"{PK}.SpeedupScatter", {"width": SIZE_PX, "height": SIZE_PX}),
    Entry(
        f"{PK}.SpeedupScatter.update",
        {
            "view": _receiver(PK, "SpeedupScatter"),
            "names": Fixed((lambda: ["causal", "window"],), bad=(None, OBJECT, "ab", ["a"])),
            "density": Fixed((lambda: [0.5, 0.1],), bad=(None, OBJECT, [0.5, 0.0], [2.0, 0.1])),
            "speedup": Fixed((lambda: [1.5, 6.0],), bad=(None, OBJECT, [1.0, -1.0], [NAN, 1.0])),
        },
        call=lambda view, names, density, speedup: view.update(names, density, speedup),
        examples=5,
    ),  # fmt: skip
    Entry(f"{PD}.PhiGrid", {"columns": Int(1, 16), "panel_px": Int(1, 2000, typical=(50, 250))}),
    Entry(
        f"{PD}.PhiGrid.update",
        {
            "view": _receiver(PD, "PhiGrid"),
            "matrices": Fixed(
                (lambda: {"a": np.eye(3), "b": np.ones((3, 3))}, dict),
                bad=(
                    *MAPPING_BAD,
                    {"a": OBJECT},
                    {"a": np.ones((2, 3))},
                    {"a": np.eye(2), "b": np.eye(3)},
                ),
            ),
            "titles": Fixed((lambda: {"a": "A", "b": "B"},), bad=MAPPING_BAD),
        },
        call=lambda view, matrices, titles: view.update(matrices, titles),
    ),  # fmt: skip
    Entry(
        f"{PD}.PhiGrid.mark_row",
        {"view": _receiver(PD, "PhiGrid"), "row": Optional(Int(0, 2**24, typical=(0, 8)))},
        call=lambda view, row: view.mark_row(row),
    ),
    Entry(
        f"{PD}.ClassCurves",
        {
            "names": SERIES_NAMES,
            "labels": Optional(Fixed((lambda: {"a": "A"},), bad=MAPPING_BAD[1:])),
        },
        positional=("names",),
    ),  # fmt: skip
    Entry(
        f"{PD}.ClassCurves.set_log",
        {"view": _receiver(PD, "ClassCurves", ["a", "b"]), "log": Bool()},
        call=lambda view, log: view.set_log(log),
    ),
    Entry(
        f"{PD}.ClassCurves.update",
        {
            "view": _receiver(PD, "ClassCurves", ["a", "b"]),
            "series": _series(),
            "labels": Optional(Fixed((lambda: {"a": "A"},), bad=MAPPING_BAD[1:])),
        },
        call=lambda view, series, labels: view.update(series, labels=labels),
    ),  # fmt: skip
    Entry(
        f"{PD}.ClassCurves.points",
        {
            "view": _receiver(PD, "ClassCurves", ["a", "b"]),
            "points": Fixed(
                (lambda: {"a": (1.0, 2.0)}, dict),
                bad=(*MAPPING_BAD, {"a": OBJECT}, {"a": (NAN, 1.0)}, {"a": (1.0,)}),
            ),
        },
        call=lambda view, points: view.points(points),
    ),  # fmt: skip
    Entry(
        f"{PD}.recall_vs_state",
        {
            "curves": Fixed(
                (
                    lambda: {"s6": ([4.0, 16.0], [0.2, 0.9])},
                    lambda: {"attention": ([64.0], [1.0], [0.9], [1.0])},
                ),
                bad=(
                    *MAPPING_BAD,
                    {},
                    {"s6": OBJECT},
                    {"s6": ([0.0], [0.5])},
                    {"s6": ([4.0], [NAN])},
                    {"s6": ([4.0, 8.0], [0.5])},
                ),
            ),
            "chance": Optional(Real(0.0, 1.0)),
        },
        positional=("curves",),
    ),  # fmt: skip
    Entry(
        f"{PD}.transition_trace",
        {
            "traces": Fixed(
                (
                    lambda: {"linear_attention": [1.0, 0.5, 1.5]},
                    lambda: {"s6": np.linspace(0.1, 0.9, 5), "custom": [2.0]},
                ),
                bad=(
                    *MAPPING_BAD,
                    {},
                    {"s6": OBJECT},
                    {"s6": []},
                    {"s6": [0.5, 0.0]},
                    {"s6": [NAN]},
                    {"s6": np.ones((2, 2))},
                ),
            ),
            "labels": Optional(Fixed((lambda: {"s6": "S6"},), bad=MAPPING_BAD[1:])),
        },
        positional=("traces",),
    ),  # fmt: skip
    # figures
    Entry(
        f"{PF}.head_label",
        {"layer": Int(0, None), "head": Int(0, None)},
        positional=("layer", "head"),
    ),
    Entry(
        f"{PF}.Heatmap",
        {
            "weights": MATRIX,
            "query_labels": Optional(Labels("T")),
            "key_labels": Optional(Labels("S")),
            "max_tick_labels": Int(0, None),
            "image": Bool(),
        },
        positional=("weights", "query_labels", "key_labels"),
        dims=SMALL,
    ),  # fmt: skip
    Entry(
        f"{PF}.Heatmap.update",
        {
            "view": _receiver(PF, "Heatmap", np.eye(2)),
            "weights": MATRIX,
            "query_labels": Optional(Labels("T")),
            "key_labels": Optional(Labels("S")),
        },
        call=lambda view, weights, query_labels, key_labels: view.update(
            weights, query_labels, key_labels
        ),
        dims=SMALL,
    ),  # fmt: skip
    Entry(
        f"{PF}.Heatmap.mark_row",
        {"view": _receiver(PF, "Heatmap", np.eye(2)), "row": Optional(Int(0, 1))},
        call=lambda view, row: view.mark_row(row),
    ),
    Entry(f"{PF}.Curves", {"series": _series(None)}, positional=("series",)),
    Entry(
        f"{PF}.Curves.update",
        {
            "view": _receiver(PF, "Curves", {"a": _xy()}),
            "name": Choice(("a",)),
            "x": Tensor("T", nonfinite_ok=True),
            "y": Tensor("T", nonfinite_ok=True),
        },
        call=lambda view, name, x, y: view.update(name, x, y),
    ),  # fmt: skip
    Entry(
        f"{PF}.Curves.mark",
        {
            "view": _receiver(PF, "Curves", {"a": _xy()}),
            "name": Choice(("a",)),
            "x": OPT_X,
            "y": OPT_X,
        },
        call=lambda view, name, x, y: view.mark(name, x, y),
    ),  # fmt: skip
    Entry(
        f"{PF}.Bars",
        {
            "values": ROW,
            "labels": Optional(Labels("T")),
            "width": Real(0.0, None, low_open=True, typical=(0.1, 1.0)),
            "label_axis": Bool(),
        },
        positional=("values",),
    ),  # fmt: skip
    Entry(
        f"{PF}.Bars.update",
        {
            "view": _receiver(PF, "Bars", np.ones(2)),
            "values": ROW,
            "positions": Optional(Tensor("T")),
            "labels": Optional(Labels("T")),
        },
        call=lambda view, values, positions, labels: view.update(values, positions, labels),
    ),  # fmt: skip
    # head_jobs
    Entry(
        f"{PH}.ScoreHeatmap",
        {
            "scores": Fixed(
                (_scores,), bad=(*MAPPING_BAD, {}, {"induction": OBJECT}, {"induction": np.ones(3)})
            ),
            "value": Choice(("induction", "sink")),
            "cell_px": Int(1, 400, typical=(20, 80)),
            "high": Optional(Real(0.0, None, low_open=True, typical=(0.1, 1.0))),
        },
        positional=("scores", "value"),
        names={"value": "value"},
    ),  # fmt: skip
    Entry(
        f"{PH}.ScoreHeatmap.update",
        {
            "view": _receiver(PH, "ScoreHeatmap", _scores(), "induction"),
            "scores": Fixed(
                (_scores,),
                bad=(
                    *MAPPING_BAD,
                    {},
                    {"induction": np.ones(3)},
                    {"induction": np.ones((2, 2)), "sink": np.ones((3, 3))},
                ),
            ),
            "value": Choice(("induction", "sink")),
            "roles": Optional(
                Fixed(
                    (lambda: np.full((2, 3), "ind", dtype=object),),
                    bad=(OBJECT, "ind", np.full((1, 1), "x")),
                )
            ),
            "high": Optional(Real(0.0, None, low_open=True, typical=(0.1, 1.0))),
        },
        call=lambda view, scores, value, roles, high: view.update(scores, value, roles, high=high),
    ),  # fmt: skip
    Entry(
        f"{PH}.ScoreHeatmap.mark",
        {
            "view": _receiver(PH, "ScoreHeatmap", _scores(), "induction"),
            "heads": Fixed(
                (lambda: [(0, 1)], list), bad=(None, OBJECT, "01", [OBJECT], [(0,)], [(-1, 0)])
            ),
        },
        call=lambda view, heads: view.mark(heads),
    ),  # fmt: skip
    Entry(
        f"{PH}.ScoreHeatmap.on_tap",
        {"view": _receiver(PH, "ScoreHeatmap", _scores(), "induction"), "callback": CALLBACK},
        call=lambda view, callback: view.on_tap(callback),
    ),
    Entry(
        f"{PH}.TrainingCurves",
        {
            "score_names": Fixed(
                (lambda: ["induction"], list), bad=(None, OBJECT, "induction", [OBJECT])
            ),
            "loss_names": Fixed(
                (lambda: ("loss",),), bad=(None, OBJECT, "loss", [], ["induction"])
            ),
        },
        positional=("score_names",),
        names={"loss_names": "loss_names"},
    ),  # fmt: skip
    Entry(
        f"{PH}.TrainingCurves.column",
        {
            "view": _receiver(PH, "TrainingCurves", ["induction"]),
            "name": Choice(("loss", "induction")),
        },
        call=lambda view, name: view.column(name),
    ),  # fmt: skip
    Entry(
        f"{PH}.TrainingCurves.set",
        {
            "view": _receiver(PH, "TrainingCurves", ["induction"]),
            "step": Tensor("T", low=0.0, high=100.0),
            "values": Fixed(
                (lambda: {"loss": np.ones(3), "induction": np.zeros(3)},),
                bad=(*MAPPING_BAD, {"loss": np.ones(3)}, {"loss": OBJECT, "induction": 1.0}),
            ),
        },
        call=lambda view, step, values: view.set(step, values),
        dims={"T": (3, 3)},
    ),  # fmt: skip
    Entry(
        f"{PH}.TrainingCurves.stream",
        {
            "view": _receiver(PH, "TrainingCurves", ["induction"]),
            "step": Real(0.0, None),
            "values": Fixed(
                (lambda: {"loss": 1.0, "induction": 0.5},),
                bad=(
                    *MAPPING_BAD,
                    {"loss": 1.0},
                    {"loss": OBJECT, "induction": 1.0},
                    {"loss": [1.0, 2.0], "induction": 1.0},
                ),
            ),
        },
        call=lambda view, step, values: view.stream(step, values),
    ),  # fmt: skip
    Entry(
        f"{PH}.TrainingCurves.mark_step",
        {"view": _receiver(PH, "TrainingCurves", ["induction"]), "step": OPT_X},
        call=lambda view, step: view.mark_step(step),
    ),
    # receptive_fields
    Entry(f"{PR}.layer_mapper", {}),
    Entry(
        f"{PR}.layer_hover",
        {"mapper": Fixed((_make(PR, "layer_mapper"),), bad=(None, OBJECT, "viridis"))},
        positional=("mapper",),
    ),
    Entry(f"{PR}.layer_palette", {"n_layers": Int(0, 255)}, positional=("n_layers",)),
    Entry(
        f"{PR}.first_layers",
        {"image": Fixed((_layers((3, 3)), lambda: np.eye(3)), bad=(None, OBJECT, "abc"))},
        positional=("image",),
    ),
    Entry(
        f"{PR}.ReachMap",
        {"mapper": Optional(Fixed((_make(PR, "layer_mapper"),), bad=(OBJECT, "x")))},
    ),
    Entry(
        f"{PR}.ReachMap.update",
        {
            "view": _receiver(PR, "ReachMap"),
            "first": LAYER_IMAGE,
            "seq_len": Int(1, 2**24, typical=(1, 64)),
            "n_layers": Int(0, 255, typical=(0, 8)),
            "causal": Bool(),
        },
        call=lambda view, first, seq_len, n_layers, causal: view.update(
            first, seq_len, n_layers, causal
        ),
    ),  # fmt: skip
    Entry(
        f"{PR}.ReachStrip",
        {"mapper": Optional(Fixed((_make(PR, "layer_mapper"),), bad=(OBJECT, "x")))},
    ),
    Entry(
        f"{PR}.ReachStrip.update",
        {
            "view": _receiver(PR, "ReachStrip"),
            "row": LAYER_ROW,
            "seq_len": Int(1, 2**24, typical=(1, 64)),
            "n_layers": Int(0, 255, typical=(0, 8)),
        },
        call=lambda view, row, seq_len, n_layers: view.update(row, seq_len, n_layers),
    ),  # fmt: skip
    Entry(f"{PR}.PatternCurves", {"names": SERIES_NAMES}, positional=("names",)),
    Entry(
        f"{PR}.PatternCurves.update",
        {
            "view": _receiver(PR, "PatternCurves", ["a", "b"]),
            "series": _series(),
            "highlight": Optional(Text(("a",))),
        },
        call=lambda view, series, highlight: view.update(series, highlight),
    ),  # fmt: skip
    Entry(
        f"{PR}.PatternCurves.shown",
        {"view": _receiver(PR, "PatternCurves", ["a", "b"]), "log": Bool()},
        call=lambda view, log: view.shown(log),
    ),
    Entry(
        f"{PR}.PatternCurves.set_log",
        {"view": _receiver(PR, "PatternCurves", ["a", "b"]), "log": Bool()},
        call=lambda view, log: view.set_log(log),
    ),
    Entry(
        f"{PR}.PatternCurves.mark",
        {"view": _receiver(PR, "PatternCurves", ["a", "b"]), "x": OPT_X},
        call=lambda view, x: view.mark(x),
    ),
    # theme
    Entry(
        f"{PT}.themed_figure",
        {"width": Int(1, 10_000, typical=(100, 600)), "height": Int(1, 10_000, typical=(100, 600))},
    ),  # fmt: skip
    Entry(f"{PT}.slim", {"fig": FIGURE}, positional=("fig",)),
    Entry(f"{PT}.drop_unused", {"fig": FIGURE}, positional=("fig",)),
    Entry(
        f"{PT}.palette_mapper",
        {
            "palette": Fixed(
                (lambda: ["#000000", "#ffffff"],), bad=(None, OBJECT, "#000000", [], [OBJECT], [3])
            )
        },
        positional=("palette",),
    ),  # fmt: skip
]

# --- the notebook front ends (attnviz.notebook) -----------------------------------------------

NOTEBOOK_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.notebook_frontends.detect_frontend",
        {
            "environ": Optional(
                Fixed(
                    (dict, lambda: {"VSCODE_PID": "1"}, lambda: {"ATTNVIZ_FRONTEND": "colab"}),
                    bad=(OBJECT, "VSCODE_PID", ["VSCODE_PID"], {"ATTNVIZ_FRONTEND": "vs"}),
                )
            ),
            "modules": Optional(
                Fixed(
                    (set, lambda: {"google.colab"}, lambda: ("numpy",)),
                    bad=(OBJECT, "google.colab", 3),
                )
            ),
            "namespace": Optional(
                Fixed((dict, lambda: {"__vsc_ipynb_file__": "x.ipynb"}), bad=(OBJECT, "x", [1]))
            ),
        },
        names={"environ": "ATTNVIZ_FRONTEND"},  # a bad override is named as set
    ),
    Entry(
        "attnviz.notebook_frontends.panel_comms",
        {"frontend": Choice(("auto", "jupyterlab", "vscode", "colab", "ipywidgets"))},
    ),
]

ENTRIES: list[Entry] = DASHBOARD_ENTRIES + PLOT_ENTRIES + NOTEBOOK_ENTRIES

EXCLUDED: dict[str, str] = {}
