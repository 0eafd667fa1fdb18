"""Lesson 06's dashboard: every control survives its range and changes what is drawn; each
Φ drawn is ``attnviz.dsf``'s own; the sum stepped through row i is the recurrence's y_i;
normalisation makes linear attention's rows sum to W_v; a toggle changes only the classes
it acts on; extreme values never break it."""

import math

import numpy as np
import pytest
from attached import attached, drawn
from panel.io.state import set_curdoc

from attnviz import dsf, model_classes
from attnviz.bench import control_values
from attnviz.dashboards import DSFDashboard, entries, get
from attnviz.dashboards import dsf as lesson06

ALL = list(dsf.KINDS)


def _image(dashboard, kind: str) -> np.ndarray:
    """The Φ the grid draws for ``kind``, (T, T): its panel's image (float32, divided by its
    largest magnitude) times that magnitude."""
    data = dashboard._phi.images.data
    k = data["label"].index(dashboard._phi.titles[kind])
    return np.asarray(data["image"][k], dtype=np.float64) * data["top"][k]


def _system(dashboard, kind: str):
    """The class as dsf builds it, at the dashboard's settings."""
    return dsf.nested_system(
        kind,
        dashboard.T,
        dashboard.d,
        dashboard.seed,
        dashboard.n,
        dashboard.feature_map,
        dashboard.normalize,
        dashboard.gate_bias,
    )


def _shown(dashboard) -> dict:
    """Everything a control can change: the numbers drawn, which figures are shown, titles."""
    state = drawn(dashboard)
    for name, fig in dashboard.figures.items():
        state[(name, "figure")] = (id(fig), fig.visible, fig.title.text)
    return state


def test_lesson_06_is_registered():
    entry = get("dsf")
    assert entry.factory is DSFDashboard
    assert entry.lesson == "06_one_framework_dsf"
    assert entry.title == "06 · One framework (DSF)"
    assert entry in entries()


def test_every_control_across_its_range_changes_the_figures():
    dashboard, document = attached(DSFDashboard)
    with set_curdoc(document):
        for title in dashboard.tab_titles:  # every view built, so every control shows
            dashboard.show_tab(title)
    assert set(dashboard.controls) == {
        "kinds",
        "T",
        "d",
        "seed",
        "feature_map",
        "normalize",
        "n",
        "gate_bias",
        "channel",
        "summary",
        "log_decay",
        "step",
    }
    with set_curdoc(document):
        for name, widget in dashboard.controls.items():
            before = _shown(dashboard)
            initial = widget.value
            changed = False
            for value in control_values(widget, 9):  # ends of every range included
                widget.value = value
                changed = changed or _shown(dashboard) != before
                assert "Could not" not in dashboard.status, (name, value, dashboard.status)
            widget.value = initial  # as attnviz bench does: each control from the defaults
            assert changed, f"moving {name!r} never changed a figure"


def test_the_classes_shown_are_the_panels_drawn():
    dashboard, document = attached(DSFDashboard)
    assert dashboard.kinds == list(lesson06.DEFAULT_KINDS)
    assert list(dashboard._phi.drawn) == list(lesson06.DEFAULT_KINDS)
    with set_curdoc(document):
        dashboard.kinds = ["ssd", "softmax"]
    assert list(dashboard._phi.drawn) == ["softmax", "ssd"]  # in dsf.KINDS order
    assert len(dashboard._phi.images.data["image"]) == 2
    titles = [dashboard._phi.titles[kind] for kind in ("softmax", "ssd")]
    assert dashboard._phi.labels.data["text"] == titles
    assert list(dashboard.views) == ["softmax", "ssd"]
    assert "SSD" in dashboard._table.object and "qLSTM" not in dashboard._table.object
    with set_curdoc(document):
        dashboard.kinds = []
    assert dashboard._phi.images.data["image"] == []
    assert "Choose at least one class" in dashboard._readout.object


