"""Synthetic tasks that make attention heads form in seconds on a CPU.

Each generator returns a ``TaskData``: token ids, next-token targets (-100
where there is no loss, as ``torch.nn.functional.cross_entropy`` ignores) and
named masks and spans that say where to look. All are deterministic per seed.

- ``repeated_tokens``: BOS + r₁..r_T + r₁..r_T. The second half can only be
  predicted by looking back: the task on which induction heads form (Olsson et
  al. 2022, "In-context Learning and Induction Heads"). Lesson 03.
- ``periodic_tokens``: BOS + a block of distinct random tokens repeated to any
  length: induction on long inputs (the RoPE lesson model reads 4,096 tokens). Lesson 02.
- ``mqar``: multi-query associative recall, exactly the generator of Zoology
  (Arora, Eyuboglu et al. 2023, arXiv 2312.04927, ``multiquery_ar``). Lessons 03, 06.
- ``copy_task``: BOS + x₁..x_T + SEP + x₁..x_T, loss on the copy only. Lesson 02.
- ``needle``: a needle span hidden in a haystack of random tokens, then a query
  that asks for it back; the spans let a retrieval score be computed (Wu et al.
  2024, "Retrieval Head Mechanistically Explains Long-Context Factuality"). Lesson 03.

Conventions: position p of ``targets`` holds the token the model should predict
*at* p, i.e. ``input_ids[p + 1]`` for next-token tasks. A mask is a boolean
(N, T) tensor over those prediction positions; a span is an (N, 2) tensor of
[start, stop) positions in ``input_ids``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from attnviz.memory_budget import check_bytes
from attnviz.validation import check_bool, check_int, check_real

IGNORE_INDEX = -100  # targets with this value carry no loss
BOS = 0  # beginning-of-sequence token of repeated_tokens, copy_task and needle
SEP = 1  # copy_task: "now copy"
NEEDLE = 1  # needle: marks the start of the needle in the haystack
QUERY = 2  # needle: "now say the needle"

#: The largest value of any size argument (n, a length, vocab): token ids are int64 and
#: every generator fits in memory and seconds; the whole batch must also fit attnviz's
#: memory budget (about 40 bytes per token, plus 12 per vocabulary entry per sequence
#: for the generators that shuffle the vocabulary).
MAX_SIZE = 1 << 24


@dataclass(frozen=True, eq=False)  # eq would compare tensors, which is ambiguous
class TaskData:
    """A batch of a synthetic task: token ids, targets, and where to score them."""

    name: str
    input_ids: torch.Tensor  # (N, T) int64
    targets: torch.Tensor  # (N, T) int64, IGNORE_INDEX where there is no loss
    vocab_size: int
    masks: Mapping[str, torch.Tensor] = field(default_factory=dict)  # name -> (N, T) bool
    spans: Mapping[str, torch.Tensor] = field(default_factory=dict)  # name -> (N, 2) int64
    params: Mapping[str, Any] = field(default_factory=dict)  # the generator's arguments

    @property
    def loss_mask(self) -> torch.Tensor:
        """(N, T) bool: the positions that carry a loss."""
        return self.targets != IGNORE_INDEX

    @property
    def seq_len(self) -> int:
        """T, the length of every sequence."""
        return self.input_ids.shape[1]

    @property
    def recipe(self) -> dict[str, Any]:
        """What regenerates this data: ``make_task(**data.recipe)``."""
        return {"task": self.name, **self.params}

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def __getitem__(self, index: int | slice | torch.Tensor) -> TaskData:
        """The sequences at ``index`` (an int, a slice or an index tensor), as a TaskData."""
        if isinstance(index, int):
            row = range(len(self))[index]  # raises IndexError out of range
            index = slice(row, row + 1)
        return TaskData(
            name=self.name,
            input_ids=self.input_ids[index],
            targets=self.targets[index],
            vocab_size=self.vocab_size,
            masks={key: mask[index] for key, mask in self.masks.items()},
            spans={key: span[index] for key, span in self.spans.items()},
            params=self.params,
        )


def repeated_tokens(
    n: int,
    seq_half: int,
    vocab: int,
    seed: int = 0,
    *,
    bos: bool = True,
    distinct: bool = True,
    min_half: int | None = None,
) -> TaskData:
    """BOS + r₁..r_T + r₁..r_T with random r: the induction-head task (lesson 03).

    The first copy is unpredictable (loss near ln(vocab - 1)); each token of the
    second copy after r₁ is predictable by an induction head, which finds the
    earlier occurrence of the current token and copies the token that followed it
    (Olsson et al. 2022).

    With a fixed T, the second copy is also predictable by position alone: a
    single head that attends T - 1 tokens back solves it, so a 1-layer model
    succeeds without any induction head. ``min_half`` removes that shortcut for
    training: each sequence then draws its own period T in [min_half, seq_half]
    and repeats r₁..r_T until the sequence is full (length 2·seq_half + bos), so
    only "find the earlier occurrence" works.

    Args:
        n: number of sequences.
        seq_half: T, the length of each half (the longest period if ``min_half``).
        vocab: vocabulary size; the random tokens come from [1, vocab), 0 is BOS.
        seed: the random seed.
        bos: start each sequence with BOS (token 0).
        distinct: draw the T tokens of a period without replacement, so every
            predictable position has exactly one right answer.
        min_half: if given, the shortest period; each sequence's period is drawn
            uniformly from [min_half, seq_half].

    Returns:
        TaskData with masks ``"first_half"`` (the positions predicting r₂..r_T in the
        first copy) and ``"repeated_half"`` (every position after the first copy that
        has a target; with a fixed T, those predicting r₂..r_T in the second copy, so
        the two losses compare like for like), and spans ``"first"`` and ``"second"``
        (the first two copies in ``input_ids``).
    """
    n = check_int("n", n, low=1, high=MAX_SIZE)
    seq_half = check_int("seq_half", seq_half, low=2, high=MAX_SIZE)
    vocab = check_int("vocab", vocab, low=3, high=MAX_SIZE)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    bos, distinct = check_bool("bos", bos), check_bool("distinct", distinct)
    if min_half is not None:
        min_half = check_int("min_half", min_half, low=2, high=seq_half)
    if distinct and seq_half > vocab - 1:
        raise ValueError(
            f"seq_half must be at most vocab - 1 = {vocab - 1} for distinct tokens, got {seq_half}"
        )
    _check_task_bytes(
        "repeated_tokens", n=n, seq_half=seq_half, tokens=2 * seq_half + 1,
        vocab=vocab if distinct else 0,
    )  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    if distinct:
        tokens = torch.rand(n, vocab - 1, generator=g).argsort(dim=1)[:, :seq_half] + 1  # (N, T)
    else:
        tokens = torch.randint(1, vocab, (n, seq_half), generator=g)  # (N, T)
    if min_half is None:
        period = torch.full((n, 1), seq_half)  # (N, 1)
    else:
        period = torch.randint(min_half, seq_half + 1, (n, 1), generator=g)  # (N, 1)
    k = torch.arange(2 * seq_half)  # position after BOS
    body = tokens.gather(1, k % period)  # (N, 2T): r₁..r_T r₁..r_T (r₁.. again if shorter)
    parts = [torch.full((n, 1), BOS)] if bos else []
    input_ids = torch.cat([*parts, body], dim=1)  # (N, 2T + bos)
    targets = _next_token_targets(input_ids)
    o = int(bos)  # position of r₁
    p = torch.arange(input_ids.shape[1])  # (L,)
    first = (p >= o) & (p < o + period - 1)  # (N, L) predicting r₂..r_T, first copy
    repeated = (p >= o + period) & (targets != IGNORE_INDEX)  # predicting from the second copy on
    start = o + period[:, 0]  # (N,)
    return TaskData(
        name="repeated_tokens",
        input_ids=input_ids,
        targets=targets,
        vocab_size=vocab,
        masks={"first_half": first, "repeated_half": repeated},
        spans={
            "first": torch.stack([torch.full_like(start, o), start], dim=1),
            "second": torch.stack([start, start + period[:, 0]], dim=1),
        },
        params={"n": n, "seq_half": seq_half, "vocab": vocab, "seed": seed, "bos": bos,
                "distinct": distinct, "min_half": min_half},
    )  # fmt: skip


def periodic_tokens(
    n: int,
    length: int,
    vocab: int,
    seed: int = 0,
    *,
    min_period: int = 2,
    max_period: int | None = None,
) -> TaskData:
    """BOS + r₁..r_P r₁..r_P r₁.. up to ``length`` tokens: induction at any length (lesson 02).

    ``repeated_tokens`` repeats its block once, so its sequences are at most
    2·(vocab - 1) + 1 tokens long. Here the block of P distinct random tokens
    repeats until the sequence is full, so a sequence of any length is all
    repeats after the first period: the task that trains and tests an induction
    head on long inputs. Each sequence draws its own period P from
    [min_period, max_period], so no head that looks a fixed distance back solves it.

    Args:
        n: number of sequences.
        length: tokens per sequence, BOS included.
        vocab: vocabulary size; the block's tokens come from [1, vocab), 0 is BOS.
        seed: the random seed.
        min_period: the shortest period.
        max_period: the longest period, at most vocab - 1 (the block's tokens are
            distinct); default vocab - 1.

    Returns:
        TaskData with the masks of ``repeated_tokens``, so the same losses, scores and
        ``attnviz.training.induction_head_formed`` apply: ``"first_half"`` (the
        positions predicting r₂..r_P in the first period) and ``"repeated_half"`` (every
        position from the second period on that has a target); spans ``"first"`` and
        ``"second"`` (the first two periods in ``input_ids``, the second cut at ``length``).
    """
    n = check_int("n", n, low=1, high=MAX_SIZE)
    length = check_int("length", length, low=3, high=MAX_SIZE)
    vocab = check_int("vocab", vocab, low=3, high=MAX_SIZE)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    _check_task_bytes("periodic_tokens", n=n, length=length, tokens=length, vocab=vocab)
    min_period = check_int("min_period", min_period, low=2, high=min(vocab - 1, length - 1))
    if max_period is None:
        max_period = vocab - 1
    max_period = check_int("max_period", max_period, low=min_period, high=vocab - 1)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.rand(n, vocab - 1, generator=g).argsort(dim=1)[:, :max_period] + 1  # (N, Pmax)
    period = torch.randint(min_period, max_period + 1, (n, 1), generator=g)  # (N, 1)
    body = tokens.gather(1, torch.arange(length - 1) % period)  # (N, L - 1): r₁..r_P r₁..
    input_ids = torch.cat([torch.full((n, 1), BOS), body], dim=1)  # (N, L)
    targets = _next_token_targets(input_ids)
    p = torch.arange(length)  # (L,)
    first = (p >= 1) & (p < period)  # (N, L) predicting r₂..r_P, first period
    repeated = (p >= 1 + period) & (targets != IGNORE_INDEX)  # from the second period on
    start = 1 + period[:, 0]  # (N,)
    return TaskData(
        name="periodic_tokens",
        input_ids=input_ids,
        targets=targets,
        vocab_size=vocab,
        masks={"first_half": first, "repeated_half": repeated},
        spans={
            "first": torch.stack([torch.ones_like(start), start], dim=1),
            "second": torch.stack([start, (start + period[:, 0]).clamp_max(length)], dim=1),
        },
        params={"n": n, "length": length, "vocab": vocab, "seed": seed,
                "min_period": min_period, "max_period": max_period},
    )  # fmt: skip


def mqar(
    n: int,
    seq_len: int,
    num_kv_pairs: int,
    vocab: int,
    seed: int = 0,
    *,
    power_a: float = 0.01,
    random_non_queries: bool = False,
) -> TaskData:
    """Multi-query associative recall, as Zoology's ``multiquery_ar`` (lessons 03, 06).

    The context k₁ v₁ k₂ v₂ … lists ``num_kv_pairs`` pairs, keys drawn from
    [1, vocab/2) and values from [vocab/2, vocab), without replacement inside a
    sequence. Each key then appears once more as a query, at an even offset 2g
    of the remaining region, with gaps g drawn without replacement from the power
    law p(g) ∝ a·(g+1)^(a-1) over g in [0, (seq_len - 2·num_kv_pairs)/2) (a = 0.01
    favours short gaps; a = 1 is uniform). The target at the query's position is
    its key's value (Zoology's inputs and labels are shifted by one); every other
    target is -100. Filler tokens are 0, or random tokens from [0, vocab) if
    ``random_non_queries``. Accuracy is argmax == target over the targets != -100.

    Weighted sampling without replacement uses the Gumbel-top-k trick, which draws
    from the same distribution as ``numpy.random.choice(..., replace=False, p=p)``.

    Args:
        n: number of sequences.
        seq_len: L, even.
        num_kv_pairs: key-value pairs per sequence; 4·num_kv_pairs <= L.
        vocab: V, with V > L.
        seed: the random seed.
        power_a: the power-law exponent a > 0 of the query gaps.
        random_non_queries: fill the non-query positions with random tokens.

    Returns:
        TaskData with mask ``"queries"`` (the positions with a target) and span
        ``"context"`` (the key-value pairs).
    """
    n = check_int("n", n, low=1, high=MAX_SIZE)
    seq_len = check_int("seq_len", seq_len, low=4, high=MAX_SIZE)
    num_kv_pairs = check_int("num_kv_pairs", num_kv_pairs, low=1, high=MAX_SIZE)
    vocab = check_int("vocab", vocab, low=2, high=MAX_SIZE)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    power_a = check_real("power_a", power_a, low=0.0, low_open=True, high=1e6)
    random_non_queries = check_bool("random_non_queries", random_non_queries)
    if seq_len % 2:
        raise ValueError(f"seq_len must be even, got {seq_len}")
    if vocab <= seq_len:
        raise ValueError(f"vocab must be greater than seq_len = {seq_len}, got {vocab}")
    if 4 * num_kv_pairs > seq_len:
        raise ValueError(
            f"num_kv_pairs must be at most seq_len / 4 = {seq_len // 4}, got {num_kv_pairs}"
        )
    # the gumbel scores and their argsort are (n, seq_len / 2) floats and ints
    _check_task_bytes("mqar", n=n, seq_len=seq_len, tokens=2 * seq_len, vocab=vocab)
    rng = np.random.default_rng(seed)
    context = 2 * num_kv_pairs
    half_vocab = vocab // 2
    # keys from [1, V/2), values from [V/2, V), without replacement in each sequence
    keys = rng.random((n, half_vocab - 1)).argsort(axis=1)[:, :num_kv_pairs] + 1  # (N, KV)
    values = rng.random((n, vocab - half_vocab)).argsort(axis=1)[:, :num_kv_pairs] + half_vocab
    # query gaps: power law over [0, space), without replacement (Gumbel-top-k)
    space = (seq_len - context) // 2
    log_p = np.log(power_a) + (power_a - 1) * np.log(np.arange(1, space + 1))  # (space,)
    gumbel = -np.log(-np.log(rng.random((n, space))))
    gaps = np.argsort(-(log_p + gumbel), axis=1, kind="stable")[:, :num_kv_pairs]  # (N, KV)

    input_ids = np.zeros((n, seq_len), dtype=np.int64)
    input_ids[:, 0:context:2] = keys  # k₁ v₁ k₂ v₂ ...
    input_ids[:, 1:context:2] = values
    query_pos = context + 2 * gaps  # (N, KV)
    np.put_along_axis(input_ids, query_pos, keys, axis=1)
    targets = np.full((n, seq_len), IGNORE_INDEX, dtype=np.int64)
    np.put_along_axis(targets, query_pos, values, axis=1)  # the value, at the query
    if random_non_queries:
        filler = rng.integers(0, vocab, size=(n, seq_len))
        input_ids = np.where(input_ids == 0, filler, input_ids)
    input_ids_t, targets_t = torch.from_numpy(input_ids), torch.from_numpy(targets)
    return TaskData(
        name="mqar",
        input_ids=input_ids_t,
        targets=targets_t,
        vocab_size=vocab,
        masks={"queries": targets_t != IGNORE_INDEX},
        spans={"context": _span(n, 0, context)},
        params={
            "n": n,
            "seq_len": seq_len,
            "num_kv_pairs": num_kv_pairs,
            "vocab": vocab,
            "seed": seed,
            "power_a": power_a,
            "random_non_queries": random_non_queries,
        },
    )


def copy_task(n: int, copy_len: int, vocab: int, seed: int = 0) -> TaskData:
    """BOS + x₁..x_T + SEP + x₁..x_T: copy a random string after SEP (lesson 02).

    Tokens x come from [2, vocab); 0 is BOS and 1 is SEP. Only the copy carries a
    loss: the positions from SEP to x_{T-1} of the copy, predicting x₁..x_T.

    Returns:
        TaskData with mask ``"copy"`` (the positions with a target) and spans
        ``"source"`` and ``"copy"`` (the two strings in ``input_ids``).
    """
    n = check_int("n", n, low=1, high=MAX_SIZE)
    copy_len = check_int("copy_len", copy_len, low=1, high=MAX_SIZE)
    vocab = check_int("vocab", vocab, low=3, high=MAX_SIZE)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    _check_task_bytes("copy_task", n=n, copy_len=copy_len, tokens=2 * copy_len + 2)
    g = torch.Generator().manual_seed(seed)
    source = torch.randint(2, vocab, (n, copy_len), generator=g)  # (N, T)
    input_ids = torch.cat(
        [torch.full((n, 1), BOS), source, torch.full((n, 1), SEP), source], dim=1
    )  # (N, 2T + 2)
    sep = copy_len + 1
    copy = _position_mask(n, input_ids.shape[1], sep, sep + copy_len)
    targets = torch.where(copy, _next_token_targets(input_ids), IGNORE_INDEX)
    return TaskData(
        name="copy_task",
        input_ids=input_ids,
        targets=targets,
        vocab_size=vocab,
        masks={"copy": copy},
        spans={"source": _span(n, 1, sep), "copy": _span(n, sep + 1, sep + 1 + copy_len)},
        params={"n": n, "copy_len": copy_len, "vocab": vocab, "seed": seed},
    )


def needle(
    n: int,
    haystack_len: int,
    vocab: int,
    seed: int = 0,
    *,
    needle_len: int = 4,
    depth: float | None = None,
) -> TaskData:
    """Needle in a haystack: find a marked span in random tokens and say it back (lesson 03).

    A sequence is BOS, then ``haystack_len`` random tokens with NEEDLE n₁..n_k
    inserted at ``depth``, then QUERY n₁..n_k. The loss is on the answer: at QUERY
    the model should say n₁, at each n_i of the answer n_{i+1}. Tokens 0, 1, 2 are
    BOS, NEEDLE and QUERY; haystack and needle tokens come from [3, vocab). The
    total length is haystack_len + 2·needle_len + 3.

    A retrieval head (Wu et al. 2024) copies from the needle: while the answer is
    produced, its strongest attention lands inside span ``"needle"`` on the token
    being said. The spans make that score computable.

    Args:
        n: number of sequences.
        haystack_len: random tokens around the needle, at least 1.
        vocab: vocabulary size, at least 4.
        seed: the random seed.
        needle_len: k, the needle's length.
        depth: where the needle sits, as a fraction of the haystack in [0, 1]
            (0 = at the start, 1 = at the end); None draws a depth per sequence.

    Returns:
        TaskData with mask ``"answer"`` and spans ``"needle"`` (n₁..n_k in the
        haystack) and ``"answer"`` (n₁..n_k after QUERY).
    """
    n = check_int("n", n, low=1, high=MAX_SIZE)
    haystack_len = check_int("haystack_len", haystack_len, low=1, high=MAX_SIZE)
    vocab = check_int("vocab", vocab, low=4, high=MAX_SIZE)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    needle_len = check_int("needle_len", needle_len, low=1, high=MAX_SIZE)
    _check_task_bytes(
        "needle", n=n, haystack_len=haystack_len, needle_len=needle_len,
        tokens=2 * (haystack_len + 2 * needle_len + 3),
    )  # fmt: skip
    if depth is not None:
        depth = check_real("depth", depth, low=0.0, high=1.0)
    g = torch.Generator().manual_seed(seed)
    hay = torch.randint(3, vocab, (n, haystack_len), generator=g)  # (N, H)
    needles = torch.randint(3, vocab, (n, needle_len), generator=g)  # (N, k)
    if depth is None:
        cut = torch.randint(0, haystack_len + 1, (n,), generator=g)  # (N,)
    else:
        cut = torch.full((n,), round(depth * haystack_len))
    length = haystack_len + 2 * needle_len + 3
    # the middle: hay[:cut], NEEDLE, n₁..n_k, hay[cut:]
    r = torch.arange(haystack_len + needle_len + 1).expand(n, -1)  # (N, H + k + 1)
    c = cut[:, None]  # (N, 1)
    from_hay = hay.gather(1, torch.where(r < c, r, r - needle_len - 1).clamp(0, haystack_len - 1))
    from_needle = needles.gather(1, (r - c - 1).clamp(0, needle_len - 1))
    in_needle = (r > c) & (r <= c + needle_len)
    middle = torch.where(r == c, NEEDLE, torch.where(in_needle, from_needle, from_hay))
    input_ids = torch.cat(
        [torch.full((n, 1), BOS), middle, torch.full((n, 1), QUERY), needles], dim=1
    )  # (N, L)
    query = length - needle_len - 1
    answer = _position_mask(n, length, query, length - 1)
    targets = torch.where(answer, _next_token_targets(input_ids), IGNORE_INDEX)
    start = cut + 2  # after BOS, the haystack before the cut, and NEEDLE
    return TaskData(
        name="needle",
        input_ids=input_ids,
        targets=targets,
        vocab_size=vocab,
        masks={"answer": answer},
        spans={
            "needle": torch.stack([start, start + needle_len], dim=1),
            "answer": _span(n, query + 1, length),
        },
        params={
            "n": n,
            "haystack_len": haystack_len,
            "vocab": vocab,
            "seed": seed,
            "needle_len": needle_len,
            "depth": depth,
        },
    )


def lagged_copy(n: int, length: int, lag: int, vocab: int, seed: int = 0) -> TaskData:
    """x₁..x_T, and at every position t > lag say x_{t-lag}: look back exactly ``lag`` (lesson 04).

    A model can only solve it if information travels ``lag`` tokens, so a sparse mask's
    receptive field decides whether it is learnable: with a sliding window of w keys the
    model needs ceil(lag / (w - 1)) layers. Tokens come from [0, vocab).

    Returns:
        TaskData with mask ``"recall"`` (the positions with a target: lag .. T-1).
    """
    n = check_int("n", n, low=1, high=MAX_SIZE)
    length = check_int("length", length, low=2, high=MAX_SIZE)
    lag = check_int("lag", lag, low=1, high=length - 1)
    vocab = check_int("vocab", vocab, low=2, high=MAX_SIZE)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    _check_task_bytes("lagged_copy", n=n, length=length, tokens=length)
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, vocab, (n, length), generator=g)  # (N, T)
    targets = torch.full_like(input_ids, IGNORE_INDEX)
    targets[:, lag:] = input_ids[:, :-lag]  # position t answers x_{t - lag}
    return TaskData(
        name="lagged_copy",
        input_ids=input_ids,
        targets=targets,
        vocab_size=vocab,
        masks={"recall": _position_mask(n, length, lag, length)},
        params={"n": n, "length": length, "lag": lag, "vocab": vocab, "seed": seed},
    )


TASKS: dict[str, Callable[..., TaskData]] = {
    "repeated_tokens": repeated_tokens,
    "periodic_tokens": periodic_tokens,
    "mqar": mqar,
    "copy_task": copy_task,
    "needle": needle,
    "lagged_copy": lagged_copy,
}


def make_task(task: str, **params: Any) -> TaskData:
    """Build a task by name, e.g. from a saved ``TaskData.recipe`` (lessons 02, 03).

    ``params`` are the generator's arguments; a missing or unknown one is named."""
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
    import inspect

    signature = inspect.signature(TASKS[task])
    unknown = sorted(set(params) - set(signature.parameters))
    if unknown:
        raise TypeError(
            f"make_task({task!r}) got unknown argument(s) {unknown}; {task} takes "
            f"{list(signature.parameters)}"
        )
    missing = [
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and name not in params
    ]
    if missing:
        raise TypeError(f"make_task({task!r}) is missing argument(s) {missing}")
    return TASKS[task](**params)


