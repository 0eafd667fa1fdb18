"""The lessons in JupyterLab, as a student runs them: open a notebook, see the saved
pictures of its figures, Run → Run All Cells, and check that every cell ran, none
failed, and the lesson's dashboard drew and answers its controls. Every lesson of the
manifest (attnviz.lessons) is run.

JupyterLab serves a temporary copy of lessons/ (see conftest.py), so running the
notebook never edits the course. Needs Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from attnviz.lessons import LESSONS, Lesson

pytestmark = pytest.mark.browser

RUN_ALL_TIMEOUT = 180  # seconds for every cell to finish
EXECUTED = re.compile(r"^\[\d+\]:$")
KERNEL_IDLE = re.compile(r"^(?!No Kernel).+ \| Idle$")
ERROR_TEXT = re.compile(r"Traceback|\b\w+(Error|Exception):")


def code_cells(path) -> list[str]:
    """The source of each code cell of the notebook at ``path``, in order."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def saved_pictures(path) -> int:
    """How many PNG pictures the saved notebook at ``path`` holds (its figures' snapshots)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return sum(
        "image/png" in output.get("data", {})
        for cell in cells
        if cell["cell_type"] == "code"
        for output in cell["outputs"]
    )


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


def offline_after(watched, action: str) -> None:
    """Panel's JS must be inlined (attnviz.notebook()), never fetched from a CDN."""
    assert not watched.external_requests(), (
        f"{action}, the page asked hosts other than this machine:\n"
        + "\n".join(watched.external_requests())
        + "\n(Panel's HTML/Markdown panes re-send their stylesheets as CDN URLs when they "
        "update over a notebook comm; attnviz.notebook() has to keep them inline)"
    )


def soft_lookup_works(page, outputs) -> None:
    """Lesson 01: sliders, the kernel menu and the readout; a keyboard step moves the query;
    the second tab (built when opened) has the dot-product controls."""
    for title in ("bandwidth h", "query x", "number of keys", "noise"):
        expect(outputs.locator(".bk-Slider", has_text=title)).to_have_count(1)
    expect(outputs.locator("select")).to_have_count(1)  # the kernel
    outputs.get_by_role("button", name="dot-product attention").click()
    for title in ("d_k", "temperature"):
        expect(outputs.locator(".bk-Slider", has_text=title)).to_have_count(1)
    expect(outputs.locator(".bk-Checkbox", has_text="√d_k")).to_have_count(1)
    expect(outputs.locator(".bk-Canvas")).to_have_count(2)  # the heatmap, the entropy curves
    outputs.get_by_role("button", name="kernel regression").click()
    readout = outputs.locator("p", has_text="query x =").first
    expect(readout).to_contain_text("query x = 4.00")

    # the widgets talk to the kernel: a keyboard step on the query slider updates the readout
    handle = outputs.locator(".bk-Slider", has_text="query x").first.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(readout).to_contain_text("query x = 4.20", timeout=15_000)


def attention_maps_works(page, outputs) -> None:
    """Lesson 02: model, input and head menus and the readout; picking a head redraws it."""
    for title in ("model", "input", "head (or tap a thumbnail)"):
        choice = outputs.locator(".bk-input-group", has_text=title).locator("select")
        expect(choice).to_have_count(1)
    readout = outputs.locator("p", has_text="layers ×").first
    expect(readout).to_contain_text("induction_2l")
    expect(readout).to_contain_text("L1H0: entropy")

    # the widgets talk to the kernel: choosing another head rewrites the readout
    menu = outputs.locator(".bk-input-group", has_text="head (or tap").locator("select")
    menu.scroll_into_view_if_needed()
    menu.select_option("L0H0")
    expect(readout).to_contain_text("L0H0: entropy", timeout=15_000)


