"""attnviz.notebook() loads Panel's JavaScript from the installed packages, not a CDN."""

from __future__ import annotations

import bokeh
import nbformat
import panel as pn
import pytest
from nbclient import NotebookClient

import attnviz
from attnviz.notebook_setup import load_notebook_extension

CDN_HOSTS = ("cdn.bokeh.org", "cdn.holoviz.org", "unpkg.com")


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
    for host in CDN_HOSTS:  # plain pn.extension() would list script URLs on these
        assert not any(host in script for script in scripts), host
