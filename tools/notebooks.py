"""Run, strip and check the lesson notebooks, so the saved course stays small.

    python tools/notebooks.py execute [--strip] [--timeout S] lessons/*.ipynb
    python tools/notebooks.py strip lessons/*.ipynb
    python tools/notebooks.py check [--max-kb 400] lessons/*.ipynb

execute  runs each notebook top to bottom with nbclient, in its own folder, and
         saves the outputs (nbval compares against them). ``attnviz.notebook()``
         inlines about 6 MB of JavaScript into the first cell's outputs, so
         strip before committing (``--strip`` does both). The kernel runs with
         ATTNVIZ_SNAPSHOTS=1, so every Panel / Bokeh view also gets a PNG picture
         (``attnviz.snapshots``; it needs Chromium); a view left without one
         fails the run and the notebook is not saved.
strip    keeps printed text, markdown, plain-text results and pictures; drops
         inlined JavaScript, HTML and Panel / Bokeh view payloads (the rule is
         ``attnviz.notebook_setup.saved_output``, which the lessons' nbval
         settings share), saved widget state and execution timings.
check    exits 1 if a notebook is larger than --max-kb, still holds a heavy
         payload, widget state or an error, has a code cell never run, or has a
         cell that displays a view (its last line is a ``pn.`` object or a
         dashboard, see ``source_displays_view``) with no picture. It prints each size.

Bad arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

import nbformat

from attnviz.notebook_setup import HEAVY_MIME_TYPES, displays_view, saved_output
from attnviz.snapshots import ENV_VAR

# Pictures made the lessons 15-268 KB (issue #16, measured: 06 is the largest, 225 KB of
# it four pictures; a dashboard's is 40-70 KB). 400 leaves room for the figures that
# lessons 05 and 06 are gaining; the limit still catches a stray megabyte payload.
MAX_KB = 400
CELL_METADATA_DROPPED = ("execution", "widgets")  # timings and widget state change every run
PICTURE = "image/png"


class MissingPicture(RuntimeError):
    """An executed notebook displayed a view that got no picture."""


def views_without_pictures(nb) -> list[str]:
    """'cell N' for each output of an executed notebook that is a live view with no PNG."""
    return [
        f"cell {i}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if displays_view(output) and PICTURE not in output.get("data", {})
    ]


def execute(path: Path, *, timeout: int = 600) -> None:
    """Run a notebook from its own folder, with pictures of its views, and save it.

    Raises ``MissingPicture`` (and saves nothing) if a view got no picture."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
        store_widget_state=False,
    )
    # JupyterLab's path, even when run from VS Code's terminal (attnviz.notebook_frontends)
    client.execute(env={**os.environ, ENV_VAR: "1", "ATTNVIZ_FRONTEND": "jupyterlab"})
    missing = views_without_pictures(nb)
    if missing:
        raise MissingPicture(
            f"{path}: {', '.join(missing)} displayed a Panel / Bokeh view without a PNG "
            "picture (attnviz.snapshots draws one for Panel objects shown after "
            "attnviz.notebook(); show figures through pn.pane.Bokeh)"
        )
    nbformat.write(nb, path)


