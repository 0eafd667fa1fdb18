"""attnviz: an interactive course and a small library that make attention visible.

Computation lives in plain modules (``attnviz.lookup``, ``attnviz.kernels``);
Bokeh figures in ``attnviz.plots``; Panel dashboards in ``attnviz.dashboards``.
Importing ``attnviz`` does not import Panel.
"""

from __future__ import annotations

__version__ = "0.1.0"


def notebook(frontend="auto", **kwargs):
    """Load Panel's JavaScript into this notebook, offline, for the front end that shows it.

    Plain ``pn.extension()`` fetches BokehJS and Panel's JS from a CDN, so with no
    network the dashboards stay blank. This inlines them from the installed
    packages instead. Call it once, at the top of a lesson.

    Args:
        frontend: where the notebook is open: ``"auto"`` (the default) guesses from
            the kernel (``attnviz.notebook_frontends.detect_frontend``); or one of
            ``"jupyterlab"`` (also the classic Notebook), ``"vscode"``, ``"colab"``,
            or ``"ipywidgets"`` (draw every dashboard as a Jupyter widget, the way
            VS Code and Colab show it, in any front end with ipywidgets).
        **kwargs: Panel settings, as for ``pn.extension`` (``sizing_mode=...``).
    """
    from attnviz.notebook_frontends import panel_comms
    from attnviz.notebook_setup import load_notebook_extension

    if "comms" in kwargs:
        raise ValueError("pass frontend=..., not comms=...: attnviz chooses Panel's comms from it")
    return load_notebook_extension(comms=panel_comms(frontend), **kwargs)


__all__ = ["__version__", "notebook"]
