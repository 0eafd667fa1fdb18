"""Lesson 03's exercises: each right answer passes, a tempting wrong one fails with a
reason, reveal shows the computation, and the answers come from the shipped models and
attnviz.maps, not from a table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from verdict import verdict

from attnviz import exercises, maps, models, training
from attnviz.exercises import get
from attnviz.exercises.head_jobs import held_out, without_bos

LESSON_03 = (
    "03-perfect-previous-token",
    "03-one-layer",
    "03-knock-out-induction-head",
    "03-k-composition",
    "03-no-sink",
)


@pytest.fixture(scope="module")
def model():
    return models.load_lesson_model("induction_2l")


@pytest.fixture(scope="module")
def data():
    return held_out("induction_2l")


def test_lesson_03_registers_its_exercises():
    registered = {ex.id for ex in exercises.exercises("03")}
    assert set(LESSON_03) <= registered
    assert all(get(i).lesson == "03" for i in LESSON_03)


def test_held_out_sequences_are_the_ones_training_measured_on():
    recipe = models.LESSON_MODELS["induction_2l"]
    data = held_out("induction_2l")
    assert len(data) == recipe["train"].get("eval_size", 64)  # train()'s default
    shipped = models.load_lesson_history("induction_2l")
    measured = training.evaluate(models.load_lesson_model("induction_2l"), data)
    assert measured["repeated_half"] == pytest.approx(
        shipped.region_loss["repeated_half"][-1], abs=1e-5
    )
    with pytest.raises(ValueError, match="model must be one of"):
        held_out("induction_3l")


# -- one claim per exercise ---------------------------------------------------------------


def test_a_perfect_previous_token_head_scores_t_minus_1_over_t():
    assert verdict("03-perfect-previous-token", 0.875).correct is True
    assert verdict("03-perfect-previous-token", 0.88).correct is True  # 2 decimals
    assert verdict("03-perfect-previous-token", 0.87).correct is True
    one = verdict("03-perfect-previous-token", 1.0)
    assert one.correct is False
    assert "The computed answer is 0.875." in one.body and "exclude_current_token" in one.body
    assert verdict("03-perfect-previous-token", 0.8).correct is False
    # computed, not stored: other lengths give (T - 1) / T
    for seq_len in (2, 33, 100):
        assert get("03-perfect-previous-token").solution(seq_len=seq_len).answer == pytest.approx(
            (seq_len - 1) / seq_len
        )


def test_one_layer_beats_chance_but_does_not_solve_the_task(data):
    one = training.evaluate(models.load_lesson_model("induction_1l"), data)
    two = training.evaluate(models.load_lesson_model("induction_2l"), data)
    assert two["repeated_half"] < 0.1 * two["first_half"]  # the 2-layer model solves it
    assert 0.1 * one["first_half"] < one["repeated_half"] < 0.8 * one["first_half"]
    right = verdict("03-one-layer", "b")
    assert right.correct is True
    assert f"{one['repeated_half']:.3f}" in right.body and f"{math.log(47):.3f}" in right.body
    solved = verdict("03-one-layer", "a")
    assert solved.correct is False and "two steps" in solved.body
    nothing = verdict("03-one-layer", "(C)")
    assert nothing.correct is False and "already seen" in nothing.body


def test_the_prompt_numbers_match_the_recipe():
    recipe = models.LESSON_MODELS["induction_1l"]
    prompt = get("03-one-layer").prompt()
    assert f"same {recipe['train']['steps']} training steps" in prompt
    vocab = recipe["task"]["vocab"]
    assert f"ln {vocab - 1} ≈ {math.log(vocab - 1):.2f}" in prompt
    assert f"ln {vocab - 1} ≈ {math.log(vocab - 1):.2f}" in get("03-k-composition").prompt()


def test_one_induction_head_alone_is_not_needed_but_the_pair_is(model, data):
    induction = np.mean(
        [maps.induction_score(maps.capture(model, ids)) for ids in data.input_ids], 0
    )
    strongest = (1, int(induction[1].argmax()))
    mask = data.masks["repeated_half"]
    clean = training.evaluate(model, data)["repeated_half"]
    alone = clean + maps.ablate(model, data.input_ids, data.targets, [strongest], loss_mask=mask)
    both = clean + maps.ablate(
        model, data.input_ids, data.targets, [(1, 0), (1, 1)], loss_mask=mask
    )
    assert alone < 0.2 < math.log(47) < both
    right = verdict("03-knock-out-induction-head", "a")
    assert right.correct is True
    assert f"{alone:.3f}" in right.body and f"{both:.3f}" in right.body
    assert f"L{strongest[0]}H{strongest[1]}" in right.body
    lost = verdict("03-knock-out-induction-head", "c")
    assert lost.correct is False and "*both*" in lost.body


def test_knocking_out_layer_0_breaks_induction(model, data):
    # the question's premise: layer 0 scores under `low` as induction heads
    induction = np.mean(
        [maps.induction_score(maps.capture(model, ids)) for ids in data.input_ids], 0
    )
    low = get("03-k-composition").params["low"]
    assert induction[0].max() < low
    assert f"(under {low:g})" in get("03-k-composition").prompt()
    mask = data.masks["repeated_half"]
    clean = training.evaluate(model, data)["repeated_half"]
    knocked = clean + maps.ablate(
        model, data.input_ids, data.targets, [(0, 0), (0, 1)], loss_mask=mask
    )
    assert knocked > math.log(47)  # worse than a uniform guess
    right = verdict("03-k-composition", "c")
    assert right.correct is True and f"{knocked:.3f}" in right.body
    assert "K-composition" in right.body
    untouched = verdict("03-k-composition", "a")
    assert untouched.correct is False and "keys" in untouched.body


def test_attention_parked_on_bos_protects_the_first_copy(model, data):
    intact = training.evaluate(model, data)
    with without_bos(model, [1]):
        moved = training.evaluate(model, data)
    assert moved["first_half"] > intact["first_half"] + 0.05
    assert moved["repeated_half"] == pytest.approx(intact["repeated_half"], abs=0.05)
    # the hooks are gone afterwards
    assert training.evaluate(model, data)["first_half"] == pytest.approx(intact["first_half"])
    assert all(not block.attn.hook_pattern._forward_hooks for block in model.blocks)
    right = verdict("03-no-sink", "b")
    assert right.correct is True and f"{moved['first_half']:.3f}" in right.body
    assert "-0.000" not in right.body  # an unchanged loss reads +0.000
    nothing = verdict("03-no-sink", "c")
    assert nothing.correct is False and "sums to 1" in nothing.body
    assert verdict("03-no-sink", "a").correct is False


def test_without_bos_moves_the_weight_off_bos_and_keeps_rows_normalised(model, data):
    seen = []

    def keep(_module, _args, pattern):  # runs after without_bos's hook: sees its pattern
        seen.append(pattern)

    with without_bos(model, [1]):
        handle = model.blocks[1].attn.hook_pattern.register_forward_hook(keep)
        try:
            with torch.no_grad():
                model(data.input_ids[:2])
        finally:
            handle.remove()
    pattern = seen[0]  # (B, H, T, T)
    assert torch.all(pattern[..., 1:, 0] == 0)  # no query after the first looks at BOS
    assert torch.allclose(pattern[..., 0, 0], torch.ones(()))  # query 0 sees only BOS
    assert torch.allclose(pattern.sum(dim=-1), torch.ones(pattern.shape[:-1]), atol=1e-5)


def test_wrong_kinds_of_answer_get_a_clear_error():
    with pytest.raises(TypeError, match="must be one of the letters"):
        verdict("03-one-layer", 2)
    with pytest.raises(ValueError, match="must be one of the letters"):
        verdict("03-no-sink", "e")
    with pytest.raises(TypeError, match="must be a number"):
        verdict("03-perfect-previous-token", "0.875")