def test_a_session_sends_only_its_first_tab_and_a_later_tab_draws_the_current_state():
    """A served session builds the Φ tab only (issue #13: cheap sessions); the curves and the
    trained models' recall are built when their tabs are first opened, and then draw the
    settings chosen before."""
    dashboard, document = attached(DSFDashboard)
    assert set(dashboard.figures) == {"phi"}
    assert len(document.models) <= 90  # about 75 today; the eight-heatmap layout sent 790
    with set_curdoc(document):
        dashboard.controls["step"].value = 5
        dashboard.kinds = ["s6", "qlstm"]
        dashboard.show_tab("decay and build-up")
    assert set(dashboard.figures) == {"phi", "decay", "build_up"}
    line = dashboard._build_up.sources[False].data
    assert list(line["x"]) == list(range(6))
    assert [k for k, r in dashboard._build_up.lines[False].items() if r.visible] == ["s6", "qlstm"]
    assert dashboard.figures["decay"] in set(document.models)  # sent to the browser
    with set_curdoc(document):
        dashboard.show_tab("trained on MQAR")
    assert dashboard.figures["recall"] in set(document.models)


@pytest.mark.parametrize("kind", ALL)
def test_drawn_phi_is_dsfs_phi(kind):
    dashboard, document = attached(lambda: DSFDashboard(kinds=ALL, T=20, d=6, channel=3))
    system = _system(dashboard, kind)
    drawn_phi = _image(dashboard, kind)  # float32: colours need no more
    np.testing.assert_allclose(drawn_phi, system.phi_channels()[3].numpy(), rtol=1e-6, atol=1e-7)
    title = dashboard._phi.titles[kind]
    assert title.endswith(f"N = {'∞' if kind == 'softmax' else int(system.state_size)}")
    assert dashboard._phi.figure.title.text.endswith("channel c = 3")
    with set_curdoc(document):
        dashboard.summary = True
    np.testing.assert_allclose(
        _image(dashboard, kind), system.phi_summary().numpy(), rtol=1e-6, atol=1e-7
    )
    assert dashboard._phi.figure.title.text.endswith("rms over channels")


@pytest.mark.parametrize("step", [0, 7, 19])
def test_the_sum_stepped_through_row_i_is_the_recurrences_y_i(step):
    dashboard, document = attached(lambda: DSFDashboard(kinds=ALL, T=20, d=6, channel=2))
    with set_curdoc(document):
        dashboard.show_tab("decay and build-up")
        dashboard.controls["step"].value = step
    line = dashboard._build_up.sources[False].data
    assert list(line["x"]) == list(range(step + 1))  # inputs j = 0..i, one at a time
    rows = dashboard._phi.rows.data
    assert [t - y for t, y in zip(rows["top"], dashboard._phi.images.data["y"], strict=True)] == [
        step
    ] * len(ALL)  # row i outlined on every Φ
    for kind in ALL:
        system = _system(dashboard, kind)
        u = dsf.nested_weights(20, 6, dashboard.n, dashboard.seed)["u"]
        expected = (system.run(u) if kind != "softmax" else system.apply(u))[step, 2].item()
        assert line[kind][-1] == pytest.approx(expected, abs=1e-9)
    dots = dashboard._build_up.dots[False].data
    for kind, x, y in zip(dots["name"], dots["x"], dots["y"], strict=True):
        assert x == step
        if kind != "softmax":  # the dot is the recurrence's own output, DSF.run
            system = _system(dashboard, kind)
            u = dsf.nested_weights(20, 6, dashboard.n, dashboard.seed)["u"]
            assert y == pytest.approx(system.run(u)[step, 2].item(), abs=1e-12)
    assert f"step i = {step}, channel c = 2" in dashboard._table.object


