"""kernels.feature_maps: each φ computes the kernel its paper claims (PAPERS.md §2,
lesson 06): Taylor exactly, random features in expectation, positive where promised."""

import math

import pytest
import torch

from attnviz.kernels import FEATURE_MAPS, NamedFeatureMap, feature_map, linear_attention

NAMES = tuple(FEATURE_MAPS)


def _pairs(n=64, d=8, spread=1.0, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = spread * torch.randn(n, d, generator=g, dtype=dtype)
    k = spread * torch.randn(n, d, generator=g, dtype=dtype)
    return q, k


def _kernel(phi, q, k):
    return (phi(q) * phi(k)).sum(-1)  # φ(q)ᵀφ(k) per row, (n,)


def test_the_registry_holds_the_five_maps_of_lesson_06():
    assert NAMES == ("identity", "elu_plus_one", "relu", "random_features", "taylor")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lead", [(), (3,), (2, 4)])
@pytest.mark.parametrize("d", [1, 5])
def test_output_shape_is_lead_by_output_dim(name, lead, d):
    phi = feature_map(name)
    x = torch.randn(*lead, 7, d, generator=torch.Generator().manual_seed(d))
    out = phi(x)
    assert isinstance(phi, NamedFeatureMap) and phi.name == name
    assert out.shape == (*lead, 7, phi.output_dim(d))
    assert out.dtype == x.dtype and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("name", "params", "d", "n"),
    [
        ("identity", {}, 6, 6),
        ("elu_plus_one", {}, 6, 6),
        ("relu", {}, 6, 6),
        ("random_features", {"num_features": 17}, 6, 17),
        ("taylor", {}, 6, 1 + 6 + 36),
    ],
)
def test_output_dim_is_the_state_expansion(name, params, d, n):
    phi = feature_map(name, **params)
    assert phi.output_dim(d) == n
    if name == "random_features":  # the defaults are recorded too
        assert phi.params == {"num_features": 17, "seed": 0, "orthogonal": True}
    else:
        assert phi.params == {}


def test_identity_relu_and_elu_plus_one_are_their_formulas():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)[:, None]  # (13, 1)
    torch.testing.assert_close(feature_map("identity")(x), x)
    torch.testing.assert_close(feature_map("relu")(x), x.clamp_min(0))
    want = torch.nn.functional.elu(x) + 1
    torch.testing.assert_close(feature_map("elu_plus_one")(x), want)


def test_elu_plus_one_stays_positive_where_the_textbook_formula_rounds_to_zero():
    x = torch.tensor([-40.0, -20.0], dtype=torch.float64)
    assert (torch.nn.functional.elu(x) + 1)[0] == 0  # exp(-40) - 1 + 1 rounds to 0
    got = feature_map("elu_plus_one")(x)
    torch.testing.assert_close(got, torch.exp(x), rtol=1e-12, atol=0)
    x = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    feature_map("elu_plus_one")(x).sum().backward()  # the gradient of elu + 1, finite
    torch.testing.assert_close(x.grad, torch.where(x > 0, 1.0, torch.exp(x)).detach())


@pytest.mark.parametrize(
    ("name", "strict"),
    [("elu_plus_one", True), ("random_features", True), ("relu", False)],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_positive_maps_are_positive(name, strict, seed):
    q, _ = _pairs(n=200, d=6, spread=3.0, seed=seed)
    q[0] = -50.0 if name == "elu_plus_one" else -5.0  # far on the negative side
    out = feature_map(name)(q)
    assert bool((out > 0).all()) if strict else bool((out >= 0).all())
    if not strict:  # relu: a negative vector is seen by no one
        assert bool((out[0] == 0).all())


@pytest.mark.parametrize("d", [1, 4, 16])
@pytest.mark.parametrize("spread", [0.3, 1.0, 3.0])
def test_taylor_kernel_is_exactly_the_second_order_expansion_of_exp(d, spread):
    q, k = _pairs(d=d, spread=spread, seed=d)
    s = (q * k).sum(-1)  # qᵀk, (n,)
    got = _kernel(feature_map("taylor"), q, k)
    torch.testing.assert_close(got, 1 + s + s**2 / 2, rtol=1e-12, atol=1e-12)
    assert bool((got >= 0.5 - 1e-12).all())  # ((s + 1)² + 1) / 2 >= 1/2: a positive kernel


def test_taylor_approximates_exp_only_for_small_dot_products():
    q, k = _pairs(d=8, spread=0.15, seed=3)
    s = (q * k).sum(-1)
    small = _kernel(feature_map("taylor"), q, k)
    assert float(((small - s.exp()) / s.exp()).abs().max()) < 0.01  # |qᵀk| small: close
    s_big = torch.tensor([4.0], dtype=torch.float64)  # qᵀk = 4: 13 against e⁴ ≈ 54.6
    big = _kernel(feature_map("taylor"), s_big[:, None].sqrt(), s_big[:, None].sqrt())
    assert float(big) == pytest.approx(13.0) and float(big) < 0.25 * math.exp(4.0)


def _rms_relative_error(m, orthogonal, seeds=range(5)):
    q, k = _pairs(n=64, d=8, spread=0.35, seed=0)
    want = torch.exp((q * k).sum(-1))  # the softmax kernel exp(qᵀk), (n,)
    errors = []
    for seed in seeds:
        phi = feature_map("random_features", num_features=m, seed=seed, orthogonal=orthogonal)
        got = _kernel(phi, q, k)
        errors.append(float(((got - want) / want).square().mean().sqrt()))
    return sum(errors) / len(errors)


@pytest.mark.parametrize("orthogonal", [True, False])
def test_random_features_converge_to_exp_of_the_dot_product(orthogonal):
    sizes = (64, 512, 4096, 32768)
    errors = [_rms_relative_error(m, orthogonal) for m in sizes]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] < 0.03, errors  # ~1/√m: about 2% at m = 32768


