"""kernels.online_softmax: the streamed form, held to the reference for every block size."""

import pytest
import torch

from attnviz.kernels.online_softmax import (
    attention_tile,
    online_softmax_attention,
    online_softmax_steps,
)
from attnviz.kernels.softmax import scaled_dot_product_attention
from attnviz.memory_budget import memory_budget_of


def _qkv(t_q, t_k, d_k=5, d_v=3, lead=(2, 3), kv_lead=None, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    kv_lead = lead if kv_lead is None else kv_lead
    q = torch.randn(*lead, t_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(*kv_lead, t_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(*kv_lead, t_k, d_v, generator=g, dtype=dtype)
    return q, k, v


def _reference_lse(q, k, scale, causal):
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if causal:
        allowed = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.logsumexp(scores, dim=-1)


SHAPES = [(1, 1), (7, 7), (13, 13), (5, 11), (11, 5), (16, 16), (9, 30)]
BLOCKS = [1, 2, 3, 4, 5, 8, 16, 64]  # 1, divisors, non-divisors, >= T


@pytest.mark.parametrize("t_q, t_k", SHAPES)
@pytest.mark.parametrize("block_size", BLOCKS)
@pytest.mark.parametrize("causal", [False, True])
def test_equals_the_reference_for_every_block_size(t_q, t_k, block_size, causal):
    q, k, v = _qkv(t_q, t_k, seed=t_q * 100 + t_k)
    ours = online_softmax_attention(q, k, v, scale=0.6, causal=causal, block_size=block_size)
    reference = scaled_dot_product_attention(q, k, v, scale=0.6, causal=causal)
    torch.testing.assert_close(ours.output, reference.output, rtol=1e-12, atol=1e-12)
    lse = _reference_lse(q, k, 0.6, causal)
    torch.testing.assert_close(ours.lse, lse, rtol=1e-12, atol=1e-12)


def test_default_scale_is_one_over_sqrt_d_and_leading_dimensions_broadcast():
    q, k, v = _qkv(9, 12, d_k=16, lead=(2, 3), kv_lead=(1, 3))
    ours = online_softmax_attention(q, k, v, block_size=5)
    reference = scaled_dot_product_attention(q, k, v)
    assert ours.output.shape == (2, 3, 9, 3) and ours.lse.shape == (2, 3, 9)
    torch.testing.assert_close(ours.output, reference.output, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.lse, _reference_lse(q, k, 0.25, False))


def test_large_scores_do_not_overflow_thanks_to_the_running_max():
    # scores near 700: exp would overflow float64 without subtracting the max
    q, k, v = _qkv(6, 10, d_k=1, lead=())
    q, k = q.sign() * 26.0, k.sign() * 27.0
    ours = online_softmax_attention(q, k, v, scale=1.0, block_size=3)
    reference = scaled_dot_product_attention(q, k, v, scale=1.0)
    torch.testing.assert_close(ours.output, reference.output)
    assert torch.isfinite(ours.lse).all() and ours.lse.max() > 700


def test_half_precision_is_computed_in_float32():
    q, k, v = _qkv(8, 8, dtype=torch.float16)
    ours = online_softmax_attention(q, k, v, causal=True, block_size=3)
    reference = scaled_dot_product_attention(q.double(), k.double(), v.double(), causal=True)
    assert ours.output.dtype == torch.float32
    torch.testing.assert_close(ours.output.double(), reference.output, rtol=1e-5, atol=1e-5)


def test_the_score_tiles_never_grow_past_block_size_squared(monkeypatch):
    import attnviz.kernels.online_softmax as module

    seen = []
    original = module._block_scores

    def spy(*args):
        scores = original(*args)
        seen.append(tuple(scores.shape[-2:]))
        return scores

    monkeypatch.setattr(module, "_block_scores", spy)
    q, k, v = _qkv(20, 23, lead=(2,))
    online_softmax_attention(q, k, v, causal=True, block_size=6)
    assert seen and all(r <= 6 and c <= 6 for r, c in seen)
    # causal: a key block after a query block's last row is never scored
    assert len(seen) == 1 + 2 + 3 + 4  # query blocks 0..5, 6..11, 12..17, 18..19


def test_the_memory_budget_counts_only_linear_buffers():
    q, k, v = _qkv(4096, 4096, d_k=8, d_v=8, lead=())
    with memory_budget_of("2MiB"):  # (T, T) float64 would be 134 MB
        online_softmax_attention(q[:1024], k[:1024], v[:1024], block_size=64)
    with memory_budget_of("1MiB"), pytest.raises(ValueError, match="online_softmax_attention"):
        online_softmax_attention(q, k, v, block_size=64)


@pytest.mark.parametrize("bad, match", [
    (dict(block_size=0), "block_size"),
    (dict(block_size=2.5), "block_size"),
    (dict(causal="yes"), "causal"),
    (dict(scale=float("nan")), "scale"),
])  # fmt: skip
def test_bad_arguments_are_refused_by_name(bad, match):
    q, k, v = _qkv(4, 4)
    with pytest.raises((ValueError, TypeError), match=match):
        online_softmax_attention(q, k, v, **bad)


def test_scores_that_overflow_are_refused():
    q, k, v = _qkv(3, 3, lead=())
    with pytest.raises(ValueError, match="overflowed"):
        online_softmax_attention(q * 1e200, k * 1e200, v)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("rows, cols", [((0, 13), (0, 13)), ((3, 9), (2, 7)), ((12, 13), (0, 1)),
                                        ((0, 4), (8, 13)), (None, None)])  # fmt: skip
def test_a_tile_equals_the_reference_weights(rows, cols, causal):
    q, k, v = _qkv(13, 13, seed=4)
    lse = online_softmax_attention(q, k, v, scale=0.8, causal=causal, block_size=4).lse
    tile = attention_tile(q, k, lse, rows=rows, cols=cols, scale=0.8, causal=causal)
    weights = scaled_dot_product_attention(q, k, v, scale=0.8, causal=causal).weights
    r0, r1 = rows or (0, 13)
    c0, c1 = cols or (0, 13)
    torch.testing.assert_close(tile, weights[..., r0:r1, c0:c1], rtol=1e-12, atol=1e-14)


def test_tiles_of_a_row_sum_to_one():
    q, k, v = _qkv(10, 17, lead=(), seed=5)
    lse = online_softmax_attention(q, k, v, block_size=4).lse
    parts = [attention_tile(q, k, lse, cols=(c, min(c + 5, 17))) for c in range(0, 17, 5)]
    torch.testing.assert_close(sum(p.sum(-1) for p in parts), torch.ones(10, dtype=q.dtype))


@pytest.mark.parametrize("bad, match", [
    (dict(rows=(3, 3)), "rows"),
    (dict(rows=(0, 99)), "rows"),
    (dict(cols=(-1, 2)), "cols"),
    (dict(cols="0:2"), "cols"),
    (dict(cols=(0, 1, 2)), "cols"),
])  # fmt: skip
def test_bad_tiles_are_refused_by_name(bad, match):
    q, k, v = _qkv(6, 6, lead=())
    lse = online_softmax_attention(q, k, v).lse
    with pytest.raises((ValueError, TypeError), match=match):
        attention_tile(q, k, lse, **bad)


def test_a_tile_refuses_an_lse_of_the_wrong_length():
    q, k, v = _qkv(6, 6, lead=())
    with pytest.raises(ValueError, match="lse"):
        attention_tile(q, k, torch.zeros(5, dtype=q.dtype))


@pytest.mark.parametrize("t_q, t_k", [(1, 9), (5, 9), (6, 6), (3, 1)])
@pytest.mark.parametrize("block_size", [1, 2, 4, 10])
@pytest.mark.parametrize("causal", [False, True])
def test_steps_end_at_the_reference_and_rescale_by_the_change_of_max(t_q, t_k, block_size, causal):
    q, k, v = _qkv(t_q, t_k, lead=(), seed=7)
    steps = online_softmax_steps(q, k, v, scale=0.9, causal=causal, block_size=block_size)
    reference = scaled_dot_product_attention(q, k, v, scale=0.9, causal=causal)
    torch.testing.assert_close(steps[-1].output, reference.output, rtol=1e-12, atol=1e-12)
    lse = _reference_lse(q, k, 0.9, causal)
    torch.testing.assert_close(steps[-1].m_after + steps[-1].l_after.log(), lse)
    last = min(t_k, t_q) if causal else t_k
    assert [s.keys for s in steps] == [
        (a, min(a + block_size, last)) for a in range(0, last, block_size)
    ]
    for i, step in enumerate(steps):
        assert step.block == i
        torch.testing.assert_close(step.rescale, torch.exp(step.m_before - step.m_after))
        assert torch.all(step.m_after >= step.m_before)
        torch.testing.assert_close(step.output * step.l_after[:, None], step.unnormalised)
        if i:  # each step starts where the last one ended
            assert torch.equal(step.m_before, steps[i - 1].m_after)
            assert torch.equal(step.l_before, steps[i - 1].l_after)
    # after block j the output is attention over the keys seen so far
    j = len(steps) // 2
    stop = steps[j].keys[1]
    partial = scaled_dot_product_attention(q, k[:stop], v[:stop], scale=0.9, causal=causal)
    torch.testing.assert_close(steps[j].output, partial.output, rtol=1e-12, atol=1e-12)


def test_the_first_step_rescales_nothing():
    q, k, v = _qkv(3, 8, lead=())
    first = online_softmax_steps(q, k, v)[0]
    assert torch.all(first.m_before == float("-inf")) and torch.all(first.rescale == 0)
    assert torch.all(first.l_before == 0)


def test_steps_refuse_too_many_rows_and_leading_dimensions():
    q, k, v = _qkv(65, 4, lead=())
    with pytest.raises(ValueError, match="q must hold 1 to 64"):
        online_softmax_steps(q, k, v)
    q, k, v = _qkv(2, 4, lead=(2,))
    with pytest.raises(ValueError, match="q must have 2 dimension"):
        online_softmax_steps(q, k, v)


def test_every_recorded_number_is_finite_but_the_max_before_the_first_block():
    q, k, v = _qkv(4, 9, lead=(), seed=8)
    steps = online_softmax_steps(q, k, v, causal=True, block_size=2)
    for i, step in enumerate(steps):
        fields = step._asdict()
        fields["scores"] = fields["scores"].masked_fill(fields["scores"] == float("-inf"), 0)
        if i == 0:
            del fields["m_before"]
        for name, value in fields.items():
            if isinstance(value, torch.Tensor):
                assert torch.isfinite(value).all(), (i, name)


def test_the_package_re_exports_the_online_form():
    import attnviz.kernels as kernels

    assert kernels.online_softmax_attention is online_softmax_attention
    assert kernels.attention_tile is attention_tile
