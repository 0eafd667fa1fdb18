"""The implicit attention Φ of a trained model's mixer, read from its weights (lesson 06).

Sieber, Amo Alonso, Didier, Zeilinger, Orvieto 2024 ("Understanding the differences in
Foundation Models: Attention, SSMs, and RNNs", NeurIPS 2024, arXiv 2405.15731; PAPERS.md
§2) write every mixer as y = Φ u. ``attnviz.dsf`` builds Φ from weights you give it;
:func:`trained_system` takes them from one layer of a trained ``TinyTransformer`` (the
MQAR models of ``attnviz.state_size``) on one sequence, so a lesson can look at where a
trained class puts its weight. The mixer's input u is captured as the layer sees it (after
its LayerNorm and short convolution), and its read-out before the output projection is
kept beside Φ: ``system.apply(u)`` must equal it, and the lesson shows that it does.

=================  ============================================  ==========================
mixer              Φ from                                        u (what Φ multiplies)
=================  ============================================  ==========================
attention          ``dsf.softmax_phi`` (its weights a_ij)        the mixer's input x
linear_attention   ``dsf.from_linear_attention`` (φ, η_i)         the mixer's input x
s6                 ``dsf.from_s6`` (Δ_i, A, b_i, c_i, D)          W_in x, the scanned input
qlstm              Λ_i = σ(f_i), B_i = σ(ι_i), C_i = σ(o_i)      W_u x, the gated input
=================  ============================================  ==========================

Attention and linear attention are read with one head (the MQAR sweep's setting).
Computation only: nothing here imports Panel or Bokeh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from attnviz import dsf
from attnviz.mixers import Attention, LinearAttentionMixer, QLSTMMixer, S6Mixer
from attnviz.models import TinyTransformer
from attnviz.validation import check_int


@dataclass(frozen=True, eq=False)
class TrainedSystem:
    """One trained layer's mixer as a DSF on one sequence (lesson 06).

    Attributes:
        mixer: the mixer's class name in ``attnviz.mixers`` ("attention", ...).
        system: the ``dsf`` system: ``system.phi_summary()`` is Φ's (T, T) picture.
        u: (T, d) the input Φ multiplies.
        output: (T, d) the mixer's own read-out before its output projection.
    """

    mixer: str
    system: dsf.ImplicitAttention
    u: torch.Tensor
    output: torch.Tensor

    def mismatch(self) -> float:
        """Largest |Φ u − the mixer's read-out|: rounding only, if Φ is the mixer's."""
        return float((self.system.apply(self.u) - self.output).abs().max())


def _one_head(mixer: Any, name: str) -> None:
    if mixer.n_heads != 1:
        raise ValueError(
            f"trained_system reads {name} with one head (the MQAR sweep's setting); this "
            f"model's layer has n_heads = {mixer.n_heads}"
        )


def _attention(mixer: Attention, x: torch.Tensor) -> tuple[str, Any, torch.Tensor]:
    _one_head(mixer, "softmax attention")
    if mixer.rope or mixer.pattern is not None or not mixer.causal:
        raise ValueError(
            "trained_system reads causal softmax attention with learned positions and no "
            "sparse mask; this layer uses rope, a mask pattern or no causal mask"
        )
    W_q, W_k, W_v = mixer.qkv.weight.double().split(mixer.d_model)  # (d, d) each
    return "attention", dsf.softmax_phi(x, W_q, W_k, W_v), x


def _linear(mixer: LinearAttentionMixer, x: torch.Tensor) -> tuple[str, Any, torch.Tensor]:
    _one_head(mixer, "linear attention")
    W_q, W_k = mixer.qk.weight.double().split(mixer.n)  # (n, d) each: q then k
    system = dsf.from_linear_attention(
        x, W_q, W_k, mixer.v.weight.double(), mixer.feature_map, normalize=mixer.normalize
    )
    return "linear_attention", system, x


def _s6(mixer: S6Mixer, x: torch.Tensor) -> tuple[str, Any, torch.Tensor]:
    u = x @ mixer.inp.weight.double().T  # (T, d_inner): the scan's input
    W_B, W_C = mixer.bc.weight.double().split(mixer.n)  # (n, d_inner) each
    b_delta = (mixer.dt.bias + mixer.dt_bias_init).double()
    A = mixer.A().double()  # (d_inner, n), < 0
    system = dsf.from_s6(u, mixer.dt.weight.double(), b_delta, A, W_B, W_C, mixer.D.double())
    return "s6", system, u


def _qlstm(mixer: QLSTMMixer, x: torch.Tensor) -> tuple[str, Any, torch.Tensor]:
    u, f, i, o = (x @ mixer.gates.weight.double().T + mixer.gates.bias.double()).chunk(4, -1)
    system = dsf.DSF(
        "qlstm",
        F.logsigmoid(f)[:, :, None],  # log Λ_i = log σ(f_i), (T, d, 1)
        torch.sigmoid(i)[:, :, None],  # B_i = diag(σ(ι_i))
        torch.sigmoid(o)[:, :, None],  # C_i = diag(σ(o_i))
        label="qLSTM",
    )
    return "qlstm", system, u


def _as_ids(value: Any) -> torch.Tensor:
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            f"input_ids must be a sequence of integer token ids, got {type(value).__name__}"
        ) from error


_READERS = {Attention: _attention, LinearAttentionMixer: _linear, S6Mixer: _s6, QLSTMMixer: _qlstm}


@torch.no_grad()
def trained_system(model: Any, input_ids: Any, layer: int = 0) -> TrainedSystem:
    """The implicit attention of ``model``'s mixer in ``layer`` on one sequence (lesson 06).

    Args:
        model: a ``TinyTransformer`` whose mixer is softmax attention, linear attention
            (one head each), S6 or the qLSTM (``attnviz.mixers``).
        input_ids: one sequence of token ids, (T,), at most the model's context.
        layer: which block, 0 .. n_layers − 1.

    Returns:
        A ``TrainedSystem``: the DSF system, the input u it multiplies and the mixer's
        read-out, so ``mismatch()`` checks Φ against the mixer itself.
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    ids = input_ids if isinstance(input_ids, torch.Tensor) else _as_ids(input_ids)
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"input_ids must hold integer token ids, got dtype {ids.dtype}")
    if ids.dim() != 1 or ids.numel() == 0:
        raise ValueError(
            f"input_ids must be one non-empty sequence (T,), got shape {tuple(ids.shape)}"
        )
    layer = check_int("layer", layer, low=0, high=model.config.n_layers - 1)
    mixer = model.blocks[layer].attn
    reader = _READERS.get(type(mixer))
    if reader is None:
        raise ValueError(
            f"trained_system reads attention, linear_attention, s6 and qlstm mixers, got "
            f"{type(mixer).__name__}"
        )
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        mixer.register_forward_pre_hook(lambda _m, args: seen.__setitem__("x", args[0])),
        mixer.out.register_forward_pre_hook(lambda _m, args: seen.__setitem__("y", args[0])),
    ]
    try:
        model(ids)  # the model checks the ids (range, length)
    finally:
        for hook in hooks:
            hook.remove()
    x = seen["x"][0].double()  # (T, d_model)
    name, system, u = reader(mixer, x)
    output = seen["y"][0].double()  # (T, d): the read-out before the output projection
    if isinstance(mixer, Attention):  # heads merged: (T, d_model) already
        output = output.reshape(x.shape[0], -1)
    return TrainedSystem(name, system, u, output)


__all__ = ["TrainedSystem", "trained_system"]
