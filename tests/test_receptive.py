"""receptive: exact reach of a mask across layers, and the lesson 04 claims."""

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from attnviz.receptive import (
    MAX_DISTANCE_TOKENS,
    MAX_EXACT_TOKENS,
    MAX_LAYERS,
    NEVER,
    ReceptiveField,
    receptive_field,
)


@dataclass
class StandIn:
    """The MaskPattern interface of attnviz.kernels.masks, for tests that must not wait."""

    name: str
    allowed: object  # (q, k) -> bool, vectorised over numpy index grids
    offsets: tuple | None = None
    causal: bool = True
    params: dict = field(default_factory=dict)

    def mask_mod(self, b, h, q_idx, kv_idx):
        return self.allowed(q_idx, kv_idx)

    def dense(self, seq_len):
        q, k = np.indices((seq_len, seq_len))
        return np.asarray(self.allowed(q, k), dtype=bool)

    def distances(self, seq_len):
        if self.offsets is None:
            return None
        return np.array([d for d in self.offsets if d < seq_len], dtype=np.int64)


def causal_from_distances(distances, seq_len):
    allowed = np.zeros(seq_len, bool)
    allowed[0] = True
    allowed[[d for d in distances if d < seq_len]] = True
    q, k = np.indices((seq_len, seq_len))
    return (q >= k) & allowed[np.maximum(q - k, 0)]


def naive_first_layer(mask, n_layers):
    """First layer by repeated boolean matrix products: the definition."""
    t = mask.shape[0]
    step = (mask | np.eye(t, dtype=bool)).astype(np.int64)
    reach = np.eye(t, dtype=bool)
    first = np.where(reach, 0, NEVER)
    for layer in range(1, n_layers + 1):
        grown = (step @ reach.astype(np.int64)) > 0
        first[grown & ~reach] = layer
        reach = grown
    return first


def power_distances(seq_len):
    return [1 << k for k in range(seq_len.bit_length()) if 1 << k < seq_len]


def popcount(n):
    return bin(n).count("1")


# ------------------------------------------------------------------ exactness


@pytest.mark.parametrize("seed", range(12))
def test_bitsets_equal_boolean_matrix_powers_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    t = int(rng.integers(1, 150))
    mask = rng.random((t, t)) < rng.uniform(0.0, 0.08)
    if seed % 2:
        mask = np.tril(mask)
    n_layers = int(rng.integers(1, 7))
    ref = naive_first_layer(mask, n_layers)
    field_ = receptive_field(mask, t, n_layers, full=True)
    np.testing.assert_array_equal(field_.first_layer, ref)
    assert field_.causal == (not np.triu(mask, 1).any())
    np.testing.assert_array_equal(field_.last_row, ref[-1])
    reached = [int(((ref != NEVER) & (ref <= layer)).sum()) for layer in range(n_layers + 1)]
    np.testing.assert_array_equal(field_.reached, reached)
    lean = receptive_field(mask, t, n_layers, full=False)
    np.testing.assert_array_equal(lean.reached, field_.reached)
    np.testing.assert_array_equal(lean.last_row, ref[-1])


def test_word_boundaries_and_many_word_blocks_are_exact():
    rng = np.random.default_rng(7)
    for t in (63, 64, 65, 127, 129, 1100):
        mask = np.tril(rng.random((t, t)) < 3.0 / t)
        np.testing.assert_array_equal(
            receptive_field(mask, t, 4, full=True).first_layer, naive_first_layer(mask, 4)
        )


