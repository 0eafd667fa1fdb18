"""The built wheel: what it installs, what it declares, and what it must never install.

The wheel is built once per test session from a copy of the checkout (so a stale
``build/`` folder cannot leak old files into it, and the checkout stays clean),
with ``python -m build --wheel`` when available, else ``pip wheel --no-deps``.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
BUILD_TIMEOUT = 300  # seconds; an isolated build fetches setuptools from the index
# What the source tree holds that is not package content.
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


def _source_files() -> list[Path]:
    """Files of the checkout that git tracks or would track (not ignored ones)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        files = [REPO / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):  # not a git checkout: every file
        files = [path for path in REPO.rglob("*") if path.is_file() and ".git" not in path.parts]
    return [
        path
        for path in files
        if path.is_file()
        and not SKIP_PARTS.intersection(path.relative_to(REPO).parts)
        and path.suffix not in SKIP_SUFFIXES
    ]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for path in _source_files():
        target = source / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    outdir = tmp_path_factory.mktemp("wheel")
    try:
        import build  # noqa: F401

        command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(source)]
    except ImportError:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(outdir)]
        command.append(str(source))
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    assert result.returncode == 0, f"wheel build failed:\n{result.stdout}\n{result.stderr}"
    wheels = list(outdir.glob("attnviz-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="session")
def names(wheel) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.fixture(scope="session")
def dist_info(names) -> str:
    (folder,) = {name.split("/")[0] for name in names if ".dist-info/" in name}
    return folder


def _read(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name).decode("utf-8")


def test_no_top_level_kernels_module(wheel, names, dist_info):
    # `kernels` is a package that transformers imports; we must never shadow it.
    offending = [name for name in names if name.split("/")[0] in ("kernels", "kernels.py")]
    assert offending == []
    top = {name.split("/")[0] for name in names}
    assert top == {"attnviz", dist_info}, f"unexpected top-level entries: {top}"
    assert not [name for name in names if name.endswith(".pth")], "a .pth file alters sys.path"
    assert _read(wheel, f"{dist_info}/top_level.txt").split() == ["attnviz"]


def test_kernels_install_as_attnviz_kernels(names):
    assert "attnviz/kernels/softmax.py" in names
    # the package is attnviz/kernels.py, which points its __path__ at the folder;
    # kernels/ has no __init__.py, in the checkout or the wheel (kernels/README.md)
    assert "attnviz/kernels.py" in names
    assert "attnviz/kernels/__init__.py" not in names


def _wheel_path(source: Path) -> str | None:
    """Where a file of the checkout lands in the wheel, per pyproject's package-dir."""
    relative = PurePosixPath(source.relative_to(REPO).as_posix())
    package_dir = PYPROJECT["tool"]["setuptools"].get("package-dir", {})
    # the longest source folder that contains the file wins
    for package, folder in sorted(package_dir.items(), key=lambda item: -len(item[1])):
        folder = PurePosixPath(folder)
        if relative.is_relative_to(folder):
            return str(PurePosixPath(*package.split(".")) / relative.relative_to(folder))
    return None


def test_every_package_file_is_in_the_wheel(names):
    """Each module, sub-package and data file of attnviz/ and kernels/ ships.

    A new sub-package missing from ``[tool.setuptools] packages``, or a template
    or asset outside ``package-data``, would work in the checkout and break for
    everyone who installs the wheel.
    """
    missing = []
    for path in _source_files():
        target = _wheel_path(path)
        if target is not None and target not in names:
            missing.append(f"{path.relative_to(REPO)} -> {target}")
    assert missing == [], "files of the package that the wheel leaves out:\n" + "\n".join(missing)


def test_declared_package_data_ships(names):
    """Every file matching a package-data pattern is in the wheel (none may be dropped)."""
    package_data = PYPROJECT["tool"]["setuptools"].get("package-data", {})
    package_dir = PYPROJECT["tool"]["setuptools"].get("package-dir", {})
    for package, patterns in package_data.items():
        folder = REPO / package_dir.get(package, package.replace(".", "/"))
        for pattern in patterns:
            for path in folder.glob(pattern):
                if path.is_file():
                    target = f"{package.replace('.', '/')}/{path.relative_to(folder).as_posix()}"
                    assert target in names, f"{pattern!r} matches {path}; {target} is not shipped"


def test_entry_points(wheel, names, dist_info):
    text = _read(wheel, f"{dist_info}/entry_points.txt")
    sections: dict[str, dict[str, str]] = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = sections.setdefault(line.strip("[]"), {})
        elif "=" in line and section is not None:
            name, value = (part.strip() for part in line.split("=", 1))
            section[name] = value
    assert sections["console_scripts"]["attnviz"] == "attnviz.cli:main"
    proxy = sections["jupyter_serverproxy_servers"]["attnviz"]
    assert proxy == "attnviz.binder_proxy:setup_attnviz"
    module, function = proxy.split(":")
    assert f"{module.replace('.', '/')}.py" in names
    assert function == "setup_attnviz"


def _metadata(wheel, dist_info):
    return email.message_from_string(_read(wheel, f"{dist_info}/METADATA"))


def test_torch_requirement_is_a_floor_any_build_satisfies(wheel, dist_info):
    """A floor only: the CPU build a user installed first (or a newer one) satisfies it.

    An exact pin, a cap or a local label such as ``+cu121`` would make pip replace
    the user's CPU torch with a multi-GB CUDA download.
    """
    requires = [Requirement(text) for text in _metadata(wheel, dist_info).get_all("Requires-Dist")]
    (torch,) = [req for req in requires if req.name == "torch" and not req.marker]
    assert torch.url is None
    specifiers = list(torch.specifier)
    assert specifiers, "torch must have a floor (the oldest release the code is tested with)"
    for spec in specifiers:
        assert spec.operator in (">=", ">"), f"torch{spec} is not a floor"
        assert "+" not in spec.version, f"torch{spec} names a local build"
    for build in ("2.13.0+cpu", "2.13.0", "2.13.0+cu128", "3.0.0"):
        assert torch.specifier.contains(build, prereleases=True), build


def _all_requirements():
    project = PYPROJECT["project"]
    yield from project.get("dependencies", [])
    for extra in project.get("optional-dependencies", {}).values():
        yield from extra


@pytest.mark.parametrize("text", sorted(set(_all_requirements())))
def test_dependency_ranges_are_floors_not_caps(text):
    """Users may have newer releases: no dependency is capped or pinned."""
    requirement = Requirement(text)
    for spec in requirement.specifier:
        assert spec.operator in (">=", ">", "!="), (
            f"{text!r}: '{spec}' caps or pins {requirement.name}; use a floor (>=) only"
        )


def test_metadata_matches_pyproject(wheel, dist_info):
    metadata = _metadata(wheel, dist_info)
    assert metadata["Name"] == "attnviz"
    assert metadata["Requires-Python"] == PYPROJECT["project"]["requires-python"]
    shipped = {str(Requirement(text)) for text in metadata.get_all("Requires-Dist")}
    for text in PYPROJECT["project"]["dependencies"]:
        assert str(Requirement(text)) in shipped
    for text in shipped:
        for spec in Requirement(text).specifier:
            assert spec.operator in (">=", ">", "!="), f"Requires-Dist {text!r} caps or pins"
