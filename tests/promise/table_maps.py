"""Table entries for the maps area (see promise.table): ``attnviz.maps``, ``attnviz.export``
and ``attnviz.snapshots``.

Models are tiny TinyTransformers (and a bare ``nn.MultiheadAttention(8, 2)``), built once
per process and cached, so an entry's sweep stays fast. A model with a long context
stands in where the memory budget must refuse a long input before the model runs.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from .kinds import (
    HUGE,
    NAN,
    OBJECT,
    Bool,
    Choice,
    Dims,
    Entry,
    Fixed,
    Int,
    Kind,
    Optional,
    Real,
    Receiver,
    Text,
)

VOCAB = 16
CONTEXT = 16
LONG_CONTEXT = 2**14  # a model that accepts inputs whose maps are past the budget
LONG_T = 12_000  # (1 layer × 2 heads × T × T) float32 ≈ 1.15 GB > the sweep's 256 MB
DIMS = {"T": (1, 8), "L": (1, 2), "H": (1, 2)}


# --------------------------------------------------------------------------- models


@cache
def tiny() -> nn.Module:
    from attnviz.models import TinyConfig, TinyTransformer

    torch.manual_seed(0)
    config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=VOCAB, context=CONTEXT)
    return TinyTransformer(config)


@cache
def long_tiny() -> nn.Module:
    from attnviz.models import TinyConfig, TinyTransformer

    torch.manual_seed(0)
    config = TinyConfig(
        n_layers=1, n_heads=2, d_model=8, vocab_size=VOCAB, context=LONG_CONTEXT,
        positional="none",
    )  # fmt: skip
    return TinyTransformer(config)


@cache
def mha() -> nn.Module:
    torch.manual_seed(0)
    return nn.MultiheadAttention(8, 2)


class _NoAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x):
        return self.linear(x)


BAD_MODELS = (None, OBJECT, _NoAttention(), "model")
MODEL = Fixed((tiny,), bad=BAD_MODELS)
ANY_MODULE = Fixed((tiny,), bad=(None, OBJECT, "model"))  # any nn.Module is valid


STREAMED_T = 8  # tokens in the streamed maps below (spans are drawn in [0, T])


@cache
def streamed_tiny() -> Any:
    from attnviz.maps.streamed import stream_capture

    ids = np.random.default_rng(0).integers(0, VOCAB, size=STREAMED_T)
    return stream_capture(tiny(), ids)


STREAMED = Fixed((streamed_tiny,), bad=(None, OBJECT, np.zeros((2, 2, 8, 8)), "maps"))


# --------------------------------------------------------------------------- kinds


def _ids(length: int, seed: int = 0, vocab: int = VOCAB) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=length)


class Ids(Kind):
    """Token ids of length T in [0, vocab): a list, numpy array or int64 tensor."""

    def __init__(
        self,
        vocab: int = VOCAB,
        long: int | None = None,
        *,
        upper: bool = True,
        negative: bool = True,
        shaped: bool = True,
    ):
        self.vocab, self.long = vocab, long
        self.upper, self.negative, self.shaped = upper, negative, shaped

    def valid(self, dims: Dims):
        length = dims.sizes["T"]
        seeds = st.integers(0, 2**16).map(lambda s: _ids(length, s, self.vocab))
        return st.one_of(
            seeds, seeds.map(torch.from_numpy), seeds.map(lambda a: [int(i) for i in a])
        )

    def edges(self, dims):
        length = dims.sizes["T"]
        edges = [np.full(length, self.vocab - 1), np.zeros(length, dtype=np.int32)]
        if self.long:
            edges.append(torch.from_numpy(_ids(self.long)))
        return edges

    def hostile(self, dims):
        length = dims.sizes["T"]
        values = [None, OBJECT, "text", [True], [HUGE], [NAN], torch.rand(length)]
        if self.upper:
            values.append([self.vocab])
        if self.negative:
            values.append([-1])
        if self.shaped:
            values.append(torch.zeros(1, 1, length, dtype=torch.long))
        return values

    def probes(self, dims):
        return [[], np.zeros((2, dims.sizes["T"]), dtype=np.int64)]


def _softmax_maps(dims: Dims, seed: int = 0, causal: bool = True) -> np.ndarray:
    shape = (dims.sizes["L"], dims.sizes["H"], dims.sizes["T"], dims.sizes["T"])
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randn(shape, generator=gen)
    if causal:
        future = torch.ones(shape[-2:], dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    return scores.softmax(-1).numpy()


def _as_maps(weights: np.ndarray, seed: int) -> Any:
    from attnviz.maps import AttentionMaps

    seq_len = weights.shape[-1]
    ids = _ids(seq_len, seed)
    return AttentionMaps(weights, [str(i) for i in ids], ids, "Tiny")


class Maps(Kind):
    """Attention weights: AttentionMaps, or an (L, H, T, T) array or tensor.

    ``level`` says what must be refused: ``"weights"`` (weights_of and the scores:
    finite, non-negative, square, 2-4 dimensions), ``"maps"`` (map_array: finite,
    at least 2-D) or ``"numbers"`` (to_numpy: real numbers only).
    """

    def __init__(self, level: str = "weights", attention_maps: bool = True):
        self.level, self.attention_maps = level, attention_maps

    def valid(self, dims):
        seeds = st.integers(0, 2**16)
        arrays = seeds.map(lambda s: _softmax_maps(dims, s))
        options = [arrays, arrays.map(torch.from_numpy)]
        if self.attention_maps:
            options.append(seeds.map(lambda s: _as_maps(_softmax_maps(dims, s), s)))
        return st.one_of(*options)

    def edges(self, dims):
        array = _softmax_maps(dims)
        return [array.astype(np.float64), torch.from_numpy(array).half(), array * 1e30,
                array[0, 0], array[0], _softmax_maps(Dims({**dims.sizes, "T": 1}))]  # fmt: skip

    def hostile(self, dims):
        array = _softmax_maps(dims)
        values = [None, OBJECT, "maps", torch.from_numpy(array).to(torch.complex64),
                  torch.empty(array.shape, device="meta"),
                  np.array([[OBJECT]], dtype=object)]  # fmt: skip
        if self.level == "numbers":
            return values
        nan = array.copy()
        nan.flat[0] = NAN
        values += [nan, np.ones(3), torch.from_numpy(array).to_sparse()]
        if self.level == "maps":
            return values
        negative = array.copy()
        negative.flat[0] = -0.5
        square = array[..., :-1] if array.shape[-1] > 1 else np.ones(array.shape[:-1] + (2,))
        return values + [negative, square, array[None]]

    def probes(self, dims):
        return [_softmax_maps(Dims({**dims.sizes, "T": 0}))]


class Embeddings(Kind):
    """(T, 8) float embeddings for ``nn.MultiheadAttention(8, 2)``."""

    def valid(self, dims):
        length = dims.sizes["T"]
        return st.integers(0, 2**16).map(
            lambda s: torch.randn(length, 8, generator=torch.Generator().manual_seed(s))
        )

    def edges(self, dims):
        x = torch.randn(dims.sizes["T"], 8, generator=torch.Generator().manual_seed(0))
        return [x.double(), x.half(), x * 1e30, x[None]]

    def hostile(self, dims):
        length = dims.sizes["T"]
        x = torch.randn(length, 8, generator=torch.Generator().manual_seed(0))
        nan = x.clone()
        nan[0, 0] = NAN
        return [None, OBJECT, "text", x[:, :7], nan, x.to(torch.complex64),
                torch.empty(length, 8, device="meta"), x[None, None],
                torch.zeros(length, dtype=torch.long)]  # fmt: skip

    def probes(self, dims):
        return [torch.zeros(0, 8)]


class Given(Kind):
    """A value of ``kind`` where None is valid too (documented), though never drawn."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def valid(self, dims):
        return self.kind.valid(dims)

    def edges(self, dims):
        return [None, *self.kind.edges(dims)]

    def hostile(self, dims):
        return [v for v in self.kind.hostile(dims) if v is not None]

    def probes(self, dims):
        return self.kind.probes(dims)


