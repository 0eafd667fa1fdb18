"""The classroom load test: moves that always redraw, a short real run, argument errors."""

import json
import random
import subprocess
import sys

import pytest

from attnviz.classroom import ServerProcess, run_classroom
from attnviz.cli import main
from attnviz.dashboards import entries
from attnviz.moves import (
    INPUT_KINDS,
    NOT_IN_FIRST_VIEW,
    DocumentModels,
    ServedDashboard,
    choose_move,
    discover,
    pick_move,
    redraws,
    resolve,
    shown,
)

SLUGS = [entry.slug for entry in entries()]


def _models(*inputs) -> DocumentModels:
    """A document of one Column holding ``inputs`` (name, attributes) as served JSON."""
    children = [
        {"type": "object", "name": name, "id": f"w{i}", "attributes": attributes}
        for i, (name, attributes) in enumerate(inputs)
    ]
    root = {"type": "object", "name": "Column", "id": "root", "attributes": {"children": children}}
    return DocumentModels({"roots": [root]})


@pytest.mark.parametrize("seed", range(20))
def test_a_chosen_value_is_in_range_on_the_grid_and_new(seed):
    rng = random.Random(seed)
    models = _models(
        ("Slider", {"start": 0.05, "end": 5.0, "step": 0.05, "value": 0.5}),
        ("Slider", {"start": 3, "end": 5, "value": 4}),  # step left out: Bokeh's default, 1
        ("panel.models.widgets.Player", {"end": 2, "value": 0}),  # start left out: 0
        ("panel.models.widgets.CustomSelect", {"options": [["a", "A"], ["b", "B"]], "value": "a"}),
        ("Checkbox", {}),  # active left out: False
        ("panel.models.widgets.RadioButtonGroup", {"labels": ["x", "y", "z"], "active": 2}),
        ("MultiChoice", {"options": ["p", "q", "r"], "value": ["p", "q"], "max_items": 2}),
    )
    value, throttled = choose_move(rng, models, "w0")
    assert value[0] == "value" and throttled == ("value_throttled", value[1])
    assert 0.05 <= value[1] <= 5.0 and value[1] != 0.5
    assert abs(round(value[1] / 0.05) * 0.05 - value[1]) < 1e-9  # on the slider's grid
    assert choose_move(rng, models, "w1")[0][1] in (3, 5)
    assert choose_move(rng, models, "w2")[0][1] in (1, 2)
    assert choose_move(rng, models, "w3") == [("value", "b")]
    assert choose_move(rng, models, "w4") == [("active", True)]
    assert choose_move(rng, models, "w5")[0][1] in (0, 1)
    assert choose_move(rng, models, "w6") in ([("value", ["p"])], [("value", ["q"])])  # full


def test_no_move_where_nothing_else_can_be_chosen_or_seen():
    rng = random.Random(0)
    models = _models(
        ("Slider", {"start": 4, "end": 4, "value": 4}),
        ("panel.models.widgets.CustomSelect", {"options": ["only"], "value": "only"}),
        ("MultiChoice", {"options": ["p"], "value": ["p"]}),  # never emptied
        ("Slider", {"start": 0, "end": 9, "value": 1, "visible": False}),
        ("Checkbox", {"disabled": True}),
    )
    for model_id in ("w0", "w1", "w2"):
        assert choose_move(rng, models, model_id) is None
    assert not shown(models, ("root", "w3")) and not shown(models, ("root", "w4"))
    assert shown(models, ("root", "w0"))


def test_patches_keep_the_copy_current_and_tell_a_redraw_from_an_echo():
    models = _models(("Slider", {"start": 0, "end": 9, "value": 1}))
    source = {"type": "object", "name": "ColumnDataSource", "id": "s1", "attributes": {}}
    touched = models.apply_patch(
        {
            "events": [
                {"kind": "ModelChanged", "model": {"id": "w0"}, "attr": "end", "new": 3},
                {"kind": "ModelChanged", "model": {"id": "root"}, "attr": "tags", "new": [source]},
            ]
        }
    )
    assert models.get("w0", "end") == 3 and "s1" in models
    assert redraws(models, touched)  # the Column changed
    assert not redraws(models, {"w0"})  # only an input: not an answer
    assert redraws(models, {"p-new"})  # a model the copy has never seen is drawn new


