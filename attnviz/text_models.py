"""The course's real-text models: character-level TinyTransformers trained on Shakespeare.

Lesson 08 (and a section of lesson 02) read ``shakespeare``, 4 layers of 4 softmax heads.
Lesson 08 compares three smaller twins, trained with the same data, size, steps and
seeds, that differ only in how a head turns scores into weights:

- ``twin_softmax``: softmax attention, rows sum to 1 — where sinks form;
- ``twin_sigmoid``: sigmoid attention without normalisation (Gu et al. 2024);
- ``twin_gated``: softmax attention with a head-wise sigmoid output gate
  (Gated Attention, Qiu et al. 2025).

Every training sequence starts with ``BOS`` (``attnviz.shakespeare``) and is 256 tokens
long; the models use rotary positions, so they read longer inputs (their config's
``context``), which is how lesson 08 measures what happens past the training length.
``shakespeare`` also learns to copy: plain text at this scale never taught it (a
character-level copy has to match several characters back), so 60 % of its training
rows say something again (``batches``: random blocks, looped text, repeated stretches)
and it grows induction heads, which lesson 02 reads and lesson 08's retrieval heads need.
``tools/train_text_models.py`` trains them from ``TEXT_MODELS`` (``shakespeare``'s 6,000
steps took 3 minutes on an H100 and take about a second each on a 2-core CPU; a twin
about 6 minutes on that CPU) and writes
``attnviz/weights/<name>.safetensors`` with the recipe, the validation curve and the
n-gram baselines in its metadata. ``load_text_model`` loads them; nothing here needs the
corpus.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from attnviz.checkpoints import load, read_metadata
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.shakespeare import BOS, VOCAB_SIZE, _token_ids
from attnviz.training import MAX_STEPS
from attnviz.validation import check_int, check_real, short_repr

TRAIN_LENGTH = 256  # tokens per training sequence, BOS included
_CONFIG = {"n_layers": 4, "n_heads": 4, "d_model": 128, "vocab_size": VOCAB_SIZE,
           "context": 4096, "positional": "rope"}  # fmt: skip
_TRAIN = {"steps": 4000, "batch_size": 16, "seq_len": TRAIN_LENGTH, "lr": 3e-3, "min_lr": 3e-4,
          "warmup": 100, "weight_decay": 0.1, "seed": 0, "eval_every": 250}  # fmt: skip
# the twins: smaller, the same budget each, differing only in their attention
_TWIN = {**_CONFIG, "n_layers": 3, "d_model": 64}
_TWIN_TRAIN = {**_TRAIN, "steps": 3000}
# ``shakespeare`` also learns to copy (induction heads): 60 % of its rows say something
# again (``batches``: 25 % random blocks, 15 % looped text, 20 % text with a repeated
# stretch), 40 % are plain text; on an H100 its second reading of a passage fell from
# 1.48 nats per character at step 1,750 to 0.47 at step 2,250
_COPYING_TRAIN = {**_TRAIN, "steps": 6000, "batch_size": 32, "periodic_share": 0.25,
                  "looped_share": 0.15, "repeat_share": 0.2}  # fmt: skip
_COPY_SHARES = ("repeat_share", "periodic_share", "looped_share")  # batches' kinds of rows
TEXT_MODELS: dict[str, dict[str, Any]] = {
    "shakespeare": {
        "description": "4 layers x 4 heads, d_model 128, softmax attention, on Shakespeare's "
        "characters: the model lessons 02 and 08 read",
        "config": _CONFIG,
        "init_seed": 0,
        "train": _COPYING_TRAIN,
    },
    "twin_softmax": {
        "description": "3 layers x 4 heads, d_model 64, softmax attention: the twins' control",
        "config": _TWIN,
        "init_seed": 0,
        "train": _TWIN_TRAIN,
    },
    "twin_sigmoid": {
        "description": "the twin with sigmoid attention and no normalisation (Gu et al. 2024)",
        "config": {**_TWIN, "operator": "sigmoid"},
        "init_seed": 0,
        "train": _TWIN_TRAIN,
    },
    "twin_gated": {
        "description": "the twin with a head-wise sigmoid output gate (Gated Attention)",
        "config": {**_TWIN, "output_gate": True},
        "init_seed": 0,
        "train": _TWIN_TRAIN,
    },
}


def batches(
    ids: torch.Tensor,
    *,
    batch_size: int,
    seq_len: int,
    generator: torch.Generator,
    repeat_share: float = 0.0,
    periodic_share: float = 0.0,
    looped_share: float = 0.0,
):
    """Endless batches (B, seq_len) of BOS + seq_len − 1 characters from random offsets.

    Three kinds of rows teach a model to copy (induction heads), which plain text at this
    scale does not (a character-level model has to match several characters back to find
    where to copy from, and no small step towards that pays):

    - ``repeat_share``: a stretch of 16 characters up to half the row is copied over a
      later part of the same row: text that says something twice;
    - ``periodic_share``: a block of P random characters (4 ≤ P ≤ 64) said again and
      again, like ``attnviz.tasks.periodic_tokens`` (whose blocks hold distinct tokens);
      here each block draws, with repeats, from its own random alphabet of 2 to 96
      characters, so some blocks are told apart by one character back and others only by
      several;
    - ``looped_share``: a stretch of text of P characters (8 ≤ P ≤ 128) said again and again.
    """
    shares = {"repeat_share": repeat_share, "periodic_share": periodic_share,
              "looped_share": looped_share}  # fmt: skip
    for name, share in shares.items():
        check_real(name, share, low=0.0, high=1.0)
    if sum(shares.values()) > 1:
        raise ValueError(f"repeat_share + periodic_share + looped_share must be at most 1, "
                         f"got {repeat_share} + {periodic_share} + {looped_share}")  # fmt: skip
    span = seq_len - 1
    size = span + 1  # a row: the inputs after BOS and the next character
    while True:
        starts = torch.randint(0, len(ids) - span - 1, (batch_size,), generator=generator)
        rows = ids[starts[:, None] + torch.arange(size)]  # (B, size)
        kind = torch.rand(batch_size, generator=generator)
        periodic = kind < periodic_share
        looped = (kind >= periodic_share) & (kind < periodic_share + looped_share)
        repeat = (kind >= periodic_share + looped_share) & (kind < sum(shares.values()))
        for row in torch.nonzero(periodic).flatten().tolist():
            period = int(torch.randint(4, 65, (1,), generator=generator))
            letters = int(torch.randint(2, VOCAB_SIZE, (1,), generator=generator))
            alphabet = torch.randperm(VOCAB_SIZE - 1, generator=generator)[:letters] + 1
            block = alphabet[torch.randint(0, letters, (period,), generator=generator)]
            rows[row] = block.repeat(size // period + 1)[:size]
        for row in torch.nonzero(looped).flatten().tolist():
            period = int(torch.randint(8, 129, (1,), generator=generator))
            rows[row] = rows[row, :period].repeat(size // period + 1)[:size]
        for row in torch.nonzero(repeat).flatten().tolist():
            n = min(int(torch.randint(16, max(17, size // 2 + 1), (1,), generator=generator)),
                    size // 2)  # fmt: skip
            a = int(torch.randint(0, size + 1 - 2 * n, (1,), generator=generator))
            b = int(torch.randint(a + n, size + 1 - n, (1,), generator=generator))
            rows[row, b : b + n] = rows[row, a : a + n].clone()
        bos = torch.full((batch_size, 1), BOS, dtype=torch.long)
        yield torch.cat([bos, rows[:, :-1]], dim=1), rows  # inputs, targets (B, seq_len)


def held_out_batches(ids: torch.Tensor, seq_len: int = TRAIN_LENGTH) -> tuple[torch.Tensor, ...]:
    """The held-out characters cut into BOS + seq_len − 1 character rows: (inputs, targets)."""
    span = seq_len - 1
    n = (len(ids) - 1) // span
    rows = torch.stack([ids[i * span : i * span + span + 1] for i in range(n)])  # (N, span + 1)
    bos = torch.full((n, 1), BOS, dtype=torch.long)
    return torch.cat([bos, rows[:, :-1]], dim=1), rows


def said_twice_batches(ids: torch.Tensor, seq_len: int = TRAIN_LENGTH,
                       rows: int = 32) -> tuple[torch.Tensor, ...]:  # fmt: skip
    """Held-out rows that say a passage twice: BOS + A + A, A of seq_len // 2 characters.

    ``rows`` passages spread evenly over the held-out characters; (inputs, targets)."""
    half = seq_len // 2
    starts = torch.linspace(0, len(ids) - half - 1, rows).long()
    passages = ids[starts[:, None] + torch.arange(half)]  # (rows, half)
    targets = torch.cat([passages, passages], dim=1)[:, :seq_len]
    bos = torch.full((rows, 1), BOS, dtype=torch.long)
    return torch.cat([bos, targets[:, :-1]], dim=1), targets


@torch.no_grad()
def readings(model: TinyTransformer, inputs: torch.Tensor,
             targets: torch.Tensor) -> tuple[float, float]:  # fmt: skip
    """Mean loss on a passage's first and its second reading (``said_twice_batches``' rows).

    The second reading skips its first character, which nothing before it predicts: a
    model that copies (induction heads) reads the rest far better than the first time."""
    _check_model(model)
    half = targets.shape[1] // 2
    device = next(model.parameters()).device
    logits = model(inputs.to(device))
    losses = F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten(),
                             reduction="none").view(targets.shape)  # fmt: skip
    return float(losses[:, 1:half].mean()), float(losses[:, half + 1 :].mean())


@torch.no_grad()
def held_out_loss(model: TinyTransformer, inputs: torch.Tensor, targets: torch.Tensor,
                  *, batch_size: int = 64) -> float:  # fmt: skip
    """Mean cross-entropy (nats per character) of ``model`` on held-out rows.

    ``inputs`` and ``targets`` are (N, T) token ids (``held_out_batches``'), ``targets``
    the next character of each input position."""
    _check_model(model)
    inputs, targets = _check_rows("inputs", inputs), _check_rows("targets", targets)
    if inputs.shape != targets.shape:
        raise ValueError(
            f"inputs and targets must have the same shape (N, T), got {tuple(inputs.shape)} "
            f"and {tuple(targets.shape)}"
        )
    for name, rows in (("inputs", inputs), ("targets", targets)):
        if int(rows.max()) >= model.config.vocab_size:
            raise ValueError(
                f"{name} must be token ids below the model's vocab_size "
                f"{model.config.vocab_size}, got {int(rows.max())}"
            )
    batch_size = check_int("batch_size", batch_size, low=1, high=2**20)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(inputs), batch_size):
        x, y = inputs[i : i + batch_size].to(device), targets[i : i + batch_size].to(device)
        logits = model(x)
        total += float(F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum"))
        count += y.numel()
    return total / count


def train_text_model(
    name: str,
    train_ids: torch.Tensor,
    held_out_ids: torch.Tensor,
    *,
    device: str = "cpu",
    steps: int | None = None,
    max_seconds: float | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = print,
) -> tuple[TinyTransformer, dict[str, Any]]:
    """Train ``name``'s recipe on character ids; returns the model and its curve.

    AdamW with linear warm-up and cosine decay to ``min_lr``; every ``eval_every`` steps the
    loss on the held-out play is recorded. ``steps`` overrides the recipe's (a quick run);
    past ``max_seconds`` training stops early, and ``curve["stopped_at"]`` says where;
    ``overrides`` replaces entries of the recipe's ``train`` (an experiment).
    """
    recipe = TEXT_MODELS[_check_name(name)]
    seq_len = recipe["train"]["seq_len"]
    train_ids, held_out_ids = (
        _token_ids("train_ids", train_ids),
        _token_ids("held_out_ids", held_out_ids),
    )
    for arg, ids in (("train_ids", train_ids), ("held_out_ids", held_out_ids)):
        if len(ids) < seq_len + 1:
            raise ValueError(f"{arg} must hold at least {seq_len + 1} characters (one training "
                             f"row and its next character), got {len(ids)}")  # fmt: skip
    if not isinstance(device, str | torch.device):
        raise TypeError(f"device must be a str such as 'cpu' or 'cuda', got {short_repr(device)}")
    try:
        device = torch.device(device)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        raise ValueError(f"device must be a device torch can use here, got {str(device)!r}: "
                         f"{error}") from None  # fmt: skip
    if steps is not None:
        steps = check_int("steps", steps, low=0, high=MAX_STEPS)
    if max_seconds is not None:
        max_seconds = check_real("max_seconds", max_seconds, low=0.0)
    if log is not None and not callable(log):
        raise TypeError(f"log must be a callable (such as print) or None, got {short_repr(log)}")
    allowed = {*recipe["train"], *_COPY_SHARES}
    if overrides is not None and not isinstance(overrides, dict):
        raise TypeError(f"overrides must be None or a dict, got {short_repr(overrides)}")
    if overrides is not None and not set(overrides) <= allowed:
        raise ValueError(f"overrides must name keys among {sorted(allowed)}, "
                         f"got {sorted(map(str, overrides))}")  # fmt: skip
    train = {**recipe["train"], **(overrides or {}), **({} if steps is None else {"steps": steps})}
    torch.manual_seed(train["seed"])
    model = TinyTransformer(TinyConfig(**recipe["config"]), seed=recipe["init_seed"]).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": train["weight_decay"]},
         {"params": rest, "weight_decay": 0.0}], lr=train["lr"], betas=(0.9, 0.95),
    )  # fmt: skip
    data = batches(train_ids, batch_size=train["batch_size"], seq_len=train["seq_len"],
                   generator=torch.Generator().manual_seed(train["seed"]),
                   **{share: train.get(share, 0.0) for share in _COPY_SHARES})  # fmt: skip
    val_inputs, val_targets = held_out_batches(held_out_ids, train["seq_len"])
    twice = said_twice_batches(held_out_ids, train["seq_len"])
    schedule = dict(train)  # the learning-rate schedule of the planned steps
    curve: dict[str, list] = {"step": [], "held_out_loss": [], "train_loss": [],
                              "first_reading": [], "second_reading": []}  # fmt: skip
    start, running = time.perf_counter(), float("nan")
    for step in range(train["steps"] + 1):
        if step % train["eval_every"] == 0 or step == train["steps"]:
            model.eval()
            loss = held_out_loss(model, val_inputs, val_targets)
            curve["step"].append(step)
            curve["held_out_loss"].append(round(loss, 5))
            curve["train_loss"].append(round(running, 5) if math.isfinite(running) else None)
            first, second = readings(model, *twice)
            curve["first_reading"].append(round(first, 5))
            curve["second_reading"].append(round(second, 5))
            if log:
                log(f"{name} step {step}: held-out {loss:.4f}, train {running:.4f}, "
                    f"said twice {first:.3f} -> {second:.3f}, "
                    f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        if step == train["steps"]:
            break
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            curve["stopped_at"] = step + 1
            train["steps"] = step + 1  # after this step, the next pass records the loss and stops
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, schedule)
        x, y = (t.to(device) for t in next(data))
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        value = float(loss.detach())
        running = value if not math.isfinite(running) else 0.98 * running + 0.02 * value
    curve["seconds"] = round(time.perf_counter() - start, 1)
    curve["device"] = str(device)
    return model.cpu().eval(), curve


def _learning_rate(step: int, train: dict[str, Any]) -> float:
    if step < train["warmup"]:
        return train["lr"] * (step + 1) / train["warmup"]
    progress = (step - train["warmup"]) / max(1, train["steps"] - train["warmup"])
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return train["min_lr"] + (train["lr"] - train["min_lr"]) * cosine


def text_model_path(name: str) -> Path:
    """Where the shipped weights of a real-text model live."""
    _check_name(name)
    return Path(str(resources.files("attnviz") / "weights" / f"{name}.safetensors"))


@lru_cache(maxsize=4)
def _load_cached(name: str) -> TinyTransformer:
    return load(text_model_path(name))


def load_text_model(name: str = "shakespeare") -> TinyTransformer:
    """One of the course's real-text models, in eval mode (lessons 02 and 08).

    Loaded once per process and shared: treat it as read-only (do not train it; copy
    it with ``copy.deepcopy`` first)."""
    return _load_cached(_check_name(name))


def text_model_card(name: str = "shakespeare") -> dict[str, Any]:
    """What a shipped real-text model's file says about it: recipe, curve, baselines."""
    meta = read_metadata(text_model_path(_check_name(name)))
    return meta["recipe"]


def _check_model(model: Any) -> TinyTransformer:
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    return model


def _check_rows(name: str, rows: Any) -> torch.Tensor:
    """(N, T) integer token ids, N and T at least 1."""
    if not isinstance(rows, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of token ids (N, T), got {short_repr(rows)}"
        )
    if rows.is_floating_point() or rows.is_complex() or rows.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {rows.dtype}")
    if rows.device.type == "meta":
        raise ValueError(f"{name} is a tensor on the meta device, which holds no numbers")
    if rows.dim() != 2 or not rows.numel():
        raise ValueError(f"{name} must be token ids of shape (N, T), N and T at least 1, "
                         f"got shape {tuple(rows.shape)}")  # fmt: skip
    if int(rows.min()) < 0:
        raise ValueError(f"{name} must be token ids >= 0, got {int(rows.min())}")
    return rows.long()


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or name not in TEXT_MODELS:
        raise ValueError(f"name must be one of {tuple(TEXT_MODELS)}, got {name!r}")
    return name


__all__ = [
    "TEXT_MODELS",
    "TRAIN_LENGTH",
    "held_out_loss",
    "load_text_model",
    "text_model_card",
    "text_model_path",
    "train_text_model",
]
