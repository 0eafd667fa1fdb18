"""kernels.flex: lesson 04's mask zoo through FlexAttention equals dense masked attention
and the definition, for every pattern; the block mask and the densities are right."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from attnviz.kernels import flex
from attnviz.kernels.flex import (
    block_density,
    block_layout,
    dense_masked_attention,
    flex_block_mask,
    flex_sparse_attention,
    token_density,
)
from attnviz.kernels.masks import PATTERNS, MaskPattern, make_mask
from attnviz.kernels.softmax import scaled_dot_product_attention

ROOT = Path(__file__).resolve().parents[1]

# every pattern of the zoo with its defaults, and with parameters that make blocks matter
ZOO = {
    **{name: (name, {}) for name in PATTERNS},
    "sliding_window_24_sink": ("sliding_window", {"window": 24, "sink_tokens": 3}),
    "dilated_20_2": ("dilated", {"window": 20, "rate": 2}),
    "strided_16": ("strided", {"stride": 16}),
    "fixed_16_4": ("fixed", {"block": 16, "c": 4}),
    "longformer_16_2": ("longformer", {"window": 16, "global_tokens": 2}),
    "bigbird_8_1_3": ("bigbird", {"window": 8, "global_tokens": 1, "random_keys": 3}),
    "longnet_paper": ("longnet", {"segment_lengths": (8, 16, 32), "dilations": (1, 2, 4)}),
    "stride_slash_6_16": ("stride_slash", {"window": 6, "stride": 16}),
    "power_paper": ("power_attention", {"block_size": 8, "window_blocks": 5, "sink_block": True}),
}


def _qkv(shape, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype) for _ in "qkv")


def _reference(q, k, v, pattern):
    mask = torch.from_numpy(pattern.dense(q.shape[-2]))
    return scaled_dot_product_attention(q, k, v, mask).output


@pytest.mark.parametrize("case", ZOO)
@pytest.mark.parametrize(("seq_len", "block_size"), [(96, 32), (100, 16)])
def test_eager_flex_equals_dense_sdpa_and_the_definition(case, seq_len, block_size):
    name, params = ZOO[case]
    pattern = make_mask(name, **params)
    q, k, v = _qkv((2, 3, seq_len, 8))
    sparse = flex_sparse_attention(q, k, v, pattern, block_size=block_size, compile=False)
    dense = dense_masked_attention(q, k, v, pattern)
    reference = _reference(q, k, v, pattern)
    assert sparse.shape == dense.shape == (2, 3, seq_len, 8)
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sparse, reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", ["causal", "dilated_20_2", "bigbird_8_1_3", "power_paper"])
@pytest.mark.parametrize("block_size", [1, 7, 32, 128])
def test_eager_flex_equals_the_definition_in_float64_for_every_block_size(case, block_size):
    name, params = ZOO[case]
    pattern = make_mask(name, **params)
    q, k, v = _qkv((50, 4), dtype=torch.float64, seed=block_size)
    sparse = flex_sparse_attention(q, k, v, pattern, block_size=block_size, compile=False)
    assert sparse.dtype == torch.float64
    torch.testing.assert_close(sparse, _reference(q, k, v, pattern), atol=1e-12, rtol=1e-12)


# compiling costs seconds per pattern: two patterns, one dense in blocks, one sparse
@pytest.mark.parametrize("case", ["causal", "sliding_window_24_sink"])
def test_compiled_flex_equals_dense_sdpa(case):
    name, params = ZOO[case]
    pattern = make_mask(name, **params)
    q, k, v = _qkv((1, 2, 256, 16), seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no silent fall-back to eager
        sparse = flex_sparse_attention(q, k, v, pattern, block_size=64)
    torch.testing.assert_close(
        sparse, dense_masked_attention(q, k, v, pattern), atol=1e-5, rtol=1e-5
    )
    # the same pattern built again hits the block-mask cache (and the compiled graph)
    again = flex_sparse_attention(q, k, v, make_mask(name, **params), block_size=64)
    torch.testing.assert_close(again, sparse, atol=0, rtol=0)


def test_without_a_compiler_it_warns_and_runs_eager():
    script = (
        "import warnings, torch\n"
        "import torch._inductor.config as config\n"
        "config.cpp.cxx = ('/nonexistent/c++',)\n"
        "from attnviz.kernels.flex import flex_sparse_attention, dense_masked_attention\n"
        "q = torch.randn(64, 8)\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    out = flex_sparse_attention(q, q, q, 'causal', block_size=16)\n"
        "said = [str(w.message) for w in seen if w.category is RuntimeWarning]\n"
        "assert any('runs eager' in s and 'InvalidCxxCompiler' in s for s in said), said\n"
        "assert (out - dense_masked_attention(q, q, q, 'causal')).abs().max() < 1e-5\n"
        "print('fell back')\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script],
        cwd=ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fell back" in done.stdout


@pytest.mark.parametrize("case", ZOO)
def test_block_mask_is_the_one_create_block_mask_builds(case):
    name, params = ZOO[case]
    pattern = make_mask(name, **params)
    seq_len, block_size = 100, 16
    ours, theirs = (
        flex_block_mask(pattern, seq_len, block_size),
        pattern.block_mask(seq_len, block_size),
    )
    for count, index in (
        ("kv_num_blocks", "kv_indices"),
        ("full_kv_num_blocks", "full_kv_indices"),
    ):
        mine, torchs = getattr(ours, count), getattr(theirs, count)
        assert torch.equal(mine, torchs), count
        for row, n in enumerate(mine[0, 0].tolist()):
            got = set(getattr(ours, index)[0, 0, row, :n].tolist())
            assert got == set(getattr(theirs, index)[0, 0, row, :n].tolist()), (index, row)


def test_block_layout_tiles_are_the_dense_mask_pooled():
    pattern = make_mask("stride_slash", window=5, stride=12)
    seq_len, block_size = 90, 8
    partial, full = block_layout(pattern, seq_len, block_size)
    n = -(-seq_len // block_size)
    dense = np.zeros((n * block_size, n * block_size), dtype=bool)
    dense[:seq_len, :seq_len] = pattern.dense(seq_len)
    tiles = dense.reshape(n, block_size, n, block_size)
    assert np.array_equal(partial | full, tiles.any(axis=(1, 3)))
    assert np.array_equal(full, tiles.all(axis=(1, 3)))
    assert not (partial & full).any()


@pytest.mark.parametrize("seq_len", [1, 7, 64, 1000])
def test_causal_token_density_is_t_plus_one_over_2t(seq_len):
    assert token_density("causal", seq_len) == pytest.approx((seq_len + 1) / (2 * seq_len))


@pytest.mark.parametrize(("n", "block_size"), [(1, 16), (4, 32), (16, 8)])
def test_causal_block_density_is_n_plus_one_over_2n(n, block_size):
    assert block_density("causal", n * block_size, block_size) == pytest.approx((n + 1) / (2 * n))


@pytest.mark.parametrize("case", ZOO)
def test_densities_count_the_dense_mask(case):
    name, params = ZOO[case]
    pattern = make_mask(name, **params)
    dense = pattern.dense(120)
    assert token_density(pattern, 120) == pytest.approx(dense.mean())
    # a tile is computed iff it holds an allowed pair, so block density >= token density
    assert token_density(pattern, 120) <= block_density(pattern, 120, 16) <= 1


def test_sliding_window_densities_shrink_with_the_window():
    seq_len, window = 4096, 256
    expected = sum(min(i + 1, window) for i in range(seq_len)) / seq_len**2
    assert token_density(make_mask("sliding_window", window=window), seq_len) == pytest.approx(
        expected
    )
    blocks = [block_density(make_mask("sliding_window", window=w), 4096, 128) for w in (128, 512)]
    assert blocks[0] < blocks[1] < block_density("causal", 4096, 128)


@pytest.mark.parametrize("name", PATTERNS)
def test_every_row_of_the_zoo_attends_some_key(name):
    # the diagonal is always allowed: no row of softmax is empty (0/0)
    assert make_mask(name).dense(200).any(axis=1).all()


def test_a_row_without_keys_gives_zero_in_every_form():
    pattern = make_mask("longnet", segment_lengths=(8,), dilations=(2,))  # odd rows see nothing
    assert not pattern.dense(32)[1].any()
    q, k, v = _qkv((32, 4))
    sparse = flex_sparse_attention(q, k, v, pattern, block_size=8, compile=False)
    dense = dense_masked_attention(q, k, v, pattern)
    assert torch.equal(sparse[1::2], torch.zeros(16, 4))
    assert torch.equal(dense[1::2], torch.zeros(16, 4))
    torch.testing.assert_close(sparse, _reference(q, k, v, pattern), atol=1e-5, rtol=1e-5)


def test_a_users_pattern_runs_and_is_cached_by_its_own_rule():
    def every_third(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & ((q_idx - kv_idx) % 3 == 0)

    pattern = MaskPattern.from_mask_mod("every_third", every_third, causal=True)
    q, k, v = _qkv((40, 4))
    out = flex_sparse_attention(q, k, v, pattern, block_size=8, compile=False)
    torch.testing.assert_close(out, _reference(q, k, v, pattern), atol=1e-5, rtol=1e-5)
    assert flex_block_mask(pattern, 40, 8) is flex_block_mask(pattern, 40, 8)
    other = MaskPattern.from_mask_mod("every_third", lambda b, h, i, j: i >= j, causal=True)
    assert flex_block_mask(other, 40, 8) is not flex_block_mask(pattern, 40, 8)


def test_the_block_mask_cache_stays_bounded():
    for window in range(1, flex.CACHED_BLOCK_MASKS + 5):
        flex_block_mask(make_mask("sliding_window", window=window), 32, 8)
    assert len(flex._block_masks) == flex.CACHED_BLOCK_MASKS


def test_a_precomputed_mask_gives_the_same_dense_attention():
    pattern = make_mask("strided", stride=5)
    q, k, v = _qkv((3, 30, 4))
    mask = torch.from_numpy(pattern.dense(30))
    torch.testing.assert_close(
        dense_masked_attention(q, k, v, mask), dense_masked_attention(q, k, v, pattern)
    )
    with pytest.raises(ValueError, match="pattern given as a mask"):
        dense_masked_attention(q, k, v, mask[:-1])


def test_bad_arguments_are_named():
    q, k, v = _qkv((16, 4))
    with pytest.raises(TypeError, match="pattern must be"):
        flex_sparse_attention(q, k, v, 3, compile=False)
    with pytest.raises(ValueError, match="pattern must be one of"):
        flex_sparse_attention(q, k, v, "no_such_mask", compile=False)
    with pytest.raises(ValueError, match="q and k must have the same shape"):
        flex_sparse_attention(q, k[:8], v, "causal", compile=False)
    with pytest.raises(ValueError, match="block_size must be an integer in"):
        flex_sparse_attention(q, k, v, "causal", block_size=0, compile=False)
    with pytest.raises(TypeError, match="compile must be True or False"):
        flex_sparse_attention(q, k, v, "causal", compile="yes")
    with pytest.raises(ValueError, match="seq_len must be an integer in"):
        block_density("causal", 0, 16)
    with pytest.raises(ValueError, match="q must contain only finite"):
        dense_masked_attention(q.masked_fill(q > 1, float("nan")), k, v, "causal")


def test_scores_past_the_float_range_are_refused_not_nan():
    q, k, v = _qkv((16, 4))
    with pytest.raises(ValueError, match="overflowed"):
        flex_sparse_attention(q * 1e30, k * 1e30, v, "causal", compile=False)


def test_eager_flex_refuses_scores_past_the_memory_budget():
    from attnviz.memory_budget import memory_budget_of

    q, k, v = _qkv((1024, 4))
    with memory_budget_of("1MiB"), pytest.raises(ValueError, match="compile=True"):
        flex_sparse_attention(q, k, v, "causal", compile=False)


DISTANCE_CASES = [
    ("causal", {}),
    ("sliding_window", {"window": 5}),
    ("dilated", {"window": 9, "rate": 3}),
    ("strided", {"stride": 4}),
    ("longformer", {"window": 3, "global_tokens": 0}),
    ("stride_slash", {"window": 2, "stride": 5, "sink_tokens": 0}),
    ("power_attention", {"window_blocks": 3}),
]


@pytest.mark.parametrize(("name", "params"), DISTANCE_CASES)
@pytest.mark.parametrize(("seq_len", "block_size"), [(1, 1), (7, 3), (33, 8), (64, 16), (50, 100)])
def test_layout_from_distances_equals_the_scan_of_every_pair(name, params, seq_len, block_size):
    pattern = make_mask(name, **params)
    assert pattern.distances(seq_len) is not None  # the fast path is the one tested
    fast = block_layout(pattern, seq_len, block_size)
    scanned = flex._scanned_layout(pattern, seq_len, block_size)
    assert np.array_equal(fast.partial, scanned.partial)
    assert np.array_equal(fast.full, scanned.full)
    assert token_density(pattern, seq_len) == pytest.approx(pattern.dense(seq_len).mean())


def test_a_layout_too_large_for_the_budget_is_refused():
    with pytest.raises(ValueError, match="use a larger block_size"):
        block_layout("causal", flex.MAX_FLEX_LEN, 1)
