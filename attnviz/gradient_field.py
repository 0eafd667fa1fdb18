"""The empirical receptive field of a model: how much each output moves with each input.

``receptive.py`` says which keys *can* reach a query after ``l`` masked layers. A trained
network need not use all of that: its *effective* receptive field is where the output is
actually sensitive to the input. Following Luo, Li, Urtasun & Zemel (2016), "Understanding
the Effective Receptive Field in Deep Convolutional Neural Networks" (arXiv 1701.04128), we
measure it by the gradient: for the residual stream ``h^l`` after layer ``l`` (and for the
logits), the size of the Jacobian block between output position ``i`` and input position
``j``::

    G^l[i, j] = ‖ ∂h^l_i / ∂h^0_j ‖_F        h^0_j = token embedding (+ position embedding)

Two facts a test checks, and lesson 04 shows:

* outside the theoretical reach the gradient is exactly zero (a masked score gets weight
  ``exp(-inf) = 0``, so no path carries anything), and at initialisation it is non-zero
  everywhere inside: the empirical support *is* the reach, layer by layer;
* after training, the sensitivity concentrates on what the task needs: a model trained to
  say the token ``lag`` places back (``tasks.lagged_copy``) looks at distance ``lag`` and
  hardly anywhere else, however large its reach.

The Jacobian is computed exactly: a batch of ``T · d`` copies of the input, one per output
coordinate, goes forward once and backward once per layer (sequences of a batch never mix,
so row ``r``'s gradient is coordinate ``r``'s). The work grows as ``T² d``, so keep ``T`` to
a few hundred tokens (``MAX_TOKENS``); a model and length whose Jacobian would take more
than ``MAX_JACOBIAN_WORK`` (about 20 s on a 2-core laptop; lesson 04's 2-layer model on 32
tokens takes a third of it) is refused up front.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .memory_budget import check_bytes
from .models import TinyTransformer
from .receptive import NEVER, ReceptiveField, receptive_field
from .validation import check_int

MAX_TOKENS = 512  # the Jacobian takes T·d backward passes (batched): T² d² numbers in all
_CHUNK_ELEMENTS = 1 << 25  # activations per batch of copies (about 128 MB in float32)
#: The most work one gradient_field may do: rows of the Jacobian x activations per row x
#: layers (about 1e7 a second here, so about 20 s); see :func:`jacobian_work`.
MAX_JACOBIAN_WORK = 200_000_000


@dataclass(frozen=True, eq=False)
class GradientField:
    """Gradient magnitudes ``G[l][i, j] = ‖∂h^l_i / ∂h^0_j‖_F`` of one input sequence.

    ``magnitude[l - 1]`` is layer ``l``'s residual stream (``l = 1 .. n_layers``);
    ``magnitude[n_layers]`` is the logits (``layer="output"``).
    """

    magnitude: np.ndarray = field(repr=False)  # (n_layers + 1, T, T) float64
    n_layers: int
    seq_len: int

    def layer(self, layer: int | str = "output") -> np.ndarray:
        """The ``(T, T)`` magnitudes after ``layer`` (1 .. n_layers) or of the logits."""
        return self.magnitude[self._index(layer)]

    def support(self, layer: int | str = "output") -> np.ndarray:
        """``(T, T)`` bool: True where the output at ``i`` depends on the input at ``j``."""
        return self.layer(layer) > 0

    @property
    def first_layer(self) -> np.ndarray:
        """``(T, T)``: the first layer whose gradient is non-zero, ``NEVER`` if none; the
        diagonal is 0 (every position carries itself). Compare ``ReceptiveField.first_layer``."""
        support = self.magnitude[: self.n_layers] > 0  # (L, T, T)
        first = np.where(support.any(axis=0), support.argmax(axis=0) + 1, NEVER)
        np.fill_diagonal(first, 0)
        return first

    def by_distance(self, layer: int | str = "output") -> np.ndarray:
        """``(T,)``: the share of each output's sensitivity that comes from ``d`` tokens
        back (``d = i - j``), averaged over outputs. Rows are normalised to sum to 1, so
        every output counts the same; entries sum to 1 for a causal model."""
        g = self.layer(layer)
        total = g.sum(axis=1, keepdims=True)
        share = np.divide(g, total, out=np.zeros_like(g), where=total > 0)  # (T, T)
        t = self.seq_len
        i, j = np.tril_indices(t)
        return np.bincount(i - j, weights=share[i, j], minlength=t) / t

    def _index(self, layer: int | str) -> int:
        if isinstance(layer, str) and layer == "output":
            return self.n_layers
        if isinstance(layer, str):
            raise ValueError(
                f"layer must be 'output' or an int in [1, {self.n_layers}], got {layer!r}"
            )
        return check_int("layer", layer, low=1, high=self.n_layers) - 1


def gradient_field(model: TinyTransformer, input_ids: Any) -> GradientField:
    """The exact gradient receptive field of ``model`` on one sequence (lesson 04).

    Args:
        model: a ``TinyTransformer`` (any mask, positions and depth).
        input_ids: one sequence of token ids, shape ``(T,)`` or ``(1, T)``, ``T <= 512``.

    Returns:
        A ``GradientField`` with one ``(T, T)`` map per layer and one for the logits.
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    ids = model._check_ids(input_ids)  # (B, T)
    if ids.shape[0] != 1:
        raise ValueError(f"input_ids must be one sequence, (T,) or (1, T); got {tuple(ids.shape)}")
    seq_len = ids.shape[1]
    if seq_len > MAX_TOKENS:
        raise ValueError(f"input_ids may be at most {MAX_TOKENS} tokens long, got {seq_len}")
    n_rows, per_row, work = _jacobian_cost(model, seq_len)
    if work > MAX_JACOBIAN_WORK:
        raise ValueError(
            f"input_ids of {seq_len} tokens: the exact Jacobian of this model (d_model="
            f"{model.config.d_model}, vocab_size={model.config.vocab_size}, n_layers="
            f"{len(model.blocks)}) would take about {work:.3g} units of work, past "
            f"MAX_JACOBIAN_WORK = {MAX_JACOBIAN_WORK:.3g} (about 20 s); use a shorter "
            "sequence or a smaller model"
        )
    step = max(1, _CHUNK_ELEMENTS // per_row)
    check_bytes(
        f"the autograd graph of gradient_field ({min(step, n_rows):,} copies of {seq_len} tokens)",
        min(step, n_rows) * per_row * 4 * (len(model.blocks) + 2),
        instead="use a shorter sequence or a smaller model",
    )
    with torch.no_grad():
        h0 = model.embed(ids)  # (1, T, d_model)
        if model.pos_embed is not None:
            h0 = h0 + model.pos_embed.weight[:seq_len]
    squares = _jacobian_squares(model, h0[0])  # (L + 1, T, T)
    return GradientField(np.sqrt(squares), len(model.blocks), seq_len)


def _jacobian_cost(model: TinyTransformer, seq_len: int) -> tuple[int, int, int]:
    """(Jacobian rows, activations per row, work = rows x activations x layers)."""
    config = model.config
    width = max(config.d_model, config.vocab_size)
    n_rows = seq_len * width
    per_row = seq_len * (seq_len * config.n_heads + 8 * width)
    return n_rows, per_row, n_rows * per_row * max(1, len(model.blocks))


def _jacobian_squares(model: TinyTransformer, h0: torch.Tensor) -> np.ndarray:
    """``(L + 1, T, T)``: Σ over coordinates of (∂y_i / ∂h0_j)² for every layer's output y.

    One output coordinate per sequence of a batch: row ``r`` of the batch is a copy of
    ``h0`` whose gradient is that of output coordinate ``r`` (sequences of a batch never
    mix), so one forward and one backward per output give a chunk of Jacobian rows.
    """
    seq_len, d_model = h0.shape
    config = model.config
    widths = [d_model] * len(model.blocks) + [config.vocab_size]  # coordinates per position
    n_rows = seq_len * max(widths)
    per_row = seq_len * (seq_len * config.n_heads + 8 * max(widths))  # activations per copy
    step = max(1, _CHUNK_ELEMENTS // per_row)
    squares = torch.zeros(len(widths), seq_len, seq_len, dtype=torch.float64)
    for start in range(0, n_rows, step):
        rows = torch.arange(start, min(n_rows, start + step))  # flat (position, coordinate)
        x = h0.detach().expand(len(rows), seq_len, d_model).clone().requires_grad_(True)
        with torch.enable_grad():
            outputs, h = [], x
            for block in model.blocks:
                h = block(h)  # (R, T, d_model)
                outputs.append(h)
            outputs.append(model.unembed(model.ln_final(h)))  # (R, T, vocab)
            for index, (y, width) in enumerate(zip(outputs, widths, strict=True)):
                live = rows < seq_len * width
                if not live.any():
                    continue
                picked = y.reshape(len(rows), -1)[live.nonzero()[:, 0], rows[live]]  # (R',)
                last = index == len(outputs) - 1
                (grad,) = torch.autograd.grad(picked.sum(), x, retain_graph=not last)
                per_key = grad[live].double().pow(2).sum(dim=-1)  # (R', T)
                squares[index].index_add_(0, rows[live] // width, per_key)
    return squares.numpy()


def model_reach(model: TinyTransformer, seq_len: int) -> ReceptiveField:
    """The theoretical receptive field of ``model``'s attention mask at ``seq_len`` (lesson 04):
    its sparse mask (if any) and'ed with the causal mask, over all of its layers."""
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    config = model.config
    seq_len = check_int("seq_len", seq_len, low=1, high=config.context)
    pattern = config.mask_pattern()
    mask = np.ones((seq_len, seq_len), dtype=bool) if pattern is None else pattern.dense(seq_len)
    if config.causal:
        mask &= np.tri(seq_len, dtype=bool)
    return receptive_field(mask, seq_len, config.n_layers, full=True)


__all__ = ["MAX_TOKENS", "GradientField", "gradient_field", "model_reach"]
