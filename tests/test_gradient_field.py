"""Lesson 04's empirical receptive field: a masked TinyTransformer, and the gradient of its
outputs with respect to its inputs, against the theoretical reach of its mask."""

import json

import numpy as np
import pytest
import torch

from attnviz.gradient_field import MAX_TOKENS, gradient_field, model_reach
from attnviz.kernels.masks import make_mask
from attnviz.models import TinyConfig, TinyTransformer, load, read_metadata, save
from attnviz.receptive import NEVER
from attnviz.tasks import lagged_copy
from attnviz.training import train

WINDOW = {"mask": "sliding_window", "mask_params": {"window": 4}}


def _model(n_layers=2, seed=0, **overrides):
    config = {"n_layers": n_layers, "n_heads": 2, "d_model": 32, "vocab_size": 16, "context": 32}
    return TinyTransformer(TinyConfig(**{**config, **overrides}), seed=seed)


def _ids(length=24, seed=0):
    return torch.randint(16, (length,), generator=torch.Generator().manual_seed(seed))


# --- a TinyTransformer with a sparse mask ---------------------------------------------------------


def test_a_masked_model_attends_only_where_its_mask_allows():
    model = _model(3, mask="dilated", mask_params={"window": 8, "rate": 2})
    captured = []
    for block in model.blocks:
        block.attn.hook_pattern.register_forward_hook(lambda m, a, out: captured.append(out))
    model(_ids(20)[None])
    allowed = torch.from_numpy(make_mask("dilated", window=8, rate=2).dense(20))
    for pattern in captured:  # (1, H, T, T)
        assert torch.all(pattern[..., ~allowed] == 0)
        assert torch.allclose(pattern.sum(-1), torch.ones(1, 2, 20))


@pytest.mark.parametrize(
    "mask",
    [
        ("sliding_window", {"window": 3}),
        ("longnet", {"segment_lengths": [4, 8], "dilations": [1, 2]}),
        ("power_attention", {}),
    ],
)
def test_the_mask_travels_in_the_config_and_the_checkpoint(mask, tmp_path):
    name, params = mask
    model = _model(mask=name, mask_params=params)
    config = model.config
    assert config.mask_pattern().dense(16).tolist() == make_mask(name, **params).dense(16).tolist()
    assert TinyConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert hash(config) == hash(TinyConfig.from_dict(config.to_dict()))
    path = save(model, tmp_path / "masked.safetensors")
    assert read_metadata(path)["config"]["mask"] == name
    again = load(path)
    ids = _ids(16)[None]
    assert again.config == config and torch.equal(again(ids), model(ids))


def test_a_mask_built_by_make_mask_is_accepted_and_unmasked_configs_read_as_before():
    pattern = make_mask("strided", stride=3)
    assert TinyConfig(mask=pattern) == TinyConfig(mask="strided", mask_params={"stride": 3})
    plain = TinyConfig().to_dict()
    assert "mask" not in plain and "mask_params" not in plain  # shipped checkpoints unchanged
    assert TinyConfig().mask_pattern() is None


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"mask": "checkerboard"}, ValueError, "name must be one of"),
        ({"mask": "sliding_window", "mask_params": {"window": 0}}, ValueError, "window must be"),
        ({"mask": "sliding_window", "mask_params": {"span": 4}}, TypeError, "'span' is not a"),
        ({"mask": None, "mask_params": {"window": 4}}, ValueError, "mask_params must be empty"),
        ({"mask": 3}, TypeError, "mask must be None, a pattern name or a MaskPattern"),
        ({"mask": "causal", "mask_params": 5}, TypeError, "mask_params must be a dict"),
        ({"mask": "causal", "context": 20_000}, ValueError, "context may be at most 16384"),
    ],
)
def test_bad_masks_are_named(overrides, error, words):
    with pytest.raises(error, match=words):
        TinyConfig(**overrides)


def test_a_custom_mask_mod_cannot_go_in_a_config():
    from attnviz.kernels.masks import MaskPattern

    custom = MaskPattern.from_mask_mod("mine", lambda b, h, q, k: q >= k, causal=True)
    with pytest.raises(TypeError, match="custom pattern 'mine'"):
        TinyConfig(mask=custom)


# --- the gradient field equals the reach at initialisation ----------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        WINDOW,
        {"mask": "dilated", "mask_params": {"window": 6, "rate": 2}},
        {"mask": "power_attention", "mask_params": {}},
        {"mask": "longnet", "mask_params": {"segment_lengths": [4, 8], "dilations": [1, 2]}},
        {"positional": "rope", **WINDOW},
    ],
)
def test_at_initialisation_the_gradient_is_non_zero_exactly_where_the_mask_reaches(overrides):
    model = _model(3, **overrides)
    field = gradient_field(model, _ids(24))
    reach = model_reach(model, 24)
    assert np.array_equal(field.first_layer, reach.first_layer)
    for layer in (1, 2, 3):
        reached = (reach.first_layer != NEVER) & (reach.first_layer <= layer)
        assert np.array_equal(field.support(layer), reached)
    assert np.array_equal(field.support("output"), field.support(3))