def head_jobs_works(page, outputs) -> None:
    """Lesson 03: menus, ablation mode, step slider, head boxes; ticking a head knocks it out."""
    for title in ("model", "colour heads by"):
        choice = outputs.locator(".bk-input-group", has_text=title).locator("select")
        expect(choice).to_have_count(1)
    # the training tab (built when opened): its step slider, train live and the step readout
    outputs.get_by_role("button", name="training", exact=True).click()
    expect(outputs.locator(".bk-Canvas")).to_have_count(2)  # the curves, the record at a step
    # a DiscreteSlider: its label ("training step: 400") sits above a slider with no title
    expect(outputs.locator(".bk-Slider")).to_have_count(1)
    expect(outputs.get_by_text("training step:").first).to_contain_text("training step: 400")
    expect(outputs.get_by_role("button", name="train live")).to_have_count(1)
    expect(outputs.get_by_role("button", name="mean", exact=True)).to_have_count(1)
    boxes = outputs.locator(".bk-Checkbox")
    expect(boxes).to_have_count(4)  # L0H0 ... L1H1 of induction_2l
    step = outputs.locator("p", has_text="of 400: held-out loss").first
    expect(step).to_contain_text("step 400")
    outputs.get_by_role("button", name="heads and knock-outs").click()
    readout = outputs.locator("p", has_text="knocked out").first
    expect(readout).to_contain_text("no head knocked out")
    expect(readout).to_contain_text("repeated-half loss +0.000")

    # the widgets talk to the kernel: ticking L1H1 knocks it out and the loss rises
    box = boxes.filter(has_text="L1H1").locator("input[type=checkbox]")
    box.scroll_into_view_if_needed()
    box.check()
    expect(readout).to_contain_text("L1H1 knocked out", timeout=15_000)
    expect(readout).not_to_contain_text("repeated-half loss +0.000")


def receptive_fields_works(page, outputs) -> None:
    """Lesson 04: pattern menu, length and layer sliders, the table; another pattern redraws."""
    expect(outputs.locator(".bk-Slider", has_text="layers:")).to_have_count(1)
    # a DiscreteSlider: its label ("sequence length (tokens): 512") sits above the slider
    expect(outputs.get_by_text("sequence length (tokens):").first).to_contain_text("512")
    expect(outputs.locator("table")).to_contain_text("layers to see everything")
    readout = outputs.locator("p", has_text="the last query sees").first
    expect(readout).to_contain_text("power_attention")

    # the widgets talk to the kernel: another pattern rewrites the readout
    menu = outputs.locator(".bk-input-group", has_text="pattern to inspect").locator("select")
    menu.scroll_into_view_if_needed()
    menu.select_option("dilated")
    expect(readout).to_contain_text("dilated", timeout=15_000)


def associative_memory_works(page, outputs) -> None:
    """Lesson 05: the capacity tab's readout; the delta rule rewrites it; a tab switch shows
    the conditioning simulator."""
    readout = outputs.locator("p", has_text="SNR d_k/(N − 1)").first
    expect(readout).to_contain_text("hebbian, random keys")
    delta = outputs.locator(".bk-btn", has_text="delta").first
    delta.scroll_into_view_if_needed()
    delta.click()
    expect(readout).to_contain_text("delta, random keys", timeout=15_000)
    outputs.get_by_role("button", name="Conditioning").click()  # built when first opened
    expect(outputs.locator("table").first).to_contain_text("final V_B", timeout=15_000)


def dsf_works(page, outputs) -> None:
    """Lesson 06: the table of state sizes; normalising linear attention renames its map."""
    table = outputs.locator("table").first
    expect(table).to_contain_text("state size N")
    expect(table).to_contain_text("linear attention")
    box = outputs.locator(".bk-Checkbox", has_text="normalise linear attention").locator("input")
    box.scroll_into_view_if_needed()
    box.check()
    expect(table).to_contain_text("linear attention (normalised)", timeout=15_000)
    # a tab built when first opened draws in the notebook too: the curves' two figures
    outputs.get_by_role("button", name="decay and build-up").click()
    expect(outputs.locator(".bk-Canvas:visible")).to_have_count(2, timeout=15_000)


def fast_kernels_works(page, outputs) -> None:
    """Lesson 07: a step of the player reads the next key block; the chunks' tab draws."""
    readout = outputs.locator("p", has_text="Query row i = 31")
    expect(readout).to_contain_text("key block 1 of 4")
    outputs.locator("button.next").first.click()
    expect(readout).to_contain_text("key block 2 of 4", timeout=15_000)
    outputs.get_by_role("button", name="chunkwise linear attention").click()
    expect(outputs.locator(".bk-Canvas:visible")).to_have_count(2, timeout=15_000)


def transformer_layer_works(page, outputs) -> None:
    """Lesson 01b: switching to the RoPE model redraws and names it in the readout."""
    readout = outputs.locator("p", has_text="Query t = 11")
    expect(readout).to_contain_text("induction_2l")
    outputs.get_by_role("button", name="rope").click()
    expect(readout).to_contain_text("induction_rope", timeout=15_000)