def source_displays_view(source: str) -> bool:
    """Whether a code cell's value is a Panel view, read from its source: the last
    statement is an expression (no trailing ``;``) that calls ``pn.…`` (a pane or a
    layout) or a class whose name ends in ``Dashboard``. A static reading: nbval's check
    in ``lessons/conftest.py`` is the one that sees every view a lesson really shows."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: not a view
        return False
    if not tree.body or not isinstance(tree.body[-1], ast.Expr) or source.rstrip().endswith(";"):
        return False
    value = tree.body[-1].value
    if not isinstance(value, ast.Call):
        return False
    callee = value.func
    if isinstance(callee, ast.Name):
        return callee.id.endswith("Dashboard")
    while isinstance(callee, ast.Attribute):
        callee = callee.value
    return isinstance(callee, ast.Name) and callee.id in ("pn", "panel")


def strip(nb) -> int:
    """Drop heavy outputs and run-specific metadata in place; return how many outputs went."""
    removed = 0
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for key in CELL_METADATA_DROPPED:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        kept = [saved_output(output) for output in cell.outputs]
        removed += sum(output is None for output in kept)
        cell.outputs = [output for output in kept if output is not None]
    return removed


def problems(path: Path, nb, *, max_kb: int = MAX_KB) -> list[str]:
    """What makes a saved notebook unfit to commit (empty: it is fine)."""
    found = []
    size_kb = path.stat().st_size / 1024
    if size_kb > max_kb:
        found.append(f"{size_kb:.0f} KB, over the {max_kb} KB limit")
    if "widgets" in nb.metadata:
        found.append("saved widget state in the notebook metadata")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.execution_count is None and cell.source.strip():
            found.append(f"cell {i} was never run (nbval needs its outputs)")
        for output in cell.outputs:
            heavy = sorted(set(output.get("data", {})) & set(HEAVY_MIME_TYPES))
            if heavy:
                found.append(f"cell {i} holds {', '.join(heavy)}")
            if output.output_type == "error":
                found.append(f"cell {i} raised {output.get('ename', 'an error')}")
        pictures = [out for out in cell.outputs if PICTURE in out.get("data", {})]
        if source_displays_view(cell.source) and cell.execution_count is not None and not pictures:
            found.append(
                f"cell {i} displays a view but has no picture (execute with "
                "tools/notebooks.py, which draws one)"
            )
    return found


def _size(path: Path, nb) -> str:
    """'123 KB, 45 KB of them 6 pictures': a saved notebook's size and its pictures' share."""
    pictures = [
        out["data"][PICTURE]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if PICTURE in out.get("data", {})
    ]
    kb = sum(len(picture) for picture in pictures) / 1024
    return f"{path.stat().st_size / 1024:.0f} KB, {kb:.0f} KB of them {len(pictures)} pictures"


def _notebook(text: str) -> Path:
    path = Path(text)
    if path.suffix != ".ipynb":
        raise argparse.ArgumentTypeError(f"notebook must be an .ipynb file, got {text!r}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no notebook at {text!r}")
    return path


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notebooks.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="run notebooks and save their outputs")
    run.add_argument("--strip", action="store_true", help="strip after running")
    run.add_argument("--timeout", type=_positive, default=600, help="seconds per cell")
    commands.add_parser("strip", help="drop heavy outputs and run-specific metadata")
    check = commands.add_parser("check", help="fail if a notebook is too big or holds payloads")
    check.add_argument("--max-kb", type=_positive, default=MAX_KB, help="size limit in KB")
    for command in commands.choices.values():
        command.add_argument("notebooks", nargs="+", type=_notebook, metavar="NOTEBOOK")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status = 0
    for path in args.notebooks:
        if args.command == "execute":
            try:
                execute(path, timeout=args.timeout)
            except MissingPicture as error:
                print(error, file=sys.stderr)
                status = 1
                continue
            message = "executed"
            nb = nbformat.read(path, as_version=4)
            if args.strip:
                message += f", stripped {strip(nb)} outputs"
                nbformat.write(nb, path)
            print(f"{path}: {message} ({_size(path, nb)})")
        elif args.command == "strip":
            nb = nbformat.read(path, as_version=4)
            removed = strip(nb)
            nbformat.write(nb, path)
            print(f"{path}: stripped {removed} outputs ({path.stat().st_size / 1024:.0f} KB)")
        else:
            nb = nbformat.read(path, as_version=4)
            found = problems(path, nb, max_kb=args.max_kb)
            status = status or int(bool(found))
            for problem in found:
                print(f"{path}: {problem}")
            if not found:
                print(f"{path}: ok ({_size(path, nb)})")
    return status


if __name__ == "__main__":
    sys.exit(main())
