"""nbval settings for the lessons: compare what a lesson prints, not its JavaScript.

``pytest --nbval lessons/`` re-runs every lesson and compares each cell's new
outputs with the saved ones, per mime type. The saved lessons are stripped by
``tools/notebooks.py strip`` (megabytes of inlined BokehJS, HTML and Panel's
loader messages, all with random ids); this hook makes nbval skip the same
payloads, so printed numbers, markdown and plain-text results are still
compared exactly. A Panel / Bokeh view's text/plain is Panel's repr of the
object (it names an auto-generated instance), so it is left out on both sides,
by the same rule that strip uses (``attnviz.notebook_setup.saved_output``).

Without ``--nbval`` pytest collects no notebooks and this file does nothing.
"""

from __future__ import annotations

from attnviz.notebook_setup import HEAVY_MIME_TYPES, saved_output

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval is a test extra; without it there is nothing to configure
    IPyNbCell = None


def _comparable(outputs):
    kept = (saved_output(output) for output in outputs)
    return [output for output in kept if output is not None]


def pytest_itemcollected(item):
    if IPyNbCell is None or not isinstance(item, IPyNbCell):
        return
    notebook = item.parent
    extra = tuple(mime for mime in HEAVY_MIME_TYPES if mime not in notebook.skip_compare)
    notebook.skip_compare = notebook.skip_compare + extra
    compare = item.compare_outputs

    def compare_outputs(test, ref, skip_compare=None):
        return compare(_comparable(test), _comparable(ref), skip_compare)

    item.compare_outputs = compare_outputs
