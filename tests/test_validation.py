"""validation: errors name the argument, the value and what is allowed."""

import numpy as np
import pytest
import torch

from attnviz.validation import as_array, as_tensor, check_choice, check_int, check_real


def test_check_real_bounds_and_messages():
    assert check_real("h", 2) == 2.0
    with pytest.raises(ValueError, match=r"h must be in \(0, inf\], got 0"):
        check_real("h", 0, low=0, low_open=True)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        check_real("p", 1.5, low=0, high=1)
    with pytest.raises(ValueError, match="h must be finite, got inf"):
        check_real("h", float("inf"))
    with pytest.raises(TypeError, match=r"h must be a real number, got True \(bool\)"):
        check_real("h", True)


def test_check_int():
    assert check_int("n", np.int64(3), low=1) == 3
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 5\], got 9"):
        check_int("n", 9, low=1, high=5)
    with pytest.raises(TypeError, match=r"n must be an integer, got 2.0 \(float\)"):
        check_int("n", 2.0)


def test_check_choice():
    assert check_choice("kernel", "boxcar", ("gaussian", "boxcar")) == "boxcar"
    with pytest.raises(ValueError, match=r"kernel must be one of \('a', 'b'\), got 'c'"):
        check_choice("kernel", "c", ("a", "b"))
    with pytest.raises(TypeError, match="kernel must be one of"):
        check_choice("kernel", 3, ("a",))


def test_as_tensor_and_as_array():
    assert as_tensor("x", np.arange(3)).dtype == torch.get_default_dtype()
    with pytest.raises(TypeError, match="x must be a torch.Tensor or numpy.ndarray, got str"):
        as_tensor("x", "abc")
    np.testing.assert_array_equal(as_array("x", torch.tensor([1.0, 2.0])), [1.0, 2.0])
    with pytest.raises(TypeError, match="x must be an array of numbers"):
        as_array("x", ["a", "b"])
    with pytest.raises(ValueError, match=r"x must be 1-dimensional, got shape \(1, 1\)"):
        as_array("x", [[1.0]], ndim=1)
