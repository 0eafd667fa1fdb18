"""Ablation: knock heads out and see how much the task loss rises (lesson 03).

Needs the per-head outputs before the output projection: the ``hook_z`` hook
points of attnviz TinyTransformer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np
import torch
from torch import nn

from attnviz.maps.attention_maps import as_ids
from attnviz.maps.capturing import _check_weights_budget
from attnviz.maps.forward import eval_mode
from attnviz.maps.model_io import (
    check_token_ids,
    logits_of,
    model_kind,
    model_limits,
    named_hooks,
    prepare_inputs,
)
from attnviz.validation import check_choice, check_int

IGNORE_INDEX = -100  # a target with no loss (torch cross_entropy, attnviz.tasks)


def ablate(
    model: nn.Module,
    input_ids: Any,
    targets: Any,
    heads: Sequence[tuple[int, int]],
    *,
    mode: str = "zero",
    loss_mask: Any = None,
) -> float:
    """Knock out heads and return the change in the task loss (lesson 03).

    A forward hook on each layer's ``hook_z`` (the per-head outputs (B, H, T,
    d_head) before the output projection, attnviz TinyTransformer) replaces the
    chosen heads' outputs with zeros (``mode="zero"``) or with that head's mean
    output over the batch and positions of this data (``mode="mean"``).

    Args:
        model: a model with ``hook_z`` hook points and (B, T, vocab) logits.
        input_ids: (T,) or (B, T) token ids.
        targets: the next-token targets, same shape as ``input_ids``; -100 (the
            ignore index of ``torch.nn.functional.cross_entropy`` and
            ``attnviz.tasks``) marks a position with no loss.
        heads: the (layer, head) pairs to knock out together; empty = none.
        mode: ``"zero"`` or ``"mean"``.
        loss_mask: optional boolean mask, same shape as ``input_ids``: the
            positions the loss is averaged over (default all).

    Returns:
        ablated loss − clean loss, in nats per token (> 0: the heads mattered).
    """
    setup = _AblationSetup(model, input_ids, targets, mode, loss_mask)
    pairs = setup.check_heads(heads)
    return setup.loss(pairs) - setup.clean_loss


def ablation_table(
    model: nn.Module,
    input_ids: Any,
    targets: Any,
    *,
    mode: str = "zero",
    loss_mask: Any = None,
) -> np.ndarray:
    """Loss change from knocking out each head alone, (L, H) (lesson 03); see :func:`ablate`."""
    setup = _AblationSetup(model, input_ids, targets, mode, loss_mask)
    table = np.zeros((len(setup.hooks), setup.n_heads))
    for layer, head in np.ndindex(table.shape):
        table[layer, head] = setup.loss([(layer, head)]) - setup.clean_loss
    return table


def _boolean_mask(value: Any) -> torch.Tensor:
    """``loss_mask`` as a bool tensor: a bool tensor or numpy array (or a list of bools)."""
    if isinstance(value, torch.Tensor):
        mask = value
    elif isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.dtype != np.bool_:
            raise TypeError(f"loss_mask must be boolean, got dtype {array.dtype}")
        mask = torch.from_numpy(array)
    else:
        raise TypeError(
            f"loss_mask must be None or a boolean tensor shaped like input_ids, "
            f"got {type(value).__name__}"
        )
    if mask.dtype != torch.bool:
        raise TypeError(f"loss_mask must be boolean, got dtype {mask.dtype}")
    return mask.cpu()


class _AblationSetup:
    """A clean run (loss, each head's mean z) that ablated runs are compared with."""

    def __init__(
        self, model: nn.Module, input_ids: Any, targets: Any, mode: str, loss_mask: Any
    ) -> None:
        model_kind(model)  # a module with attention, or a TypeError that says what is missing
        self.model = model
        self.mode = check_choice("mode", mode, ("zero", "mean"))
        self.hooks = named_hooks(model, "hook_z")
        if not self.hooks:
            raise TypeError(
                f"ablation needs per-head outputs: model {type(model).__name__} has no "
                "`hook_z` hook points (attnviz TinyTransformer has them)"
            )
        self.batch, _ = prepare_inputs(model, input_ids, embeddings_ok=False)  # (B, T)
        _check_weights_budget(
            model, "hook_pattern", self.batch, True,
            instead="knock heads out on fewer or shorter sequences",
        )  # fmt: skip
        self.vocab, _ = model_limits(model)
        self.targets = self._shaped_like_batch("targets", as_ids("targets", targets))
        scored = self.targets != IGNORE_INDEX
        check_token_ids(
            "targets", self.targets[scored], self.vocab, f" or {IGNORE_INDEX} (no loss)"
        )
        if loss_mask is None:
            self.mask = scored
        else:
            mask = _boolean_mask(loss_mask)
            self.mask = self._shaped_like_batch("loss_mask", mask) & scored
        if not self.mask.any():
            raise ValueError(
                "loss_mask must keep at least one position whose target is not "
                f"{IGNORE_INDEX} (check targets and loss_mask), got none"
            )
        z_means: list[torch.Tensor] = []

        def keep_mean(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            if output.dim() != 4:
                raise ValueError(
                    f"hook_z output must be (batch, heads, T, d_head), got {tuple(output.shape)}"
                )
            z_means.append(output.mean(dim=(0, 2)))  # (H, d_head)

        self.clean_loss = self._loss_with([keep_mean] * len(self.hooks))
        self.z_means = z_means
        self.n_heads = z_means[0].shape[0]

    def _shaped_like_batch(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` in the (B, T) shape of the inputs; a flat one of B·T entries is reshaped."""
        if tensor.numel() == self.batch.numel():
            tensor = tensor.reshape(self.batch.shape)
        if tensor.shape != self.batch.shape:
            raise ValueError(
                f"{name} must have the shape of input_ids {tuple(self.batch.shape)}, "
                f"got {tuple(tensor.shape)}"
            )
        return tensor

    def check_heads(self, heads: Any) -> list[tuple[int, int]]:
        if isinstance(heads, (str, bytes)) or not isinstance(heads, Sequence):
            raise TypeError(f"heads must be a list of (layer, head) pairs, got {heads!r}")
        pairs = []
        for pair in heads:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"heads must be a list of (layer, head) pairs, got item {pair!r}")
            layer = check_int("heads layer", pair[0], low=0, high=len(self.hooks) - 1)
            head = check_int("heads head", pair[1], low=0, high=self.n_heads - 1)
            pairs.append((layer, head))
        return pairs

    def loss(self, heads: list[tuple[int, int]]) -> float:
        by_layer: list[list[int]] = [[] for _ in self.hooks]
        for layer, head in heads:
            by_layer[layer].append(head)

        def knock_out(layer: int) -> Callable[..., torch.Tensor | None]:
            def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
                if not by_layer[layer]:
                    return None
                z = output.clone()  # (B, H, T, d_head)
                for head in by_layer[layer]:
                    if self.mode == "zero":
                        z[:, head] = 0
                    else:
                        z[:, head] = self.z_means[layer][head]
                return z

            return hook

        return self._loss_with([knock_out(layer) for layer in range(len(self.hooks))])

    def _loss_with(self, hooks: list[Callable[..., Any]]) -> float:
        with ExitStack() as stack, torch.no_grad(), eval_mode(self.model):
            for module, hook in zip(self.hooks, hooks, strict=True):
                stack.callback(module.register_forward_hook(hook).remove)
            out = self.model(self.batch)
        logits = logits_of(
            self.model, out, self.vocab, needed_for="so there is no task loss to compare"
        )
        per_token = nn.functional.cross_entropy(
            logits.double().reshape(-1, logits.shape[-1]),
            self.targets.reshape(-1),
            reduction="none",
            ignore_index=IGNORE_INDEX,
        ).reshape(self.targets.shape)  # (B, T)
        return float(per_token[self.mask].mean())
