"""attnviz.notebook() loads Panel's JavaScript from the installed packages, not the web."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import bokeh
import nbformat
import panel as pn
import pytest
from nbclient import NotebookClient
from offline import external_loads, is_external

import attnviz
from attnviz.notebook_setup import (
    HEAVY_MIME_TYPES,
    displays_view,
    load_notebook_extension,
    saved_output,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def restore_panel_config():
    """pn.config is global: put back what these tests change."""
    saved = {name: getattr(pn.config, name) for name in ("inline", "sizing_mode")}
    yield
    for name, value in saved.items():
        setattr(pn.config, name, value)


def test_outside_a_notebook_it_only_sets_inline():
    pn.config.inline = False
    assert load_notebook_extension() is None
    assert pn.config.inline is True


def test_attnviz_notebook_is_the_same_call():
    pn.config.inline = False
    assert attnviz.notebook() is None
    assert pn.config.inline is True


def test_panel_settings_pass_through():
    load_notebook_extension(sizing_mode="stretch_width")
    assert pn.config.sizing_mode == "stretch_width"
    assert pn.config.inline is True
    load_notebook_extension(inline=True)  # saying it explicitly is fine


def test_inline_false_is_refused():
    with pytest.raises(ValueError, match="inline must stay True"):
        load_notebook_extension(inline=False)


def test_unknown_setting_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown Panel setting.*'sizing_mod'"):
        attnviz.notebook(sizing_mod="stretch_width")


def test_extension_names_must_be_strings():
    with pytest.raises(TypeError, match=r"extensions\[0\] must be the name"):
        load_notebook_extension(3)


def test_pane_updates_keep_their_stylesheets_inline():
    """A pane recomputing its properties (as on every slider move) must not
    bring back links to stylesheets on the web, and must reuse the document's inline sheets."""
    from bokeh.document import Document
    from bokeh.models import ImportedStyleSheet, InlineStyleSheet

    load_notebook_extension()
    readout = pn.pane.Markdown("query x = 4.00")
    doc = Document()
    readout.get_root(doc)
    first = readout._get_properties(doc)["stylesheets"]
    readout.object = "query x = 4.20"
    second = readout._get_properties(doc)["stylesheets"]
    assert any(isinstance(sheet, InlineStyleSheet) for sheet in first)
    for sheet in first:
        if isinstance(sheet, ImportedStyleSheet):
            assert not is_external(sheet.url), sheet.url
    assert [id(sheet) for sheet in first] == [id(sheet) for sheet in second]
    # another document gets its own sheets: a Bokeh model belongs to one document
    other = Document()
    readout.get_root(other)
    third = readout._get_properties(other)["stylesheets"]
    assert not {id(sheet) for sheet in third} & {
        id(sheet) for sheet in first if not isinstance(sheet, str)
    }


