"""kernels.softmax.blocked_attention: the block-wise form, held to the reference."""

import pytest
import torch

from attnviz.kernels import attention as attention_module
from attnviz.kernels import softmax as softmax_module
from attnviz.kernels.attention import multi_head_attention
from attnviz.kernels.softmax import blocked_attention, scaled_dot_product_attention


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of a few rows, so that every test runs many blocks and a ragged last one."""
    monkeypatch.setattr(softmax_module, "BLOCK_ELEMENTS", 64)


def _qkv(q_lead=(2, 3), kv_lead=(2, 3), t_q=9, t_k=9, d_k=4, d_v=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*q_lead, t_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(*kv_lead, t_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(*kv_lead, t_k, d_v, generator=g, dtype=dtype)
    return q, k, v


def _same(ours, reference):
    torch.testing.assert_close(ours.weights, reference.weights)
    torch.testing.assert_close(ours.output, reference.output)


@pytest.mark.parametrize("t_q, t_k", [(9, 9), (5, 11), (11, 5), (1, 1)])
@pytest.mark.parametrize("causal", [False, True])
def test_equals_the_reference_with_and_without_a_causal_mask(t_q, t_k, causal):
    q, k, v = _qkv(t_q=t_q, t_k=t_k)
    ours = blocked_attention(q, k, v, scale=0.7, causal=causal)
    _same(ours, scaled_dot_product_attention(q, k, v, scale=0.7, causal=causal))
    if causal:  # the future gets exactly zero weight
        assert torch.all(ours.weights.triu(1) == 0)


@pytest.mark.parametrize("causal", [False, True])
def test_equals_the_reference_under_a_mask_with_fully_masked_rows(causal):
    q, k, v = _qkv(t_q=10, t_k=10)
    mask = torch.rand(10, 10, generator=torch.Generator().manual_seed(1)) > 0.5
    mask[3] = False  # a query that may see nothing
    mask[7, 8:] = True  # a query that sees past the diagonal (cut by causal)
    ours = blocked_attention(q, k, v, mask, causal=causal)
    _same(ours, scaled_dot_product_attention(q, k, v, mask, causal=causal))
    assert torch.all(ours.weights[..., 3, :] == 0) and torch.all(ours.output[..., 3, :] == 0)
    assert torch.isfinite(ours.output).all()


def test_a_lower_triangular_mask_skips_the_future_and_still_equals_the_reference():
    q, k, v = _qkv(t_q=12, t_k=12)
    mask = torch.ones(12, 12, dtype=torch.bool).tril()
    _same(blocked_attention(q, k, v, mask), scaled_dot_product_attention(q, k, v, mask))


def test_leading_dimensions_of_operands_and_mask_broadcast():
    q, k, v = _qkv(q_lead=(2, 3), kv_lead=(1, 3))
    mask = torch.rand(2, 1, 9, 9, generator=torch.Generator().manual_seed(2)) > 0.3
    ours = blocked_attention(q, k, v, mask)
    assert ours.weights.shape == (2, 3, 9, 9) and ours.output.shape == (2, 3, 9, 3)
    _same(ours, scaled_dot_product_attention(q, k, v, mask))
    key_mask = torch.tensor([True] * 6 + [False] * 3)  # (T_k,): padding keys
    _same(blocked_attention(q, k, v, key_mask), scaled_dot_product_attention(q, k, v, key_mask))


def test_float32_and_mixed_dtypes_promote_like_the_reference():
    q, k, v = _qkv(dtype=torch.float32)
    ours = blocked_attention(q, k.double(), v)
    assert ours.weights.dtype == torch.float64
    _same(ours, scaled_dot_product_attention(q, k.double(), v))
    _same(
        blocked_attention(q, k, v, causal=True), scaled_dot_product_attention(q, k, v, causal=True)
    )


def test_it_needs_no_gradient_and_names_bad_shapes_like_the_reference():
    q, k, v = (t.requires_grad_() for t in _qkv())
    assert not blocked_attention(q, k, v).output.requires_grad
    with pytest.raises(ValueError, match="q and k must share the last dimension d_k"):
        blocked_attention(q, k[..., :2], v)
    with pytest.raises(ValueError, match="does not broadcast to the scores' shape"):
        blocked_attention(q, k, v, torch.ones(4, 9, dtype=torch.bool))


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_runs_long_inputs_blocked_without_a_gradient(monkeypatch, causal):
    q, k, v = _qkv(t_q=16, t_k=16, dtype=torch.float32)
    reference = multi_head_attention(q, k, v, causal=causal)  # 16 x 16: the reference
    monkeypatch.setattr(attention_module, "BLOCKED_SCORES", 16 * 16)
    calls = []
    monkeypatch.setattr(
        attention_module,
        "blocked_attention",
        lambda *args, **kwargs: calls.append(1) or blocked_attention(*args, **kwargs),
    )
    with torch.no_grad():
        _same(multi_head_attention(q, k, v, causal=causal), reference)
    assert calls == [1]
    q.requires_grad_()
    out = multi_head_attention(q, k, v, causal=causal).output  # training: the reference
    assert calls == [1] and out.requires_grad
    out.sum().backward()
    assert q.grad is not None


def test_weights_into_lends_buffers_in_order_and_skips_those_that_do_not_fit():
    from attnviz.kernels.softmax import weights_into

    q, k, v = _qkv(dtype=torch.float32)
    fits = torch.zeros(2, 3, 9, 9)
    wrong = torch.zeros(5)  # the wrong size: the call makes its own
    with weights_into([fits, wrong]):
        first = blocked_attention(q, k, v, causal=True)
        second = blocked_attention(q, k, v, causal=True)
    assert first.weights.data_ptr() == fits.data_ptr()
    assert second.weights.data_ptr() != wrong.data_ptr() and not wrong.any()
    reference = scaled_dot_product_attention(q, k, v, causal=True)
    for ours in (first, second):
        _same(ours, reference)
    outside = blocked_attention(q, k, v, causal=True)  # the loan ends with the block
    assert outside.weights.data_ptr() not in (fits.data_ptr(), first.weights.data_ptr())
