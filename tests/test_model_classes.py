"""The model classes are listed once (attnviz.model_classes): the DSF builds each, the MQAR
sweep trains its mixers under the same names, and every figure draws a class alike."""

import pytest

from attnviz import dsf, mixers
from attnviz.model_classes import (
    BY_KIND,
    BY_MIXER,
    CLASSES,
    SETTINGS,
    acted_on_by,
    labels,
    model_class,
    settings_of,
)
from attnviz.plots import CLASS_COLORS, MIXER_STYLES


def test_the_table_names_every_class_the_dsf_builds_and_every_mqar_mixer():
    assert dsf.KINDS == tuple(BY_KIND)
    assert set(BY_MIXER) == set(mixers.MIXERS)
    for model in CLASSES:
        assert set(model.settings) <= set(SETTINGS)


def test_a_class_looks_the_same_in_every_figure():
    assert len({model.color for model in CLASSES}) == len(CLASSES)
    assert len({model.marker for model in CLASSES}) == len(CLASSES)
    assert CLASS_COLORS == tuple(model.color for model in CLASSES)
    for mixer, model in BY_MIXER.items():
        assert MIXER_STYLES[mixer] == (model.color, model.marker)
    assert labels(["attention", "s6"]) == {"attention": "softmax attention", "s6": "S6 (Mamba)"}
    assert model_class("attention") is model_class("softmax")


def test_settings_reach_only_the_classes_they_act_on():
    assert acted_on_by("normalize") == ("linear_attention",)
    assert acted_on_by("gate") == ("gated_linear_attention", "s6", "ssd", "qlstm", "rg_lru")
    assert "softmax" in acted_on_by("n") and "qlstm" not in acted_on_by("n")
    assert settings_of("qlstm", 4, "relu", True, 2.0) == (None, None, None, 2.0)
    assert settings_of("linear_attention", 4, "relu", True, 2.0) == (4, "relu", True, None)


def test_bad_names_are_named():
    with pytest.raises(ValueError, match="no model class 'mamba'; known: softmax"):
        model_class("mamba")
    with pytest.raises(TypeError, match="name must be a class's kind or mixer name"):
        model_class(None)
    with pytest.raises(ValueError, match="setting must be one of"):
        acted_on_by("temperature")


def test_settings_of_checks_every_setting():
    from attnviz.model_classes import settings_of

    with pytest.raises(ValueError, match="n must be"):
        settings_of("s6", 0, "relu", False, 1.0)
    with pytest.raises(TypeError, match="normalize"):
        settings_of("s6", 2, "relu", None, 1.0)
    with pytest.raises(ValueError, match="gate"):
        settings_of("s6", 2, "relu", False, float("nan"))
