"""Table entries for the long-context area (see promise.table): lesson 08's computations,
``attnviz.sinks`` and ``attnviz.streaming`` (``attnviz.retrieval_heads`` joins here too).

Models are tiny rotary TinyTransformers over the Shakespeare characters, built once per
process and cached, so an entry's sweep stays fast; ``twin_comparison`` reads the shipped
twins, as the lesson does.
"""

from __future__ import annotations

from functools import cache

from torch import nn

from .kinds import OBJECT, Bool, Entry, Fixed, Int, Optional, Real, Seq
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

EXCLUDED: dict[str, str] = {
    "attnviz.sinks.KeyBias": "a result record built by first_key_bias",
    "attnviz.streaming.StreamingCurves": "a result record built by streaming_curves",
}
