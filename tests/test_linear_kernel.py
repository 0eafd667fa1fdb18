"""kernels.linear: every fast form equals the recurrence, and the recurrence equals the
rules of lesson 05 as the papers write them (PAPERS.md §1; Gated DeltaNet Eq. 10)."""

import numpy as np
import pytest
import torch

from attnviz.kernels import (
    FEATURE_MAPS,
    delta_rule_attention,
    feature_map,
    gated_delta_rule_attention,
    gated_linear_attention,
    linear_attention,
    linear_operator,
    multi_head_attention,
    normalized_attention,
)
from attnviz.kernels.linear import write
from attnviz.models import TinyConfig, TinyTransformer


def _qkv(lead=(2, 3), t=13, d_k=6, d_v=4, seed=0, dtype=torch.float64, unit_keys=True):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, t, d_k, generator=g, dtype=dtype)
    k = torch.randn(*lead, t, d_k, generator=g, dtype=dtype)
    v = torch.randn(*lead, t, d_v, generator=g, dtype=dtype)
    if unit_keys:  # the delta rule is stable for β‖k‖² <= 2; DeltaNet normalizes keys
        k = torch.nn.functional.normalize(k, dim=-1)
    return q, k, v


def _gates(lead=(2, 3), t=13, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    alpha = torch.rand(*lead, t, generator=g, dtype=dtype)
    alpha[..., 4] = 0.0  # a full reset, where log α = -inf
    beta = torch.rand(*lead, t, generator=g, dtype=dtype)
    return alpha, beta


def _bad(fn, *args, **kwargs):
    return lambda q, k, v: fn(q, k, v, *args, **kwargs)


def _call(rule, q, k, v, alpha, beta, **kwargs):
    if rule == "hebbian":
        return linear_attention(q, k, v, **kwargs)
    if rule == "hebbian_forget":
        return gated_linear_attention(q, k, v, alpha, **kwargs)
    if rule == "delta":
        return delta_rule_attention(q, k, v, beta, **kwargs)
    return gated_delta_rule_attention(q, k, v, alpha, beta, **kwargs)


RULES = ("hebbian", "hebbian_forget", "delta", "gated_delta")


def _definition(rule, q, k, v, alpha, beta):
    """The rules as PAPERS.md §1 writes them, one token at a time, with full matrices."""
    *lead, t, d_k = k.shape
    state = torch.zeros(*lead, v.shape[-1], d_k, dtype=k.dtype)
    eye = torch.eye(d_k, dtype=k.dtype)
    outputs = []
    for i in range(t):
        kk = k[..., i, :, None] @ k[..., i, None, :]  # k kᵀ, (..., d_k, d_k)
        vk = v[..., i, :, None] @ k[..., i, None, :]  # v kᵀ, (..., d_v, d_k)
        a = alpha[..., i, None, None] if rule in ("hebbian_forget", "gated_delta") else 1.0
        if rule in ("hebbian", "hebbian_forget"):
            state = a * state + vk
        else:  # Eq. 10: α S (I - β k kᵀ) + β v kᵀ
            b = beta[..., i, None, None]
            state = a * state @ (eye - b * kk) + b * vk
        outputs.append(state @ q[..., i, :, None])
    return torch.cat(outputs, dim=-1).mT, state


@pytest.mark.parametrize("rule", RULES)
def test_recurrent_form_is_the_written_rule(rule):
    q, k, v = _qkv()
    alpha, beta = _gates()
    out, state = _call(rule, q, k, v, alpha, beta, form="recurrent", return_state=True)
    want_out, want_state = _definition(rule, q, k, v, alpha, beta)
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(state, want_state)


def _one_write(rule, seed=2):
    """A batch (2, 3) of memories S (d_v = 4, d_k = 6), one key and value each, the gates."""
    g = torch.Generator().manual_seed(seed)
    state = torch.randn(2, 3, 4, 6, generator=g, dtype=torch.float64)
    k = torch.nn.functional.normalize(
        torch.randn(2, 3, 6, generator=g, dtype=torch.float64), dim=-1
    )
    v = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    alpha, beta = torch.rand(2, 2, 3, 1, 1, generator=g, dtype=torch.float64)
    if rule in ("hebbian", "delta"):
        alpha = torch.ones_like(alpha)
    return state, k, v, alpha, beta


@pytest.mark.parametrize("rule", RULES)
def test_one_write_is_the_written_rule_for_a_batch_one_memory_or_numpy_arrays(rule):
    state, k, v, alpha, beta = _one_write(rule)
    kind = "delta" if rule in ("delta", "gated_delta") else "hebbian"
    got = write(state, k, v, kind, beta=beta, alpha=alpha)
    vk = v[..., :, None] * k[..., None, :]  # v kᵀ, (2, 3, d_v, d_k)
    if kind == "hebbian":  # α S + β v kᵀ
        want = alpha * state + beta * vk
    else:  # Eq. 10: α S (I - β k kᵀ) + β v kᵀ
        kk = k[..., :, None] * k[..., None, :]
        want = alpha * state @ (torch.eye(6, dtype=torch.float64) - beta * kk) + beta * vk
    torch.testing.assert_close(got, want)
    # one memory of the batch, written alone, with numbers for gates; and as numpy arrays
    one = (state[1, 2], k[1, 2], v[1, 2])
    gates = {"beta": beta[1, 2].item(), "alpha": alpha[1, 2].item()}
    torch.testing.assert_close(write(*one, kind, **gates), got[1, 2])
    arrays = write(*(x.numpy() for x in one), kind, **gates)
    assert isinstance(arrays, np.ndarray)
    np.testing.assert_allclose(arrays, got[1, 2].numpy(), rtol=1e-12, atol=1e-12)


def test_a_write_defaults_to_linear_attentions_hebbian_step():
    state, k, v, _, _ = _one_write("hebbian")
    torch.testing.assert_close(write(state, k, v), state + v[..., :, None] * k[..., None, :])
    # a delta write with β = 1 and a unit key stores the value exactly: S k = v
    stored = write(state, k, v, "delta")
    torch.testing.assert_close((stored @ k[..., None])[..., 0], v)


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        ({"rule": "oja"}, ValueError, r"rule must be one of \('hebbian', 'delta'\), got 'oja'"),
        ({"beta": 1.5}, ValueError, r"beta must be in \[0, 1\], got 1.5"),
        ({"alpha": "slow"}, TypeError, "alpha must be a real number"),
        (
            {"alpha": torch.full((2, 3, 1, 1), -0.5)},
            ValueError,
            r"alpha must be in \[0, 1\] at every write, got -0.5",
        ),
        (
            {"beta": torch.full((2, 3, 1, 1), float("nan"))},
            ValueError,
            r"beta must be in \[0, 1\] at every write, got nan",
        ),
        (
            {"beta": np.ones((2, 3, 1, 1))},
            TypeError,
            r"beta must be a number or of the state's kind \(Tensor\), got ndarray",
        ),
        (
            {"k": np.ones(6)},
            TypeError,
            r"k must be a torch.Tensor or a numpy.ndarray, of one kind for state, k and v; "
            r"got ndarray \(state: Tensor\)",
        ),
        (
            {"state": torch.zeros(6)},
            ValueError,
            r"state, k and v must have shapes \(..., d_v, d_k\), \(..., d_k\) and \(..., d_v\)",
        ),
        (
            {"k": torch.ones(2, 3, 5)},
            ValueError,
            r"k must end in d_k = 6 and v in d_v = 4.*got k \(2, 3, 5\) and v \(2, 3, 4\)",
        ),
    ],
)
def test_a_bad_write_names_the_argument(change, error, pattern):
    state, k, v, _, _ = _one_write("hebbian")
    arguments = {"state": state, "k": k, "v": v, "rule": "delta", **change}
    with pytest.raises(error, match=pattern):
        write(**arguments)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(
    ("form", "chunk_size"),
    [("parallel", 64), ("chunkwise", 1), ("chunkwise", 4), ("chunkwise", 13)],
)
@pytest.mark.parametrize(("lead", "t"), [((2, 3), 13), ((), 9), ((4,), 30)])
def test_parallel_and_chunkwise_forms_equal_the_recurrence(rule, form, chunk_size, lead, t):
    q, k, v = _qkv(lead=lead, t=t, seed=t)
    alpha, beta = _gates(lead=lead, t=t)
    want = _call(rule, q, k, v, alpha, beta, form="recurrent", return_state=True)
    got = _call(rule, q, k, v, alpha, beta, form=form, chunk_size=chunk_size, return_state=True)
    torch.testing.assert_close(got.output, want.output, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got.state, want.state, rtol=1e-10, atol=1e-10)
    assert torch.isfinite(got.output).all()  # α = 0 gives decay 0, not NaN


