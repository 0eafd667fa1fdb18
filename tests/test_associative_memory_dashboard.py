"""Lesson 05's dashboard: every control survives its range and changes what is drawn, the
numbers drawn are the computation modules' own, blocking shows under the delta rule and
not under the Hebbian one, and bad values or bad schedules never break it."""

import numpy as np
import pytest
import torch
from attached import attached, drawn
from panel.io.state import set_curdoc

from attnviz import conditioning, memory
from attnviz.bench import control_values
from attnviz.dashboards import AssociativeMemoryDashboard, entries, get
from attnviz.dashboards import associative_memory as lesson05

SESSION_MODELS = 105  # a fresh session's document: 95 models (issue #13), and 10% to spare
ALL_TABS = (lesson05.CAPACITY_TAB, lesson05.PLAYER_TAB, lesson05.CONDITIONING_TAB)


def opened(factory, *tabs: str):
    """``attached(factory)``, then ``tabs`` opened (and so built), as a student's clicks do."""
    dashboard, document = attached(factory)
    with set_curdoc(document):
        for tab in tabs:
            dashboard.show_tab(tab)
    return dashboard, document


def _curves(dashboard, rule: str) -> dict[tuple[str, str], np.ndarray]:
    """What a strengths figure draws: {(group, stimulus): V over trials}."""
    data = dashboard._strengths[rule].source.data
    return {
        (g, s): np.asarray(y)
        for g, s, y in zip(data["group"], data["stimulus"], data["ys"], strict=True)
    }


def test_lesson_05_is_registered():
    entry = get("associative_memory")
    assert entry.factory is AssociativeMemoryDashboard
    assert entry.lesson == "05_pavlovian_conditioning"
    assert entry.title == "05 · Attention as Pavlovian conditioning"
    assert entry in entries()


def test_every_control_across_its_range_changes_the_figures():
    dashboard, document = opened(AssociativeMemoryDashboard, *ALL_TABS)
    assert set(dashboard.controls) >= {
        "d_k",
        "n_items",
        "rule",
        "keys",
        "criterion",
        "memory_d_k",
        "memory_items",
        "memory_rule",
        "t",
        "experiment",
        "beta",
        "lam",
        "salience_A",
        "salience_B",
    }
    with set_curdoc(document):
        for name, widget in dashboard.controls.items():
            before = drawn(dashboard)
            initial = widget.value
            changed = False
            for value in control_values(widget, 9):  # ends of every range included
                widget.value = value
                changed = changed or drawn(dashboard) != before
            widget.value = initial  # as attnviz bench does: each control from the defaults
            assert changed, f"moving {name!r} never changed a figure"
            assert "Could not" not in dashboard.status, dashboard.status


def test_salience_sliders_follow_the_stimuli_of_the_schedule():
    dashboard, document = attached(AssociativeMemoryDashboard)
    assert "salience_X" not in dashboard.controls  # blocking presents A and B only
    with set_curdoc(document):
        dashboard.experiment = "conditioned_inhibition"
    assert {"salience_A", "salience_X"} <= set(dashboard.controls)
    assert "salience_B" not in dashboard.controls
    assert not dashboard._controls["salience_B"].visible
    assert dashboard._controls["salience_X"].visible


def test_capacity_curve_is_the_sweep_with_its_analytic_curve():
    dashboard, _ = attached(lambda: AssociativeMemoryDashboard(d_k=16, n_items=64))
    sizes = lesson05.n_grid(64, 16)
    assert 16 in sizes and sizes[0] == 1 and sizes[-1] == 64
    expected = memory.capacity_sweep(16, sizes, lesson05.TRIALS, seed=lesson05.SEED)
    data = dashboard._capacity.shown()["measured"]
    np.testing.assert_array_equal(data["x"], sizes)
    np.testing.assert_allclose(data["y"], expected.measured[0])
    np.testing.assert_allclose(data["high"], expected.measured[0] + expected.spread[0])
    np.testing.assert_allclose(data["low"], expected.measured[0] - expected.spread[0])
    np.testing.assert_allclose(dashboard._capacity.shown()["predicted"]["y"], (sizes - 1) / 16)
    assert dashboard._capacity.marker.location == 16
    snr = expected.snr[0, -1]
    assert f"SNR d_k/(N − 1) = **{snr:.3f}**" in dashboard._capacity_readout.object