def test_normalisation_makes_linear_attentions_rows_sum_to_w_v():
    dashboard, document = attached(lambda: DSFDashboard(kinds=["linear_attention"], d=6))
    W_v = dsf.nested_weights(dashboard.T, 6, dashboard.n, dashboard.seed)["W_v"].numpy()
    for c in range(6):
        with set_curdoc(document):
            dashboard.channel = c
        plain = _image(dashboard, "linear_attention").sum(1)
        assert not np.allclose(plain, W_v[c, c])
    with set_curdoc(document):
        dashboard.normalize = True
    assert "(normalised)" in dashboard._phi.titles["linear_attention"]
    for c in range(6):
        with set_curdoc(document):
            dashboard.channel = c
        rows = _image(dashboard, "linear_attention").sum(1)  # Σ_j Φ_ij[c, c]
        np.testing.assert_allclose(rows, W_v[c, c], rtol=1e-5)
    assert dashboard.status == ""


def test_normalising_a_map_that_is_not_positive_falls_back_with_a_note():
    dashboard, document = attached(lambda: DSFDashboard(kinds=["linear_attention"]))
    with set_curdoc(document):
        dashboard.feature_map = "identity"
        dashboard.normalize = True
    assert "shown unnormalised" in dashboard.status
    plain = dsf.nested_system("linear_attention", 32, 8, 0, 4, "identity", False, 0.0)
    np.testing.assert_allclose(
        _image(dashboard, "linear_attention"), plain.phi_channels()[0], rtol=1e-6, atol=1e-7
    )
    with set_curdoc(document):
        dashboard.feature_map = "elu_plus_one"
    assert dashboard.status == ""


def test_a_toggle_changes_only_the_classes_it_acts_on():
    dashboard, document = attached(lambda: DSFDashboard(kinds=ALL))
    before = {kind: _image(dashboard, kind).copy() for kind in ALL}
    with set_curdoc(document):
        dashboard.feature_map = "taylor"
    changed = {kind for kind in ALL if not np.array_equal(_image(dashboard, kind), before[kind])}
    assert changed == set(model_classes.acted_on_by("feature_map"))
    before = {kind: _image(dashboard, kind).copy() for kind in ALL}
    with set_curdoc(document):
        dashboard.gate_bias = 5.0
    changed = {kind for kind in ALL if not np.array_equal(_image(dashboard, kind), before[kind])}
    assert changed == set(model_classes.acted_on_by("gate"))
    before = {kind: _image(dashboard, kind).copy() for kind in ALL}
    with set_curdoc(document):
        dashboard.n = 9
    changed = {kind for kind in ALL if not np.array_equal(_image(dashboard, kind), before[kind])}
    assert changed == set(model_classes.acted_on_by("n"))
    # n is the state expansion: N = n'·d, the taylor map's n' = 1 + n + n²
    view = dashboard.views["s6"]
    assert view.state_size == 9 * 8
    assert dashboard.views["gated_linear_attention"].state_size == (1 + 9 + 81) * 8
    assert dashboard.views["qlstm"].state_size == 8
    assert math.isinf(dashboard.views["softmax"].state_size)


def test_decay_profiles_are_dsfs_and_more_gate_keeps_more_of_the_past():
    dashboard, document = attached(lambda: DSFDashboard(kinds=ALL))
    with set_curdoc(document):
        dashboard.show_tab("decay and build-up")
    decay = dashboard._decay
    assert decay.figure is decay.figures[True]  # log y by default; the linear one not built
    assert set(decay.figures) == {True}
    data = decay.sources[True].data
    assert not decay.lines[True]["softmax"].visible  # softmax has no Λ
    np.testing.assert_allclose(data["linear_attention"], 1.0)  # Λ_i = I
    s6 = _system(dashboard, "s6").decay_profile().numpy()
    np.testing.assert_allclose(data["s6"], s6)
    half = dashboard.T // 2
    low = {k: decay.sources[True].data[k][half] for k in model_classes.acted_on_by("gate")}
    with set_curdoc(document):
        dashboard.gate_bias = 6.0
    high = {k: decay.sources[True].data[k][half] for k in model_classes.acted_on_by("gate")}
    for kind in model_classes.acted_on_by("gate"):
        assert high[kind] > low[kind], kind
    with set_curdoc(document):
        dashboard.log_decay = False  # the linear figure is built now, with the same lines
    assert decay.figure is decay.figures[False] is dashboard.figures["decay"]
    assert decay.figures[False].visible and not decay.figures[True].visible
    assert decay.figures[False] in set(document.models)
    np.testing.assert_allclose(decay.sources[False].data["s6"], decay.sources[True].data["s6"])