class Labels(Kind):
    """T token labels (strings); ``exact``: one more label than T is refused too."""

    def __init__(self, exact: bool = True) -> None:
        self.exact = exact

    def valid(self, dims):
        return st.just([f"t{i}" for i in range(dims.sizes["T"])])

    def hostile(self, dims):
        length = dims.sizes["T"]
        values = [OBJECT, 3, "one string", list(range(length))]
        if self.exact:
            values.append([f"t{i}" for i in range(length + 1)])
        return values


class Span(Kind):
    """A non-empty ``[start, end)`` span of positions in T."""

    def valid(self, dims):
        length = dims.sizes["T"]
        return st.integers(0, length - 1).flatmap(
            lambda start: st.tuples(st.just(start), st.integers(start + 1, length))
        )

    def edges(self, dims):
        return [(0, dims.sizes["T"]), (dims.sizes["T"] - 1, dims.sizes["T"])]

    def hostile(self, dims):
        length = dims.sizes["T"]
        return [None, OBJECT, "0:2", (0,), (-1, 1), (0, length + 1), (1, 1), (0.5, 1),
                (True, 1), (0, HUGE), (NAN, 1)]  # fmt: skip


class Views(Kind):
    """Bokeh figures (or a list of them), built fresh."""

    def valid(self, dims):
        return st.sampled_from((_figure, lambda: [_figure(), _figure()])).map(lambda f: f())

    def hostile(self, dims):
        return [None, OBJECT, "figure", [], [OBJECT], 3]


