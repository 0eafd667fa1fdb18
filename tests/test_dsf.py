"""attnviz.dsf: every class as h_i = Λ_i h_{i-1} + B_i u_i, y_i = C_i h_i + D u_i, y = Φ u.

The claims of lesson 06, each a test: the recurrence, Φ u and the class's own
definition agree (and the kernels' outputs, where the kernels exist); Φ is block
lower-triangular; linear attention and S6 coincide exactly under the stated
conditions and differ when any one is broken; normalisation's Λ_i = η_{i-1}/η_i
reproduces row-normalised weights but is not a decay; gates give Λ in (0, 1].
"""

from __future__ import annotations

import importlib
import math

import pytest
import torch
import torch.nn.functional as F

from attnviz import dsf

DT = torch.float64
T, D_MODEL, N_STATE = 11, 6, 4


def _rand(*shape, seed=0, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=DT) * scale


def _params(T=T, d=D_MODEL, n=N_STATE, seed=0):
    """Seeded weights for every builder, u (T, d)."""
    s = iter(range(100 * seed, 100 * seed + 100))
    p = {"u": _rand(T, d, seed=next(s), scale=1.0)}
    for name, shape in [
        ("W_q", (n, d)),
        ("W_k", (n, d)),
        ("W_v", (d, d)),
        ("w", (d,)),
        ("W_delta", (d, d)),
        ("b_delta", (d,)),
        ("W_B", (n, d)),
        ("W_C", (n, d)),
        ("D", (d,)),
        ("W_f", (d, d)),
        ("W_i", (d, d)),
        ("W_o", (d, d)),
        ("W_r", (d, d)),
        ("W_dh", (2, d)),
    ]:
        p[name] = _rand(*shape, seed=next(s))
    p["A"] = -torch.rand(d, n, generator=torch.Generator().manual_seed(7), dtype=DT) * 3
    p["a_heads"] = -torch.tensor([0.5, 2.0], dtype=DT)
    p["a_logits"] = _rand(d, seed=next(s)) + 2.0
    return p


# -------------------------------------------------------- builders and definitions


def _qk(p, feature_map=None):
    q, k = p["u"] @ p["W_q"].T, p["u"] @ p["W_k"].T
    if feature_map == "elu_plus_one":
        q, k = F.elu(q) + 1, F.elu(k) + 1
    return q, k


def _build(kind, p):
    u = p["u"]
    if kind == "linear_attention":
        return dsf.from_linear_attention(u, p["W_q"], p["W_k"], p["W_v"])
    if kind == "normalized_linear_attention":
        return dsf.from_linear_attention(
            u, p["W_q"], p["W_k"], p["W_v"], feature_map="elu_plus_one", normalize=True
        )
    if kind == "normalized_attention":
        return dsf.from_normalized_attention(u, p["W_q"], p["W_k"], p["W_v"], p["w"], 0.3)
    if kind == "gated_linear_attention":
        return dsf.from_gated_linear_attention(u, p["W_q"], p["W_k"], p["W_v"], p["w"], 1.0)
    if kind == "s6":
        return dsf.from_s6(u, p["W_delta"], p["b_delta"], p["A"], p["W_B"], p["W_C"], p["D"])
    if kind == "ssd":
        return dsf.from_ssd(u, p["W_dh"], 0.2, p["a_heads"], p["W_B"], p["W_C"], p["D"])
    if kind == "qlstm":
        return dsf.from_qlstm(u, p["W_f"], p["W_i"], p["W_o"], b_f=1.0)
    if kind == "qlstm_reversed":
        return dsf.from_qlstm(u, p["W_f"], p["W_i"], p["W_o"], reversed_power=1.5)
    if kind == "rg_lru":
        return dsf.from_rg_lru(u, p["W_r"], p["W_i"], p["a_logits"])
    raise AssertionError(kind)