def _mask_zoo(rng, t):
    """Small masks of many shapes: sparse random (causal or not), windows and bands, blocks,
    dilated rows, random-sparse with the previous token, dense, empty."""
    q, k = np.indices((t, t))
    w = int(rng.integers(1, max(2, t // 3) + 1))
    blocks = rng.random((t // 8 + 1, t // 8 + 1)) < 0.3
    picks = np.zeros((t, t), bool)
    picks[
        np.repeat(np.arange(t), 3),
        (rng.random((t, 3)) * (np.arange(t)[:, None] + 1)).astype(int).ravel(),
    ] = True
    return {
        "random": rng.random((t, t)) < rng.uniform(0.0, 0.15),
        "random causal": np.tril(rng.random((t, t)) < rng.uniform(0.0, 0.15)),
        "window": (q >= k) & (q - k < w),
        "band": np.abs(q - k) < w,
        "blocks": blocks[q // 8, k // 8] & (rng.random() < 0.5 or q >= k),
        "dilated": (q >= k) & (q - k < 3 * w) & ((q - k) % 3 == 0),
        "previous + random": picks | (q - k == 1),
        "dense": np.ones((t, t), bool),
        "empty": np.zeros((t, t), bool),
    }


@pytest.mark.parametrize("seed", range(6))
def test_bitsets_equal_boolean_matrix_powers_on_many_mask_shapes(seed):
    rng = np.random.default_rng(1000 + seed)
    for t in (1, 2, 7, 64, 65, int(rng.integers(66, 200))):
        for name, mask in _mask_zoo(rng, t).items():
            n_layers = int(rng.integers(1, 9))
            ref = naive_first_layer(mask, n_layers)
            field_ = receptive_field(mask, t, n_layers, full=True)
            np.testing.assert_array_equal(field_.first_layer, ref, err_msg=f"{name}, {t}")
            assert field_.causal == (not np.triu(mask, 1).any()), name
            reached = [int(((ref != NEVER) & (ref <= n)).sum()) for n in range(n_layers + 1)]
            np.testing.assert_array_equal(field_.reached, reached, err_msg=name)
            lean = receptive_field(mask, t, n_layers, full=False)
            assert lean.matrix is None
            np.testing.assert_array_equal(lean.reached, field_.reached, err_msg=name)
            np.testing.assert_array_equal(lean.last_row, ref[-1], err_msg=name)


def test_more_than_127_layers_use_a_wider_first_layer_matrix():
    t = 300
    chain = np.eye(t, k=-1, dtype=bool)  # previous token only: key k reaches q at q - k
    chain[100, 37] = True  # and one long edge
    field_ = receptive_field(chain, t, 200, full=True)
    ref = naive_first_layer(chain, 200)
    assert field_.first_layer.dtype == np.int16 and ref.max() == 200
    np.testing.assert_array_equal(field_.first_layer, ref)
    np.testing.assert_array_equal(receptive_field(chain, t, 200, full=False).last_row, ref[-1])


@pytest.mark.parametrize("seed", range(8))
def test_distance_arithmetic_equals_bitsets(seed):
    rng = np.random.default_rng(100 + seed)
    t = int(rng.integers(2, 400))
    distances = rng.choice(np.arange(1, t), size=int(rng.integers(0, 8)))
    if seed % 3 == 0:  # runs of consecutive distances, and many of them (the FFT sweep)
        distances = np.r_[distances, np.arange(3, 3 + int(rng.integers(1, 30)))]
    if seed % 4 == 1:
        distances = np.r_[distances, rng.choice(np.arange(1, t), size=min(t - 1, 80))]
    n_layers = int(rng.integers(1, 9))
    by_distance = receptive_field(distances, t, n_layers)
    by_bits = receptive_field(distances, t, n_layers, method="bitset")
    assert by_distance.method == "distances" and by_bits.method == "bitset"
    np.testing.assert_array_equal(by_distance.first_layer, by_bits.first_layer)
    np.testing.assert_array_equal(by_distance.reached, by_bits.reached)
    np.testing.assert_array_equal(by_distance.last_row, by_bits.last_row)


def test_patterns_with_both_forms_agree_and_inputs_are_interchangeable():
    t = 300
    pattern = StandIn("power", lambda q, k: (q >= k) & _is_power(q - k), power_distances(t))
    fast = receptive_field(pattern, t, 6)
    slow = receptive_field(pattern, t, 6, method="bitset")
    dense = receptive_field(pattern.dense(t), t, 6)
    torch_dense = receptive_field(torch.from_numpy(pattern.dense(t)), t, 6)
    listed = receptive_field(power_distances(t), t, 6)
    assert fast.method == "distances" and slow.method == dense.method == "bitset"
    for other in (slow, dense, torch_dense, listed):
        np.testing.assert_array_equal(fast.first_layer, other.first_layer)
        np.testing.assert_array_equal(fast.coverage, other.coverage)


def _is_power(d):
    d = np.asarray(d)
    return (d == 0) | ((d > 0) & ((d & (d - 1)) == 0))


# ---------------------------------------------------------------- lesson claims


def test_power_attention_reaches_every_distance_below_2_to_the_d_within_d_layers():
    t = 1 << 12
    field_ = receptive_field(StandIn("power", None, power_distances(t)), t, 12)
    first = field_.by_distance
    for d in range(1, 13):
        assert (first[: 1 << d] <= d).all() and (first[: 1 << d] != NEVER).all()
    # exactly: distance n needs popcount(n) hops (Theorem B.1)
    np.testing.assert_array_equal(first, [popcount(n) for n in range(t)])
    assert field_.layers_to_full_coverage == 12 and field_.holes.size == 0


def test_sliding_window_reach_grows_by_w_minus_1_per_layer():
    # causal window of w: query i reads i - w + 1 .. i (distances 0 .. w - 1)
    t, w = 2000, 16
    field_ = receptive_field(list(range(1, w)), t, 10)
    for d in range(1, 11):
        reach = field_.reach_of_last(d)
        assert t - 1 - reach.min() == d * (w - 1)  # farthest key: exactly d (w - 1) back
        assert reach.size == d * (w - 1) + 1  # and everything in between
    assert field_.gaps.size == 0  # it only has not grown far enough
    assert field_.layers_to_full_coverage is None


def test_dilated_attention_never_reaches_odd_distances():
    t = 512
    field_ = receptive_field(list(range(2, 64, 2)), t, 40)
    first = field_.by_distance
    assert (first[1::2] == NEVER).all() and (first[::2] != NEVER).all()
    assert field_.layers_to_full_coverage is None
    assert abs(field_.coverage[-1] - 0.5) < 0.01
    np.testing.assert_array_equal(field_.holes, np.arange(0, t - 1, 2))  # odd distances back


def _longnet_like(t, segments=((8, 1), (16, 2), (32, 4))):
    """LongNet by hand: for each (segment w, dilation r), a query reads the keys of its own
    segment whose offset in the segment is a multiple of r (and is causal)."""
    q, k = np.indices((t, t))
    mask = np.zeros((t, t), bool)
    for w, r in segments:
        mask |= (q // w == k // w) & ((k % w) % r == 0)
    return mask & (q >= k)


def test_longnet_like_block_patterns_leave_holes():
    t = 128
    mask = _longnet_like(t)
    field_ = receptive_field(mask, t, 32, full=True)
    assert field_.layers_to_full_coverage is None and field_.n_unreachable > 0
    assert field_.gaps.size > 0  # keys skipped between keys the last query does reach
    # PAPERS.md §3: the last token of each earlier 8-segment of the last query's 32-segment
    assert {103, 111, 119} <= set(field_.gaps.tolist())
    assert field_.holes.max() < 127 and 96 in field_.reach_of_last(32)
    np.testing.assert_array_equal(field_.first_layer, naive_first_layer(mask, 32))


def test_power_attention_theoretical_accuracy_example_sliding_window_128_blocks():
    # PowerAttention App. A: sliding window of 9 blocks + 1 sink block over 128 blocks:
    # B_1 = {1, 120 .. 128}, so α̂_1 = 10 / 128
    n = 128
    q, k = np.indices((n, n))
    blocks = (q >= k) & ((q - k < 9) | (k == 0))
    field_ = receptive_field(blocks, n, 20)
    assert field_.theoretical_accuracy(1) == 10 / 128
    np.testing.assert_array_equal(field_.reach_of_last(1), [0, *range(119, 128)])
    alpha = field_.theoretical_accuracy()
    assert alpha[0] == 1 / 128 and alpha[2] == 18 / 128 and np.all(np.diff(alpha) >= 0)
    # the same figure from the token-level mask (4 tokens a block, the last token asking)
    b = 4
    tq, tk = np.indices((n * b, n * b))
    tokens = (tq >= tk) & blocks[tq // b, tk // b]
    assert receptive_field(tokens, n * b, 3).theoretical_accuracy(1) == 10 / 128


# ------------------------------------------------------------------ derived figures


def test_coverage_and_derived_figures_on_a_tiny_window():
    field_ = receptive_field([1], 4, 5)  # previous token only
    assert isinstance(field_, ReceptiveField) and field_.n_pairs == 10
    np.testing.assert_allclose(field_.coverage, [0.4, 0.7, 0.9, 1.0, 1.0, 1.0])
    assert field_.layers_to_full_coverage == 3 and field_.n_unreachable == 0
    expected = np.array([[0, -1, -1, -1], [1, 0, -1, -1], [2, 1, 0, -1], [3, 2, 1, 0]])
    np.testing.assert_array_equal(field_.first_layer, expected)
    np.testing.assert_array_equal(field_.last_row, [3, 2, 1, 0])
    assert field_.holes.size == 0
    # a non-causal mask counts all T * T pairs
    both = np.eye(4, k=1, dtype=bool) | np.eye(4, k=-1, dtype=bool)
    two_way = receptive_field(both, 4, 3)
    assert not two_way.causal and two_way.n_pairs == 16 and two_way.layers_to_full_coverage == 3


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_first_layer_overview_reduces_tiles_the_same_way_for_both_paths(reduce):
    t = 200
    dist = [1, 5, 17]
    fast = receptive_field(dist, t, 6)
    slow = receptive_field(dist, t, 6, method="bitset")
    for size in (200, 50, 7):
        np.testing.assert_array_equal(
            fast.first_layer_overview(size, reduce), slow.first_layer_overview(size, reduce)
        )
    assert fast.first_layer_overview(7, reduce).shape == (7, 7)
    np.testing.assert_array_equal(fast.first_layer_overview(t, reduce), fast.first_layer)


def test_the_last_row_overview_shows_each_cells_earliest_layer_and_never_where_none_reaches():
    t = 1_000  # 7 cells of 143 keys, the last of 142: a padded tail
    field_ = receptive_field([2, 4, 64], t, 3)  # even distances: a hole at every other key
    row = field_.last_row
    strip = field_.last_row_overview(7)
    assert strip.shape == (7,)
    for cell, keys in enumerate(np.array_split(np.arange(t), np.arange(143, t, 143))):
        reached = row[keys][row[keys] != NEVER]
        assert strip[cell] == (reached.min() if reached.size else NEVER)
    assert (row[::2] == NEVER).all()  # odd distances from query 999: holes in every cell
    assert strip[-2] != NEVER  # the holes of a cell do not hide the keys it reaches
    assert strip[-1] == 0 and strip[0] == NEVER  # the query itself; three hops of 64 or less
    # a strip as long as the row is the row itself; one cell is the earliest layer anywhere
    np.testing.assert_array_equal(field_.last_row_overview(t), row)
    np.testing.assert_array_equal(field_.last_row_overview(), row)  # 4,096 cells hold it all
    assert field_.last_row_overview(1).tolist() == [0]  # the last query reaches itself at 0


def test_reach_still_grows_until_a_layer_adds_nothing():
    window = receptive_field(list(range(1, 8)), 512, 4)  # a window of 8 keys: 7 more a layer
    assert window.still_growing and window.layers_to_full_coverage is None
    dilated = receptive_field([2, 4], 64, 40)  # odd distances are never reached
    assert not dilated.still_growing and dilated.layers_to_full_coverage is None
    assert dilated.reached[-1] == dilated.reached[-2]
    assert not receptive_field([1], 4, 5).still_growing  # full after 3 layers, then nothing new


def test_long_offset_patterns_keep_a_compact_profile():
    t = 1 << 20
    field_ = receptive_field(power_distances(t), t, 32)
    assert field_.layers_to_full_coverage == 20 and field_.by_distance.shape == (t,)
    assert field_.first_layer_overview(64).shape == (64, 64)
    with pytest.raises(ValueError, match="seq_len must be at most"):
        _ = field_.first_layer


# ---------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    mask = np.tril(np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="seq_len"):
        receptive_field(mask, 0, 2)
    with pytest.raises(TypeError, match="seq_len"):
        receptive_field(mask, 8.0, 2)
    with pytest.raises(ValueError, match="n_layers"):
        receptive_field(mask, 8, 0)
    with pytest.raises(ValueError, match="n_layers"):
        receptive_field(mask, 8, MAX_LAYERS + 1)
    with pytest.raises(ValueError, match="seq_len must be at most"):
        receptive_field(np.zeros((1, 1), bool), MAX_EXACT_TOKENS + 1, 2)
    with pytest.raises(ValueError, match="seq_len must be at most"):
        receptive_field([1, 2], MAX_DISTANCE_TOKENS + 1, 2)
    with pytest.raises(ValueError, match="mask must have shape"):
        receptive_field(mask, 9, 2)
    with pytest.raises(TypeError, match="mask must be a boolean"):
        receptive_field(mask.astype(np.float32), 8, 2)
    with pytest.raises(TypeError, match="mask must be integer distances"):
        receptive_field([0.5, 2], 8, 2)
    with pytest.raises(ValueError, match="mask must hold distances >= 0"):
        receptive_field([-1, 2], 8, 2)
    with pytest.raises(TypeError, match="mask must be"):
        receptive_field("causal", 8, 2)
    with pytest.raises(ValueError, match="mask must be"):
        receptive_field(np.zeros((2, 2, 2), bool), 2, 2)
    bad = StandIn("bad", lambda q, k: (q >= k).astype(np.int8))
    bad.dense = lambda seq_len: np.ones((seq_len, seq_len), np.int8)
    with pytest.raises(TypeError, match=r"mask.dense\(seq_len\) must be a boolean"):
        receptive_field(bad, 8, 2)
    with pytest.raises(ValueError, match="method"):
        receptive_field(mask, 8, 2, method="bfs")
    with pytest.raises(ValueError, match="needs"):
        receptive_field(mask, 8, 2, method="distances")
    with pytest.raises(ValueError, match="layers"):
        receptive_field(mask, 8, 2).theoretical_accuracy(3)
    with pytest.raises(ValueError, match=r"size must be an integer in \[1, 16777216\], got 0"):
        receptive_field(mask, 8, 2).last_row_overview(0)
    with pytest.raises(TypeError, match="size must be an integer, got 2.5"):
        receptive_field(mask, 8, 2).last_row_overview(2.5)


def test_the_mask_zoo_patterns_give_the_same_reach_both_ways():
    masks = pytest.importorskip("attnviz.kernels.masks")
    t = 300
    power = masks.power_attention(block_size=1)
    hops = max(popcount(n) for n in range(t))  # 8, for 255
    assert receptive_field(power, t, 9).layers_to_full_coverage == hops
    assert receptive_field(masks.dilated(16, 2), t, 40).by_distance[1::2].max() == NEVER
    assert receptive_field(masks.longnet(), t, 40).gaps.size > 0
    for pattern in (power, masks.sliding_window(8), masks.dilated(16, 2), masks.strided(8)):
        fast = receptive_field(pattern, t, 6)
        assert fast.method == "distances"
        slow = receptive_field(pattern, t, 6, method="bitset")
        np.testing.assert_array_equal(fast.first_layer, slow.first_layer)
        np.testing.assert_array_equal(fast.reached, slow.reached)


# ------------------------------------------------------------------- the work limits


def test_a_distance_sweep_past_the_work_limit_is_refused_up_front():
    import time

    from attnviz.kernels.masks import make_mask

    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"n_layers=16,384 .*MAX_DISTANCE_WORK.*n_layers <= 512"):
        receptive_field(make_mask("sliding_window", window=4), MAX_DISTANCE_TOKENS, MAX_LAYERS)
    assert time.perf_counter() - start < 2


def test_a_bitset_sweep_past_the_work_limit_is_refused_with_the_layers_that_fit(monkeypatch):
    import attnviz.receptive

    monkeypatch.setattr(attnviz.receptive, "MAX_BITSET_WORK", 256 * 4 * 50)  # 50 layers
    mask = np.zeros((256, 256), bool)  # a chain: key q - 1 only, so it grows every layer
    mask[np.arange(1, 256), np.arange(255)] = True
    assert receptive_field(mask, 256, 50).n_layers == 50
    with pytest.raises(ValueError, match=r"n_layers=300 .*MAX_BITSET_WORK.*n_layers <= 50"):
        receptive_field(mask, 256, 300)


def test_a_reach_overview_past_the_memory_budget_is_refused():
    from attnviz.memory_budget import memory_budget_of

    field = receptive_field([1], 1 << 16, 1)
    with memory_budget_of("64MB"), pytest.raises(ValueError, match="size=65,536.*smaller size"):
        field.first_layer_overview(1 << 16)
    assert field.first_layer_overview(512).shape == (512, 512)
