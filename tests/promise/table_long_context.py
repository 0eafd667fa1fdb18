"""Table entries for the long-context area (see promise.table): lesson 08's computations,
``attnviz.sinks`` and ``attnviz.streaming`` (``attnviz.retrieval_heads`` joins here too).

Models are tiny rotary TinyTransformers over the Shakespeare characters, built once per
process and cached, so an entry's sweep stays fast; ``twin_comparison`` reads the shipped
twins, as the lesson does.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch import nn

from attnviz.kv_cache import FULL

from .kinds import OBJECT, Bool, Entry, Fixed, Int, Optional, Real, Receiver, Seq
from .table_maps import Ids

CONTEXT = 1024  # long enough for streaming_curves' inputs past the training length (256)
DIMS = {"T": (2, 8), "B": (1, 2)}


@cache
def tiny_text(operator: str = "softmax") -> nn.Module:
    from attnviz.models import TinyConfig, TinyTransformer
    from attnviz.shakespeare import VOCAB_SIZE

    config = TinyConfig(
        n_layers=2, n_heads=2, d_model=16, vocab_size=VOCAB_SIZE, context=CONTEXT,
        positional="rope", operator=operator,
    )  # fmt: skip
    return TinyTransformer(config, seed=0)


def _vocab() -> int:
    from attnviz.shakespeare import VOCAB_SIZE

    return VOCAB_SIZE


def _text_length() -> int:
    from attnviz.shakespeare import held_out_text

    return len(held_out_text())


class _NoAttention(nn.Module):
    def forward(self, x):
        return x


def _mixer_model() -> nn.Module:
    from attnviz.models import TinyConfig, TinyTransformer

    config = TinyConfig(n_layers=1, n_heads=2, d_model=8, vocab_size=_vocab(), context=16,
                        mixer="linear_attention", positional="none")  # fmt: skip
    return TinyTransformer(config, seed=0)


def _bidirectional() -> nn.Module:
    from attnviz.models import TinyConfig, TinyTransformer

    config = TinyConfig(n_layers=1, n_heads=2, d_model=8, vocab_size=_vocab(), context=16,
                        causal=False)  # fmt: skip
    return TinyTransformer(config, seed=0)


def _policies() -> tuple:
    from attnviz.kv_cache import FULL, CachePolicy

    return (
        lambda: FULL,
        lambda: CachePolicy(window=2),
        lambda: CachePolicy(sinks=1, window=2),
        lambda: {(0, 1): CachePolicy(sinks=1, window=1)},
    )


def _bad_policies() -> tuple:
    from attnviz.kv_cache import CachePolicy

    return (None, OBJECT, "full", {(9, 9): CachePolicy(window=2)}, {"head": CachePolicy()})


@cache
def _cache_reading() -> object:
    from attnviz.kv_cache import CachePolicy
    from attnviz.shakespeare import held_out_passage
    from attnviz.streaming import read_under_cache

    ids = held_out_passage(8)  # 7 predictions: positions 0 to 6
    return read_under_cache(tiny_text(), ids, ids, CachePolicy(sinks=1, window=2))


MODEL = Fixed(
    (tiny_text, lambda: tiny_text("sigmoid")),
    bad=(None, OBJECT, "model", _NoAttention(), _mixer_model(), _bidirectional()),
)
IDS = Ids(vocab=_vocab())
EPSILON = Real(0.0, 1.0)

ENTRIES: list[Entry] = [
    Entry(
        "attnviz.sinks.sink_passages",
        {
            "count": Int(1, 4096, typical=(1, 4)),
            "length": Int(2, _text_length() + 1, typical=(2, 70)),
            "seed": Int(0, 2**63 - 1),
        },
        examples=5,
    ),
    Entry(
        "attnviz.sinks.token_importance", {"model": MODEL, "ids": IDS, "proxy": Bool()}, dims=DIMS
    ),
    Entry("attnviz.sinks.sink_scores", {"model": MODEL, "ids": IDS, "proxy": Bool()}, dims=DIMS),
    Entry(
        "attnviz.sinks.sink_rate",
        {"model": MODEL, "ids": IDS, "epsilon": EPSILON, "proxy": Bool()},
        dims=DIMS,
    ),
    Entry("attnviz.sinks.first_key_bias", {"model": MODEL, "ids": IDS}, dims=DIMS),
    Entry(
        "attnviz.sinks.twin_comparison",
        {"ids": Optional(IDS), "epsilon": EPSILON},
        dims=DIMS,
        examples=2,
    ),
    Entry(
        "attnviz.streaming.standard_policies",
        {"window": Int(1, 2**16, typical=(1, 128)), "sinks": Seq(Int(1, 2**16), length=(0, 4))},
    ),
    Entry(
        "attnviz.streaming.loss_by_position",
        {"model": MODEL, "ids": IDS, "policy": Fixed(_policies(), bad=_bad_policies())},
        dims=DIMS,
    ),
    Entry(
        "attnviz.streaming.read_under_cache",
        {
            "model": MODEL,
            "map_ids": IDS,
            "loss_ids": IDS,
            "policy": Fixed(_policies()[:3], bad=(None, OBJECT, "full", {(0, 1): FULL})),
        },
        dims=DIMS,
        nan_ok="a map is NaN where the cache evicted a key",
    ),
    Entry(
        "attnviz.streaming.CacheReading.loss_after",
        {"reading": Receiver(_cache_reading), "position": Int(0, 6)},
        call=lambda reading, position: reading.loss_after(position),
    ),
    Entry(
        "attnviz.streaming.streaming_curves",
        {
            "model": MODEL,
            "length": Int(258, CONTEXT, typical=(258, 300)),
            "window": Int(1, 2**16, typical=(1, 80)),
            "sinks": Seq(Int(1, 2**16), length=(0, 3)),
            "passages": Int(1, 64, typical=(1, 2)),
            "bin_size": Int(1, 257, typical=(1, 64)),
            "seed": Int(0, 2**63 - 1),
        },
        examples=4,
    ),
]

# ------------------------------------------------------------- attnviz.retrieval_heads


@cache
def _needles() -> list:
    from attnviz.retrieval_heads import needle_tests

    return needle_tests(lengths=(64,), depths=(0.5,), needles=1)


def _two_needles() -> list:
    from attnviz.retrieval_heads import needle_tests

    return needle_tests(lengths=(64, 80), depths=(0.0, 1.0), needles=1, seed=3)


def _passage() -> object:
    from attnviz.shakespeare import held_out_passage

    return held_out_passage(40)


def _streaming() -> object:
    from attnviz.kv_cache import CachePolicy

    return CachePolicy(sinks=1, window=8)


@cache
def _mixed_curve() -> object:
    from attnviz.retrieval_heads import mixed_cache_curve

    return mixed_cache_curve(tiny_text(), _needles(), _streaming())


NEEDLES = Fixed((_needles, _two_needles), bad=(None, OBJECT, "needle", [], [OBJECT], [1, 2]))
NEEDLES_OR_IDS = Fixed(
    (_needles, _passage, lambda: _passage().tolist()),
    bad=(None, OBJECT, "ids", [], torch.rand(40), torch.zeros(1, 1, 40, dtype=torch.long)),
)
PASSAGE = Fixed(
    (_passage, lambda: _passage().tolist()),
    bad=(None, OBJECT, "ids", [], torch.rand(40), _needles()),
)
STREAMING = Fixed((_streaming,), bad=(None, OBJECT, "window", FULL))
RANKING = Fixed(
    (lambda: np.arange(4.0).reshape(2, 2),),
    bad=(OBJECT, "rank", np.zeros((3, 3)), np.full((2, 2), np.nan)),
)
CURVE = Fixed((_mixed_curve,), bad=(None, OBJECT, "curve", {}))
RETRIEVAL = [
    Entry(
        "attnviz.retrieval_heads.needle_tests",
        {
            "lengths": Seq(Int(64, 4096, typical=(64, 300)), length=(1, 3)),
            "depths": Seq(Real(0.0, 1.0), length=(1, 3)),
            "needles": Int(1, 64, typical=(1, 3)),
            "seed": Int(0, 2**32 - 1),
        },
        examples=5,
    ),
    Entry(
        "attnviz.retrieval_heads.retrieval_scores", {"model": MODEL, "tests": NEEDLES}, examples=3
    ),
    Entry(
        "attnviz.retrieval_heads.needle_accuracy", {"model": MODEL, "tests": NEEDLES}, examples=3
    ),
    Entry(
        "attnviz.retrieval_heads.streaming_head_ranking",
        {"model": MODEL, "ids": NEEDLES_OR_IDS, "policy": STREAMING},
        examples=3,
    ),
    Entry(
        "attnviz.retrieval_heads.evicted_attention",
        {"model": MODEL, "ids": PASSAGE, "policy": STREAMING},
        examples=3,
    ),
    Entry(
        "attnviz.retrieval_heads.mixed_cache_curve",
        {
            "model": MODEL,
            "ids": NEEDLES_OR_IDS,
            "policy": STREAMING,
            "ranking": Optional(RANKING),
        },
        examples=3,
    ),
    Entry(
        "attnviz.retrieval_heads.memory_saved_at_equal_loss",
        {"curve": CURVE, "tolerance": Real(0.0, 10.0)},
    ),
]
ENTRIES += RETRIEVAL


EXCLUDED: dict[str, str] = {
    "attnviz.sinks.KeyBias": "a result record built by first_key_bias",
    "attnviz.streaming.StreamingCurves": "a result record built by streaming_curves",
    "attnviz.streaming.CacheReading": "a result record built by read_under_cache",
    "attnviz.retrieval_heads.NeedleTest": "a record built by needle_tests",
    "attnviz.retrieval_heads.MixedCache": "a result record built by mixed_cache_curve",
}
