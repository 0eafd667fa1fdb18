"""printed_numbers: nbval passes a rerun that differs from the saved lesson by CPU rounding only."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from attnviz.printed_numbers import NOISE_FLOOR, check_tolerance, numbers_match

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("saved", "printed"),
    [
        ("loss 0.114 nats", "loss 0.115 nats"),  # the last digit flipped
        ("acc=0.998", "acc=0.997"),
        ("[0.649 0.661]", "[0.648 0.662]"),
        ("93.0% overall", "93.1% overall"),
        ("+0.809", "+0.810"),
        ("-0.000", "0.000"),
        ("7.28e-12", "7.29e-12"),
        ("largest difference 2.2e-16", "largest difference 4.4e-16"),  # round-off noise
        ("difference 0.0e+00", "difference 8.9e-16"),
    ],
)
def test_rounding_differences_pass(saved, printed):
    assert numbers_match(saved, printed)


@pytest.mark.parametrize(
    ("saved", "printed"),
    [
        ("loss 0.114 nats", "loss 0.116 nats"),  # two units: a real change
        ("step 175", "step 176"),  # integers are exact
        ("30 of 64 steps", "31 of 64 steps"),
        ("zero-ablate L1H1", "zero-ablate L1H0"),  # digits inside words are words
        ("induction_2l: 0.5", "induction_1l: 0.5"),
        ("loss 0.114 nats", "loss 0.114 bits"),
        ("0.114", "0.114 0.2"),
        ("1.64e-06", "1.66e-06"),
        ("error 2.0e-09", "error 4.0e-09"),  # above the noise floor
    ],
)
def test_real_differences_fail(saved, printed):
    assert not numbers_match(saved, printed)


def test_a_cell_tolerance_widens_every_number():
    saved = "acc=0.998 after 175 steps"
    assert not numbers_match(saved, "acc=0.970 after 180 steps")
    assert numbers_match(saved, "acc=0.970 after 180 steps", {"abs": 0.03, "rel": 0.05})
    assert not numbers_match(saved, "acc=0.960 after 180 steps", {"abs": 0.03, "rel": 0.01})
    assert numbers_match("4.0e-10", "9.0e-10") and NOISE_FLOOR == 1e-9


@pytest.mark.parametrize(
    ("tolerance", "error", "words"),
    [
        ([0.1], TypeError, "must be a dict"),
        ({"absolute": 0.1}, ValueError, "unknown keys ['absolute']"),
        ({"abs": "0.1"}, TypeError, "tolerance['abs'] must be a number"),
        ({"rel": True}, TypeError, "tolerance['rel'] must be a number"),
        ({"abs": -0.1}, ValueError, "must be finite and >= 0, got -0.1"),
        ({"rel": float("nan")}, ValueError, "must be finite and >= 0, got nan"),
    ],
)
def test_bad_tolerances_are_named(tolerance, error, words):
    with pytest.raises(error) as caught:
        check_tolerance(tolerance)
    assert words in str(caught.value)


def _notebook(folder, printed, saved, tolerance=None):
    """A one-cell notebook that prints ``printed`` but was saved printing ``saved``."""
    cell = nbformat.v4.new_code_cell(f"print({printed!r})", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=saved + "\n")]
    if tolerance is not None:
        cell.metadata["tolerance"] = tolerance
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, folder / "lesson.ipynb")


@pytest.mark.parametrize(
    ("printed", "saved", "tolerance", "passes"),
    [
        ("acc=0.998", "acc=0.998", None, True),
        ("acc=0.997", "acc=0.998", None, True),
        ("acc=0.990", "acc=0.998", None, False),
        ("acc=0.990", "acc=0.998", {"abs": 0.01, "why": "measured"}, True),
        ("rec=0.990", "acc=0.998", {"abs": 0.01}, False),
    ],
)
def test_nbval_uses_the_lessons_rule(tmp_path, printed, saved, tolerance, passes):
    """The lessons' real conftest.py, under real nbval, on a saved notebook."""
    shutil.copy(REPO / "lessons" / "conftest.py", tmp_path / "conftest.py")
    _notebook(tmp_path, printed, saved, tolerance)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), str(tmp_path / "lesson.ipynb")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert (result.returncode == 0) == passes, result.stdout[-2000:]
    if not passes:
        assert "mismatch" in result.stdout
