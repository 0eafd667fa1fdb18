"""The attnviz package imports without circles (issue #12, deliverable 3).

The graph is read from the source, not from a running interpreter: every
``attnviz/**/*.py`` and ``kernels/*.py`` (which installs as ``attnviz.kernels``:
``attnviz/kernels.py`` points the package's ``__path__`` at that folder) is parsed with
``ast``, and every ``import`` or ``from ... import`` that names an attnviz module, at any
depth (inside functions and ``if TYPE_CHECKING:`` too), is an edge. A module's edges go
to the modules it names, not to the packages above them: Python imports a parent
package first, but that package is loaded (or loading) by then and adds no circle.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Modules whose module-level ``__getattr__`` (PEP 562) re-exports names that moved to
# other modules, so that old imports keep working. Those imports run when a moved name is
# first asked for, after every module involved has loaded, so they cannot form an
# import-time circle; they are left out of the graph for these modules, by name, and
# only inside that function.
LAZY_REEXPORTS = {"attnviz.models"}


def _module_files() -> dict[str, Path]:
    """Module name -> source file, for the whole attnviz package."""
    files = {}
    for path in sorted((REPO / "attnviz").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in sorted((REPO / "kernels").glob("*.py")):
        files[f"attnviz.kernels.{path.stem}"] = path
    return files


def _lazy_reexport_nodes(tree: ast.Module) -> set[int]:
    """The ids of the nodes inside a module-level ``def __getattr__``."""
    getattrs = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
    ]
    assert getattrs, "a module in LAZY_REEXPORTS must define a module-level __getattr__"
    return {id(node) for getattr_ in getattrs for node in ast.walk(getattr_)}


def _imported(node: ast.AST, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The attnviz modules one import statement names."""

    def the_module(name: str) -> str | None:  # the longest attnviz module that name starts with
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in modules:
                return ".".join(parts[:end])
        return None

    if isinstance(node, ast.Import):
        found = [the_module(alias.name) for alias in node.names]
    else:  # ast.ImportFrom: ``from base import name`` may name a submodule or an attribute
        base = node.module or ""
        if node.level:  # relative: from the package that holds this module
            package = module.split(".") if is_package else module.split(".")[:-1]
            anchor = ".".join(package[: len(package) - (node.level - 1)])
            base = f"{anchor}.{base}" if base else anchor
        found = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else the_module(base)
            for alias in node.names
        ]
    return [name for name in found if name is not None]


def import_graph() -> dict[str, set[str]]:
    """attnviz module -> the attnviz modules it imports."""
    files = _module_files()
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _lazy_reexport_nodes(tree) if module in LAZY_REEXPORTS else set()
        is_package = path.name == "__init__.py" or module == "attnviz.kernels"
        graph[module] = {
            imported
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped
            for imported in _imported(node, module, is_package, modules)
        }
    return graph


def adjacency_list(graph: dict[str, set[str]]) -> str:
    """The graph as lines ``module -> imported, ...`` (for the project notes)."""
    return "\n".join(
        f"{module} -> {', '.join(sorted(graph[module])) or '(nothing)'}" for module in sorted(graph)
    )


def test_the_graph_is_read_from_every_module():
    graph = import_graph()
    assert {"attnviz", "attnviz.models", "attnviz.maps", "attnviz.kernels.attention"} <= set(graph)
    # a few edges it must see: plain, from-package, kernels through attnviz.kernels, nested
    assert "attnviz.mixers" in graph["attnviz.models"]
    assert "attnviz.maps.capturing" in graph["attnviz.maps"]
    assert "attnviz.kernels.softmax" in graph["attnviz.kernels.attention"]
    assert "attnviz.notebook_setup" in graph["attnviz"]  # imported inside a function


def test_attnviz_has_no_import_circle():
    graph = import_graph()
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        raise AssertionError(
            "import circle: " + " -> ".join(reversed(cycle)) + "\n\n" + adjacency_list(graph)
        ) from None


def test_the_circles_of_issue_12_stay_cut():
    graph = import_graph()
    # every sequence mixer lives in mixers, which builds them without the model
    assert not {"attnviz.models"} & graph["attnviz.mixers"]
    # the model does not load its training loop, tasks, checkpoints or lesson recipes
    loaders = {"attnviz.training", "attnviz.tasks", "attnviz.checkpoints", "attnviz.lesson_models"}
    assert not loaders & graph["attnviz.models"]
    # AttentionMaps and its readers are a leaf of attnviz.maps
    leaf = graph["attnviz.maps.attention_maps"]
    assert not {name for name in leaf if name.startswith("attnviz.maps")}, leaf


# the layers that may draw: Bokeh figures, Panel dashboards, and what serves or exports them
VIEWS = (
    "attnviz.plots",
    "attnviz.dashboards",
    "attnviz.export",
    "attnviz.serve",
    "attnviz.deep_links",  # what serve does for each session: links, life, /health
    "attnviz.sessions",
    "attnviz.health",
    "attnviz.cli",
    "attnviz.bench",
    "attnviz.classroom",  # the classroom load test speaks Bokeh's protocol to the server
    "attnviz.student",
    "attnviz.moves",
    "attnviz.notebook_setup",
    "attnviz.snapshots",  # pictures of the views a lesson displays, for its saved notebook
    "attnviz.index_page",
)


def _third_party(path: Path) -> set[str]:
    """The top-level names of what a module imports, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_flow_points_one_way():
    """Computation imports neither Panel nor Bokeh; plots import no torch (they never compute)."""
    for module, path in _module_files().items():
        imported = _third_party(path)
        if module.startswith("attnviz.plots"):
            assert "torch" not in imported, module
        if module != "attnviz" and not module.startswith(VIEWS):
            assert not {"panel", "bokeh", "param"} & imported, module


if __name__ == "__main__":  # python tests/test_import_graph.py: the graph, for a reader
    print(adjacency_list(import_graph()))
