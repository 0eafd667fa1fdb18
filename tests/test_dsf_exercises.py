"""Lesson 06's exercises: each right answer passes, a tempting wrong one fails with a
reason, and the answers come from attnviz.dsf, not from a table."""

from __future__ import annotations

import torch
from verdict import verdict

from attnviz import dsf, exercises
from attnviz.exercises import get

LESSON_06 = (
    "06-state-size",
    "06-same-phi",
    "06-normalised-decay",
    "06-forget-lag",
    "06-mqar-plateau",
)


def test_lesson_06_registers_its_exercises():
    assert set(LESSON_06) <= {ex.id for ex in exercises.exercises("06")}


def test_s6_keeps_n_times_d_numbers():
    assert verdict("06-state-size", 1024).correct is True
    per_channel = verdict("06-state-size", 16)
    assert per_channel.correct is False and "64 channels" in per_channel.body
    assert verdict("06-state-size", 64).correct is False
    assert get("06-state-size").solution(d=8, n=4).answer == 32


def test_only_a_shared_constant_step_keeps_linear_attention_and_s6_equal():
    assert verdict("06-same-phi", "c").correct is True
    decay = verdict("06-same-phi", "a")
    assert decay.correct is False and "forgets" in decay.body
    assert verdict("06-same-phi", "d").correct is False
    u = torch.rand(10, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.1
    attention, s6 = dsf.linear_attention_and_s6(u, 2, delta=2.0)
    torch.testing.assert_close(attention.phi_blocks(), s6.phi_blocks())


def test_normalised_attention_is_not_a_decay():
    assert verdict("06-normalised-decay", "b").correct is True
    grows = verdict("06-normalised-decay", "a")
    assert grows.correct is False and "new query" in grows.body
    assert "steps have Λ_i > 1" in get("06-normalised-decay").solution(seq_len=16).explanation


def test_a_gate_of_0_9_forgets_to_a_tenth_in_22_steps():
    assert verdict("06-forget-lag", 22).correct is True
    assert verdict("06-forget-lag", 21).correct is False
    linear = verdict("06-forget-lag", 9)
    assert linear.correct is False and "multiplied" in linear.body
    assert get("06-forget-lag").solution(keep=0.5, below=0.1).answer == 4  # 0.5^4 = 0.0625


def test_a_qlstm_recalls_about_one_in_kv_on_mqar():
    assert verdict("06-mqar-plateau", "b").correct is True
    plenty = verdict("06-mqar-plateau", "a")
    assert plenty.correct is False and "later query" in plenty.body
    assert verdict("06-mqar-plateau", "c").correct is False
    text = get("06-mqar-plateau").solution().explanation
    assert "1/4" in text and "4096" in text
