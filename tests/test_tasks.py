"""tasks: the synthetic tasks have exactly the structure their docstrings promise."""

import numpy as np
import pytest
import torch

from attnviz.tasks import (
    BOS,
    IGNORE_INDEX,
    NEEDLE,
    QUERY,
    SEP,
    TaskData,
    copy_task,
    lagged_copy,
    make_task,
    mqar,
    needle,
    periodic_tokens,
    repeated_tokens,
)

# --- repeated tokens ------------------------------------------------------------------------------


def test_repeated_tokens_is_bos_then_the_same_half_twice():
    data = repeated_tokens(50, 8, 20, seed=3)
    ids = data.input_ids
    assert ids.shape == (50, 17) and ids.dtype == torch.long
    assert torch.all(ids[:, 0] == BOS)
    assert torch.equal(ids[:, 1:9], ids[:, 9:])
    assert ids[:, 1:].min() >= 1 and ids.max() < 20
    assert all(len(set(row.tolist())) == 8 for row in ids[:, 1:9])  # distinct in a half
    assert torch.equal(data.targets[:, :-1], ids[:, 1:])  # next token everywhere...
    assert torch.all(data.targets[:, -1] == IGNORE_INDEX)  # ...but after the last
    assert data.vocab_size == 20 and len(data) == 50 and data.seq_len == 17


def test_repeated_tokens_masks_compare_the_same_tokens_in_each_half():
    data = repeated_tokens(4, 8, 20, seed=0)
    first = data.masks["first_half"][0].nonzero().flatten().tolist()
    repeated = data.masks["repeated_half"][0].nonzero().flatten().tolist()
    assert first == list(range(1, 8))  # positions holding r₁..r₇, predicting r₂..r₈
    assert repeated == list(range(9, 16))
    row = data.targets[0]
    assert torch.equal(row[first], row[repeated])
    assert data.spans["first"][0].tolist() == [1, 9] and data.spans["second"][0].tolist() == [9, 17]


def test_repeated_tokens_without_bos_or_distinctness():
    data = repeated_tokens(200, 10, 5, seed=0, bos=False, distinct=False)
    assert data.input_ids.shape == (200, 20)
    assert torch.equal(data.input_ids[:, :10], data.input_ids[:, 10:])
    assert any(len(set(row.tolist())) < 10 for row in data.input_ids[:, :10])
    assert data.masks["repeated_half"][0].nonzero().flatten().tolist() == list(range(10, 19))


def test_repeated_tokens_with_varied_periods_repeat_each_sequence_with_its_own_period():
    data = repeated_tokens(300, 8, 20, seed=1, min_half=3)
    periods = data.spans["first"][:, 1] - data.spans["first"][:, 0]
    assert set(periods.tolist()) == set(range(3, 9))
    for ids, period, repeated in zip(
        data.input_ids, periods, data.masks["repeated_half"], strict=True
    ):
        body = ids[1:]
        assert torch.equal(body[period:], body[:-period])  # periodic with that period
        assert len(set(body[:period].tolist())) == period
        assert repeated.nonzero().flatten().tolist() == list(range(1 + period, 16))


def test_repeated_tokens_errors_name_the_argument():
    with pytest.raises(ValueError, match="seq_half must be at most vocab - 1 = 9"):
        repeated_tokens(4, 10, 10)
    with pytest.raises(ValueError, match=r"min_half must be an integer in \[2, 8\]"):
        repeated_tokens(4, 8, 20, min_half=9)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 16777216\]"):
        repeated_tokens(0, 8, 20)
    with pytest.raises(TypeError, match="bos must be True or False"):
        repeated_tokens(4, 8, 20, bos=1)


# --- periodic tokens ------------------------------------------------------------------------------


