"""kernels.ssm: the parallel forms and the implicit kernels equal the recurrence, and the
recurrence is the DSF system of PAPERS.md §2 (S6: Gu & Dao 2023; SSD: Dao & Gu 2024)."""

import numpy as np
import pytest
import torch

from attnviz.kernels.linear import gated_linear_attention
from attnviz.kernels.ssm import (
    selective_scan,
    selective_scan_kernel,
    ssd_mask,
    ssd_scan,
    ssd_scan_kernel,
)

F64 = torch.float64


def _s6(lead=(2, 3), t=13, d=4, n=5, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(*lead, t, d, generator=g, dtype=dtype)
    delta = torch.nn.functional.softplus(torch.randn(*lead, t, d, generator=g, dtype=dtype))
    A = -torch.rand(d, n, generator=g, dtype=dtype) * 2
    A[0, 0] = 0.0  # a state that never decays
    B = torch.randn(*lead, t, n, generator=g, dtype=dtype)
    C = torch.randn(*lead, t, n, generator=g, dtype=dtype)
    D = torch.randn(d, generator=g, dtype=dtype)
    return u, delta, A, B, C, D


def _ssd(lead=(2, 3), t=13, p=4, n=5, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(*lead, t, p, generator=g, dtype=dtype)
    delta = torch.nn.functional.softplus(torch.randn(*lead, t, generator=g, dtype=dtype))
    A = -torch.rand(lead[-1:] if lead else (), generator=g, dtype=dtype) * 2  # one per head
    B = torch.randn(*lead, t, n, generator=g, dtype=dtype)
    C = torch.randn(*lead, t, n, generator=g, dtype=dtype)
    D = torch.rand(lead[-1:] if lead else (), generator=g, dtype=dtype)
    return u, delta, A, B, C, D


def _apply(kernel, u):
    return torch.einsum("...cij,...jc->...ic", kernel, u)  # y[:, c] = K[c] u[:, c]


def test_recurrent_s6_is_the_dsf_system():
    """Λ_i = diag(exp(Δ_i ⊗ A)), B_i = diag(Δ_i) ⊗ b_i, C_i = I_d ⊗ c_iᵀ, N = n·d."""
    u, delta, A, B, C, D = _s6(lead=(), t=7, d=3, n=2)
    d, n = A.shape
    eye = torch.eye(d, dtype=F64)
    h = torch.zeros(d * n, dtype=F64)
    ys = []
    for i in range(7):
        lam = torch.diag(torch.exp(delta[i, :, None] * A).flatten())  # (N, N), c-major
        b = torch.kron(torch.diag(delta[i]), B[i, :, None])  # (N, d)
        c = torch.kron(eye, C[i, None, :])  # (d, N)
        h = lam @ h + b @ u[i]
        ys.append(c @ h + D * u[i])
    out, state = selective_scan(u, delta, A, B, C, D, form="recurrent", return_state=True)
    torch.testing.assert_close(out, torch.stack(ys))
    torch.testing.assert_close(state, h.reshape(d, n))


@pytest.mark.parametrize("form", ["parallel", "recurrent"])
@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize(
    ("lead", "t", "d", "n"), [((2, 3), 13, 4, 5), ((), 9, 1, 1), ((4,), 30, 3, 8)]
)
def test_s6_forms_and_kernel_agree(form, skip, lead, t, d, n):
    u, delta, A, B, C, D = _s6(lead=lead, t=t, d=d, n=n, seed=t)
    D = D if skip else None
    want = selective_scan(u, delta, A, B, C, D, form="recurrent", return_state=True)
    got = selective_scan(u, delta, A, B, C, D, form=form, return_state=True)
    torch.testing.assert_close(got.output, want.output, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got.state, want.state, rtol=1e-12, atol=1e-12)
    kernel = selective_scan_kernel(delta, A, B, C, D)
    assert kernel.shape == (*lead, d, t, t)
    assert torch.all(kernel.triu(1) == 0)  # causal
    torch.testing.assert_close(_apply(kernel, u), want.output, rtol=1e-12, atol=1e-12)


def test_s6_kernel_entries_are_the_unrolled_products():
    u, delta, A, B, C, D = _s6(lead=(), t=6, d=2, n=3)
    kernel = selective_scan_kernel(delta, A, B, C)
    for c in range(2):
        for i in range(6):
            for j in range(i + 1):
                decay = torch.exp(delta[j + 1 : i + 1, c].sum() * A[c])  # Π Ā_k[c], (n,)
                want = (C[i] * decay * delta[j, c] * B[j]).sum()
                torch.testing.assert_close(kernel[c, i, j], want)


@pytest.mark.parametrize("form", ["parallel", "recurrent"])
def test_s6_carried_state_continues_the_sequence(form):
    u, delta, A, B, C, D = _s6(t=20)
    whole = selective_scan(u, delta, A, B, C, D, form=form, return_state=True)
    cut = [(x[..., :8, :], x[..., 8:, :]) for x in (u, delta, B, C)]
    first = selective_scan(*(a for a, _ in cut[:2]), A, *(a for a, _ in cut[2:]), D,
                           form=form, return_state=True)  # fmt: skip
    second = selective_scan(*(b for _, b in cut[:2]), A, *(b for _, b in cut[2:]), D,
                            form=form, initial_state=first.state, return_state=True)  # fmt: skip
    torch.testing.assert_close(torch.cat([first.output, second.output], -2), whole.output)
    torch.testing.assert_close(second.state, whole.state)


def test_s6_with_a_zero_has_no_decay():
    u, delta, A, B, C, _ = _s6()
    out = selective_scan(u, delta, torch.zeros_like(A), B, C).output
    # h_i[c, s] = Σ_{j<=i} Δ_j[c] B_j[s] u_j[c]: a running sum, like linear attention
    h = torch.cumsum((delta * u)[..., :, :, None] * B[..., :, None, :], dim=-3)  # (..., T, d, n)
    torch.testing.assert_close(out, (h * C[..., :, None, :]).sum(-1))


def test_s6_with_delta_to_zero_forgets_nothing_and_writes_nothing():
    u, delta, A, B, C, D = _s6()
    h0 = torch.randn(2, 3, *A.shape, generator=torch.Generator().manual_seed(9), dtype=F64)
    for form in ("parallel", "recurrent"):
        for scale in (0.0, 1e-12):
            run = selective_scan(u, delta * scale, A, B, C, D, form=form, initial_state=h0,
                                 return_state=True)  # fmt: skip
            torch.testing.assert_close(run.state, h0)  # the state is kept
            read = torch.einsum("...is,...cs->...ic", C, h0)  # C_i · h_0, per channel
            torch.testing.assert_close(run.output, read + D * u)  # only the skip sees u


def test_s6_with_large_delta_remembers_only_the_current_token():
    u, delta, A, B, C, _ = _s6()
    A = A.clamp(max=-0.5)
    out = selective_scan(u, delta + 200.0, A, B, C).output  # exp(Δ A) < e^-100
    now = (C * B).sum(-1, keepdim=True) * (delta + 200.0) * u  # C_i · Δ_i B_i u_i
    torch.testing.assert_close(out, now)


def test_s6_parallel_form_is_stable_where_the_cumulative_decay_underflows():
    u, delta, A, B, C, D = _s6(lead=(2,), t=300, d=3, n=4)
    delta, A = delta * 10, A * 50  # Σ Δ A reaches about -1e5: exp(±) would be 0 and inf
    want = selective_scan(u, delta, A, B, C, D, form="recurrent")
    got = selective_scan(u, delta, A, B, C, D, form="parallel")
    assert torch.isfinite(got.output).all()
    torch.testing.assert_close(got.output, want.output, rtol=1e-12, atol=1e-12)


def test_s6_float32_parallel_stays_close_to_the_float64_recurrence():
    u, delta, A, B, C, D = _s6(lead=(2,), t=128, d=8, n=16)
    delta = delta * 0.05  # long memories, where rounding could pile up
    want = selective_scan(u, delta, A, B, C, D, form="recurrent").output
    args = (x.float() for x in (u, delta, A, B, C, D))
    got = selective_scan(*args).output
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4)


def test_s6_parallel_gradients_equal_the_recurrence():
    u, delta, A, B, C, D = _s6(lead=(2,), t=9)
    grads = []
    for form in ("recurrent", "parallel"):
        leaves = [x.clone().requires_grad_() for x in (u, delta, A, B, C, D)]
        selective_scan(*leaves, form=form).output.square().sum().backward()
        grads.append([x.grad for x in leaves])
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("form", ["parallel", "recurrent"])
@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize(
    ("lead", "t", "p", "n"), [((2, 3), 13, 4, 5), ((), 9, 1, 1), ((4,), 30, 3, 8)]
)
def test_ssd_forms_and_kernel_agree(form, skip, lead, t, p, n):
    u, delta, A, B, C, D = _ssd(lead=lead, t=t, p=p, n=n, seed=t)
    D = D if skip else None
    h0 = torch.randn(p, n, generator=torch.Generator().manual_seed(3), dtype=F64)
    want = ssd_scan(u, delta, A, B, C, D, form="recurrent", initial_state=h0, return_state=True)
    got = ssd_scan(u, delta, A, B, C, D, form=form, initial_state=h0, return_state=True)
    torch.testing.assert_close(got.output, want.output, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got.state, want.state, rtol=1e-12, atol=1e-12)
    kernel = ssd_scan_kernel(delta, A, B, C, D)
    assert kernel.shape == (*lead, t, t)
    zero_start = ssd_scan(u, delta, A, B, C, D, form=form).output
    torch.testing.assert_close(kernel @ u, zero_start, rtol=1e-12, atol=1e-12)


def test_ssd_is_masked_attention_with_a_semiseparable_mask():
    u, delta, A, B, C, _ = _ssd(lead=(), t=10)
    mask = ssd_mask(delta, A)
    gamma = torch.exp(A * delta.cumsum(-1))  # γ_i = Π_{k<=i} exp(Δ_k A)
    torch.testing.assert_close(mask, (gamma[:, None] / gamma[None, :]).tril())
    for k in range(10):  # every block on or below the diagonal has rank 1
        assert torch.linalg.matrix_rank(mask[k:, : k + 1]) == 1
    torch.testing.assert_close(
        ssd_scan(u, delta, A, B, C).output, (mask * (C @ B.mT)) @ (delta[:, None] * u)
    )


def test_ssd_is_gated_linear_attention():
    u, delta, A, B, C, _ = _ssd()
    alpha = torch.exp(delta * A[:, None])  # one gate per head and token, (..., T)
    want = gated_linear_attention(C, B, delta[..., None] * u, alpha, form="recurrent")
    torch.testing.assert_close(ssd_scan(u, delta, A, B, C).output, want.output)


def test_ssd_is_s6_with_one_decay_and_one_step_for_all_channels():
    u, delta, A, B, C, D = _ssd(lead=(2, 3), p=4, n=5)
    for h in range(3):  # head h of SSD is an S6 with A[c, s] = A_h and Δ[c] = Δ_h
        s6 = selective_scan(u[:, h], delta[:, h, :, None].expand(-1, -1, 4),
                            A[h].expand(4, 5), B[:, h], C[:, h], D[h].expand(4))  # fmt: skip
        ssd = ssd_scan(u[:, h], delta[:, h], A[h], B[:, h], C[:, h], D[h])
        torch.testing.assert_close(ssd.output, s6.output)


def test_empty_sequences_and_numpy_inputs():
    u, delta, A, B, C, D = _s6(t=0)
    out, state = selective_scan(u, delta, A, B, C, D, return_state=True)
    assert out.shape == u.shape and torch.all(state == 0)
    rng = np.random.default_rng(0)
    u, delta, A = rng.standard_normal((5, 3)), rng.random((5, 3)), -rng.random((3, 2))
    out = selective_scan(u, delta, A, rng.standard_normal((5, 2)), rng.standard_normal((5, 2)))
    out = out.output
    assert out.shape == (5, 3) and out.dtype == F64


def _s6_bad(**change):
    def call():
        args = dict(zip("u delta A B C D".split(), _s6(), strict=True))
        args.update(change)
        return selective_scan(**args)

    return call


def _ssd_bad(**change):
    def call():
        args = dict(zip("u delta A B C D".split(), _ssd(), strict=True))
        kwargs = {k: args.pop(k) for k in ("D",)}
        args.update(change)
        return ssd_scan(**args, **kwargs)

    return call


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (_s6_bad(delta=-torch.ones(2, 3, 13, 4)), ValueError, r"delta must be >= 0 .*got -1"),
        (_s6_bad(A=torch.ones(4, 5)), ValueError, r"A must be <= 0 .*got 1"),
        (_s6_bad(A=-torch.ones(5)), ValueError, r"A must have at least 2"),
        (_s6_bad(A=-torch.ones(1, 4, 5)), ValueError, r"A must have shape \(d, n\)"),
        (_s6_bad(A=-torch.ones(3, 5)), ValueError, r"u must have last dimension d.* = 3"),
        (_s6_bad(B=torch.ones(2, 3, 13, 4)), ValueError, r"B must have last dimension n.* = 5"),
        (
            _s6_bad(C=torch.ones(2, 3, 12, 5)),
            ValueError,
            r"share the sequence length T.*C \(2, 3, 12",
        ),
        (_s6_bad(C=torch.ones(4, 13, 5)), ValueError, "broadcastable leading"),
        (_s6_bad(D=torch.ones(5)), ValueError, r"D must have shape \(d,\) = \(4,\)"),
        (
            _s6_bad(u=torch.full((2, 3, 13, 4), float("nan"))),
            ValueError,
            "u must contain only finite",
        ),
        (_s6_bad(B=[[1.0]]), TypeError, "B must be a torch.Tensor"),
        (_s6_bad(form="fast"), ValueError, "form must be one of"),
        (_s6_bad(return_state=1), TypeError, "return_state must be True or False"),
        (_s6_bad(initial_state=torch.ones(3, 3)), ValueError, r"initial_state of shape \(3, 3\)"),
        (_ssd_bad(A=torch.ones(3)), ValueError, r"A must be <= 0"),
        (
            _ssd_bad(A=-torch.ones(4)),
            ValueError,
            r"A of shape \(4,\) does not broadcast to \(2, 3\)",
        ),
        (_ssd_bad(delta=-torch.ones(2, 3, 13)), ValueError, r"delta must be >= 0"),
        (_ssd_bad(delta=torch.ones(2, 3, 12)), ValueError, "share the sequence length T"),
        (_ssd_bad(C=torch.ones(2, 3, 13, 4)), ValueError, "B and C must share the state size n"),
        (_ssd_bad(A=float("inf")), ValueError, "A must be finite"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_selective_scan_refuses_a_parallel_form_past_the_budget():
    from attnviz.memory_budget import memory_budget_of

    t, d, n = 2048, 64, 4
    u, delta = torch.zeros(1, t, d), torch.ones(1, t, d)
    A, B = -torch.ones(d, n), torch.zeros(1, t, n)
    with memory_budget_of("2GB"), pytest.raises(ValueError, match="use form='recurrent'"):
        selective_scan(u, delta, A, B, B)
    with memory_budget_of("2GB"), pytest.raises(ValueError, match="use form='recurrent'"):
        b = torch.zeros(1, 40_000, 1)
        ssd_scan(torch.zeros(1, 40_000, 2), torch.ones(1, 40_000), -1.0, b, b)


def test_the_public_helpers_check_their_arguments():
    from attnviz.kernels.ssm import segment_sums, suffix_sums

    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        segment_sums(None)
    with pytest.raises(ValueError, match="x must not contain NaN"):
        suffix_sums(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"dim must be an integer in \[-1, 0\]"):
        suffix_sums(torch.ones(3), dim=1)
    with pytest.raises(TypeError, match="u must be a torch.Tensor"):
        ssd_scan(None, torch.ones(3), -1.0, torch.ones(3, 2), torch.ones(3, 2))