def test_parallel_linear_attention_is_the_masked_matrix_product():
    q, k, v = _qkv(unit_keys=False)
    torch.testing.assert_close(linear_attention(q, k, v).output, (q @ k.mT).tril() @ v)


def test_gated_parallel_form_uses_the_decay_matrix():
    q, k, v = _qkv(lead=(), t=7)
    alpha = torch.tensor([0.9, 0.5, 1.0, 0.2, 0.7, 0.0, 0.3], dtype=torch.float64)
    decay = torch.zeros(7, 7, dtype=torch.float64)  # D[t, j] = α_{j+1}⋯α_t
    for t in range(7):
        for j in range(t + 1):
            decay[t, j] = torch.prod(alpha[j + 1 : t + 1])
    want = (decay * (q @ k.mT)) @ v
    torch.testing.assert_close(gated_linear_attention(q, k, v, alpha).output, want)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("form", ["parallel", "chunkwise", "recurrent"])
def test_a_carried_state_continues_the_sequence(rule, form):
    q, k, v = _qkv(t=20)
    alpha, beta = _gates(t=20)
    whole = _call(rule, q, k, v, alpha, beta, form=form, chunk_size=6, return_state=True)
    first = _call(
        rule, q[..., :8, :], k[..., :8, :], v[..., :8, :], alpha[..., :8], beta[..., :8],
        form=form, chunk_size=6, return_state=True,
    )  # fmt: skip
    second = _call(
        rule, q[..., 8:, :], k[..., 8:, :], v[..., 8:, :], alpha[..., 8:], beta[..., 8:],
        form=form, chunk_size=6, initial_state=first.state, return_state=True,
    )  # fmt: skip
    torch.testing.assert_close(torch.cat([first.output, second.output], -2), whole.output)
    torch.testing.assert_close(second.state, whole.state)


