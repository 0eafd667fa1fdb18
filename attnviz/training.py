"""Train a tiny model on a synthetic task and record how its heads form.

``train`` is a plain AdamW loop, deterministic on a CPU (same seed, same
losses, same weights). Every ``record_every`` steps it measures the held-out
loss, the loss on each of the task's masks (for ``repeated_tokens``: the
unpredictable first half and the repeated half) and head scores, and hands
that record to an optional callback (a dashboard's live progress indicator).
Lesson 03 plots the record: the repeated-half loss falls abruptly when an
induction head forms in layer 1, reading a previous-token head in layer 0
(Olsson et al. 2022, "In-context Learning and Induction Heads").

The default head scores are the scalar shortcuts of TransformerLens' head
detector (PAPERS.md §7), read from each layer's ``hook_pattern``:

- previous-token score: the mean attention on the -1 diagonal;
- induction score: the mean attention, over the positions whose token occurred
  before, on the tokens that followed its earlier occurrences. On [BOS, r₁..r_T,
  r₁..r_T] with distinct r this is exactly the mean of the -(T-1) stripe over the
  second half; written by content rather than by offset, it also works when each
  sequence repeats with its own period.

Any other score can be passed as ``scores={name: fn}`` with
``fn(model, input_ids) -> Tensor (layers, heads)``.

On random tokens the two heads form together, in one abrupt drop of the loss: a
previous-token head is of no use until an induction head reads it, and the
induction score starts to rise a little earlier (Bietti et al. 2023, "Birth of a
Transformer: A Memory Viewpoint", find the same top-down order).
"""

from __future__ import annotations

import contextlib
import html
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from attnviz.tasks import IGNORE_INDEX, TaskData
from attnviz.validation import as_tensor, check_bool, check_int, check_real, short_repr

MAX_STEPS = 10**6  # optimizer steps (time grows with them: the callback can stop early)
MAX_BATCH = 2**16  # sequences per step (the memory budget decides what fits)
MAX_LR = 10.0
MAX_WEIGHT_DECAY = 10.0

Scorer = Callable[[nn.Module, torch.Tensor], torch.Tensor]  # (model, input_ids) -> (L, H)


@dataclass(frozen=True)
class TrainingRecord:
    """One measurement during training, handed to ``train``'s callback."""

    step: int  # optimizer steps taken so far (0 = before training)
    total_steps: int
    loss: float  # held-out loss
    region_loss: dict[str, float]  # held-out loss on each of the task's masks
    scores: dict[str, torch.Tensor]  # score name -> (layers, heads)


