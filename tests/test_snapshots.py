"""attnviz.snapshots draws a PNG of each view a lesson displays, when lessons are executed
for saving, and only then; tools/notebooks.py keeps the picture and fails without one.

The pictures are drawn by the system Chromium (/usr/bin/chromium or $ATTNVIZ_CHROMIUM)."""

from __future__ import annotations

import base64
import importlib.util
import io
import logging
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import panel as pn
import pytest
from bokeh.plotting import figure
from PIL import Image

from attnviz import snapshots
from attnviz.export import PNG_MAGIC, ExportError

REPO = Path(__file__).resolve().parents[1]
RED = (214, 39, 40)


def notebooks_tool():
    spec = importlib.util.spec_from_file_location("notebooks", REPO / "tools" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def red_square(width: int = 300, height: int = 200):
    """A figure whose only colour is one filled red square in its middle."""
    fig = figure(width=width, height=height, toolbar_location=None, x_range=(0, 4), y_range=(0, 4))
    fig.quad(left=1, right=3, bottom=1, top=3, color="#d62728", line_color=None)
    return fig


def picture(png: bytes) -> Image.Image:
    assert png.startswith(PNG_MAGIC)
    return Image.open(io.BytesIO(png)).convert("RGB")


def share_of(image: Image.Image, colour: tuple[int, int, int], tol: int = 12) -> float:
    """The fraction of the picture's pixels within ``tol`` of ``colour``."""
    pixels = np.asarray(image, dtype=int)  # (height, width, 3)
    return float((np.abs(pixels - colour) <= tol).all(axis=-1).mean())


@pytest.fixture(scope="module")
def square_png() -> bytes:
    return snapshots.snapshot(pn.pane.Bokeh(red_square()))


def test_a_figure_is_drawn_and_cropped_to_what_it_shows(square_png):
    image = picture(square_png)
    # the figure is 300 x 200 CSS pixels at scale 1; the picture is cropped to it (padding)
    assert 250 <= image.width <= 340 and 150 <= image.height <= 240, image.size
    # the red square fills half the plot area's width and height: about a fifth of the
    # picture once axes are counted (never none, never all)
    assert 0.08 < share_of(image, RED) < 0.5


def test_pictures_are_small_palette_pngs(square_png):
    raw = Image.open(io.BytesIO(square_png))
    assert raw.mode == "P"  # a palette, at most COLOURS colours
    assert len(raw.getcolors(maxcolors=256)) <= snapshots.COLOURS
    assert len(square_png) < 20_000


def test_a_wide_view_is_scaled_to_max_width():
    png = snapshots.snapshot(pn.pane.Bokeh(red_square(width=900, height=200)), max_width=400)
    image = picture(png)
    assert image.width == 400
    assert math.isclose(image.height / image.width, 216 / 916, rel_tol=0.15)
    assert share_of(image, RED) > 0.05  # still the figure, only smaller


def test_a_dashboard_shows_its_first_tab_with_figures():
    """A lesson dashboard (lazy tabs, widgets, two figures) draws its figures at once."""
    # in a fresh interpreter, as a lesson's kernel is: in the whole suite's process an
    # earlier test leaves state behind that draws this dashboard otherwise (CI measured a
    # blue share of 0.0035 there, 0.008 in a fresh process; not yet traced)
    draw = (
        "import sys; from attnviz import snapshots; "
        "from attnviz.dashboards import SoftLookupDashboard; "
        "sys.stdout.buffer.write(snapshots.snapshot(SoftLookupDashboard()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", draw], capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    image = picture(done.stdout)
    assert image.width > 500 and image.height > 500  # controls beside two figures
    blue = share_of(image, (31, 119, 180), tol=30)  # the fit and the keys
    # about 0.008 when both figures are drawn with their fit and keys
    assert blue > 0.005, f"blue share {blue:.4f} of a {image.width} x {image.height} picture"


def test_a_picture_prints_nothing(capfd, caplog):
    """Drawing adds nothing to the cell's output (nbval compares it with a re-run that draws
    no picture): no Bokeh validation warning for an empty layout, say."""
    with caplog.at_level(logging.WARNING):
        snapshots.snapshot(pn.Row(pn.pane.Markdown("x"), pn.Column()))
    assert [record.getMessage() for record in caplog.records] == []
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_the_browser_starts_again_after_it_is_closed(square_png):
    snapshots.disable()  # closes the kernel's Chromium
    again = snapshots.snapshot(pn.pane.Bokeh(red_square()))
    assert picture(again).size == picture(square_png).size


def test_bad_arguments_are_refused_by_name():
    view = pn.pane.Markdown("x")
    with pytest.raises(TypeError, match="view must be a Panel object"):
        snapshots.snapshot("a figure")
    with pytest.raises(TypeError, match="view must be"):
        snapshots.snapshot([red_square()])
    with pytest.raises(ValueError, match="max_width"):
        snapshots.snapshot(view, max_width=10)
    with pytest.raises(ValueError, match="colours"):
        snapshots.snapshot(view, colours=1)
    with pytest.raises(ValueError, match="timeout"):
        snapshots.snapshot(view, timeout=float("nan"))


def test_without_chromium_pictures_fail_loudly(monkeypatch):
    monkeypatch.setattr(snapshots, "find_chromium", lambda: None)
    with pytest.raises(ExportError, match="headless Chromium"):
        snapshots.enable()
    with pytest.raises(ExportError, match="headless Chromium"):
        snapshots.snapshot(pn.pane.Markdown("x"))


def test_requested_only_by_the_environment(monkeypatch):
    monkeypatch.delenv(snapshots.ENV_VAR, raising=False)
    assert snapshots.requested() is False
    monkeypatch.setenv(snapshots.ENV_VAR, "0")
    assert snapshots.requested() is False
    monkeypatch.setenv(snapshots.ENV_VAR, "1")
    assert snapshots.requested() is True


def test_outside_ipython_enable_does_nothing():
    assert snapshots.enable() is False
    snapshots.disable()  # harmless with nothing registered


LESSON = [
    "import attnviz; attnviz.notebook()",
    "import panel as pn\nfrom bokeh.plotting import figure\n"
    "fig = figure(width=300, height=200, toolbar_location=None)\n"
    "fig.quad(left=[1], right=[3], bottom=[1], top=[3], color='#d62728', line_color=None)",
    "pn.pane.Bokeh(fig)",
    "print(round(2 / 3, 3))",
    "pn.Row(pn.pane.Markdown('**bold**'))",
]


def lesson(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in LESSON]
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_executed_lessons_keep_a_picture_of_each_view(tmp_path):
    """tools/notebooks.py execute + strip: each view keeps only its PNG, printed text stays,
    and the saved notebook passes check."""
    tool = notebooks_tool()
    path = lesson(tmp_path / "lesson.ipynb")
    tool.execute(path, timeout=120)
    nb = nbformat.read(path, as_version=4)
    assert tool.views_without_pictures(nb) == []
    tool.strip(nb)
    nbformat.write(nb, path)
    cells = nb.cells
    assert cells[0].outputs == []  # the set-up view of pn.extension gets no picture
    for index in (2, 4):
        (view,) = cells[index].outputs
        assert set(view.data) == {"image/png"}
        picture(base64.b64decode(view.data["image/png"]))
    assert share_of(picture(base64.b64decode(cells[2].outputs[0].data["image/png"])), RED) > 0.08
    assert cells[3].outputs[0].text == "0.667\n"
    assert tool.problems(path, nb) == []


@pytest.mark.slow
def test_a_learners_kernel_draws_no_pictures(tmp_path, monkeypatch):
    """Without ATTNVIZ_SNAPSHOTS (a learner running the lesson) no browser is started."""
    from nbclient import NotebookClient

    monkeypatch.delenv(snapshots.ENV_VAR, raising=False)
    nb = nbformat.read(lesson(tmp_path / "lesson.ipynb"), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = [out for cell in nb.cells for out in cell.outputs]
    assert any("application/vnd.holoviews_exec.v0+json" in out.get("data", {}) for out in outputs)
    assert not any("image/png" in out.get("data", {}) for out in outputs)


def test_execute_refuses_a_view_without_a_picture(tmp_path):
    """What execute checks before saving: a live view output with no PNG is named."""
    tool = notebooks_tool()
    nb = nbformat.v4.new_notebook()
    view = nbformat.v4.new_output(
        "display_data",
        data={"text/plain": "Row", "application/vnd.holoviews_exec.v0+json": ""},
    )
    setup = nbformat.v4.new_output(
        "display_data", data={"application/vnd.holoviews_exec.v0+json": ""}
    )
    nb.cells = [nbformat.v4.new_code_cell("pn.Row()", outputs=[setup, view])]
    assert tool.views_without_pictures(nb) == ["cell 0"]
    view.data["image/png"] = base64.b64encode(b"...").decode()
    assert tool.views_without_pictures(nb) == []
