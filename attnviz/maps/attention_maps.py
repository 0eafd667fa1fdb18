"""AttentionMaps, the weights of one sequence, and the readers of what may stand for them.

Every function of ``attnviz.maps`` takes an :class:`AttentionMaps` or a bare array
(numpy or torch); the readers here turn either into a checked numpy array, token
ids into an int64 tensor and a ``(start, end)`` pair into a checked span, so the
public functions check their arguments at the door with the same messages.

A leaf of ``attnviz.maps``: the other modules of the package import this one, and it
imports none of them.

Shapes: ``weights`` are (L, H, T, T) = (layers, heads, query, key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from attnviz.validation import check_int, check_real_tensor, check_text, short_repr


@dataclass(frozen=True, eq=False, repr=False)
class AttentionMaps:
    """The attention weights of one sequence, every layer and head (lesson 02).

    Attributes:
        weights: (L, H, T, T) array; ``weights[l, h, t]`` is query t's attention
            over the keys in head h of layer l.
        tokens: T labels, one per position (token strings, or ids as text).
        input_ids: (T,) token ids, or None when the model was fed embeddings.
        model_name: the class name of the model the maps came from.

    What is computed from the maps is a function of ``attnviz.maps`` that takes them:
    ``maps.head_scores(m)``, ``maps.entropy(m)``, ``maps.rollout(m)``,
    ``maps.downsample(m.head(l, h))``, ``maps.window(m.head(l, h), rows, tokens=m.tokens)``.
    """

    weights: np.ndarray  # (L, H, T, T)
    tokens: list[str]
    input_ids: np.ndarray | None = None  # (T,)
    model_name: str = field(default="")

    def __post_init__(self) -> None:
        weights = _attention_weights("weights", to_numpy("weights", self.weights))
        if weights.ndim != 4 or weights.shape[-1] != weights.shape[-2]:
            raise ValueError(
                "weights must have shape (layers, heads, query, key) with query == key, "
                f"got {weights.shape}"
            )
        if not np.issubdtype(weights.dtype, np.floating):
            weights = weights.astype(np.float32)
        seq_len = weights.shape[-1]
        if isinstance(self.tokens, (str, bytes)) or not isinstance(self.tokens, Sequence):
            raise TypeError(
                f"tokens must be a list of {seq_len} strings (one per position), "
                f"got {short_repr(self.tokens)}"
            )
        tokens = list(self.tokens)
        if len(tokens) != seq_len or not all(isinstance(t, str) for t in tokens):
            raise ValueError(
                f"tokens must be {seq_len} strings (one per position), got {len(tokens)} items"
            )
        input_ids = self.input_ids
        if input_ids is not None:
            input_ids = as_ids("input_ids", input_ids).numpy()
            if input_ids.shape != (seq_len,):
                raise ValueError(
                    f"input_ids must have shape ({seq_len},) (one id per position), "
                    f"got {input_ids.shape}"
                )
            if input_ids.size and input_ids.min() < 0:
                raise ValueError(f"input_ids must be token ids >= 0, got {input_ids.min()}")
        check_text("model_name", self.model_name, empty=True)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "input_ids", input_ids)

    def __repr__(self) -> str:
        name = self.model_name or "model"
        return (
            f"AttentionMaps({name}: {self.n_layers} layers × {self.n_heads} heads "
            f"× {self.seq_len} tokens)"
        )

    @property
    def n_layers(self) -> int:
        """Number of attention layers L."""
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        """Number of heads per layer H."""
        return self.weights.shape[1]

    @property
    def seq_len(self) -> int:
        """Sequence length T."""
        return self.weights.shape[-1]

    def layer(self, layer: int) -> np.ndarray:
        """The (H, T, T) weights of one layer."""
        return self.weights[check_int("layer", layer, low=0, high=self.n_layers - 1)]

    def head(self, layer: int, head: int) -> np.ndarray:
        """The (T, T) weights of one head: row = query, column = key."""
        layer = check_int("layer", layer, low=0, high=self.n_layers - 1)
        return self.weights[layer, check_int("head", head, low=0, high=self.n_heads - 1)]


def to_numpy(name: str, value: Any) -> np.ndarray:
    """A numpy array of real numbers from a tensor (half precision widened to float32),
    an array or a (nested) list; TypeError naming ``name`` for anything else."""
    check_text("name", name)
    if isinstance(value, torch.Tensor):
        value = check_real_tensor(name, value).detach().cpu()
        if value.dtype in (torch.float16, torch.bfloat16):
            value = value.float()
        return value.numpy()
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be an AttentionMaps, a torch.Tensor or a numpy.ndarray, "
            f"got {short_repr(value)}"
        )
    try:
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None or array.dtype.kind not in "biuf":
        what = type(value).__name__ if array is None else f"dtype {array.dtype}"
        raise TypeError(
            f"{name} must be an AttentionMaps, a torch.Tensor or a numpy.ndarray of real "
            f"numbers, got {what}"
        )
    return array


def _attention_weights(name: str, weights: np.ndarray) -> np.ndarray:
    """``weights`` if they are real, finite, non-negative and not empty."""
    if weights.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {weights.dtype}")
    if weights.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise ValueError(f"{name} must hold finite, non-negative attention weights")
    return weights


def weights_of(maps: Any, name: str = "maps") -> np.ndarray:
    """(L, H, T, T) weights from AttentionMaps or an array; 2-D = one head, 3-D = one layer."""
    if isinstance(maps, AttentionMaps):
        return maps.weights
    weights = to_numpy(name, maps)
    if weights.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {weights.dtype}")
    if weights.ndim not in (2, 3, 4) or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(
            f"{name} must have shape (layers, heads, T, T), (heads, T, T) or (T, T), "
            f"got {weights.shape}"
        )
    weights = _attention_weights(name, weights)
    return weights.reshape((1,) * (4 - weights.ndim) + weights.shape)


def map_array(name: str, weights: Any) -> np.ndarray:
    """(..., Tq, Tk) maps of finite numbers from AttentionMaps or an array of any leading shape."""
    if isinstance(weights, AttentionMaps):
        return weights.weights
    array = to_numpy(name, weights)
    if array.ndim < 2 or array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f"{name} must be a non-empty (..., query, key) array, got {array.shape}")
    if array.dtype.kind == "b":
        array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold finite numbers (no NaN or inf)")
    return array


def as_ids(name: str, value: Any) -> torch.Tensor:
    """Token ids (tensor, array or list of integers) as an int64 CPU tensor."""
    check_text("name", name)
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta" or value.layout != torch.strided:
            raise TypeError(
                f"{name} must be integer token ids in a dense CPU or GPU tensor, got one on "
                f"{value.device} with layout {value.layout}"
            )
        tensor = value.detach().cpu()
    else:
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(f"{name} must be integer token ids, got {short_repr(value)}")
        try:
            array = np.asarray(value)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(
                f"{name} must be integer token ids, got {type(value).__name__}"
            ) from None
        if array.dtype == object or (array.size and array.dtype.kind not in "iu"):
            raise TypeError(f"{name} must be integer token ids, got dtype {array.dtype}")
        tensor = torch.from_numpy(array.astype(np.int64))
    if tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex():
        raise TypeError(f"{name} must be integer token ids, got dtype {tensor.dtype}")
    return tensor.long()


def ids_for(maps: Any, input_ids: Any, seq_len: int) -> np.ndarray:
    """The (T,) ids to score ``maps`` against: ``input_ids``, or else the ids the maps hold.

    ``input_ids`` may be (T,) or (1, T); ids are >= 0.
    """
    seq_len = check_int("seq_len", seq_len, low=1)
    if input_ids is None:
        ids = maps.input_ids if isinstance(maps, AttentionMaps) else None
        if ids is None:
            raise ValueError(
                "input_ids is required: these maps hold no token ids to compare "
                "(pass the (T,) ids the maps were computed on)"
            )
        if ids.shape != (seq_len,):
            raise ValueError(f"seq_len must be the maps' sequence length {ids.size}, got {seq_len}")
        return ids
    ids = as_ids("input_ids", input_ids).numpy()
    if ids.ndim == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.shape != (seq_len,):
        raise ValueError(
            f"input_ids must have {seq_len} entries (seq_len, the maps' sequence length), "
            f"got shape {ids.shape}"
        )
    if ids.min() < 0:
        raise ValueError(f"input_ids must be token ids >= 0, got {ids.min()}")
    return ids


def check_span(name: str, span: Any, length: int) -> tuple[int, int]:
    """A non-empty ``[start, end)`` span of positions in a sequence of ``length``."""
    check_text("name", name)
    length = check_int("length", length, low=1, high=2**62)
    if isinstance(span, (torch.Tensor, np.ndarray)):
        span = span.tolist()  # e.g. a row of attnviz.tasks' spans["needle"]
    if not isinstance(span, (tuple, list)) or len(span) != 2:
        raise TypeError(f"{name} must be a (start, end) pair of positions, got {span!r}")
    start = check_int(f"{name} start", span[0], low=0, high=length - 1)
    end = check_int(f"{name} end", span[1], low=start + 1, high=length)
    return start, end