def test_final_state_is_the_sum_of_outer_products_and_can_be_read():
    q, k, v = _qkv(unit_keys=False)
    out, state = linear_attention(q, k, v, return_state=True)
    torch.testing.assert_close(state, v.mT @ k)
    torch.testing.assert_close(out[..., -1, :], (state @ q[..., -1, :, None])[..., 0])
    assert linear_attention(q, k, v).state is None


def test_non_causal_queries_read_the_whole_memory():
    q, k, v = _qkv(unit_keys=False)
    probe = q[..., :5, :]  # T_q may differ from T when not causal
    for form in ("parallel", "recurrent"):
        out = linear_attention(probe, k, v, causal=False, form=form).output
        torch.testing.assert_close(out, probe @ k.mT @ v)


@pytest.mark.parametrize("form", ["parallel", "chunkwise", "recurrent"])
def test_normalized_with_a_positive_feature_map_is_a_weighted_average(form):
    q, k, v = _qkv(unit_keys=False)

    def phi(x):
        return torch.nn.functional.elu(x) + 1

    scores = (phi(q) @ phi(k).mT).tril()  # (..., T, T)
    want = (scores / scores.sum(-1, keepdim=True)) @ v
    got = linear_attention(q, k, v, normalize=True, feature_map=phi, form=form, chunk_size=5)
    torch.testing.assert_close(got.output, want)
    got = linear_attention(q, k, v, causal=False, normalize=True, feature_map=phi).output
    full = phi(q) @ phi(k).mT
    torch.testing.assert_close(got, (full / full.sum(-1, keepdim=True)) @ v)