def attention_sinks_works(page, outputs) -> None:
    """Lesson 08: evicting the sink names the window-only cache in the readout; the heads'
    tab draws the sink scores, DuoAttention's ranking and the mixed cache."""
    readout = outputs.locator("p", has_text="Mean loss on")
    expect(readout).to_contain_text("Cache: 1 sink + window 16")
    outputs.locator(".bk-Checkbox", has_text="keep the first token").locator(
        "input[type=checkbox]"
    ).uncheck()
    expect(readout).to_contain_text("Cache: window 16", timeout=15_000)
    outputs.get_by_role("button", name="heads", exact=True).click()
    expect(outputs.locator(".bk-Canvas:visible")).to_have_count(3, timeout=15_000)


@dataclass(frozen=True)
class Trial:
    """How to try a lesson's dashboard in JupyterLab."""

    figures: int  # Bokeh canvases the dashboard draws
    works: Callable  # works(page, outputs): drive the dashboard's controls, check the result


# by the lesson's stem (attnviz.lessons); a lesson with a dashboard needs an entry here
TRIALS = {
    "soft_lookup": Trial(2, soft_lookup_works),  # the first tab's; the second has 2 more
    "transformer_layer": Trial(4, transformer_layer_works),  # weights, scores, row, stream
    "attention_maps": Trial(2, attention_maps_works),  # the model view and the zoom
    "head_jobs": Trial(2, head_jobs_works),  # the first tab's; the training tab has 2 more
    "receptive_fields": Trial(2, receptive_fields_works),  # the reach map and its strip
    "associative_memory": Trial(2, associative_memory_works),  # the capacity tab's
    "dsf": Trial(1, dsf_works),  # every class's Φ in one figure
    "fast_kernels": Trial(3, fast_kernels_works),  # the stepper's scores, m and ℓ, output
    "attention_sinks": Trial(1, attention_sinks_works),  # the head's map on held-out text
}


def dashboard_cell(lesson: Lesson) -> re.Pattern:
    """A code cell that ends by showing the lesson's dashboard, e.g. ``DSFDashboard()``."""
    return re.compile(rf"^\s*{lesson.dashboard}\(.*\)\s*$", re.MULTILINE)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.number)
def test_lesson_runs_all_cells_and_shows_its_dashboard(jupyterlab, lab_root, open_page, lesson):
    """Every lesson of the manifest; those with a dashboard also draw it and answer it."""
    notebook = lesson.notebook
    trial = TRIALS.get(lesson.stem)
    if lesson.dashboard and trial is None:
        pytest.fail(f"lesson {lesson.number} has a dashboard: add how to try it to TRIALS")
    path = lab_root / notebook
    if not path.exists():
        pytest.fail(f"lessons/{notebook} does not exist (looked in a copy at {lab_root})")
    sources = code_cells(path)
    assert sources, f"{notebook} has no code cells"

    watched = open_page()
    page = watched.page
    # ?reset: a fresh workspace, so the notebooks earlier tests opened stay closed
    page.goto(f"{jupyterlab}/lab/tree/{notebook}?reset")
    expect(page.locator(".jp-NotebookPanel .jp-Notebook")).to_be_visible(timeout=60_000)
    dismiss_dialogs(page)
    expect(page.locator(".jp-Notebook .jp-CodeCell")).to_have_count(len(sources))
    # the kernel must be started and connected before Run All, or the run is lost
    wait_for_kernel(page, timeout=90)

    # before anything runs, the saved lesson shows the pictures of its figures (as on
    # GitHub and nbviewer), each decoded by the browser
    images = ".jp-Notebook .jp-OutputArea-output img"
    expect(page.locator(images)).to_have_count(saved_pictures(path))
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{images}')]"
        ".every(image => image.complete && image.naturalWidth > 0)",
        timeout=15_000,
    )

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

    offline_after(watched, "while the cells ran")
    if not lesson.dashboard:
        watched.assert_clean()
        return

    # the dashboard drew, in the output of the cell that shows it: a Bokeh canvas for
    # each of its figures, its controls and its readout
    shown_in = [
        index for index, source in enumerate(sources) if dashboard_cell(lesson).search(source)
    ]
    assert shown_in, f"no code cell of {notebook} displays {lesson.dashboard}()"
    outputs = (
        page.locator(".jp-Notebook .jp-CodeCell").nth(shown_in[-1]).locator(".jp-OutputArea-output")
    )
    canvas = outputs.locator(".bk-Canvas")
    expect(canvas.first).to_be_attached(timeout=30_000)
    canvas.first.scroll_into_view_if_needed()
    expect(canvas.first).to_be_visible()
    expect(canvas).to_have_count(trial.figures)
    trial.works(page, outputs)

    # and stays offline while it updates (Panel must not switch to CDN stylesheets)
    offline_after(watched, "after a control changed")

    watched.assert_clean()