def test_periodic_tokens_repeat_a_block_of_distinct_tokens_to_any_length():
    data = periodic_tokens(300, 100, 20, seed=2, min_period=3, max_period=12)
    assert data.input_ids.shape == (300, 100) and torch.all(data.input_ids[:, 0] == BOS)
    periods = data.spans["first"][:, 1] - data.spans["first"][:, 0]
    assert set(periods.tolist()) == set(range(3, 13))
    assert torch.all(data.spans["first"][:, 0] == 1)
    for ids, targets, period, first, repeated in zip(
        data.input_ids, data.targets, periods, data.masks["first_half"],
        data.masks["repeated_half"], strict=True,
    ):  # fmt: skip
        body = ids[1:]
        assert torch.equal(body[period:], body[:-period])  # periodic with that period
        assert len(set(body[:period].tolist())) == period and body.min() >= 1
        assert torch.equal(targets[:-1], ids[1:]) and targets[-1] == IGNORE_INDEX
        assert first.nonzero().flatten().tolist() == list(range(1, period))
        assert repeated.nonzero().flatten().tolist() == list(range(1 + period, 99))
    assert data.spans["second"].tolist() == [[1 + p, 1 + 2 * p] for p in periods.tolist()]


def test_periodic_tokens_default_to_every_period_the_vocabulary_allows():
    data = periodic_tokens(200, 9, 6, seed=0)  # periods 2..5; the second period may be cut
    periods = data.spans["first"][:, 1] - data.spans["first"][:, 0]
    assert set(periods.tolist()) == {2, 3, 4, 5}
    assert torch.all(data.spans["second"][:, 1] <= 9)
    assert data.recipe == {"task": "periodic_tokens", "n": 200, "length": 9, "vocab": 6,
                           "seed": 0, "min_period": 2, "max_period": 5}  # fmt: skip


def test_periodic_tokens_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"max_period must be an integer in \[4, 9\]"):
        periodic_tokens(4, 50, 10, min_period=4, max_period=10)
    with pytest.raises(ValueError, match=r"min_period must be an integer in \[2, 9\]"):
        periodic_tokens(4, 50, 10, min_period=1)
    with pytest.raises(ValueError, match=r"min_period must be an integer in \[2, 4\]"):
        periodic_tokens(4, 5, 10, min_period=5)  # no room for a second period
    with pytest.raises(ValueError, match=r"length must be an integer in \[3, 16777216\]"):
        periodic_tokens(4, 2, 10)
    with pytest.raises(ValueError, match=r"vocab must be an integer in \[3, 16777216\]"):
        periodic_tokens(4, 50, 2)


# --- MQAR, as Zoology's multiquery_ar -------------------------------------------------------------


def test_mqar_follows_zoologys_generator_rules():
    n, seq_len, kv, vocab = 400, 64, 8, 100
    data = mqar(n, seq_len, kv, vocab, seed=0)
    ids, targets = data.input_ids.numpy(), data.targets.numpy()
    assert ids.shape == targets.shape == (n, seq_len)
    context = 2 * kv
    keys, values = ids[:, 0:context:2], ids[:, 1:context:2]
    assert keys.min() >= 1 and keys.max() < vocab // 2  # keys from [1, V/2)
    assert values.min() >= vocab // 2 and values.max() < vocab  # values from [V/2, V)
    for row in range(n):
        assert len(set(keys[row])) == kv and len(set(values[row])) == kv  # no replacement
        rest = ids[row, context:]
        query_offsets = np.flatnonzero(rest)
        assert len(query_offsets) == kv  # each key comes back once; fillers are 0
        assert np.all(query_offsets % 2 == 0)  # at even offsets 2g
        assert sorted(rest[query_offsets]) == sorted(keys[row])
        # the label sits at the query itself: the key's value; -100 everywhere else
        lookup = dict(zip(keys[row], values[row], strict=True))
        labelled = np.flatnonzero(targets[row] != IGNORE_INDEX)
        assert np.array_equal(labelled, context + query_offsets)
        assert all(targets[row, p] == lookup[ids[row, p]] for p in labelled)
    assert torch.equal(data.masks["queries"], data.targets != IGNORE_INDEX)
    assert data.spans["context"][0].tolist() == [0, context]


