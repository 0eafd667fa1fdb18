"""Lesson 03's dashboard: roles follow the scores, ablation is live, the shipped training
run is shown, a live run streams its curves and can be stopped, and a session sends only
the heads (the training tab is built, with the current run, when it is opened).
"""

import asyncio

import numpy as np
import pytest
from attached import attached
from bokeh.events import Tap
from own_loop import run_on_own_loop
from panel.io.state import set_curdoc

from attnviz import bench, maps, models
from attnviz.dashboards import HeadJobsDashboard, get
from attnviz.dashboards import head_jobs as lesson03
from attnviz.maps import roles as roles_module

MAX_SESSION_MODELS = 101  # what a fresh session sends (92 models) + 10%: a regression guard


def test_roles_follow_the_documented_thresholds():
    scores = {
        "previous_token": np.array([[0.9, 0.1]]),
        "induction": np.array([[0.0, 0.45]]),
        "duplicate_token": np.array([[0.0, 0.0]]),
        "sink": np.array([[0.0, 0.35]]),
    }
    roles = roles_module.head_roles(scores)
    assert roles[0, 0] == "previous-token"
    assert roles[0, 1] == "induction\nsink"  # strongest (score / threshold) first
    assert roles_module.head_roles({"sink": np.array([[0.29]])})[0, 0] == ""


def test_head_scores_and_single_ablations_are_the_maps_modules():
    dashboard, _ = attached(HeadJobsDashboard)
    model = models.load_lesson_model("induction_2l")
    data = models.lesson_held_out("induction_2l")
    captured = [maps.capture(model, data.input_ids[i]) for i in range(16)]
    expected = np.mean([maps.head_scores(c)["induction"] for c in captured], axis=0)
    np.testing.assert_allclose(dashboard._heat.cells.data["value"], expected.ravel(), rtol=1e-6)
    table = maps.ablation_table(
        model, data.input_ids, data.targets.clamp(min=0), loss_mask=data.masks["repeated_half"]
    )
    np.testing.assert_allclose(dashboard._bars.source.data["top"], table.ravel(), rtol=1e-6)


def test_knocking_out_heads_measures_the_loss_again():
    dashboard, document = attached(HeadJobsDashboard)
    model = models.load_lesson_model("induction_2l")
    data = models.lesson_held_out("induction_2l")[: lesson03.ABLATED_SEQUENCES]
    with set_curdoc(document):
        dashboard.controls["ablate L1H0"].value = True
        fig = dashboard.figures["scores"]
        fig._trigger_event(Tap(model=fig, x=1.1, y=0.2))  # tap L0H1: knocked out too
    assert dashboard.controls["ablate L0H1"].value
    heads = [(0, 1), (1, 0)]
    expected = maps.ablate(
        model,
        data.input_ids,
        data.targets.clamp(min=0),
        heads,
        loss_mask=data.masks["repeated_half"],
    )
    assert dashboard.ablation_change["repeated_half"] == pytest.approx(expected)
    assert "**L0H1, L1H0 knocked out**" in dashboard._ablation_readout.object
    assert f"**{expected:+.3f}**" in dashboard._ablation_readout.object
    assert dashboard._heat.marked == [(0, 1), (1, 0)]
    assert list(dashboard._heat.cells.data["mark"]) == [0, 0.9, 0.9, 0]


def test_the_shipped_run_is_shown_and_the_step_slider_scrubs_it():
    dashboard, document = attached(HeadJobsDashboard)
    history = models.load_lesson_history("induction_2l")
    assert dashboard.step == history.steps[-1]  # opens on the trained model
    with set_curdoc(document):
        dashboard.show_tab(lesson03.TRAINING)
    steps = dashboard._curves.source.data["step"]
    assert list(steps) == list(history.steps)
    repeated = dashboard._curves.source.data[dashboard._curves.column("repeated half")]
    np.testing.assert_allclose(repeated, history.region_loss["repeated_half"])
    with set_curdoc(document):
        dashboard.step = history.steps[3]
    assert dashboard._curves.step_marker.location == history.steps[3]
    recorded = np.asarray(history.scores["induction"][3])
    np.testing.assert_allclose(dashboard._at_step.cells.data["value"], recorded.ravel())
    assert f"**step {history.steps[3]}**" in dashboard._readout.object


