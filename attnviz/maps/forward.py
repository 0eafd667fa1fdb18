"""One forward pass that keeps every layer's attention weights, for each kind of model.

The three adapters :func:`attnviz.maps.capture` describes: ``output_attentions``
for a Hugging Face model (eager attention for the call), forward hooks on
``hook_pattern`` points, and hooks on ``nn.MultiheadAttention`` that force per-head
weights (fast path off). The pass runs in eval mode under ``torch.no_grad()``;
train/eval flags, hooks and settings are restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn

from attnviz.maps.model_io import _check_module, model_kind, named_hooks, prepare_inputs
from attnviz.validation import check_choice

KINDS = ("hf", "hook_pattern", "mha")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Dropout off for the block; every module's train/eval flag restored after."""
    _check_module(model)
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


@contextmanager
def _mha_slow_path() -> Iterator[None]:
    """Turn off PyTorch's fused MHA / encoder fast path, which never forms the weights."""
    backend = getattr(torch.backends, "mha", None)
    if backend is None or not hasattr(backend, "set_fastpath_enabled"):
        yield
        return
    was = backend.get_fastpath_enabled()
    backend.set_fastpath_enabled(False)
    try:
        yield
    finally:
        backend.set_fastpath_enabled(was)


def run(model: nn.Module, batch: torch.Tensor, kind: str) -> tuple[list[torch.Tensor], Any]:
    """One forward pass; return the per-layer weights (B, H, T, T) and the raw output.

    ``kind`` is the model's kind (:func:`attnviz.maps.model_io.model_kind`); ``batch`` its
    input, checked as :func:`attnviz.maps.capture` checks ``input_ids``.
    """
    kind = check_choice("kind", kind, KINDS)
    actual = model_kind(model)
    if kind != actual:
        raise ValueError(f"kind must be the model's kind {actual!r}, got {kind!r}")
    batch, _ = prepare_inputs(model, batch, embeddings_ok=kind == "mha", name="batch")
    with torch.no_grad(), eval_mode(model):
        if kind == "hf":
            return _run_hf(model, batch)
        if kind == "hook_pattern":
            return _run_hooked(model, batch, named_hooks(model, "hook_pattern"), mha=False)
        modules = [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
        with _mha_slow_path():
            return _run_hooked(model, batch, modules, mha=True)


def _run_hf(model: nn.Module, ids: torch.Tensor) -> tuple[list[torch.Tensor], Any]:
    config = model.config
    before = getattr(config, "_attn_implementation", None)
    switched = False
    if before not in (None, "eager") and hasattr(model, "set_attn_implementation"):
        try:
            model.set_attn_implementation("eager")
            switched = True
        except (ValueError, TypeError, ImportError, NotImplementedError, AttributeError):
            pass  # older releases fall back to eager by themselves with output_attentions
    try:
        out = model(input_ids=ids, output_attentions=True)
    finally:
        if switched:
            model.set_attn_implementation(before)
    attentions = getattr(out, "attentions", None)
    if not attentions or any(not isinstance(a, torch.Tensor) for a in attentions):
        raise TypeError(
            f"model {type(model).__name__} returned no attention weights with "
            f"output_attentions=True (attn_implementation={before!r}); build it with "
            "attn_implementation='eager', or use a model whose attention forms its weights"
        )
    return list(attentions), out


def _force_weights(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Pre-hook: ask nn.MultiheadAttention for per-head weights, positional or keyword."""
    # MultiheadAttention.forward(query, key, value, key_padding_mask, need_weights,
    #                            attn_mask, average_attn_weights, is_causal)
    args = list(args)
    for index, name, value in ((4, "need_weights", True), (6, "average_attn_weights", False)):
        if len(args) > index:
            args[index] = value
        else:
            kwargs[name] = value
    return tuple(args), kwargs


def _run_hooked(
    model: nn.Module, batch: torch.Tensor, modules: list[nn.Module], *, mha: bool
) -> tuple[list[torch.Tensor], Any]:
    seen: dict[int, torch.Tensor] = {}
    index = {id(m): i for i, m in enumerate(modules)}

    def keep(module: nn.Module, args: tuple, output: Any) -> None:
        weights = output[1] if mha else output
        if id(module) in seen:
            raise ValueError(
                f"attention layer {index[id(module)]} of {type(model).__name__} ran twice in "
                "one forward pass; capture needs each attention module to run once"
            )
        if weights.dim() == 3:  # unbatched MultiheadAttention: (H, T, S)
            weights = weights.unsqueeze(0)
        seen[id(module)] = weights.detach()  # (B, H, T, S)

    with ExitStack() as stack:
        for module in modules:
            if mha:
                handle = module.register_forward_pre_hook(_force_weights, with_kwargs=True)
                stack.callback(handle.remove)
            handle = module.register_forward_hook(keep)
            stack.callback(handle.remove)
        try:
            out = (
                model(batch, batch, batch)
                if isinstance(model, nn.MultiheadAttention)
                else model(batch)
            )
        except (RuntimeError, AssertionError, IndexError) as error:
            if not mha or "allocate" in str(error):
                raise
            # a module built on nn.MultiheadAttention whose input shape is its own business
            raise ValueError(
                f"input_ids of shape {tuple(batch.shape)} do not fit model "
                f"{type(model).__name__}: {error}"
            ) from error
    missing = [i for i, m in enumerate(modules) if id(m) not in seen]
    if len(missing) == len(modules):
        raise TypeError(
            f"model {type(model).__name__} did not compute attention weights: its "
            f"{'MultiheadAttention modules' if mha else 'hook_pattern hook points'} never ran "
            "(an attention operator that forms no T×T pattern, such as linear attention, "
            "has no map to capture)"
        )
    if missing:
        raise ValueError(
            f"attention layer(s) {missing} of {type(model).__name__} did not run, so the "
            "maps would have gaps"
        )
    return [seen[id(m)] for m in modules], out


def stack_layers(
    model: nn.Module, layers: list[torch.Tensor], into: torch.Tensor | None = None
) -> torch.Tensor:
    """The per-layer (B, H, T, T) weights as one (L, B, H, T, T) CPU tensor.

    ``into``: an (L, B, H, T, T) tensor the layers may already have been written into
    (``kernels.softmax.weights_into``); when every layer is its slice, it is the stack.
    """
    _check_module(model)
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError(
            f"layers must be a non-empty list of (B, H, T, T) tensors, got {layers!r}"[:200]
        )
    for index, layer in enumerate(layers):
        if not isinstance(layer, torch.Tensor) or layer.dim() != 4:
            shown = tuple(layer.shape) if isinstance(layer, torch.Tensor) else type(layer).__name__
            raise TypeError(f"layers must hold (B, H, T, T) tensors, got {shown} at {index}")
    if into is not None and not isinstance(into, torch.Tensor):
        raise TypeError(
            f"into must be None or an (L, B, H, T, T) tensor, got {type(into).__name__}"
        )
    shapes = {tuple(w.shape) for w in layers}
    if len(shapes) != 1:
        raise ValueError(
            f"layers: the attention layers of {type(model).__name__} have different shapes "
            f"{sorted(shapes)}; capture needs self-attention of one shape in every layer"
        )
    written = into is not None and len(layers) == len(into)
    written = written and all(
        w.data_ptr() == slot.data_ptr() and w.shape == slot.shape
        for w, slot in zip(layers, into, strict=True)
    )
    weights = into if written else torch.stack(layers)  # (L, B, H, T, S)
    if weights.shape[-1] != weights.shape[-2]:
        raise ValueError(
            f"layers: {type(model).__name__} computed cross-attention of shape "
            f"{tuple(weights.shape)}; "
            "capture needs self-attention (query length == key length)"
        )
    return weights.cpu()
