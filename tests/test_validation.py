"""validation: errors name the argument, the value and what is allowed."""

import numpy as np
import pytest
import torch

from attnviz.validation import (
    as_array,
    as_tensor,
    check_bool,
    check_choice,
    check_int,
    check_real,
    finite_result,
)


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
    with pytest.raises(
        TypeError, match=r"x must be a torch.Tensor or numpy.ndarray, got .abc. \(str\)"
    ):
        as_tensor("x", "abc")
    np.testing.assert_array_equal(as_array("x", torch.tensor([1.0, 2.0])), [1.0, 2.0])
    with pytest.raises(TypeError, match="x must be an array of numbers"):
        as_array("x", ["a", "b"])
    with pytest.raises(ValueError, match=r"x must be 1-dimensional, got shape \(1, 1\)"):
        as_array("x", [[1.0]], ndim=1)


def test_huge_integers_are_out_of_range_not_an_overflow():
    with pytest.raises(
        ValueError, match=r"h must be a finite number in \[0, 1\], got an integer of 401 digits"
    ):
        check_real("h", 10**400, low=0, high=1)
    with pytest.raises(
        ValueError, match="n must be an integer in .1, 5., got a negative integer of 401 digits"
    ):
        check_int("n", -(10**400), low=1, high=5)


def test_scalars_of_numpy_and_torch_count_as_their_numbers():
    assert check_int("n", torch.tensor(4), low=1) == 4
    assert check_real("h", np.float32(0.5)) == 0.5
    assert check_real("h", torch.tensor(0.25, dtype=torch.float16)) == 0.25
    with pytest.raises(TypeError, match=r"h must be a real number, got \(1\+1j\)"):
        check_real("h", torch.tensor(1 + 1j))
    with pytest.raises(TypeError, match="n must be an integer, got None"):
        check_int("n", None)
    with pytest.raises(TypeError, match="flag must be True or False, got 1"):
        check_bool("flag", 1)


def test_as_tensor_refuses_what_holds_no_real_numbers():
    with pytest.raises(ValueError, match="q is a tensor on the meta device"):
        as_tensor("q", torch.empty(2, 3, device="meta"))
    with pytest.raises(TypeError, match="q must hold real numbers, got dtype torch.complex64"):
        as_tensor("q", torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(TypeError, match="q must be a torch.Tensor or numpy.ndarray, got None"):
        as_tensor("q", None)
    assert as_tensor("q", torch.zeros(2, dtype=torch.float16)).dtype == torch.float32
    with pytest.raises(
        ValueError, match=r"q must have 3 dimension\(s\) \(B, T, d\), got shape \(2,\)"
    ):
        as_tensor("q", torch.zeros(2), ndim=3, layout="(B, T, d)")
    with pytest.raises(ValueError, match="q must contain only finite numbers"):
        as_tensor("q", torch.tensor([1.0, float("nan")]), finite=True)
    with pytest.raises(ValueError, match=r"k must not be empty, got shape \(1, 0, 4\)"):
        as_tensor("k", torch.zeros(1, 0, 4), nonempty=True)


def test_finite_result_raises_on_overflow_from_finite_input():
    x = torch.tensor([3e38]) * 10
    with pytest.raises(
        ValueError, match="scores overflowed to NaN or inf from finite inputs.*float32.*scale"
    ):
        finite_result("scores", x, hint="scale the queries down")
    assert finite_result("scores", torch.ones(2)).sum() == 2


def test_as_array_refuses_text_and_bools_that_numpy_would_convert():
    for value in ("1", True, ["1", "2"], b"1"):
        with pytest.raises(TypeError, match="x must be an array of numbers"):
            as_array("x", value)
    with pytest.raises(ValueError, match="x must contain only finite numbers"):
        as_array("x", [10**400])
