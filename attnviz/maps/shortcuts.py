"""AttentionMaps' shortcut methods: ``maps.scores()``, ``maps.window(layer, head, rows)``, ...

Each is a function of ``attnviz.maps`` applied to the maps (lessons 02, 03). They are
written here and attached to the class, not written in ``attention_maps.py``, because
the modules of those functions import ``attention_maps`` (for AttentionMaps and its
readers): it stays a leaf, and the imports run one way (issue #12). ``attnviz.maps``
imports this module, and Python imports a package before any module in it, so every
AttentionMaps has the methods.
"""

from __future__ import annotations

import numpy as np

from attnviz.maps import attention_rollout, focus, overview, score_table
from attnviz.maps.attention_maps import AttentionMaps


class _Shortcuts:
    """The methods, written as methods; ``AttentionMaps`` gets each one below."""

    def entropy(self, *, normalize: bool = False, per_query: bool = False) -> np.ndarray:
        """Attention entropy per head in nats; see :func:`attnviz.maps.entropy`."""
        return focus.entropy(self, normalize=normalize, per_query=per_query)

    def rollout(self, *, residual: float = 0.5) -> np.ndarray:
        """Attention rollout through the layers, (L, T, T); see :func:`attnviz.maps.rollout`."""
        return attention_rollout.rollout(self, residual=residual)

    def scores(self, *, exclude_bos: bool = False) -> dict[str, np.ndarray]:
        """Every map-only head score, each (L, H); see :func:`attnviz.maps.head_scores`."""
        return score_table.head_scores(self, exclude_bos=exclude_bos)

    def downsample(
        self, layer: int, head: int, max_size: int = 256, *, reduce: str = "max"
    ) -> overview.Pooled:
        """A pooled overview of one head; see :func:`attnviz.maps.downsample`."""
        return overview.downsample(self.head(layer, head), max_size, reduce=reduce)

    def window(
        self,
        layer: int,
        head: int,
        rows: tuple[int, int],
        cols: tuple[int, int] | None = None,
    ) -> overview.Window:
        """A labelled full-resolution region of one head; see :func:`attnviz.maps.window`."""
        return overview.window(self.head(layer, head), rows, cols, tokens=self.tokens)


SHORTCUTS = ("entropy", "rollout", "scores", "downsample", "window")
for _name in SHORTCUTS:
    _method = vars(_Shortcuts)[_name]
    _method.__qualname__ = f"AttentionMaps.{_name}"
    setattr(AttentionMaps, _name, _method)