def test_normalize_names_a_vanishing_denominator():
    q, k, v = _qkv(lead=(), unit_keys=False)
    q[3] = 0.0  # z_3·q_3 = 0
    with pytest.raises(ValueError, match=r"denominator z_t·q_t = 0 at index \(3,\)"):
        linear_attention(q, k, v, normalize=True)


def test_alpha_one_is_linear_attention_and_alpha_zero_remembers_one_pair():
    q, k, v = _qkv()
    plain = linear_attention(q, k, v).output
    torch.testing.assert_close(gated_linear_attention(q, k, v, 1.0).output, plain)
    only_now = (q * k).sum(-1, keepdim=True) * v  # (k_tᵀ q_t) v_t
    torch.testing.assert_close(gated_linear_attention(q, k, v, 0.0).output, only_now)


def test_gated_delta_reduces_to_delta_and_beta_zero_writes_nothing():
    q, k, v = _qkv()
    _, beta = _gates()
    delta = delta_rule_attention(q, k, v, beta).output
    torch.testing.assert_close(gated_delta_rule_attention(q, k, v, 1.0, beta).output, delta)
    silent = gated_delta_rule_attention(q, k, v, 0.5, 0.0, return_state=True)
    assert torch.all(silent.output == 0) and torch.all(silent.state == 0)


@pytest.mark.parametrize("d_k", [4, 16])
def test_delta_rule_with_beta_one_stores_orthonormal_pairs_exactly(d_k):
    g = torch.Generator().manual_seed(d_k)
    keys = torch.linalg.qr(torch.randn(d_k, d_k, generator=g, dtype=torch.float64))[0].mT
    values = torch.randn(d_k, 3, generator=g, dtype=torch.float64)
    for form in ("parallel", "chunkwise", "recurrent"):
        state = delta_rule_attention(keys, keys, values, 1.0, form=form, return_state=True).state
        torch.testing.assert_close(keys @ state.mT, values)  # read each key back: its value
    # a second write to the same key overwrites it (Hebbian would add the two values)
    k2 = torch.cat([keys[:1], keys[:1]])
    v2 = torch.cat([values[:1], -values[:1]])
    state = delta_rule_attention(k2, k2, v2, 1.0, return_state=True).state
    torch.testing.assert_close(state @ keys[0], -values[0])
    hebbian = linear_attention(k2, k2, v2, return_state=True).state
    torch.testing.assert_close(hebbian @ keys[0], torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("rule", RULES)
def test_float32_chunkwise_stays_close_to_the_float64_recurrence(rule):
    q, k, v = _qkv(lead=(2,), t=256, d_k=32, d_v=16)
    alpha, beta = _gates(lead=(2,), t=256)
    alpha = 0.9 + 0.1 * alpha  # long memories, where rounding could pile up
    want = _call(rule, q, k, v, alpha, beta, form="recurrent").output
    got = _call(rule, q.float(), k.float(), v.float(), alpha.float(), beta.float()).output
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rule", RULES)
def test_chunkwise_gradients_equal_the_recurrence(rule):
    q, k, v = _qkv(lead=(2,), t=11)
    alpha, beta = _gates(lead=(2,), t=11)
    grads = []
    for form in ("recurrent", "chunkwise"):
        leaves = [x.clone().requires_grad_() for x in (q, k, v)]
        _call(rule, *leaves, alpha, beta, form=form, chunk_size=4).output.square().sum().backward()
        grads.append([x.grad for x in leaves])
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want)


