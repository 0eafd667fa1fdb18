"""kernels.chunkwise: Lightning Attention-2's chunkwise form, held to its two references."""

import pytest
import torch

from attnviz.kernels.chunkwise import (
    chunkwise_linear_attention,
    chunkwise_steps,
    linear_attention_parallel,
    linear_attention_recurrent,
)
from attnviz.kernels.linear import gated_linear_attention
from attnviz.memory_budget import memory_budget_of


def _qkv(t=13, d_k=4, d_v=3, lead=(2, 3), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, t, d_k, generator=g, dtype=dtype)
    k = torch.randn(*lead, t, d_k, generator=g, dtype=dtype)
    v = torch.randn(*lead, t, d_v, generator=g, dtype=dtype)
    return q, k, v


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


HEADS = torch.tensor([1.0, 0.8, 0.3], dtype=torch.float64)  # one λ per head, lead (2, 3)


@pytest.mark.parametrize("chunk_size", [1, 3, 4, 5, 13, 16, 100])
@pytest.mark.parametrize("decay", [1.0, 0.9, 0.5, "per-head"])
def test_chunkwise_equals_recurrent_equals_parallel(chunk_size, decay):
    decay = HEADS if decay == "per-head" else decay
    q, k, v = _qkv(seed=chunk_size)
    fast = chunkwise_linear_attention(q, k, v, decay=decay, chunk_size=chunk_size)
    recurrent = linear_attention_recurrent(q, k, v, decay=decay)
    parallel = linear_attention_parallel(q, k, v, decay=decay)
    _close(fast.output, recurrent.output)
    _close(parallel.output, recurrent.output)
    assert fast.state is None


