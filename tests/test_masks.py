"""kernels.masks: every sparse pattern agrees with itself (dense, mask_mod, distances,
FlexAttention's block mask) and with the papers' definitions on hand-checked cases."""

import warnings

import numpy as np
import pytest
import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

from attnviz.kernels import masks
from attnviz.kernels.masks import (
    MAX_DENSE_LEN,
    PATTERNS,
    MaskPattern,
    check_mask_mod,
    make_mask,
)


def _user_pattern():
    def every_third(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & ((q_idx - kv_idx) % 3 == 0)

    return MaskPattern.from_mask_mod("every_third", every_third, causal=True)


CASES = {
    **{name: (name, {}) for name in PATTERNS},
    "sliding_sink": ("sliding_window", {"window": 9, "sink_tokens": 2}),
    "dilated_paper": ("dilated", {"window": 20, "rate": 2}),
    "fixed_c3": ("fixed", {"block": 8, "c": 3}),
    "longformer_no_global": ("longformer", {"window": 5, "global_tokens": 0}),
    "bigbird_big": ("bigbird", {"window": 4, "global_tokens": 2, "random_keys": 5, "seed": 7}),
    "longnet_paper": ("longnet", {"segment_lengths": (8, 16, 32), "dilations": (1, 2, 4)}),
    "stride_slash_no_sink": ("stride_slash", {"window": 3, "stride": 5, "sink_tokens": 0}),
    "power_paper": ("power_attention", {"block_size": 4, "window_blocks": 5, "sink_block": True}),
    "power_window": ("power_attention", {"block_size": 1, "window_blocks": 6}),
}


def _build(case):
    if case == "user":
        return _user_pattern()
    if case == "blocked_power":
        return make_mask("power_attention", window_blocks=3, sink_block=True).blocked(8)
    name, params = CASES[case]
    return make_mask(name, **params)


ALL = [*CASES, "user", "blocked_power"]


def _from_distances(distances, n):
    out = np.zeros((n, n), dtype=bool)
    i = np.arange(n)
    for d in distances:
        out[i[d:], i[d:] - d] = True
    return out


@pytest.mark.parametrize("case", ALL)
def test_dense_is_the_mask_mod_on_a_grid(case):
    pattern = _build(case)
    for n in (1, 7, 67):
        dense = pattern.dense(n)
        assert dense.shape == (n, n) and dense.dtype == bool
        grid = check_mask_mod(pattern.mask_mod, n).numpy()
        np.testing.assert_array_equal(dense, grid)
    # dense runs in row chunks; a prefix of a long matrix is the short matrix
    np.testing.assert_array_equal(pattern.dense(300)[:67, :67], pattern.dense(67))


@pytest.mark.parametrize("case", ALL)
def test_causal_patterns_never_see_the_future_and_always_see_themselves(case):
    pattern = _build(case)
    dense = pattern.dense(100)
    assert pattern.causal == (case != "full")
    if pattern.causal:
        assert not np.triu(dense, 1).any()
    assert dense.diagonal().all()


@pytest.mark.parametrize("case", ALL)
def test_distances_reproduce_dense(case):
    pattern = _build(case)
    for n in (1, 2, 33, 100):
        distances = pattern.distances(n)
        if distances is None:
            continue
        assert distances.dtype == np.int64
        assert np.all(np.diff(distances) > 0) and distances[0] == 0 and distances[-1] < n
        np.testing.assert_array_equal(_from_distances(distances, n), pattern.dense(n))


def test_which_patterns_are_offset_defined():
    offset = {
        name for name in PATTERNS if make_mask(name, **CASES[name][1]).distances(8) is not None
    }
    assert offset == {"causal", "sliding_window", "dilated", "strided", "power_attention"}
    assert make_mask("stride_slash", sink_tokens=0).distances(8) is not None
    assert make_mask("longformer", global_tokens=0).distances(8) is not None
    assert make_mask("sliding_window", sink_tokens=1).distances(8) is None
    assert make_mask("power_attention", block_size=2).distances(8) is None
    assert make_mask("power_attention", sink_block=True).distances(8) is None


@pytest.mark.parametrize("case", ALL)
def test_flex_attention_block_mask_agrees_with_dense(case):
    pattern = _build(case)
    n, block = 128, 16
    dense = pattern.dense(n)
    block_mask = create_block_mask(
        pattern.mask_mod, B=None, H=None, Q_LEN=n, KV_LEN=n, device="cpu", BLOCK_SIZE=block
    )
    # which blocks FlexAttention visits = the blocks holding any True
    blocks = block_mask.to_dense()[0, 0].numpy().astype(bool)
    expected = dense.reshape(n // block, block, n // block, block).any(axis=(1, 3))
    np.testing.assert_array_equal(blocks, expected)
    # and attention through it equals attention with the dense boolean mask
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, n, 8, generator=g) for _ in range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager flex_attention on CPU warns it is slow
        out = flex_attention(q, k, v, block_mask=block_mask)
    ref = torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=torch.from_numpy(dense)
    )
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_block_mask_helper():
    block_mask = make_mask("sliding_window", window=16).block_mask(64, block_size=16)
    np.testing.assert_array_equal(
        block_mask.to_dense()[0, 0].numpy(),
        [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]],
    )


