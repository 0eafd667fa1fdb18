"""What lesson 02's section 9 says about the shipped ``shakespeare`` model's heads.

The lesson reads the model on three lines of Ariel's song from *The Tempest* (held out of
training) with the first line repeated, and claims: L0H1 and L0H3 are its previous-token
heads; no head attends along the induction stripe of the repeat, and the repeat is not
copied; L0H0 and L1H1 are the heads with α₁ > 0.3 over the first 64 tokens (Gu et al.,
arXiv:2410.10781, ε = 0.3, T = 64), L0H0 a sink on both lines, L1H1 a head that reads the
start of the current line (⟨bos⟩ on the first line, the ⏎ before it on the second).
Thresholds leave a margin around the measured values (in the comments) for CPU rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnviz import maps
from attnviz.shakespeare import encode, held_out_text, token_labels
from attnviz.text_models import load_text_model


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


def test_the_passage_is_the_song_with_its_first_line_again(song):
    assert song["line"] == "Full fathom five thy father lies:\n"
    assert len(song["text"].splitlines()) == 3 and len(song["passage"]) == 135


def test_l0h1_and_l0h3_are_the_previous_token_heads(song):
    previous = maps.previous_token_score(song["maps"])  # L0H1 0.425, L0H3 0.424
    best_two = {tuple(int(i) for i in np.unravel_index(k, previous.shape))
                for k in np.argsort(previous, axis=None)[-2:]}  # fmt: skip
    assert best_two == {(0, 1), (0, 3)}
    assert previous[0, 1] > 0.38 and previous[0, 3] > 0.38
    runner_up = np.sort(previous, axis=None)[-3]  # L1H0 0.389
    assert min(previous[0, 1], previous[0, 3]) > runner_up + 0.02


def test_no_head_attends_along_the_induction_stripe_and_the_repeat_is_not_copied(song):
    passage, period = song["passage"], len(song["text"])
    weights = song["maps"].weights
    stripe = np.mean([weights[:, :, q, q - period + 1] for q in range(1 + period, len(passage))],
                     axis=0)  # fmt: skip
    assert stripe.max() < 0.01  # measured 0.001
    assert maps.induction_score(song["maps"]).max() < 0.1  # measured 0.043
    with torch.no_grad():
        logits = song["model"](passage[None])[0]
    loss = F.cross_entropy(logits[:-1], passage[1:], reduction="none")
    first, repeat = float(loss[: len(song["line"])].mean()), float(loss[period:].mean())
    assert first == pytest.approx(1.799, abs=0.02) and repeat == pytest.approx(1.641, abs=0.02)
    assert repeat > 1.0  # far from copying (induction_2l: 0.015 nats on its second copy)


def test_l0h0_and_l1h1_are_the_heads_past_the_sink_threshold(song):
    alpha = maps.sink_score(song["first_64"])  # L0H0 0.324, L1H1 0.440; next L0H3 0.287
    assert {(int(a), int(b)) for a, b in zip(*np.nonzero(alpha > 0.3), strict=True)} == {
        (0, 0),
        (1, 1),
    }
    assert alpha[0, 0] > 0.31 and alpha[1, 1] > 0.4
    assert np.sort(alpha, axis=None)[-3] < 0.295
    assert maps.sink_fraction(song["first_64"], eps=0.3) == pytest.approx(2 / 16)


def test_l0h0_is_a_sink_and_l1h1_reads_the_start_of_the_line(song):
    newline = len(song["line"])
    first_line, second_line = slice(1, newline + 1), slice(newline + 1, 64)
    l0h0, l1h1 = song["first_64"].head(0, 0), song["first_64"].head(1, 1)
    # L0H0 keeps weight on ⟨bos⟩ on both lines (0.393, 0.219)
    assert l0h0[first_line, 0].mean() > 0.35 and l0h0[second_line, 0].mean() > 0.18
    assert l0h0[second_line, newline].mean() < 0.06  # 0.031
    # L1H1 moves from ⟨bos⟩ (0.754) to the ⏎ that opened the second line (0.749)
    assert l1h1[first_line, 0].mean() > 0.7 and l1h1[second_line, newline].mean() > 0.7
    assert l1h1[second_line, 0].mean() < 0.1  # 0.053
