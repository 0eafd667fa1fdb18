"""sparse_speed: the measured table of lesson 07's "speed-up against mask density" holds
the right densities, the same attention in both forms, and stops at its time budget."""

import pytest
import torch

from attnviz.kernels.flex import block_density, token_density
from attnviz.kernels.masks import make_mask
from attnviz.sparse_speed import DEFAULT_PATTERNS, default_patterns, density_speedup

KEYS = {"pattern", "params", "token_density", "block_density", "flex_ms", "dense_ms", "speedup"}


def test_rows_hold_densities_times_and_the_same_attention():
    patterns = [make_mask("sliding_window", window=32), "causal"]
    rows = density_speedup(patterns, seq_len=256, block_size=32, d=8, repeats=2, compile=False)
    assert [row["pattern"] for row in rows] == ["sliding_window", "causal"]
    for row, pattern in zip(rows, patterns, strict=True):
        assert KEYS <= row.keys()
        assert row["token_density"] == pytest.approx(token_density(pattern, 256))
        assert row["block_density"] == pytest.approx(block_density(pattern, 256, 32))
        assert row["flex_ms"] > 0 and row["dense_ms"] > 0
        assert row["speedup"] == pytest.approx(row["dense_ms"] / row["flex_ms"])
        assert row["max_abs_diff"] < 1e-5  # flex and dense computed the same attention
    assert rows[0]["params"] == {"window": 32, "sink_tokens": 0}
    assert rows[1]["token_density"] == pytest.approx(257 / 512)


def test_the_time_budget_stops_adding_patterns_but_the_first_runs():
    rows = density_speedup(
        ["causal", "strided", "fixed"], seq_len=64, block_size=16, repeats=1,
        time_budget=1e-9, compile=False,
    )  # fmt: skip
    assert [row["pattern"] for row in rows] == ["causal"]


def test_default_patterns_span_densities_from_sparse_to_causal():
    patterns = default_patterns()
    assert [(p.name, p.params) for p in patterns][-1] == ("causal", {})
    assert len(patterns) == len(DEFAULT_PATTERNS)
    blocks = [block_density(p, 4096, 128) for p in patterns]
    assert min(blocks) < 0.1 and max(blocks) > 0.5  # from a narrow window to full causal
    windows = blocks[:5]  # the sliding windows, narrow to wide
    assert windows == sorted(windows)


def test_bad_patterns_are_named():
    with pytest.raises(TypeError, match="patterns must be a sequence"):
        density_speedup("causal", seq_len=16, compile=False)
    with pytest.raises(ValueError, match=r"patterns\[1\] must be one of"):
        density_speedup(["causal", "nope"], seq_len=16, compile=False)
    with pytest.raises(ValueError, match="at least one pattern"):
        density_speedup([], seq_len=16, compile=False)


def test_threads_are_set_while_timing_and_restored():
    before = torch.get_num_threads()
    rows = density_speedup(["causal"], seq_len=64, block_size=16, repeats=1, compile=False,
                           threads=1)  # fmt: skip
    assert len(rows) == 1 and torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be an integer in"):
        density_speedup(["causal"], seq_len=64, compile=False, threads=0)