@pytest.mark.parametrize("slug", SLUGS)
def test_every_chosen_move_changes_the_value_and_redraws_a_figure(slug):
    served = ServedDashboard(slug)
    controls, dropped = discover(slug, moves_per_control=2)
    # every control of the first view redraws today; the others wait in unopened tabs, or
    # (lesson 06's log scale, lesson 07's chunk controls) act only on the figures of a tab
    # not opened yet
    acts_on_unopened_tab = {
        "dsf": {"log_decay"},
        "fast_kernels": {"chunk_size", "decay", "chunk"},
    }.get(slug, set())
    for name, reason in dropped.items():
        assert reason == NOT_IN_FIRST_VIEW or name in acts_on_unopened_tab, (name, reason)
    assert controls
    assert {c.name for c in controls} | set(dropped) == set(served.dashboard.controls)
    rng = random.Random(slug)
    moved = set()
    for _ in range(4 * len(controls)):
        control, model_id, changes = pick_move(rng, served.models, served.base, controls)
        chain = resolve(served.models, served.base, control)
        assert chain[-1] == model_id and shown(served.models, chain)
        for attr, new in changes:
            if attr != "value_throttled":
                assert new != served.models.get(model_id, attr), (control.name, attr, new)
        touched = served.move(model_id, changes)
        changed = [i for i in touched if served.models.type_name(i) not in INPUT_KINDS]
        assert changed, f"{slug}: moving {control.name} to {changes} redrew nothing"
        moved.add(control.name)
    assert len(moved) > len(controls) // 2


@pytest.mark.slow
def test_a_short_classroom_against_the_real_server(tmp_path):
    out = tmp_path / "classroom.json"
    command = [sys.executable, "-m", "attnviz", "bench", "--classroom", "3"]
    command += ["--arrival-seconds", "1", "--classroom-seconds", "5", "--settle-seconds", "2"]
    command += ["--json", "--output", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert json.loads(out.read_text()) == report
    assert report["sessions"] == {"students": 3, "opened": 3}
    assert report["errors"] == 0, report["error_examples"]
    assert report["moves"] >= 3 and report["unanswered"] == 0, report["unanswered_examples"]
    assert report["answered"] == report["moves"]
    for figure in ("p50", "p95", "max"):
        assert report["session_open_s"][figure] > 0 and report["answer_ms"][figure] > 0
    assert 0 < report["page_s"]["p50"] <= report["session_open_s"]["p95"]
    assert report["answered_late"] == report["never_answered"] == 0
    server = report["server"]
    assert 0 < server["rss_idle_mb"] <= server["rss_peak_mb"]
    assert server["rss_after_mb"] > 0 and server["cpu_per_session_ms"] > 0
    assert server["cpu_total_s"] >= server["cpu_opening_s"] > 0
    assert list(report["dashboards"]) == SLUGS[:3]
    for row in report["dashboards"].values():
        assert row["opened"] == 1 and row["open_p95_s"] > 0 and row["answer_p95_ms"] > 0
    names = [row["name"] for row in report["targets"]["rows"]]
    assert names[:4] == [
        "session open p95 (s)",
        "slider answer p95 (ms)",
        "errors",
        "unanswered moves",
    ]
    assert report["targets"]["scenario_covered"] is False
    assert {"config", "machine", "moves_plan", "client_cpu_s", "wall_seconds"} <= set(report)


def test_a_server_that_cannot_start_is_reported_and_ended():
    with pytest.raises(RuntimeError, match="exited"):
        run_classroom(1, serve_args=["--dashboard", "nope"], settle_seconds=0)


def test_the_server_process_group_ends(tmp_path):
    server = ServerProcess(0, ["--dashboard", "soft_lookup"])
    server.stop()
    assert server.process.poll() is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--classroom", "0"], "students must be an integer in [1, 200], got '0'"),
        (["--classroom", "201"], "students must be an integer in [1, 200], got '201'"),
        (["--classroom", "many"], "students must be an integer in [1, 200]"),
        (["--classroom", "3", "--classroom-seconds", "0"], "seconds must be in (0, 3600]"),
        (["--classroom", "3", "--arrival-seconds", "-1"], "seconds must be in [0, 600]"),
        (["--classroom", "3", "--settle-seconds", "nan"], "seconds must be in [0, 600]"),
        (["--classroom-seconds", "5"], "--classroom-seconds needs --classroom N"),
        (["--classroom", "3", "--serve-arg=--port=80"], "the classroom chooses --port itself"),
    ],
)
def test_bad_classroom_arguments_print_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["bench", *args])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