def test_accepts_numpy_and_broadcasts_leading_dims():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((5, 3))
    k = rng.standard_normal((2, 5, 3))
    v = rng.standard_normal((2, 5, 4))
    out = delta_rule_attention(q, k / np.linalg.norm(k, axis=-1, keepdims=True), v, 0.5).output
    assert out.shape == (2, 5, 4) and out.dtype == torch.float64


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (_bad(linear_attention, form="fast"), ValueError, "form must be one of"),
        (_bad(linear_attention, chunk_size=0), ValueError, "chunk_size must"),
        (_bad(linear_attention, causal=1), TypeError, "causal must be True or False"),
        (_bad(gated_linear_attention, 1.5), ValueError, r"alpha must be in \[0, 1\], got 1.5"),
        (_bad(delta_rule_attention, -0.1), ValueError, r"beta must be in \[0, 1\], got -0.1"),
        (_bad(delta_rule_attention, float("nan")), ValueError, "beta must be finite"),
        (_bad(delta_rule_attention, "big"), TypeError, "beta must be a real number"),
        (
            _bad(gated_delta_rule_attention, torch.full((2, 3, 13), 2.0), 0.5),
            ValueError,
            r"alpha must be in \[0, 1\] at every step, got 2",
        ),
        (
            _bad(gated_linear_attention, torch.full((13,), float("nan"))),
            ValueError,
            "alpha must contain only finite",
        ),
        (
            _bad(gated_linear_attention, torch.ones(12)),
            ValueError,
            r"alpha of shape \(12,\) does not broadcast to \(2, 3, 13\)",
        ),
        (
            lambda q, k, v: linear_attention(q * float("inf"), k, v),
            ValueError,
            "q must contain only finite",
        ),
        (
            lambda q, k, v: linear_attention(q, k[..., :5], v),
            ValueError,
            r"q has shape \(2, 3, 13, 6\).*k has shape \(2, 3, 13, 5\)",
        ),
        (
            lambda q, k, v: linear_attention(q, k, v[..., :12, :]),
            ValueError,
            r"k has shape \(2, 3, 13, 6\).*v has shape \(2, 3, 12, 4\)",
        ),
        (
            lambda q, k, v: linear_attention(q[..., :5, :], k, v),
            ValueError,
            "q and k need the same length T",
        ),
        (
            lambda q, k, v: linear_attention(q, k[:1, :2], v[:, :2]),
            ValueError,
            "broadcastable leading",
        ),
        (
            _bad(linear_attention, initial_state=torch.zeros(4, 4)),
            ValueError,
            r"initial_state of shape \(4, 4\)",
        ),
        (
            _bad(linear_attention, normalize=True, initial_state=torch.zeros(4, 6)),
            ValueError,
            "initial_state=None",
        ),
        (
            _bad(linear_attention, feature_map="elu"),
            ValueError,
            r"feature_map must be a callable, None or one of \('identity', 'elu_plus_one'",
        ),
        (_bad(linear_attention, feature_map=3), TypeError, "feature_map must be a callable"),
        (
            _bad(normalized_attention, torch.full((13,), float("inf"))),
            ValueError,
            "log_scale must contain only finite numbers.*got inf",
        ),
        (_bad(normalized_attention, float("nan")), ValueError, "log_scale must be finite"),
        (_bad(normalized_attention, "big"), TypeError, "log_scale must be a real number"),
        (
            _bad(normalized_attention, torch.zeros(12)),
            ValueError,
            r"log_scale of shape \(12,\) does not broadcast to \(2, 3, 13\)",
        ),
        (_bad(normalized_attention, 0.0, form="fast"), ValueError, "form must be one of"),
        (
            _bad(gated_linear_attention, 0.5, feature_map="softmax"),
            ValueError,
            "feature_map must be a callable, None or one of",
        ),
        (lambda q, k, v: linear_attention([[1.0]], k, v), TypeError, "q must be a torch.Tensor"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, pattern):
    q, k, v = _qkv()
    with pytest.raises(error, match=pattern):
        call(q, k, v)


# ------------------------------------------------- feature maps and normalised attention


def _map_cases():
    """Every registered map unnormalised; the positive kernels also normalised."""
    maps = [*FEATURE_MAPS, feature_map("random_features", num_features=5)]
    positive = ("elu_plus_one", "taylor", "random_features")
    for phi in maps:
        name = phi if isinstance(phi, str) else phi.name
        yield pytest.param(phi, False, id=f"{name}-plain")
        if name in positive:  # identity / relu: the normaliser may vanish
            yield pytest.param(phi, True, id=f"{name}-normalized")


