"""attnviz.memory: the claims of lesson 05 about associative memories (PAPERS.md §1)."""

import numpy as np
import pytest
import torch

from attnviz.kernels.linear import (
    delta_rule_attention,
    gated_delta_rule_attention,
    gated_linear_attention,
    linear_attention,
)
from attnviz.memory import (
    AssociativeMemory,
    capacity_sweep,
    depth_head_error,
    mean_error_of_items_written,
    random_pairs,
    retrieval_errors,
    write_all,
)


def _pairs(n=12, d_k=6, d_v=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    keys = torch.nn.functional.normalize(
        torch.randn(n, d_k, generator=g, dtype=torch.float64), dim=-1
    )
    values = torch.randn(n, d_v, generator=g, dtype=torch.float64)
    queries = torch.randn(n, d_k, generator=g, dtype=torch.float64)
    return keys, values, queries


KERNELS = {
    "hebbian": lambda q, k, v, a, b, form: linear_attention(q, k, v, form=form),
    "hebbian_forget": lambda q, k, v, a, b, form: gated_linear_attention(q, k, v, a, form=form),
    "delta": lambda q, k, v, a, b, form: delta_rule_attention(q, k, v, b, form=form),
    "gated_delta": lambda q, k, v, a, b, form: gated_delta_rule_attention(q, k, v, a, b, form=form),
}


@pytest.mark.parametrize("rule", list(KERNELS))
@pytest.mark.parametrize("form", ["parallel", "chunkwise", "recurrent"])
def test_reading_the_memory_equals_causal_linear_attention(rule, form):
    keys, values, queries = _pairs()
    g = torch.Generator().manual_seed(5)
    alpha = torch.rand(12, generator=g, dtype=torch.float64)
    beta = torch.rand(12, generator=g, dtype=torch.float64)
    states = write_all(keys, values, rule, alpha=alpha, beta=beta)  # (N + 1, d_v, d_k)
    reads = (states[1:] @ queries[:, :, None])[..., 0]  # query t reads the memory after write t
    want = KERNELS[rule](queries, keys, values, alpha, beta, form).output
    torch.testing.assert_close(reads, want)


@pytest.mark.parametrize("rule", list(KERNELS))
def test_the_memory_object_writes_in_order_and_resets(rule):
    keys, values, queries = _pairs()
    memory = AssociativeMemory(6, 4, rule, beta=0.7, alpha=0.9)
    states = write_all(keys, values, rule, beta=0.7, alpha=0.9)
    memory.write(keys[:5], values[:5]).write(keys[5], values[5]).write(keys[6:], values[6:])
    torch.testing.assert_close(memory.state, states[-1])
    torch.testing.assert_close(memory.read(queries), queries @ states[-1].mT)
    torch.testing.assert_close(memory.read(queries[0]), states[-1] @ queries[0])
    assert memory.n_writes == 12 and "n_writes=12" in repr(memory)
    assert torch.all(memory.reset().state == 0) and memory.n_writes == 0
    memory.state.fill_(1.0)  # the state is a copy
    assert torch.all(memory.state == 0)


def test_write_all_starts_from_an_initial_state_and_scrubs_one_write_at_a_time():
    keys, values, _ = _pairs()
    states = write_all(keys, values, "delta", beta=0.5)
    assert states.shape == (13, 4, 6) and torch.all(states[0] == 0)
    rest = write_all(keys[4:], values[4:], "delta", beta=0.5, initial_state=states[4])
    torch.testing.assert_close(rest, states[4:])


@pytest.mark.parametrize("d_k", [32, 64, 128])
def test_hebbian_error_is_n_minus_1_over_d_k_for_random_keys(d_k):
    sizes = [d_k // 4, d_k // 2, d_k, 2 * d_k]
    result = capacity_sweep(d_k, sizes, trials=200, seed=d_k)
    predicted = result.predicted_mse[0]
    standard_error = result.spread[0] / np.sqrt(200)
    assert np.all(np.abs(result.measured[0] - predicted) < 5 * standard_error + 1e-3)
    np.testing.assert_allclose(result.snr[0], 1 / predicted)
    np.testing.assert_allclose(result.load[0], np.array(sizes) / d_k)


def test_curves_collapse_against_load():
    dims = [32, 64, 128, 256]
    loads = np.array([0.25, 0.5, 1.0, 2.0])
    result = capacity_sweep(dims, [int(x) for x in loads * 32], trials=100, seed=1)
    # at equal load N / d_k the error is the same for every d_k
    at_load = [
        capacity_sweep(d, int(load * d), trials=100, seed=2).measured[0, 0]
        for d in dims
        for load in [1.0]
    ]
    assert max(at_load) / min(at_load) < 1.1
    # at equal N it is not: it halves as d_k doubles
    ratios = result.measured[:-1, 2] / result.measured[1:, 2]
    np.testing.assert_allclose(ratios, 2.0, rtol=0.15)


@pytest.mark.parametrize("rule", ["hebbian", "delta"])
def test_orthonormal_keys_store_d_k_items_exactly(rule):
    result = capacity_sweep([8, 32], [1, 4, 8, 32], trials=10, keys="orthonormal", rule=rule)
    assert np.all(result.measured[:, :3] < 1e-10)  # N <= d_k = 8 and 32
    assert result.measured[1, 3] < 1e-10  # N = d_k = 32
    assert result.measured[0, 3] > 0.1  # N = 32 > d_k = 8: crosstalk


def test_past_d_k_orthonormal_keys_continue_as_random_keys():
    d_k, extra = 16, 8
    result = capacity_sweep(d_k, d_k + extra, trials=400, keys="orthonormal", seed=3)
    # basis items hear the extra keys, m / d_k; each extra key hears the whole basis
    # (Σ_j (k_jᵀ k)² = ‖k‖² = 1) and the other extras, (m - 1) / d_k
    n = d_k + extra
    predicted = (d_k * extra / d_k + extra * (1 + (extra - 1) / d_k)) / n
    standard_error = result.spread[0, 0] / np.sqrt(400)
    assert abs(result.measured[0, 0] - predicted) < 5 * standard_error


def test_delta_rule_beats_hebbian_on_random_keys_at_moderate_load():
    sizes = [16, 32, 48]  # loads 0.25 to 0.75 at d_k = 64
    hebbian = capacity_sweep(64, sizes, trials=50, rule="hebbian", seed=4)
    delta = capacity_sweep(64, sizes, trials=50, rule="delta", seed=4)
    assert np.all(delta.measured < 0.75 * hebbian.measured)
    gap = hebbian.measured - delta.measured
    assert np.all(gap > 5 * (hebbian.spread + delta.spread) / np.sqrt(50))


def test_delta_rule_beats_hebbian_on_correlated_keys():
    g = torch.Generator().manual_seed(6)
    shared = torch.randn(32, generator=g, dtype=torch.float64)
    keys = torch.nn.functional.normalize(shared + 0.5 * torch.randn(16, 32, generator=g), dim=-1)
    values = torch.nn.functional.normalize(torch.randn(16, 8, generator=g), dim=-1).double()
    error = {}
    for rule in ("hebbian", "delta"):
        state = write_all(keys, values, rule, beta=1.0)[-1]
        error[rule] = float(((keys @ state.mT - values) ** 2).sum(-1).mean())
    assert error["hebbian"] > 5.0  # the shared component piles up crosstalk
    assert error["delta"] < 0.3 * error["hebbian"]


def test_forgetting_fades_older_associations():
    d_k, alpha = 8, 0.8
    keys = torch.eye(d_k, dtype=torch.float64)
    values = torch.randn(d_k, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    memory = AssociativeMemory(d_k, 3, "hebbian_forget", alpha=alpha).write(keys, values)
    ages = torch.arange(d_k - 1, -1, -1, dtype=torch.float64)  # the last write is age 0
    torch.testing.assert_close(memory.read(keys), alpha ** ages[:, None] * values)
    # with random keys too, the oldest items are recalled worst
    k, v, _ = _pairs(n=40, d_k=64, d_v=16, seed=8)
    v = torch.nn.functional.normalize(v, dim=-1)
    state = write_all(k, v, "hebbian_forget", alpha=alpha)[-1]
    errors = ((k @ state.mT - v) ** 2).sum(-1)
    assert errors[:10].mean() > 0.9 and errors[-5:].mean() < 0.2


def test_worst_item_error_exceeds_the_mean_and_top1_holds_longer():
    mse = capacity_sweep(64, [16, 64], trials=50, criterion="mse")
    worst = capacity_sweep(64, [16, 64], trials=50, criterion="worst")
    top1 = capacity_sweep(64, [16, 64], trials=50, criterion="top1")
    assert np.all(worst.measured > 1.5 * mse.measured)
    assert np.all(top1.measured > 0.99)  # d_v = d_k = 64: top-1 decoding barely errs yet
    assert top1.criterion == "top1" and top1.d_v.tolist() == [64]


def test_sweep_is_seeded_and_keeps_the_order_of_n_items():
    a = capacity_sweep([16, 32], [40, 8, 20], trials=20, seed=9)
    b = capacity_sweep([16, 32], [8, 20, 40], trials=20, seed=9)
    np.testing.assert_array_equal(a.measured[:, [1, 2, 0]], b.measured)
    assert a.measured.shape == a.spread.shape == (2, 3)


@pytest.mark.parametrize("n_layers", [1, 2, 4, 8])
def test_depth_head_error_adds_across_layers(n_layers):
    result = depth_head_error(n_layers, 1, 32, 256, trials=400, seed=n_layers)
    standard_error = result.spread / np.sqrt(400)
    assert np.all(np.abs(result.error - result.expected) < 5 * standard_error)
    # at load N / d_k = 1/8 the rule of thumb L·N/(H·d_k) holds to 15 %
    np.testing.assert_allclose(result.error, result.rule_of_thumb, rtol=0.15)
    np.testing.assert_allclose(
        result.error / np.arange(1, n_layers + 1), result.error[0], rtol=0.15
    )


@pytest.mark.parametrize("n_heads", [2, 4, 8])
def test_redundant_heads_divide_the_error(n_heads):
    one = depth_head_error(3, 1, 32, 256, trials=400, seed=11)
    many = depth_head_error(3, n_heads, 32, 256, trials=400, seed=12)
    np.testing.assert_allclose(many.error * n_heads, one.error, rtol=0.2)
    np.testing.assert_allclose(many.error, many.rule_of_thumb, rtol=0.15)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: capacity_sweep(0, 4),
            ValueError,
            r"d_k must be an integer in \[1, 65536\], got 0",
        ),
        (lambda: capacity_sweep([16, -2], 4), ValueError, r"d_k must be .* got -2"),
        (lambda: capacity_sweep(16, 0), ValueError, r"n_items must be .* got 0"),
        (lambda: capacity_sweep(16, []), ValueError, "n_items must be a positive integer"),
        (lambda: capacity_sweep(16, 4, trials=0), ValueError, "trials must"),
        (lambda: capacity_sweep(16, 4.5), TypeError, "n_items must be an integer"),
        (lambda: capacity_sweep(16, 4, keys="sparse"), ValueError, "keys must be one of"),
        (lambda: capacity_sweep(16, 4, criterion="top5"), ValueError, "criterion must be one of"),
        (lambda: capacity_sweep(16, 4, rule="oja"), ValueError, "rule must be one of"),
        (
            lambda: capacity_sweep(16, 4, rule="delta", beta=1.5),
            ValueError,
            r"beta must be in \[0, 1\]",
        ),
        (lambda: capacity_sweep(16, 4, d_v=0), ValueError, "d_v must"),
        (lambda: AssociativeMemory(0, 4), ValueError, "d_k must"),
        (
            lambda: AssociativeMemory(4, 4, "delta", beta=-0.5),
            ValueError,
            r"beta must be in \[0, 1\], got -0.5",
        ),
        (lambda: AssociativeMemory(4, 4, alpha=float("nan")), ValueError, "alpha must be finite"),
        (lambda: AssociativeMemory(4, 4, "hopfield"), ValueError, "rule must be one of"),
        (
            lambda: AssociativeMemory(4, 2).write(torch.ones(3, 4), torch.ones(2, 2)),
            ValueError,
            "3 keys and 2 values",
        ),
        (
            lambda: AssociativeMemory(4, 2).write(torch.ones(5), torch.ones(2)),
            ValueError,
            r"keys must have shape .* d_k=4, got \(1, 5\)",
        ),
        (
            lambda: AssociativeMemory(4, 2).write(torch.full((4,), float("inf")), torch.ones(2)),
            ValueError,
            "keys must contain only finite",
        ),
        (
            lambda: AssociativeMemory(4, 2).read(torch.ones(3)),
            ValueError,
            "queries must have shape",
        ),
        (
            lambda: write_all(torch.ones(3, 4), torch.ones(3, 2), "delta", beta=[0.5, 2.0, 0.5]),
            ValueError,
            r"beta must be in \[0, 1\] at every write, got 2",
        ),
        (
            lambda: write_all(torch.ones(3, 4), torch.ones(3, 2), alpha=[0.5, 0.5]),
            ValueError,
            r"alpha must be a number or one value per write, shape \(3,\)",
        ),
        (
            lambda: write_all(torch.ones(3, 4), torch.ones(3, 2), alpha=[0.5, float("nan"), 1.0]),
            ValueError,
            "alpha must contain only finite",
        ),
        (
            lambda: write_all(torch.ones(4), torch.ones(2)),
            ValueError,
            "keys and values must be 2-D",
        ),
        (lambda: depth_head_error(0, 1, 4, 8), ValueError, "n_layers must"),
        (lambda: depth_head_error(2, 0, 4, 8), ValueError, "n_heads must"),
        (lambda: depth_head_error(2, 1, 0, 8), ValueError, "n_items must"),
        (lambda: depth_head_error(2, 1, 4, -8), ValueError, "d_k must"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# --- aligned values: what a guarantee must bound ------------------------------------------


def test_aligned_error_matches_its_prediction_and_grows_as_n_squared_over_d_k():
    result = capacity_sweep([16, 64, 256], [5, 10, 40], trials=200, criterion="aligned")
    np.testing.assert_allclose(result.measured, result.predicted_aligned, rtol=0.08)
    # quadrupling N multiplies it by about 16 (N² / d_k), not by 4 as the average error does
    ratio = result.measured[:, 2] / result.measured[:, 1]
    assert np.all((ratio > 14) & (ratio < 20))


def test_guaranteed_capacity_grows_as_sqrt_d_k_average_capacity_as_d_k():
    def capacity(d_k, criterion):
        sizes = np.arange(1, 140)
        error = capacity_sweep(d_k, sizes, trials=30, criterion=criterion).measured[0]
        return int(sizes[error <= 0.1].max())

    aligned = [capacity(d, "aligned") for d in (64, 1024)]
    average = [capacity(d, "mse") for d in (64, 1024)]
    assert 3 <= aligned[1] / aligned[0] <= 5  # 16× d_k: about 4× (√16) the items
    assert 12 <= average[1] / average[0] <= 20  # about 16×
    assert aligned[1] < average[1] / 4


def test_random_pairs_are_seeded_unit_vectors():
    keys, values = random_pairs(10, 6, 3, seed=4)
    assert keys.shape == (10, 6) and values.shape == (10, 3) and keys.dtype == torch.float64
    np.testing.assert_allclose(keys.norm(dim=-1), 1.0)
    np.testing.assert_allclose(values.norm(dim=-1), 1.0)
    assert torch.equal(random_pairs(10, 6, 3, seed=4)[1], values)
    assert not torch.equal(random_pairs(10, 6, 3, seed=5)[0], keys)
    with pytest.raises(ValueError, match="n_items must be an integer in"):
        random_pairs(0, 6)


def test_retrieval_errors_read_every_item_from_every_state():
    keys, values = random_pairs(12, 8, seed=0)
    states = write_all(keys, values, "delta", beta=1.0)  # (13, 8, 8)
    errors = retrieval_errors(states, keys, values)  # (13, 12)
    assert errors.shape == (13, 12)
    for t in (0, 5, 12):
        memory = AssociativeMemory(8, 8, "delta", beta=1.0)
        if t:
            memory.write(keys[:t], values[:t])
        expected = torch.linalg.vector_norm(memory.read(keys) - values, dim=-1)
        np.testing.assert_allclose(errors[t], expected, atol=1e-12)
    assert errors[12, 11] < 1e-12  # the delta rule returns the newest item exactly
    with pytest.raises(ValueError, match="do not match keys"):
        retrieval_errors(states, keys[:, :4], values)


def test_the_mean_error_of_the_items_written_grows_as_a_hebbian_memory_fills():
    d_k = 8
    keys, values = random_pairs(48, d_k, seed=0)
    errors = retrieval_errors(write_all(keys, values, "hebbian"), keys, values)  # (49, 48)
    mean = mean_error_of_items_written(errors)  # (48,)
    assert mean.shape == (48,) and mean[0] < 1e-12  # one item: no crosstalk
    for t in (1, d_k, 48):
        memory = AssociativeMemory(d_k, d_k).write(keys[:t], values[:t])
        read = torch.linalg.vector_norm(memory.read(keys[:t]) - values[:t], dim=-1)
        assert mean[t - 1] == pytest.approx(read.mean().item(), abs=1e-12)
    # the crosstalk ‖S k_i − v_i‖² averages (t − 1)/d_k: far past d_k the error passes 1
    assert mean[d_k - 1] < 1 < mean[-1] and mean[-1] > 2 * mean[d_k - 1]
    np.testing.assert_array_equal(mean_error_of_items_written(errors.numpy()), mean)
    with pytest.raises(ValueError, match=r"errors must have shape \(N \+ 1, N\).*got \(48, 48\)"):
        mean_error_of_items_written(errors[1:])
    with pytest.raises(ValueError, match="errors must be 2-dimensional"):
        mean_error_of_items_written(errors[0])


# ------------------------------------------------------------------ the argument promise


def test_capacity_sweep_refuses_trials_past_the_work_limit():
    with pytest.raises(ValueError, match=r"trials must be an integer in \[1, 100000\]"):
        capacity_sweep(16, 4, trials=10**12)
    with pytest.raises(ValueError, match=r"MAX_SWEEP_WORK.*use trials <="):
        capacity_sweep([512, 1024], [4096], trials=1000, rule="delta")


def test_depth_head_error_refuses_past_the_work_limit():
    with pytest.raises(ValueError, match="MAX_DEPTH_WORK"):
        depth_head_error(1024, 64, 1024, 256, trials=1000)


def test_random_pairs_refuses_pairs_past_the_memory_budget():
    from attnviz.memory import random_pairs
    from attnviz.memory_budget import memory_budget_of

    with memory_budget_of("64MB"), pytest.raises(ValueError, match="random_pairs.*fewer items"):
        random_pairs(65_536, 1024)


# --- coherence: the guarantee from the keys' largest overlap ------------------------------


def test_coherence_bounds_every_items_error_for_random_and_aligned_values():
    sizes = [2, 5, 10, 40]
    kwargs = dict(trials=40, seed=3)
    bound = capacity_sweep(64, sizes, criterion="coherence", **kwargs).measured[0]
    worst = capacity_sweep(64, sizes, criterion="worst", **kwargs).measured[0]
    aligned = capacity_sweep(64, sizes, criterion="aligned", **kwargs).measured[0]
    # the same keys (one seed): the bound holds trial by trial, so on the means too; with
    # two items it is exact (one overlap, one crosstalk term): equal up to float32 rounding
    assert np.all(bound >= worst * (1 - 1e-5)) and np.all(bound >= aligned * (1 - 1e-5))
    np.testing.assert_allclose(bound[0], worst[0], rtol=1e-5)
    assert np.all(np.diff(bound) > 0)


def test_coherence_capacity_grows_slower_than_sqrt_d_k():
    def capacity(d_k):
        sizes = np.arange(1, 80)
        error = capacity_sweep(d_k, sizes, trials=30, criterion="coherence").measured[0]
        return int(sizes[error <= 1.0].max())

    small, large = capacity(64), capacity(4096)
    # 64× d_k: √64 = 8× the items at fixed ln N; the largest overlap grows with N, so fewer
    assert 4 <= large / small < 8
    result = capacity_sweep([64, 256], [10, 40], trials=100, criterion="coherence")
    # the extreme-value estimate (N − 1)² · 4 ln N / d_k is the right size, a little high
    assert np.all(result.measured < result.predicted_coherence)
    assert np.all(result.measured > 0.5 * result.predicted_coherence)