def test_collapse_draws_every_d_k_against_the_load():
    dashboard, _ = attached(lambda: AssociativeMemoryDashboard(d_k=20))
    curves = lesson05.collapse("hebbian", "random", "mse")
    for d_k, result in zip(lesson05.COLLAPSE_DIMS, curves, strict=True):
        data = dashboard._collapse.shown()[f"d_k = {d_k}"]
        np.testing.assert_allclose(data["x"], result.load[0])
        np.testing.assert_allclose(data["y"], result.measured[0])
    chosen = dashboard._collapse.shown()["chosen"]
    np.testing.assert_allclose(chosen["x"], lesson05.n_grid(128, 20) / 20)


def test_orthonormal_keys_recall_exactly_up_to_d_k():
    dashboard, _ = attached(lambda: AssociativeMemoryDashboard(d_k=16, keys="orthonormal"))
    data = dashboard._capacity.shown()["measured"]
    x, y = data["x"], data["y"]
    assert np.all(y[x <= 16] < 1e-9) and np.all(y[x > 16] > 1e-3)


def test_other_criteria_have_no_mse_curve_and_top1_counts_hits():
    dashboard, document = attached(AssociativeMemoryDashboard)
    with set_curdoc(document):
        dashboard.criterion = "top1"
    assert "predicted" not in dashboard._capacity.shown()
    y = dashboard._capacity.shown()["measured"]["y"]
    assert y[0] == 1.0 and np.all((y >= 0) & (y <= 1))
    assert "top-1 accuracy" in dashboard._capacity_readout.object


def test_player_shows_the_memory_and_each_items_retrieval_error():
    dashboard, document = opened(
        lambda: AssociativeMemoryDashboard(memory_d_k=8, memory_items=24, t=5), lesson05.PLAYER_TAB
    )
    keys, values = memory.random_pairs(lesson05.MEMORY_ITEMS, 8, seed=lesson05.SEED)
    keys, values = keys[:24], values[:24]
    states = memory.write_all(keys, values, "hebbian")
    np.testing.assert_allclose(dashboard._matrix.cells.data["value"], states[5].numpy().ravel())
    bars = np.asarray(dashboard._item_errors.source.data["top"])
    store = memory.AssociativeMemory(8, 8, "hebbian").write(keys[:5], values[:5])
    np.testing.assert_allclose(
        bars, torch.linalg.vector_norm(store.read(keys[:5]) - values[:5], dim=-1)
    )
    assert "**t = 5 of 24**" in dashboard._memory_readout.object
    assert f"**{bars.mean():.3f}**" in dashboard._memory_readout.object
    with set_curdoc(document):
        dashboard.controls["t"].value = 24  # the player's last frame
    assert len(dashboard._item_errors.source.data["top"]) == 24
    assert "**t = 24 of 24**" in dashboard._memory_readout.object


def test_hebbian_interference_grows_past_d_k_and_the_delta_rule_keeps_the_newest():
    dashboard, document = opened(
        lambda: AssociativeMemoryDashboard(memory_d_k=8, memory_items=24, t=24),
        lesson05.PLAYER_TAB,
    )
    hebbian = np.asarray(
        dashboard._error_curve.sources["mean error of the items written"].data["y"]
    )
    # crosstalk ‖S k_i − v_i‖ ≈ √((t − 1)/d_k): √(23/8) at t = 24 against √(7/8) at t = d_k
    assert hebbian[-1] > 1.5 * hebbian[7]
    with set_curdoc(document):
        dashboard.memory_rule = "delta"
    bars = np.asarray(dashboard._item_errors.source.data["top"])
    assert bars[-1] < 1e-9  # β = 1: the newest association is stored exactly
    assert bars[:8].mean() > bars[-8:].mean()  # the old ones were overwritten


def test_player_range_follows_the_number_of_items():
    dashboard, document = attached(AssociativeMemoryDashboard)
    player = dashboard.controls["t"]
    assert (player.start, player.end) == (0, dashboard.memory_items)
    with set_curdoc(document):
        dashboard.memory_items = 5  # t = 8 does not fit: it moves to the end
        assert (player.end, player.value, dashboard.t) == (5, 5, 5)
        dashboard.memory_items = 40  # at the end, it stays at the end
        assert (player.end, dashboard.t) == (40, 40)
        dashboard.t = 3
        dashboard.memory_items = 30
        assert dashboard.t == 3


