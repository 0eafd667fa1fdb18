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
from attnviz.notebook_setup import HEAVY_MIME_TYPES, load_notebook_extension, saved_output

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


def test_saved_lessons_are_small_and_carry_no_payloads():
    """What `python tools/notebooks.py check lessons/*.ipynb` enforces before a commit."""
    spec = importlib.util.spec_from_file_location("notebooks", REPO / "tools" / "notebooks.py")
    notebooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(notebooks)
    lessons = sorted((REPO / "lessons").glob("*.ipynb"))
    assert lessons
    for path in lessons:
        assert notebooks.problems(path, nbformat.read(path, as_version=4)) == [], path.name