@pytest.mark.slow
def test_in_a_kernel_bokehjs_and_panel_js_come_inline():
    """Run the lessons' first cell in a real kernel and read what it sends the browser."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell("import attnviz; attnviz.notebook()")]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert not [out for out in outputs if out.output_type == "error"]
    scripts = [
        out.data["application/javascript"]
        for out in outputs
        if "application/javascript" in out.get("data", {})
    ]
    bundle = max(scripts, key=len)
    assert len(bundle) > 1_000_000  # BokehJS and Panel themselves, not a loader
    assert f"const version = '{bokeh.__version__}'" in bundle
    # plain pn.extension() sends, instead of the bundle, a loader that lists script URLs on
    # the web; here no loader fetches anything (BokehJS itself only names an optional
    # MathJax it would fetch on demand for LaTeX labels, which the lessons do not use)
    loaders = [script for script in scripts if script is not bundle]
    assert not [url for script in loaders for url in external_loads(script)]


# -- what a saved lesson keeps ------------------------------------------------------------

STREAM = {"output_type": "stream", "name": "stdout", "text": "0.244\n"}
VIEW = {
    "output_type": "execute_result",
    "execution_count": 3,
    "data": {
        "text/plain": "SoftLookup(name='SoftLookup00120')",
        "text/html": "<div id='4514f284'>...</div>",
        "application/vnd.holoviews_exec.v0+json": "",
    },
    "metadata": {"application/vnd.holoviews_exec.v0+json": {"id": "4514f284"}},
}
LOADER = {
    "output_type": "display_data",
    "data": {
        "application/javascript": "(function(root) {...})(window);",
        "application/vnd.holoviews_load.v0+json": "(function(root) {...})(window);",
    },
    "metadata": {},
}
FEEDBACK = {
    "output_type": "execute_result",
    "execution_count": 4,
    "data": {"text/plain": "Predict first.", "text/markdown": "**Predict first.**"},
    "metadata": {},
}


def test_saved_output_keeps_printed_text_and_markdown():
    assert saved_output(STREAM) == STREAM
    assert saved_output(FEEDBACK) == FEEDBACK


def test_saved_output_drops_javascript_and_views_with_their_repr():
    assert saved_output(LOADER) is None
    assert saved_output(VIEW) is None  # Panel's repr names an auto-generated instance
    plain = dict(VIEW, data={**VIEW["data"]})
    del plain["data"]["application/vnd.holoviews_exec.v0+json"]
    kept = saved_output(plain)  # not a view: keeps its text/plain, loses the HTML
    assert kept["data"] == {"text/plain": VIEW["data"]["text/plain"]}
    assert kept["metadata"] == {}


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGP4DwABAQEAWk1v8QAAAABJRU5ErkJggg=="
PICTURED = dict(VIEW, data={**VIEW["data"], "image/png": PNG})
SETUP = {  # what pn.extension publishes for its comm manager: a view payload, no repr
    "output_type": "display_data",
    "data": {"text/html": "<div id='08fd'>...</div>", "application/vnd.holoviews_exec.v0+json": ""},
    "metadata": {"application/vnd.holoviews_exec.v0+json": {"id": "08fd"}},
}


def test_saved_output_keeps_only_the_picture_of_a_view():
    kept = saved_output(PICTURED)
    assert kept["data"] == {"image/png": PNG}  # no HTML, no JavaScript, no Panel repr
    assert kept["metadata"] == {}
    assert kept["output_type"] == "execute_result"


def test_displays_view_means_a_view_a_learner_sees():
    assert displays_view(VIEW) and displays_view(PICTURED)
    assert not displays_view(SETUP)  # Panel's invisible set-up output
    assert not displays_view(STREAM) and not displays_view(FEEDBACK) and not displays_view(LOADER)
    with pytest.raises(TypeError, match="output must be a notebook cell output"):
        displays_view("a view")


def test_saved_output_leaves_its_argument_alone():
    before = repr(VIEW)
    saved_output(VIEW)
    assert repr(VIEW) == before


def test_saved_output_needs_an_output():
    with pytest.raises(TypeError, match="output must be a notebook cell output"):
        saved_output({"text": "no output_type"})


def test_heavy_payloads_include_panel_and_bokeh_loaders():
    for mime in (
        "text/html",
        "application/javascript",
        "application/vnd.holoviews_load.v0+json",
        "application/vnd.holoviews_exec.v0+json",
        "application/vnd.bokehjs_load.v0+json",
        "application/vnd.bokehjs_exec.v0+json",
    ):
        assert mime in HEAVY_MIME_TYPES


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- what nbval compares (lessons/conftest.py) ---------------------------------------------


@pytest.fixture(scope="module")
def lesson_settings():
    return _load("lesson_conftest", REPO / "lessons" / "conftest.py")


def test_nbval_compares_no_pictures(lesson_settings):
    """The re-run draws no picture: images are left out on both sides, and an output left
    with nothing is dropped, so a saved picture never fails the comparison."""
    assert lesson_settings._comparable([PICTURED, STREAM]) == [STREAM]
    assert lesson_settings._comparable([VIEW, STREAM]) == [STREAM]
    mixed = dict(FEEDBACK, data={**FEEDBACK["data"], "image/png": PNG})
    assert lesson_settings._comparable([mixed]) == [FEEDBACK]  # the text is still compared


def test_nbval_fails_a_view_saved_without_its_picture(lesson_settings):
    missing = lesson_settings._missing_pictures
    assert missing([SETUP, STREAM], [STREAM]) is None  # no view shown: nothing needed
    assert missing([VIEW], [saved_output(PICTURED)]) is None
    message = missing([VIEW, VIEW], [saved_output(PICTURED)])
    assert "displays 2 Panel / Bokeh view(s)" in message and "1 PNG picture(s)" in message
    assert "tools/notebooks.py execute" in message


# -- tools/notebooks.py ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def notebooks():
    return _load("notebooks", REPO / "tools" / "notebooks.py")


@pytest.mark.parametrize(
    "source",
    [
        "pn.pane.Bokeh(curves.figure)",
        "from attnviz.dashboards import X\n\nSoftLookupDashboard()",
        "pn.Row(*map(pn.pane.Bokeh, figures))",
        "x = 1\npn.pane.Bokeh(\n    plots.Heatmap(w, a, b).figure\n)",
    ],
)
def test_a_cell_whose_value_is_a_view_is_read_from_its_source(notebooks, source):
    assert notebooks.source_displays_view(source)


@pytest.mark.parametrize(
    "source",
    [
        "pn.pane.Bokeh(curves.figure);",  # the ; hides the value
        "view = pn.pane.Bokeh(curves.figure)",
        "print(pn.__version__)",
        "check('01-boxcar-count', my_answer)",
        "dashboard.param.update(x=1)",
        "%timeit pn.Row()",
        "",
    ],
)
def test_other_cells_are_not_views(notebooks, source):
    assert not notebooks.source_displays_view(source)


def test_check_fails_a_view_cell_without_a_picture(notebooks, tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("pn.pane.Bokeh(fig)", execution_count=1)
    nb.cells = [cell]
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, path)
    assert notebooks.problems(path, nb) == [
        "cell 0 displays a view but has no picture (execute with tools/notebooks.py, "
        "which draws one)"
    ]
    cell.outputs = [nbformat.from_dict(saved_output(PICTURED))]
    nbformat.write(nb, path)
    assert notebooks.problems(path, nb) == []
    assert notebooks.main(["check", str(path)]) == 0


def test_saved_lessons_are_small_and_carry_no_payloads(notebooks):
    """What `python tools/notebooks.py check lessons/*.ipynb` enforces before a commit."""
    lessons = sorted((REPO / "lessons").glob("*.ipynb"))
    assert lessons
    for path in lessons:
        assert notebooks.problems(path, nbformat.read(path, as_version=4)) == [], path.name
