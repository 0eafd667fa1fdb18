"""The attnviz look that every lesson's figures share: colours, font, tick labels.

``themed_figure`` makes a figure with the light grid, quiet toolbar and readable fonts of
every view, and ``_label_ticks`` labels the rows and columns of a matrix. The constants
are those more than one lesson draws with: Viridis for weights (readable for colour-blind
viewers and in greyscale), the Okabe-Ito series and score colours, the selected mark, the
diverging scale of signed matrices (lessons 05 and 06) and the tick-label limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.core.property.validation import validate
from bokeh.models import FixedTicker, Grid, LinearColorMapper, Plot, TapTool
from bokeh.palettes import Colorblind8, RdBu11, Viridis256, interp_palette
from bokeh.plotting import figure

from attnviz.validation import check_int

PALETTE = Viridis256
SERIES_COLORS = Colorblind8  # Okabe-Ito: distinguishable under every common colour blindness
FONT = "Helvetica, Arial, sans-serif"
MAX_TICK_LABELS = 24  # beyond this, only every k-th token label is drawn
MAX_PX = 10_000  # the widest or tallest figure, in pixels
SELECTED_COLOR = "#d55e00"  # Okabe-Ito vermillion: the selected / ablated mark everywhere
# score series: Okabe-Ito without yellow (too faint as a line on white); loss is black
SCORE_COLORS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00")
DIVERGING = interp_palette(RdBu11, 255)  # blue (negative) .. white (0) .. red (positive)


def themed_figure(**kwargs) -> figure:
    """A figure in the attnviz look: light grid, quiet toolbar, readable fonts.

    ``kwargs`` are Bokeh's ``figure`` options; ``width`` and ``height``, when given, are
    whole numbers of pixels in [1, ``MAX_PX``], and ``title`` a string. Bokeh refuses an
    unknown option or a bad value (an unknown option re-raised as ValueError).
    """
    for name in ("width", "height"):
        if name in kwargs:
            kwargs[name] = check_int(name, kwargs[name], low=1, high=MAX_PX)
    if "title" in kwargs and not isinstance(kwargs["title"], str):
        raise TypeError(f"title must be a string, got {kwargs['title']!r}")
    options = dict(
        height=320,
        width=420,
        toolbar_location="above",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        background_fill_color="#ffffff",
        border_fill_color="#ffffff",
        outline_line_color=None,
    )
    options.update(kwargs)
    try:
        fig = figure(**options)
    except AttributeError as error:  # an unknown option: Bokeh names it
        raise ValueError(f"themed_figure: {error}") from None
    fig.title.text_font = FONT
    fig.title.text_font_size = "13px"
    fig.toolbar.logo = None
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_font = FONT
        axis.axis_label_text_font_style = "normal"
        axis.major_label_text_font_size = "11px"
    fig.grid.grid_line_color = "#e8e8e8"
    return fig


def _label_ticks(
    axis, n: int, labels: Sequence[str] | None, max_labels: int = MAX_TICK_LABELS
) -> None:
    """Label every row/column when at most ``max_labels`` of them, else about ten.

    The axis keeps one FixedTicker for its lifetime: swapping ticker models would
    make Bokeh re-walk the whole document on every update.
    """
    if not isinstance(axis.ticker, FixedTicker):
        axis.ticker = FixedTicker(ticks=[])
    step = 1 if n <= max_labels else int(np.ceil(n / 10))
    ticks = list(range(0, n, step))
    overrides = {} if labels is None else {i: str(labels[i]) for i in ticks}
    if axis.ticker.ticks != ticks:
        axis.ticker.ticks = ticks
    if axis.major_label_overrides != overrides:
        axis.major_label_overrides = overrides


def slim(fig: figure) -> figure:
    """Send ``fig`` with fewer models, drawn the same: renderers of one data source share one
    view, and each renderer's dimmed copy for unselected points is left for BokehJS to
    derive ("auto"). A served session pays about a millisecond per model it builds and
    sends (issue #13); a figure with several lines sends half as many. A figure with a tap
    tool keeps its explicit copies: tapping selects there, and the dimmed look is designed.
    """
    _figure("fig", fig)
    if any(isinstance(tool, TapTool) for tool in fig.tools):
        return fig
    views = {}
    for renderer in fig.renderers:
        if not hasattr(renderer, "nonselection_glyph"):
            continue
        renderer.nonselection_glyph = "auto"
        renderer.view = views.setdefault(renderer.data_source.id, renderer.view)
    return fig


def drop_unused(fig: figure) -> figure:
    """Send ``fig`` without models it never draws, drawn the same: the grids it hides, and
    each renderer's copy of its glyph for a muted renderer (left to BokehJS, "auto": no
    attnviz legend mutes). Unlike ``slim``, safe on a figure with a tap tool (issue #13).
    """
    _figure("fig", fig)
    fig.center = [
        model for model in fig.center if not (isinstance(model, Grid) and not model.visible)
    ]
    for renderer in fig.renderers:
        if hasattr(renderer, "muted_glyph"):
            renderer.muted_glyph = "auto"
    return fig


def palette_mapper(palette: Sequence[str] = PALETTE, **options) -> LinearColorMapper:
    """``LinearColorMapper(palette=palette, **options)``, built without Bokeh checking each
    of the palette's colours again: a 256-colour palette of ``bokeh.palettes`` (PALETTE,
    DIVERGING) is valid, and checking it costs ~2 ms of a session's CPU per mapper (issue
    #13). Setting the mapper's properties later is checked as usual. ``palette`` must be
    a non-empty sequence of colour strings (checked for type, not each colour's name).
    """
    if isinstance(palette, (str, bytes)) or not isinstance(palette, Sequence):
        raise TypeError(f"palette must be a sequence of colour strings, got {palette!r}")
    if not palette or not all(isinstance(colour, str) for colour in palette):
        raise ValueError(f"palette must be a non-empty sequence of colour strings, got {palette!r}")
    with validate(False):
        return LinearColorMapper(palette=list(palette), **options)


def _figure(name: str, fig) -> None:
    if not isinstance(fig, Plot):
        raise TypeError(f"{name} must be a Bokeh figure, got {fig!r}")
