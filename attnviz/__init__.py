"""attnviz: an interactive course and a small library that make attention visible.

Computation lives in plain modules (``attnviz.lookup``, ``attnviz.kernels``);
Bokeh figures in ``attnviz.plots``; Panel dashboards in ``attnviz.dashboards``.
Importing ``attnviz`` does not import Panel.
"""

from __future__ import annotations

__version__ = "0.1.0"


def notebook(**kwargs):
    """Load Panel's JavaScript into this notebook, offline.

    Plain ``pn.extension()`` fetches BokehJS and Panel's JS from a CDN, so with no
    network the dashboards stay blank. This inlines them from the installed
    packages instead. Call it once, at the top of a lesson.
    """
    from attnviz.notebook_setup import load_notebook_extension

    return load_notebook_extension(**kwargs)


__all__ = ["__version__", "notebook"]
