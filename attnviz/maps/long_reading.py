"""One reading of a model's heads on an input too long to hold its maps (lesson 02).

The streamed counterpart of ``reading.read_heads``: lesson 02's dashboard shows every
head's thumbnail, entropy and first-token sink, and one head's overview and zoom. Past
4,096 tokens the maps are never materialised (a 65,536-token head is 16 GB of float32):
``streamed.stream_capture`` keeps q and k, and one pass over each head's recomputed
tiles gives its overview (``streamed_overview``'s max-pooled blocks), its log-sum-exp
and its per-query entropies together. The sink α₁ = mean_t exp(q_t·k_0·scale − lse_t)
needs no further pass. Thumbnails are the overviews pooled again (blocks of whole
overview cells). The zoom is cut later, on demand, by ``streamed_window``.

Example:
    >>> from attnviz.lesson_models import load_lesson_model
    >>> from attnviz.maps.inputs import preset_input
    >>> model = load_lesson_model("induction_rope")
    >>> ids, labels = preset_input("repeated tokens", 8192, 48, 0)
    >>> reading = read_long_heads(model, ids, labels)  # doctest: +SKIP
    >>> reading.overviews.shape, reading.entropy.shape  # doctest: +SKIP
    ((2, 2, 256, 256), (2, 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnviz.maps.focus import _summarise
from attnviz.maps.overview import downsample
from attnviz.maps.reading import MAX_THUMBNAIL
from attnviz.maps.streamed import StreamedMaps, _pool_strips, stream_capture
from attnviz.validation import check_choice, check_int

MAX_OVERVIEW = 4096  # pixels a side of an overview


@dataclass(frozen=True)
class LongReading:
    """What lesson 02's views show of a long input, with its maps streamed, never held."""

    maps: StreamedMaps  # q, k per head (lse below the last layer): any window on demand
    entropy: np.ndarray  # (L, H) mean normalised entropy, 1 = uniform over visible keys
    entropy_nats: np.ndarray  # (L, H) mean entropy in nats
    sink: np.ndarray  # (L, H) alpha_1, the mean attention on position 0
    thumbnails: np.ndarray  # (L, H, <= thumbnail, <= thumbnail) max-pooled maps
    overviews: np.ndarray  # (L, H, <= overview, <= overview) max-pooled maps
    overview_edges: np.ndarray  # (n + 1,): overview block i pools positions [e_i, e_{i+1})


def read_long_heads(
    model: torch.nn.Module,
    input_ids: Any,
    tokens: Any = None,
    *,
    thumbnail: int = 48,
    overview: int = 256,
    kernel: str = "fused",
) -> LongReading:
    """Stream ``model`` over a long input and measure every head (lesson 02's long view).

    ``model``, ``input_ids`` (up to 65,536 tokens), ``tokens`` and ``kernel`` as for
    ``stream_capture``; ``overview`` (1 to ``MAX_OVERVIEW``) and ``thumbnail`` (1 to
    ``MAX_THUMBNAIL``) are the most pooled rows and columns of each head's overview and
    thumbnail. Entropies and sinks are those ``read_heads`` reports of the same maps.
    """
    thumbnail = check_int("thumbnail", thumbnail, low=1, high=MAX_THUMBNAIL)
    overview = check_int("overview", overview, low=1, high=MAX_OVERVIEW)
    kernel = check_choice("kernel", kernel, ("online", "fused"))
    streamed = stream_capture(model, input_ids, tokens=tokens, kernel=kernel)
    n_layers, n_heads, seq_len = streamed.n_layers, streamed.n_heads, streamed.seq_len
    rows = np.empty((n_layers, n_heads, seq_len))  # per-query entropies, nats
    lse = torch.empty(n_layers, n_heads, seq_len)  # each head's, from its overview's pass
    pooled = []
    for layer in range(n_layers):
        for head in range(n_heads):
            q, k = streamed.q[layer, head], streamed.k[layer, head]
            view, lse[layer, head], rows[layer, head] = _pool_strips(
                streamed, q, k, overview, "max", entropy=True
            )
            pooled.append(view.values)
    overviews = np.stack(pooled).reshape(n_layers, n_heads, *pooled[0].shape)
    first_key = streamed.q @ streamed.k[:, :, :1].transpose(-1, -2)  # (L, H, T, 1)
    sink = torch.exp(first_key[..., 0] * streamed.scale - lse).double().mean(-1)
    return LongReading(
        maps=streamed,
        entropy=_summarise(rows, streamed.causal, normalize=True),
        entropy_nats=_summarise(rows, streamed.causal),
        sink=sink.numpy(),
        thumbnails=downsample(overviews, thumbnail, reduce="max").values,
        overview_edges=view.row_edges,
        overviews=overviews,
    )


__all__ = ["MAX_OVERVIEW", "LongReading", "read_long_heads"]
