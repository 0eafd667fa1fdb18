"""Serve the lesson dashboards inside Jupyter, through jupyter-server-proxy.

On mybinder.org (or any JupyterHub / Jupyter server with ``jupyter-server-proxy``
installed) this makes the served index reachable at ``<server>/attnviz/``: the
first request there starts ``attnviz serve`` on a free local port, and the proxy
forwards HTTP and the Bokeh websocket to it. A Binder link opens it directly::

    https://mybinder.org/v2/gh/<org>/<repo>/<branch>?urlpath=attnviz/

jupyter-server-proxy finds :func:`setup_attnviz` through the entry point
``jupyter_serverproxy_servers`` declared in pyproject.toml; this module imports
nothing from jupyter-server-proxy, Panel or torch, so loading it is instant.
"""

from __future__ import annotations

import sys

NAME = "attnviz"  # the entry point's name: the URL path under the Jupyter server
START_TIMEOUT = 60  # seconds: the first start imports torch and Panel


def setup_attnviz() -> dict:
    """The jupyter-server-proxy configuration that serves the dashboards.

    jupyter-server-proxy fills in ``{port}`` (a free port it picked) and
    ``{base_url}`` (the Jupyter server's base URL, e.g. ``/user/alice/``, always
    ending in "/"). The command runs with the Jupyter server's interpreter, the
    environment attnviz is installed in. ``-P`` keeps the server's working
    directory off ``sys.path``: on Binder that is the checkout, and the server
    should run what was installed, not whatever folders the working directory holds.

    ``absolute_url`` keeps the full path on proxied requests, matching the
    ``--prefix``, so every link and static file the served pages name resolves
    through the proxy. The server listens on 127.0.0.1 only, so the proxy, which has
    already authenticated the user, is its only way in; the websocket's origin is
    the public hub host, not known in advance, so any origin is let in.
    """
    return {
        "command": [
            sys.executable,
            "-P",  # not the working directory first on sys.path: it may be a checkout
            "-m",
            "attnviz",
            "serve",
            "--port",
            "{port}",
            "--address",
            "127.0.0.1",
            "--prefix",
            "{base_url}" + NAME,
            "--allow-websocket-origin",
            "*",
            "--num-procs",
            "1",  # one user per Jupyter server: more processes would only cost memory
        ],
        "absolute_url": True,
        "timeout": START_TIMEOUT,
        "new_browser_tab": True,
        "launcher_entry": {
            "enabled": True,
            "title": "attnviz dashboards",
            "path_info": NAME + "/",
            "category": "Notebook",
        },
    }
