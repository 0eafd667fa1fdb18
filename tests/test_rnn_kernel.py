"""kernels.rnn: the qLSTM (DSF paper) and the RG-LRU (Griffin): parallel forms and implicit
kernels equal the recurrence, and the recurrence is the one the papers write."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnviz.kernels.rnn import (
    qlstm,
    qlstm_kernel,
    qlstm_transition,
    rg_lru,
    rg_lru_kernel,
    rg_lru_transition,
)
from attnviz.kernels.ssm import selective_scan

F64 = torch.float64


def _inputs(lead=(2, 3), t=13, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    u, f, i, o = (torch.randn(*lead, t, d, generator=g, dtype=F64) for _ in range(4))
    log_a = -torch.rand(d, generator=g, dtype=F64)  # a = exp(log_a) in (0.37, 1)
    a = torch.randn(d, generator=g, dtype=F64)  # reversed_decay, some negative (relu → 0)
    h0 = torch.randn(*lead, d, generator=g, dtype=F64)
    return u, f, i, o, log_a, a, h0


def _apply(kernel, u):
    return torch.einsum("...cij,...jc->...ic", kernel, u)


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_recurrent_qlstm_is_the_written_rule():
    u, f, i, o, _, a, _ = _inputs(lead=(), t=6, d=3)
    for reversed_decay in (None, a):
        for gated in (True, False):
            want = torch.zeros(6, 3, dtype=F64)
            for c in range(3):
                h = 0.0
                for t in range(6):
                    if reversed_decay is None:
                        alpha = _sigmoid(f[t, c].item())
                    else:
                        alpha = _sigmoid(-f[t, c].item()) ** max(a[c].item(), 0.0)
                    h = alpha * h + _sigmoid(i[t, c].item()) * u[t, c].item()
                    want[t, c] = (_sigmoid(o[t, c].item()) if gated else 1.0) * h
            out = qlstm(u, f, i, o if gated else None, reversed_decay=reversed_decay,
                        form="recurrent").output  # fmt: skip
            torch.testing.assert_close(out, want)


def test_recurrent_rg_lru_is_the_written_rule():
    u, r, i, _, log_a, _, _ = _inputs(lead=(), t=6, d=3)
    want = torch.zeros(6, 3, dtype=F64)
    for c in range(3):
        h, base = 0.0, math.exp(log_a[c].item())
        for t in range(6):
            a_t = base ** (8.0 * _sigmoid(r[t, c].item()))
            h = a_t * h + math.sqrt(1 - a_t**2) * _sigmoid(i[t, c].item()) * u[t, c].item()
            want[t, c] = h
    torch.testing.assert_close(rg_lru(u, r, i, log_a, form="recurrent").output, want)


CASES = [((2, 3), 13, 4), ((), 9, 1), ((4,), 30, 3)]


@pytest.mark.parametrize("form", ["parallel", "recurrent"])
@pytest.mark.parametrize("variant", ["plain", "no_output_gate", "reversed", "reversed_scalar"])
@pytest.mark.parametrize(("lead", "t", "d"), CASES)
def test_qlstm_forms_and_kernel_agree(form, variant, lead, t, d):
    u, f, i, o, _, a, h0 = _inputs(lead=lead, t=t, d=d, seed=t)
    o = None if variant == "no_output_gate" else o
    rev = {"plain": None, "no_output_gate": None, "reversed": a, "reversed_scalar": 1.0}[variant]
    kw = {"reversed_decay": rev}
    want = qlstm(u, f, i, o, **kw, form="recurrent", initial_state=h0, return_state=True)
    got = qlstm(u, f, i, o, **kw, form=form, initial_state=h0, return_state=True)
    torch.testing.assert_close(got.output, want.output, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got.state, want.state, rtol=1e-12, atol=1e-12)
    kernel = qlstm_kernel(f, i, o, **kw)
    assert kernel.shape == (*lead, d, t, t) and torch.all(kernel.triu(1) == 0)
    zero_start = qlstm(u, f, i, o, **kw, form=form).output
    torch.testing.assert_close(_apply(kernel, u), zero_start, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("form", ["parallel", "recurrent"])
@pytest.mark.parametrize("c", [8.0, 0.5])
@pytest.mark.parametrize(("lead", "t", "d"), CASES)
def test_rg_lru_forms_and_kernel_agree(form, c, lead, t, d):
    u, r, i, _, log_a, _, h0 = _inputs(lead=lead, t=t, d=d, seed=t)
    want = rg_lru(u, r, i, log_a, c=c, form="recurrent", initial_state=h0, return_state=True)
    got = rg_lru(u, r, i, log_a, c=c, form=form, initial_state=h0, return_state=True)
    torch.testing.assert_close(got.output, want.output, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got.state, want.state, rtol=1e-12, atol=1e-12)
    kernel = rg_lru_kernel(r, i, log_a, c=c)
    assert kernel.shape == (*lead, d, t, t) and torch.all(kernel.triu(1) == 0)
    zero_start = rg_lru(u, r, i, log_a, c=c, form=form).output
    torch.testing.assert_close(_apply(kernel, u), zero_start, rtol=1e-12, atol=1e-12)


def test_kernel_entries_are_gate_times_decays_times_gate():
    u, f, i, o, _, _, _ = _inputs(lead=(), t=6, d=2)
    kernel = qlstm_kernel(f, i, o)
    alpha = torch.sigmoid(f)
    for c in range(2):
        for t in range(6):
            for j in range(t + 1):
                want = (
                    torch.sigmoid(o[t, c]) * alpha[j + 1 : t + 1, c].prod() * torch.sigmoid(i[j, c])
                )
                torch.testing.assert_close(kernel[c, t, j], want)


@pytest.mark.parametrize("form", ["parallel", "recurrent"])
def test_carried_state_continues_the_sequence(form):
    u, f, i, o, log_a, _, _ = _inputs(t=20)
    for run in (lambda *x, **k: qlstm(*x, **k), lambda u, f, i, **k: rg_lru(u, f, i, log_a, **k)):
        whole = run(u, f, i, form=form, return_state=True)
        first = run(u[..., :8, :], f[..., :8, :], i[..., :8, :], form=form, return_state=True)
        second = run(u[..., 8:, :], f[..., 8:, :], i[..., 8:, :], form=form,
                     initial_state=first.state, return_state=True)  # fmt: skip
        torch.testing.assert_close(torch.cat([first.output, second.output], -2), whole.output)
        torch.testing.assert_close(second.state, whole.state)


def test_reversed_sigmoid_is_the_s6_transition():
    """σ(-f)^a = exp(-softplus(f)·a): the qLSTM-rev is S6 with Δ = softplus(f), A = -a, n = 1,
    when its input gate writes what S6 writes, σ(i) = Δ."""
    g = torch.Generator().manual_seed(5)
    u = torch.randn(2, 17, 3, generator=g, dtype=F64)
    f = torch.randn(2, 17, 3, generator=g, dtype=F64) * 0.5 - 1.5  # softplus(f) < 1
    a = torch.rand(3, generator=g, dtype=F64) * 3
    delta = F.softplus(f)
    i = torch.logit(delta)  # σ(i) = Δ
    ones = torch.ones(2, 17, 1, dtype=F64)
    s6 = selective_scan(u, delta, -a[:, None], ones, ones).output  # B = C = 1
    torch.testing.assert_close(qlstm(u, f, i, reversed_decay=a).output, s6)
    torch.testing.assert_close(
        qlstm_transition(f, reversed_decay=a), torch.exp(delta * -a), rtol=1e-12, atol=0
    )


def test_qlstm_extremes_remember_everything_or_only_now():
    u, _, i, o, _, _, _ = _inputs()
    keep = torch.full_like(u, 50.0)  # σ(50) = 1 in float64: a running sum
    out = qlstm(u, keep, i, o).output
    torch.testing.assert_close(out, torch.sigmoid(o) * torch.cumsum(torch.sigmoid(i) * u, -2))
    forget = torch.full_like(u, -50.0)  # σ(-50) ≈ 2e-22: only the current token
    out = qlstm(u, forget, i, o).output
    torch.testing.assert_close(out, torch.sigmoid(o) * torch.sigmoid(i) * u)
    # a reversed_decay <= 0 gives α = σ(-f)^0 = 1, whatever f says
    torch.testing.assert_close(qlstm(u, forget, i, reversed_decay=-1.0).output,
                               torch.cumsum(torch.sigmoid(i) * u, -2))  # fmt: skip


def test_rg_lru_rows_have_norm_at_most_one():
    """With open input gates the row norms telescope: Σ_j K[i, j]² = 1 - (a_1 ⋯ a_i)²."""
    _, r, i, _, log_a, _, _ = _inputs(t=40)
    opened = torch.full_like(i, 40.0)  # σ(40) = 1 in float64
    kernel = rg_lru_kernel(r, opened, log_a)
    a_t = rg_lru_transition(r, log_a)  # (..., T, d)
    want = 1 - torch.cumprod(a_t**2, dim=-2).mT  # (..., d, T)
    torch.testing.assert_close(kernel.square().sum(-1), want)
    assert torch.all(rg_lru_kernel(r, i, log_a).square().sum(-1) <= 1.0)


def test_rg_lru_transition_and_its_limits():
    u, r, i, _, log_a, _, h0 = _inputs()
    torch.testing.assert_close(
        rg_lru_transition(r, log_a, c=8.0), torch.exp(log_a) ** (8 * torch.sigmoid(r))
    )
    # r -> 0 (σ(r) ≈ 0): a_i = 1, the state is frozen and nothing is written
    shut = torch.full_like(r, -800.0)
    run = rg_lru(u, shut, i, log_a, initial_state=h0, return_state=True)
    torch.testing.assert_close(run.state, h0)
    torch.testing.assert_close(run.output, h0[..., None, :].expand_as(u))
    # log_a = 0 (a = 1) does the same whatever r says
    torch.testing.assert_close(rg_lru(u, r, i, 0.0, initial_state=h0).output, run.output)


def test_parallel_forms_are_stable_over_long_sequences():
    u, f, i, o, log_a, _, _ = _inputs(lead=(2,), t=400, d=3)
    f = f - 6.0  # α ≈ 0.0025: the cumulative decay underflows far below 1e-300
    for run in (lambda form: qlstm(u, f, i, o, form=form),
                lambda form: rg_lru(u, f, i, log_a * 30, form=form)):  # fmt: skip
        got, want = run("parallel").output, run("recurrent").output
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_float32_and_gradients_follow_the_recurrence():
    u, f, i, o, log_a, _, _ = _inputs(lead=(2,), t=64, d=8)
    want = qlstm(u, f + 3.0, i, o, form="recurrent").output
    got = qlstm(u.float(), (f + 3.0).float(), i.float(), o.float()).output
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4)
    grads = []
    for form in ("recurrent", "parallel"):
        leaves = [x.clone().requires_grad_() for x in (u, f, i, log_a)]
        rg_lru(*leaves, form=form).output.square().sum().backward()
        grads.append([x.grad for x in leaves])
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want)


def test_empty_sequences():
    u, f, i, o, log_a, _, h0 = _inputs(t=0)
    out, state = qlstm(u, f, i, o, return_state=True)
    assert out.shape == u.shape and torch.all(state == 0)
    out, state = rg_lru(u, f, i, log_a, initial_state=h0, return_state=True)
    assert out.shape == u.shape and torch.equal(state, h0)


def _q(**change):
    def call():
        u, f, i, o, _, _, _ = _inputs()
        args = {"u": u, "forget_logits": f, "input_logits": i, "output_logits": o, **change}
        return qlstm(**args)

    return call


def _g(**change):
    def call():
        u, r, i, _, log_a, _, _ = _inputs()
        args = {"u": u, "r_logits": r, "i_logits": i, "log_a": log_a, **change}
        return rg_lru(**args)

    return call


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            _q(forget_logits=torch.ones(2, 3, 13, 5)),
            ValueError,
            r"forget_logits .* d = 4 \(that of u\)",
        ),
        (
            _q(input_logits=torch.ones(2, 3, 12, 4)),
            ValueError,
            r"length T.*input_logits \(2, 3, 12",
        ),
        (_q(output_logits=torch.ones(4, 13, 4)), ValueError, "broadcastable leading"),
        (_q(u=torch.full((13, 4), float("inf"))), ValueError, "u must contain only finite"),
        (_q(reversed_decay=float("nan")), ValueError, "reversed_decay must be finite"),
        (_q(reversed_decay=torch.ones(5)), ValueError, r"reversed_decay of shape \(5,\)"),
        (_q(reversed_decay="one"), TypeError, "reversed_decay must be a real number or a tensor"),
        (_q(form="chunkwise"), ValueError, "form must be one of"),
        (_q(initial_state=torch.ones(3)), ValueError, r"initial_state of shape \(3,\)"),
        (_q(forget_logits=torch.ones(4)), ValueError, "forget_logits must have at least 2"),
        (_g(log_a=0.5), ValueError, r"log_a must be <= 0 .*got 0.5"),
        (_g(log_a=None), TypeError, "log_a must be a number or a tensor"),
        (_g(c=0.0), ValueError, r"c must be in \(0, 10000\]"),
        (_g(c="8"), TypeError, "c must be a real number"),
        (_g(return_state="yes"), TypeError, "return_state must be True or False"),
        (_g(i_logits=torch.ones(2, 3, 13, 2)), ValueError, "i_logits must .* d = 4"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_qlstm_refuses_a_parallel_form_past_the_budget():
    from attnviz.memory_budget import memory_budget_of

    u = torch.zeros(1, 4096, 64)  # (d, T, T) = 64 x 4096² floats: 4.3 GB per copy
    with memory_budget_of("2GB"), pytest.raises(ValueError, match="use form='recurrent'"):
        qlstm(u, u, u)
    small = torch.zeros(1, 64, 4)
    assert qlstm(small, small, small, form="recurrent").output.shape == small.shape


def test_missing_logits_are_refused_by_name():
    u = torch.zeros(1, 5, 2)
    with pytest.raises(TypeError, match="forget_logits must be a torch.Tensor"):
        qlstm(u, None, u)
    with pytest.raises(TypeError, match="r_logits must be a torch.Tensor"):
        rg_lru(u, None, u, -1.0)
    with pytest.raises(TypeError, match="u must be a torch.Tensor"):
        rg_lru(None, u, u, -1.0)
