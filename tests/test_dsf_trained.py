"""Lesson 06: a trained model's mixer read as a DSF: Φ u is the mixer's own read-out."""

from __future__ import annotations

import math

import pytest
import torch

from attnviz.dsf_trained import trained_system
from attnviz.models import TinyConfig, TinyTransformer


def _model(mixer: str, n: int | None = None, **overrides) -> TinyTransformer:
    config = dict(n_layers=2, n_heads=1, d_model=16, vocab_size=32, context=16, mixer=mixer,
                  state_expansion=n, short_conv=4, attention_only=True)  # fmt: skip
    config.update(overrides)
    return TinyTransformer(TinyConfig(**config), seed=0)


IDS = torch.randint(0, 32, (12,), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    ("mixer", "n"), [("attention", None), ("linear_attention", 4), ("s6", 4), ("qlstm", None)]
)
@pytest.mark.parametrize("layer", [0, 1])
def test_phi_times_u_is_the_mixers_own_read_out(mixer, n, layer):
    trained = trained_system(_model(mixer, n), IDS, layer)
    assert trained.mixer == mixer
    scale = trained.output.abs().max().item()
    assert scale > 0
    # the mixer runs in float32, Φ in float64: they agree to float32 rounding
    assert trained.mismatch() < 1e-5 * max(scale, 1.0)
    summary = trained.system.phi_summary()
    assert summary.shape == (12, 12)
    assert bool((summary.triu(1) == 0).all())  # causal


def test_linear_attention_phi_is_its_row_normalised_kernel():
    trained = trained_system(_model("linear_attention", 4), IDS)
    kernel = trained.system.phi_kernel()  # normalised: every row sums to one
    torch.testing.assert_close(kernel.sum(1), torch.ones(12, dtype=kernel.dtype))
    assert trained.system.state_size == 4 * 16
    assert math.isinf(trained_system(_model("attention"), IDS).system.state_size)


def test_bad_arguments_are_named():
    model = _model("attention")
    with pytest.raises(TypeError, match="model must be a TinyTransformer"):
        trained_system(object(), IDS)
    with pytest.raises(TypeError, match="integer token ids"):
        trained_system(model, IDS.float())
    with pytest.raises(ValueError, match=r"one non-empty sequence \(T,\)"):
        trained_system(model, IDS[None])
    with pytest.raises(ValueError, match="layer"):
        trained_system(model, IDS, layer=2)
    with pytest.raises(ValueError, match="n_heads = 2"):
        trained_system(_model("attention", n_heads=2), IDS)
    with pytest.raises(ValueError, match="rope"):
        trained_system(_model("attention", positional="rope"), IDS)
