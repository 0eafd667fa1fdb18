"""kernels.scan: attention as an RNN (Feng et al. 2024), held to causal softmax attention."""

import math

import pytest
import torch

from attnviz.kernels.scan import ScanState, attention_rnn, attention_scan, combine
from attnviz.kernels.softmax import scaled_dot_product_attention


def _qkv(t, d_k=4, d_v=3, lead=(2,), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, d_k, generator=g, dtype=dtype)
    k = torch.randn(*lead, t, d_k, generator=g, dtype=dtype)
    v = torch.randn(*lead, t, d_v, generator=g, dtype=dtype)
    return q, k, v


def _random_state(g, lead=(3,), d_v=2, empty=False):
    m = (
        torch.full(lead, -math.inf, dtype=torch.float64)
        if empty
        else torch.randn(*lead, generator=g, dtype=torch.float64) * 5
    )
    u = (
        torch.zeros(lead, dtype=torch.float64)
        if empty
        else torch.rand(*lead, generator=g, dtype=torch.float64) + 0.1
    )
    w = (
        torch.zeros(*lead, d_v, dtype=torch.float64)
        if empty
        else torch.randn(*lead, d_v, generator=g, dtype=torch.float64)
    )
    return ScanState(m, u, w)


def _close(a: ScanState, b: ScanState):
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_combine_is_associative_in_float64(seed):
    g = torch.Generator().manual_seed(seed)
    a, b, c = (_random_state(g) for _ in range(3))
    _close(combine(combine(a, b), c), combine(a, combine(b, c)))


def test_the_empty_run_is_the_identity():
    g = torch.Generator().manual_seed(1)
    a, empty = _random_state(g), _random_state(g, empty=True)
    _close(combine(a, empty), a)
    _close(combine(empty, a), a)
    both = combine(empty, empty)
    assert torch.all(both.m == -math.inf) and torch.all(both.u == 0) and torch.all(both.w == 0)


def test_leaves_fold_to_the_softmax():
    g = torch.Generator().manual_seed(2)
    s = torch.randn(7, generator=g, dtype=torch.float64) * 3
    v = torch.randn(7, 4, generator=g, dtype=torch.float64)
    state = ScanState(s[0], torch.tensor(1.0, dtype=torch.float64), v[0])
    for i in range(1, 7):
        state = combine(state, ScanState(s[i], torch.tensor(1.0, dtype=torch.float64), v[i]))
    torch.testing.assert_close(state.m, s.max())
    torch.testing.assert_close(state.u, torch.exp(s - s.max()).sum())
    torch.testing.assert_close(state.w / state.u, torch.softmax(s, 0) @ v)


@pytest.mark.parametrize("t", [1, 2, 3, 5, 8, 13, 32, 33])
@pytest.mark.parametrize("form", [attention_scan, attention_rnn])
def test_with_one_query_for_every_position_both_equal_causal_softmax_attention(t, form):
    q, k, v = _qkv(t, seed=t)
    ours = form(q, k, v, scale=0.8)
    queries = q[..., None, :].expand(*q.shape[:-1], t, q.shape[-1])
    reference = scaled_dot_product_attention(queries, k, v, scale=0.8, causal=True).output
    assert ours.shape == reference.shape
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("t", [1, 6, 11])
def test_each_row_of_causal_attention_is_the_last_output_of_its_own_rnn(t):
    g = torch.Generator().manual_seed(3)
    q = torch.randn(t, 5, generator=g, dtype=torch.float64)
    k = torch.randn(t, 5, generator=g, dtype=torch.float64)
    v = torch.randn(t, 2, generator=g, dtype=torch.float64)
    reference = scaled_dot_product_attention(q, k, v, causal=True).output
    for row in range(t):
        many_to_one = attention_rnn(q[row], k[: row + 1], v[: row + 1])[-1]
        torch.testing.assert_close(many_to_one, reference[row], rtol=1e-12, atol=1e-12)


def test_the_scan_takes_ceil_log2_t_rounds(monkeypatch):
    import attnviz.kernels.scan as module

    calls = []
    original = module._merge

    def spy(a, b):
        calls.append(a.m.shape[-1])
        return original(a, b)

    monkeypatch.setattr(module, "_merge", spy)
    q, k, v = _qkv(37)
    attention_scan(q, k, v)
    assert len(calls) == math.ceil(math.log2(37))


def test_large_scores_do_not_overflow_and_leading_dimensions_broadcast():
    q, k, v = _qkv(9, lead=(2, 3))
    q = q[:1] * 40  # (1, 3, d): broadcasts against k, v (2, 3, ...)
    scan, rnn = attention_scan(q, k, v, scale=1.0), attention_rnn(q, k, v, scale=1.0)
    assert scan.shape == (2, 3, 9, 3)
    torch.testing.assert_close(scan, rnn, rtol=1e-10, atol=1e-10)
    assert torch.isfinite(scan).all()


def test_half_precision_is_computed_in_float32():
    q, k, v = _qkv(6, dtype=torch.float16)
    out = attention_scan(q, k, v)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, attention_rnn(q.double(), k.double(), v.double()).float(),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("call, match", [
    (lambda q, k, v: attention_scan(q, k[..., :2, :], v), "k and v"),
    (lambda q, k, v: attention_scan(q[..., :2], k, v), "d_k"),
    (lambda q, k, v: attention_rnn(q, k, v, scale=math.inf), "scale"),
    (lambda q, k, v: attention_rnn(q, k[:2], v[:2]), "leading"),
    (lambda q, k, v: combine("state", ScanState(q[0, 0], q[0, 0], q[0])), "a must be"),
    (lambda q, k, v: combine(ScanState(q[0, 0], -q[0, 0].abs() - 1, q[0]),
                             ScanState(q[0, 0], q[0, 0].abs(), q[0])), "a.u"),
    (lambda q, k, v: combine(ScanState(q[0, 0], q[0, 0].abs(), q[0]),
                             ScanState(q[0, 0], q[0, 0].abs(), q[0, :2])), "d_v"),
])  # fmt: skip
def test_bad_arguments_are_refused_by_name(call, match):
    q, k, v = _qkv(4, lead=(3,))
    with pytest.raises((ValueError, TypeError), match=match):
        call(q, k, v)
