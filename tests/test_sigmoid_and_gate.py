"""Lesson 08's two ways to need no sink: sigmoid attention and a head-wise output gate.

Sigmoid attention without normalisation (Gu et al., "When Attention Sink Emerges in
Language Models", arXiv:2410.10781) weighs each key by σ(q·k · scale) on its own; the
output gate (Qiu et al., "Gated Attention for Large Language Models", PAPERS.md §6)
multiplies each head's output by σ(x W_g + b_g).
"""

from __future__ import annotations

import math

import pytest
import torch

from attnviz.checkpoints import load, save
from attnviz.kernels.attention import (
    OPERATORS,
    get_operator,
    multi_head_attention,
    sigmoid_operator,
)
from attnviz.models import TinyConfig, TinyTransformer, _parameter_count


def _qkv(seed: int = 0, shape=(2, 3, 5, 4)):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3))


def test_sigmoid_weights_are_the_sigmoid_of_each_scaled_score():
    q, k, v = _qkv()
    result = sigmoid_operator(q, k, v, None, 0.7)
    expected = torch.sigmoid(torch.einsum("bhid,bhjd->bhij", q, k) * 0.7)
    torch.testing.assert_close(result.weights, expected)
    torch.testing.assert_close(result.output, torch.einsum("bhij,bhjd->bhid", expected, v))
    assert not torch.allclose(result.weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))


def test_masked_sigmoid_weights_are_zero_and_the_rest_unchanged():
    q, k, v = _qkv(1)
    mask = torch.rand(5, 5, generator=torch.Generator().manual_seed(2)) > 0.4
    result = sigmoid_operator(q, k, v, mask, 0.5)
    plain = sigmoid_operator(q, k, v, None, 0.5).weights
    assert torch.all(result.weights[..., ~mask] == 0)
    torch.testing.assert_close(result.weights[..., mask], plain[..., mask])
    torch.testing.assert_close(result.output, result.weights @ v)


def test_sigmoid_is_registered_and_runs_through_multi_head_attention():
    assert OPERATORS["sigmoid"] is sigmoid_operator and get_operator("sigmoid") is sigmoid_operator
    q, k, v = _qkv(3)
    result = multi_head_attention(q, k, v, operator="sigmoid", causal=True)
    scores = (q @ k.mT) / math.sqrt(4)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    expected = torch.sigmoid(scores).masked_fill(~causal, 0.0)
    torch.testing.assert_close(result.weights, expected)
    torch.testing.assert_close(result.output, expected @ v)


def test_a_sigmoid_model_captures_unnormalised_weights():
    config = TinyConfig(n_layers=1, n_heads=2, d_model=8, vocab_size=7, context=8,
                        operator="sigmoid", positional="rope")  # fmt: skip
    model = TinyTransformer(config, seed=0).eval()
    seen = []
    handle = model.blocks[0].attn.hook_pattern.register_forward_hook(
        lambda _m, _i, out: seen.append(out.detach())
    )
    with torch.no_grad():
        model(torch.tensor([[1, 2, 3, 4, 5, 6]]))
    handle.remove()
    weights = seen[0][0]  # (H, T, T)
    assert torch.all(weights.triu(1) == 0)
    lower = weights[:, torch.ones(6, 6, dtype=torch.bool).tril()]
    assert torch.all((lower > 0) & (lower < 1))
    assert not torch.allclose(weights.sum(-1), torch.ones(2, 6))


@pytest.mark.parametrize("bad", [("mask", "mask"), ("scale", float("nan"))])
def test_the_sigmoid_operator_checks_its_arguments(bad):
    q, k, v = _qkv()
    args = {"q": q, "k": k, "v": v, "mask": None, "scale": 1.0}
    name, value = bad
    args[name] = value
    with pytest.raises((TypeError, ValueError), match=name):
        sigmoid_operator(**args)


def _gated(**changes) -> TinyConfig:
    base = dict(n_layers=2, n_heads=4, d_model=16, vocab_size=9, context=16, output_gate=True)
    return TinyConfig(**{**base, **changes})


@pytest.mark.parametrize("changes", [{}, {"positional": "rope"}, {"operator": "sigmoid"}])
def test_the_gate_adds_one_weight_row_and_bias_per_head(changes):
    gated, plain = _gated(**changes), _gated(output_gate=False, **changes)
    for config in (gated, plain):
        model = TinyTransformer(config, seed=0)
        assert sum(p.numel() for p in model.parameters()) == _parameter_count(config)
    extra = _parameter_count(gated) - _parameter_count(plain)
    assert extra == gated.n_layers * gated.n_heads * (gated.d_model + 1)
    gate = TinyTransformer(gated, seed=0).blocks[0].attn.gate
    assert tuple(gate.weight.shape) == (4, 16) and tuple(gate.bias.shape) == (4,)


def test_a_gate_forced_shut_silences_its_head_and_nothing_else():
    model = TinyTransformer(_gated(n_layers=1), seed=0).eval()
    ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7]])
    outputs = []
    handle = model.blocks[0].attn.hook_z.register_forward_hook(
        lambda _m, _i, out: outputs.append(out.detach())
    )
    with torch.no_grad():
        model(ids)
        gate = model.blocks[0].attn.gate
        gate.weight[2].zero_()
        gate.bias[2] = -1e4  # σ(-1e4) = 0: head 2's output is multiplied by 0
        model(ids)
    handle.remove()
    before, after = outputs
    assert before[:, 2].abs().max() > 0
    assert torch.all(after[:, 2] == 0)
    torch.testing.assert_close(after[:, [0, 1, 3]], before[:, [0, 1, 3]])


def test_an_open_gate_halves_nothing_a_half_gate_halves_the_head():
    model = TinyTransformer(_gated(n_layers=1), seed=0).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    outputs = []
    attn = model.blocks[0].attn
    handle = attn.hook_z.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach()))
    with torch.no_grad():
        attn.gate.weight.zero_()
        attn.gate.bias.fill_(1e4)  # σ = 1: the ungated output
        model(ids)
        attn.gate.bias.zero_()  # σ = 1/2
        model(ids)
    handle.remove()
    torch.testing.assert_close(outputs[1], outputs[0] / 2)


def test_the_gate_round_trips_through_the_config_and_a_checkpoint(tmp_path):
    config = _gated(positional="rope", operator="softmax")
    assert config.to_dict()["output_gate"] is True
    assert TinyConfig.from_dict(config.to_dict()) == config
    model = TinyTransformer(config, seed=4).eval()
    loaded = load(save(model, tmp_path / "gated.safetensors"))
    assert loaded.config == config and loaded.blocks[1].attn.gate is not None
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))


def test_ungated_configs_read_and_write_as_before_gates_existed(tmp_path):
    config = _gated(output_gate=False)
    data = config.to_dict()
    assert "output_gate" not in data
    assert TinyConfig.from_dict(data) == config
    model = TinyTransformer(config, seed=0)
    assert model.blocks[0].attn.gate is None
    assert not any("gate" in name for name in model.state_dict())
    assert load(save(model, tmp_path / "plain.safetensors")).config == config


def test_the_gate_flag_must_be_a_bool():
    with pytest.raises(TypeError, match="output_gate"):
        _gated(output_gate=1)
