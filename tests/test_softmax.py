"""kernels.softmax: the reference attention that every later operator is held to."""

import math

import numpy as np
import pytest
import torch

from attnviz.kernels.softmax import scaled_dot_product_attention, softmax_weights


def _qkv(batch=(2, 3), t_q=5, t_k=7, d_k=8, d_v=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, t_q, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(*batch, t_k, d_k, generator=g, dtype=torch.float64)
    v = torch.randn(*batch, t_k, d_v, generator=g, dtype=torch.float64)
    return q, k, v


def test_matches_the_written_formula():
    q, k, v = _qkv()
    out, weights = scaled_dot_product_attention(q, k, v)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(out, expected @ v)


@pytest.mark.parametrize("causal", [False, True])
def test_agrees_with_pytorch_sdpa(causal):
    q, k, v = _qkv(t_q=6, t_k=6)
    ours = scaled_dot_product_attention(q, k, v, causal=causal).output
    torch_out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, torch_out)


def test_mask_agrees_with_pytorch_sdpa_boolean_mask():
    q, k, v = _qkv()
    mask = torch.rand(5, 7, generator=torch.Generator().manual_seed(1)) > 0.4
    mask[:, 0] = True  # every query keeps at least one key, as PyTorch requires
    ours = scaled_dot_product_attention(q, k, v, mask).output
    torch_out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, torch_out)


def test_weights_are_a_distribution_and_masked_keys_get_none():
    q, k, v = _qkv()
    mask = torch.ones(5, 7, dtype=torch.bool)
    mask[:, 3] = False
    weights = scaled_dot_product_attention(q, k, v, mask).weights
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    assert torch.all(weights[..., 3] == 0)
    assert torch.all(weights >= 0)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = _qkv()
    mask = torch.ones(5, 7, dtype=torch.bool)
    mask[2] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all()
    assert torch.all(weights[..., 2, :] == 0)
    assert torch.all(out[..., 2, :] == 0)


def test_causal_queries_never_see_the_future():
    q, k, v = _qkv(t_q=6, t_k=6)
    weights = scaled_dot_product_attention(q, k, v, causal=True).weights
    assert torch.all(weights.triu(diagonal=1) == 0)
    torch.testing.assert_close(weights[..., 0, 0], torch.ones(2, 3, dtype=torch.float64))


def test_scale_acts_as_inverse_temperature():
    q, k, v = _qkv()
    sharp = scaled_dot_product_attention(q, k, v, scale=10.0).weights
    flat = scaled_dot_product_attention(q, k, v, scale=0.0).weights
    torch.testing.assert_close(flat, torch.full_like(flat, 1 / 7))
    # a sharper softmax puts more mass on each row's favourite key
    default = scaled_dot_product_attention(q, k, v).weights
    assert (sharp.amax(-1) >= default.amax(-1) - 1e-12).all()


def test_huge_scores_do_not_overflow():
    q, k, v = _qkv()
    out, weights = scaled_dot_product_attention(q * 1e6, k, v)
    assert torch.isfinite(weights).all() and torch.isfinite(out).all()
    torch.testing.assert_close(weights.amax(-1), torch.ones(2, 3, 5, dtype=torch.float64))


def test_accepts_numpy_arrays_and_broadcasts_leading_dims():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((4, 3))
    k = rng.standard_normal((2, 6, 3))
    v = rng.standard_normal((2, 6, 5))
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 4, 5) and weights.shape == (2, 4, 6)


def test_softmax_weights_ignores_masked_entries():
    scores = torch.tensor([[1.0, 2.0, 3.0]])
    mask = torch.tensor([[True, False, True]])
    weights = softmax_weights(scores, mask)
    expected = torch.softmax(torch.tensor([1.0, 3.0]), -1)
    torch.testing.assert_close(weights[0, [0, 2]], expected)
    assert weights[0, 1] == 0


def test_shape_mismatch_names_both_shapes():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=r"q has shape \(2, 3, 5, 8\).*k has shape \(2, 3, 7, 6\)"):
        scaled_dot_product_attention(q, k[..., :6], v)
    with pytest.raises(ValueError, match=r"k has shape \(2, 3, 7, 8\).*v has shape \(2, 3, 6, 4\)"):
        scaled_dot_product_attention(q, k, v[..., :6, :])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"q": [[1.0]]}, TypeError, "q must be a torch.Tensor or numpy.ndarray, got .* \\(list\\)"),
        ({"q": torch.ones(3)}, ValueError, "q must have at least 2 dimension"),
        ({"scale": float("nan")}, ValueError, "scale must be finite"),
        ({"scale": "big"}, TypeError, "scale must be a real number"),
        ({"mask": torch.ones(5, 7)}, TypeError, "mask must have dtype torch.bool"),
        ({"mask": torch.ones(4, 7, dtype=torch.bool)}, ValueError, r"mask of shape \(4, 7\)"),
        ({"mask": "all"}, TypeError, "mask must be a boolean torch.Tensor"),
    ],
)
def test_bad_arguments_get_clear_errors(kwargs, error, pattern):
    q, k, v = _qkv()
    args = {"q": q, "k": k, "v": v, **kwargs}
    with pytest.raises(error, match=pattern):
        scaled_dot_product_attention(
            args["q"], args["k"], args["v"], args.get("mask"), scale=args.get("scale")
        )


@pytest.mark.parametrize("name", ["scaled_dot_product_attention", "blocked_attention"])
def test_attention_refuses_empty_keys(name):
    from attnviz.kernels import softmax

    q, empty = torch.randn(3, 4), torch.randn(0, 4)
    with pytest.raises(ValueError, match=r"at least one key \(T_k >= 1\)"):
        getattr(softmax, name)(q, empty, empty)


@pytest.mark.parametrize("scale", [1e308, -1e308])
@pytest.mark.parametrize("name", ["scaled_dot_product_attention", "blocked_attention"])
def test_attention_raises_instead_of_returning_nan(name, scale):
    from attnviz.kernels import softmax

    q = torch.randn(3, 4)
    with pytest.raises(ValueError, match="overflowed to NaN or inf"):
        getattr(softmax, name)(q, q, q, scale=scale)
    big = torch.full((3, 4), 3e38)
    with pytest.raises(ValueError, match="overflowed"):
        getattr(softmax, name)(big, big, big)


def test_attention_refuses_weights_past_the_memory_budget():
    from attnviz.memory_budget import memory_budget_of

    q = torch.randn(20_000, 1)
    with memory_budget_of("256MB"), pytest.raises(ValueError, match="use blocked_attention"):
        scaled_dot_product_attention(q, q, q)


def test_softmax_weights_checks_dim_and_mask():
    with pytest.raises(ValueError, match=r"dim must be an integer in \[-2, 1\], got 5"):
        softmax_weights(torch.randn(2, 3), dim=5)
    with pytest.raises(ValueError, match="at least one entry along dim"):
        softmax_weights(torch.randn(2, 0))
    with pytest.raises(ValueError, match="does not broadcast"):
        softmax_weights(torch.randn(2, 3), torch.ones(4, 2, 3, dtype=torch.bool))
    masked = softmax_weights(torch.tensor([0.0, float("-inf")]))
    assert masked.tolist() == [1.0, 0.0]
