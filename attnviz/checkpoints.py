"""Checkpoints: a TinyTransformer as a safetensors file, its config and history as JSON.

Lesson 02 saves and loads a model; lesson 03 reads the training history that travels
with it. A checkpoint holds only tensors and JSON, no pickle: the config, and
optionally the training recipe and history, travel in the file's metadata under one
key, ``"attnviz"``, whose ``"format"`` is ``FORMAT``. The course's own trained models
are checkpoints too (``attnviz.lesson_models``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save as _save_bytes

from attnviz.models import TinyConfig, TinyTransformer
from attnviz.training import TrainingHistory

FORMAT = "attnviz.TinyTransformer/1"  # what a checkpoint's metadata says it holds


def save(
    model: TinyTransformer,
    path: str | Path,
    *,
    history: TrainingHistory | None = None,
    recipe: dict[str, Any] | None = None,
    numerics: str | None = None,
) -> Path:
    """Write ``model`` to a safetensors file, with its config (and history) as JSON (lesson 02).

    The file holds only tensors and JSON, no pickle, and is byte-for-byte the
    same for the same weights, config, history, recipe and ``numerics`` (the
    ``numerics_fingerprint()`` of the machine that trained it, if given).
    """
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    if history is not None and not isinstance(history, TrainingHistory):
        raise TypeError(f"history must be a TrainingHistory, got {type(history).__name__}")
    if recipe is not None and not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict, got {type(recipe).__name__}")
    if numerics is not None and not isinstance(numerics, str):
        raise TypeError(f"numerics must be a str, got {type(numerics).__name__}")
    path = _check_path(path)
    meta = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "recipe": recipe,
        "history": None if history is None else history.to_dict(),
    }
    if numerics is not None:
        meta["numerics"] = numerics
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    # One metadata key: safetensors writes several keys in an arbitrary order.
    try:
        text = json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"recipe and history must hold only JSON values (str, finite numbers, lists, "
            f"dicts): {error}"
        ) from None
    path.write_bytes(_save_bytes(tensors, metadata={"attnviz": text}))
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint: format, config, recipe and history (lesson 03)."""
    path = _check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be a safetensors checkpoint file, got {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("attnviz")
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(f"path {str(path)!r} is not a safetensors file: {error}") from None
    try:
        meta = None if raw is None else json.loads(raw)
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"path {str(path)!r} is not an attnviz checkpoint (format {FORMAT})")
    return meta


def load(path: str | Path) -> TinyTransformer:
    """Read a model written by ``save``, in eval mode (lesson 02)."""
    meta = read_metadata(path)
    try:
        model = TinyTransformer(TinyConfig.from_dict(meta["config"]), seed=0)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"path {str(path)!r} holds no valid config: {error}") from None
    with safe_open(str(path), framework="pt") as f:
        state = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # missing, unexpected or misshapen tensors
        raise ValueError(f"path {str(path)!r} does not match its config: {error}") from None
    return model.eval()


def load_history(path: str | Path) -> TrainingHistory | None:
    """The training history stored with a checkpoint, or None (lesson 03)."""
    history = read_metadata(path).get("history")
    if history is None:
        return None
    try:
        return TrainingHistory.from_dict(history)
    except (TypeError, ValueError) as error:
        raise ValueError(f"path {str(path)!r} holds no valid training history: {error}") from None


def _check_path(path: Any) -> Path:
    """A str or os.PathLike as a Path; anything else is refused by name."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    if not str(path):
        raise ValueError("path must not be empty")
    return Path(path)


__all__ = ["FORMAT", "load", "load_history", "read_metadata", "save"]
