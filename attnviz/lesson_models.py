"""The course's own trained models: their recipes, how to train them, and the shipped weights.

Lessons 02 and 03 read models trained from the recipes in ``LESSON_MODELS``:
``load_lesson_model`` loads the weights that ship in ``attnviz/weights/``
(checkpoints, ``attnviz.checkpoints``), ``load_lesson_history`` their training
history, ``lesson_held_out`` the sequences their training held out.
``tools/train_lesson_models.py`` writes the weights with ``train_lesson_model``, and
``numerics_fingerprint`` records how the training machine rounds.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from attnviz.checkpoints import load, load_history
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.tasks import TaskData, make_task
from attnviz.training import TrainingHistory, train

# Each recipe trains in seconds on a laptop CPU; tools/train_lesson_models.py writes
# attnviz/weights/<name>.safetensors from these, and a test retrains and compares.
# The training data vary the period of the repetition (min_half), so that only an
# induction head, not a head that looks a fixed distance back, predicts the repeats.
_REPEATS = {
    "task": "repeated_tokens",
    "n": 4096,
    "seq_half": 16,
    "vocab": 48,
    "seed": 0,
    "min_half": 4,
}
_TRAIN = {"steps": 400, "lr": 1e-3, "batch_size": 64, "seed": 0, "record_every": 5}
LESSON_MODELS: dict[str, dict[str, Any]] = {
    "induction_2l": {
        "description": "2-layer attention-only model on repeated tokens: an induction head forms",
        "config": {"n_layers": 2, "n_heads": 2, "d_model": 64, "vocab_size": 48, "context": 33,
                   "attention_only": True},
        "init_seed": 0,
        "task": _REPEATS,
        "train": _TRAIN,
    },
    "induction_1l": {
        "description": "1-layer attention-only control on the same task: no induction head",
        "config": {"n_layers": 1, "n_heads": 2, "d_model": 64, "vocab_size": 48, "context": 33,
                   "attention_only": True},
        "init_seed": 0,
        "task": _REPEATS,
        "train": _TRAIN,
    },
    "induction_rope": {
        "description": "2-layer attention-only model with rotary positions that reads up to "
                       "4,096 tokens: trained on periodic tokens of 128, then 1,024 and 2,048 "
                       "tokens, its previous-token and induction heads still work at 4,096",
        "config": {"n_layers": 2, "n_heads": 2, "d_model": 64, "vocab_size": 48,
                   "context": 4096, "attention_only": True, "positional": "rope"},
        "init_seed": 0,
        "task": {"task": "periodic_tokens", "n": 1024, "length": 128, "vocab": 48, "seed": 0,
                 "min_period": 4},
        "train": {"steps": 200, "lr": 3e-3, "batch_size": 32, "seed": 0, "eval_size": 8,
                  "record_every": 10},
        # at 128 tokens the heads are too blunt for 4,096 (a previous-token head that
        # puts 0.9 of its weight on the previous token among 100 keys puts 0.02 there
        # among 3,000): longer inputs sharpen them and show them the longer offsets
        "then": [
            {"task": {"task": "periodic_tokens", "n": 1024, "length": 1024, "vocab": 48,
                      "seed": 1, "min_period": 4},
             "train": {"steps": 150, "lr": 2e-3, "batch_size": 2, "seed": 1, "eval_size": 8,
                       "record_every": 50}},
            {"task": {"task": "periodic_tokens", "n": 128, "length": 2048, "vocab": 48,
                      "seed": 2, "min_period": 4},
             "train": {"steps": 30, "lr": 1e-3, "batch_size": 1, "seed": 2, "eval_size": 2,
                       "record_every": 30}},
        ],
    },
}  # fmt: skip


def train_lesson_model(
    name: str, *, progress: bool = False, num_threads: int | None = 1
) -> tuple[TinyTransformer, TrainingHistory]:
    """Train a lesson model from its recipe in ``LESSON_MODELS`` (lessons 02, 03).

    A recipe may go on training on further tasks (``"then"``, e.g. longer inputs);
    the history then continues through them, its steps counted from the start.
    ``num_threads`` is ``train``'s: the shipped models were trained on one thread,
    and another count rounds the last bits differently (the same behaviour, other bits).
    """
    recipe = _lesson_recipe(name)
    model = TinyTransformer(TinyConfig(**recipe["config"]), seed=recipe["init_seed"])
    options = {"progress": progress, "num_threads": num_threads}
    history = train(model, make_task(**recipe["task"]), **options, **recipe["train"])
    for stage in recipe.get("then", ()):
        more = train(model, make_task(**stage["task"]), **options, **stage["train"])
        _extend(history, more)
    return model, history


def numerics_fingerprint() -> str:
    """How this machine's CPU kernels round when training (the shipped models' provenance).

    Training is deterministic on one machine, but the last bits of matrix products
    and reductions may differ between CPUs and PyTorch builds (PyTorch promises
    bit-equal results only on one platform and release). This trains the first
    lesson recipe for three steps and hashes the weights: machines with equal
    fingerprints retrain the shipped models bit for bit (tools/train_lesson_models.py
    stores the fingerprint in each file).
    """
    recipe = LESSON_MODELS["induction_2l"]
    model = TinyTransformer(TinyConfig(**recipe["config"]), seed=recipe["init_seed"])
    task = make_task(**{**recipe["task"], "n": 256})
    train(model, task, progress=False, **{**recipe["train"], "steps": 3, "record_every": 3})
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.numpy().tobytes())
    return f"torch {torch.__version__}, {digest.hexdigest()[:16]}"


def _extend(history: TrainingHistory, more: TrainingHistory) -> None:
    """Append a later stage's records, all but its step 0 (the weights of the last record)."""
    offset = history.steps[-1]
    history.steps += [offset + step for step in more.steps[1:]]
    history.loss += more.loss[1:]
    for key, values in history.region_loss.items():
        values += more.region_loss[key][1:]
    for key, values in history.scores.items():
        values += more.scores[key][1:]
    history.train_loss += more.train_loss
    history.recipe = {**history.recipe, "then": [*history.recipe.get("then", []), more.recipe]}


def lesson_model_path(name: str) -> Path:
    """Where the shipped weights of a lesson model live (lessons 02, 03)."""
    _lesson_recipe(name)
    return Path(str(resources.files("attnviz") / "weights" / f"{name}.safetensors"))


def load_lesson_model(name: str) -> TinyTransformer:
    """Load one of the course's trained models, e.g. ``"induction_2l"`` (lessons 02, 03)."""
    return load(lesson_model_path(name))


def load_lesson_history(name: str) -> TrainingHistory:
    """The training history shipped with a lesson model, to plot without retraining (lesson 03)."""
    history = load_history(lesson_model_path(name))
    if history is None:
        raise ValueError(f"the weights of {name!r} were saved without a training history")
    return history


@lru_cache(maxsize=8)
def lesson_held_out(name: str) -> TaskData:
    """The sequences a lesson model's training held out, its recipe's first ``eval_size``:
    what lesson 03 and its dashboard measure the model on. Made once per model (drawing the
    recipe's whole task costs more than a dashboard control may); treat it as read-only."""
    recipe = _lesson_recipe(name)
    return make_task(**recipe["task"])[: recipe["train"].get("eval_size", 64)]


def _lesson_recipe(name: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in LESSON_MODELS:
        raise ValueError(f"name must be one of {tuple(LESSON_MODELS)}, got {name!r}")
    return LESSON_MODELS[name]
