"""Load Panel's and Bokeh's JavaScript into a notebook, with no network.

Every lesson starts with ``attnviz.notebook()``, which calls
``load_notebook_extension``. Plain ``pn.extension()`` tells the browser to fetch
BokehJS and Panel's JavaScript from the internet; on a machine without internet (a
classroom, a train, a locked-down Binder) the dashboards then stay blank with no
error. ``inline=True`` makes Panel send those bundles from the installed
packages in the cell's output instead (about 3 MB, sent twice: once as
JavaScript and once as the HoloViz loader mime type). ``tools/notebooks.py
strip`` removes that payload before a lesson is committed, so the saved
notebooks stay small.

This module only configures Panel and says which outputs a saved lesson keeps
(``saved_output``, shared by ``tools/notebooks.py`` and the lessons' nbval
settings in ``lessons/conftest.py``); it computes nothing. Lesson 00 explains it.

A view's output keeps one thing: its PNG picture (``image/png``), which
``attnviz.snapshots`` adds when lessons are executed for saving, so GitHub and
nbviewer show the figure.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any

#: Output payloads that only a browser can use: inlined JavaScript, the HTML
#: and loader/exec messages of Panel and Bokeh views, widget references. They
#: are megabytes, and carry random ids, so saved lessons drop them and nbval
#: does not compare them.
HEAVY_MIME_TYPES = (
    "text/html",
    "application/javascript",
    "application/vnd.holoviews_load.v0+json",
    "application/vnd.holoviews_exec.v0+json",
    "application/vnd.bokehjs_load.v0+json",
    "application/vnd.bokehjs_exec.v0+json",
    "application/vnd.jupyter.widget-view+json",
)

#: An output carrying one of these is a live Panel / Bokeh view. Its text/plain
#: is Panel's repr of the object (for a dashboard it names an auto-generated
#: instance, e.g. ``name='SoftLookup00120'``), not something the lesson prints.
VIEW_MIME_TYPES = (
    "application/vnd.holoviews_exec.v0+json",
    "application/vnd.bokehjs_exec.v0+json",
)


def displays_view(output: Mapping[str, Any]) -> bool:
    """Whether a live cell output shows a Panel / Bokeh view that a learner sees.

    Such an output carries a view payload (``VIEW_MIME_TYPES``) and the text/plain repr
    that IPython's formatters add to an object displayed as a cell's value or through
    ``display()``, which is where ``attnviz.snapshots`` adds its picture. The invisible
    set-up view that ``pn.extension`` publishes (Panel's comm manager) has no repr.
    """
    if not isinstance(output, Mapping):
        raise TypeError(f"output must be a notebook cell output (a dict), got {output!r:.60}")
    data = output.get("data", {})
    return "text/plain" in data and any(mime in data for mime in VIEW_MIME_TYPES)


def load_notebook_extension(*extensions: str, **config: Any) -> None:
    """Initialise Panel in this notebook with all its JavaScript inlined.

    Args:
        *extensions: optional Panel extensions to load as well (for example
            ``"tabulator"``), as for ``pn.extension``.
        **config: Panel settings, as for ``pn.extension`` (for example
            ``sizing_mode="stretch_width"``). ``inline`` is always True.

    Outside a notebook (a script, a test) this only sets ``pn.config``, so it
    never raises there. Calling it twice is harmless: it reloads the same code.

    When ``$ATTNVIZ_SNAPSHOTS`` is ``1`` (``tools/notebooks.py execute`` sets it for
    the kernel), every view displayed afterwards also gets a PNG picture for the saved
    lesson (``attnviz.snapshots``); that raises ``attnviz.export.ExportError`` if no
    Chromium can draw them.
    """
    import panel as pn  # here, so the constants above import without Panel

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
                "JavaScript from the internet, and offline the dashboards stay blank"
            )
    unknown = sorted(key for key in config if not hasattr(pn.config, key))
    if unknown:
        raise ValueError(
            f"unknown Panel setting(s) {', '.join(map(repr, unknown))}; "
            "allowed are the names of pn.config's parameters, e.g. 'sizing_mode', 'design'"
        )
    pn.extension(*extensions, inline=True, **config)
    _keep_stylesheets_inline()
    from attnviz import snapshots

    if snapshots.requested():
        snapshots.enable()


def _keep_stylesheets_inline() -> None:
    """Stop Panel from sending links to web-hosted stylesheets when a pane updates in a notebook.

    With ``inline=True`` Panel inlines every stylesheet of a view when it first
    renders. But when a pane changes later over the notebook comm (the lesson
    dashboards rewrite a Markdown readout on every slider move), Panel recomputes
    its properties, and its stylesheets come back as links to HoloViz's web host:
    offline the browser tries to fetch them, and the styles flicker. This wraps
    ``Reactive._get_properties`` so those links become the same inline CSS, read
    from the installed package, cached per Bokeh document (a Bokeh model belongs
    to one document), so later updates send no stylesheet at all. Idempotent.
    """
    import panel as pn
    from bokeh.models import ImportedStyleSheet
    from panel.io.notebook import replace_inline_css
    from panel.reactive import Reactive

    original = Reactive._get_properties
    if getattr(original, "_attnviz_inline", False):
        return
    inline_by_doc: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @functools.wraps(original)
    def _get_properties(self, doc, *args, **kwargs):
        properties = original(self, doc, *args, **kwargs)
        sheets = properties.get("stylesheets")
        if not sheets or doc is None or not pn.config.inline:
            return properties
        cache = inline_by_doc.setdefault(doc, {})
        inlined = []
        for sheet in sheets:
            if isinstance(sheet, ImportedStyleSheet):
                url = str(sheet.url)
                if url not in cache:
                    cache[url] = replace_inline_css(sheet)  # unchanged if not Panel's own file
                sheet = cache[url]
            inlined.append(sheet)
        properties["stylesheets"] = inlined
        return properties

    _get_properties._attnviz_inline = True
    Reactive._get_properties = _get_properties


def saved_output(output: Mapping[str, Any]) -> Any | None:
    """What a saved lesson keeps of one cell output; None means drop it.

    Streams (printed text) and errors are kept as they are. A display or
    result keeps its light representations (text/plain, text/markdown,
    text/latex, images) and loses ``HEAVY_MIME_TYPES``; a Panel / Bokeh view
    also loses its text/plain repr, so it keeps only its picture (``image/png``)
    if it has one. An output left with nothing is dropped.
    Returns a new ``nbformat.NotebookNode``; ``output`` is not changed.
    """
    import nbformat

    if not isinstance(output, Mapping) or "output_type" not in output:
        raise TypeError(f"output must be a notebook cell output (a dict), got {output!r:.60}")
    output = nbformat.from_dict(dict(output))
    if output["output_type"] not in ("display_data", "execute_result"):
        return output
    data = dict(output.get("data", {}))
    is_view = any(mime in data for mime in VIEW_MIME_TYPES)
    drop = set(HEAVY_MIME_TYPES) | ({"text/plain"} if is_view else set())
    output["data"] = nbformat.from_dict({k: v for k, v in data.items() if k not in drop})
    metadata = output.get("metadata", {})
    output["metadata"] = nbformat.from_dict(
        {k: v for k, v in metadata.items() if k not in HEAVY_MIME_TYPES}
    )
    return output if output["data"] else None


__all__ = [
    "HEAVY_MIME_TYPES",
    "VIEW_MIME_TYPES",
    "displays_view",
    "load_notebook_extension",
    "saved_output",
]
