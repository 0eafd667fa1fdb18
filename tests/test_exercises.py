"""The exercise machinery, over every exercise of every lesson: a prediction is asked for,
a wrong one gets a hint and a second try before the answer, every hint keeps the answer
to itself, the revealed answer passes its own check, feedback is deterministic, bad input
is named, and every exercise is asked in a lesson. Each lesson's own claims are in
tests/test_<stem>_exercises.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from attnviz import exercises
from attnviz.exercises import (
    TRIES,
    Exercise,
    Feedback,
    Solution,
    Tries,
    check,
    exercise,
    get,
    reveal,
)
from attnviz.exercises.core import FEEDBACK_STATUSES, _format

ALL_IDS = [ex.id for ex in exercises.exercises()]
LESSONS = Path(__file__).resolve().parents[1] / "lessons"


@pytest.fixture(autouse=True)
def fresh_learner(monkeypatch):
    """Each test is a new learner: no wrong tries from an earlier test."""
    monkeypatch.setattr(exercises.core, "_TRIES", Tries())


def _wrong_answers(exercise_id: str) -> tuple:
    """Two different answers the exercise judges wrong."""
    item, solution = get(exercise_id), get(exercise_id).solution()
    if item.kind == "choice":
        others = [letter for letter in item.choices if letter != solution.answer]
        return others[0], others[1]
    step = max(1, 10 * solution.tolerance)
    if item.kind == "integer":
        step = int(step)
    return solution.answer + step, solution.answer + 2 * step


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
    assert check("99-double", 7).status == "hint"  # no hint written: a general one
    assert "2 × 3 = 6" in check("99-double", 8).body
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


# --- a hint and a second try (issue #16) ------------------------------------------------------


def _numbers(text: str) -> list[float]:
    """Every number written in a text (1,024 and 0.25 as well as 3), without signs."""
    return [float(token.replace(",", "")) for token in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


@pytest.mark.parametrize("exercise_id", ALL_IDS)
def test_every_exercise_has_a_hint_that_keeps_the_answer_to_itself(exercise_id):
    item, solution = get(exercise_id), get(exercise_id).solution()
    hint = solution.hint
    assert len(hint.split()) >= 8, "a hint says what to think about, in a sentence or more"
    assert "{" not in hint  # every placeholder filled
    if item.kind == "choice":
        letter = solution.answer
        for written in (f"({letter})", f"'{letter}'", f'"{letter}"', item.choices[letter]):
            assert written not in hint
        return
    answer = abs(float(solution.answer))
    close = max(solution.tolerance, 5e-4)
    # a small whole-number answer may share a digit with a formula (1/d_k for 1.0); any
    # number written with decimals, and any larger number, must differ from the answer
    numbers = _numbers(hint)
    if item.kind == "number" and answer == int(answer) and answer < 10:
        numbers = [x for x in numbers if x != int(x)]
    assert all(abs(x - answer) > close for x in numbers), (hint, solution.answer)


@pytest.mark.parametrize("exercise_id", ALL_IDS)
def test_a_wrong_answer_gets_the_hint_then_the_answer_at_the_second_try(exercise_id):
    solution = get(exercise_id).solution()
    first, second = _wrong_answers(exercise_id)
    hinted = check(exercise_id, first)
    assert hinted.status == "hint" and hinted.correct is False
    assert solution.hint in hinted.body and "one more try" in hinted.body
    assert f"reveal({exercise_id!r})" in hinted.body
    assert solution.explanation not in hinted.body
    assert "computed answer" not in hinted.message
    again = check(exercise_id, first)  # the same answer again uses no try
    assert again.status == "hint" and "gave this answer before" in again.body
    shown = check(exercise_id, second)
    assert shown.status == "wrong" and shown.correct is False
    assert f"The computed answer is {_format(solution.answer)}." in shown.body
    assert solution.explanation in shown.body
    assert check(exercise_id, solution.answer).correct is True  # still judged after that


def test_the_second_try_shows_the_mistake_it_made():
    first = check("00-equal-scores", 0.5)
    assert first.status == "hint" and "add up to 1" in first.body
    assert "That is the score itself" not in first.body
    second = check("00-equal-scores", 2.0)
    assert second.status == "wrong"
    assert "That is the score itself; the weights must add up to 1." in second.body


def test_a_right_answer_at_the_second_try_is_praised_with_the_explanation():
    assert check("01-boxcar-count", 40).status == "hint"
    right = check("01-boxcar-count", get("01-boxcar-count").solution().answer)
    assert right.status == "correct" and right.title.startswith("Correct:")
    assert right.body == get("01-boxcar-count").solution().explanation


def test_reveal_is_there_at_any_try():
    for answer in (None, 40):
        check("01-boxcar-count", answer)
        assert reveal("01-boxcar-count").status == "revealed"
    assert check("01-boxcar-count", 39).status == "wrong"  # reveal used no try


def test_tries_are_kept_per_exercise_and_per_learner():
    assert TRIES == 2
    one, two = Tries(), Tries()
    assert one.check("01-boxcar-count", 40).status == "hint"
    assert one.check("01-key-bias", 1.0).status == "hint"  # its own first try
    assert two.check("01-boxcar-count", 39).status == "hint"  # another learner: a first try
    assert one.wrong_answers("01-boxcar-count") == (40,)
    assert one.check("01-boxcar-count", 39).status == "wrong"
    one.reset("01-boxcar-count")
    assert one.wrong_answers("01-boxcar-count") == ()
    assert one.wrong_answers("01-key-bias") == (1.0,)
    one.reset()
    assert one.wrong_answers("01-key-bias") == ()
    assert one.check("01-boxcar-count", 39).status == "hint"


def test_a_refused_answer_uses_no_try():
    learner = Tries()
    with pytest.raises(TypeError, match="answer to '01-boxcar-count'"):
        learner.check("01-boxcar-count", "four")
    with pytest.raises(ValueError, match="one of the letters"):
        learner.check("01-zero-temperature", "e")
    assert learner.wrong_answers("01-boxcar-count") == ()
    assert learner.check("01-boxcar-count", 40).status == "hint"
    assert learner.check("01-zero-temperature", "(A)").status == "hint"
    assert learner.check("01-zero-temperature", "a").status == "hint"  # the same letter


def test_grade_takes_the_try_as_an_argument_and_checks_it():
    item = get("01-boxcar-count")
    assert item.grade(40).status == "hint"
    assert item.grade(40, attempt=TRIES).status == "wrong"
    assert item.grade(40, attempt=TRIES + 3).status == "wrong"
    with pytest.raises(ValueError, match="attempt"):
        item.grade(40, attempt=0)
    with pytest.raises(TypeError, match="attempt"):
        item.grade(40, attempt=1.5)
    with pytest.raises(ValueError, match="no parameter"):
        item.grade(40, tries=1)


def test_the_statuses_say_what_the_learner_sees():
    assert FEEDBACK_STATUSES == ("predict", "correct", "hint", "wrong", "revealed")
    assert Feedback("x", "hint", "Not yet.", "Hint: think.").correct is False
    with pytest.raises(ValueError, match="status"):
        Feedback("x", "try again", "Not yet.", "")
    with pytest.raises(TypeError, match="hint"):
        Solution(answer=1, explanation="", hint=None)


def _asked_in_lessons() -> set[str]:
    """The ids that some saved lesson's code cells pass to check("...")."""
    asked = set()
    for path in sorted(LESSONS.glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                asked |= set(re.findall(r"""check\(\s*["']([^"']+)["']""", source))
    return asked


def test_every_exercise_is_asked_in_a_lesson_and_every_asked_one_exists():
    asked = _asked_in_lessons()
    assert sorted(set(ALL_IDS) - asked) == [], "defined but never asked in a lesson"
    assert sorted(asked - set(ALL_IDS)) == [], "asked in a lesson but not defined"
