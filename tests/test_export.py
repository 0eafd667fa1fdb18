"""export: standalone HTML that loads nothing from the network, and real PNG pictures."""

import io
import re

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from PIL import Image

from attnviz import export, plots

EXTERNAL_SCRIPT = re.compile(r"<script[^>]+src=[\"']?(https?:)?//", re.IGNORECASE)
EXTERNAL_LINK = re.compile(r"<link[^>]+href=[\"']?(https?:)?//", re.IGNORECASE)


def _grid():
    return plots.HeadGrid(np.random.default_rng(0).random((2, 3, 8, 8)))


def _curves():
    curves = plots.TrainingCurves(["induction"])
    curves.set([0, 1, 2], {"loss": [3.0, 2.0, 1.0], "induction": [0.0, 0.5, 0.9]})
    return curves


def test_html_is_standalone_with_bokeh_inlined():
    html = export.to_html(_grid(), title="every head")
    assert not EXTERNAL_SCRIPT.search(html), "a script is loaded from the network"
    assert not EXTERNAL_LINK.search(html), "a stylesheet is loaded from the network"
    assert '<script type="text/javascript">' in html or "<script>" in html
    assert "Bokeh" in html and len(html) > 500_000  # BokehJS itself is in the file
    assert "<title>every head</title>" in html and "<h1>every head</h1>" in html
    assert '"L1H2"' in html  # the grid's data is in the file


def test_html_of_several_views_writes_a_file(tmp_path):
    path = tmp_path / "views.html"
    html = export.to_html([_grid(), _curves()], path)
    assert path.read_text(encoding="utf-8") == html
    assert html.count('data-root-id="') == 2  # one Bokeh root per figure


def test_export_leaves_served_figures_in_their_document():
    grid = _grid()
    document = Document()
    document.add_root(grid.figure)
    export.to_html(grid)
    assert grid.figure.document is document and document.roots == [grid.figure]


def test_figures_of_accepts_views_dashboards_and_lists():
    view = plots.LongHeadView(np.eye(4), 4, 4, np.eye(2))
    assert export.figures_of(view) == [view.figure, view.zoom.figure]
    grid = _grid()
    assert export.figures_of([grid, grid.figure, view]) == [
        grid.figure,
        view.figure,
        view.zoom.figure,
    ]
    with pytest.raises(TypeError, match="view must be a Bokeh figure"):
        export.figures_of(42)
    with pytest.raises(ValueError, match="empty list"):
        export.figures_of([])


def test_png_is_a_real_picture_of_the_figures(tmp_path):
    path = tmp_path / "grid.png"
    png = export.to_png([_grid(), _curves()], path, title="heads")
    assert png.startswith(export.PNG_MAGIC) and path.read_bytes() == png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width > 600 and image.height > 300
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # drawn figures, not a blank page


def test_png_scale_doubles_the_pixels():
    small = Image.open(io.BytesIO(export.to_png(_grid())))
    large = Image.open(io.BytesIO(export.to_png(_grid(), scale=2)))
    assert large.width == pytest.approx(2 * small.width, abs=2)
    with pytest.raises(ValueError, match="scale must be in"):
        export.to_png(_grid(), scale=10)


def test_png_without_a_browser_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("ATTNVIZ_CHROMIUM", raising=False)
    monkeypatch.setattr(export, "CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    assert export.find_chromium() is None
    with pytest.raises(export.ExportError, match=r"apt-get install chromium.*ATTNVIZ_CHROMIUM"):
        export.to_png(_grid())


def test_chromium_from_the_environment_wins(monkeypatch, tmp_path):
    fake = tmp_path / "chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ATTNVIZ_CHROMIUM", str(fake))
    assert export.find_chromium() == str(fake)
    assert export.find_chromium(tmp_path / "missing") == str(fake)


def test_download_button_serves_the_current_html():
    curves = _curves()
    button = export.download_button(lambda: curves, "training.html", title="training")
    assert isinstance(button, pn.widgets.FileDownload)
    assert button.filename == "training.html" and button.label == "download HTML"
    html = button.callback().getvalue().decode("utf-8")
    assert "<h1>training</h1>" in html and not EXTERNAL_SCRIPT.search(html)


def test_png_refuses_a_timeout_of_zero_by_name():
    for timeout in (0, -1, float("nan"), 10**400, None):
        with pytest.raises((ValueError, TypeError), match="timeout"):
            export.to_png(_grid(), timeout=timeout)


def test_png_turns_a_browser_that_never_draws_into_an_export_error(monkeypatch):
    def stuck(*args):
        raise TimeoutError

    monkeypatch.setattr(export, "find_chromium", lambda chromium=None: "/bin/true")
    monkeypatch.setattr(export, "_render_png", stuck)
    with pytest.raises(export.ExportError, match=r"did not draw the view within timeout=5 s"):
        export.to_png(_grid(), timeout=5)


def test_export_error_is_an_os_error_and_still_a_runtime_error():
    assert issubclass(export.ExportError, OSError)
    assert issubclass(export.ExportError, RuntimeError)


def test_html_checks_its_width_path_and_title_by_name():
    with pytest.raises(ValueError, match="max_width"):
        export.to_html(_grid(), max_width=0)
    with pytest.raises(TypeError, match="path"):
        export.to_html(_grid(), path=3.5)
    with pytest.raises(TypeError, match="title"):
        export.to_html(_grid(), title=3)
