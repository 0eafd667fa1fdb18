"""Lesson 01 in JupyterLab, as a student runs it: open the notebook, Run → Run All
Cells, and check that every cell ran, none failed, and the dashboard drew.

JupyterLab serves a temporary copy of lessons/ (see conftest.py), so running the
notebook never edits the course. Needs Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NOTEBOOK = "01_attention_is_lookup.ipynb"
RUN_ALL_TIMEOUT = 180  # seconds for every cell to finish
EXECUTED = re.compile(r"^\[\d+\]:$")
DASHBOARD_CELL = re.compile(r"^\s*SoftLookup\(.*\)\s*$", re.MULTILINE)
KERNEL_IDLE = re.compile(r"^(?!No Kernel).+ \| Idle$")
ERROR_TEXT = re.compile(r"Traceback|\b\w+(Error|Exception):")


def code_cells(path) -> list[str]:
    """The source of each code cell of the notebook at ``path``, in order."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def dismiss_dialogs(page) -> None:
    """Accept any modal JupyterLab puts up (kernel selection, 'file changed' ...)."""
    dialog = page.locator(".jp-Dialog")
    for _ in range(3):
        if dialog.count() == 0:
            return
        page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").first.click()
        expect(dialog).to_have_count(0, timeout=10_000)


def kernel_status(page):
    """The status bar's 'Python 3 (ipykernel) | Idle'. (The toolbar's execution
    indicator says 'idle' before any kernel exists, so it cannot tell 'ready'.)"""
    return page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| \w+$")).first


def kernel_idle(page) -> bool:
    status = kernel_status(page)
    return status.count() == 1 and bool(KERNEL_IDLE.match(status.inner_text().strip()))


def wait_for_kernel(page, timeout: float) -> None:
    """Wait until the notebook's kernel is connected and idle, accepting any dialog
    (such as 'Select Kernel') that JupyterLab puts up meanwhile."""
    deadline = time.monotonic() + timeout
    while not kernel_idle(page):
        if time.monotonic() > deadline:
            status = kernel_status(page)
            text = status.inner_text() if status.count() else "no kernel status shown"
            raise AssertionError(f"the kernel was not ready after {timeout} s ({text})")
        dismiss_dialogs(page)
        time.sleep(0.25)


def menu(page, name: str, item: str) -> None:
    """Click a menu-bar menu, then one of its items (exact labels)."""
    page.locator(".lm-MenuBar-itemLabel").get_by_text(name, exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def prompts(page) -> list[str]:
    """Each code cell's input prompt: '[ ]:', '[*]:' or '[n]:'."""
    texts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    return [text.strip() for text in texts]


def pending_cells(page, sources: list[str]) -> list[str]:
    """Non-empty code cells without an execution count, as 'cell N: [prompt]'."""
    shown = prompts(page)
    return [
        f"cell {index + 1}: {shown[index] if index < len(shown) else 'not shown'}"
        for index, source in enumerate(sources)
        if source.strip() and (index >= len(shown) or not EXECUTED.match(shown[index]))
    ]


def test_lesson01_runs_all_cells_and_shows_dashboard(jupyterlab, lab_root, open_page):
    path = lab_root / NOTEBOOK
    if not path.exists():
        pytest.fail(f"lessons/{NOTEBOOK} does not exist (looked in a copy at {lab_root})")
    sources = code_cells(path)
    assert sources, f"{NOTEBOOK} has no code cells"

    watched = open_page()
    page = watched.page
    page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK}")
    expect(page.locator(".jp-NotebookPanel .jp-Notebook")).to_be_visible(timeout=60_000)
    dismiss_dialogs(page)
    expect(page.locator(".jp-Notebook .jp-CodeCell")).to_have_count(len(sources))
    # the kernel must be started and connected before Run All, or the run is lost
    wait_for_kernel(page, timeout=90)

    # Edit → Clear Outputs of All Cells, so saved outputs and execution counts cannot
    # pass for this run's; then Run → Run All Cells, from the menu bar, like a student
    menu(page, "Edit", "Clear Outputs of All Cells")
    expect(page.locator(".jp-Notebook .jp-OutputArea-output")).to_have_count(0)
    assert all(not EXECUTED.match(prompt) for prompt in prompts(page)), prompts(page)
    menu(page, "Run", "Run All Cells")
    dismiss_dialogs(page)
    expect(page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").first).not_to_have_text(
        "[ ]:", timeout=15_000
    )

    # done when every non-empty code cell has an execution count and the kernel is idle;
    # Run All stops at a failing cell, so an error output with an idle kernel ends it too
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    deadline = time.monotonic() + RUN_ALL_TIMEOUT
    while True:
        idle = kernel_idle(page)
        errors = [text for text in stderr.all_inner_texts() if ERROR_TEXT.search(text)]
        pending = pending_cells(page, sources)
        if idle and (errors or not pending):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)

    assert not errors, "cells printed errors:\n" + "\n---\n".join(text[:2000] for text in errors)
    assert not pending, (
        f"the cells did not all run within {RUN_ALL_TIMEOUT} s; still pending: {pending}"
    )
    assert idle, f"the kernel was still busy after {RUN_ALL_TIMEOUT} s"

    # offline: Panel's JS must be inlined (attnviz.notebook()), never fetched from a CDN
    assert not watched.external_requests(), (
        "the lesson asked hosts other than this machine (CDN?):\n"
        + "\n".join(watched.external_requests())
    )

    # the dashboard drew, in the output of the cell that shows SoftLookup(): Bokeh
    # canvases for its four figures, its controls and its readout
    shown_in = [index for index, source in enumerate(sources) if DASHBOARD_CELL.search(source)]
    assert shown_in, f"no code cell of {NOTEBOOK} displays SoftLookup()"
    outputs = (
        page.locator(".jp-Notebook .jp-CodeCell").nth(shown_in[-1]).locator(".jp-OutputArea-output")
    )
    canvas = outputs.locator(".bk-Canvas")
    expect(canvas.first).to_be_attached(timeout=30_000)
    canvas.first.scroll_into_view_if_needed()
    expect(canvas.first).to_be_visible()
    expect(canvas).to_have_count(4)
    for title in ("bandwidth h", "query x", "number of keys", "noise", "d_k", "temperature"):
        expect(outputs.locator(".bk-Slider", has_text=title)).to_have_count(1)
    expect(outputs.locator("select")).to_have_count(1)  # the kernel
    expect(outputs.locator(".bk-Checkbox", has_text="√d_k")).to_have_count(1)
    readout = outputs.locator("p", has_text="query x =").first
    expect(readout).to_contain_text("query x = 4.00")

    # the widgets talk to the kernel: a keyboard step on the query slider updates the readout
    handle = outputs.locator(".bk-Slider", has_text="query x").first.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(readout).to_contain_text("query x = 4.20", timeout=15_000)

    # and stays offline while it updates (Panel must not switch to CDN stylesheets)
    assert not watched.external_requests(), (
        "after a slider move the page asked hosts other than this machine:\n"
        + "\n".join(watched.external_requests())
        + "\n(Panel's HTML/Markdown panes re-send their stylesheets as CDN URLs when they "
        "update over a notebook comm; attnviz.notebook() has to keep them inline)"
    )

    watched.assert_clean()
