"""kernels.attention: multi-head attention with a pluggable operator, held to PyTorch."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnviz.kernels import AttentionResult, softmax_operator
from attnviz.kernels.attention import (
    OPERATORS,
    causal_mask,
    get_operator,
    merge_heads,
    multi_head_attention,
    split_heads,
)


def _qkv(batch=2, heads=3, t_q=5, t_k=5, d_k=8, d_v=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, t_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(batch, heads, t_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(batch, heads, t_k, d_v, generator=g, dtype=dtype)
    return q, k, v


@pytest.mark.parametrize("causal", [False, True])
def test_agrees_with_pytorch_sdpa(causal):
    q, k, v = _qkv()
    out, weights = multi_head_attention(q, k, v, causal=causal)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    assert weights.shape == (2, 3, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    if causal:
        assert torch.all(weights.triu(diagonal=1) == 0)


def test_mask_and_scale_agree_with_pytorch_sdpa():
    q, k, v = _qkv(t_q=4, t_k=6)
    mask = torch.rand(2, 1, 4, 6, generator=torch.Generator().manual_seed(1)) > 0.5
    mask[..., 0] = True  # every query keeps a key, as PyTorch requires
    ours = multi_head_attention(q, k, v, mask=mask, scale=0.3).output
    torch_out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)
    torch.testing.assert_close(ours, torch_out)


def test_causal_and_mask_combine():
    q, k, v = _qkv()
    keep_first = torch.zeros(5, 5, dtype=torch.bool)
    keep_first[:, 0] = True
    keep_first[:, 3] = True
    weights = multi_head_attention(q, k, v, mask=keep_first, causal=True).weights
    # query 0..2 may only see key 0; queries 3, 4 see keys 0 and 3
    assert torch.all(weights[..., :3, 0] == 1)
    assert torch.all(weights[..., :, [1, 2, 4]] == 0)
    assert torch.all(weights[..., 3:, 3] > 0)


def test_agrees_with_nn_multihead_attention():
    """Projections + split_heads + multi_head_attention + merge_heads is nn.MultiheadAttention."""
    torch.manual_seed(0)
    d_model, n_heads, t = 16, 4, 7
    mha = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True).double()
    x = torch.randn(2, t, d_model, dtype=torch.float64)
    causal = ~causal_mask(t)  # PyTorch's boolean attn_mask marks what may NOT be attended
    expected, expected_weights = mha(
        x, x, x, attn_mask=causal, need_weights=True, average_attn_weights=False
    )

    w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
    q = split_heads(F.linear(x, w_q, b_q), n_heads)  # (B, H, T, d_head)
    k = split_heads(F.linear(x, w_k, b_k), n_heads)
    v = split_heads(F.linear(x, w_v, b_v), n_heads)
    out, weights = multi_head_attention(q, k, v, causal=True)
    ours = mha.out_proj(merge_heads(out))
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(weights, expected_weights)


def test_split_and_merge_heads_are_inverse_and_keep_features_in_order():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    heads = split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    torch.testing.assert_close(heads[0, 1, 0], x[0, 0, 2:4])  # head 1 holds features 2..3
    torch.testing.assert_close(merge_heads(heads), x)


def test_a_custom_operator_gets_the_combined_mask_and_the_scale():
    seen = {}

    def uniform(q, k, v, mask, scale):
        seen["mask"], seen["scale"] = mask, scale
        weights = mask.to(q.dtype).expand(*q.shape[:-1], k.shape[-2])
        weights = weights / weights.sum(-1, keepdim=True)
        return AttentionResult(weights @ v, weights)

    q, k, v = _qkv()
    out, weights = multi_head_attention(q, k, v, operator=uniform, causal=True)
    assert seen["scale"] == pytest.approx(1 / math.sqrt(8))
    torch.testing.assert_close(seen["mask"], causal_mask(5))
    torch.testing.assert_close(weights[0, 0, 2], torch.tensor([1 / 3] * 3 + [0, 0]).double())
    torch.testing.assert_close(out, weights @ v)


def test_operators_by_name():
    assert get_operator("softmax") is softmax_operator
    assert OPERATORS["softmax"] is softmax_operator
    q, k, v = _qkv()
    by_name = multi_head_attention(q, k, v, operator="softmax").output
    torch.testing.assert_close(by_name, multi_head_attention(q, k, v).output)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"q": torch.randn(2, 5, 8)}, ValueError, "q must have 4 dimension(s) (B, H, T_q, d_k)"),
        ({"k": torch.randn(2, 3, 5, 7)}, ValueError, "share the last dimension d_k"),
        ({"v": torch.randn(2, 3, 4, 4)}, ValueError, "same number of keys T_k"),
        ({"v": torch.randn(1, 3, 5, 4)}, ValueError, "batch and head dimensions"),
        ({"q": torch.ones(2, 3, 5, 8, dtype=torch.cfloat)}, TypeError, "real numbers"),
        ({"q": [[1.0]]}, TypeError, "q must be a torch.Tensor"),
        ({"operator": "flash"}, ValueError, "operator must be one of ('softmax'"),
        ({"operator": 3}, TypeError, "operator must be a callable"),
        ({"mask": torch.ones(5, 4, dtype=torch.bool)}, ValueError, "does not broadcast"),
        ({"mask": torch.ones(3, 3, 5, 5, dtype=torch.bool)}, ValueError, "does not broadcast"),
        ({"mask": torch.ones(5, 5)}, TypeError, "torch.bool"),
        ({"causal": 1}, TypeError, "causal must be True or False"),
        ({"scale": float("nan")}, ValueError, "scale must be finite"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    q, k, v = _qkv()
    arguments = {"q": q, "k": k, "v": v, **kwargs}
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        multi_head_attention(
            arguments.pop("q"), arguments.pop("k"), arguments.pop("v"), **arguments
        )


def test_an_operator_returning_the_wrong_shapes_is_caught():
    q, k, v = _qkv()

    def broken(q, k, v, mask, scale):
        return AttentionResult(v, torch.zeros(1))

    with pytest.raises(ValueError, match=r"operator returned weights \(1,\)"):
        multi_head_attention(q, k, v, operator=broken)
    with pytest.raises(TypeError, match="operator must return AttentionResult"):
        multi_head_attention(q, k, v, operator=lambda *args: None)


def test_split_heads_rejects_a_head_count_that_does_not_divide():
    with pytest.raises(ValueError, match="n_heads must divide the last dimension of x"):
        split_heads(torch.randn(2, 3, 10), 4)
    with pytest.raises(ValueError, match=r"x must have 4 dimension\(s\) \(B, H, T, d_head\)"):
        merge_heads(torch.randn(2, 3, 10))


def test_causal_mask_refuses_a_mask_past_the_memory_budget():
    from attnviz.kernels import ssm
    from attnviz.memory_budget import memory_budget_of

    with memory_budget_of("2GB"):
        with pytest.raises(ValueError, match=r"\(t_q, t_k\) = \(100000, 100000\)"):
            causal_mask(100_000)
        with pytest.raises(ValueError, match="memory budget"):
            ssm.causal_mask(100_000)
    with pytest.raises(ValueError, match="size must be an integer"):
        ssm.causal_mask(-1)


def test_operators_check_their_arguments():
    q = torch.randn(1, 2, 3, 4)
    with pytest.raises(TypeError, match="scale must be a real number"):
        softmax_operator(q, q, q, None, None)
    with pytest.raises(TypeError, match="q must be a torch.Tensor"):
        softmax_operator(None, q, q, None, 1.0)