@pytest.mark.parametrize(("phi", "normalize"), list(_map_cases()))
@pytest.mark.parametrize("form", ["parallel", "chunkwise"])
def test_every_feature_map_with_and_without_normalisation_equals_the_recurrence(
    phi, normalize, form
):
    q, k, v = _qkv(d_k=3, unit_keys=False)
    kwargs = {"feature_map": phi, "normalize": normalize}
    want = linear_attention(q, k, v, form="recurrent", return_state=True, **kwargs)
    got = linear_attention(q, k, v, form=form, chunk_size=4, return_state=True, **kwargs)
    torch.testing.assert_close(got.output, want.output, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got.state, want.state, rtol=1e-10, atol=1e-10)
    n = (phi if not isinstance(phi, str) else feature_map(phi)).output_dim(3)
    assert got.state.shape == (2, 3, 4, n)  # the state expansion: d_v x n


def test_taylor_feature_map_is_attention_with_the_taylor_kernel():
    q, k, v = _qkv(lead=(), unit_keys=False)
    s = q @ k.mT  # (T, T)
    weights = (1 + s + s**2 / 2).tril()
    want = (weights / weights.sum(-1, keepdim=True)) @ v
    got = linear_attention(q, k, v, feature_map="taylor", normalize=True).output
    torch.testing.assert_close(got, want)


def _log_scale(lead=(2, 3), t=13, seed=5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*lead, t, generator=g, dtype=torch.float64)  # s_t, (..., T)


@pytest.mark.parametrize("phi", [None, "elu_plus_one", "taylor"])
def test_normalized_attention_recurrence_is_the_papers_formula(phi):
    q, k, v = _qkv(unit_keys=False)
    s = _log_scale()
    fq, fk = (q, k) if phi is None else (feature_map(phi)(q), feature_map(phi)(k))
    want = torch.zeros_like(v)
    for i in range(v.shape[-2]):  # y_i = exp(-s_i) Σ_{j<=i} (φ(q_i)ᵀφ(k_j)) v_j
        for j in range(i + 1):
            score = (fq[..., i, :] * fk[..., j, :]).sum(-1, keepdim=True)  # (..., 1)
            want[..., i, :] += torch.exp(-s[..., i, None]) * score * v[..., j, :]
    got = normalized_attention(q, k, v, s, feature_map=phi, form="recurrent")
    torch.testing.assert_close(got.output, want)


@pytest.mark.parametrize("phi", [None, "elu_plus_one", "taylor", "random_features"])
@pytest.mark.parametrize(
    ("form", "chunk_size"), [("parallel", 64), ("chunkwise", 1), ("chunkwise", 5)]
)
@pytest.mark.parametrize(("lead", "t"), [((2, 3), 13), ((), 9)])
def test_normalized_attention_parallel_forms_equal_the_recurrence(phi, form, chunk_size, lead, t):
    q, k, v = _qkv(lead=lead, t=t, d_k=4, unit_keys=False, seed=t)
    s = _log_scale(lead=lead, t=t)
    want = normalized_attention(q, k, v, s, feature_map=phi, form="recurrent", return_state=True)
    got = normalized_attention(
        q, k, v, s, feature_map=phi, form=form, chunk_size=chunk_size, return_state=True
    )
    torch.testing.assert_close(got.output, want.output, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got.state, want.state, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("form", ["parallel", "recurrent"])
def test_normalized_attention_with_log_of_the_key_sum_is_normalised_linear_attention(form):
    q, k, v = _qkv(unit_keys=False)
    phi = feature_map("elu_plus_one")
    eta = (phi(q) @ phi(k).mT).tril().sum(-1)  # η_t = Σ_{j<=t} φ(q_t)ᵀφ(k_j), (..., T)
    got = normalized_attention(q, k, v, eta.log(), feature_map=phi, form=form).output
    want = linear_attention(q, k, v, normalize=True, feature_map=phi, form=form).output
    torch.testing.assert_close(got, want)
    zero = normalized_attention(q, k, v, 0.0, feature_map=phi, form=form).output
    torch.testing.assert_close(zero, linear_attention(q, k, v, feature_map=phi).output)


def test_normalized_attention_continues_a_carried_state_and_returns_the_unscaled_one():
    q, k, v = _qkv(t=20, unit_keys=False)
    s = _log_scale(t=20)
    whole = normalized_attention(q, k, v, s, return_state=True)
    first = normalized_attention(q[..., :8, :], k[..., :8, :], v[..., :8, :], s[..., :8],
                                 return_state=True)  # fmt: skip
    second = normalized_attention(q[..., 8:, :], k[..., 8:, :], v[..., 8:, :], s[..., 8:],
                                  initial_state=first.state, form="recurrent")  # fmt: skip
    torch.testing.assert_close(torch.cat([first.output, second.output], -2), whole.output)
    torch.testing.assert_close(whole.state, v.mT @ k)  # S_T = Σ v_j k_jᵀ, no scale


def test_normalized_attention_gradients_reach_the_log_scale():
    q, k, v = _qkv(lead=(2,), t=7, unit_keys=False)
    grads = []
    for form in ("recurrent", "parallel"):
        s = _log_scale(lead=(2,), t=7).requires_grad_()
        normalized_attention(
            q, k, v, s, feature_map="elu_plus_one", form=form
        ).output.sum().backward()
        grads.append(s.grad)
    torch.testing.assert_close(grads[1], grads[0])
    assert bool((grads[0] != 0).all())


# ------------------------------------------------------------- the "linear" model operator


@pytest.mark.parametrize("causal", [True, False])
def test_linear_operator_is_normalised_linear_attention_as_a_matrix(causal):
    q, k, v = _qkv(lead=(2, 3), unit_keys=False)
    out, weights = multi_head_attention(q, k, v, operator="linear", causal=causal)
    want = linear_attention(q, k, v, causal=causal, normalize=True, feature_map="elu_plus_one")
    torch.testing.assert_close(out, want.output)
    torch.testing.assert_close(out, weights @ v)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 13, dtype=torch.float64))
    assert bool((weights >= 0).all())
    if causal:
        assert bool((weights.triu(1) == 0).all())