@pytest.mark.parametrize("experiment", list(conditioning.EXPERIMENTS))
def test_strengths_drawn_are_conditioning_run(experiment):
    dashboard, document = opened(AssociativeMemoryDashboard, lesson05.CONDITIONING_TAB)
    with set_curdoc(document):
        dashboard.experiment = experiment
        dashboard.beta = 0.3
    spec = conditioning.EXPERIMENTS[experiment]
    assert dashboard.schedule == spec.schedules[next(iter(spec.groups))]
    assert dashboard.lam == spec.lam
    saliences = {s: getattr(dashboard, f"salience_{s}") for s in spec.saliences}
    assert saliences == spec.saliences  # loaded with the experiment
    for rule in ("delta", "hebbian"):
        result = conditioning.run(experiment, rule=rule, saliences=saliences, beta=0.3)
        curves = _curves(dashboard, rule)
        for group, run in result.groups.items():
            for s in run.stimuli:
                if (group, s) in curves:
                    np.testing.assert_allclose(curves[(group, s)], run.strength(s))
        final = result.final(3)
        first = next(iter(final))
        cells = " | ".join(f"{v:.3f}" for v in final[first].values())
        assert f"| {first} | {rule} | {cells} |" in dashboard._conditioning_readout.object
    assert spec.claim in dashboard._conditioning_readout.object


def test_delta_rule_shows_blocking_hebbian_does_not():
    dashboard, _ = opened(
        lambda: AssociativeMemoryDashboard(experiment="blocking"), lesson05.CONDITIONING_TAB
    )
    delta, hebbian = _curves(dashboard, "delta"), _curves(dashboard, "hebbian")
    assert delta[("experimental", "B")][-1] < 0.05  # blocked
    assert delta[("control", "B")][-1] > 0.4
    assert hebbian[("experimental", "B")][-1] == pytest.approx(hebbian[("control", "B")][-1])
    phases = dashboard._strengths["delta"].phases.data
    assert list(phases["x"]) == [0.0, 20.0] and list(phases["name"]) == ["pretraining", "compound"]
    data = dashboard._strengths["delta"].source.data
    dashes = dict(zip(data["group"], data["dash"], strict=True))
    assert dashes == {"experimental": "solid", "control": "dashed"}  # the control dashed
    starts = {g: xs[0] for g, xs in zip(data["group"], data["xs"], strict=True)}
    assert starts == {"experimental": 0.0, "control": 20.0}  # the compound phases line up
    colors = {s: c for s, c in zip(data["stimulus"], data["color"], strict=True)}
    other = dashboard._strengths["hebbian"].source.data
    assert colors == dict(zip(other["stimulus"], other["color"], strict=True))


def test_a_typed_schedule_runs_with_the_experiments_control_group():
    dashboard, document = opened(AssociativeMemoryDashboard, lesson05.CONDITIONING_TAB)
    with set_curdoc(document):
        dashboard.schedule_input.value = "5 A+ | 20 AB+"
    target = dashboard.conditioning_target()
    assert isinstance(target, conditioning.Experiment)
    assert target.schedules["control"] == conditioning.EXPERIMENTS["blocking"].schedules["control"]
    result = conditioning.run(target, rule="delta")
    np.testing.assert_allclose(
        _curves(dashboard, "delta")[("experimental", "B")], result["experimental"].strength("B")
    )
    assert _curves(dashboard, "delta")[("experimental", "B")][-1] > 0.05  # less blocking
    assert dashboard.status == ""
    # a stimulus with no slider takes the module's default salience, and the status says so
    with set_curdoc(document):
        dashboard.schedule_input.value = "10 Tone+ | 10 ToneLight+"
    assert f"salience α = {conditioning.DEFAULT_SALIENCE}" in dashboard.status
    assert ("experimental", "Light") in _curves(dashboard, "hebbian")


@pytest.mark.parametrize(
    "text", ["", "20 A+ |", "20 a+", "twenty A+", "0 A+", "20 A* B+", "1000000 A+"]
)
def test_a_bad_schedule_shows_its_message_and_keeps_the_last_figures(text):
    dashboard, document = opened(AssociativeMemoryDashboard, lesson05.CONDITIONING_TAB)
    before = drawn(dashboard)
    with set_curdoc(document):
        dashboard.schedule_input.value = text  # never raises
    with pytest.raises(ValueError) as error:
        conditioning.parse_schedule(text)
    assert dashboard.status == f"schedule: {error.value}"
    assert drawn(dashboard) == before
    with set_curdoc(document):
        dashboard.experiment = "extinction"  # a good one clears the message
    assert dashboard.status == ""