class PanelViews(Kind):
    """What a notebook displays: a Bokeh figure, a Panel pane or a layout, built fresh."""

    def valid(self, dims):
        return st.sampled_from((_figure, _figure_pane, _layout)).map(lambda f: f())

    def hostile(self, dims):
        return [None, OBJECT, "figure", [], [OBJECT], 3]


def _figure_pane():
    import panel as pn

    return pn.pane.Bokeh(_figure())


def _layout():
    import panel as pn

    return pn.Column(pn.pane.Markdown("**q · k**"), pn.widgets.FloatSlider(name="h", value=0.5))


def _figure():
    from bokeh.plotting import figure

    fig = figure(width=200, height=150, title="t")
    fig.line([0, 1, 2], [1, 0, 1])
    return fig


class Path_(Kind):
    """A writable file path in a temporary folder (OSError allowed for bad ones)."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def valid(self, dims):
        return st.just(_tmp() + "/out" + self.suffix)

    def hostile(self, dims):
        return [OBJECT, 3.5]

    def probes(self, dims):
        return ["", "/nonexistent_dir/x" + self.suffix, _tmp()]


@cache
def _tmp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="attnviz-promise-")


def _task_data(n: int = 2):
    from attnviz.tasks import repeated_tokens

    return repeated_tokens(n, 4, VOCAB, 0)


class Targets(Kind):
    """Next-token targets in the shape of the ids (T), -100 allowed."""

    def valid(self, dims):
        length = dims.sizes["T"]
        return st.integers(0, 2**16).map(lambda s: torch.from_numpy(_ids(length, s + 1)))

    def edges(self, dims):
        targets = torch.full((dims.sizes["T"],), -100)
        targets[0] = 1
        return [targets]

    def hostile(self, dims):
        length = dims.sizes["T"]
        return [None, OBJECT, "text", torch.full((length,), VOCAB), torch.full((length,), -7),
                torch.rand(length), torch.zeros(length + 1, dtype=torch.long),
                torch.full((length,), -100)]  # fmt: skip


class Heads(Kind):
    """(layer, head) pairs of the tiny model (2 × 2)."""

    def valid(self, dims):
        pair = st.tuples(st.integers(0, 1), st.integers(0, 1))
        return st.lists(pair, max_size=3)

    def hostile(self, dims):
        return [None, OBJECT, "0,1", [(2, 0)], [(0, 2)], [(0,)], [(-1, 0)], [(0.5, 0)],
                [(HUGE, 0)], [3]]  # fmt: skip


class Mask(Kind):
    """A boolean loss mask in the shape of the ids, or None."""

    def valid(self, dims):
        length = dims.sizes["T"]
        full = torch.ones(length, dtype=torch.bool)
        return st.sampled_from((None, full))

    def hostile(self, dims):
        length = dims.sizes["T"]
        return [OBJECT, "mask", torch.zeros(length, dtype=torch.bool),
                torch.ones(length), torch.ones(length + 1, dtype=torch.bool)]  # fmt: skip


def _maps_obj(seed: int = 0):
    return _as_maps(_softmax_maps(Dims({"L": 2, "H": 2, "T": 5}), seed), seed)


def _scores():
    rng = np.random.default_rng(0)
    return {name: rng.random((2, 2)) for name in ("previous_token", "induction", "sink")}


class Scores(Kind):
    def valid(self, dims):
        return st.just(_scores())

    def hostile(self, dims):
        bad = _scores()
        bad["sink"] = np.full((3, 3), 0.5)
        nan = _scores()
        nan["sink"][0, 0] = NAN
        return [None, OBJECT, {}, {"sink": "high"}, bad, nan, [np.ones((2, 2))]]


class Data(Kind):
    def valid(self, dims):
        return st.just(_task_data())

    def hostile(self, dims):
        return [None, OBJECT, torch.zeros(2, 4, dtype=torch.long)]


MAPS = Maps()
FLAGS = {"exclude_bos": Bool(), "exclude_current_token": Bool()}
MEASURE = Choice(("mul", "abs"))
NAMES = Text(("maps", "weights"))
SEQ_LEN = Int(1, 2**20, typical=(1, 8))


def _pattern_kind():
    class Pattern(Kind):
        def valid(self, dims):
            t = dims.sizes["T"]
            return st.just(np.eye(t, k=-1))

        def hostile(self, dims):
            t = dims.sizes["T"]
            nan = np.eye(t)
            nan[0, 0] = NAN
            return [None, OBJECT, "eye", np.eye(t + 1), np.ones(t), nan,
                    torch.eye(t).to(torch.complex64)]  # fmt: skip

    return Pattern()


def _call(module: str, name: str):
    """The public function ``module.name``, looked up at call time."""
    import importlib

    return getattr(importlib.import_module(module), name)


def _eval_mode(model):
    with _call("attnviz.maps.forward", "eval_mode")(model):
        return model.training


def _layers(dims_t: int = 4):
    return [torch.rand(1, 2, dims_t, dims_t).softmax(-1) for _ in range(2)]


class Layers(Kind):
    """The per-layer (B, H, T, T) weights run() returns."""

    def valid(self, dims):
        return st.just(_layers(dims.sizes["T"]))

    def hostile(self, dims):
        t = dims.sizes["T"]
        wrong = [torch.rand(1, 2, t, t), torch.rand(1, 2, t + 1, t + 1)]
        return [None, OBJECT, "layers", [], wrong,
                [torch.rand(1, 2, t, t + 1)], [OBJECT], torch.rand(2, 1, 2, t, t)]  # fmt: skip


class Output(Kind):
    """A model's output holding (B, T, vocab) logits."""

    def valid(self, dims):
        return st.just(torch.randn(1, dims.sizes["T"], VOCAB))

    def edges(self, dims):
        return [(torch.randn(1, dims.sizes["T"], VOCAB),)]

    def hostile(self, dims):
        t = dims.sizes["T"]
        return [None, OBJECT, "logits", torch.randn(1, t, VOCAB + 1), torch.randn(t, VOCAB)]