def test_mqar_gaps_follow_the_power_law():
    """a = 0.01 puts most queries right after the context; a = 1 spreads them evenly."""
    n, seq_len, kv = 2000, 64, 4
    space = (seq_len - 2 * kv) // 2

    def gaps(power_a):
        data = mqar(n, seq_len, kv, 128, seed=1, power_a=power_a)
        positions = data.masks["queries"].nonzero()[:, 1]
        return ((positions - 2 * kv) // 2).numpy()

    skewed, uniform = gaps(0.01), gaps(1.0)
    assert skewed.min() >= 0 and skewed.max() < space
    # p(g) ∝ (g+1)^(a-1): with a = 0.01 about 1/H(space) of the first draws hit g = 0
    assert np.mean(skewed == 0) > 0.1
    assert np.mean(skewed) < 0.6 * np.mean(uniform)
    # a = 1 is uniform over [0, space): every gap is used about equally often
    counts = np.bincount(uniform, minlength=space)
    assert counts.min() > 0.6 * counts.mean() and counts.max() < 1.4 * counts.mean()


def test_mqar_random_non_queries_fills_only_the_zeros():
    plain = mqar(50, 32, 4, 64, seed=2)
    noisy = mqar(50, 32, 4, 64, seed=2, random_non_queries=True)
    kept = plain.input_ids != 0
    assert torch.equal(noisy.input_ids[kept], plain.input_ids[kept])
    assert torch.equal(noisy.targets, plain.targets)
    assert (noisy.input_ids[~kept] != 0).float().mean() > 0.9


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((4, 63, 4, 100), "seq_len must be even"),
        ((4, 64, 4, 64), "vocab must be greater than seq_len = 64"),
        ((4, 64, 17, 100), "num_kv_pairs must be at most seq_len / 4 = 16"),
    ],
)
def test_mqar_constraints(args, words):
    with pytest.raises(ValueError, match=words):
        mqar(*args)


# --- copy and needle ------------------------------------------------------------------------------


def test_copy_task_asks_for_the_string_after_sep():
    data = copy_task(10, 6, 12, seed=0)
    ids = data.input_ids
    assert ids.shape == (10, 14)
    assert torch.all(ids[:, 0] == BOS) and torch.all(ids[:, 7] == SEP)
    assert torch.equal(ids[:, 1:7], ids[:, 8:]) and ids[:, 1:7].min() >= 2
    labelled = data.loss_mask[0].nonzero().flatten().tolist()
    assert labelled == list(range(7, 13))  # SEP predicts x₁ ... x₅ predicts x₆
    assert torch.equal(data.targets[:, 7:13], ids[:, 1:7])


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0, None])
def test_needle_hides_the_needle_and_asks_for_it_back(depth):
    data = needle(30, 20, 16, seed=4, needle_len=3, depth=depth)
    ids = data.input_ids
    assert ids.shape == (30, 20 + 2 * 3 + 3)
    assert torch.all(ids[:, 0] == BOS)
    start, stop = data.spans["needle"][:, 0], data.spans["needle"][:, 1]
    answer = data.spans["answer"][0].tolist()
    assert answer == [26, 29] and torch.all(ids[:, 25] == QUERY)
    for row in range(30):
        assert ids[row, start[row] - 1] == NEEDLE
        assert torch.equal(ids[row, start[row] : stop[row]], ids[row, answer[0] : answer[1]])
        assert (ids[row] == NEEDLE).sum() == 1 and (ids[row] == QUERY).sum() == 1
    if depth is not None:
        assert torch.all(start == 2 + round(depth * 20))
    else:
        assert len(set(start.tolist())) > 5
    labelled = data.masks["answer"][0].nonzero().flatten().tolist()
    assert labelled == [25, 26, 27]
    assert torch.equal(data.targets[:, 25:28], ids[:, 26:29])


