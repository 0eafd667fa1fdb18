"""A lesson dashboard drawn through ipywidgets, in a real JupyterLab.

VS Code and Google Colab have no Panel extension: they show a dashboard as a Jupyter
widget (``jupyter_bokeh.BokehModel``), which ``attnviz.notebook()`` chooses there
(attnviz/notebook_frontends.py). Neither can run here, so this test takes the same
path in JupyterLab, ``attnviz.notebook(frontend="ipywidgets")``: the notebook's output
must be a widget view, lesson 01's dashboard must draw its figures inside it, and a
slider moved in the browser must reach the kernel and come back as a new readout.
What it cannot show is VS Code's and Colab's own widget managers (README says so).

The steps a student takes (open, Run All, wait) are those of test_jupyterlab.py.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from playwright.sync_api import expect
from test_jupyterlab import (
    ERROR_TEXT,
    RUN_ALL_TIMEOUT,
    dismiss_dialogs,
    kernel_idle,
    menu,
    offline_after,
    pending_cells,
    soft_lookup_works,
    wait_for_kernel,
)

pytestmark = pytest.mark.browser

NOTEBOOK = "ipywidgets_path.ipynb"
SOURCES = [
    'import attnviz; attnviz.notebook(frontend="ipywidgets")',
    "import panel as pn; print(pn.config.comms)",
    "from attnviz.dashboards import SoftLookupDashboard\nSoftLookupDashboard()",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_the_ipywidgets_path_draws_a_dashboard_that_answers_its_controls(
    jupyterlab, lab_root, open_page
):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in SOURCES]
    nbformat.write(nb, lab_root / NOTEBOOK)

    watched = open_page()
    page = watched.page
    page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK}?reset")
    expect(page.locator(".jp-NotebookPanel .jp-Notebook")).to_be_visible(timeout=60_000)
    dismiss_dialogs(page)
    expect(page.locator(".jp-Notebook .jp-CodeCell")).to_have_count(len(SOURCES))
    wait_for_kernel(page, timeout=90)
    menu(page, "Run", "Run All Cells")
    dismiss_dialogs(page)

    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    deadline = time.monotonic() + RUN_ALL_TIMEOUT
    while True:
        idle = kernel_idle(page)
        errors = [text for text in stderr.all_inner_texts() if ERROR_TEXT.search(text)]
        pending = pending_cells(page, SOURCES)
        if (idle and (errors or not pending)) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not errors, "cells printed errors:\n" + "\n---\n".join(text[:2000] for text in errors)
    assert not pending, f"cells still pending after {RUN_ALL_TIMEOUT} s: {pending}"

    cells = page.locator(".jp-Notebook .jp-CodeCell")
    expect(cells.nth(1).locator(".jp-OutputArea-output")).to_have_text("ipywidgets")
    # the dashboard's one output is drawn by the widget manager: JupyterLab marks the
    # outputs it renders itself (Panel's own, or the text/plain fallback it shows when
    # no widget manager is installed) with their data-mime-type; a widget view has none
    widget = cells.nth(2).locator(".jp-OutputArea-output")
    expect(widget).to_have_count(1)
    expect(cells.nth(2).locator("[data-mime-type]")).to_have_count(0)
    canvas = widget.locator(".bk-Canvas")
    expect(canvas.first).to_be_attached(timeout=30_000)
    canvas.first.scroll_into_view_if_needed()
    expect(canvas.first).to_be_visible()
    expect(canvas).to_have_count(2)
    soft_lookup_works(page, widget)  # its controls, its tabs, and a slider's round trip

    offline_after(watched, "with the dashboard drawn as a widget")
    watched.assert_clean()

    # and what the kernel sent was a widget view: save, and read the notebook's outputs
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        saved = nbformat.read(lab_root / NOTEBOOK, as_version=4)
        if saved.cells[2].outputs:
            break
        time.sleep(0.5)
    (shown,) = saved.cells[2].outputs
    assert WIDGET_VIEW in shown.data, sorted(shown.data)
    assert not [mime for mime in shown.data if "holoviews" in mime], sorted(shown.data)