# --- PowerAttention, Algorithm 1 -------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 9, 64, 100, 1 << 20])
def test_power_attention_token_level_distances_are_zero_and_powers_of_two(n):
    expected = {0} | {2**k for k in range(40) if 2**k < n}
    assert set(make_mask("power_attention").distances(n).tolist()) == expected


def test_power_attention_token_level_dense_hand_checked():
    dense = make_mask("power_attention").dense(9)
    assert np.flatnonzero(dense[8]).tolist() == [0, 4, 6, 7, 8]  # distances 8, 4, 2, 1, 0
    assert np.flatnonzero(dense[7]).tolist() == [3, 5, 6, 7]  # 4, 2, 1, 0
    assert np.flatnonzero(dense[6]).tolist() == [2, 4, 5, 6]


def test_power_attention_is_algorithm_1_literally():
    b, w, n = 4, 3, 96
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    blk = i // b - j // b
    for sink in (False, True):
        expected = (i >= j) & ((sink & (j < b)) | (blk < w) | ((blk & (blk - 1)) == 0))
        got = make_mask("power_attention", block_size=b, window_blocks=w, sink_block=sink)
        np.testing.assert_array_equal(got.dense(n), expected)


@pytest.mark.parametrize("sink", [False, True])
def test_power_attention_blocks_are_the_token_pattern_lifted(sink):
    token = make_mask("power_attention", window_blocks=5, sink_block=sink)
    for b in (2, 3, 8):
        lifted = token.blocked(b).dense(100)
        direct = make_mask("power_attention", block_size=b, window_blocks=5, sink_block=sink)
        np.testing.assert_array_equal(lifted, direct.dense(100))


def test_paper_budget_ten_blocks_per_query_at_128_blocks():
    # PAPERS.md §3: each query sees 10 blocks; these are block-level patterns.
    last = {
        "power": make_mask("power_attention", window_blocks=5, sink_block=True),
        "sliding": make_mask("sliding_window", window=9, sink_tokens=1),
        "dilated": make_mask("dilated", window=20, rate=2),
    }
    seen = {name: np.flatnonzero(p.dense(128)[127]).tolist() for name, p in last.items()}
    assert seen["power"] == [0, 63, 95, 111, 119, 123, 124, 125, 126, 127]
    # the theoretical-accuracy example: B_1 = {1, 120..128} (1-based), 10/128
    assert seen["sliding"] == [0, *range(119, 128)]
    assert seen["dilated"] == list(range(109, 128, 2))


# --- hand-checked small matrices -------------------------------------------------------