@pytest.mark.parametrize("orthogonal", [True, False])
def test_random_features_are_unbiased(orthogonal):
    q, k = _pairs(n=16, d=4, spread=0.3, seed=1)
    want = torch.exp((q * k).sum(-1))  # (n,)
    estimates = [
        _kernel(feature_map("random_features", num_features=8, seed=s, orthogonal=orthogonal), q, k)
        for s in range(300)
    ]
    estimates = torch.stack(estimates)  # 300 draws of W, (300, n)
    standard_error = estimates.std(0) / math.sqrt(len(estimates))  # (n,)
    z = (estimates.mean(0) - want) / standard_error  # (n,)
    assert float(z.abs().max()) < 4.0, z  # the mean over draws of W is exp(qᵀk)


def test_orthogonal_random_features_have_lower_error():
    assert _rms_relative_error(64, True) < 0.5 * _rms_relative_error(64, False)


def test_random_features_share_w_across_calls_and_follow_the_seed():
    q, _ = _pairs(n=5, d=3)
    phi = feature_map("random_features", num_features=12, seed=7)
    torch.testing.assert_close(phi(q), phi(q.clone()))
    again = feature_map("random_features", num_features=12, seed=7)
    torch.testing.assert_close(again(q), phi(q))
    other = feature_map("random_features", num_features=12, seed=8)
    assert not torch.allclose(other(q), phi(q))
    assert phi(q.float()).dtype == torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_linear_attention_takes_the_name_or_the_object(name):
    q, k = _pairs(n=9, d=3, spread=0.5)
    v = torch.randn(9, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    by_name = linear_attention(q, k, v, feature_map=name).output
    by_object = linear_attention(q, k, v, feature_map=feature_map(name)).output
    phi = feature_map(name)
    want = (phi(q) @ phi(k).mT).tril() @ v
    torch.testing.assert_close(by_name, want)
    torch.testing.assert_close(by_object, want)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: feature_map("softmax"), ValueError, r"must be one of \('identity'.*'taylor'\)"),
        (lambda: feature_map(3), TypeError, "name must be one of"),
        (
            lambda: feature_map("relu", num_features=3),
            TypeError,
            r"'num_features' is not a parameter of the 'relu' feature map",
        ),
        (
            lambda: feature_map("random_features", num_features=0),
            ValueError,
            r"num_features must be an integer in \[1, 65536\], got 0",
        ),
        (
            lambda: feature_map("random_features", seed=1.5),
            TypeError,
            "seed must be an integer",
        ),
        (
            lambda: feature_map("random_features", orthogonal="yes"),
            TypeError,
            "orthogonal must be True or False",
        ),
        (lambda: feature_map("taylor").output_dim(0), ValueError, "d must be an integer"),
        (lambda: feature_map("taylor")([1.0, 2.0]), TypeError, "takes a torch.Tensor"),
        (lambda: feature_map("taylor")(torch.tensor(1.0)), ValueError, "got a scalar"),
    ],
)
def test_bad_arguments_are_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_random_features_are_bounded():
    from attnviz.kernels.feature_maps import (
        MAX_RANDOM_FEATURES,
        random_features,
        resolve_feature_map,
    )

    with pytest.raises(ValueError, match=r"num_features must be an integer in \[1, 65536\]"):
        random_features(10**9)
    assert random_features(MAX_RANDOM_FEATURES).output_dim(3) == MAX_RANDOM_FEATURES
    with pytest.raises(TypeError, match="argument must be a string"):
        resolve_feature_map("relu", argument=None)


def test_named_feature_map_checks_what_it_is_built_with():
    with pytest.raises(TypeError, match="fn must be a callable"):
        NamedFeatureMap("mine", None)
    with pytest.raises(TypeError, match="name must be a string"):
        NamedFeatureMap(None, torch.relu)