def test_the_gradient_is_the_jacobian_block_norm():
    model = _model(2, **WINDOW)
    ids = _ids(10)
    field = gradient_field(model, ids)
    h0 = model.embed(ids[None]) + model.pos_embed.weight[:10]  # (1, T, d)

    def layer_2(x):
        return model.blocks[1](model.blocks[0](x))

    jac = torch.autograd.functional.jacobian(layer_2, h0.detach())  # (1, T, d, 1, T, d)
    expected = jac[0, :, :, 0].pow(2).sum(dim=(1, 3)).sqrt()  # (T, T)
    np.testing.assert_allclose(field.layer(2), expected.double().numpy(), rtol=1e-5, atol=1e-9)


def test_sensitivity_at_initialisation_falls_off_with_distance():
    # the residual stream keeps most of each position's own input: distance 0 dominates
    share = gradient_field(_model(2, **WINDOW), _ids(24)).by_distance()
    assert share.sum() == pytest.approx(1.0)
    assert share[0] > 0.5 and share[0] > share[1:].max()
    assert np.all(share[7:] == 0)  # two layers of a 4-key window reach 6 tokens back


# --- after training: the field concentrates on what the task needs --------------------------------


def _trained(n_layers, lag=6):
    config = TinyConfig(
        n_layers=n_layers, n_heads=2, d_model=64, vocab_size=16, context=32,
        attention_only=True, **WINDOW,
    )  # fmt: skip
    model = TinyTransformer(config, seed=0)
    task = lagged_copy(4096, 32, lag, 16, seed=0)
    history = train(model, task, steps=150, lr=3e-3, weight_decay=0.0, progress=False)
    return model, history, task


def test_a_trained_model_looks_exactly_as_far_back_as_the_task_needs():
    model, history, task = _trained(2)
    assert history.loss[-1] < 0.05  # it learned to say the token 6 places back
    field = gradient_field(model, task.input_ids[0])
    share = field.by_distance()
    assert int(share.argmax()) == 6 and share[6] > 0.4
    before = gradient_field(_trained_untrained(), task.input_ids[0]).by_distance()
    assert share[6] > 5 * before[6]
    reach = model_reach(model, 32)  # training never reaches past the mask
    assert np.all(field.layer("output")[reach.first_layer == NEVER] == 0)


def _trained_untrained():
    config = TinyConfig(
        n_layers=2, n_heads=2, d_model=64, vocab_size=16, context=32,
        attention_only=True, **WINDOW,
    )  # fmt: skip
    return TinyTransformer(config, seed=0)


def test_a_model_whose_reach_is_too_short_cannot_learn_the_task():
    model, history, task = _trained(1)  # one layer of a 4-key window reaches 3 tokens back
    assert history.loss[-1] > 0.9 * np.log(16)  # no better than a guess
    share = gradient_field(model, task.input_ids[0]).by_distance()
    assert np.all(share[4:] == 0)


# --- bad input ------------------------------------------------------------------------------------


def test_bad_gradient_field_input_is_named():
    model = _model(2)
    with pytest.raises(TypeError, match="model must be a TinyTransformer"):
        gradient_field(torch.nn.Linear(2, 2), _ids(4))
    with pytest.raises(ValueError, match="input_ids must be one sequence"):
        gradient_field(model, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="at most context = 32 tokens"):
        gradient_field(model, torch.zeros(40, dtype=torch.long))
    big = _model(1, context=MAX_TOKENS + 1, d_model=8)
    with pytest.raises(ValueError, match=f"at most {MAX_TOKENS} tokens"):
        gradient_field(big, torch.zeros(MAX_TOKENS + 1, dtype=torch.long))
    field = gradient_field(model, _ids(6))
    with pytest.raises(ValueError, match=r"layer must be an integer in \[1, 2\], got 3"):
        field.layer(3)
    with pytest.raises(ValueError, match="layer must be 'output' or an int"):
        field.layer("last")
    with pytest.raises(ValueError, match=r"seq_len must be an integer in \[1, 32\]"):
        model_reach(model, 33)


def test_a_jacobian_past_the_work_limit_is_refused_up_front():
    config = TinyConfig(n_layers=2, d_model=64, vocab_size=64, context=MAX_TOKENS)
    model = TinyTransformer(config, seed=0)
    with pytest.raises(ValueError, match="MAX_JACOBIAN_WORK"):
        gradient_field(model, torch.zeros(MAX_TOKENS, dtype=torch.long))