def test_sliding_window_3_on_6_tokens():
    expected = np.array(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [0, 1, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 0],
            [0, 0, 0, 1, 1, 1],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(make_mask("sliding_window", window=3).dense(6), expected)


def test_full_and_causal():
    assert make_mask("full").dense(5).all()
    np.testing.assert_array_equal(make_mask("causal").dense(5), np.tri(5, dtype=bool))


def test_dilated_skips_odd_distances():
    dense = make_mask("dilated", window=5, rate=2).dense(8)
    assert np.flatnonzero(dense[7]).tolist() == [3, 5, 7]  # distances 4, 2, 0
    assert not any(np.diagonal(dense, -d).any() for d in (1, 3, 5, 7))


def test_sparse_transformer_strided_and_fixed():
    # Child et al. 2019, §4.2: strided = previous l keys + every l-th key back
    strided = make_mask("strided", stride=3).dense(10)
    assert np.flatnonzero(strided[9]).tolist() == [0, 3, 6, 7, 8, 9]
    # fixed: own block + the last c positions of every block
    fixed = make_mask("fixed", block=3, c=1).dense(9)
    assert np.flatnonzero(fixed[4]).tolist() == [2, 3, 4]
    assert np.flatnonzero(fixed[8]).tolist() == [2, 5, 6, 7, 8]
    fixed2 = make_mask("fixed", block=4, c=2).dense(12)
    assert np.flatnonzero(fixed2[9]).tolist() == [2, 3, 6, 7, 8, 9]


def test_longformer_and_stride_slash():
    lf = make_mask("longformer", window=2, global_tokens=2).dense(8)
    assert np.flatnonzero(lf[7]).tolist() == [0, 1, 6, 7]
    assert np.flatnonzero(lf[1]).tolist() == [0, 1]
    ss = make_mask("stride_slash", window=2, stride=4, sink_tokens=1).dense(10)
    assert np.flatnonzero(ss[9]).tolist() == [0, 1, 5, 8, 9]


def test_longnet_segments_and_dilations():
    dense = make_mask("longnet", segment_lengths=(4, 8), dilations=(1, 2)).dense(16)
    assert np.flatnonzero(dense[6]).tolist() == [0, 2, 4, 5, 6]
    assert np.flatnonzero(dense[7]).tolist() == [4, 5, 6, 7]
    assert np.flatnonzero(dense[12]).tolist() == [8, 10, 12]
    # no key crosses a segment of the longest length
    assert not dense[8:, :8].any()


def test_bigbird_is_seeded_and_draws_keys_from_the_past():
    a = make_mask("bigbird", window=2, global_tokens=1, random_keys=3, seed=1)
    b = make_mask("bigbird", window=2, global_tokens=1, random_keys=3, seed=1)
    c = make_mask("bigbird", window=2, global_tokens=1, random_keys=3, seed=2)
    np.testing.assert_array_equal(a.dense(200), b.dense(200))
    assert (a.dense(200) != c.dense(200)).any()
    counts = a.dense(200).sum(axis=1)
    assert counts.max() <= 2 + 1 + 3
    assert counts[100:].mean() > 4  # the random keys are mostly outside the window
    window_only = make_mask("bigbird", window=2, global_tokens=1, random_keys=0).dense(200)
    assert (a.dense(200) >= window_only).all()


def test_user_mask_mod_and_blocked_patterns():
    user = _user_pattern()
    assert user.distances(10) is None and not user.trusted
    assert np.flatnonzero(user.dense(10)[9]).tolist() == [0, 3, 6, 9]
    blocked = make_mask("sliding_window", window=2).blocked(3)
    assert np.flatnonzero(blocked.dense(9)[7]).tolist() == [3, 4, 5, 6, 7]
    assert blocked.params == {"window": 2, "sink_tokens": 0, "blocked": 3}
    assert make_mask("causal").blocked(1).distances(5).tolist() == [0, 1, 2, 3, 4]


def test_registry_and_exports():
    from attnviz import kernels

    assert kernels.make_mask is make_mask and kernels.MaskPattern is MaskPattern
    for name, factory in PATTERNS.items():
        pattern = make_mask(name)
        assert pattern.name == name and isinstance(pattern.params, dict)
        np.testing.assert_array_equal(pattern.dense(20), factory().dense(20))
        assert name in masks.__doc__


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "error", "words"),
    [
        ("sliding_window", {"window": 0}, ValueError, ["window", "0"]),
        ("sliding_window", {"window": -3}, ValueError, ["window", "-3"]),
        ("sliding_window", {"window": 2.5}, TypeError, ["window", "2.5"]),
        ("sliding_window", {"window": True}, TypeError, ["window"]),
        ("sliding_window", {"sink_tokens": -1}, ValueError, ["sink_tokens", "-1"]),
        ("dilated", {"rate": 0}, ValueError, ["rate", "0"]),
        ("dilated", {"window": 0}, ValueError, ["window", "0"]),
        ("strided", {"stride": 0}, ValueError, ["stride", "0"]),
        ("fixed", {"block": 0}, ValueError, ["block", "0"]),
        ("fixed", {"block": 4, "c": 5}, ValueError, ["c", "5", "[1, 4]"]),
        ("fixed", {"c": 0}, ValueError, ["c", "0"]),
        ("longformer", {"global_tokens": -1}, ValueError, ["global_tokens", "-1"]),
        ("bigbird", {"random_keys": 1000}, ValueError, ["random_keys", "1000"]),
        ("bigbird", {"seed": -1}, ValueError, ["seed", "-1"]),
        ("longnet", {"segment_lengths": (4, 8), "dilations": (1,)}, ValueError, ["dilations"]),
        (
            "longnet",
            {"segment_lengths": (4, 0), "dilations": (1, 2)},
            ValueError,
            ["segment_lengths[1]", "0"],
        ),
        ("longnet", {"segment_lengths": 4, "dilations": (1,)}, TypeError, ["segment_lengths"]),
        ("longnet", {"segment_lengths": (), "dilations": ()}, ValueError, ["segment_lengths"]),
        ("stride_slash", {"stride": -2}, ValueError, ["stride", "-2"]),
        ("power_attention", {"block_size": 0}, ValueError, ["block_size", "0"]),
        ("power_attention", {"window_blocks": 0}, ValueError, ["window_blocks", "0"]),
        ("power_attention", {"sink_block": 1}, TypeError, ["sink_block", "1"]),
        ("sliding_window", {"widow": 3}, TypeError, ["widow", "window"]),
        ("nonsense", {}, ValueError, ["name", "nonsense", "power_attention"]),
    ],
)
def test_bad_parameters_name_the_argument(name, params, error, words):
    with pytest.raises(error) as info:
        make_mask(name, **params)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("seq_len", [0, -1, MAX_DENSE_LEN + 1])
