"""Lesson 01b's claims about one transformer layer, checked on the course's real models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnviz.kernels.attention import merge_heads, split_heads
from attnviz.lesson_models import load_lesson_model
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.transformer_layer import (
    LESSON_TOKENS,
    diagonal_spread,
    head_writes,
    layer_walkthrough,
    position_scores,
    shift_change,
)

TOKENS = [5, 17, 3, 29, 11, 40, 5, 17, 3, 29, 11, 40]


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


@pytest.fixture(scope="module")
def learned():
    return load_lesson_model("induction_2l")


@pytest.fixture(scope="module")
def rope():
    return load_lesson_model("induction_rope")


@pytest.fixture(scope="module")
def with_mlp():
    config = TinyConfig(n_layers=2, n_heads=4, d_model=16, vocab_size=12, context=10)
    return TinyTransformer(config, seed=3)


def test_projections_are_the_models_own_qkv(learned):
    walk = layer_walkthrough(learned, TOKENS)
    q, k, v = learned.blocks[0].attn.qkv(torch.from_numpy(walk.normed)).split(64, dim=-1)
    for mine, theirs in ((walk.q, q), (walk.k, k), (walk.v, v)):
        assert np.allclose(merge_heads(torch.from_numpy(mine)[None])[0], theirs, atol=1e-6)
    assert walk.w_q.shape == (64, 64) and walk.q.shape == (2, len(TOKENS), 32)


def test_split_then_merge_gives_back_the_same_matrix():
    x = torch.randn(1, 7, 12)
    heads = split_heads(x, 3)  # (1, 3, 7, 4)
    assert heads.shape == (1, 3, 7, 4)
    assert torch.equal(heads[0, 1], x[0, :, 4:8])  # head 1 is columns 4..7
    assert torch.equal(merge_heads(heads), x)


def test_concat_then_w_o_equals_the_sum_of_each_heads_write():
    gen = torch.Generator().manual_seed(0)
    z, w_o = torch.randn(2, 3, 5, 4, generator=gen), torch.randn(12, 8, generator=gen)
    writes = head_writes(z, w_o)  # (2, 3, 5, 8)
    assert writes.shape == (2, 3, 5, 8)
    assert torch.allclose(writes.sum(dim=1), merge_heads(z) @ w_o, atol=1e-5)
    assert torch.allclose(writes[:, 1], z[:, 1] @ w_o[4:8], atol=1e-6)


@pytest.mark.parametrize("model_name", ["learned", "rope", "with_mlp"])
@pytest.mark.parametrize("layer", [0, 1])
def test_layer_output_is_input_plus_head_writes_plus_mlp(model_name, layer, request):
    model = request.getfixturevalue(model_name)
    tokens = TOKENS[: model.config.context] if model_name != "with_mlp" else [1, 4, 2, 9, 0, 4]
    walk = layer_walkthrough(model, tokens, layer=layer)
    # the walkthrough is the model's own Block, and its pieces add up
    assert np.allclose(walk.output, walk.block_output, atol=1e-5)
    assert np.allclose(walk.attention_out, walk.head_writes.sum(axis=0), atol=1e-5)
    rebuilt = walk.x + walk.head_writes.sum(axis=0) + walk.mlp_out
    assert np.allclose(rebuilt, walk.block_output, atol=1e-5)
    assert walk.has_mlp == (model_name == "with_mlp")


def test_the_walkthrough_matches_the_whole_models_logits(learned):
    walk = layer_walkthrough(learned, TOKENS, layer=1)
    final = learned.unembed(learned.ln_final(torch.from_numpy(walk.output)))
    assert torch.allclose(final, learned(torch.tensor(TOKENS))[0], atol=1e-5)


def test_causal_mask_keeps_the_future_out(learned):
    t = 5
    changed = TOKENS[: t + 1] + [0, 1, 2, 3, 4, 6]
    for layer in (0, 1):
        before, after = (layer_walkthrough(learned, s, layer=layer) for s in (TOKENS, changed))
        assert np.allclose(before.output[: t + 1], after.output[: t + 1], atol=1e-6)
        assert not np.allclose(before.output[t + 1 :], after.output[t + 1 :], atol=1e-3)
        upper = np.triu(np.ones((len(TOKENS),) * 2, bool), 1)
        assert np.all(before.weights[:, upper] == 0)
        assert np.all(np.isneginf(before.scores[:, upper]))
    # without the mask, the future leaks into position t
    open_before, open_after = (
        layer_walkthrough(learned, s, causal=False) for s in (TOKENS, changed)
    )
    assert not np.allclose(open_before.output[t], open_after.output[t], atol=1e-3)
    assert open_before.block_output is None


def test_rope_scores_depend_only_on_the_distance(rope, learned):
    scores = position_scores(rope, 5, 17, n_positions=24)
    assert diagonal_spread(scores) < 1e-4 * np.abs(scores).max()
    for m, n, shift in ((3, 1, 10), (7, 7, 16), (2, 9, 5)):
        assert scores[m + shift, n + shift] == pytest.approx(scores[m, n], abs=1e-5)
    absolute = position_scores(learned, 5, 17, n_positions=24)
    assert diagonal_spread(absolute) > 0.1 * np.abs(absolute).max()
    assert absolute[13, 11] != pytest.approx(absolute[3, 1], abs=1e-2)


def test_shifting_the_whole_sequence_changes_learned_weights_not_rope_weights(rope, learned):
    same = [layer_walkthrough(rope, TOKENS, offset=o) for o in (0, 9)]
    assert np.allclose(same[0].weights, same[1].weights, atol=1e-5)
    assert same[1].block_output is None and same[0].block_output is not None
    moved = [layer_walkthrough(learned, TOKENS, offset=o) for o in (0, 9)]
    assert np.abs(moved[0].weights - moved[1].weights).max() > 0.05
    assert moved[1].block_output is not None  # learned positions enter through x
    deep = [layer_walkthrough(rope, TOKENS, layer=1, offset=o) for o in (0, 9)]
    assert np.allclose(deep[0].output, deep[1].output, atol=1e-4)


def test_diagonal_spread_is_zero_for_a_toeplitz_matrix():
    toeplitz = np.subtract.outer(np.arange(5), np.arange(5)) ** 2.0
    assert diagonal_spread(toeplitz) == 0.0
    toeplitz[0, 0] = 3.0
    assert diagonal_spread(toeplitz) == 3.0


def test_bad_arguments_are_named(learned):
    with pytest.raises(TypeError, match="model must be a TinyTransformer"):
        layer_walkthrough(None, TOKENS)
    with pytest.raises(ValueError, match=r"tokens must be ids in \[0, 47\]"):
        layer_walkthrough(learned, [1, 48])
    with pytest.raises(ValueError, match="tokens must hold 1 to 33"):
        layer_walkthrough(learned, [])
    with pytest.raises(ValueError, match=r"offset must be an integer in \[0, 21\]"):
        layer_walkthrough(learned, TOKENS, offset=22)
    with pytest.raises(ValueError, match=r"layer must be an integer in \[0, 1\]"):
        layer_walkthrough(learned, TOKENS, layer=2)
    with pytest.raises(TypeError, match="tokens must be a 1-D sequence of integer"):
        layer_walkthrough(learned, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="head must be an integer"):
        position_scores(learned, 1, 2, head=2)
    with pytest.raises(ValueError, match="w_o must have H·d_head"):
        head_writes(torch.ones(2, 3, 4), torch.ones(7, 8))
    with pytest.raises(ValueError, match="scores must be square"):
        diagonal_spread(np.ones((2, 3)))
    masked = TinyTransformer(TinyConfig(mask="sliding_window", mask_params={"window": 2}))
    with pytest.raises(ValueError, match="model must have no sparse mask"):
        layer_walkthrough(masked, [1, 2])


def test_shift_change_and_decomposition_gap_read_like_the_lesson(rope, learned):
    assert shift_change(rope, LESSON_TOKENS, offset=9) < 1e-5
    assert shift_change(learned, LESSON_TOKENS, offset=9) > 0.05
    assert shift_change(learned, LESSON_TOKENS, offset=0) == 0.0
    for layer in (0, 1):
        assert layer_walkthrough(learned, LESSON_TOKENS, layer=layer).decomposition_gap < 1e-5
    with pytest.raises(ValueError, match="offset"):
        shift_change(learned, LESSON_TOKENS, offset=30)
