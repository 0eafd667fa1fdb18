"""The sequence mixers of attnviz.mixers and TinyConfig(mixer=...) (issue #6)."""

from __future__ import annotations

import pytest
import torch

from attnviz.mixers import (
    MIXERS,
    LinearAttentionMixer,
    QLSTMMixer,
    S6Mixer,
    ShortConv,
    state_size,
)
from attnviz.models import TinyConfig, TinyTransformer, load, save

SMALL = {"n_layers": 2, "d_model": 16, "n_heads": 2, "vocab_size": 24, "context": 12}


def _config(mixer: str, n: int | None = None) -> TinyConfig:
    return TinyConfig(**SMALL, mixer=mixer, state_expansion=n)


@pytest.mark.parametrize(("mixer", "n"), [("attention", None), ("linear_attention", 4),
                                          ("s6", 3), ("qlstm", None)])  # fmt: skip
def test_every_mixer_trains_and_is_causal(mixer, n):
    model = TinyTransformer(_config(mixer, n), seed=0).train()
    ids = torch.randint(0, 24, (3, 12), generator=torch.Generator().manual_seed(0))
    logits = model(ids)
    assert logits.shape == (3, 12, 24) and torch.isfinite(logits).all()
    logits.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    model.eval()
    with torch.no_grad():
        changed = ids.clone()
        changed[:, 7] = (changed[:, 7] + 5) % 24
        before, after = model(ids), model(changed)
    torch.testing.assert_close(before[:, :7], after[:, :7], rtol=0, atol=1e-6)
    assert not torch.allclose(before[:, 7:], after[:, 7:])


@pytest.mark.parametrize(("mixer", "n"), [("linear_attention", 4), ("s6", 3), ("qlstm", None)])
def test_checkpoints_round_trip(tmp_path, mixer, n):
    model = TinyTransformer(_config(mixer, n), seed=1)
    path = save(model, tmp_path / "m.safetensors")
    again = load(path)
    assert again.config == model.config
    ids = torch.arange(12) % 24
    torch.testing.assert_close(again(ids), model(ids), rtol=0, atol=0)
    assert path.read_bytes() == save(again, tmp_path / "n.safetensors").read_bytes()


def test_to_dict_omits_the_defaults():
    plain = TinyConfig(**SMALL).to_dict()
    assert "mixer" not in plain and "state_expansion" not in plain and "short_conv" not in plain
    convolved = TinyConfig(**SMALL, mixer="s6", short_conv=4)
    assert TinyConfig.from_dict(convolved.to_dict()) == convolved
    data = _config("s6", 8).to_dict()
    assert data["mixer"] == "s6" and data["state_expansion"] == 8
    assert TinyConfig.from_dict(data) == _config("s6", 8)
    assert "state_expansion" not in _config("qlstm").to_dict()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"mixer": "mamba"}, ValueError, "mixer must be one of"),
        ({"mixer": 3}, TypeError, "mixer must be one of"),
        ({"mixer": "qlstm", "state_expansion": 2}, ValueError, "state_expansion must be None"),
        ({"mixer": "attention", "state_expansion": 2}, ValueError, "state_expansion must be"),
        ({"mixer": "s6", "state_expansion": 0}, ValueError, "state_expansion must be an int"),
        ({"mixer": "s6", "operator": "linear"}, ValueError, "operator applies to mixer="),
        ({"mixer": "s6", "positional": "rope"}, ValueError, "positional applies to mixer="),
        ({"mixer": "qlstm", "mask": "sliding_window"}, ValueError, "mask applies to mixer="),
        ({"mixer": "qlstm", "causal": False}, ValueError, "causal must be True"),
        ({"short_conv": -1}, ValueError, "short_conv must be"),
        ({"short_conv": 2.5}, TypeError, "short_conv must be"),
    ],
)
def test_bad_mixer_configs_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        TinyConfig(**{**SMALL, **kwargs})


def test_state_sizes_follow_the_convention():
    d, h, t = 16, 2, 12
    assert state_size(TinyTransformer(_config("attention"), seed=0), t) == 2 * (2 * t * d)
    assert LinearAttentionMixer(d, h, 4).state_size(t) == 4 * d + 4 * h  # S and z
    assert LinearAttentionMixer(d, h, 4, normalize=False).state_size(t) == 4 * d
    assert S6Mixer(d, 5).state_size(t) == 5 * d
    assert QLSTMMixer(d).state_size(t) == d
    model = TinyTransformer(_config("linear_attention", 4), seed=0)
    assert state_size(model, t) == 2 * (4 * d + 4 * h)
    assert set(MIXERS) == {"attention", "linear_attention", "s6", "qlstm"}


def test_s6_starts_where_mamba_does():
    mixer = TinyTransformer(_config("s6", 4), seed=0).blocks[0].attn
    a = mixer.A()
    assert a.shape == (16, 4)
    torch.testing.assert_close(a, -torch.arange(1.0, 5.0).expand(16, 4), atol=0.1, rtol=0.05)
    steps = torch.nn.functional.softplus(mixer.dt_bias_init)
    assert 0.9e-3 < steps.min() and steps.max() < 0.11