def _next_token_targets(input_ids: torch.Tensor) -> torch.Tensor:
    targets = torch.full_like(input_ids, IGNORE_INDEX)
    targets[:, :-1] = input_ids[:, 1:]  # predict the next token; the last has none
    return targets


def _position_mask(n: int, length: int, start: int, stop: int) -> torch.Tensor:
    mask = torch.zeros(n, length, dtype=torch.bool)
    mask[:, start:stop] = True
    return mask


def _span(n: int, start: int, stop: int) -> torch.Tensor:
    return torch.tensor([[start, stop]]).expand(n, 2).clone()


def _check_task_bytes(task: str, *, tokens: int, vocab: int = 0, **sizes: int) -> None:
    """Refuse a batch past the memory budget: ids, targets, masks and the int64 temporaries
    of a (n, tokens) batch (~40 bytes a token), and a shuffled vocabulary per sequence."""
    n = sizes["n"]
    named = ", ".join(f"{key}={value:,}" for key, value in sizes.items())
    check_bytes(
        f"{task}({named}{f', vocab={vocab:,}' if vocab else ''})",
        n * (40 * tokens + 12 * vocab),
        instead="use fewer sequences (n) or shorter ones"
        + (", or a smaller vocab" if vocab else ""),
    )


__all__ = [
    "BOS",
    "IGNORE_INDEX",
    "NEEDLE",
    "QUERY",
    "SEP",
    "TASKS",
    "TaskData",
    "copy_task",
    "lagged_copy",
    "make_task",
    "mqar",
    "needle",
    "periodic_tokens",
    "repeated_tokens",
]