def test_bad_seq_len(seq_len):
    with pytest.raises(ValueError, match=rf"seq_len.*\[1, {MAX_DENSE_LEN}\].*{seq_len}"):
        make_mask("causal").dense(seq_len)
    if seq_len <= 0:
        with pytest.raises(ValueError, match="seq_len"):
            make_mask("causal").distances(seq_len)
    with pytest.raises(TypeError, match="seq_len"):
        make_mask("causal").dense(4.0)


def test_bad_user_mask_mods():
    with pytest.raises(TypeError, match="boolean.*int64"):
        MaskPattern.from_mask_mod("scores", lambda b, h, q, k: q - k)
    with pytest.raises(TypeError, match="torch.Tensor"):
        MaskPattern.from_mask_mod("python", lambda b, h, q, k: True)
    with pytest.raises(TypeError, match="callable"):
        MaskPattern.from_mask_mod("not a function", 3)
    with pytest.raises(TypeError, match="failed.*ZeroDivisionError"):
        MaskPattern.from_mask_mod("broken", lambda b, h, q, k: 1 / 0)
    with pytest.raises(ValueError, match="shape"):
        MaskPattern.from_mask_mod("too big", lambda b, h, q, k: torch.ones(3, 99, dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        check_mask_mod(lambda b, h, q, k: (q >= k).float(), 8)
    # a mask_mod may behave well on the first check and badly later: dense re-checks it
    calls = []

    def late_mask_mod(b, h, q, k):
        calls.append(1)
        return q >= k if len(calls) == 1 else (q - k).float()

    late = MaskPattern.from_mask_mod("late", late_mask_mod)
    with pytest.raises(TypeError, match="boolean"):
        late.dense(30)
    lying = MaskPattern.from_mask_mod("lying", lambda b, h, q, k: q >= 0, causal=True)
    with pytest.raises(ValueError, match="causal=True.*query 0.*key 1"):
        lying.dense(4)


# ------------------------------------------------------------- the argument promise


def test_causal_distances_refuse_a_set_past_the_memory_budget():
    from attnviz.memory_budget import memory_budget_of

    with memory_budget_of("2GB"), pytest.raises(ValueError, match="memory budget"):
        make_mask("causal").distances(2**30)  # 2**30 distances: 8.6 GB of int64, 4 copies


def test_sparse_distances_at_the_cap_are_cheap():
    assert make_mask("power_attention").distances(2**30).size == 31
    assert make_mask("strided", stride=2**15).distances(2**30).size == 2 * 2**15 - 1


@pytest.mark.parametrize("name", ["sliding_window", "dilated", "longformer", "stride_slash"])
def test_every_mask_size_is_bounded(name):
    with pytest.raises(ValueError, match=r"window must be an integer in \[1, 1073741824\]"):
        make_mask(name, window=masks.MAX_SPAN + 1)


def test_dense_refuses_a_rule_too_costly_to_evaluate():
    pattern = make_mask("bigbird", random_keys=masks.MAX_RANDOM_KEYS)
    with pytest.raises(ValueError, match="MAX_DENSE_WORK"):
        pattern.dense(masks.MAX_DENSE_LEN)


def test_block_mask_refuses_a_grid_past_the_memory_budget():
    from attnviz.memory_budget import memory_budget_of

    with memory_budget_of("256MB"), pytest.raises(ValueError, match="create_block_mask"):
        make_mask("causal").block_mask(masks.MAX_BLOCK_MASK_LEN)
    with pytest.raises(ValueError, match="seq_len must be an integer"):
        make_mask("causal").block_mask(masks.MAX_BLOCK_MASK_LEN + 1)