EXPORT_ALLOWED = (ValueError, TypeError, OSError)  # OSError: paths; ExportError is one

ENTRIES: list[Entry] = [
    # ---------------------------------------------------------------- attention_maps
    Entry(
        "attnviz.maps.attention_maps.AttentionMaps",
        {
            "weights": Maps(attention_maps=False),
            "tokens": Labels(),
            "input_ids": Optional(Ids(upper=False)),
            "model_name": Text(("", "Tiny")),
        },
        dims={"T": (1, 6), "L": (1, 2), "H": (1, 2)},
        call=lambda weights, tokens, input_ids, model_name: _call(
            "attnviz.maps.attention_maps", "AttentionMaps"
        )(_four_d(weights), tokens, input_ids, model_name),
    ),  # fmt: skip
    Entry(
        "attnviz.maps.attention_maps.AttentionMaps.layer",
        {"maps": Receiver(_maps_obj), "layer": Int(0, 1)},
        call=lambda maps, layer: maps.layer(layer),
    ),
    Entry(
        "attnviz.maps.attention_maps.AttentionMaps.head",
        {"maps": Receiver(_maps_obj), "layer": Int(0, 1), "head": Int(0, 1)},
        call=lambda maps, layer, head: maps.head(layer, head),
    ),
    Entry(
        "attnviz.maps.attention_maps.to_numpy",
        {"name": Text(("value",)), "value": Maps("numbers", attention_maps=False)},
        dims=DIMS,
        positional=("name", "value"),
    ),
    Entry("attnviz.maps.attention_maps.weights_of", {"maps": MAPS}, dims=DIMS),
    Entry(
        "attnviz.maps.attention_maps.map_array",
        {"name": Text(("weights",)), "weights": Maps("maps")},
        dims=DIMS,
        positional=("name", "weights"),
    ),
    Entry(
        "attnviz.maps.attention_maps.as_ids",
        {"name": Text(("value",)), "value": Ids(upper=False, negative=False, shaped=False)},
        positional=("name", "value"),
    ),
    Entry(
        "attnviz.maps.attention_maps.ids_for",
        {
            "maps": Receiver(_maps_obj),
            "input_ids": Optional(Ids(upper=False)),
            "seq_len": Int(5, 5),
        },
        dims={"T": (5, 5)},
        positional=("maps", "input_ids", "seq_len"),
    ),
    Entry(
        "attnviz.maps.attention_maps.check_span",
        {"name": Text(("span",)), "span": Span(), "length": Int(1, 2**62, typical=(8, 8))},
        dims={"T": (8, 8)},
        positional=("name", "span", "length"),
    ),
    # ---------------------------------------------------------------- capture
    Entry(
        "attnviz.maps.capturing.capture",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "tokens": Optional(Labels()),
            "batch_index": Int(0, 0),
        },
        dims={"T": (1, 8)},
    ),  # fmt: skip
    Entry(
        "attnviz.maps.capturing.capture",
        {"model": Fixed((long_tiny,), bad=()), "input_ids": Ids(long=LONG_T)},
        dims={"T": (1, 8)},
    ),
    Entry(
        "attnviz.maps.capturing.capture",
        {"model": Fixed((mha,), bad=()), "input_ids": Embeddings()},
        dims={"T": (1, 8)},
    ),
    # ---------------------------------------------------------------- scores on maps
    Entry(
        "attnviz.maps.attention_rollout.rollout", {"maps": MAPS, "residual": Real(0, 1)}, dims=DIMS
    ),  # fmt: skip
    Entry("attnviz.maps.focus.token_importance", {"maps": MAPS}, dims=DIMS),
    Entry(
        "attnviz.maps.focus.sink_score",
        {"maps": MAPS, "position": Int(0, 0)},
        dims=DIMS,
    ),
    Entry(
        "attnviz.maps.focus.sink_score",
        {"maps": Receiver(_maps_obj), "position": Int(0, 4)},
    ),
    Entry("attnviz.maps.focus.sink_fraction", {"maps": MAPS, "eps": Real(0, 1)}, dims=DIMS),
    Entry(
        "attnviz.maps.focus.entropy",
        {"maps": MAPS, "normalize": Bool(), "per_query": Bool()},
        dims=DIMS,
    ),
    Entry("attnviz.maps.focus.head_entropy", {"maps": MAPS}, dims=DIMS),
    Entry(
        "attnviz.maps.focus.entropy_rows",
        {"weights": Maps(attention_maps=False)},
        dims=DIMS,
        call=lambda weights: _call("attnviz.maps.focus", "entropy_rows")(_four_d(weights)),
    ),
    Entry(
        "attnviz.maps.patterns.detection_pattern",
        {
            "kind": Choice(("previous_token", "duplicate_token", "induction")),
            "input_ids": Ids(upper=False, long=60_000),
        },
        dims={"T": (1, 8)},
    ),  # fmt: skip
    Entry(
        "attnviz.maps.patterns.pattern_score",
        {"maps": MAPS, "pattern": _pattern_kind(), **FLAGS, "error_measure": MEASURE},
        dims=DIMS,
    ),
    Entry(
        "attnviz.maps.patterns.previous_token_score",
        {"maps": MAPS, **FLAGS, "error_measure": MEASURE},
        dims=DIMS,
    ),
    Entry(
        "attnviz.maps.patterns.duplicate_token_score",
        {"maps": MAPS, "input_ids": Ids(upper=False), **FLAGS, "error_measure": MEASURE},
        dims=DIMS,
    ),
    Entry(
        "attnviz.maps.patterns.induction_score",
        {"maps": MAPS, "input_ids": Ids(upper=False), **FLAGS, "error_measure": MEASURE},
        dims=DIMS,
    ),
    Entry(
        "attnviz.maps.score_table.head_scores",
        {"maps": MAPS, "exclude_bos": Bool()},
        dims=DIMS,
    ),
    # ---------------------------------------------------------------- long inputs
    Entry(
        "attnviz.maps.overview.downsample",
        {
            "weights": Maps("maps"),
            "max_size": Int(1, 2**31, typical=(1, 4)),
            "reduce": Choice(("max", "mean")),
        },
        dims=DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.maps.overview.window",
        {
            "weights": Maps("maps"),
            "rows": Span(),
            "cols": Optional(Span()),
            "tokens": Optional(Labels(exact=False)),
        },
        dims=DIMS,
    ),  # fmt: skip
    # ---------------------------------------------------------------- streamed long maps
    Entry(
        "attnviz.maps.streamed.stream_capture",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "up_to_layer": Optional(Int(0, 1)),
            "tokens": Optional(Labels()),
            "kernel": Choice(("online", "fused")),
        },
        dims={"T": (1, 8)},
    ),  # fmt: skip
    Entry(  # T × T past the sweep's budget, streamed all the same
        "attnviz.maps.streamed.stream_capture",
        {"model": Fixed((long_tiny,), bad=()), "input_ids": Ids(long=LONG_T)},
        fixed={"kernel": "fused"},
        dims={"T": (1, 8)},
    ),
    Entry(
        "attnviz.maps.streamed.streamed_overview",
        {
            "streamed": STREAMED,
            "layer": Int(0, 1),
            "head": Int(0, 1),
            "max_size": Int(1, 2**31, typical=(1, 4)),
            "reduce": Choice(("max", "mean")),
        },
        dims={"T": (STREAMED_T, STREAMED_T)},
    ),  # fmt: skip
    Entry(
        "attnviz.maps.streamed.streamed_window",
        {
            "streamed": STREAMED,
            "layer": Int(0, 1),
            "head": Int(0, 1),
            "rows": Span(),
            "cols": Optional(Span()),
        },
        dims={"T": (STREAMED_T, STREAMED_T)},
    ),  # fmt: skip
    Entry(
        "attnviz.maps.long_reading.read_long_heads",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "tokens": Optional(Labels()),
            "thumbnail": Int(1, 4096, typical=(1, 4)),
            "overview": Int(1, 4096, typical=(1, 8)),
            "kernel": Choice(("online", "fused")),
        },
        dims={"T": (1, 8)},
    ),  # fmt: skip
    # ---------------------------------------------------------------- inputs
    Entry(
        "attnviz.maps.inputs.preset_input",
        {
            "preset": Choice(
                ("repeated tokens", "random tokens", "needle in a haystack", "copy", "your tokens")
            ),
            "length": Int(2, 2**16, typical=(2, 40)),
            "vocab": Int(4, 2**20, typical=(4, 64)),
            "seed": Int(0, 2**32 - 1, typical=(0, 9)),
            "text": Text(("the cat the cat", "3 4 5")),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.maps.inputs.typed_input",
        {
            "text": Text(("the cat the cat", "3 4 5")),
            "length": Int(2, 2**16, typical=(2, 40)),
            "vocab": Int(2, 2**20, typical=(2, 64)),
            "seed": Int(0, 2**32 - 1, typical=(0, 9)),
        },
    ),  # fmt: skip
    # ---------------------------------------------------------------- model_io, forward
    Entry("attnviz.maps.model_io.model_kind", {"model": MODEL}),
    Entry("attnviz.maps.model_io.model_kind", {"model": Fixed((mha,), bad=())}),
    Entry(
        "attnviz.maps.model_io.named_hooks",
        {"model": ANY_MODULE, "name": Text(("hook_pattern", "hook_z"))},
    ),
    Entry("attnviz.maps.model_io.model_limits", {"model": ANY_MODULE}),
    Entry(
        "attnviz.maps.model_io.check_token_ids",
        {
            "name": Text(("ids",)),
            "ids": Ids(shaped=False),
            "vocab": Given(Int(1, 2**62, typical=(16, 16))),
            "also": Text(("", " or -100")),
        },
        positional=("name", "ids", "vocab"),
        call=lambda name, ids, vocab, also: _call("attnviz.maps.model_io", "check_token_ids")(
            name, ids, vocab, also
        ),
    ),  # fmt: skip
    Entry(
        "attnviz.maps.model_io.prepare_inputs",
        {"model": ANY_MODULE, "input_ids": Ids(), "embeddings_ok": Bool()},
    ),
    Entry(
        "attnviz.maps.model_io.logits_of",
        {
            "model": ANY_MODULE,
            "out": Output(),
            "vocab": Given(Int(VOCAB, VOCAB)),
            "needed_for": Text(("to decode",)),
        },
        positional=("model", "out", "vocab"),
    ),  # fmt: skip
    Entry("attnviz.maps.forward.eval_mode", {"model": ANY_MODULE}, call=_eval_mode),
    Entry(
        "attnviz.maps.forward.run",
        {"model": MODEL, "batch": Ids(), "kind": Choice(("hook_pattern",))},
        positional=("model", "batch", "kind"),
    ),
    Entry(
        "attnviz.maps.forward.stack_layers",
        {"model": ANY_MODULE, "layers": Layers(), "into": Optional(Fixed((lambda: None,)))},
        positional=("model", "layers"),
    ),
    # ---------------------------------------------------------------- reading, running
    Entry(
        "attnviz.maps.reading.read_heads",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "tokens": Labels(),
            "thumbnail": Int(1, 4096, typical=(1, 8)),
        },
        dims={"T": (1, 8)},
        examples=6,
    ),  # fmt: skip
    Entry(
        "attnviz.maps.reading.read_heads",
        {
            "model": Fixed((long_tiny,), bad=()),
            "input_ids": Ids(long=LONG_T),
            "tokens": Optional(Labels()),
        },
        dims={"T": (1, 8)},
    ),  # fmt: skip
    Entry(
        "attnviz.maps.retrieval.retrieval_trace",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "needle": Span(),
            "n_generate": Int(1, CONTEXT - 7, typical=(1, 3)),
        },
        dims={"T": (8, 8)},
        examples=5,
    ),  # fmt: skip
    Entry(
        "attnviz.maps.retrieval.retrieval_score",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "needle": Span(),
            "n_generate": Int(1, CONTEXT - 7, typical=(1, 3)),
        },
        dims={"T": (8, 8)},
        examples=5,
    ),  # fmt: skip
    Entry(
        "attnviz.maps.ablation.ablate",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "targets": Targets(),
            "heads": Heads(),
            "mode": Choice(("zero", "mean")),
            "loss_mask": Mask(),
        },
        dims={"T": (2, 8)},
        examples=8,
    ),  # fmt: skip
    Entry(
        "attnviz.maps.ablation.ablation_table",
        {
            "model": MODEL,
            "input_ids": Ids(),
            "targets": Targets(),
            "mode": Choice(("zero", "mean")),
            "loss_mask": Mask(),
        },
        dims={"T": (2, 8)},
        examples=5,
    ),  # fmt: skip
    Entry("attnviz.maps.roles.head_roles", {"scores": Scores()}),
    Entry("attnviz.maps.roles.evaluate_heads", {"model": MODEL, "data": Data()}, examples=3),
    Entry("attnviz.maps.roles.loss_targets", {"data": Data()}),
    # ---------------------------------------------------------------- export
    Entry("attnviz.export.figures_of", {"view": Views()}),
    Entry(
        "attnviz.export.to_html",
        {
            "view": Views(),
            "path": Optional(Path_(".html")),
            "title": Optional(Text(("heads",))),
            "max_width": Int(1, 20_000, typical=(200, 2000)),
        },
        allowed=EXPORT_ALLOWED,
        examples=5,
    ),  # fmt: skip
    Entry(
        "attnviz.export.find_chromium",
        {"executable": Optional(Path_(""))},
        allowed=EXPORT_ALLOWED,
    ),
    Entry(
        "attnviz.export.to_png",
        {
            "view": Views(),
            "path": Optional(Path_(".png")),
            "scale": Real(0.5, 4, typical=(1, 1)),
            "title": Optional(Text(("heads",))),
            "timeout": Real(0, 600, low_open=True, typical=(60, 60)),
        },
        allowed=EXPORT_ALLOWED,
        examples=2,
        deadline=60,
    ),  # fmt: skip
    Entry(
        "attnviz.snapshots.snapshot",
        {
            "view": PanelViews(),
            "max_width": Int(100, 4000, typical=(200, 1000)),
            "colours": Int(2, 256, typical=(16, 256)),
            "timeout": Real(0, 600, low_open=True, typical=(60, 60)),
        },
        allowed=EXPORT_ALLOWED,
        examples=2,
        deadline=60,
    ),  # fmt: skip
    Entry("attnviz.snapshots.requested", {}),
    Entry("attnviz.snapshots.enable", {}, allowed=EXPORT_ALLOWED),
    Entry("attnviz.snapshots.disable", {}),
    Entry(
        "attnviz.export.download_button",
        {
            "view": Views(),
            "filename": Text(("maps.html",)),
            "label": Text(("download",)),
            "title": Optional(Text(("heads",))),
        },
        examples=3,
    ),  # fmt: skip
]