def test_linear_operator_respects_the_mask_and_zeroes_fully_masked_rows():
    q, k, v = _qkv(lead=(1, 2), t=6, unit_keys=False)
    mask = torch.rand(6, 6, generator=torch.Generator().manual_seed(0)) < 0.5  # (T, T)
    mask[2] = False  # query 2 may attend to nothing
    out, weights = linear_operator(q, k, v, mask, 0.5)
    assert bool((weights[..., ~mask] == 0).all())
    assert bool((weights[..., 2, :] == 0).all()) and bool((out[..., 2, :] == 0).all())
    allowed = mask.any(-1)
    torch.testing.assert_close(weights.sum(-1)[..., allowed], torch.ones(1, 2, int(allowed.sum()),
                               dtype=torch.float64))  # fmt: skip
    torch.testing.assert_close(out, weights @ v)


def test_tiny_transformer_trains_with_linear_attention():
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match="mixer='linear_attention'"):  # the one way
        config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=11, context=12,
                            operator="linear")  # fmt: skip
    model = TinyTransformer(config)
    tokens = torch.randint(0, 11, (4, 12), generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):  # fit one small batch: the loss falls
        logits = model(tokens[:, :-1])  # (B, T, vocab)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    # a causal model: changing a later token leaves the earlier logits alone
    changed = tokens.clone()
    changed[:, 8] = (changed[:, 8] + 1) % 11
    with torch.no_grad():
        torch.testing.assert_close(model(changed)[:, :8], model(tokens)[:, :8])


@pytest.mark.parametrize("form", ["parallel", "chunkwise"])
def test_linear_attention_refuses_a_quadratic_form_past_the_budget(form):
    from attnviz.memory_budget import memory_budget_of

    x = torch.randn(8192, 1)  # six (8192, 8192) floats at once: 1.6 GB
    with memory_budget_of("256MB"), pytest.raises(ValueError, match="use form='recurrent'"):
        linear_attention(x, x, x, form=form, chunk_size=8192)


def test_linear_attention_raises_instead_of_returning_inf():
    big = torch.full((4, 2), 3e38)
    with pytest.raises(ValueError, match="overflowed"):
        linear_attention(big, big, big)
    with pytest.raises(ValueError, match=r"chunk_size must be an integer in \[1, 1048576\]"):
        linear_attention(big, big, big, chunk_size=10**9)