def test_extreme_values_are_clamped_and_never_break_the_dashboard():
    dashboard, document = opened(
        lambda: AssociativeMemoryDashboard(
            d_k=10_000, n_items=-3, memory_d_k=1, memory_items=999, t=-5, beta=7.0, lam=float("nan")
        ),
        *ALL_TABS,
    )
    assert (dashboard.d_k, dashboard.n_items) == (128, 2)
    assert (dashboard.memory_d_k, dashboard.memory_items, dashboard.t) == (4, 48, 0)
    assert dashboard.beta == 1.0 and dashboard.lam == dashboard.param.lam.default
    assert "d_k = 10000 is out of range: using 128." in dashboard.status
    assert "t = -5 is out of range: using 0." in dashboard.status
    assert "Could not" not in dashboard.status
    with set_curdoc(document):
        dashboard.n_items = 256
        dashboard.criterion = "worst"
        dashboard.beta = 1.0
        for stimulus in "AB":
            setattr(dashboard, f"salience_{stimulus}", 1.0)
        dashboard.schedule_input.value = "200 ABX+"  # β Σα = 3: the delta rule diverges
    assert "Could not" not in dashboard.status
    assert "diverges" in dashboard.status
    assert "d_k = 10000" not in dashboard.status  # preset notes go once a control moves


def test_out_of_range_values_set_later_are_refused_by_the_parameter():
    dashboard = AssociativeMemoryDashboard()
    with pytest.raises(ValueError, match="d_k"):
        dashboard.d_k = 0
    with pytest.raises(ValueError, match="rule"):
        dashboard.rule = "gated_delta"


def test_a_fresh_session_sends_the_first_tab_only():
    dashboard, document = attached(AssociativeMemoryDashboard)
    assert len(document.models) <= SESSION_MODELS
    assert set(dashboard.figures) == {"capacity", "collapse"}
    assert dashboard._matrix is None and dashboard._strengths == {}  # nothing drawn unbuilt


def test_tabs_built_later_draw_the_current_state():
    dashboard, document = attached(AssociativeMemoryDashboard)
    with set_curdoc(document):
        dashboard.memory_rule = "delta"
        dashboard.memory_items = 12
        dashboard.t = 7
        dashboard.experiment = "extinction"
        dashboard.beta = 0.25
        dashboard.show_tab(lesson05.PLAYER_TAB)
    keys, values = memory.random_pairs(lesson05.MEMORY_ITEMS, 8, seed=lesson05.SEED)
    states = memory.write_all(keys[:12], values[:12], "delta")
    np.testing.assert_allclose(dashboard._matrix.cells.data["value"], states[7].numpy().ravel())
    assert len(dashboard._item_errors.source.data["top"]) == 7
    assert dashboard._item_errors.figure.x_range.end == 11.5  # 12 slots
    assert "**t = 7 of 12** written (delta" in dashboard._memory_readout.object
    with set_curdoc(document):
        dashboard.show_tab(lesson05.CONDITIONING_TAB)
    saliences = {s: getattr(dashboard, f"salience_{s}") for s in "A"}
    for rule in ("delta", "hebbian"):
        result = conditioning.run("extinction", rule=rule, saliences=saliences, beta=0.25)
        run = result.groups[next(iter(result.groups))]
        curves = _curves(dashboard, rule)
        np.testing.assert_allclose(curves[(next(iter(result.groups)), "A")], run.strength("A"))
    assert set(dashboard.figures) == {
        "capacity",
        "collapse",
        "memory",
        "item_errors",
        "error_curve",
        "delta",
        "hebbian",
    }
    # built, a tab follows its controls like any other
    with set_curdoc(document):
        dashboard.t = 12
    assert len(dashboard._item_errors.source.data["top"]) == 12


def test_a_huge_or_infinite_preset_is_clamped_never_an_overflow():
    dashboard = AssociativeMemoryDashboard(
        d_k=10**400, n_items=-(10**400), beta=float("inf"), lam=np.float64(7.0), t=10**400
    )
    assert (dashboard.d_k, dashboard.n_items) == (128, 2)
    assert dashboard.beta == dashboard.param.beta.default  # inf has no nearest bound: default
    assert dashboard.lam == 2.0
    assert dashboard.t == dashboard.memory_items
    assert "d_k = an integer of 401 digits is out of range: using 128." in dashboard.status
    assert "Could not" not in dashboard.status


@pytest.mark.parametrize(
    ("name", "value"),
    [("d_k", None), ("d_k", "32"), ("d_k", 2.5), ("beta", True), ("t", None), ("schedule", 3)],
)
def test_a_preset_of_the_wrong_type_is_refused_by_name(name, value):
    with pytest.raises(TypeError, match=name):
        AssociativeMemoryDashboard(**{name: value})


def test_the_cached_helpers_check_their_arguments_before_the_cache():
    lesson05.recording(4, 1, "hebbian")  # cached under (4, 1, "hebbian"); True == 1
    with pytest.raises(TypeError, match="n_items"):
        lesson05.recording(4, True, "hebbian")
    with pytest.raises(ValueError, match="d_k"):
        lesson05.sweep(10**400, 16, "hebbian", "random", "mse")
