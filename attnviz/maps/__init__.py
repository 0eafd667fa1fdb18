"""Attention maps: capture them from a model, score the heads, pool them for display.

Lesson 02 (reading attention maps) captures the weights a model computes and reads
them: one (query × key) heat map per head, its entropy, its attention sink.
Lesson 03 (heads with jobs) scores every head against a job description:
previous-token, duplicate-token and induction heads (Olsson et al. 2022, with the
detection patterns of TransformerLens' ``head_detector``), first-token sinks (Gu et
al. 2025, arXiv 2410.10781), retrieval heads on the needle task (Wu et al. 2024,
arXiv 2404.15574); it follows information through the layers with attention
rollout (Abnar & Zuidema 2020, arXiv 2005.00928) and asks whether a head matters by
ablating it.

The pieces, each one idea (import from ``attnviz.maps``; the modules are the map):

* ``attention_maps`` — :class:`AttentionMaps`, and the readers that accept it or a
  bare array (and token ids, spans) at the door of every function below: a leaf, which
  the other modules import.
* Capture: ``capturing`` — :func:`capture`; ``model_io`` — a model's kind,
  vocabulary, context and logits; ``forward`` — one forward pass that keeps the
  weights, per kind of model (Hugging Face, ``hook_pattern`` hooks,
  ``nn.MultiheadAttention``).
* Scores on the maps alone, each (L, H): ``patterns`` — :func:`detection_pattern`,
  :func:`pattern_score`, :func:`previous_token_score`,
  :func:`duplicate_token_score`, :func:`induction_score`; ``focus`` —
  :func:`token_importance`, :func:`sink_score`, :func:`sink_fraction`,
  :func:`entropy` (:func:`head_entropy`: both entropies in one pass);
  ``attention_rollout`` — :func:`rollout`; ``score_table`` — :func:`head_scores`
  (all the scores above at once: lesson 03's table).
* Scores that run the model: ``retrieval`` — :func:`retrieval_trace`,
  :func:`retrieval_score`; ``ablation`` — :func:`ablate`, :func:`ablation_table`.
* Long inputs: ``overview`` — :func:`downsample` (a pooled overview),
  :func:`window` (a labelled full-resolution region); past what a map can hold (up to
  65,536 tokens, lesson 07), ``streamed`` — :func:`stream_capture` (q and k of every
  head, and the log-sum-exp below the layer shown, by online softmax),
  :func:`streamed_overview` (one strip pass: the pooled map and its lse together),
  :func:`streamed_window` (the same views, recomputed tile by tile, never T × T), and
  ``long_reading`` — :func:`read_long_heads` (lesson 02's dashboard past 4,096 tokens).
* What to read, and one reading: ``inputs`` — :func:`preset_input` (task presets and
  typed words as ids and labels); ``reading`` — :func:`read_heads` (capture once, then
  every head's entropy, sink score and thumbnail: lesson 02's dashboard).

Shapes: ``weights`` are (L, H, T, T) = (layers, heads, query, key); row t of a head
holds how query t spread its attention over the keys. Every head score is an
(L, H) array. Positions are 0-based, so the paper's "first token" is position 0.

Example:
    >>> import torch
    >>> mha = torch.nn.MultiheadAttention(embed_dim=8, num_heads=2)
    >>> maps = capture(mha, torch.randn(5, 8))
    >>> maps.weights.shape, sink_score(maps).shape
    ((1, 2, 5, 5), (1, 2))

This package computes only; it never imports Panel or Bokeh.
"""

from __future__ import annotations

from attnviz.maps.ablation import IGNORE_INDEX, ablate, ablation_table
from attnviz.maps.attention_maps import AttentionMaps
from attnviz.maps.attention_rollout import rollout
from attnviz.maps.capturing import capture
from attnviz.maps.focus import (
    Entropy,
    entropy,
    head_entropy,
    sink_fraction,
    sink_score,
    token_importance,
)
from attnviz.maps.inputs import INPUT_PRESETS, preset_input, typed_input
from attnviz.maps.long_reading import LongReading, read_long_heads
from attnviz.maps.overview import Pooled, Window, downsample, window
from attnviz.maps.patterns import (
    HEAD_KINDS,
    ErrorMeasure,
    detection_pattern,
    duplicate_token_score,
    induction_score,
    pattern_score,
    previous_token_score,
)
from attnviz.maps.reading import HeadReading, read_heads
from attnviz.maps.retrieval import RetrievalTrace, retrieval_score, retrieval_trace
from attnviz.maps.score_table import head_scores
from attnviz.maps.streamed import (
    StreamedMaps,
    stream_capture,
    streamed_overview,
    streamed_window,
)

__all__ = [
    "HEAD_KINDS",
    "IGNORE_INDEX",
    "INPUT_PRESETS",
    "AttentionMaps",
    "Entropy",
    "ErrorMeasure",
    "HeadReading",
    "LongReading",
    "Pooled",
    "RetrievalTrace",
    "StreamedMaps",
    "Window",
    "ablate",
    "ablation_table",
    "capture",
    "detection_pattern",
    "downsample",
    "duplicate_token_score",
    "entropy",
    "head_entropy",
    "head_scores",
    "induction_score",
    "pattern_score",
    "preset_input",
    "previous_token_score",
    "read_heads",
    "read_long_heads",
    "retrieval_score",
    "retrieval_trace",
    "rollout",
    "sink_fraction",
    "sink_score",
    "stream_capture",
    "streamed_overview",
    "streamed_window",
    "typed_input",
    "token_importance",
    "window",
]
