"""nbval settings for the lessons: compare what a lesson prints, not its JavaScript.

``pytest --nbval lessons/`` re-runs every lesson and compares each cell's new
outputs with the saved ones, per mime type. The saved lessons are stripped by
``tools/notebooks.py strip`` (megabytes of inlined BokehJS, HTML and Panel's
loader messages, all with random ids); this hook makes nbval skip the same
payloads, so printed text, markdown and plain-text results are still compared.
A Panel / Bokeh view's text/plain is Panel's repr of the object (it names an
auto-generated instance), so it is left out on both sides, by the same rule that
strip uses (``attnviz.notebook_setup.saved_output``).

Pictures are not compared: a saved lesson keeps a PNG of each view (drawn by
``attnviz.snapshots`` when ``tools/notebooks.py execute`` ran it), and the re-run draws
none. Images are left out on both sides, and an output left with nothing is dropped.
Instead, each cell whose re-run displays a view (``attnviz.notebook_setup.displays_view``)
must have at least as many pictures saved, or the cell fails: this is how CI knows that
the saved lesson shows every figure on GitHub and nbviewer.

Printed numbers are compared up to CPU rounding (``attnviz.printed_numbers``): the
words must be the same and every number the same to one unit in its last printed
digit. A cell that prints the results of training declares a wider tolerance in its
metadata, with what was measured to choose it::

    "metadata": {"tolerance": {"abs": 0.03, "why": "..."}}

Without ``--nbval`` pytest collects no notebooks and this file does nothing.
"""

from __future__ import annotations

import nbformat

from attnviz.notebook_setup import HEAVY_MIME_TYPES, displays_view, saved_output
from attnviz.printed_numbers import check_tolerance, numbers_match

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval is a test extra; without it there is nothing to configure
    IPyNbCell = None


PICTURE = "image/png"


def _without_images(output):
    """``output`` without its images (None if nothing else is left)."""
    if "data" not in output:
        return output
    data = {mime: value for mime, value in output["data"].items() if not mime.startswith("image/")}
    if not data:
        return None
    metadata = {
        key: value
        for key, value in output.get("metadata", {}).items()
        if not key.startswith("image/")
    }
    return nbformat.from_dict({**output, "data": data, "metadata": metadata})


def _comparable(outputs):
    kept = (saved_output(output) for output in outputs)
    kept = (_without_images(output) for output in kept if output is not None)
    return [output for output in kept if output is not None]


def _missing_pictures(test, ref) -> str | None:
    """Why the saved outputs ``ref`` lack a picture for a view the re-run ``test`` shows."""
    views = sum(displays_view(output) for output in test)
    pictures = sum(PICTURE in output.get("data", {}) for output in ref)
    if views <= pictures:
        return None
    return (
        f"this cell displays {views} Panel / Bokeh view(s) but its saved outputs hold "
        f"{pictures} PNG picture(s): on GitHub and nbviewer the figure would be missing. "
        "Execute the lesson with `python tools/notebooks.py execute --strip`, which draws them."
    )


def _texts(output):
    """(where, text) for each printed text of an output: a stream, or a text/plain result."""
    if output.get("output_type") == "stream":
        yield ("text",), output.get("text", "")
    for mime, value in output.get("data", {}).items():
        if mime == "text/plain":
            yield ("data", mime), value


def _within_rounding(test, ref, tolerance):
    """``test`` with each printed text replaced by the saved one where only rounding differs.

    Outputs are paired in order; anything else (a changed word, a number off by more than
    the tolerance, a different set of outputs) is left for nbval to report as usual.
    """
    if len(test) != len(ref):
        return test
    reconciled = []
    for new, old in zip(test, ref, strict=True):
        new = nbformat.from_dict(dict(new))
        for (where, printed), (old_where, saved) in zip(_texts(new), _texts(old), strict=False):
            if where == old_where and numbers_match(saved, printed, tolerance):
                if where == ("text",):
                    new["text"] = saved
                else:
                    new["data"] = nbformat.from_dict({**new["data"], where[1]: saved})
        reconciled.append(new)
    return reconciled


def pytest_itemcollected(item):
    if IPyNbCell is None or not isinstance(item, IPyNbCell):
        return
    notebook = item.parent
    extra = tuple(mime for mime in HEAVY_MIME_TYPES if mime not in notebook.skip_compare)
    notebook.skip_compare = notebook.skip_compare + extra
    tolerance = check_tolerance(item.cell.metadata.get("tolerance"))
    compare = item.compare_outputs

    def compare_outputs(test, ref, skip_compare=None):
        missing = _missing_pictures(test, ref)
        test, ref = _comparable(test), _comparable(ref)
        same = compare(_within_rounding(test, ref, tolerance), ref, skip_compare)
        if missing:  # after compare, which starts a fresh comparison_traceback
            item.comparison_traceback.append(missing)
            return False
        return same

    item.compare_outputs = compare_outputs
