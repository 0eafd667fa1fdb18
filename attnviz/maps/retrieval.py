"""Retrieval heads: which heads copy-paste the needle while the model decodes (lesson 03).

Wu et al. 2024, "Retrieval Head Mechanistically Explains Long-Context Factuality",
arXiv 2404.15574. Unlike the map-only scores, this one runs the model, greedily,
one token at a time.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from attnviz.maps.attention_maps import check_span
from attnviz.maps.capturing import _attention_shape, _check_weights_budget
from attnviz.maps.forward import run, stack_layers
from attnviz.maps.model_io import logits_of, model_kind, model_limits, prepare_inputs
from attnviz.validation import check_int

MAX_GENERATE = 256  # tokens decoded by one trace (the lesson decodes a needle, < 10)
MAX_WORK = 2**30  # attention weights formed over all the steps: a few seconds of CPU


class RetrievalTrace(NamedTuple):
    """What :func:`retrieval_trace` saw while decoding greedily."""

    scores: np.ndarray  # (L, H) retrieval score per head
    generated: np.ndarray  # (n_generate,) token ids decoded greedily
    argmax_positions: np.ndarray  # (n_generate, L, H) where each head looked hardest
    copies: np.ndarray  # (n_generate, L, H) bool: head copy-pasted at this step


def retrieval_trace(
    model: nn.Module, input_ids: Any, needle: tuple[int, int], *, n_generate: int
) -> RetrievalTrace:
    """Decode greedily and record which heads copy-paste from the needle (lesson 03).

    Wu et al. 2024, "Retrieval Head": at each generated token w, head h
    copy-pastes when (1) w is in the needle and (2) the input position with the
    head's largest attention (from the query that produced w) lies inside the
    needle span and holds w. With g_h the needle positions head h copy-pasted
    from, score_h = |g_h| / |needle| (counting positions, so a repeated token is
    counted once per place it sits). A head scoring ≥ 0.1 is a retrieval head.

    Args:
        model: a model whose output holds (B, T, vocab) logits (TinyTransformer, a
            Hugging Face causal LM).
        input_ids: the (T,) prompt: haystack with the needle inside, then the
            question (``attnviz.tasks`` builds one).
        needle: (start, end), the needle's positions ``[start, end)`` in the prompt.
        n_generate: how many tokens to decode: at most ``MAX_GENERATE`` (256), as the
            model's context allows, and as the weights of all the steps together stay
            under ``MAX_WORK`` (2**30, a few seconds here); the longest step's weights
            must fit the memory budget.
    """
    kind = model_kind(model)
    batch, _ = prepare_inputs(model, input_ids, embeddings_ok=False)
    if batch.shape[0] != 1:
        raise ValueError(
            f"input_ids must be one sequence, (T,) or (1, T), got {tuple(batch.shape)}"
        )
    prompt_len = batch.shape[1]
    start, end = check_span("needle", needle, prompt_len)
    vocab, context = model_limits(model)
    high = MAX_GENERATE if context is None else min(MAX_GENERATE, context - prompt_len + 1)
    n_generate = check_int("n_generate", n_generate, low=1, high=high)  # last step: T + n - 1
    longest = batch.new_zeros((1, prompt_len + n_generate - 1))
    _check_weights_budget(
        model, kind, longest, True, instead="use a shorter prompt or generate fewer tokens"
    )
    n_layers, n_heads = _attention_shape(model, kind)
    steps = range(prompt_len, prompt_len + n_generate)
    work = n_layers * n_heads * sum(length * length for length in steps)
    if work > MAX_WORK:
        raise ValueError(
            f"n_generate={n_generate} after a {prompt_len}-token prompt would form "
            f"{work:.3g} attention weights in all, more than the {MAX_WORK:.3g} that decode "
            "in seconds here; use a shorter prompt or generate fewer tokens"
        )

    generated, positions, copies = [], [], []
    current = batch  # (1, T)
    for _ in range(n_generate):
        layers, out = run(model, current, kind)
        logits = logits_of(
            model, out, vocab, needed_for="so it cannot decode; retrieval needs a language model"
        )
        token = int(logits[0, -1].argmax())
        last = stack_layers(model, layers)[:, 0, :, -1, :]  # (L, H, T_now)
        argmax = last.argmax(dim=-1).numpy()  # (L, H)
        seq = current[0].numpy()
        copy = (argmax >= start) & (argmax < end) & (seq[argmax] == token)
        generated.append(token)
        positions.append(argmax)
        copies.append(copy)
        current = torch.cat([current, torch.tensor([[token]])], dim=1)

    positions_arr = np.stack(positions)  # (n, L, H)
    copies_arr = np.stack(copies)  # (n, L, H)
    scores = np.zeros(positions_arr.shape[1:])
    for layer, head in np.ndindex(scores.shape):
        hit = positions_arr[copies_arr[:, layer, head], layer, head]
        scores[layer, head] = len(set(hit.tolist())) / (end - start)
    return RetrievalTrace(scores, np.array(generated, dtype=np.int64), positions_arr, copies_arr)


def retrieval_score(
    model: nn.Module, input_ids: Any, needle: tuple[int, int], *, n_generate: int
) -> np.ndarray:
    """Retrieval score per head, (L, H), on one needle prompt; see :func:`retrieval_trace`."""
    return retrieval_trace(model, input_ids, needle, n_generate=n_generate).scores