EXCLUDED: dict[str, str] = {
    "attnviz.export.ExportError": "an exception class: its one argument is the message",
    "attnviz.maps.focus.Entropy": "a result record (NamedTuple) built by head_entropy",
    "attnviz.maps.overview.Pooled": "a result record (NamedTuple) built by downsample",
    "attnviz.maps.overview.Window": "a result record (NamedTuple) built by window",
    "attnviz.maps.streamed.StreamedMaps": "a result record built by stream_capture",
    "attnviz.maps.long_reading.LongReading": "a result record built by read_long_heads",
    "attnviz.maps.reading.HeadReading": "a result record built by read_heads",
    "attnviz.maps.retrieval.RetrievalTrace": "a result record built by retrieval_trace",
    "attnviz.maps.roles.Evaluation": "a result record built by evaluate_heads",
}


def _four_d(weights: Any) -> Any:
    """Pass (L, H, T, T) draws on; 2-D and 3-D edges (valid for weights_of) as 4-D."""
    if isinstance(weights, (np.ndarray, torch.Tensor)) and weights.ndim in (2, 3):
        if weights.dtype != torch.bool and weights.shape[-1] == weights.shape[-2]:
            return weights.reshape((1,) * (4 - weights.ndim) + tuple(weights.shape))
    return weights