def test_train_live_streams_the_curves_and_replaces_the_model():
    dashboard, document = attached(HeadJobsDashboard)
    with set_curdoc(document):
        dashboard.train_live(steps=20)
        assert dashboard._train_button.disabled and not dashboard._stop_button.disabled
        assert len(dashboard._curves.source.data["step"]) == 0  # cleared for the new run
        dashboard.wait()
    assert not dashboard.training
    every = models.LESSON_MODELS["induction_2l"]["train"]["record_every"]
    recorded = sorted({*range(0, 20, every), 20})
    assert list(dashboard._curves.source.data["step"]) == recorded
    assert dashboard.param.step.objects == recorded and dashboard.step == 20
    assert "trained live" in dashboard._progress_text.object
    assert not dashboard._train_button.disabled
    live_model = dashboard._live["induction_2l"][0]
    assert live_model is not models.load_lesson_model("induction_2l")


def test_in_a_notebook_the_event_loop_streams_the_records():
    # a Jupyter kernel runs cells and widget callbacks inside its asyncio loop: the
    # records must reach the figures from that loop, with no one calling drain()
    dashboard, document = attached(HeadJobsDashboard)

    async def click_and_watch():
        dashboard.train_live(steps=10)
        for _ in range(1200):
            if not dashboard.training and dashboard._records.empty():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(3 * lesson03.DRAIN_MS / 1000)

    run_on_own_loop(click_and_watch)
    assert list(dashboard._curves.source.data["step"])[-1] == 10
    assert "trained live" in dashboard._progress_text.object
    assert dashboard._drainer is None  # stopped when the run ended


def test_stop_ends_a_live_run_early():
    dashboard, document = attached(HeadJobsDashboard)
    with set_curdoc(document):
        dashboard.train_live(steps=2000)
        dashboard._stop.set()
        dashboard.wait()
    assert "stopped early" in dashboard._progress_text.object
    assert dashboard._live["induction_2l"][1].steps[-1] < 2000


def test_closing_the_session_stops_a_live_run():
    """``attnviz serve`` calls ``close()`` when a tab closes: the run must not go on."""
    dashboard, document = attached(HeadJobsDashboard)
    with set_curdoc(document):
        dashboard.train_live(steps=2000)
        dashboard.close()
        dashboard._trainer.join(timeout=60)
    assert not dashboard._trainer.is_alive()
    assert dashboard._drainer is None
    dashboard.drain()  # what the thread recorded before it stopped
    assert dashboard._live["induction_2l"][1].steps[-1] < 2000


def test_a_session_sends_only_the_heads_and_the_training_tab_draws_the_current_run():
    cost = bench.session_cost(get("head_jobs"))
    assert cost["models"] <= MAX_SESSION_MODELS, cost
    dashboard, document = attached(HeadJobsDashboard)
    assert set(dashboard.figures) == {"scores", "ablation"} and dashboard._curves is None
    with set_curdoc(document):
        dashboard.model = "induction_1l"  # while the training tab is not built
        assert dashboard._tabs.active == lesson03.HEADS  # the model acts on both tabs
        dashboard.show_tab(lesson03.TRAINING)
    assert set(dashboard.figures) == {"scores", "ablation", "training", "at_step"}
    assert document.get_model_by_id(dashboard.figures["training"].id) is not None  # sent
    history = models.load_lesson_history("induction_1l")
    assert list(dashboard._curves.source.data["step"]) == list(history.steps)
    last = np.asarray(history.scores["induction"][-1])
    np.testing.assert_allclose(dashboard._at_step.cells.data["value"], last.ravel())
    assert dashboard._curves.step_marker.location == history.steps[-1]


def test_moving_the_step_opens_the_training_tab():
    dashboard, document = attached(HeadJobsDashboard)
    history = models.load_lesson_history("induction_2l")
    with set_curdoc(document):
        dashboard.controls["step"].value = history.steps[5]
    assert dashboard._tabs.active == lesson03.TRAINING
    recorded = np.asarray(history.scores["induction"][5])
    np.testing.assert_allclose(dashboard._at_step.cells.data["value"], recorded.ravel())


def test_knock_outs_of_a_shipped_model_are_measured_once_for_every_session():
    lesson03._shipped_knock_out.cache_clear()
    first, document = attached(HeadJobsDashboard)
    with set_curdoc(document):
        first.controls["ablate L1H1"].value = True
    second, document = attached(HeadJobsDashboard)
    with set_curdoc(document):
        second.controls["ablate L1H1"].value = True
    info = lesson03._shipped_knock_out.cache_info()
    assert info.misses == 2 and info.hits == 2  # no head and L1H1, each measured once
    assert first.ablation_change == second.ablation_change
    assert first.ablation_change is not second.ablation_change  # each session its own dict
