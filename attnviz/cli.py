"""The ``attnviz`` command: serve the dashboards, open the lessons, measure them.

    attnviz serve [--port 5006] [--address 127.0.0.1] [--num-procs N] [--show] [--prefix /p] ...
    attnviz lab [--dir lessons] [jupyter lab options ...]
    attnviz bench [--json] [--dashboard SLUG] [--n 25] [--output FILE]
    attnviz bench --classroom N [--classroom-seconds 60] [--arrival-seconds 10] ...
    attnviz bench --kernels [--lengths 1024 2048 ...] [--method NAME ...] [--json] [--output FILE]

Bad arguments print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump, status 2
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"port must be an integer in [0, 65535], got {text!r}"
        ) from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be an integer in [0, 65535], got {value}")
    return value


def _address(text: str) -> str:
    if text == "localhost":
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"address must be an IP address such as 127.0.0.1 or 0.0.0.0, got {text!r}"
        ) from None
    broadcast = address == ipaddress.IPv4Address("255.255.255.255")
    if address.is_multicast or broadcast:
        what = "a multicast" if address.is_multicast else "the broadcast"
        raise argparse.ArgumentTypeError(
            f"address must be an interface address such as 127.0.0.1 or 0.0.0.0, got {text!r} "
            f"({what} address, which a server cannot listen on)"
        )
    return text


def _prefix(text: str) -> str:
    """A URL prefix: empty, or a path starting with '/' (e.g. /attnviz), no spaces."""
    if text and (not text.startswith("/") or any(c.isspace() for c in text)):
        raise argparse.ArgumentTypeError(
            f"prefix must be empty or a URL path starting with '/' such as /attnviz, got {text!r}"
        )
    return text


def _origin(text: str) -> str:
    """One websocket origin: '*' or a host[:port], never empty or with spaces."""
    if not text.strip() or any(c.isspace() for c in text) or "/" in text:
        raise argparse.ArgumentTypeError(
            "allow-websocket-origin must be a host[:port] such as example.org:443 or '*', "
            f"got {text!r}"
        )
    return text


def _output_path(parser: argparse.ArgumentParser, path: Path | None) -> None:
    """Refuse, before a long run, an --output whose folder is missing or not writable."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        parser.error(f"argument --output: {str(path)!r} is a folder; give a file name in it")
    if not folder.is_dir():
        parser.error(f"argument --output: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        parser.error(f"argument --output: {str(path)!r} is not writable")


def _length(text: str) -> int:
    from attnviz.fast_kernels import MAX_SEQ_LEN

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_SEQ_LEN:
        raise argparse.ArgumentTypeError(
            f"lengths must be integers in [1, {MAX_SEQ_LEN}], got {text!r}"
        )
    return value


def _kernel_method(text: str) -> str:
    from attnviz.fast_kernels import METHODS

    if text not in METHODS:
        raise argparse.ArgumentTypeError(f"method must be one of {tuple(METHODS)}, got {text!r}")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2 or value > 10_000:
        raise argparse.ArgumentTypeError(f"n must be an integer in [2, 10000], got {text!r}")
    return value


def _num_procs(text: str) -> int:
    from attnviz.processes import MAX_PROCS

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PROCS:
        raise argparse.ArgumentTypeError(
            f"num-procs must be an integer in [1, {MAX_PROCS}], got {text!r}"
        )
    if value > 1 and sys.platform == "win32":
        raise argparse.ArgumentTypeError("num-procs > 1 needs fork(), which Windows lacks")
    return value


def _students(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 200:
        raise argparse.ArgumentTypeError(f"students must be an integer in [1, 200], got {text!r}")
    return value


def _seconds(low: float, high: float, *, low_open: bool = False):
    """An argparse type: a number of seconds in [low, high] ((low, high] if low_open)."""
    shown = f"{'(' if low_open else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (low < value <= high if low_open else low <= value <= high):
            raise argparse.ArgumentTypeError(f"seconds must be in {shown}, got {text!r}")
        return value

    return parse


def _slug(text: str) -> str:
    from attnviz.dashboards import entries

    known = [entry.slug for entry in entries()]
    if text not in known:
        raise argparse.ArgumentTypeError(f"unknown dashboard {text!r}; choose from {known}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="attnviz", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="serve the lesson dashboards with an index page")
    serve.add_argument("--port", type=_port, default=5006, help="TCP port (0: any free port)")
    serve.add_argument(
        "--address",
        type=_address,
        default="127.0.0.1",
        help="interface to listen on; 0.0.0.0 lets a classroom connect",
    )
    serve.add_argument(
        "--num-procs",
        type=_num_procs,
        default=None,
        metavar="N",
        help="server processes sharing the port (default: one per available core); "
        "a busy process delays only its own students' sessions",
    )
    serve.add_argument("--show", action="store_true", help="open the index in a browser")
    serve.add_argument(
        "--prefix", type=_prefix, default="", help="URL prefix behind a proxy, e.g. /attnviz"
    )
    serve.add_argument(
        "--allow-websocket-origin",
        action="append",
        type=_origin,
        default=None,
        metavar="HOST[:PORT]",
        help="host whose pages may open the websocket, repeatable ('*' for any); default: "
        "this machine's names and addresses with the port",
    )
    serve.add_argument(
        "--dashboard",
        action="append",
        type=_slug,
        dest="slugs",
        metavar="SLUG",
        help="serve only this dashboard (repeatable)",
    )

    lab = commands.add_parser("lab", help="open JupyterLab on the lessons")
    lab.add_argument("--dir", type=Path, default=None, help="lessons folder (default: found)")

    bench = commands.add_parser("bench", help="time every dashboard control across its range")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.add_argument("--dashboard", action="append", type=_slug, dest="slugs", metavar="SLUG")
    bench.add_argument("--n", type=_positive, default=25, help="values per control (default 25)")
    bench.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    bench.add_argument(
        "--targets-n",
        type=_positive,
        default=3,
        help="repeats of each issue target, e.g. training to an induction head (default 3)",
    )
    bench.add_argument(
        "--skip-targets",
        action="store_true",
        help="time the dashboard controls only (the targets take about a minute)",
    )
    _add_kernel_arguments(bench)
    _add_classroom_arguments(bench)
    return parser


# -- attnviz bench --kernels (attnviz/bench_kernels.py) -------------------------------------


def _add_kernel_arguments(bench: argparse.ArgumentParser) -> None:
    group = bench.add_argument_group(
        "attention kernels",
        "time and peak memory of lesson 07's kernels against length (benchmarks/README.md)",
    )
    group.add_argument(
        "--kernels", action="store_true", help="run the kernel benchmark instead of the dashboards"
    )
    group.add_argument(
        "--lengths",
        type=_length,
        nargs="+",
        metavar="T",
        help="token counts (default 1024 2048 ... 65536)",
    )
    group.add_argument(
        "--method",
        type=_kernel_method,
        action="append",
        dest="kernel_methods",
        metavar="NAME",
        help="only this kernel (repeatable; default all)",
    )


def _check_kernels(parser: argparse.ArgumentParser, args) -> None:
    if getattr(args, "command", None) != "bench":
        return
    if not args.kernels:
        if args.lengths or args.kernel_methods:
            parser.error(f"--{'lengths' if args.lengths else 'method'} needs --kernels")
        return
    if args.classroom is not None:
        parser.error("--kernels and --classroom are two different benchmarks; run one")


def _run_kernels(args) -> int:
    from attnviz.bench_kernels import BENCH_LENGTHS, bench_kernels, format_kernel_table

    def progress(row):  # stderr, so --json's stdout stays one document
        print(format_kernel_table([row]).splitlines()[-1], file=sys.stderr, flush=True)

    try:
        rows = bench_kernels(
            args.lengths or BENCH_LENGTHS, methods=args.kernel_methods, progress=progress
        )
    except KeyboardInterrupt:
        print("attnviz bench --kernels: interrupted", file=sys.stderr)
        return 130
    text = json.dumps(rows, indent=2, ensure_ascii=False)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text if args.json else format_kernel_table(rows))
    return 0


# -- attnviz bench --classroom N (attnviz/classroom.py) ------------------------------------
_CLASSROOM_DEFAULTS = {"classroom_seconds": 60.0, "arrival_seconds": 10.0, "settle_seconds": 60.0}


def _add_classroom_arguments(bench: argparse.ArgumentParser) -> None:
    group = bench.add_argument_group(
        "classroom load test",
        "start attnviz serve and simulate N students on it (benchmarks/README.md)",
    )
    group.add_argument(
        "--classroom", type=_students, metavar="N", help="students, 1 to 200 (runs the test)"
    )
    group.add_argument(
        "--classroom-seconds",
        type=_seconds(0, 3600, low_open=True),
        help="how long each student moves controls once its session is open (default 60)",
    )
    group.add_argument(
        "--arrival-seconds",
        type=_seconds(0, 600),
        help="students arrive at uniformly random times within this window (default 10)",
    )
    group.add_argument(
        "--settle-seconds",
        type=_seconds(0, 600),
        help="wait after the last student leaves before reading memory (default 60)",
    )
    group.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARGS",
        help="passed on to attnviz serve (repeatable), e.g. --serve-arg='--num-procs 2'",
    )
    group.add_argument("--seed", type=int, default=0, help="seeds arrivals and moves (default 0)")


def _check_classroom(parser: argparse.ArgumentParser, args) -> None:
    if getattr(args, "command", None) != "bench":
        return
    given = [name for name in _CLASSROOM_DEFAULTS if getattr(args, name) is not None]
    if args.classroom is None:
        if given or args.serve_arg:
            flag = "--" + (given[0] if given else "serve_arg").replace("_", "-")
            parser.error(f"{flag} needs --classroom N")
        return
    for name, default in _CLASSROOM_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    try:
        args.serve_arg = [part for text in args.serve_arg for part in shlex.split(text)]
    except ValueError as error:
        parser.error(f"--serve-arg: {error}")
    for part in args.serve_arg:
        if part.split("=")[0] in ("--port", "--address"):
            parser.error(f"--serve-arg: the classroom chooses {part.split('=')[0]} itself")


def _run_classroom(args) -> int:
    from attnviz.classroom import format_report, run_classroom

    def stop(signum, frame):  # SIGTERM as Ctrl-C: the server's process group still ends
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        report = run_classroom(
            args.classroom,
            classroom_seconds=args.classroom_seconds,
            arrival_seconds=args.arrival_seconds,
            settle_seconds=args.settle_seconds,
            serve_args=args.serve_arg,
            slugs=args.slugs,
            seed=args.seed,
        )
    except RuntimeError as error:  # the server never came up
        print(f"attnviz bench --classroom: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("attnviz bench --classroom: interrupted; the server was stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    text = json.dumps(report, indent=2)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text if args.json else format_report(report))
    return 0


def _version() -> str:
    from attnviz import __version__

    return f"attnviz {__version__}"


def find_lessons(start: Path | None = None) -> Path | None:
    """The lessons folder: ``start`` if given, else ./lessons, else this checkout's."""
    if start is not None:  # asked for explicitly: that folder or nothing
        return start.resolve() if start.is_dir() else None
    here = Path(__file__).resolve().parent.parent / "lessons"
    for candidate in (Path.cwd() / "lessons", here):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _run_serve(args) -> int:
    from attnviz.processes import default_num_procs
    from attnviz.serve import serve

    try:
        serve(
            num_procs=args.num_procs or default_num_procs(),
            port=args.port,
            address=args.address,
            show=args.show,
            prefix=args.prefix,
            allow_websocket_origin=args.allow_websocket_origin,
            slugs=args.slugs,
        )
    except OSError as error:
        print(
            f"attnviz serve: cannot listen on {args.address}:{args.port}: {error.strerror}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _run_lab(args, extra: list[str]) -> int:
    from attnviz.notebook_frontends import FRONTEND_VARIABLE

    lessons = find_lessons(args.dir)
    if lessons is None:
        where = args.dir or "./lessons"
        print(f"attnviz lab: no lessons folder at {where}; pass --dir PATH", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={lessons}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers (Docker, some classrooms) run as root
    command += extra
    # its kernels are JupyterLab's, even when started from an editor's terminal, whose
    # VSCODE_PID they would inherit (attnviz.notebook_frontends); an explicit choice stays
    env = os.environ.copy()
    env[FRONTEND_VARIABLE] = env.get(FRONTEND_VARIABLE) or "jupyterlab"
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0


def _run_bench(args) -> int:
    if args.classroom is not None:
        return _run_classroom(args)
    if args.kernels:
        return _run_kernels(args)
    from attnviz.bench import bench, format_table
    from attnviz.bench_targets import run_targets

    rows = bench(slugs=args.slugs, n=args.n)
    if not args.skip_targets:
        rows += run_targets(names=args.slugs, n=args.targets_n)
    text = json.dumps(rows, indent=2)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text if args.json else format_table(rows))
    return 0


def _check_memory_budget(parser: argparse.ArgumentParser) -> None:
    """A bad ATTNVIZ_MEMORY_BUDGET is one line and status 2, before anything starts."""
    try:
        import attnviz.memory_budget  # noqa: F401 - reads the variable once, on import
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _check_classroom(parser, args)
    _check_kernels(parser, args)
    _check_memory_budget(parser)
    if args.command == "bench":
        _output_path(parser, args.output)
    if args.command == "serve":
        return _run_serve(args)
    if args.command == "lab":
        return _run_lab(args, extra)
    return _run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