def _definition(kind, p):
    """Each class's own definition, a few plain lines per class: y (T, d)."""
    u = p["u"]
    Tn, d = u.shape
    if kind in ("linear_attention", "normalized_linear_attention", "normalized_attention"):
        q, k = _qk(p, "elu_plus_one" if kind == "normalized_linear_attention" else None)
        v = u @ p["W_v"].T
        ys = []
        for i in range(Tn):
            score = k[: i + 1] @ q[i]  # (i+1,)
            y = score @ v[: i + 1]
            if kind == "normalized_linear_attention":
                y = y / score.sum()
            if kind == "normalized_attention":
                y = y * torch.exp(-torch.exp(u[i] @ p["w"] + 0.3))
            ys.append(y)
        return torch.stack(ys)
    if kind == "gated_linear_attention":
        q, k = _qk(p)
        v = u @ p["W_v"].T
        alpha = torch.sigmoid(u @ p["w"] + 1.0)
        S, ys = torch.zeros(d, q.shape[1], dtype=DT), []
        for i in range(Tn):
            S = alpha[i] * S + torch.outer(v[i], k[i])
            ys.append(S @ q[i])
        return torch.stack(ys)
    if kind in ("s6", "ssd"):
        if kind == "s6":
            delta = F.softplus(u @ p["W_delta"].T + p["b_delta"])  # (T, d)
            A = p["A"]
        else:
            head = torch.arange(d) // (d // 2)
            delta = F.softplus(u @ p["W_dh"].T + 0.2)[:, head]  # (T, d)
            A = p["a_heads"][head, None].expand(d, N_STATE)
        b, c = u @ p["W_B"].T, u @ p["W_C"].T
        h, ys = torch.zeros(d, b.shape[1], dtype=DT), []
        for i in range(Tn):
            h = torch.exp(delta[i, :, None] * A) * h + delta[i, :, None] * b[i] * u[i, :, None]
            ys.append(h @ c[i] + p["D"] * u[i])
        return torch.stack(ys)
    if kind in ("qlstm", "qlstm_reversed", "rg_lru"):
        h, ys = torch.zeros(d, dtype=DT), []
        for i in range(Tn):
            if kind == "rg_lru":
                a = torch.sigmoid(p["a_logits"]) ** (8 * torch.sigmoid(p["W_r"] @ u[i]))
                h = a * h + torch.sqrt(1 - a**2) * torch.sigmoid(p["W_i"] @ u[i]) * u[i]
                ys.append(h)
                continue
            f = p["W_f"] @ u[i] + (1.0 if kind == "qlstm" else 0.0)
            lam = torch.sigmoid(f) if kind == "qlstm" else torch.sigmoid(-f) ** 1.5
            h = lam * h + torch.sigmoid(p["W_i"] @ u[i]) * u[i]
            ys.append(torch.sigmoid(p["W_o"] @ u[i]) * h)
        return torch.stack(ys)
    raise AssertionError(kind)


KINDS = [
    "linear_attention",
    "normalized_linear_attention",
    "normalized_attention",
    "gated_linear_attention",
    "s6",
    "ssd",
    "qlstm",
    "qlstm_reversed",
    "rg_lru",
]
GATED = ["gated_linear_attention", "s6", "ssd", "qlstm", "qlstm_reversed", "rg_lru"]


def _dense_phi(system):
    """Φ_ij = C_i Λ_i ⋯ Λ_{j+1} B_j (+ D on the diagonal), from the dense matrices."""
    Lam, B, C, Dm = system.Lambda, system.B, system.C, system.D
    Tn, d = B.shape[0], B.shape[2]
    phi = torch.zeros(Tn, Tn, d, d, dtype=DT)
    for i in range(Tn):
        for j in range(i + 1):
            prod = Lam[j + 1 : i + 1].prod(0) if j < i else torch.ones(Lam.shape[1], dtype=DT)
            phi[i, j] = C[i] @ (prod[:, None] * B[j])
        if Dm is not None:
            phi[i, i] += Dm
    return phi


# ------------------------------------------------------------------ the equalities


