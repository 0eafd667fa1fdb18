"""Lesson 07's dashboard: what it draws is what the kernels compute. The stepper's running
max, sum and rescale are online_softmax_steps' own, and its last step is softmax attention;
the chunks tile the sequence and their parts add up to the parallel form; a measurement
runs off the caller's thread and draws cost_against_length's rows; extreme values never
break it."""

import numpy as np
import pytest
import torch
from attached import attached
from panel.io.state import set_curdoc

from attnviz.dashboards import FastKernelsDashboard, entries, get
from attnviz.dashboards import fast_kernels as lesson07
from attnviz.kernels.chunkwise import linear_attention_parallel
from attnviz.kernels.softmax import scaled_dot_product_attention


def test_lesson_07_is_registered():
    entry = get("fast_kernels")
    assert entry.factory is FastKernelsDashboard
    assert entry.lesson == "07_fast_attention_kernels"
    assert entry.title == "07 · Fast attention kernels"
    assert entry in entries()


def test_a_session_sends_only_the_stepper_and_later_tabs_draw_the_current_state():
    dashboard, document = attached(FastKernelsDashboard)
    assert set(dashboard.figures) == {"scores", "state", "output"}
    with set_curdoc(document):
        dashboard.chunk_size = 4
        dashboard.show_tab("chunkwise linear attention")
    assert {"chunks", "parts"} <= set(dashboard.figures)
    assert dashboard.figures["chunks"] in set(document.models)
    assert len(dashboard._chunk_view.source.data["xs"]) == 2 * (32 // 4) - 1  # intra + inter


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_size", [1, 5, 8, 32])
def test_the_last_step_lands_on_softmax_attention(causal, block_size):
    dashboard = FastKernelsDashboard(causal=causal, block_size=block_size, query=20)
    q, k, v = lesson07._head(dashboard.seq_len, dashboard.seed)
    reference = scaled_dot_product_attention(q, k, v, causal=causal).output[20]
    dashboard.step = dashboard.seq_len - 1  # the last key: the last block is read
    drawn = np.asarray(dashboard._stepper.output_source.data["so_far"])
    final = np.asarray(dashboard._stepper.output_source.data["final"])
    np.testing.assert_allclose(drawn, reference.numpy(), atol=1e-12)
    np.testing.assert_allclose(final, reference.numpy(), atol=1e-12)
    assert "it is the final output" in dashboard._readout.object


def test_the_stepper_draws_the_kernels_running_max_sum_and_rescale():
    dashboard = FastKernelsDashboard(block_size=4, query=31, causal=False)
    assert len(dashboard.steps) == 8
    for index, step in enumerate(dashboard.steps):
        dashboard.step = 4 * index + 3  # a key of block index: that block is read
        values = dashboard._stepper.state_source.data["value"]
        m_before = float(step.m_before[31])
        expected = [
            m_before if np.isfinite(m_before) else 0.0,
            float(step.m_after[31]),
            float(step.l_before[31]),
            float(step.l_after[31]),
            float(step.rescale[31]),
        ]
        np.testing.assert_allclose(values, expected, rtol=1e-12)
        # the rescale is e^(m − m′): 1 exactly when the block brings no new maximum
        if index and float(step.m_after[31]) == m_before:
            assert expected[4] == 1.0
        colors = dashboard._stepper.score_source.data["color"]
        start, stop = step.keys
        assert colors[start:stop] == [lesson07.plots.fast_kernels.BLOCK_COLOR] * (stop - start)
    q, k, _ = lesson07._head(32, 0)
    largest = (q @ k.T / q.shape[-1] ** 0.5).max(dim=1).values  # every key read: the row max
    np.testing.assert_allclose(dashboard.steps[-1].m_after.numpy(), largest.numpy(), rtol=1e-12)


def test_a_causal_row_draws_no_score_for_the_keys_it_cannot_see():
    dashboard = FastKernelsDashboard(causal=True, query=5, block_size=8)
    scores = np.asarray(dashboard._stepper.score_source.data["score"], dtype=float)
    assert np.isfinite(scores[:6]).all() and np.isnan(scores[6:]).all()


def test_the_chunks_tile_the_sequence_and_add_up_to_the_parallel_form():
    dashboard = FastKernelsDashboard(seq_len=30, chunk_size=7, decay=0.8)
    tokens = [tuple(record.tokens) for record in dashboard.chunks]
    assert tokens == [(0, 7), (7, 14), (14, 21), (21, 28), (28, 30)]
    q, k, v = lesson07._head(30, dashboard.seed)
    together = torch.cat([record.intra + record.inter for record in dashboard.chunks])
    parallel = linear_attention_parallel(q, k, v, decay=0.8).output
    assert (together - parallel).abs().max().item() < 1e-10
    assert float(dashboard.chunks[0].inter.abs().max()) == 0.0  # nothing carried yet
    dashboard.show_tab("chunkwise linear attention")
    assert "largest difference" in dashboard._chunk_text.object


def test_the_step_is_a_key_and_the_chunk_a_token_whose_block_is_shown():
    dashboard, document = attached(FastKernelsDashboard)
    with set_curdoc(document):
        dashboard.block_size = 5
        assert dashboard.controls["step"].step == 5  # the player moves one block a step
        dashboard.step = 13
        assert "key block 3 of 7" in dashboard._readout.object  # keys 10–14
        dashboard.seq_len = 8
        assert dashboard.param.query.bounds == dashboard.param.step.bounds == (0, 7)
        assert dashboard.query == 7 and dashboard.step == 7
        dashboard.chunk_size = 3
        dashboard.show_tab("chunkwise linear attention")
        assert dashboard.controls["chunk"].step == 3
        dashboard.chunk = 6
        assert "Chunk 2 of 3" in dashboard._chunk_text.object
    assert "Could not" not in dashboard.status


def test_extreme_values_are_clamped_and_never_break_the_dashboard():
    dashboard = FastKernelsDashboard(
        seq_len=10**400, block_size=-3, decay=float("nan"), chunk_size=0, query=500, step=99
    )
    assert (dashboard.seq_len, dashboard.block_size) == (lesson07.MAX_T, 1)
    assert dashboard.decay == dashboard.param.decay.default
    assert dashboard.query == lesson07.MAX_T - 1
    assert "seq_len = an integer of 401 digits is out of range" in dashboard.status
    assert "Could not" not in dashboard.status
    for values in (
        dict(seq_len=2, block_size=64, chunk_size=64),
        dict(seq_len=64, block_size=1, chunk_size=1, decay=0.5),
        dict(decay=1.0, causal=False, seed=20),
    ):
        dashboard.param.update(values)
        assert "Could not" not in dashboard.status, (values, dashboard.status)
        assert np.isfinite(dashboard._stepper.output_source.data["so_far"]).all()


def test_measuring_runs_in_a_worker_and_draws_the_rows(monkeypatch):
    rows = [
        {"method": "sdpa", "seq_len": 256, "seconds": 0.001, "refused": None, "stopped": None},
        {"method": "sdpa", "seq_len": 512, "seconds": 0.003, "refused": None, "stopped": None},
        {"method": "reference", "seq_len": 512, "seconds": None, "refused": "over the memory "
         "budget", "stopped": None},
    ]  # fmt: skip
    calls = []

    def fake(methods, lengths, *, time_budget):
        calls.append((tuple(methods), tuple(lengths), time_budget))
        return rows

    monkeypatch.setattr(lesson07.fast_kernels, "cost_against_length", fake)
    dashboard = FastKernelsDashboard(time_budget=2.0)
    dashboard.measure()
    dashboard.wait(30)
    assert calls == [(lesson07.fast_kernels.DEFAULT_METHODS, lesson07.MEASURED_LENGTHS, 2.0)]
    assert dashboard.measured == rows and not dashboard.measuring
    assert list(dashboard._cost.sources["sdpa"].data["x"]) == [256, 512]
    assert list(dashboard._cost.refused["reference"].data["x"]) == [512]
    assert "measured 2 (kernel, length) pairs" in dashboard._measure_text.object
    dashboard.close()


def test_a_real_measurement_stays_inside_its_budget():
    dashboard = FastKernelsDashboard(time_budget=0.5)
    dashboard.measure()
    dashboard.wait(60)
    seconds = [row["seconds"] for row in dashboard.measured if row["seconds"] is not None]
    assert seconds and all(s > 0 for s in seconds)
    assert {row["seq_len"] for row in dashboard.measured} <= set(lesson07.MEASURED_LENGTHS)


def test_out_of_range_values_set_later_are_refused_by_the_parameter():
    dashboard = FastKernelsDashboard()
    with pytest.raises(ValueError, match="decay"):
        dashboard.decay = 0.0
    with pytest.raises(ValueError, match="seq_len"):
        dashboard.seq_len = 1
