"""Every saved lesson shows its figures outside a live kernel (issue #16, deliverable 1).

Reads each saved notebook's JSON, executes nothing: a cell whose value is a Panel view
(read from its source by ``tools/notebooks.py``'s ``source_displays_view``) must hold a
picture, and every picture must be a real PNG of a sensible size. The full check, which
sees every view a lesson really displays, runs with nbval (``lessons/conftest.py``).
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import io
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from attnviz import snapshots
from attnviz.export import PNG_MAGIC

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("*.ipynb"))
PICTURE = "image/png"
MAX_PICTURE_KB = 150  # a dashboard at MAX_WIDTH with a 256-colour palette is under 80 KB


def _tool():
    spec = importlib.util.spec_from_file_location("notebooks", REPO / "tools" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOTEBOOKS = _tool()


def pictures(nb) -> list[tuple[int, str]]:
    """(cell index, base64 PNG) for every picture saved in a notebook."""
    return [
        (index, output["data"][PICTURE])
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if PICTURE in output.get("data", {})
    ]


def test_there_are_lessons():
    assert len(LESSONS) >= 8


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_every_figure_cell_has_a_picture(path):
    nb = nbformat.read(path, as_version=4)
    pictured = {index for index, _ in pictures(nb)}
    figure_cells = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and NOTEBOOKS.source_displays_view(cell.source)
    ]
    missing = [index for index in figure_cells if index not in pictured]
    assert not missing, (
        f"{path.name}: cells {missing} display a figure but hold no picture; run "
        f"`python tools/notebooks.py execute --strip {path.relative_to(REPO)}`"
    )


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_every_picture_is_a_real_png(path):
    for index, encoded in pictures(nbformat.read(path, as_version=4)):
        where = f"{path.name} cell {index}"
        try:
            png = base64.b64decode(encoded, validate=True)
        except binascii.Error as error:
            raise AssertionError(f"{where}: the picture is not base64 ({error})") from None
        assert png.startswith(PNG_MAGIC), where
        assert len(png) <= MAX_PICTURE_KB * 1024, f"{where}: {len(png) / 1024:.0f} KB"
        image = Image.open(io.BytesIO(png))
        image.verify()  # the whole file decodes (checksums included)
        width, height = image.size
        assert 20 <= width <= snapshots.MAX_WIDTH, f"{where}: {width} px wide"
        assert 20 <= height <= 4000, f"{where}: {height} px high"
        colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=4096)
        assert colours is None or len(colours) > 2, f"{where}: a blank picture"
