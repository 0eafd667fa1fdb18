"""The exercise machinery, over every exercise of every lesson: a prediction is asked for,
the revealed answer passes its own check, feedback is deterministic, bad input is named.
Each lesson's own claims are in tests/test_<stem>_exercises.py."""

from __future__ import annotations

import pytest

from attnviz import exercises
from attnviz.exercises import Exercise, Feedback, Solution, check, exercise, get, reveal

ALL_IDS = [ex.id for ex in exercises.exercises()]


@pytest.mark.parametrize("lesson", ["01", "02", "03", "04"])
def test_every_lesson_has_at_least_three_exercises(lesson):
    assert len(exercises.exercises(lesson)) >= 3


@pytest.mark.parametrize("exercise_id", ALL_IDS)
def test_no_answer_asks_for_a_prediction_and_says_how_to_reveal(exercise_id):
    feedback = check(exercise_id, None)
    assert feedback.status == "predict" and feedback.correct is None
    assert "Predict first" in str(feedback)
    assert f"reveal({exercise_id!r})" in str(feedback)
    assert get(exercise_id).prompt() in str(feedback)


@pytest.mark.parametrize("exercise_id", ALL_IDS)
def test_the_revealed_answer_passes_its_own_check(exercise_id):
    answer = get(exercise_id).solution().answer
    assert check(exercise_id, answer).correct is True
    revealed = reveal(exercise_id)
    assert revealed.status == "revealed" and revealed.correct is None
    assert revealed.title.startswith("Answer:")
    assert get(exercise_id).solution().explanation in revealed.body
    assert "{" not in get(exercise_id).prompt()  # every placeholder filled


@pytest.mark.parametrize("exercise_id", ALL_IDS)
def test_feedback_is_deterministic_and_prints_as_its_message(exercise_id):
    answer = get(exercise_id).solution().answer
    first, second = check(exercise_id, answer), check(exercise_id, answer)
    assert first == second
    assert str(first) == repr(first) == first.message
    assert first._repr_markdown_().startswith(f"**{first.title}**")
    assert first.body in first._repr_markdown_()


def test_unknown_id_is_a_value_error_listing_the_known_ids():
    with pytest.raises(ValueError, match="no exercise with id 'nope'") as info:
        check("nope", 1)
    for exercise_id in ALL_IDS:
        assert exercise_id in str(info.value)
    with pytest.raises(ValueError, match="known ids"):
        reveal("01-unknown")


def test_id_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="exercise_id must be a str"):
        check(1, 4)


@pytest.mark.parametrize(
    ("exercise_id", "answer"),
    [
        ("01-boxcar-count", 4.0),
        ("01-boxcar-count", "4"),
        ("01-boxcar-count", True),
        ("01-wide-bandwidth", "3.15"),
        ("01-wide-bandwidth", [3.15]),
        ("01-wide-bandwidth", False),
        ("01-zero-temperature", 2),
    ],
)
def test_answer_of_the_wrong_type_is_a_type_error_naming_the_answer(exercise_id, answer):
    with pytest.raises(TypeError, match=f"answer to '{exercise_id}' must be"):
        check(exercise_id, answer)


def test_answer_out_of_range_is_a_value_error():
    with pytest.raises(ValueError, match="one of the letters 'a', 'b', 'c', 'd', got 'e'"):
        check("01-zero-temperature", "e")
    with pytest.raises(ValueError, match="answer to .01-wide-bandwidth. must be finite, got nan"):
        check("01-wide-bandwidth", float("nan"))
    with pytest.raises(ValueError, match="no parameter"):
        get("01-boxcar-count").solution(sigma=1)


def test_a_later_lesson_registers_its_own_exercise(monkeypatch):
    monkeypatch.setattr(exercises.core, "_REGISTRY", dict(exercises.core._REGISTRY))

    @exercise(id="99-double", lesson="99", question="Double {x}?", kind="integer", x=3)
    def _double(x: int) -> Solution:
        return Solution(answer=2 * x, explanation=f"2 × {x} = {2 * x}.")

    assert isinstance(_double, Exercise)
    assert check("99-double", 6).correct is True
    assert "2 × 3 = 6" in check("99-double", 7).body
    assert [ex.id for ex in exercises.exercises("99")] == ["99-double"]
    with pytest.raises(ValueError, match="already registered"):
        exercises.register(Exercise("99-double", "99", "?", "integer", _double.solver))
    with pytest.raises(ValueError, match="kind must be one of"):
        exercises.register(Exercise("99-bad", "99", "?", "essay", _double.solver))


def test_feedback_markdown_is_its_plain_message_with_a_bold_title():
    feedback = Feedback("x", "correct", "Correct: 1 (x).", "Because.")
    assert feedback._repr_markdown_() == "**Correct: 1 (x).**\n\nBecause."
    assert str(feedback) == "Correct: 1 (x).\n\nBecause."


# --- the argument promise (issue #14) ---------------------------------------------------------


def test_a_huge_answer_is_refused_by_name_never_an_overflow():
    for exercise_id in ("01-boxcar-count", "00-equal-scores"):
        with pytest.raises(ValueError, match="answer"):
            check(exercise_id, 10**400)
    assert check("01-boxcar-count", 10**15).correct is False  # large, but a number to judge


def test_unknown_or_missing_ids_are_named_everywhere():
    for call in (get, check, reveal):
        with pytest.raises(ValueError, match="exercise_id"):
            call("no-such-exercise")
        with pytest.raises(TypeError, match="exercise_id"):
            call(None)
    with pytest.raises(TypeError, match="lesson"):
        exercises.exercises(lesson=3)


def test_exercise_checks_its_arguments_before_any_solver():
    with pytest.raises(TypeError, match="id"):
        exercise(id=None, lesson="99", question="?", kind="number")
    with pytest.raises(ValueError, match="kind"):
        exercise(id="99-x", lesson="99", question="?", kind="essay")
    with pytest.raises(ValueError, match="answer"):
        Solution(answer=float("nan"), explanation="")
