"""The lesson manifest (attnviz.lessons) is the one list of lessons: every layer of a lesson
carries its stem, and the tables, the registries and the served index agree with it."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from attnviz import exercises
from attnviz.dashboards import entries, lesson_dashboard
from attnviz.dashboards.base import Dashboard
from attnviz.lessons import LESSONS, lesson, markdown_table

REPO = Path(__file__).resolve().parents[1]
BY_NUMBER = pytest.mark.parametrize("entry", LESSONS, ids=lambda entry: entry.number)
# modules of the dashboards and exercises packages that are not a lesson's
SHARED = {"__init__", "base", "registry", "threads", "lazy_tabs", "core"}


def _markdown(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")


def test_numbers_and_stems_are_unique_and_in_course_order():
    numbers = [entry.number for entry in LESSONS]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert len({entry.stem for entry in LESSONS}) == len(LESSONS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", entry.stem) for entry in LESSONS)
    assert lesson("dsf") is lesson("06")
    with pytest.raises(ValueError, match="no lesson 'nope'; the lessons are: 00 start_here"):
        lesson("nope")
    with pytest.raises(TypeError, match="key must be a lesson's stem or number"):
        lesson(6)


@BY_NUMBER
def test_every_layer_of_a_lesson_carries_its_stem(entry):
    notebook = REPO / "lessons" / entry.notebook
    assert notebook.is_file() and entry.notebook.startswith(f"{entry.number}_")
    assert (REPO / "attnviz" / "exercises" / f"{entry.stem}.py").is_file()
    assert (REPO / "tests" / f"test_{entry.stem}_exercises.py").is_file()
    ids = [exercise.id for exercise in exercises.exercises(entry.number)]
    assert ids and all(i.startswith(f"{entry.number}-") for i in ids)
    for module in entry.computation:
        importlib.import_module(f"attnviz.{module}")
    if entry.dashboard is None:
        return
    cls = lesson_dashboard(entry)
    assert issubclass(cls, Dashboard) and cls.stem == entry.stem
    assert cls.__module__ == f"attnviz.dashboards.{entry.stem}"
    assert cls.__name__ == entry.dashboard and entry.dashboard.endswith("Dashboard")
    assert (REPO / "tests" / f"test_{entry.stem}_dashboard.py").is_file()
    assert (REPO / "tests" / "browser" / f"test_served_{entry.stem}.py").is_file()
    shown = re.compile(rf"^{entry.dashboard}\(", re.MULTILINE)
    sources = [
        "".join(cell["source"])
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        if cell["cell_type"] == "code"
    ]
    assert any(shown.search(source) for source in sources), f"{entry.notebook} never shows it"


def test_no_module_outside_the_manifest():
    stems = {entry.stem for entry in LESSONS}
    for package in ("dashboards", "exercises"):
        found = {path.stem for path in (REPO / "attnviz" / package).glob("*.py")} - SHARED
        assert found <= stems, f"attnviz/{package}: modules named for no lesson: {found - stems}"
    with_dashboards = {entry.stem for entry in LESSONS if entry.dashboard}
    dashboards = {path.stem for path in (REPO / "attnviz" / "dashboards").glob("*.py")} - SHARED
    assert dashboards == with_dashboards
    notebooks = {path.name for path in (REPO / "lessons").glob("*.ipynb")}
    assert notebooks == {entry.notebook for entry in LESSONS}


def test_the_served_index_lists_the_manifests_dashboards():
    served = [(e.slug, e.title, e.description, e.factory) for e in entries()]
    expected = [
        (entry.stem, entry.index_title, entry.summary, lesson_dashboard(entry))
        for entry in LESSONS
        if entry.dashboard
    ]
    assert served[: len(expected)] == expected


def test_the_readme_and_lesson_00_tables_are_the_manifests():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table(links=True, dashboards=True, colab=True) in readme
    assert markdown_table() in _markdown(REPO / "lessons" / "00_start_here.ipynb")


def test_a_lesson_in_progress_says_so_in_the_tables():
    rows = markdown_table().splitlines()[2:]
    for entry, row in zip(LESSONS, rows, strict=True):
        assert row.startswith(f"| {entry.number} | {entry.title}")
        assert ("*(in progress)*" in row) == (entry.status == "in progress")


def test_markdown_table_and_lesson_refuse_what_they_cannot_read():
    with pytest.raises(TypeError, match="links"):
        markdown_table(links=None)
    with pytest.raises(TypeError, match="colab"):
        markdown_table(colab="yes")
    with pytest.raises(TypeError, match="key"):
        lesson(6)
