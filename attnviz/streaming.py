"""StreamingLLM on real text: the loss by position under a sliding window, with and without sinks.

Xiao et al., "Efficient Streaming Language Models with Attention Sinks" (ICLR 2024,
arXiv 2309.17453; PAPERS.md §6) keep a few first tokens (the attention sinks) next to a
rolling window of recent ones: a window alone breaks once the first tokens leave it,
while 4 sinks + the window keep the perplexity stable (to 4M tokens on Llama-2), and one
dedicated sink token in pretraining is enough. This module
measures the same comparison on the course's real-text model (``attnviz.text_models``):
each policy is run as one masked pass under ``attnviz.kv_cache.cache_policies`` (which
equals token-by-token decoding with an evicting cache, positions counted inside the
cache), and the cross-entropy of every next character is read by position, past the
training length (256 tokens) too, where full attention meets RoPE distances it never saw.
Every training sequence of the course's models starts with ``BOS``: a sink token in
pretraining, so one sink is expected to do what four do for Llama-2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from attnviz.kv_cache import FULL, MAX_CACHE, CachePolicy, cache_policies
from attnviz.maps.attention_maps import as_ids
from attnviz.maps.capturing import capture
from attnviz.models import TinyTransformer
from attnviz.sinks import _check_ids, _check_model, sink_passages
from attnviz.text_models import TRAIN_LENGTH
from attnviz.validation import check_int

# the recent tokens a streaming cache keeps. Measured on ``shakespeare`` (4 passages of 768
# tokens, seeds 0-2): past the training length the window alone loses 5.1-5.2 nats per
# character more than 1 sink + the window at a window of 8, 3.8-3.9 more at 16, 2.6-2.7 at
# 32, 2.0-2.2 at 48 and 1.8-1.9 at 64: the sink's part is plain at every one of them. 16 (chosen
# on the weights before the copying curriculum, where 32 lost only 0.04) keeps the cache
# short, so that streaming a head that reads far back shows (``retrieval_heads.DUO_POLICY``)
WINDOW = 16
SINK_COUNTS = (1, 2, 4, 8)  # the sink counts of StreamingLLM's ablation (Xiao et al. 2024)
MAX_PASSAGES = 64


def standard_policies(
    window: int = WINDOW, sinks: Iterable[int] = SINK_COUNTS
) -> dict[str, CachePolicy]:
    """The policies lesson 08 compares, by label, in order: window only, k sinks + window, full.

    ``{"window 16": ..., "1 sink + window 16": ..., ..., "full": FULL}``.
    """
    window = check_int("window", window, low=1, high=MAX_CACHE)
    counts = _check_sink_counts(sinks)
    policies = [CachePolicy(window=window)]
    policies += [CachePolicy(sinks=k, window=window) for k in counts]
    policies.append(FULL)
    return {policy.label(): policy for policy in policies}


def loss_by_position(
    model: TinyTransformer,
    ids: Any,
    policy: CachePolicy | Mapping[tuple[int, int], CachePolicy] = FULL,
) -> np.ndarray:
    """Cross-entropy (nats) of predicting ids[t + 1] from ids[: t + 1] under a cache policy.

    ``ids`` (T,) gives (T − 1,); (B, T) gives (B, T − 1). ``policy`` is one
    ``CachePolicy`` for every head or ``{(layer, head): CachePolicy}`` (other heads full),
    as ``attnviz.kv_cache.cache_policies`` takes it.
    """
    model = _check_model(model)
    ids = as_ids("ids", ids)
    one_row = ids.dim() == 1
    ids = _check_ids(model, ids, min_length=2)
    if not isinstance(policy, (CachePolicy, Mapping)):
        raise TypeError(
            "policy must be a CachePolicy or a {(layer, head): CachePolicy} dict, "
            f"got {type(policy).__name__}"
        )
    with torch.inference_mode(), cache_policies(model, policy):
        logits = model(ids[:, :-1])  # (B, T − 1, vocab)
    losses = F.cross_entropy(logits.transpose(1, 2).float(), ids[:, 1:], reduction="none")
    losses = losses.double().numpy()  # (B, T − 1)
    return losses[0] if one_row else losses


@dataclass(frozen=True)
class StreamingCurves:
    """Mean loss by position for each cache policy, on held-out passages (lesson 08).

    ``positions``: the bin centres (the index of the predicted character, 1 … length − 1);
    ``losses``: {policy label: mean loss per bin}; ``mean_past_training``: {label: mean
    loss over the characters predicted with more than ``train_length`` tokens read, i.e.
    positions ≥ train_length + 1}; ``train_length``, ``window``, ``length``: the settings;
    ``mean_within_training``: {label: mean loss over positions 1 … train_length}, the
    reference each policy has where the model was trained.
    """

    positions: np.ndarray
    losses: dict[str, np.ndarray]
    mean_past_training: dict[str, float]
    train_length: int
    window: int
    length: int
    mean_within_training: dict[str, float] = field(default_factory=dict)


def streaming_curves(
    model: TinyTransformer,
    *,
    length: int = 1024,
    window: int = WINDOW,
    sinks: Iterable[int] = SINK_COUNTS,
    passages: int = 4,
    bin_size: int = 64,
    seed: int = 0,
) -> StreamingCurves:
    """StreamingLLM's comparison on ``passages`` held-out passages of ``length`` tokens.

    Every policy of ``standard_policies(window, sinks)`` runs on the same passages
    (``BOS`` + held-out characters from seeded offsets, ``attnviz.sinks.sink_passages``);
    the per-position losses are averaged over the passages and over bins of
    ``bin_size`` positions. Xiao et al. 2024 (arXiv 2309.17453) report the window alone
    failing and 4 sinks recovering full attention's perplexity on Llama-2 at millions of
    tokens; here the model is tiny and trained on 256-token sequences, so read what it does.
    """
    model = _check_model(model)
    length = check_int("length", length, low=TRAIN_LENGTH + 2, high=model.config.context)
    policies = standard_policies(window, sinks)
    passages = check_int("passages", passages, low=1, high=MAX_PASSAGES)
    bin_size = check_int("bin_size", bin_size, low=1, high=length - 1)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    ids = sink_passages(passages, length, seed=seed)  # (P, length)
    positions = np.arange(1, length)  # the predicted characters
    starts = np.arange(0, length - 1, bin_size)
    centres = np.add.reduceat(positions, starts) / np.diff(np.append(starts, length - 1))
    losses, past, within = {}, {}, {}
    for label, policy in policies.items():
        rows = np.stack([loss_by_position(model, row, policy) for row in ids])  # (P, T − 1)
        mean = rows.mean(axis=0)  # (T − 1,)
        losses[label] = np.add.reduceat(mean, starts) / np.diff(np.append(starts, length - 1))
        past[label] = float(mean[TRAIN_LENGTH:].mean())
        within[label] = float(mean[:TRAIN_LENGTH].mean())
    return StreamingCurves(
        positions=centres,
        losses=losses,
        mean_past_training=past,
        train_length=TRAIN_LENGTH,
        window=policies[next(iter(policies))].window,
        length=length,
        mean_within_training=within,
    )


@dataclass(frozen=True)
class CacheReading:
    """What the model does under one cache (``read_under_cache``).

    ``weights``: every head's attention on the map passage, (L, H, T, T), NaN where the
    cache dropped a key (and above the diagonal: 0 there); ``losses``: the loss (nats
    per character) of predicting each next character of the loss passages, (T' − 1,),
    the mean over the passages; ``policy``: the cache."""

    weights: np.ndarray
    losses: np.ndarray
    policy: CachePolicy

    def loss_after(self, position: int) -> float:
        """The mean loss of the predictions from ``position`` on (for a window cache: its
        window, the first prediction made after an eviction)."""
        position = check_int("position", position, low=0, high=len(self.losses) - 1)
        return float(self.losses[position:].mean())


def read_under_cache(
    model: TinyTransformer, map_ids: Any, loss_ids: Any, policy: CachePolicy = FULL
) -> CacheReading:
    """The attention maps of ``map_ids`` (T,) and the loss by position on ``loss_ids``
    (P, T') under one cache ``policy`` for every head: a head's map with the keys it
    evicted blanked, and what keeping them (or not) costs in loss (lesson 08's dashboard).

    Each loss passage runs on its own (``loss_by_position``), so long passages stay within
    the memory budget one at a time."""
    model = _check_model(model)
    if not isinstance(policy, CachePolicy):
        raise TypeError(f"policy must be a CachePolicy, got {type(policy).__name__}")
    map_ids = _check_ids(model, map_ids, name="map_ids", rows=False)[0]
    loss_ids = _check_ids(model, loss_ids, min_length=2, name="loss_ids")
    with cache_policies(model, policy):
        weights = capture(model, map_ids).weights.astype(np.float64)
    losses = np.stack([loss_by_position(model, row, policy) for row in loss_ids])
    length = map_ids.shape[-1]
    dropped = (~policy.keeps(length).numpy()) & np.tri(length, dtype=bool)
    weights[..., dropped] = np.nan
    return CacheReading(weights=weights, losses=losses.mean(axis=0), policy=policy)


def _check_sink_counts(sinks: Any) -> tuple[int, ...]:
    if isinstance(sinks, (str, bytes)) or not isinstance(sinks, Iterable):
        raise TypeError(f"sinks must be a sequence of sink counts, got {type(sinks).__name__}")
    counts = tuple(check_int("sinks[i]", k, low=1, high=MAX_CACHE) for k in sinks)
    if len(set(counts)) != len(counts):
        raise ValueError(f"sinks must be distinct counts, got {counts}")
    return counts


__all__ = [
    "SINK_COUNTS",
    "WINDOW",
    "CacheReading",
    "StreamingCurves",
    "loss_by_position",
    "read_under_cache",
    "standard_policies",
    "streaming_curves",
]