def test_step_and_channel_ranges_follow_t_and_d():
    dashboard, document = attached(DSFDashboard)
    step, channel = dashboard.controls["step"], dashboard.controls["channel"]
    assert (step.start, step.end) == (0, 31) and (channel.start, channel.end) == (0, 7)
    with set_curdoc(document):
        dashboard.channel = 7
        dashboard.d = 4  # channel 7 does not fit: it moves to the last one
        assert (channel.end, dashboard.channel) == (3, 3)
        dashboard.step = 20
        dashboard.T = 10
        assert (step.end, dashboard.step) == (9, 9)
        dashboard.T = 64  # at the last step, it stays at the last step
        assert (step.end, dashboard.step) == (63, 63)
        dashboard.step = 3
        dashboard.T = 40
        assert dashboard.step == 3
    assert "Could not" not in dashboard.status


def test_extreme_values_are_clamped_and_never_break_the_dashboard():
    dashboard, document = attached(
        lambda: DSFDashboard(
            kinds=[*ALL, "transformer"],
            T=10_000,
            d=1,
            n=-3,
            gate_bias=float("nan"),
            step=500,
            channel=-2,
        )
    )
    assert (dashboard.T, dashboard.d, dashboard.n) == (lesson06.MAX_T, 4, 1)
    assert dashboard.gate_bias == dashboard.param.gate_bias.default
    assert (dashboard.step, dashboard.channel) == (lesson06.MAX_T - 1, 0)
    assert "T = 10000 is out of range: using 96." in dashboard.status
    assert "step = 500 is out of range: using 95." in dashboard.status
    assert "'transformer'" in dashboard.status
    assert "Could not" not in dashboard.status
    with set_curdoc(document):
        for values in (
            dict(d=5, T=8),  # SSD with one head (5 is odd)
            dict(gate_bias=-4.0, n=16),
            dict(gate_bias=8.0, feature_map="random_features"),
            dict(feature_map="relu", normalize=True),
            dict(d=16, T=96, feature_map="taylor", normalize=True, seed=20),
        ):
            dashboard.param.update(values)
            assert "Could not" not in dashboard.status, (values, dashboard.status)
            assert all(np.isfinite(_image(dashboard, k)).all() for k in ALL)
    assert "T = 10000" not in dashboard.status  # preset notes go once a control moves


def test_out_of_range_values_set_later_are_refused_by_the_parameter():
    dashboard = DSFDashboard()
    with pytest.raises(ValueError, match="T"):
        dashboard.T = 0
    with pytest.raises(ValueError, match="feature_map"):
        dashboard.feature_map = "softmax"


def test_the_trained_models_recall_is_the_shipped_sweep():
    from attnviz.state_size import shipped

    dashboard = DSFDashboard()
    dashboard.show_tab("trained on MQAR")
    fig = dashboard.figures["recall"]
    curves = shipped().curves()
    lines = [r.data_source.data for r in fig.renderers if type(r.glyph).__name__ == "Line"]
    drawn_lines = {data["name"][0]: (list(data["x"]), list(data["y"])) for data in lines}
    for mixer, (sizes, means, _, _) in curves.items():
        assert drawn_lines[model_classes.model_class(mixer).label] == (sizes, means)
    assert "4 key-value pairs" in dashboard._recall_note.object


def test_a_huge_step_or_gate_bias_is_clamped_never_an_overflow():
    dashboard = DSFDashboard(step=10**400, gate_bias=-(10**400), channel=float("nan"))
    assert (dashboard.step, dashboard.channel, dashboard.gate_bias) == (dashboard.T - 1, 0, -4.0)
    assert "step = an integer of 401 digits is out of range" in dashboard.status
    with pytest.raises(TypeError, match="step"):
        DSFDashboard(step=None)
