"""Load Panel's and Bokeh's JavaScript into a notebook, with no network.

Every lesson starts with ``attnviz.notebook()``, which calls
``load_notebook_extension``. Plain ``pn.extension()`` tells the browser to fetch
BokehJS and Panel's JavaScript from a CDN; on a machine without internet (a
classroom, a train, a locked-down Binder) the dashboards then stay blank with no
error. ``inline=True`` makes Panel send those bundles from the installed
packages in the cell's output instead (about 3 MB, sent twice: once as
JavaScript and once as the HoloViz loader mime type). ``tools/notebooks.py
strip`` removes that payload before a lesson is committed, so the saved
notebooks stay small.

This module only configures Panel; it computes nothing (lesson 00 explains it).
"""

from __future__ import annotations

from typing import Any

import panel as pn


def load_notebook_extension(*extensions: str, **config: Any) -> None:
    """Initialise Panel in this notebook with all its JavaScript inlined.

    Args:
        *extensions: optional Panel extensions to load as well (for example
            ``"tabulator"``), as for ``pn.extension``.
        **config: Panel settings, as for ``pn.extension`` (for example
            ``sizing_mode="stretch_width"``). ``inline`` is always True.

    Outside a notebook (a script, a test) this only sets ``pn.config``, so it
    never raises there. Calling it twice is harmless: it reloads the same code.
    """
    for i, name in enumerate(extensions):
        if not isinstance(name, str):
            raise TypeError(
                f"extensions[{i}] must be the name of a Panel extension (a str), "
                f"got {name!r} ({type(name).__name__})"
            )
    if "inline" in config:
        if config.pop("inline") is not True:
            raise ValueError(
                "inline must stay True: with inline=False the browser fetches Panel's "
                "JavaScript from a CDN, and offline the dashboards stay blank"
            )
    unknown = sorted(key for key in config if not hasattr(pn.config, key))
    if unknown:
        raise ValueError(
            f"unknown Panel setting(s) {', '.join(map(repr, unknown))}; "
            "allowed are the names of pn.config's parameters, e.g. 'sizing_mode', 'design'"
        )
    pn.extension(*extensions, inline=True, **config)


__all__ = ["load_notebook_extension"]