@pytest.mark.parametrize("chunk_size", [1, 3, 16, 40])
@pytest.mark.parametrize("decay", [1.0, 0.7, "per-head"])
def test_initial_state_and_returned_state_agree_across_forms(chunk_size, decay):
    decay = HEADS if decay == "per-head" else decay
    q, k, v = _qkv(t=17, seed=1)
    s0 = torch.randn(2, 3, 3, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    forms = [
        chunkwise_linear_attention(q, k, v, decay=decay, chunk_size=chunk_size,
                                   initial_state=s0, return_state=True),
        linear_attention_recurrent(q, k, v, decay=decay, initial_state=s0, return_state=True),
        linear_attention_parallel(q, k, v, decay=decay, initial_state=s0, return_state=True),
    ]  # fmt: skip
    for other in forms[1:]:
        _close(forms[0].output, other.output)
        _close(forms[0].state, other.state)


def test_two_halves_carried_by_the_state_equal_the_whole():
    q, k, v = _qkv(t=20, seed=2)
    whole = chunkwise_linear_attention(q, k, v, decay=0.8, chunk_size=6)
    head, tail = (
        (q[..., :11, :], k[..., :11, :], v[..., :11, :]),
        (q[..., 11:, :], k[..., 11:, :], v[..., 11:, :]),
    )
    first = chunkwise_linear_attention(*head, decay=0.8, chunk_size=6, return_state=True)
    second = chunkwise_linear_attention(*tail, decay=0.8, chunk_size=6, initial_state=first.state)
    _close(torch.cat([first.output, second.output], dim=-2), whole.output)


@pytest.mark.parametrize("decay", [1.0, 0.9, 0.5])
@pytest.mark.parametrize("form", ["recurrent", "parallel", "chunkwise"])
def test_equals_gated_linear_attention_with_the_identity_feature_map(decay, form):
    q, k, v = _qkv(seed=3)
    s0 = torch.randn(3, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ours = chunkwise_linear_attention(q, k, v, decay=decay, chunk_size=5, initial_state=s0,
                                      return_state=True)  # fmt: skip
    theirs = gated_linear_attention(q, k, v, alpha=decay, form=form, chunk_size=4,
                                    initial_state=s0, return_state=True)  # fmt: skip
    _close(ours.output, theirs.output)
    _close(ours.state, theirs.state)


def test_per_head_decay_equals_gated_linear_attention_per_head():
    q, k, v = _qkv(seed=5)
    ours = chunkwise_linear_attention(q, k, v, decay=HEADS, chunk_size=4)
    theirs = gated_linear_attention(q, k, v, alpha=HEADS[:, None], form="recurrent")
    _close(ours.output, theirs.output)


def test_the_definition_by_hand():
    q, k, v = _qkv(t=6, lead=(), seed=6)
    lam = 0.6
    expected = torch.stack([
        sum(lam ** (t - s) * (q[t] @ k[s]) * v[s] for s in range(t + 1)) for t in range(6)
    ])  # fmt: skip
    _close(chunkwise_linear_attention(q, k, v, decay=lam, chunk_size=4).output, expected)


def test_a_tiny_decay_underflows_instead_of_overflowing():
    # λ^{-B} would be 1e-3^{-256} = 1e768, past float64; the powers are never inverted
    q, k, v = _qkv(t=300, lead=())
    fast = chunkwise_linear_attention(q, k, v, decay=1e-3, chunk_size=256)
    _close(fast.output, linear_attention_recurrent(q, k, v, decay=1e-3).output)


def test_half_precision_and_broadcast_leading_dimensions():
    q, k, v = _qkv(t=9, lead=(2, 3), dtype=torch.float16)
    out = chunkwise_linear_attention(q[:1], k, v, decay=0.9, chunk_size=4)
    assert out.output.dtype == torch.float32 and out.output.shape == (2, 3, 9, 3)
    ref = linear_attention_recurrent(q[:1].double(), k.double(), v.double(), decay=0.9)
    torch.testing.assert_close(out.output.double(), ref.output, rtol=1e-5, atol=1e-5)


def test_memory_is_linear_in_length_for_the_chunkwise_form_only():
    q, k, v = _qkv(t=4096, d_k=4, d_v=4, lead=())
    with memory_budget_of("2MiB"):  # (T, T) float64 is 134 MB
        chunkwise_linear_attention(q, k, v, decay=0.9, chunk_size=64)
        with pytest.raises(ValueError, match="use chunkwise_linear_attention"):
            linear_attention_parallel(q, k, v, decay=0.9)


@pytest.mark.parametrize("t, chunk_size", [(1, 4), (10, 4), (12, 4), (7, 1), (5, 64)])
def test_steps_split_each_chunk_into_intra_and_inter(t, chunk_size):
    q, k, v = _qkv(t=t, lead=(), seed=7)
    steps = chunkwise_steps(q, k, v, decay=0.8, chunk_size=chunk_size)
    size = min(chunk_size, t)
    assert [s.tokens for s in steps] == [(a, min(a + size, t)) for a in range(0, t, size)]
    assert [s.chunk for s in steps] == list(range(len(steps)))
    full = linear_attention_recurrent(q, k, v, decay=0.8, return_state=True)
    _close(torch.cat([s.output for s in steps]), full.output)
    _close(steps[-1].state, full.state)
    assert torch.all(steps[0].inter == 0)  # nothing before the first chunk
    for s in steps:
        _close(s.intra + s.inter, s.output)
        a, b = s.tokens
        # intra is this chunk alone, started from an empty state
        alone = linear_attention_recurrent(q[a:b], k[a:b], v[a:b], decay=0.8)
        _close(s.intra, alone.output)
        # the state after the chunk is the recurrence's state after its last token
        _close(s.state, linear_attention_recurrent(q[:b], k[:b], v[:b], decay=0.8,
                                                   return_state=True).state)  # fmt: skip


@pytest.mark.parametrize("call, match", [
    (lambda q, k, v: chunkwise_linear_attention(q, k, v, decay=0.0), "decay"),
    (lambda q, k, v: chunkwise_linear_attention(q, k, v, decay=1.5), "decay"),
    (lambda q, k, v: chunkwise_linear_attention(q, k, v, decay=torch.tensor([0.5, 2.0, 1.0])),
     "decay"),
    (lambda q, k, v: chunkwise_linear_attention(q, k, v, decay=torch.ones(4)), "decay"),
    (lambda q, k, v: chunkwise_linear_attention(q, k, v, chunk_size=0), "chunk_size"),
    (lambda q, k, v: chunkwise_linear_attention(q, k[..., :5, :], v[..., :5, :]), "same length"),
    (lambda q, k, v: linear_attention_parallel(q, k, v, initial_state=torch.ones(2, 2)),
     "initial_state"),
    (lambda q, k, v: linear_attention_recurrent(q, k, v, return_state=1), "return_state"),
    (lambda q, k, v: chunkwise_steps(q, k, v), "q must have 2"),
    (lambda q, k, v: chunkwise_steps(q[0, 0], k[0, 0], v[0, 0], decay=torch.ones(2)), "decay"),
])  # fmt: skip
def test_bad_arguments_are_refused_by_name(call, match):
    q, k, v = _qkv(t=8)
    with pytest.raises((ValueError, TypeError), match=match):
        call(q, k, v)
