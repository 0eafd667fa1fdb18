"""attnviz.state_size: the MQAR state-size sweep and its shipped results (issue #6)."""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

import pytest

from attnviz.mixers import MIXERS
from attnviz.state_size import (
    QUICK,
    SweepResult,
    SweepSettings,
    mqar_state_size_sweep,
    run_specs,
)

ROOT = Path(__file__).resolve().parents[1]


def _script():
    path = ROOT / "tools" / "experiments" / "mqar_state_size.py"
    spec = importlib.util.spec_from_file_location("mqar_state_size", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_preset_structure():
    assert tuple(QUICK["classes"]) == MIXERS
    s = QUICK["settings"]
    assert isinstance(s, SweepSettings) and s.n_layers == 2
    assert 4 * s.num_kv_pairs <= s.seq_len < s.vocab
    specs = run_specs(QUICK["classes"], QUICK["sizes"])
    # softmax attention and the qLSTM once, linear attention and S6 at every size
    assert len(specs) == 2 + 2 * len(QUICK["sizes"])
    assert {(x["mixer"], x["state_expansion"]) for x in specs} >= {("attention", None),
                                                                   ("qlstm", None)}  # fmt: skip


def test_bad_sweep_arguments_are_named():
    with pytest.raises(ValueError, match="classes must be names"):
        run_specs(["mamba"], [1])
    with pytest.raises(ValueError, match="sizes must be an integer"):
        run_specs(["s6"], [0])
    with pytest.raises(ValueError, match="lr must be"):
        SweepSettings(lr=0)


def test_a_tiny_sweep_runs_and_round_trips_through_json(tmp_path):
    seen = []
    result = mqar_state_size_sweep(
        ["attention", "qlstm", "s6"], [1], seq_len=8, num_kv_pairs=2, vocab=12, d_model=8,
        steps=2, batch_size=4, n_train=16, n_test=8, seed=3,
        progress=lambda done, total, run: seen.append((done, total)),
    )  # fmt: skip
    assert seen == [(1, 3), (2, 3), (3, 3)]
    by_mixer = {run["mixer"]: run for run in result.runs}
    assert by_mixer["attention"]["state_size"] == 2 * 8 * 8  # the KV cache at L = 8
    assert by_mixer["qlstm"]["state_size"] == 8
    assert by_mixer["s6"]["state_size"] == 8 and by_mixer["s6"]["seed"] == 3
    for run in result.runs:
        assert 0.0 <= run["accuracy"] <= 1.0
        assert run["model_state_size"] == 2 * run["state_size"]
    again = SweepResult.load(result.save(tmp_path / "r.json"))
    assert again == result
    assert again.curve("s6") == ([8], [by_mixer["s6"]["accuracy"]])
    # deterministic: the same sweep gives the same accuracies
    twice = mqar_state_size_sweep(
        ["s6"], [1], seq_len=8, num_kv_pairs=2, vocab=12, d_model=8, steps=2, batch_size=4,
        n_train=16, n_test=8, seed=3,
    )  # fmt: skip
    assert twice.runs[0]["accuracy"] == by_mixer["s6"]["accuracy"]
    with pytest.raises(ValueError, match="not an MQAR state-size sweep"):
        SweepResult.from_dict({"format": "other"})


def test_the_shipped_results_load_and_follow_the_scripts_recipe():
    path = Path(str(resources.files("attnviz") / "data" / "mqar_state_size.json"))
    result = SweepResult.load(path)
    script = _script()
    name = result.metadata["recipe"]
    recipe = {"full": script.FULL, "reduced": script.REDUCED}[name]
    assert result.metadata["script"] == "tools/experiments/mqar_state_size.py"
    assert result.metadata["recipe_values"] == _jsonable(recipe)
    expected = {
        (seq_len, kv, spec["mixer"], spec["state_expansion"], spec["seed"])
        for seq_len, kv, _vocab in recipe["settings"]
        for spec in run_specs(MIXERS, recipe["sizes"], recipe["seeds"])
    }
    got = {(r["seq_len"], r["num_kv_pairs"], r["mixer"], r["state_expansion"], r["seed"])
           for r in result.runs}  # fmt: skip
    assert got == expected
    for run in result.runs:
        assert 0.0 <= run["accuracy"] <= 1.0 and run["state_size"] > 0


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
