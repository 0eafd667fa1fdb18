"""One reading of a model's heads on one input: the maps and what the views show of them.

Lesson 02's dashboard reads a model on an input in one go: the model runs once, every
head's weights are captured (``capture``), and each head gets its mean entropy (normalised
and in nats), its first-token sink score α₁ and a pooled thumbnail of its map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnviz.maps.attention_maps import AttentionMaps
from attnviz.maps.capturing import capture
from attnviz.maps.focus import head_entropy, sink_score
from attnviz.maps.overview import downsample
from attnviz.validation import check_int

MAX_THUMBNAIL = 4096  # pixels a side: a thumbnail past this is no thumbnail


@dataclass(frozen=True)
class HeadReading:
    """Everything lesson 02's views show about one input: maps, per-head numbers, thumbnails."""

    maps: AttentionMaps
    entropy: np.ndarray  # (L, H) mean normalised entropy, 1 = uniform over visible keys
    entropy_nats: np.ndarray  # (L, H) mean entropy in nats
    sink: np.ndarray  # (L, H) alpha_1, the mean attention on position 0
    thumbnails: np.ndarray  # (L, H, <= thumbnail, <= thumbnail) max-pooled maps


def read_heads(
    model: torch.nn.Module, input_ids: Any, tokens: list[str], *, thumbnail: int = 48
) -> HeadReading:
    """Capture ``model``'s attention on ``input_ids`` and measure every head (lesson 02).

    ``thumbnail``: each head's map max-pooled to at most this many rows and columns
    (1 to ``MAX_THUMBNAIL`` = 4096). ``input_ids`` and ``tokens`` as for :func:`capture`.
    """
    thumbnail = check_int("thumbnail", thumbnail, low=1, high=MAX_THUMBNAIL)
    if isinstance(input_ids, np.ndarray) and input_ids.dtype.kind == "f":
        input_ids = torch.from_numpy(input_ids)  # embeddings, as a tensor would be
    captured = capture(model, input_ids, tokens=tokens)
    entropy = head_entropy(captured)  # both entropies from one pass over the maps
    return HeadReading(
        maps=captured,
        entropy=entropy.normalized,
        entropy_nats=entropy.nats,
        sink=sink_score(captured),
        thumbnails=downsample(captured.weights, thumbnail, reduce="max").values,
    )


__all__ = ["HeadReading", "read_heads"]
