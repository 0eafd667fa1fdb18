"""Which notebook front end shows the lessons, and how Panel must talk to it.

Panel draws a dashboard in a notebook in one of two ways (``pn.config.comms``):

- ``"default"``: JupyterLab and the classic Notebook run Panel's own notebook
  extension, which receives the BokehJS views and their updates over a kernel comm;
- through ipywidgets: the view is a ``jupyter_bokeh.BokehModel`` widget, which any
  front end that can show Jupyter widgets draws. VS Code (``"vscode"``) and Google
  Colab (``"colab"``) have no Panel extension, so this is how they show a dashboard;
  ``"ipywidgets"`` is the same path in JupyterLab, where it can be tested.

``attnviz.notebook()`` asks ``panel_comms`` which one to use. With ``frontend="auto"``
it asks ``detect_frontend``, which reads only what the front end leaves in the kernel:
Colab's kernel imports ``google.colab``; VS Code starts kernels with ``VSCODE_PID`` or
``VSCODE_CWD`` in the environment and sets ``__vsc_ipynb_file__`` in the user
namespace. (``JPY_SESSION_NAME`` says nothing here: jupyter_server sets it for every
kernel it starts, JupyterLab's too.) ``ATTNVIZ_FRONTEND`` in the environment overrides
the guess, for tools that execute lessons from an editor's terminal. Panel's own
guess (``panel.config.panel_extension._detect_comms``) reads the same signals, but only
when no ``comms`` is given and only once per kernel; attnviz always passes one.

Nothing here imports Panel; it only chooses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping
from typing import Any

from attnviz.validation import short_repr

#: the front ends attnviz.notebook() knows, and the Panel ``comms`` each needs
PANEL_COMMS = {
    "jupyterlab": "default",  # JupyterLab and the classic Notebook: Panel's own extension
    "vscode": "vscode",
    "colab": "colab",
    "ipywidgets": "ipywidgets",  # any front end that shows Jupyter widgets
}
FRONTENDS = tuple(PANEL_COMMS)
#: the environment variable that overrides the guess ("jupyterlab", "vscode" ...)
FRONTEND_VARIABLE = "ATTNVIZ_FRONTEND"


def _check_frontend(name: str, value: Any, *, auto: bool = True) -> str:
    """``value`` as a front-end name; a ValueError or TypeError naming ``name`` otherwise."""
    allowed = (("auto",) if auto else ()) + FRONTENDS
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be one of {', '.join(map(repr, allowed))} (a str), "
            f"got {short_repr(value)} ({type(value).__name__})"
        )
    if value not in allowed:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, allowed))}, got {short_repr(value)}"
        )
    return value


def detect_frontend(
    environ: Mapping[str, str] | None = None,
    modules: Collection[str] | None = None,
    namespace: Mapping[str, Any] | None = None,
) -> str:
    """Guess the front end this kernel serves: "colab", "vscode" or "jupyterlab".

    Args:
        environ: the kernel's environment (default ``os.environ``).
        modules: the names of the imported modules (default ``sys.modules``).
        namespace: the notebook's user namespace (default: IPython's, if running).

    ``ATTNVIZ_FRONTEND`` in ``environ`` wins when set. Anything unknown is JupyterLab,
    the front end the lessons are written and tested in.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    namespace = _ipython_namespace() if namespace is None else namespace
    for label, value, kind in (
        ("environ", environ, Mapping),
        ("modules", modules, Collection),
        ("namespace", namespace, Mapping),
    ):
        if not isinstance(value, kind) or isinstance(value, str):
            raise TypeError(
                f"{label} must be a {kind.__name__} (or None for this kernel's), "
                f"got {short_repr(value)} ({type(value).__name__})"
            )
    chosen = environ.get(FRONTEND_VARIABLE)
    if chosen:
        return _check_frontend(f"${FRONTEND_VARIABLE}", chosen, auto=False)
    if "google.colab" in modules:
        return "colab"
    if "VSCODE_PID" in environ or "VSCODE_CWD" in environ or "__vsc_ipynb_file__" in namespace:
        return "vscode"
    return "jupyterlab"


def panel_comms(frontend: str = "auto") -> str:
    """The ``pn.config.comms`` value for a front end ("auto": the one ``detect_frontend`` sees).

    Every path but JupyterLab's draws through ``jupyter_bokeh`` and ``ipywidgets``
    (dependencies of attnviz); if they are missing this raises ImportError saying what
    to install, instead of the blank output a learner would otherwise get.
    """
    frontend = _check_frontend("frontend", frontend)
    if frontend == "auto":
        frontend = detect_frontend()
    comms = PANEL_COMMS[frontend]
    if comms != "default":
        try:
            import jupyter_bokeh  # noqa: F401
        except ImportError as error:
            raise ImportError(
                f"the {frontend!r} front end draws dashboards through ipywidgets, which needs "
                "the jupyter_bokeh package: run `pip install jupyter_bokeh ipywidgets` in "
                "this environment, restart the kernel, and run this cell again"
            ) from error
    return comms


def _ipython_namespace() -> Mapping[str, Any]:
    """The running IPython's user namespace, or an empty one outside IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "user_ns", None) or {}


__all__ = ["FRONTENDS", "FRONTEND_VARIABLE", "PANEL_COMMS", "detect_frontend", "panel_comms"]