def test_needle_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"depth must be in \[0, 1\], got 1.5"):
        needle(2, 10, 16, depth=1.5)
    with pytest.raises(ValueError, match=r"vocab must be an integer in \[4, 16777216\]"):
        needle(2, 10, 3)


def test_lagged_copy_asks_for_the_token_lag_places_back():
    data = lagged_copy(12, 20, 6, 16, seed=3)
    ids = data.input_ids
    assert ids.shape == (12, 20) and 0 <= int(ids.min()) and int(ids.max()) < 16
    assert data.loss_mask[0].nonzero().flatten().tolist() == list(range(6, 20))
    assert torch.equal(data.targets[:, 6:], ids[:, :-6])
    assert torch.all(data.targets[:, :6] == IGNORE_INDEX)
    assert torch.equal(data.masks["recall"], data.loss_mask)


def test_lagged_copy_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"lag must be an integer in \[1, 9\], got 10"):
        lagged_copy(2, 10, 10, 16)
    with pytest.raises(ValueError, match=r"length must be an integer in \[2, 16777216\]"):
        lagged_copy(2, 1, 1, 16)


# --- every task -----------------------------------------------------------------------------------

MAKERS = {
    "repeated_tokens": lambda seed: repeated_tokens(20, 8, 20, seed=seed, min_half=4),
    "periodic_tokens": lambda seed: periodic_tokens(20, 40, 20, seed=seed, min_period=4),
    "mqar": lambda seed: mqar(20, 32, 4, 64, seed=seed),
    "copy_task": lambda seed: copy_task(20, 8, 20, seed=seed),
    "needle": lambda seed: needle(20, 16, 20, seed=seed),
    "lagged_copy": lambda seed: lagged_copy(20, 16, 5, 20, seed=seed),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_tasks_are_deterministic_per_seed_and_rebuild_from_their_recipe(name):
    a, b, c = MAKERS[name](0), MAKERS[name](0), MAKERS[name](1)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.input_ids, c.input_ids)
    again = make_task(**a.recipe)
    assert torch.equal(again.input_ids, a.input_ids) and torch.equal(again.targets, a.targets)
    for mask in a.masks.values():
        assert mask.shape == a.input_ids.shape and mask.dtype == torch.bool
        assert not torch.any(mask & ~a.loss_mask)  # a mask only selects positions with a target


def test_task_data_slices_every_field():
    data = repeated_tokens(10, 4, 10, seed=0, min_half=2)
    part = data[2:5]
    assert isinstance(part, TaskData) and len(part) == 3
    assert torch.equal(part.input_ids, data.input_ids[2:5])
    assert torch.equal(part.masks["repeated_half"], data.masks["repeated_half"][2:5])
    assert torch.equal(part.spans["first"], data.spans["first"][2:5])
    assert torch.equal(data[-1].input_ids, data.input_ids[9:])
    with pytest.raises(IndexError):
        data[10]
    with pytest.raises(ValueError, match="task must be one of"):
        make_task("sorting")


# ------------------------------------------------------------------ the argument promise


def test_a_task_past_the_memory_budget_is_refused_by_name():
    from attnviz.tasks import copy_task

    with pytest.raises(ValueError, match=r"copy_task\(n=1,000,000, copy_len=1,000,000\)"):
        copy_task(10**6, 10**6, 10)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 16777216\]"):
        copy_task(10**400, 4, 10)


def test_make_task_names_unknown_and_missing_arguments():
    from attnviz.tasks import make_task

    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['lenght'\]"):
        make_task("copy_task", n=2, lenght=4, vocab=8)
    with pytest.raises(TypeError, match=r"missing argument\(s\) \['copy_len'\]"):
        make_task("copy_task", n=2, vocab=8)