@dataclass
class TrainingHistory:
    """What ``train`` measured: losses and head scores over the steps."""

    steps: list[int] = field(default_factory=list)  # the recorded steps, 0 = before training
    loss: list[float] = field(default_factory=list)  # held-out loss at each recorded step
    region_loss: dict[str, list[float]] = field(default_factory=dict)  # mask -> losses
    scores: dict[str, list[list[list[float]]]] = field(default_factory=dict)  # [rec][L][H]
    train_loss: list[float] = field(default_factory=list)  # minibatch loss of steps 1..N
    recipe: dict[str, Any] = field(default_factory=dict)  # task and training arguments

    def __post_init__(self) -> None:
        self.steps = [check_int("steps", step, low=0) for step in _items("steps", self.steps)]
        self.loss = _finite_list("loss", self.loss)
        self.train_loss = _finite_list("train_loss", self.train_loss)
        for name in ("region_loss", "scores", "recipe"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise TypeError(f"{name} must be a dict with str keys, got {short_repr(value)}")
        self.region_loss = {k: _finite_list(f"region_loss[{k!r}]", v)
                            for k, v in self.region_loss.items()}  # fmt: skip

    def score(self, name: str) -> torch.Tensor:
        """The recorded score ``name`` as a (records, layers, heads) tensor (lesson 03)."""
        if not isinstance(name, str) or name not in self.scores:
            raise ValueError(f"name must be one of {tuple(self.scores)}, got {name!r}")
        try:
            return torch.tensor(self.scores[name], dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(
                f"the history's scores[{name!r}] must be (records, layers, heads) numbers: {error}"
            ) from None

    def strongest(self, name: str) -> torch.Tensor:
        """The strongest head's score ``name`` at each record, (records,) (lesson 03's curves)."""
        scores = self.score(name)
        if scores.dim() != 3 or not scores.numel():
            raise ValueError(
                f"the history's scores[{name!r}] must be (records, layers, heads) numbers, got "
                f"shape {tuple(scores.shape)}"
            )
        return scores.flatten(1).amax(dim=1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, what ``attnviz.models.save`` stores (lesson 03)."""
        return {
            "steps": list(self.steps),
            "loss": list(self.loss),
            "region_loss": {k: list(v) for k, v in self.region_loss.items()},
            "scores": {k: v for k, v in self.scores.items()},
            "train_loss": list(self.train_loss),
            "recipe": dict(self.recipe),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingHistory:
        """Rebuild a history from ``to_dict``'s output (lesson 03)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {"steps", "loss", "region_loss", "scores", "train_loss", "recipe"}
        if unknown:
            raise ValueError(f"data has unknown keys {sorted(map(str, unknown))}")
        try:
            return cls(**{key: value for key, value in data.items()})
        except (TypeError, ValueError) as error:
            raise type(error)(f"data holds an invalid history: {error}") from None


def train(
    model: nn.Module,
    task: TaskData,
    *,
    steps: int = 500,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    weight_decay: float = 0.01,
    eval_size: int = 64,
    record_every: int = 10,
    progress: bool = True,
    callback: Callable[[int, TrainingRecord], bool | None] | None = None,
    scores: Mapping[str, Scorer] | None = None,
    num_threads: int | None = 1,
) -> TrainingHistory:
    """Train ``model`` on ``task`` with AdamW and record losses and head scores (lesson 03).

    The first ``eval_size`` sequences of ``task`` are held out: the recorded
    losses and scores are measured on them. Minibatches are drawn, with
    replacement, from the rest by a generator seeded with ``seed``, so the same
    model, task and seed give the same losses and weights, bit for bit, on one
    machine (another CPU or PyTorch build may round the last bits differently).

    Args:
        model: a ``TinyTransformer`` (or any module mapping (B, T) ids to (B, T, V) logits).
        task: the data, e.g. ``attnviz.tasks.repeated_tokens(4096, 16, 48)``.
        steps: optimizer steps.
        lr: AdamW learning rate.
        batch_size: sequences per step.
        seed: seeds the minibatch order (and any randomness in the model).
        weight_decay: AdamW weight decay.
        eval_size: sequences held out for the recorded losses and scores.
        record_every: measure every this many steps (and at step 0 and the last step).
        progress: show a progress bar (an HTML bar in a notebook, else text on stderr).
        callback: called as ``callback(step, record)`` after each measurement;
            returning False stops training early.
        scores: head scores to record, ``{name: fn(model, input_ids) -> (layers, heads)}``;
            default: the previous-token and induction scores described above, for a
            model whose blocks have attention maps (``hook_pattern``); none for another
            (a recurrent mixer has no map to score).
        num_threads: torch's intra-op threads while training (restored after); None
            keeps the current setting. One is the default: a tiny model's operations
            are too small to split across cores (two threads win little and lose a lot
            when another process wants a core), and the weights it learns then do not
            depend on how many cores the machine has.

    Returns:
        A ``TrainingHistory``; ``history.region_loss["repeated_half"]`` and
        ``history.score("induction")`` show the phase change.

    Bounds: ``steps`` and ``record_every`` <= ``MAX_STEPS``, ``batch_size`` <= ``MAX_BATCH``
    (and its activations within the memory budget), 0 < ``lr`` <= ``MAX_LR``, 0 <=
    ``weight_decay`` <= ``MAX_WEIGHT_DECAY``, ``seed`` < 2**63, ``num_threads`` at most
    the machine's cores. A step whose loss (or output) turns NaN or inf stops training with
    a ValueError that names ``lr``: the learning rate was too large for this model.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(task, TaskData):
        raise TypeError(f"task must be an attnviz.tasks.TaskData, got {type(task).__name__}")
    steps = check_int("steps", steps, low=0, high=MAX_STEPS)
    lr = check_real("lr", lr, low=0.0, low_open=True, high=MAX_LR)
    batch_size = check_int("batch_size", batch_size, low=1, high=MAX_BATCH)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    weight_decay = check_real("weight_decay", weight_decay, low=0.0, high=MAX_WEIGHT_DECAY)
    if len(task) < 2:
        raise ValueError(
            f"task must hold at least 2 sequences (held out + trained), got {len(task)}"
        )
    eval_size = check_int("eval_size", eval_size, low=1, high=len(task) - 1)
    record_every = check_int("record_every", record_every, low=1, high=MAX_STEPS)
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, low=1, high=os.cpu_count() or 1)
    progress = check_bool("progress", progress)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    config = getattr(model, "config", None)
    if config is not None and task.seq_len > config.context:
        raise ValueError(
            f"task has sequences of {task.seq_len} tokens; the model's context is "
            f"{config.context} (make the model with context >= {task.seq_len})"
        )
    if config is not None and task.vocab_size > config.vocab_size:
        raise ValueError(
            f"task uses a vocabulary of {task.vocab_size} tokens; the model's vocab_size is "
            f"{config.vocab_size}"
        )
    if scores is not None and not isinstance(scores, Mapping):
        raise TypeError(f"scores must map names to callables, got {type(scores).__name__}")
    if scores is None:
        scores = _default_scores() if _has_attention_maps(model) else {}
    scores = dict(scores)
    for name, scorer in scores.items():
        if not isinstance(name, str) or not callable(scorer):
            raise TypeError(f"scores must map names to callables, got {name!r}: {scorer!r}")

    held_out, pool = task[:eval_size], task[eval_size:]
    history = TrainingHistory(
        region_loss={name: [] for name in task.masks},
        scores={name: [] for name in scores},
        recipe={
            "task": task.recipe,
            "train": {"steps": steps, "lr": lr, "batch_size": batch_size, "seed": seed,
                      "weight_decay": weight_decay, "eval_size": eval_size,
                      "record_every": record_every},
        },
    )  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    order = torch.Generator().manual_seed(seed)
    bar = _Progress(steps) if progress else None

    def measure(step: int) -> bool:
        record = _measure(model, held_out, scores, step, steps)
        if not math.isfinite(record.loss):
            raise ValueError(f"the held-out loss is not finite ({record.loss})")
        history.steps.append(step)
        history.loss.append(_round(record.loss))
        for name, value in record.region_loss.items():
            history.region_loss[name].append(_round(value))
        for name, value in record.scores.items():
            history.scores[name].append([[_round(x) for x in row] for row in value.tolist()])
        if bar is not None:
            bar.update(step, record.loss)
        return callback is None or callback(step, record) is not False

    with _deterministic(seed, num_threads):
        try:
            go_on = measure(0)
            step = 0
            while go_on and step < steps:
                model.train()
                rows = torch.randint(len(pool), (batch_size,), generator=order)
                logits = model(pool.input_ids[rows])  # (B, T, V)
                loss = F.cross_entropy(
                    logits.flatten(0, 1), pool.targets[rows].flatten(), ignore_index=IGNORE_INDEX
                )
                if not math.isfinite(loss.item()):
                    raise _diverged(step + 1, lr, weight_decay)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                history.train_loss.append(_round(loss.item()))
                if step % record_every == 0 or step == steps:
                    go_on = measure(step)
        except ValueError as error:
            if "overflowed to NaN or inf" not in str(error) and "not finite" not in str(error):
                raise
            raise _diverged(step + 1, lr, weight_decay) from error
        finally:
            model.eval()
            if bar is not None:
                bar.close()
    return history


@torch.no_grad()
def token_loss(model: nn.Module, input_ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at every position, (N, T), NaN where the target is -100 (lessons 02, 03).

    NaN is the answer where there is no target: -100 (``IGNORE_INDEX``) marks a position
    whose next token is not predicted, and its loss is undefined. ``input_ids`` and
    ``targets`` are (N, T) integer tensors; every other target is a token id of the model.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    input_ids = _integer_tensor("input_ids", input_ids)
    targets = _integer_tensor("targets", targets)
    if input_ids.dim() != 2 or targets.shape != input_ids.shape:
        raise ValueError(
            f"targets must have the shape (N, T) of input_ids {tuple(input_ids.shape)}, got "
            f"shape {tuple(targets.shape)}"
        )
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    real = targets[targets != IGNORE_INDEX]
    if real.numel() and (int(real.min()) < 0 or (vocab is not None and int(real.max()) >= vocab)):
        raise ValueError(
            f"targets must be token ids in [0, {vocab}) or {IGNORE_INDEX} (no target), got "
            f"values in [{int(real.min())}, {int(real.max())}]"
        )
    input_ids, targets = input_ids.long(), targets.long()
    logits = model(input_ids)  # (N, T, V)
    loss = F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(targets.shape)  # (N, T)
    return loss.masked_fill(targets == IGNORE_INDEX, math.nan)


@torch.no_grad()
def evaluate(model: nn.Module, data: TaskData) -> dict[str, float]:
    """Loss and accuracy on ``data``, and the loss on each of its masks (lessons 02, 03).

    Returns ``{"loss": ..., "accuracy": ..., <mask name>: loss on that mask, ...}``;
    loss and accuracy count only the positions with a target.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, TaskData):
        raise TypeError(f"data must be an attnviz.tasks.TaskData, got {type(data).__name__}")
    was_training = model.training
    model.eval()
    try:
        logits = model(data.input_ids)  # (N, T, V)
    finally:
        model.train(was_training)
    return _losses(logits, data)


def _losses(logits: torch.Tensor, data: TaskData) -> dict[str, float]:
    loss = F.cross_entropy(
        logits.flatten(0, 1), data.targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(data.targets.shape)  # (N, T)
    has_target = data.loss_mask
    correct = (logits.argmax(-1) == data.targets) & has_target
    result = {
        "loss": loss[has_target].mean().item(),
        "accuracy": (correct.sum() / has_target.sum()).item(),
    }
    for name, mask in data.masks.items():
        result[name] = loss[mask & has_target].mean().item()
    return result


@torch.no_grad()
def _measure(
    model: nn.Module, data: TaskData, scores: Mapping[str, Scorer], step: int, total: int
) -> TrainingRecord:
    model.eval()
    losses = _losses(model(data.input_ids), data)
    region = {name: losses[name] for name in data.masks}
    measured = {name: fn(model, data.input_ids).detach().float() for name, fn in scores.items()}
    return TrainingRecord(step, total, losses["loss"], region, measured)


# --- the scalar-shortcut head scores (PAPERS.md §7) -----------------------------------------


def _patterns(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """Attention patterns of every layer, (L, B, H, T, T), read from ``hook_pattern``."""
    captured: list[torch.Tensor] = []
    handles = [
        block.attn.hook_pattern.register_forward_hook(
            lambda _module, _args, pattern: captured.append(pattern.detach())
        )
        for block in model.blocks
    ]
    try:
        model(input_ids)
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(captured)  # (L, B, H, T, T)


def _previous_token_shortcut(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """Mean attention on the -1 diagonal, (layers, heads)."""
    patterns = _patterns(model, input_ids)  # (L, B, H, T, T)
    diagonal = patterns.diagonal(offset=-1, dim1=-2, dim2=-1)  # (L, B, H, T - 1)
    return diagonal.mean(dim=(1, 3))  # (L, H)


def _induction_shortcut(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """Mean attention on the token after an earlier occurrence of the current one, (L, H).

    Averaged over the positions whose token occurred before. On [BOS, r₁..r_T,
    r₁..r_T] with distinct r this is the mean of the -(T-1) stripe over the
    second half; in general it is TransformerLens' induction pattern
    (tok_i == tok_{j-1}, j <= i) scored by attention mass, row by row.
    """
    ids = input_ids if input_ids.dim() == 2 else input_ids.unsqueeze(0)  # (B, T)
    patterns = _patterns(model, ids)  # (L, B, H, T, T)
    before = torch.full_like(ids, -1)
    before[:, 1:] = ids[:, :-1]  # tok_{j-1}; nothing before position 0
    target = ids[:, :, None] == before[:, None, :]  # (B, T_q, T_k): tok_i == tok_{j-1}
    target &= torch.ones_like(target[0]).tril()  # j <= i
    rows = target.any(dim=-1)  # (B, T_q): the current token occurred before
    mass = (patterns * target[:, None]).sum(dim=-1)  # (L, B, H, T_q)
    per_head = (mass * rows[:, None]).sum(dim=(1, 3))  # (L, H)
    return per_head / rows.sum().clamp_min(1)  # (L, H)


def _has_attention_maps(model: nn.Module) -> bool:
    blocks = getattr(model, "blocks", None)
    return bool(blocks) and all(hasattr(block.attn, "hook_pattern") for block in blocks)


def _default_scores() -> dict[str, Scorer]:
    return {"previous_token": _previous_token_shortcut, "induction": _induction_shortcut}


# --- plumbing --------------------------------------------------------------------------------


def _diverged(step: int, lr: float, weight_decay: float) -> ValueError:
    return ValueError(
        f"training diverged: the loss became NaN or inf at step {step} with lr={lr:g} "
        f"(weight_decay={weight_decay:g}); lr is too large for this model, try lr={lr / 10:g} "
        "or less (the lessons use 1e-3)"
    )


def _items(name: str, value: Any) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list, got {short_repr(value)} ({type(value).__name__})")
    return list(value)


def _finite_list(name: str, value: Any) -> list[float]:
    return [check_real(name, x) for x in _items(name, value)]


def _integer_tensor(name: str, value: Any) -> torch.Tensor:
    """An integer tensor (numpy arrays too), refused by name otherwise."""
    if hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, torch.Tensor):
        value = as_tensor(name, value) if value.dtype.kind == "f" else torch.as_tensor(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of token ids, got {type(value).__name__}")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {value.dtype}")
    if value.device.type == "meta":
        raise ValueError(f"{name} is a tensor on the meta device, which holds no numbers")
    return value


def _round(x: float) -> float:
    return round(float(x), 6)


@contextlib.contextmanager
def _deterministic(seed: int, num_threads: int | None) -> Iterator[None]:
    """Seed torch's global generator and fix the threads for the block; restore both after."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.set_num_threads(was_threads)


class _Progress:
    """A progress bar without timings, so its output is the same on every run.

    In a Jupyter kernel it is one HTML ``<progress>`` element updated in place;
    elsewhere a line of text on stderr, rewritten with carriage returns.
    """

    WIDTH = 24

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.handle = None
        shell = None
        with contextlib.suppress(ImportError):
            from IPython import get_ipython

            shell = get_ipython()
        if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
            from IPython.display import display

            self.handle = display(self._html(0, None), display_id=True)

    def update(self, step: int, loss: float) -> None:
        if self.handle is not None:
            self.handle.update(self._html(step, loss))
            return
        done = round(self.WIDTH * step / self.total)
        bar = "#" * done + "." * (self.WIDTH - done)
        sys.stderr.write(f"\rtraining [{bar}] {step}/{self.total}  loss {loss:.3f}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.handle is None:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _html(self, step: int, loss: float | None) -> Any:
        from IPython.display import HTML

        text = f"training {step}/{self.total}" + ("" if loss is None else f", loss {loss:.3f}")
        return HTML(
            f'<progress value="{step}" max="{self.total}" style="width:16em"></progress> '
            f"<code>{html.escape(text)}</code>"
        )


__all__ = ["Scorer", "TrainingHistory", "TrainingRecord", "evaluate", "token_loss", "train"]


def induction_head_formed(
    record: TrainingRecord,
    *,
    layer: int = 1,
    min_score: float = 0.5,
    max_loss_ratio: float = 0.1,
) -> bool:
    """True once a record shows a working induction head (lesson 03).

    The criterion of issue #3 and of ``attnviz bench``: some head in ``layer`` has an
    induction score above ``min_score``, and the held-out loss on the repeated half is
    below ``max_loss_ratio`` times the loss on the first (unpredictable) half.
    """
    if not isinstance(record, TrainingRecord):
        raise TypeError(f"record must be a TrainingRecord, got {type(record).__name__}")
    min_score = check_real("min_score", min_score, low=0.0, high=1.0)
    max_loss_ratio = check_real("max_loss_ratio", max_loss_ratio, low=0.0)
    missing = {"first_half", "repeated_half"} - set(record.region_loss)
    if missing or "induction" not in record.scores:
        raise ValueError(
            "record must come from training on repeated_tokens with the default scores "
            f"(region losses first_half and repeated_half, score 'induction'); it has "
            f"region losses {sorted(record.region_loss)} and scores {sorted(record.scores)}"
        )
    scores = record.scores["induction"]  # (L, H)
    layer = check_int("layer", layer, low=0, high=scores.shape[0] - 1)
    losses = record.region_loss
    return bool(
        float(scores[layer].max()) > min_score
        and losses["repeated_half"] < max_loss_ratio * losses["first_half"]
    )