@pytest.mark.parametrize("length", [T, 70])
@pytest.mark.parametrize("kind", KINDS)
def test_recurrence_equals_phi_u_equals_the_definition(kind, length):
    p = _params(T=length)
    system = _build(kind, p)
    expected = _definition(kind, p)
    torch.testing.assert_close(system.run(p["u"]), expected)
    torch.testing.assert_close(system.apply(p["u"]), expected)
    blocks = system.phi_blocks()  # (T, T, d, d)
    torch.testing.assert_close(torch.einsum("ijce,je->ic", blocks, p["u"]), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_phi_blocks_are_products_of_the_dsf_matrices(kind):
    system = _build(kind, _params(T=7))
    torch.testing.assert_close(system.phi_blocks(), _dense_phi(system))


@pytest.mark.parametrize("kind", KINDS)
def test_phi_is_block_lower_triangular(kind):
    blocks = _build(kind, _params(T=40)).phi_blocks()
    upper = torch.ones(40, 40, dtype=torch.bool).triu(1)
    assert blocks[upper].abs().max() == 0
    assert blocks[~upper].abs().max() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_phi_shapes_and_summaries(kind):
    system = _build(kind, _params(T=9))
    d = D_MODEL
    assert system.phi_channels().shape == (d, 9, 9)
    assert system.phi_summary().shape == (9, 9)
    blocks = system.phi_blocks()
    rms = blocks.square().sum((-1, -2)).sqrt() / math.sqrt(d)
    torch.testing.assert_close(system.phi_summary("rms"), rms)
    torch.testing.assert_close(system.phi_summary("mean_abs"), blocks.abs().sum((-1, -2)) / d)
    if system.diagonal:
        assert system.phi().shape == (d, 9, 9)
        torch.testing.assert_close(
            system.phi(), torch.diagonal(blocks, dim1=-2, dim2=-1).permute(2, 0, 1)
        )
    else:
        assert system.phi().shape == (9, 9, d, d)
        torch.testing.assert_close(system.phi_channels("row_sum"), blocks.sum(-1).permute(2, 0, 1))


def test_ssd_is_s6_with_tied_parameters():
    p = _params(T=50)
    head = torch.arange(D_MODEL) // (D_MODEL // 2)
    s6 = dsf.from_s6(
        p["u"],
        p["W_dh"][head],
        0.2,
        p["a_heads"][head, None].expand(D_MODEL, N_STATE),
        p["W_B"],
        p["W_C"],
        p["D"],
    )
    torch.testing.assert_close(_build("ssd", p).phi(), s6.phi())


def test_closed_form_phi_is_stable_under_strong_decay():
    p = _params(T=150)
    p["A"] = p["A"] * 40  # exp(ΔA) far below float32's range after a few steps
    system = _build("s6", p)
    phi = system.phi()
    assert bool(torch.isfinite(phi).all())
    torch.testing.assert_close(system.apply(p["u"]), _definition("s6", p))
    names = ("W_delta", "b_delta", "A", "W_B", "W_C", "D")
    s32 = dsf.from_s6(p["u"].float(), *(p[k].float() for k in names))
    torch.testing.assert_close(s32.phi(), phi.float(), atol=1e-4, rtol=1e-3)


# ------------------------------------------------------------- against the kernels


def _kernels(name):
    try:
        return importlib.import_module(f"attnviz.kernels.{name}")
    except ImportError:
        pytest.skip(f"attnviz.kernels.{name} is not there yet")


@pytest.mark.parametrize("kind", KINDS)
def test_phi_u_equals_the_kernels(kind):
    p = _params(T=30)
    u = p["u"]
    system = _build(kind, p)
    if kind in ("linear_attention", "normalized_linear_attention", "normalized_attention"):
        lin = _kernels("linear")
        q, k, v = u @ p["W_q"].T, u @ p["W_k"].T, u @ p["W_v"].T
        if kind == "normalized_attention":
            if not hasattr(lin, "normalized_attention"):
                pytest.skip("kernels.linear.normalized_attention is not there yet")
            out = lin.normalized_attention(q, k, v, torch.exp(u @ p["w"] + 0.3)).output
        elif kind == "normalized_linear_attention":
            out = lin.linear_attention(
                q, k, v, normalize=True, feature_map=lambda x: F.elu(x) + 1
            ).output
        else:
            out = lin.linear_attention(q, k, v).output
    elif kind == "gated_linear_attention":
        lin = _kernels("linear")
        q, k, v = u @ p["W_q"].T, u @ p["W_k"].T, u @ p["W_v"].T
        out = lin.gated_linear_attention(q, k, v, torch.sigmoid(u @ p["w"] + 1.0)).output
    elif kind == "s6":
        ssm = _kernels("ssm")
        delta = F.softplus(u @ p["W_delta"].T + p["b_delta"])
        out = ssm.selective_scan(u, delta, p["A"], u @ p["W_B"].T, u @ p["W_C"].T, p["D"]).output
        kernel = ssm.selective_scan_kernel(delta, p["A"], u @ p["W_B"].T, u @ p["W_C"].T, p["D"])
        torch.testing.assert_close(system.phi(), kernel)
    elif kind == "ssd":
        ssm = _kernels("ssm")
        delta = F.softplus(u @ p["W_dh"].T + 0.2)  # (T, H)
        heads = u.view(30, 2, D_MODEL // 2).permute(1, 0, 2)  # (H, T, p)
        B, C = u @ p["W_B"].T, u @ p["W_C"].T
        out = ssm.ssd_scan(heads, delta.T, p["a_heads"], B, C).output  # (H, T, p)
        out = out.permute(1, 0, 2).reshape(30, D_MODEL) + p["D"] * u  # per-channel skip
    else:
        rnn = _kernels("rnn")
        if kind == "rg_lru":
            out = rnn.rg_lru(u, u @ p["W_r"].T, u @ p["W_i"].T, F.logsigmoid(p["a_logits"])).output
        else:
            out = rnn.qlstm(
                u,
                u @ p["W_f"].T + (1.0 if kind == "qlstm" else 0.0),
                u @ p["W_i"].T,
                u @ p["W_o"].T,
                reversed_decay=None if kind == "qlstm" else 1.5,
            ).output
    torch.testing.assert_close(system.apply(u), out)
    torch.testing.assert_close(system.run(u), out)


def test_softmax_phi_is_the_causal_softmax_weights_times_w_v():
    p = _params(T=25)
    u = p["u"]
    sm = dsf.softmax_phi(u, p["W_q"], p["W_k"], p["W_v"])
    assert sm.state_size == math.inf
    kernel = sm.phi_kernel()
    torch.testing.assert_close(kernel.sum(1), torch.ones(25, dtype=DT))
    assert kernel.triu(1).abs().max() == 0
    q, k, v = u @ p["W_q"].T, u @ p["W_k"].T, u @ p["W_v"].T
    scores = (q @ k.T / math.sqrt(N_STATE)).masked_fill(
        ~torch.ones(25, 25, dtype=torch.bool).tril(), -math.inf
    )
    torch.testing.assert_close(sm.apply(u), torch.softmax(scores, 1) @ v)
    softmax = _kernels("softmax")
    out = softmax.scaled_dot_product_attention(q, k, v, causal=True)
    out = out[0] if isinstance(out, tuple) else out
    torch.testing.assert_close(sm.apply(u), out)


# --------------------------------------------------- linear attention == S6, if ...

CONDITIONS = dsf.CONDITIONS


def _la_and_s6(broken=None, T=12, d=5):
    u = _rand(T, d, seed=1).abs() + 0.1  # positive, so a normaliser broken in is > 0
    return dsf.linear_attention_and_s6(u, 3, broken=broken)


def test_linear_attention_and_s6_give_the_same_phi_under_the_conditions():
    la, s6 = _la_and_s6()
    assert la.state_size == s6.state_size == 15
    torch.testing.assert_close(la.phi_blocks(), s6.phi_blocks())
    torch.testing.assert_close(la.spectrum(), s6.spectrum())  # both Λ_i = I


@pytest.mark.parametrize("broken", CONDITIONS)
def test_linear_attention_and_s6_differ_when_one_condition_is_broken(broken):
    la, s6 = _la_and_s6(broken)
    gap = (la.phi_blocks() - s6.phi_blocks()).abs().max()
    assert gap > 1e-3, f"breaking {broken!r} should change Φ"


# ---------------------------------------------------------------- normalisation


def test_normalised_linear_attention_rows_are_row_normalised_weights():
    p = _params(T=20)
    system = _build("normalized_linear_attention", p)
    q, k = _qk(p, "elu_plus_one")
    scores = (q @ k.T).tril()
    weights = scores / scores.sum(1, keepdim=True)
    torch.testing.assert_close(system.phi_kernel(), weights)
    # summed over j, each row of blocks gives back the value map: Σ_j a_ij W_v = W_v
    rows = system.phi_blocks().sum(1)  # (T, d, d)
    torch.testing.assert_close(rows, p["W_v"].expand(20, D_MODEL, D_MODEL))


def test_normalised_lambda_is_the_eta_ratio_and_is_not_a_decay():
    p = _params(T=40)
    system = _build("normalized_linear_attention", p)
    q, k = _qk(p, "elu_plus_one")
    eta = (q * k.cumsum(0)).sum(1)  # η_i, (T,)
    lam = system.spectrum()  # (T, N), every entry of row i equal
    torch.testing.assert_close(lam[1:], (eta[:-1] / eta[1:])[:, None].expand(39, lam.shape[1]))
    assert bool((lam > 0).all())
    assert bool((lam > 1).any()), "the previous query's η can exceed the current one's"
    # a constant query (W_q = 0: φ(q) = 1) makes η non-decreasing: then Λ in (0, 1]
    constant = dsf.from_linear_attention(
        p["u"], 0 * p["W_q"], p["W_k"], p["W_v"], feature_map="elu_plus_one", normalize=True
    )
    assert bool(((constant.spectrum() > 0) & (constant.spectrum() <= 1)).all())


def test_learned_normaliser_lambda_is_exp_of_the_scale_difference():
    p = _params(T=15)
    system = _build("normalized_attention", p)
    s = torch.exp(p["u"] @ p["w"] + 0.3)
    torch.testing.assert_close(system.spectrum()[1:, 0], torch.exp(s[:-1] - s[1:]))


# ------------------------------------------------------------------------- decay


@pytest.mark.parametrize("kind", GATED)
def test_gated_classes_have_lambda_in_unit_interval(kind):
    system = _build(kind, _params(T=60))
    lam = system.spectrum()
    assert lam.shape == (60, system.state_size)
    assert bool(((lam > 0) & (lam <= 1)).all())
    profile = system.decay_profile()
    assert profile.shape == (60,)
    assert profile[0] == pytest.approx(1.0)
    assert bool((profile <= 1 + 1e-12).all())
    assert bool((profile[1:] <= profile[:-1] + 1e-12).all())  # longer lags decay more
    assert system.decay_profile(per_channel=True).shape == (D_MODEL, 60)


def test_linear_attention_never_forgets():
    system = _build("linear_attention", _params(T=30))
    torch.testing.assert_close(system.decay_profile(), torch.ones(30, dtype=DT))
    torch.testing.assert_close(system.spectrum(), torch.ones(30, system.state_size, dtype=DT))


def test_decay_profile_is_the_geometric_mean_of_lambda_products():
    system = _build("qlstm", _params(T=12))
    lam = system.spectrum()  # (T, d)
    for lag in (1, 3, 11):
        logs = torch.stack([lam[i - lag + 1 : i + 1].log().sum(0) for i in range(lag, 12)])
        expected = torch.exp(logs.mean(0)).mean()
        assert system.decay_profile()[lag].item() == pytest.approx(expected.item())


# ------------------------------------------------------------------- state size


def test_state_size_of_each_class():
    assert dsf.state_size("softmax", 64, 16) == math.inf
    for kind in ("linear_attention", "normalized_attention", "gated_linear_attention", "s6", "ssd"):
        assert dsf.state_size(kind, 64, 16) == 1024
    assert dsf.state_size("qlstm", 64, 16) == dsf.state_size("rg_lru", 64) == 64
    p = _params()
    for kind in KINDS:
        system = _build(kind, p)
        name = {"normalized_linear_attention": "linear_attention"}.get(kind, kind)
        name = {"qlstm_reversed": "qlstm"}.get(name, name)
        assert system.state_size == dsf.state_size(name, D_MODEL, N_STATE)
        assert system.Lambda.shape == (T, system.state_size)
        assert system.B.shape == (T, system.state_size, D_MODEL)
        assert system.C.shape == (T, D_MODEL, system.state_size)


# --------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda p: dsf.from_linear_attention(p["u"], p["W_q"][:, :3], p["W_k"], p["W_v"]), "W_q"),
        (lambda p: dsf.from_linear_attention(p["u"], p["W_q"], p["W_k"][:2], p["W_v"]), "W_k"),
        (lambda p: dsf.from_linear_attention(p["u"], p["W_q"], p["W_k"], p["W_v"][:2]), "W_v"),
        (lambda p: dsf.from_linear_attention(p["u"][0], p["W_q"], p["W_k"], p["W_v"]), "u"),
        (
            lambda p: dsf.from_linear_attention(
                p["u"], p["W_q"], p["W_k"], p["W_v"], feature_map="softmaxx"
            ),
            "feature_map",
        ),
        (
            lambda p: dsf.from_linear_attention(
                p["u"], p["W_q"], p["W_k"], p["W_v"], normalize=True
            ),
            "feature_map",
        ),
        (
            lambda p: dsf.from_linear_attention(p["u"] * math.nan, p["W_q"], p["W_k"], p["W_v"]),
            "u",
        ),
        (
            lambda p: dsf.from_normalized_attention(
                p["u"], p["W_q"], p["W_k"], p["W_v"], p["w"], normalizer="tanh"
            ),
            "normalizer",
        ),
        (
            lambda p: dsf.from_normalized_attention(
                p["u"], p["W_q"], p["W_k"], p["W_v"], p["w"][:2]
            ),
            "w_n",
        ),
        (
            lambda p: dsf.from_gated_linear_attention(
                p["u"], p["W_q"], p["W_k"], p["W_v"], p["w"], math.inf
            ),
            "b_alpha",
        ),
        (
            lambda p: dsf.from_s6(
                p["u"], p["W_delta"], p["b_delta"], -p["A"] + 0.1, p["W_B"], p["W_C"]
            ),
            "A",
        ),
        (
            lambda p: dsf.from_s6(
                p["u"], p["W_delta"], p["b_delta"], p["A"] * math.inf, p["W_B"], p["W_C"]
            ),
            "A",
        ),
        (
            lambda p: dsf.from_s6(
                p["u"], p["W_delta"], p["b_delta"], p["A"][:, :2], p["W_B"], p["W_C"]
            ),
            "A",
        ),
        (
            lambda p: dsf.from_s6(
                p["u"], p["W_delta"], p["b_delta"], p["A"], p["W_B"], p["W_C"][:2]
            ),
            "W_C",
        ),
        (
            lambda p: dsf.from_s6(
                p["u"], p["W_delta"][:3], p["b_delta"], p["A"], p["W_B"], p["W_C"]
            ),
            "W_delta",
        ),
        (
            lambda p: dsf.from_s6(
                p["u"], p["W_delta"], p["b_delta"], p["A"], p["W_B"], p["W_C"], p["D"][:2]
            ),
            "D",
        ),
        (
            lambda p: dsf.from_ssd(
                p["u"], p["W_dh"], 0.0, -torch.ones(4, dtype=DT), p["W_B"], p["W_C"]
            ),
            "A",
        ),
        (lambda p: dsf.from_qlstm(p["u"], p["W_f"][:2], p["W_i"], p["W_o"]), "W_f"),
        (lambda p: dsf.from_qlstm(p["u"], p["W_f"], p["W_i"], p["w"]), "W_o"),
        (lambda p: dsf.from_rg_lru(p["u"], p["W_r"], p["W_i"], p["a_logits"][:2]), "a_logits"),
        (lambda p: dsf.from_rg_lru(p["u"], p["W_r"], p["W_i"], p["a_logits"], c=0.0), "c"),
        (lambda p: dsf.softmax_phi(p["u"], p["W_q"], p["W_k"][:, :2], p["W_v"]), "W_k"),
        (lambda p: dsf.state_size("mamba", 8, 2), "kind"),
        (lambda p: dsf.state_size("s6", 0, 2), "d"),
        (lambda p: _build("s6", p).run(p["u"][:, :3]), "u"),
        (lambda p: _build("linear_attention", p).apply(p["u"][:4]), "u"),
        (lambda p: _build("s6", p).contributions(p["u"][:, :3]), "u"),
        (lambda p: _build("s6", p).phi_kernel(), "phi_kernel"),
        (lambda p: _build("linear_attention", p).phi_channels("sum"), "channel_map"),
        (lambda p: _build("qlstm", p).phi_summary("max"), "reduce"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call(_params())


@pytest.mark.parametrize("kind", dsf.KINDS)
def test_random_system_builds_every_class_and_its_phi_reproduces_the_recurrence(kind):
    u = torch.randn(20, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    system = dsf.random_system(kind, u, n=3, seed=1)
    again = dsf.random_system(kind, u, n=3, seed=1)
    assert torch.equal(system.apply(u), again.apply(u))  # seeded
    assert system.state_size == dsf.state_size(kind, 4, 3)
    if kind != "softmax":
        torch.testing.assert_close(system.apply(u), system.run(u))
    other = dsf.random_system(kind, u, n=3, seed=2)
    assert not torch.equal(system.apply(u), other.apply(u))


@pytest.mark.parametrize("kind", dsf.KINDS)
def test_contributions_sum_to_the_output_input_by_input(kind):
    u = torch.randn(10, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    system = dsf.random_system(kind, u, n=3, seed=0)
    parts = system.contributions(u)  # (d, T, T)
    assert parts.shape == (4, 10, 10)
    torch.testing.assert_close(parts.sum(-1).T, system.apply(u))
    assert torch.all(parts.triu(1) == 0)  # causal: no input adds to an earlier output
    if kind != "softmax":  # the last partial sum of row i is the recurrence's own y_i
        torch.testing.assert_close(parts.cumsum(-1)[..., -1].T, system.run(u))


def test_random_system_normalised_linear_attention_rows_sum_to_one():
    u = torch.randn(12, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kernel = dsf.random_system("linear_attention", u, normalize=True).phi_kernel()
    torch.testing.assert_close(kernel.sum(1), torch.ones(12, dtype=torch.float64))
    with pytest.raises(ValueError, match="kind must be one of"):
        dsf.random_system("transformer", u)
    with pytest.raises(ValueError, match="heads must be an integer in"):
        dsf.random_system("ssd", u, heads=5)


def test_nested_weights_keep_the_rest_of_the_draw_when_one_size_shrinks():
    big, small = dsf.nested_weights(40, 8, 6, seed=2), dsf.nested_weights(10, 8, 3, seed=2)
    assert torch.equal(small["u"], big["u"][:10])  # fewer tokens: the same first tokens
    assert torch.equal(small["W_q"], big["W_q"][:3])  # smaller n: the same first features
    assert torch.equal(small["W_v"], big["W_v"])
    assert (big["A"] < 0).all()
    other = dsf.nested_weights(40, 8, 6, seed=3)
    assert not torch.equal(other["u"], big["u"])
    for kind in dsf.KINDS:  # every class builds on them and reproduces its recurrence
        system = dsf.nested_system(kind, 12, 4, seed=1, n=3, gate=1.0)
        u = dsf.nested_weights(12, 4, 3, seed=1)["u"]
        if kind != "softmax":
            torch.testing.assert_close(system.apply(u), system.run(u))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: dsf.nested_weights(97, 4, 2), "T"),
        (lambda: dsf.nested_weights(8, 17, 2), "d"),
        (lambda: dsf.nested_weights(8, 4, 0), "n"),
        (lambda: dsf.nested_weights(8, 4, 2, limits=(8, 4)), "limits"),
        (lambda: dsf.nested_system("mamba", 8, 4), "kind"),
        (lambda: dsf.nested_system("s6", 8, 4, gate=float("nan")), "gate"),
    ],
)
def test_nested_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_a_system_whose_weights_overflow_is_refused():
    u = torch.ones(4, 2, dtype=torch.float64) * 1e200
    W = torch.ones(2, 2, dtype=torch.float64) * 1e200
    with pytest.raises(ValueError, match="overflowed"):
        dsf.from_linear_attention(u, W, W, torch.eye(2, dtype=torch.float64))


def test_random_system_checks_a_feature_map_its_class_ignores():
    u = torch.randn(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="feature_map"):
        dsf.random_system("s6", u, feature_map="no_such_map")
