"""Lesson 07 (fast attention kernels): online softmax step by step, chunks, measured cost.

``OnlineSoftmaxView`` draws one step of online softmax (Milakov & Gimelshein 2018,
arXiv:1805.02867; FlashAttention-2, Dao 2023, arXiv:2307.08691): a query's scores with the
key block being read highlighted, the running maximum m before and after it, the running
denominator ℓ before and after, the rescale factor e^(m − m′), and the output so far against
the final output. ``ChunkView`` draws the T × T causal map of chunkwise linear attention
(Lightning Attention-2, Qin et al. 2024, arXiv:2401.04658): the diagonal blocks computed as
masked matrices (intra-chunk), the blocks left of them reached through the carried state
(inter-chunk). ``CostChart`` draws measured time against sequence length per method on
log-log axes, the lengths a method refused (over its budget) marked. ``SpeedupScatter``
draws a sparse mask's speed-up against its block density.

Nothing is computed here: the numbers come from ``attnviz.kernels.online_softmax``,
``attnviz.kernels.chunkwise`` and ``attnviz.fast_kernels``. Example::

    from attnviz.plots import CostChart
    chart = CostChart(["reference", "online softmax"])
    chart.update({"reference": ([1024, 2048], [0.01, 0.04])}, refused={"reference": [4096]})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, LegendItem, Range1d, Span

from attnviz.plots import _checks
from attnviz.plots.figures import _legend_below
from attnviz.plots.theme import SELECTED_COLOR, SERIES_COLORS, themed_figure
from attnviz.validation import plain_number

SEEN_COLOR = "#999999"  # keys already read
BLOCK_COLOR = SELECTED_COLOR  # the key block read at this step
UNSEEN_COLOR = "#dddddd"  # keys not read yet
INTRA_COLOR = "#0072b2"  # intra-chunk: a masked matrix product inside the chunk
INTER_COLOR = "#009e73"  # inter-chunk: through the state carried from earlier chunks
STATE_LABELS = ("m before", "m after", "ℓ before", "ℓ after", "e^(m − m′)")
MAX_KEYS = 4096  # the stepper draws one bar per key
MAX_CHUNKS = 4096


def _number(name: str, value) -> float:
    return _checks.check_real(name, value)


def _running_max(name: str, value) -> float:
    """A running maximum: a finite number, or −inf before the first block is read."""
    value = plain_number(value)
    if isinstance(value, float) and value == float("-inf"):
        return value
    return _checks.check_real(name, value)


class OnlineSoftmaxView:
    """One step of online softmax for one query, in three figures (``figures``).

    ``scores``: the query's (scaled) score for every key, the keys read before this step
    grey, the block read now in vermillion, the rest pale; dashed and solid lines at the
    running maximum before (m) and after (m′) the block. ``state``: m, m′, ℓ, ℓ′ and the
    factor e^(m − m′) that rescales what was summed before. ``output``: the output so far,
    O/ℓ′, per value channel, beside the final output (dots).
    """

    def __init__(self, *, width: int = 420, height: int = 260) -> None:
        width = _checks.check_int("width", width, low=100, high=4000)
        height = _checks.check_int("height", height, low=100, high=4000)
        self.score_source = ColumnDataSource(data=dict(x=[], score=[], color=[]))
        self.state_source = ColumnDataSource(data=dict(label=list(STATE_LABELS), value=[0.0] * 5,
                                                       text=[""] * 5))  # fmt: skip
        self.output_source = ColumnDataSource(data=dict(x=[], so_far=[], final=[]))
        scores = themed_figure(
            title="scores of one query; the block read now", width=width, height=height
        )
        scores.vbar(x="x", top="score", width=0.8, color="color", source=self.score_source)
        scores.xaxis.axis_label = "key j"
        scores.yaxis.axis_label = "score q·k_j / √d"
        self.m_before = Span(dimension="width", line_dash="dashed", line_color="#444444",
                             line_width=2, location=0.0, visible=False)  # fmt: skip
        self.m_after = Span(dimension="width", line_color=BLOCK_COLOR, line_width=2,
                            location=0.0, visible=False)  # fmt: skip
        scores.add_layout(self.m_before)
        scores.add_layout(self.m_after)
        scores.add_tools(HoverTool(tooltips=[("key", "@x"), ("score", "@score{0.000}")]))
        state = themed_figure(
            title="running max m and sum ℓ, before and after",
            x_range=list(STATE_LABELS), width=width, height=height,
        )  # fmt: skip
        state.vbar(
            x="label", top="value", width=0.7, color=SERIES_COLORS[5], source=self.state_source
        )
        state.text(x="label", y="value", text="text", source=self.state_source,
                   text_align="center", text_baseline="bottom", text_font_size="11px")  # fmt: skip
        output = themed_figure(
            title="output so far (bars) and the final output (dots)", width=width, height=height
        )
        so_far = output.vbar(x="x", top="so_far", width=0.7, color=SERIES_COLORS[1],
                             source=self.output_source)  # fmt: skip
        final = output.scatter(x="x", y="final", size=9, color="black", source=self.output_source)
        output.xaxis.axis_label = "value channel"
        # under the axes: the bars and dots fill the plot wherever the values fall
        _legend_below(
            output,
            [LegendItem(label="O / ℓ so far", renderers=[so_far]),
             LegendItem(label="final output", renderers=[final])],
            2, clickable=False,
        )  # fmt: skip
        self.figures = {"scores": scores, "state": state, "output": output}

    def update(
        self,
        scores,
        block: tuple[int, int],
        *,
        m_before: float,
        m_after: float,
        l_before: float,
        l_after: float,
        rescale: float,
        output,
        final,
    ) -> None:
        """Draw the step that reads keys ``block`` = (start, stop) of ``scores`` (one per
        key; NaN for a key the causal mask hides, drawn as none); m, ℓ before and after
        the block and ``rescale`` = e^(m − m′) as the kernel reports them (m before the
        first block is −inf: drawn as no line); ``output`` (O/ℓ′ after the step) and
        ``final`` (the finished output), one value per channel."""
        scores = _checks.values("scores", scores, ndim=1, nan_ok=True, nonempty=True)
        if scores.size > MAX_KEYS:
            raise ValueError(f"scores must hold at most {MAX_KEYS} keys, got {scores.size}")
        start, stop = _block("block", block, scores.size)
        m_before = _running_max("m_before", m_before)
        m_after, l_after = _number("m_after", m_after), _number("l_after", l_after)
        l_before, rescale = _number("l_before", l_before), _number("rescale", rescale)
        output = _checks.values("output", output, ndim=1, nonempty=True)
        final = _checks.values("final", final, ndim=1, nonempty=True)
        if output.size != final.size:
            raise ValueError(
                f"output and final must have one value per channel, got {output.size} and "
                f"{final.size}"
            )
        keys = np.arange(scores.size)
        colors = np.where(
            keys < start, SEEN_COLOR, np.where(keys < stop, BLOCK_COLOR, UNSEEN_COLOR)
        )
        self.score_source.data = dict(x=keys, score=scores, color=colors.tolist())
        self.m_before.visible = bool(np.isfinite(m_before))
        self.m_before.location = float(m_before) if np.isfinite(m_before) else 0.0
        self.m_after.visible = True
        self.m_after.location = m_after
        shown = [m_before if np.isfinite(m_before) else 0.0, m_after, l_before, l_after, rescale]
        text = ["−∞" if not np.isfinite(m_before) else f"{m_before:.3g}"]
        text += [f"{value:.3g}" for value in shown[1:]]
        self.state_source.data = dict(label=list(STATE_LABELS), value=shown, text=text)
        channels = np.arange(output.size)
        self.output_source.data = dict(x=channels, so_far=output, final=final)
        self.figures["scores"].title.text = f"scores of one query; keys {start}–{stop - 1} read now"


def _block(name: str, block, size: int) -> tuple[int, int]:
    if isinstance(block, (str, bytes)) or not isinstance(block, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a pair (start, stop), got {_checks.short_repr(block)}")
    if len(block) != 2:
        raise ValueError(f"{name} must be a pair (start, stop), got {_checks.short_repr(block)}")
    start = _checks.check_int(f"{name}[0]", block[0], low=0, high=max(size - 1, 0))
    stop = _checks.check_int(f"{name}[1]", block[1], low=start + 1, high=size)
    return start, stop


class ChunkView:
    """Chunkwise linear attention's T × T causal map, split where it is computed.

    Output rows t, input columns s ≤ t. Each chunk's diagonal block (lower triangle) is
    computed inside the chunk as a masked matrix product, ((Q Kᵀ) ⊙ M) V (blue); the
    blocks to its left are never formed: they reach the chunk through the state carried
    from the chunks before (green). The chunk ``current`` is drawn solid, the others
    faint; thin lines mark the chunk boundaries.
    """

    def __init__(self, *, width: int = 380, height: int = 380) -> None:
        width = _checks.check_int("width", width, low=100, high=4000)
        height = _checks.check_int("height", height, low=100, high=4000)
        self.source = ColumnDataSource(data=dict(xs=[], ys=[], color=[], alpha=[], part=[]))
        self.bounds = ColumnDataSource(data=dict(x0=[], y0=[], x1=[], y1=[]))
        fig = themed_figure(
            title="chunks: intra (blue) and through the state (green)",
            x_range=Range1d(0, 1), y_range=Range1d(1, 0), width=width, height=height,
            tools="pan,wheel_zoom,reset,save",
        )  # fmt: skip
        fig.patches(xs="xs", ys="ys", fill_color="color", fill_alpha="alpha", line_color=None,
                    source=self.source)  # fmt: skip
        fig.segment(x0="x0", y0="y0", x1="x1", y1="y1", line_color="#555555", line_width=1,
                    source=self.bounds)  # fmt: skip
        fig.xaxis.axis_label = "input token s"
        fig.yaxis.axis_label = "output token t"
        fig.add_tools(HoverTool(tooltips=[("", "@part")]))
        self.figure = fig

    def update(self, seq_len: int, chunks, current: int) -> None:
        """Draw ``chunks`` ((start, stop) pairs tiling 0..``seq_len``, as
        ``chunkwise_steps`` reports them) with chunk number ``current`` highlighted."""
        seq_len = _checks.check_int("seq_len", seq_len, low=1, high=2**20)
        if isinstance(chunks, (str, bytes)) or not isinstance(chunks, Sequence):
            raise TypeError(
                f"chunks must be a list of (start, stop), got {_checks.short_repr(chunks)}"
            )
        if not 1 <= len(chunks) <= MAX_CHUNKS:
            raise ValueError(f"chunks must hold 1 to {MAX_CHUNKS} pairs, got {len(chunks)}")
        pairs = [_block(f"chunks[{i}]", c, 2**20) for i, c in enumerate(chunks)]
        if (
            pairs[0][0] != 0
            or pairs[-1][1] != seq_len
            or any(a[1] != b[0] for a, b in zip(pairs, pairs[1:], strict=False))
        ):
            raise ValueError(f"chunks must tile 0..seq_len ({seq_len}) in order, got {pairs}")
        current = _checks.check_int("current", current, low=0, high=len(pairs) - 1)
        xs, ys, color, alpha, part = [], [], [], [], []
        for i, (start, stop) in enumerate(pairs):
            strong = 0.9 if i == current else 0.25
            # the diagonal block's lower triangle, row t covering columns start..t
            xs.append([start, start, stop, stop])
            ys.append([start, stop, stop, stop - 1])
            color.append(INTRA_COLOR)
            alpha.append(strong)
            part.append(f"chunk {i}: tokens {start}–{stop - 1}, intra-chunk (masked matrix)")
            if start > 0:
                xs.append([0, 0, start, start])
                ys.append([start, stop, stop, start])
                color.append(INTER_COLOR)
                alpha.append(strong)
                part.append(f"chunk {i}: inputs 0–{start - 1}, through the carried state")
        self.source.data = dict(xs=xs, ys=ys, color=color, alpha=alpha, part=part)
        edges = [start for start, _ in pairs[1:]]
        self.bounds.data = dict(
            x0=[0.0] * len(edges) + edges, y0=edges + [0.0] * len(edges),
            x1=[float(seq_len)] * len(edges) + edges, y1=edges + [float(seq_len)] * len(edges),
        )  # fmt: skip
        self.figure.x_range.end = self.figure.y_range.start = float(seq_len)
        start, stop = pairs[current]
        self.figure.title.text = (
            f"{len(pairs)} chunks of {pairs[0][1]}; chunk {current} (tokens {start}–{stop - 1})"
        )


class CostChart:
    """Measured time against sequence length, one line per method, on log-log axes.

    ``update`` takes each method's measured (lengths, seconds) and the lengths it refused
    (its memory or time budget would be exceeded), drawn as crosses on the top edge.
    """

    def __init__(self, methods: Sequence[str], *, width: int = 560, height: int = 360) -> None:
        self.methods = _checks.names("methods", methods)
        width = _checks.check_int("width", width, low=100, high=4000)
        height = _checks.check_int("height", height, low=100, high=4000)
        fig = themed_figure(
            title="time against length, measured on this machine", x_axis_type="log",
            y_axis_type="log", width=width, height=height,
        )  # fmt: skip
        fig.xaxis.axis_label = "sequence length T (tokens)"
        fig.yaxis.axis_label = "seconds per call"
        self.sources: dict[str, ColumnDataSource] = {}
        self.refused: dict[str, ColumnDataSource] = {}
        for i, method in enumerate(self.methods):
            color = SERIES_COLORS[i % len(SERIES_COLORS)]
            source = ColumnDataSource(data=dict(x=[], y=[]))
            fig.line("x", "y", source=source, color=color, line_width=2, legend_label=method)
            fig.scatter("x", "y", source=source, color=color, size=7, legend_label=method)
            refused = ColumnDataSource(data=dict(x=[], y=[]))
            fig.scatter("x", "y", source=refused, color=color, size=12, marker="x",
                        line_width=2, legend_label=method)  # fmt: skip
            self.sources[method], self.refused[method] = source, refused
        fig.add_tools(HoverTool(tooltips=[("T", "@x{0,0}"), ("seconds", "@y{0.0000}")]))
        fig.legend.location = "top_left"
        fig.legend.background_fill_alpha = 0.6
        fig.legend.label_text_font_size = "11px"
        fig.legend.click_policy = "hide"
        self.figure = fig

    def update(
        self,
        measured: Mapping[str, tuple],
        refused: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        """Draw ``measured`` ({method: (lengths, seconds)}) and ``refused`` ({method:
        lengths}); a method left out is cleared. Refusals sit on the top edge, at the
        largest time measured."""
        measured = _checks.mapping("measured", measured)
        refused = {} if refused is None else _checks.mapping("refused", refused)
        for name in (*measured, *refused):
            if name not in self.sources:
                raise ValueError(
                    f"measured and refused must name methods among {self.methods}, got {name!r}"
                )
        lines = {}
        for name, pair in measured.items():
            x, y = _checks.series(f"measured[{name!r}]", pair)
            if (x <= 0).any() or (y <= 0).any():
                raise ValueError(f"measured[{name!r}] must be positive (log axes)")
            lines[name] = (x, y)
        gaps = {
            name: _checks.values(f"refused[{name!r}]", lengths, ndim=1)
            for name, lengths in refused.items()
        }
        top = max((float(y.max()) for _, y in lines.values() if y.size), default=1.0)
        for name in self.methods:
            x, y = lines.get(name, (np.zeros(0), np.zeros(0)))
            self.sources[name].data = dict(x=x, y=y)
            gap = gaps.get(name, np.zeros(0))
            self.refused[name].data = dict(x=gap, y=np.full(gap.size, top))


class SpeedupScatter:
    """Each sparse mask's speed-up over dense masked attention against its block density.

    One dot per pattern; the dashed line is 1 / density, the speed-up if time were exactly
    proportional to the blocks computed.
    """

    def __init__(self, *, width: int = 480, height: int = 340) -> None:
        width = _checks.check_int("width", width, low=100, high=4000)
        height = _checks.check_int("height", height, low=100, high=4000)
        fig = themed_figure(
            title="sparse masks: speed-up against block density", x_axis_type="log",
            y_axis_type="log", width=width, height=height,
        )  # fmt: skip
        self.source = ColumnDataSource(data=dict(x=[], y=[], name=[]))
        self.ideal = ColumnDataSource(data=dict(x=[], y=[]))
        fig.line("x", "y", source=self.ideal, line_dash="dashed", color="#777777",
                 legend_label="1 / density")  # fmt: skip
        fig.scatter("x", "y", source=self.source, size=10, color=SERIES_COLORS[1],
                    legend_label="measured")  # fmt: skip
        fig.text("x", "y", text="name", source=self.source, text_font_size="10px",
                 x_offset=6, text_baseline="middle")  # fmt: skip
        fig.xaxis.axis_label = "block density (fraction of blocks computed)"
        fig.yaxis.axis_label = "speed-up over dense masked SDPA"
        fig.add_tools(HoverTool(tooltips=[("", "@name"), ("density", "@x{0.000}"),
                                          ("speed-up", "@y{0.00}")]))  # fmt: skip
        fig.legend.location = "top_right"
        fig.legend.label_text_font_size = "11px"
        self.figure = fig

    def update(self, names: Sequence[str], density, speedup) -> None:
        """Draw one dot per pattern ``names[i]`` at (``density[i]``, ``speedup[i]``)."""
        names = _checks.names("names", names)
        density = _checks.values("density", density, ndim=1)
        speedup = _checks.values("speedup", speedup, ndim=1)
        if not (len(names) == density.size == speedup.size):
            raise ValueError(
                f"names, density and speedup must be of one length, got {len(names)}, "
                f"{density.size} and {speedup.size}"
            )
        if (density <= 0).any() or (density > 1).any() or (speedup <= 0).any():
            raise ValueError("density must be in (0, 1] and speedup positive (log axes)")
        self.source.data = dict(x=density, y=speedup, name=names)
        low = float(density.min())
        self.ideal.data = dict(x=[low, 1.0], y=[1.0 / low, 1.0])


__all__ = ["ChunkView", "CostChart", "OnlineSoftmaxView", "SpeedupScatter"]
