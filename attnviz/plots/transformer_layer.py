"""Lesson 01b's figure: a signed matrix whose masked cells stay visible.

``SignedMatrix`` draws the matrices of one transformer layer (``attnviz.transformer_layer``):
the scores q·k / √d_head with the causal mask's −∞ above the diagonal, the scores of one
token pair at every pair of positions (learned positions vs RoPE), or the rows of X, Q, K
and V. Blue is negative, white zero, red positive; a cell of −∞ (a key the causal mask
hides) or NaN is grey, and its hover says so. The attention weights themselves are a
``Heatmap`` (``attnviz.plots.figures``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, Rect

from attnviz.plots import _checks
from attnviz.plots.figures import _matrix_figure, _symmetric_scale
from attnviz.plots.theme import DIVERGING, _label_ticks, palette_mapper

MASKED_COLOR = "#bdbdbd"  # a key the causal mask hides (score −∞)
MAX_CELLS = 64 * 128  # drawn cell by cell: a (T, d_model) matrix of the lesson models fits


class SignedMatrix:
    """A matrix of signed numbers on a diverging scale centred at 0; −∞ cells drawn grey.

    ``update(matrix, row_labels, col_labels, limit)`` swaps the numbers in place; the scale
    is ±``limit`` (default: the largest finite magnitude). Hovering a cell gives its row,
    column and value ("masked" for −∞).
    """

    def __init__(
        self,
        matrix: np.ndarray,
        row_labels: Sequence[str] | None = None,
        col_labels: Sequence[str] | None = None,
        *,
        title: str = "",
        x_label: str = "key position",
        y_label: str = "query position",
        value_label: str = "score",
        **figure_kwargs,
    ) -> None:
        self.mapper = palette_mapper(DIVERGING, low=-1.0, high=1.0, nan_color=MASKED_COLOR)
        self.cells = ColumnDataSource(data=dict(x=[], y=[], value=[], shown=[], row=[], col=[]))
        options = dict(tools="hover,save", width=420, height=380)
        options.update(figure_kwargs)
        width, height = options.pop("width"), options.pop("height")
        self.figure = fig = _matrix_figure(
            title, x_label, y_label, tools=options.pop("tools"), width=width, height=height,
            figure_kwargs=options,
        )  # fmt: skip
        self.rects = fig.add_glyph(
            self.cells,
            Rect(
                x="x",
                y="y",
                width=1,
                height=1,
                line_color=None,
                fill_color={"field": "value", "transform": self.mapper},
            ),
        )
        hover = fig.select_one(HoverTool)
        hover.renderers = [self.rects]
        hover.tooltips = [(y_label, "@row"), (x_label, "@col"), (value_label, "@shown")]
        fig.add_layout(ColorBar(color_mapper=self.mapper, width=10, title=value_label), "right")
        self.update(matrix, row_labels, col_labels)

    def update(
        self,
        matrix: np.ndarray,
        row_labels: Sequence[str] | None = None,
        col_labels: Sequence[str] | None = None,
        limit: float | None = None,
    ) -> None:
        """Draw ``matrix`` (rows, cols): finite numbers, −∞ for a masked cell (grey), NaN
        for a cell with no value (grey); at most ``MAX_CELLS`` cells. ``row_labels`` and
        ``col_labels`` name the rows and columns (default: their indices); ``limit`` >= 0
        fixes the scale to ±limit."""
        matrix = _checks.values("matrix", matrix, ndim=2, finite=False)
        if np.isposinf(matrix).any():
            raise ValueError("matrix must not hold +inf (−inf is a masked cell, NaN no value)")
        if matrix.size > MAX_CELLS:
            raise ValueError(
                f"matrix has {matrix.size:,} cells, more than a SignedMatrix draws cell by "
                f"cell ({MAX_CELLS:,}); draw a smaller matrix"
            )
        n_rows, n_cols = matrix.shape
        rows = _checks.labels("row_labels", row_labels, n_rows) or [str(i) for i in range(n_rows)]
        cols = _checks.labels("col_labels", col_labels, n_cols) or [str(j) for j in range(n_cols)]
        limit = _checks.optional_real("limit", limit, low=0.0)
        masked = np.isneginf(matrix)
        matrix = _symmetric_scale(self.mapper, np.where(masked, np.nan, matrix), limit)
        ys, xs = np.divmod(np.arange(n_rows * n_cols), n_cols)
        shown = [
            "masked (−∞)" if hidden else ("—" if np.isnan(value) else f"{value:.3f}")
            for value, hidden in zip(matrix.ravel(), masked.ravel(), strict=True)
        ]
        self.cells.data = dict(
            x=xs,
            y=ys,
            value=matrix.ravel(),
            shown=shown,
            row=[rows[i] for i in ys],
            col=[cols[j] for j in xs],
        )
        self.figure.x_range.update(start=-0.5, end=n_cols - 0.5)
        self.figure.y_range.update(start=n_rows - 0.5, end=-0.5)
        _label_ticks(self.figure.xaxis[0], n_cols, None if col_labels is None else cols)
        # named keys ("17@1") side by side overlap: slant them, as the weights map does
        self.figure.xaxis[0].major_label_orientation = 0.8 if col_labels is not None else 0.0
        _label_ticks(self.figure.yaxis[0], n_rows, None if row_labels is None else rows)