def test_linear_attention_mixer_matches_its_recurrence():
    torch.manual_seed(0)
    mixer = LinearAttentionMixer(8, 2, 3)
    x = torch.randn(2, 5, 8)
    y = mixer(x)
    q, k = mixer.qk(x).view(2, 5, 2, 2, 3).unbind(2)  # (B, T, H, n)
    v = mixer.v(x).view(2, 5, 2, 4)
    phi = lambda z: torch.nn.functional.elu(z) + 1  # noqa: E731
    out = torch.zeros(2, 5, 2, 4)
    for t in range(5):
        s = torch.einsum("bjhv,bjhn->bhvn", v[:, : t + 1], phi(k[:, : t + 1]))
        z = phi(k[:, : t + 1]).sum(1)  # (B, H, n)
        num = torch.einsum("bhvn,bhn->bhv", s, phi(q[:, t]))
        out[:, t] = num / (z * phi(q[:, t])).sum(-1, keepdim=True)
    torch.testing.assert_close(y, mixer.out(out.reshape(2, 5, 8)), atol=1e-5, rtol=1e-5)


def test_short_conv_is_a_causal_per_channel_filter_that_starts_as_the_identity():
    conv = ShortConv(3, taps=4)
    x = torch.randn(2, 9, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(conv(x), x)  # w = identity at init
    with torch.no_grad():
        conv.weight.normal_(generator=torch.Generator().manual_seed(1))
        conv.bias.normal_(generator=torch.Generator().manual_seed(2))
    w = conv.taps_weight()  # (d, taps): w[c, s] weighs x_{t-s}[c]
    expected = torch.zeros_like(x)
    for t in range(9):
        for s in range(min(4, t + 1)):
            expected[:, t] += w[:, s] * x[:, t - s]
    torch.testing.assert_close(conv(x), expected + conv.bias)


@pytest.mark.parametrize("mixer", ["attention", "linear_attention", "s6", "qlstm"])
def test_a_short_conv_reaches_exactly_its_taps_back(mixer):
    """Block 0's mixer input at t depends on tokens t-3..t only (4 taps): the previous-token
    step that lets a recurrent mixer store "this key came before this value"."""
    n = 3 if mixer in ("linear_attention", "s6") else None
    config = TinyConfig(**{**SMALL, "n_layers": 1}, mixer=mixer, state_expansion=n, short_conv=4)
    block = TinyTransformer(config, seed=0).blocks[0]
    x = torch.randn(1, 12, 16, requires_grad=True)
    mixed = block.conv(block.ln_attn(x))
    mixed[0, 8].sum().backward()
    reached = x.grad[0].abs().sum(-1) > 0
    assert reached.tolist() == [5 <= t <= 8 for t in range(12)]


# --- the argument promise (issue #14) ---------------------------------------------------------


def test_rope_tables_refuse_a_base_that_would_give_nan():
    from attnviz.mixers import rope_tables

    for base in (0.0, 1.0, -2.0, float("nan")):
        with pytest.raises(ValueError, match="base"):
            rope_tables(8, 4, base=base)


def test_apply_rope_checks_x_and_its_tables():
    from attnviz.mixers import apply_rope, rope_tables

    cos, sin = rope_tables(8, 4)
    with pytest.raises(TypeError, match="x"):
        apply_rope(None, cos, sin)
    with pytest.raises(ValueError, match="cos"):
        apply_rope(torch.zeros(1, 1, 9, 4), cos, sin)  # 9 positions, tables of 8
    with pytest.raises(ValueError, match="even"):
        apply_rope(torch.zeros(1, 1, 8, 3), cos, sin)


def test_build_mixer_refuses_what_is_not_a_config():
    from attnviz.mixers import Attention, build_mixer

    for bad in (None, "s6", {"mixer": "s6"}):
        with pytest.raises(TypeError, match="config"):
            build_mixer(bad)
        with pytest.raises(TypeError, match="config"):
            Attention(bad)


@pytest.mark.parametrize(
    "make",
    [lambda: TinyTransformer(_config("attention")).blocks[0].attn, lambda: ShortConv(16, 3),
     lambda: LinearAttentionMixer(16, 2, 4), lambda: S6Mixer(16, 3), lambda: QLSTMMixer(16)],
)  # fmt: skip
def test_every_mixer_checks_x_is_b_t_d_model(make):
    mixer = make()
    for bad, error in ((None, TypeError), (torch.zeros(3, 16), ValueError),
                       (torch.zeros(1, 3, 15), ValueError),
                       (torch.full((1, 3, 16), float("nan")), ValueError)):  # fmt: skip
        with pytest.raises(error, match="x"):
            mixer(bad)
    assert mixer(torch.zeros(2, 3, 16, dtype=torch.float64)).shape == (2, 3, 16)


def test_a_mixer_whose_output_overflows_says_so():
    mixer = TinyTransformer(_config("attention")).blocks[0].attn
    with pytest.raises(ValueError, match="overflowed"):
        mixer(torch.full((1, 3, 16), 1e30) * torch.arange(1, 17))


def test_mixer_sizes_have_documented_caps():
    from attnviz.mixers import MAX_D_MODEL, MAX_STATE_SEQ_LEN

    with pytest.raises(ValueError, match="d_model"):
        QLSTMMixer(MAX_D_MODEL + 1)
    with pytest.raises(ValueError, match="seq_len"):
        state_size(QLSTMMixer(4), MAX_STATE_SEQ_LEN + 1)
    with pytest.raises(ValueError, match="dt_min"):
        S6Mixer(4, dt_min=0.5, dt_max=0.1)
