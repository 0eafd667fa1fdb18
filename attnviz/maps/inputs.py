"""Inputs to read a model's attention on: task presets and your own words (lesson 02).

``preset_input`` gives the token ids and the labels of an input of any length: one of
``INPUT_PRESETS``, drawn from ``attnviz.tasks`` (repeated tokens for induction, random
tokens, a needle in a haystack, a copy), or whitespace-separated words typed by a user,
each distinct word with an id of its own, so that a repeated word repeats its id.
"""

from __future__ import annotations

import re

import numpy as np

from attnviz import tasks
from attnviz.validation import check_choice, check_int, check_text

INPUT_PRESETS = {
    "repeated tokens": "BOS, random distinct tokens, then the same again (and again on long "
    "inputs): induction",
    "random tokens": "BOS, then random tokens: nothing to look up",
    "needle in a haystack": "random tokens with a marked needle, then a query to repeat it",
    "copy": "BOS, a random string, SEP, the same string again",
    "your tokens": "the words (or token ids) typed in the box",
}
# the smallest vocabulary every preset's task can draw from (BOS, NEEDLE, QUERY and one more)
MIN_VOCAB = 4
MAX_LENGTH = 2**16  # tokens: far past what a dashboard draws, and fast to make
MAX_VOCAB = 2**20  # ids: past every tokenizer's vocabulary
MAX_SEED = 2**32 - 1


def preset_input(
    preset: str, length: int, vocab: int, seed: int, text: str = ""
) -> tuple[np.ndarray, list[str]]:
    """The token ids and labels of a preset input of ``length`` tokens (lesson 02).

    Presets come from ``attnviz.tasks``; "your tokens" reads whitespace-separated
    words (each distinct word gets its own id, so a repeated word repeats its id)
    or token ids; ``seed`` shuffles which ids the words get.

    ``length`` is in [2, MAX_LENGTH] (65,536), ``vocab`` in [MIN_VOCAB, MAX_VOCAB]
    ([4, 2**20]), ``seed`` in [0, 2**32 - 1]; ``text`` is read only for "your tokens".
    """
    preset = check_choice("preset", preset, tuple(INPUT_PRESETS))
    length = check_int("length", length, low=2, high=MAX_LENGTH)
    vocab = check_int("vocab", vocab, low=MIN_VOCAB, high=MAX_VOCAB)
    seed = check_int("seed", seed, low=0, high=MAX_SEED)
    check_text("text", text, empty=True)
    if preset == "your tokens":
        return typed_input(text, length, vocab, seed)
    if preset == "repeated tokens" and length // 2 > vocab - 1 >= 2:
        # too long for one repeat of distinct tokens: all vocab - 1 of them, again and again
        period = vocab - 1
        data = tasks.periodic_tokens(1, length, vocab, seed, min_period=period, max_period=period)
        ids = data.input_ids[0].numpy()
        names = {tasks.BOS: "BOS"}
    elif preset in ("repeated tokens", "random tokens"):
        # random tokens: the first (random) half of a repeat long enough to fill the input
        half = max(2, length // 2 if preset == "repeated tokens" else length - 1)
        distinct = preset == "repeated tokens" and half <= vocab - 1
        data = tasks.repeated_tokens(1, half, vocab, seed, distinct=distinct)
        ids = data.input_ids[0, :length].numpy()
        names = {tasks.BOS: "BOS"}
    elif preset == "copy":
        data = tasks.copy_task(1, max(1, (length - 2) // 2), vocab, seed)
        ids = data.input_ids[0, :length].numpy()
        names = {tasks.BOS: "BOS", tasks.SEP: "SEP"}
    else:  # needle in a haystack
        needle_len = int(np.clip((length - 4) // 4, 1, 4))
        haystack = max(1, length - 2 * needle_len - 3)
        data = tasks.needle(1, haystack, vocab, seed, needle_len=needle_len, depth=0.3)
        ids = data.input_ids[0, :length].numpy()
        names = {tasks.BOS: "BOS", tasks.NEEDLE: "NEEDLE", tasks.QUERY: "QUERY"}
    return ids, [names.get(int(i), str(int(i))) for i in ids]


def typed_input(text: str, length: int, vocab: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """BOS, then the first ``length - 1`` words of ``text`` as ids (lesson 02's box).

    All numbers: they are token ids (mod ``vocab``). Otherwise the n-th new word gets the
    n-th id of a list that is 1, 2, 3, ... for seed 0 and shuffled by other seeds (BOS
    keeps 0), so a repeated word repeats its id. Bounds as :func:`preset_input`'s.
    """
    check_text("text", text, empty=True)
    length = check_int("length", length, low=2, high=MAX_LENGTH)
    vocab = check_int("vocab", vocab, low=2, high=MAX_VOCAB)
    seed = check_int("seed", seed, low=0, high=MAX_SEED)
    words = text.split()[: max(0, length - 1)]
    if not words:
        raise ValueError("type at least one word (or token id) in the box")
    if all(re.fullmatch(r"\d+", word) for word in words):
        ids = [int(word) % vocab for word in words]
        labels = [str(i) for i in ids]
    else:
        order = np.arange(1, vocab)
        if seed:
            order = np.random.default_rng(seed).permutation(order)
        index: dict[str, int] = {}
        ids = [index.setdefault(word, int(order[len(index) % (vocab - 1)])) for word in words]
        labels = words
    return np.array([tasks.BOS, *ids], dtype=np.int64), ["BOS", *labels]


__all__ = ["INPUT_PRESETS", "preset_input", "typed_input"]
