"""attnviz.notebook() picks how Panel talks to the front end: its own extension in
JupyterLab, ipywidgets (jupyter_bokeh) in VS Code and Colab, or as told. The browser
test (tests/browser/test_jupyterlab_ipywidgets.py) shows the widget path drawing a
lesson dashboard in a real JupyterLab."""

from __future__ import annotations

import sys

import nbformat
import panel as pn
import pytest
from nbclient import NotebookClient

import attnviz
from attnviz.notebook_frontends import (
    FRONTEND_VARIABLE,
    FRONTENDS,
    PANEL_COMMS,
    detect_frontend,
    panel_comms,
)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def restore_panel_config(monkeypatch):
    """pn.config is global; and this machine's own front end must not decide the tests."""
    for name in (FRONTEND_VARIABLE, "VSCODE_PID", "VSCODE_CWD"):
        monkeypatch.delenv(name, raising=False)
    saved = {name: getattr(pn.config, name) for name in ("inline", "comms")}
    yield
    for name, value in saved.items():
        setattr(pn.config, name, value)


@pytest.mark.parametrize(
    ("environ", "modules", "namespace", "expected"),
    [
        ({}, {"numpy"}, {}, "jupyterlab"),
        ({"JPY_SESSION_NAME": "/x/01.ipynb"}, set(), {}, "jupyterlab"),  # every jupyter_server
        ({}, {"google.colab", "numpy"}, {}, "colab"),
        ({"VSCODE_PID": "4242"}, set(), {}, "vscode"),
        ({"VSCODE_CWD": "/home/me"}, set(), {}, "vscode"),
        ({}, set(), {"__vsc_ipynb_file__": "/x/01.ipynb"}, "vscode"),
        ({"VSCODE_PID": "1", FRONTEND_VARIABLE: "jupyterlab"}, set(), {}, "jupyterlab"),
        ({FRONTEND_VARIABLE: "ipywidgets"}, {"google.colab"}, {}, "ipywidgets"),
        ({FRONTEND_VARIABLE: ""}, {"google.colab"}, {}, "colab"),  # empty: not set
    ],
)
def test_the_front_end_is_read_from_what_it_leaves_in_the_kernel(
    environ, modules, namespace, expected
):
    assert detect_frontend(environ, modules, namespace) == expected


def test_with_nothing_given_it_reads_this_process(monkeypatch):
    assert detect_frontend() == "jupyterlab"  # pytest: no front end at all
    monkeypatch.setenv("VSCODE_PID", "4242")
    assert detect_frontend() == "vscode"
    monkeypatch.setitem(sys.modules, "google.colab", sys.modules["sys"])
    assert detect_frontend() == "colab"


def test_a_bad_override_or_argument_is_named():
    with pytest.raises(ValueError, match=r"\$ATTNVIZ_FRONTEND must be one of 'jupyterlab'"):
        detect_frontend({FRONTEND_VARIABLE: "auto"}, set(), {})
    with pytest.raises(TypeError, match="environ must be a Mapping"):
        detect_frontend(["VSCODE_PID"], set(), {})
    with pytest.raises(TypeError, match="modules must be a Collection"):
        detect_frontend({}, "google.colab", {})
    with pytest.raises(TypeError, match="namespace must be a Mapping"):
        detect_frontend({}, set(), 3)


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_each_front_end_gets_its_panel_comms(frontend):
    assert panel_comms(frontend) == PANEL_COMMS[frontend]
    assert PANEL_COMMS["jupyterlab"] == "default"
    assert set(PANEL_COMMS.values()) <= set(pn.config.param["_comms"].objects)


def test_auto_asks_the_kernel(monkeypatch):
    assert panel_comms() == panel_comms("auto") == "default"
    monkeypatch.setenv("VSCODE_CWD", "/home/me")
    assert panel_comms("auto") == "vscode"
    monkeypatch.setenv(FRONTEND_VARIABLE, "colab")
    assert panel_comms("auto") == "colab"
    assert panel_comms("jupyterlab") == "default"  # an explicit choice beats the guess


def test_a_bad_frontend_is_refused_by_name():
    with pytest.raises(ValueError, match="frontend must be one of 'auto', 'jupyterlab'.*got 'vs'"):
        panel_comms("vs")
    with pytest.raises(TypeError, match="frontend must be one of"):
        panel_comms(None)
    with pytest.raises(ValueError, match="frontend must be one of"):
        attnviz.notebook(frontend="VSCode")
    with pytest.raises(ValueError, match="pass frontend=..., not comms="):
        attnviz.notebook(comms="ipywidgets")


def test_without_jupyter_bokeh_the_widget_paths_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyter_bokeh", None)  # import fails
    for frontend in ("vscode", "colab", "ipywidgets"):
        with pytest.raises(ImportError, match="pip install jupyter_bokeh ipywidgets"):
            panel_comms(frontend)
    assert panel_comms("jupyterlab") == "default"  # needs nothing more


def test_attnviz_notebook_sets_panel_comms_every_time():
    attnviz.notebook(frontend="ipywidgets")
    assert pn.config.comms == "ipywidgets" and pn.config.inline is True
    attnviz.notebook(frontend="jupyterlab")
    assert pn.config.comms == "default"


def _run_in_a_kernel(*sources: str) -> list:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    for cell in nb.cells:
        assert not [out for out in cell.outputs if out.output_type == "error"], cell.outputs
    return [cell.outputs for cell in nb.cells]


@pytest.mark.slow
def test_in_a_kernel_the_ipywidgets_path_sends_a_bokeh_widget_and_jupyterlab_does_not():
    """A lesson dashboard, shown after each choice, in a real kernel."""
    show = "from attnviz.dashboards import SoftLookupDashboard\nSoftLookupDashboard()"
    _, widget = _run_in_a_kernel("import attnviz; attnviz.notebook(frontend='ipywidgets')", show)
    (result,) = [out for out in widget if out.output_type == "execute_result"]
    assert WIDGET_VIEW in result.data
    assert result.data["text/plain"].startswith("BokehModel(")
    _, native = _run_in_a_kernel("import attnviz; attnviz.notebook()", show)
    (result,) = [out for out in native if out.output_type == "execute_result"]
    assert WIDGET_VIEW not in result.data
    assert "application/vnd.holoviews_exec.v0+json" in result.data
