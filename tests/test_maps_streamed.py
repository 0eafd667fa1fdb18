"""Streamed attention maps (lesson 02's long view, issue 15 item 5): the model's map,
never materialised, pooled and zoomed exactly as the materialised map would be."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from attnviz.kernels.online_softmax import attention_tile
from attnviz.lesson_models import load_lesson_model
from attnviz.maps import capture, downsample, window
from attnviz.maps import streamed as streamed_module
from attnviz.maps.inputs import preset_input
from attnviz.maps.streamed import stream_capture, streamed_overview, streamed_window
from attnviz.memory_budget import memory_budget_of
from attnviz.models import TinyConfig, TinyTransformer

ATOL = 2e-5  # float32: the streamed forward and the materialised one round differently


@pytest.fixture(scope="module")
def rope_model() -> TinyTransformer:
    return load_lesson_model("induction_rope")


@pytest.fixture(scope="module")
def induction_input() -> torch.Tensor:
    ids, _ = preset_input("repeated tokens", 600, 48, 0)
    return torch.as_tensor(np.asarray(ids)).reshape(-1)


@pytest.fixture(scope="module")
def materialised(rope_model, induction_input) -> np.ndarray:
    return capture(rope_model, induction_input).weights  # (L, H, T, T)


@pytest.fixture(scope="module", params=streamed_module.KERNELS)
def streamed(request, rope_model, induction_input):
    return stream_capture(rope_model, induction_input, kernel=request.param)


def test_streamed_capture_holds_the_models_own_maps(streamed, materialised):
    n_layers, n_heads, seq_len, _ = materialised.shape
    assert (streamed.n_layers, streamed.n_heads, streamed.seq_len) == (n_layers, n_heads, seq_len)
    for layer in range(n_layers):
        for head in range(n_heads):
            whole = streamed_window(streamed, layer, head, (0, seq_len)).values
            np.testing.assert_allclose(whole, materialised[layer, head], atol=ATOL, rtol=1e-4)


def _reference_lse(streamed, layer, head) -> torch.Tensor:
    q, k = streamed.q[layer, head].double(), streamed.k[layer, head].double()
    scores = q @ k.T * streamed.scale  # (T, T)
    scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), -torch.inf)
    return torch.logsumexp(scores, -1)


def test_the_lse_is_each_rows_log_sum_exp(streamed):
    # below the layer shown the kernel's lse is kept; the layer shown ran no attention
    assert tuple(streamed.lse.shape) == (1, 2, streamed.seq_len)
    expected = _reference_lse(streamed, 0, 1)
    torch.testing.assert_close(streamed.lse[0, 1].double(), expected, atol=1e-4, rtol=1e-5)
    # the layer shown: the overview's strip pass finds it, and so does a window's rows
    for layer, head in ((0, 1), (1, 0)):
        expected = _reference_lse(streamed, layer, head)
        q, k = streamed.q[layer, head], streamed.k[layer, head]
        lse = streamed_module._pool_strips(streamed, q, k, 64, "max")[1]
        torch.testing.assert_close(lse.double(), expected, atol=1e-4, rtol=1e-5)
        rows = streamed_module._rows_lse(streamed, layer, head, (100, 357))
        torch.testing.assert_close(rows.double(), expected[100:357], atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("tile", [(2**19, 2**11), (64, 16), (1000, 100), (7, 3)])
@pytest.mark.parametrize("max_size", [1, 37, 256, 600])
def test_the_one_pass_strips_equal_the_two_pass_tiles(streamed, monkeypatch, tile, max_size):
    # the fast form finds the lse while it pools (running max, pooled cells rescaled at
    # the end); the two-pass form takes the kernel's lse first and pools exact tiles
    from attnviz.kernels.online_softmax import online_softmax_attention

    monkeypatch.setattr(streamed_module, "TILE_ELEMENTS", tile[0])
    monkeypatch.setattr(streamed_module, "TILE_COLUMNS", tile[1])
    q, k = streamed.q[1, 1], streamed.k[1, 1]
    kernel_lse = online_softmax_attention(
        q, k, torch.zeros_like(q), scale=streamed.scale, causal=True, block_size=64
    ).lse  # lse does not depend on v
    for reduce in ("max", "mean"):
        one, lse, entropy = streamed_module._pool_strips(streamed, q, k, max_size, reduce,
                                                         entropy=True)  # fmt: skip
        two, two_entropy = streamed_module._pool_tiles(
            streamed, q, k, kernel_lse, max_size, reduce, entropy=True
        )
        np.testing.assert_array_equal(one.row_edges, two.row_edges)
        np.testing.assert_allclose(one.values, two.values, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(lse, kernel_lse, atol=1e-5, rtol=1e-6)
        np.testing.assert_allclose(entropy, two_entropy, atol=1e-4)


@pytest.mark.parametrize("reduce", ["max", "mean"])
@pytest.mark.parametrize("max_size", [1, 7, 64, 256, 600, 1000])
def test_streamed_overview_is_downsample_of_the_materialised_map(
    streamed, materialised, max_size, reduce
):
    for layer, head in ((0, 1), (1, 0)):
        pooled = streamed_overview(streamed, layer, head, max_size, reduce=reduce)
        expected = downsample(materialised[layer, head], max_size, reduce=reduce)
        np.testing.assert_array_equal(pooled.row_edges, expected.row_edges)
        np.testing.assert_array_equal(pooled.col_edges, expected.col_edges)
        np.testing.assert_allclose(pooled.values, expected.values, atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("tile", [(64, 16), (1000, 100), (7, 3)])
def test_any_tiling_pools_to_the_same_overview(streamed, materialised, monkeypatch, tile):
    # tiles smaller than a block (pieces of one block) and tiles of several blocks
    elements, columns = tile
    monkeypatch.setattr(streamed_module, "TILE_ELEMENTS", elements)
    monkeypatch.setattr(streamed_module, "TILE_COLUMNS", columns)
    for reduce in ("max", "mean"):
        pooled = streamed_overview(streamed, 1, 1, 37, reduce=reduce)
        expected = downsample(materialised[1, 1], 37, reduce=reduce)
        np.testing.assert_allclose(pooled.values, expected.values, atol=ATOL, rtol=1e-4)


ZOOMS = [((0, 40), None), ((560, 600), (0, 40)), ((300, 340), (250, 330)), ((599, 600), (0, 600))]


@pytest.mark.parametrize("rows, cols", ZOOMS)
def test_streamed_window_is_the_exact_zoom(streamed, materialised, induction_input, rows, cols):
    labels = [str(int(i)) for i in induction_input]
    cut = streamed_window(streamed, 1, 0, rows, cols)
    expected = window(materialised[1, 0], rows, cols, tokens=labels)
    np.testing.assert_allclose(cut.values, expected.values, atol=ATOL, rtol=1e-4)
    assert (cut.rows, cut.cols) == (expected.rows, expected.cols)
    assert (cut.row_tokens, cut.col_tokens) == (expected.row_tokens, expected.col_tokens)


def test_the_fast_tiles_are_the_kernels_attention_tile(streamed):
    q, k = streamed.q[1, 1], streamed.k[1, 1]
    lse = streamed_module._rows_lse(streamed, 1, 1, (0, streamed.seq_len))
    tiles = streamed_module._TileMaker(q, k, lse, streamed.scale, causal=True)
    for rows, cols in (((0, 64), (0, 64)), ((100, 300), (0, 256)), ((512, 600), (256, 600))):
        fast = tiles.weights(*rows, *cols)
        reference = attention_tile(q, k, lse, rows=rows, cols=cols, scale=streamed.scale,
                                   causal=True)  # fmt: skip
        torch.testing.assert_close(fast, reference, atol=1e-6, rtol=1e-4)


def test_only_the_layers_asked_for_run(rope_model, induction_input, materialised):
    first = stream_capture(rope_model, induction_input, up_to_layer=0)
    assert first.n_layers == 1
    whole = streamed_window(first, 0, 1, (0, first.seq_len)).values
    np.testing.assert_allclose(whole, materialised[0, 1], atol=ATOL, rtol=1e-4)
    with pytest.raises(ValueError, match="layer"):
        streamed_window(first, 1, 0, (0, 4))


def test_the_induction_head_finds_the_previous_repeat(streamed, induction_input):
    # the preset repeats 47 distinct tokens: layer 1's induction head reads, from query t,
    # the token after the previous occurrence of token t — offset 46 back
    zoom = streamed_window(streamed, 1, 1, (500, 600), (0, 600)).values
    offsets = np.arange(500, 600) - zoom.argmax(axis=1)
    assert np.mean(offsets % 47 == 46) > 0.8


def test_a_rope_model_reads_past_its_context_without_a_t_by_t_map(rope_model):
    seq_len = 4200  # past the model's 4,096-token context; its T × T map is 70.6 MB
    ids, _ = preset_input("repeated tokens", seq_len, 48, 1)
    with memory_budget_of("48MB"):  # the materialised map could not be held
        heads = stream_capture(rope_model, np.asarray(ids).reshape(-1), kernel="fused")
        last_rows = streamed_window(heads, 1, 1, (seq_len - 8, seq_len), (0, seq_len)).values
        pooled = streamed_overview(heads, 1, 1, 64, reduce="mean")
    np.testing.assert_allclose(last_rows.sum(axis=1), 1.0, atol=1e-4)  # each row: softmax
    # the mean-pooled overview keeps the mass: every query row sums to one
    sizes = np.diff(pooled.row_edges)[:, None] * np.diff(pooled.col_edges)[None, :]
    row_mass = (pooled.values * sizes).sum(axis=1) / np.diff(pooled.row_edges)
    np.testing.assert_allclose(row_mass, 1.0, atol=1e-4)


def test_a_non_causal_model_streams_every_tile():
    config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=16, context=64,
                        positional="none", causal=False)  # fmt: skip
    model = TinyTransformer(config, seed=0)
    ids = torch.randint(0, 16, (50,), generator=torch.Generator().manual_seed(0))
    expected = capture(model, ids).weights
    heads = stream_capture(model, ids)
    assert not heads.causal
    np.testing.assert_allclose(streamed_window(heads, 1, 1, (0, 50)).values, expected[1, 1],
                               atol=1e-6, rtol=1e-4)  # fmt: skip
    pooled = streamed_overview(heads, 1, 1, 8)
    np.testing.assert_allclose(pooled.values, downsample(expected[1, 1], 8).values, atol=1e-6)


def test_learned_positions_stop_at_the_context():
    config = TinyConfig(n_layers=1, n_heads=2, d_model=16, vocab_size=16, context=32)
    model = TinyTransformer(config, seed=0)
    ids = torch.randint(0, 16, (32,), generator=torch.Generator().manual_seed(0))
    heads = stream_capture(model, ids)  # within the context: the model's own maps
    np.testing.assert_allclose(streamed_window(heads, 0, 0, (0, 32)).values,
                               capture(model, ids).weights[0, 0], atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="context = 32.*learned positions.*33"):
        stream_capture(model, torch.zeros(33, dtype=torch.long))


@pytest.mark.parametrize(
    "config, match",
    [
        (dict(mixer="linear_attention"), "softmax attention"),
        (dict(mask="sliding_window", mask_params={"window": 4}), "no sparse mask"),
    ],
)
def test_models_without_softmax_maps_are_refused(config, match):
    model = TinyTransformer(TinyConfig(n_layers=1, d_model=8, vocab_size=16, context=16,
                                       **config), seed=0)  # fmt: skip
    with pytest.raises(ValueError, match=match):
        stream_capture(model, torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(model=torch.nn.Linear(2, 2)), TypeError, "model must be an attnviz TinyTransformer"),
        (dict(input_ids=torch.rand(5)), TypeError, "input_ids must hold integer"),
        (dict(input_ids=[0, 48]), ValueError, r"\[0, 47\].*got values in \[0, 48\]"),
        (dict(input_ids=torch.zeros(2, 5, dtype=torch.long)), ValueError, "shape"),
        (dict(input_ids=torch.zeros(65_537, dtype=torch.long)), ValueError, "65536"),
        (dict(up_to_layer=2), ValueError, "up_to_layer"),
        (dict(kernel="sdpa"), ValueError, "kernel"),
    ],
)
def test_bad_arguments_are_named(rope_model, kwargs, error, match):
    args = {"model": rope_model, "input_ids": torch.zeros(4, dtype=torch.long), **kwargs}
    with pytest.raises(error, match=match):
        stream_capture(**args)


def test_bad_overview_and_window_arguments_are_named(streamed):
    with pytest.raises(TypeError, match="streamed must be the StreamedMaps"):
        streamed_overview(np.zeros((4, 4)), 0, 0)
    with pytest.raises(ValueError, match="head"):
        streamed_overview(streamed, 0, 2)
    with pytest.raises(ValueError, match="reduce"):
        streamed_overview(streamed, 0, 0, reduce="sum")
    with pytest.raises(ValueError, match="max_size"):
        streamed_overview(streamed, 0, 0, 0)
    with pytest.raises(ValueError, match="rows end"):
        streamed_window(streamed, 0, 0, (0, 601))


def test_the_long_map_target_reports_time_and_peak_memory_from_a_fresh_process(monkeypatch):
    from attnviz import bench_targets

    figures = bench_targets.streamed_head_map_run(1024, threads=1)
    assert figures["overview_shape"] == [256, 256] and figures["zoom_shape"] == [40, 127]
    assert 0 < figures["capture_s"] < figures["total_s"]
    assert 0 < figures["peak_rss_bytes"] < bench_targets.STREAMED_PEAK_BYTES
    assert figures["zoom_rows_at_the_previous_repeat"] > 0.8  # the induction head, found
    monkeypatch.setattr(bench_targets, "STREAMED_TOKENS", 1024)
    assert bench_targets._streamed_head_map() > 0
    monkeypatch.setattr(bench_targets, "STREAMED_PEAK_BYTES", 1)  # a bound no process meets
    with pytest.raises(RuntimeError, match="peaked at"):
        bench_targets._streamed_head_map()
    with pytest.raises(ValueError, match="kernel"):
        bench_targets.streamed_head_map_run(1024, kernel="cuda")


@pytest.mark.parametrize("kernel", streamed_module.KERNELS)
def test_the_long_reading_reports_what_read_heads_reports(rope_model, induction_input, kernel):
    from attnviz.maps import read_heads, read_long_heads

    labels = [f"t{i}" for i in range(len(induction_input))]
    expected = read_heads(rope_model, induction_input, labels, thumbnail=48)
    reading = read_long_heads(rope_model, induction_input, labels, thumbnail=48, kernel=kernel)
    np.testing.assert_allclose(reading.entropy, expected.entropy, atol=1e-5)
    np.testing.assert_allclose(reading.entropy_nats, expected.entropy_nats, atol=1e-4)
    np.testing.assert_allclose(reading.sink, expected.sink, atol=1e-6)
    assert reading.maps.tokens == labels
    for layer in range(2):
        for head in range(2):
            overview = downsample(expected.maps.head(layer, head), 256, reduce="max")
            np.testing.assert_allclose(reading.overviews[layer, head], overview.values, atol=ATOL)
    np.testing.assert_array_equal(reading.overview_edges, overview.row_edges)
    # thumbnails: the overviews pooled again, so a block's maximum is still the map's
    np.testing.assert_allclose(reading.thumbnails, downsample(reading.overviews, 48).values, atol=0)
    assert reading.thumbnails.shape[-1] <= 48
    assert reading.thumbnails.max() == pytest.approx(expected.thumbnails.max(), abs=ATOL)


@pytest.mark.parametrize("tile", [(2**19, 2**11), (64, 16)])
def test_strips_shared_among_threads_pool_the_same_overview(streamed, monkeypatch, tile):
    # with 2 intra-op threads the strips are dealt to 2 worker threads (each single-
    # threaded); pieces of one block of rows meet in its pooled row under a lock
    monkeypatch.setattr(streamed_module, "TILE_ELEMENTS", tile[0])
    monkeypatch.setattr(streamed_module, "TILE_COLUMNS", tile[1])
    q, k = streamed.q[1, 1], streamed.k[1, 1]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = [streamed_module._pool_strips(streamed, q, k, 37, r, entropy=True) for r in
                 ("max", "mean")]  # fmt: skip
        torch.set_num_threads(2)
        shared = [streamed_module._pool_strips(streamed, q, k, 37, r, entropy=True) for r in
                  ("max", "mean")]  # fmt: skip
        assert torch.get_num_threads() == 2  # the caller's setting survives the workers
        seen = []  # and so does the default of threads started later
        later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        later.start()
        later.join()
        assert seen == [2]
    finally:
        torch.set_num_threads(before)
    for (one, lse, entropy), (two, lse_two, entropy_two) in zip(alone, shared, strict=True):
        np.testing.assert_allclose(two.values, one.values, atol=1e-7, rtol=1e-6)
        torch.testing.assert_close(lse_two, lse, atol=0, rtol=0)  # each strip: the same ops
        np.testing.assert_allclose(entropy_two, entropy, atol=0)
