"""Dashboards in a Bokeh document, as a served session holds them (for the dashboard tests)."""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.document import Document
from panel.io.state import set_curdoc


def attached(factory):
    """Build ``factory()`` into a fresh Bokeh document: (dashboard, document)."""
    document = Document()
    with set_curdoc(document):
        dashboard = factory()
        document.add_root(pn.panel(dashboard).get_root(document))
    return dashboard, document


def drawn(dashboard) -> dict:
    """Every number the dashboard's figures draw, by (figure, renderer, column), and which
    figure is shown under each name."""
    out = {}
    for name, fig in dashboard.figures.items():
        out[(name, "shown")] = (fig.id, fig.visible)  # a twin figure (log axes) took its place
        for i, renderer in enumerate(fig.renderers):
            for key, column in renderer.data_source.data.items():
                try:
                    out[(name, i, key)] = np.asarray(column, dtype=float).round(9).tobytes()
                except (TypeError, ValueError):
                    out[(name, i, key)] = repr(column)
    return out
