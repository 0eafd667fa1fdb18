"""What lesson 02's section 9 says about the shipped ``shakespeare`` model's heads.

The lesson reads the model on three lines of Ariel's song from *The Tempest* (held out of
training) with the first line repeated, and claims: L2H2, L0H0 and L3H3 are its strongest
previous-token heads; L3H2 is an induction head, the one head on the stripe of the repeat,
and the repeat is copied (its loss far below the first reading's); L0H1, L2H1 and L3H2 are
the heads with α₁ > 0.3 over the first 64 tokens (Gu et al., arXiv:2410.10781, ε = 0.3,
T = 64), for three reasons: L0H1 a sink on both lines, L2H1 a head that reads the start of
the current line (⟨bos⟩ on the first line, the ⏎ before it on the second), L3H2 the
induction head resting on ⟨bos⟩ while there is nothing to copy. The model card's curve shows
the copying born in a phase change: a passage's second reading costs about as much as its
first until step 1,750 and under half of it from step 2,250 on. 60 % of the training rows
said something again. Thresholds leave a margin around the measured values (in the
comments) for CPU rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnviz import maps
from attnviz.shakespeare import encode, held_out_text, token_labels
from attnviz.text_models import load_text_model, text_model_card


@pytest.fixture(scope="module")
def song():
    play = held_out_text()
    start = play.index("Full fathom five")
    text = play[start : play.index("Nothing of him", start)]
    line = text.splitlines(keepends=True)[0]
    passage = encode(text + line)
    model = load_text_model("shakespeare")
    return {
        "text": text,
        "line": line,
        "passage": passage,
        "model": model,
        "maps": maps.capture(model, passage, tokens=token_labels(passage)),
        "first_64": maps.capture(model, passage[:64]),
    }


def heads(mask) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in zip(*np.nonzero(mask), strict=True)}


def test_the_passage_is_the_song_with_its_first_line_again(song):
    assert song["line"] == "Full fathom five thy father lies:\n"
    assert len(song["text"].splitlines()) == 3 and len(song["passage"]) == 135


def test_l2h2_l0h0_and_l3h3_are_the_previous_token_heads(song):
    previous = maps.previous_token_score(song["maps"])  # L2H2 0.691, L0H0 0.510, L3H3 0.484
    best_three = [tuple(int(i) for i in np.unravel_index(k, previous.shape))
                  for k in np.argsort(previous, axis=None)[::-1][:3]]  # fmt: skip
    assert best_three == [(2, 2), (0, 0), (3, 3)]
    assert previous[2, 2] > 0.66 and previous[0, 0] > 0.48 and previous[3, 3] > 0.45
    runner_up = np.sort(previous, axis=None)[-4]  # L3H0 0.403
    assert previous[3, 3] > runner_up + 0.05


def test_l3h2_is_the_induction_head_and_the_repeat_is_copied(song):
    passage, period = song["passage"], len(song["text"])
    weights = song["maps"].weights
    stripe = np.mean([weights[:, :, q, q - period + 1] for q in range(1 + period, len(passage))],
                     axis=0)  # fmt: skip
    assert heads(stripe > 0.1) == {(3, 2)}
    assert stripe[3, 2] > 0.6  # measured 0.666
    assert np.sort(stripe, axis=None)[-2] < 0.03  # L2H3 0.015
    # on the repeat L3H2 keeps only part of its weight on ⟨bos⟩ (0.231)
    assert weights[3, 2, 1 + period :, 0].mean() < 0.3
    induction = maps.induction_score(song["maps"])  # L3H2 0.210; next L0H1 0.056
    assert heads(induction == induction.max()) == {(3, 2)}
    assert induction[3, 2] > 0.18 and np.sort(induction, axis=None)[-2] < 0.08
    with torch.no_grad():
        logits = song["model"](passage[None])[0]
    loss = F.cross_entropy(logits[:-1], passage[1:], reduction="none")
    first, repeat = float(loss[: len(song["line"])].mean()), float(loss[period:].mean())
    assert first == pytest.approx(1.842, abs=0.02) and repeat == pytest.approx(0.278, abs=0.02)
    assert repeat < first / 4  # copied: 0.278 against 1.842


def test_l0h1_l2h1_and_l3h2_are_the_heads_past_the_sink_threshold(song):
    # L0H1 0.359, L2H1 0.365, L3H2 0.943; next L0H0 0.282
    alpha = maps.sink_score(song["first_64"])
    assert heads(alpha > 0.3) == {(0, 1), (2, 1), (3, 2)}
    assert alpha[0, 1] > 0.34 and alpha[2, 1] > 0.34 and alpha[3, 2] > 0.9
    assert np.sort(alpha, axis=None)[-4] < 0.29
    assert maps.sink_fraction(song["first_64"], eps=0.3) == pytest.approx(3 / 16)


def test_three_reasons_for_one_first_token_score(song):
    newline = len(song["line"])
    first_line, second_line = slice(1, newline + 1), slice(newline + 1, 64)
    capture = song["first_64"]
    l0h1, l2h1, l3h2 = capture.head(0, 1), capture.head(2, 1), capture.head(3, 2)
    # L0H1, a sink: weight on ⟨bos⟩ on both lines (0.434, 0.248), not on the ⏎ (0.006)
    assert l0h1[first_line, 0].mean() > 0.4 and l0h1[second_line, 0].mean() > 0.22
    assert l0h1[second_line, newline].mean() < 0.03
    # L2H1 moves from ⟨bos⟩ (0.635) to the ⏎ that opened the second line (0.714)
    assert l2h1[first_line, 0].mean() > 0.6 and l2h1[second_line, newline].mean() > 0.68
    assert l2h1[second_line, 0].mean() < 0.06  # 0.027
    # L3H2, the induction head with nothing to copy yet, rests on ⟨bos⟩ (0.937, 0.947)
    assert l3h2[first_line, 0].mean() > 0.9 and l3h2[second_line, 0].mean() > 0.9


def test_the_card_shows_copying_born_in_a_phase_change():
    card = text_model_card("shakespeare")
    curve = card["curve"]
    steps = np.array(curve["step"])
    ratio = np.array(curve["second_reading"]) / np.array(curve["first_reading"])
    # second / first reading: 0.95 at step 1,500, 0.81 at 1,750, 0.52 at 2,000, 0.26 at 2,250
    assert (ratio[steps <= 1500] > 0.9).all() and ratio[steps == 1750][0] > 0.75
    assert (ratio[steps >= 2250] < 0.5).all() and (ratio[steps >= 2500] < 0.25).all()
    assert ratio[-1] < 0.1 and steps[-1] == 6000  # 0.110 against 1.621
    second = dict(zip(curve["step"], curve["second_reading"], strict=True))
    assert second[1750] == pytest.approx(1.477, abs=1e-3) and second[2250] == pytest.approx(
        0.470, abs=1e-3
    )
    assert curve["held_out_loss"][-1] == pytest.approx(1.563, abs=1e-3)
    assert card["baselines"]["bigram"] == pytest.approx(2.515, abs=1e-3)
    train = card["train"]  # 25 % random blocks, 15 % looped text, 20 % repeated stretches
    said_again = train["periodic_share"] + train["looped_share"] + train["repeat_share"]
    assert said_again == pytest.approx(0.6)
