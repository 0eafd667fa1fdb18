"""Several machines behind nginx: the configuration, written for you.

Each machine runs ``attnviz serve``; nginx, on one of them or in front of all, spreads the
students over them and passes the websockets through::

    python -m attnviz.deploy --backend 10.0.0.11:5006 --backend 10.0.0.12:5006 \\
        --listen 80 > /etc/nginx/conf.d/attnviz.conf

prints the ``upstream`` and ``server`` blocks for the ``http`` context (Debian's nginx
includes ``/etc/nginx/conf.d/*.conf`` there). ``--standalone DIR`` prints a whole
``nginx.conf`` instead, which keeps its pid, logs and temporary files in ``DIR`` and runs
in the foreground: ``nginx -c DIR/nginx.conf -e stderr``, no root needed for a port
above 1023 (``tests/test_nginx_recipe.py`` runs it so). ``docs/deploy/nginx.conf`` is
an example, and ``docs/teaching.md`` the whole recipe.

What matters in it:

- **Sticky routing** (``ip_hash``): a student's page, its websocket and any reconnect
  reach the same machine. If every student reaches nginx from one address (a NAT or
  another proxy in between) ``ip_hash`` would send them all to one machine: use
  ``--balance least_conn``. attnviz builds a session where its websocket lands, so a
  page and a websocket on two machines cost nothing extra (``serve.py``).
- **Websockets pass through**: HTTP/1.1 to the backends, with the ``Upgrade`` and
  ``Connection`` headers, and a long ``proxy_read_timeout`` (a student may think for
  minutes between two moves; attnviz pings every 20 s, so a dead one is found anyway).
- **The Host header is kept** (``$http_host``, with its port): a backend lets in the
  websocket of a page whose origin it knows, so start each with
  ``--allow-websocket-origin <the host:port students open>``.
- ``<prefix>/health/<i>`` reaches backend ``i``'s ``/health`` through nginx.
"""

from __future__ import annotations

import re
import sys

BALANCES = ("ip_hash", "least_conn")
READ_TIMEOUT = "1h"
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")


def check_address(name: str, text: str, *, port_only: bool = False) -> str:
    """``host:port`` (or ``port`` alone where ``port_only``): the text, or ValueError."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string 'host:port', got {text!r}")
    host, _, port = text.rpartition(":")
    if port_only and not host:
        host = "0"  # "80": listen on every interface
    valid_port = port.isdigit() and 0 < int(port) <= 65535
    if not (valid_port and (host == "0" or _HOST.match(host))):
        example = "'8080' or '127.0.0.1:8080'" if port_only else "'10.0.0.11:5006'"
        raise ValueError(f"{name} must be host:port such as {example}, got {text!r}")
    return text


def check_prefix(prefix: str) -> str:
    """A URL prefix such as ``/attnviz`` ('' for none), or ValueError."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix.rstrip("/")):
        raise ValueError(
            f"prefix must be '' or a path such as '/attnviz' (letters, digits, . _ ~ -), "
            f"got {prefix!r}"
        )
    return prefix.rstrip("/")


def site(
    backends: list[str], *, listen: str = "8080", prefix: str = "", balance: str = "ip_hash"
) -> str:
    """The ``upstream``, ``map`` and ``server`` blocks, for nginx's ``http`` context."""
    if not isinstance(backends, list | tuple) or not backends:
        raise ValueError(f"backends must be a non-empty list of 'host:port', got {backends!r}")
    backends = [check_address("backend", backend) for backend in backends]
    listen = check_address("listen", str(listen), port_only=True)
    prefix = check_prefix(prefix)
    if balance not in BALANCES:
        raise ValueError(f"balance must be one of {', '.join(BALANCES)}, got {balance!r}")
    why = {
        "ip_hash": "one student, one backend: the page, its websocket, any reconnect",
        "least_conn": "the backend with the fewest connections (students behind one NAT)",
    }[balance]
    servers = "\n".join(f"    server {backend};" for backend in backends)
    serve_prefix = f"--prefix {prefix} " if prefix else ""
    health = "\n".join(
        f"    location = {prefix}/health/{i} {{\n"
        f"        proxy_pass http://{backend}{prefix}/health;\n"
        f"    }}"
        for i, backend in enumerate(backends)
    )
    return f"""\
# attnviz behind nginx (python -m attnviz.deploy); each backend runs
#   attnviz serve --address <its address> --port <its port> {serve_prefix}\\
#       --allow-websocket-origin <the host:port students open>
upstream attnviz {{
    {balance};  # {why}
{servers}
}}

# a websocket request asks to upgrade the connection; any other closes it as usual
map $http_upgrade $attnviz_connection {{
    default upgrade;
    ''      close;
}}

server {{
    listen {listen};

    location {prefix}/ {{
        proxy_pass http://attnviz;
        proxy_http_version 1.1;  # websockets need HTTP/1.1 to the backend
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $attnviz_connection;
        proxy_set_header Host $http_host;  # with its port: the backends check the origin
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_read_timeout {READ_TIMEOUT};  # a student may think for minutes between moves
        proxy_send_timeout {READ_TIMEOUT};
    }}

    # each backend's /health, by its place in the upstream list
{health}
}}
"""


def standalone(runtime_dir: str, **site_options) -> str:
    """A whole ``nginx.conf`` in the foreground, with its files in ``runtime_dir``."""
    if not isinstance(runtime_dir, str) or not runtime_dir.startswith("/") or " " in runtime_dir:
        raise ValueError(
            f"runtime_dir must be an absolute path without spaces, got {runtime_dir!r}"
        )
    run = runtime_dir.rstrip("/")
    body = "\n".join("    " + line if line else "" for line in site(**site_options).splitlines())
    return f"""\
# nginx in the foreground, its files in {run}: nginx -c {run}/nginx.conf -e stderr
daemon off;
worker_processes auto;
pid {run}/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 1024;  # two per student (browser, backend) and then some
}}

http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;

{body}
}}
"""


def main(argv: list[str] | None = None) -> int:
    from attnviz.cli import _Parser

    parser = _Parser(
        prog="python -m attnviz.deploy", description="print an nginx configuration for attnviz"
    )
    parser.add_argument(
        "--backend", action="append", required=True, metavar="HOST:PORT",
        help="an `attnviz serve` to send students to (repeat for each)",
    )  # fmt: skip
    parser.add_argument("--listen", default="8080", metavar="[HOST:]PORT", help="default 8080")
    parser.add_argument("--prefix", default="", help="URL prefix, as given to attnviz serve")
    parser.add_argument("--balance", choices=BALANCES, default="ip_hash")
    parser.add_argument(
        "--standalone", metavar="DIR", help="a whole nginx.conf keeping its files in DIR"
    )
    args = parser.parse_args(argv)
    options = dict(backends=args.backend, listen=args.listen, prefix=args.prefix)
    try:
        if args.standalone:
            text = standalone(args.standalone, balance=args.balance, **options)
        else:
            text = site(balance=args.balance, **options)
    except ValueError as error:
        parser.error(str(error))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
