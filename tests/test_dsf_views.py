"""Lesson 06's views of every class: y_i built up input by input ends on the recurrence's y_i."""

import numpy as np
import pytest

from attnviz import dsf, dsf_views
from attnviz.model_classes import settings_of


@pytest.mark.parametrize("kind", dsf.KINDS)
def test_the_build_up_ends_on_the_recurrences_output(kind):
    settings = settings_of(kind, 4, "elu_plus_one", False, 2.0)
    view = dsf_views.class_view(kind, 24, 6, 0, settings)
    assert view.phi.shape == view.contributions.shape == (6, 24, 24)
    for i, c in ((0, 0), (11, 3), (23, 5)):
        k, partial = view.build_up(i, c)
        assert k.tolist() == list(range(i + 1))
        np.testing.assert_allclose(partial[-1], view.output(i, c), rtol=1e-9, atol=1e-12)
    assert (view.recurrence is None) == (kind == "softmax")


def test_a_class_is_computed_once_per_its_own_settings():
    dsf_views.class_view.cache_clear()
    first = dsf_views.class_view("qlstm", 16, 4, 0, settings_of("qlstm", 2, "relu", False, 1.0))
    again = dsf_views.class_view("qlstm", 16, 4, 0, settings_of("qlstm", 8, "elu_plus_one",
                                                                  True, 1.0))  # fmt: skip
    assert again is first  # n, φ and normalisation do not act on the qLSTM


def test_views_check_their_arguments_before_the_cache():
    settings = settings_of("s6", 2, "relu", False, 1.0)
    dsf_views.class_view("s6", 1, 2, 0, settings)
    with pytest.raises(TypeError, match="T must be an integer"):
        dsf_views.class_view("s6", True, 2, 0, settings)  # True == 1 would hit the cache
    with pytest.raises(TypeError, match="settings must be a tuple"):
        dsf_views.class_view("s6", 4, 2, 0, None)
