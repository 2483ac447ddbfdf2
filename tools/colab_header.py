"""Keep every notebook's Colab badge and set-up cell in line with ``[tool.lecture_utils]`` in pyproject.toml.

Each notebook starts with a markdown cell (title, then the "Open in Colab" badge line) and the set-up
code cell below, identical in every notebook. ``--check`` (used by the tests) lists notebooks that
disagree; ``--write`` rewrites them. Usage: ``python -m tools.colab_header --check|--write``.

The set-up cell installs, only inside Colab (through the ``pip`` magic), the course package from the
repository at the release tag with ``--no-deps``, plus the few runtime dependencies Colab does not
ship (``COLAB_INSTALLS``, with the floors of pyproject.toml). Everything else (``COLAB_SHIPS``: torch
above all) stays Colab's own, so pip never downloads or replaces torch. Outside Colab the cell only
seeds and picks the device.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BADGE_MARK = "colab.research.google.com/github/"
# Runtime dependencies (pyproject's [project.dependencies]) that Colab already has: never installed there.
COLAB_SHIPS = ("torch", "numpy", "matplotlib", "tqdm", "ipywidgets")
# Runtime dependencies Colab lacks: installed by the set-up cell, each with its pyproject floor.
COLAB_INSTALLS = ("conllu",)
SETUP_TEMPLATE = """\
# Set-up, the same in every notebook. In Colab: install the course package and what Colab lacks;
# --no-deps keeps Colab's own {ships} untouched.
import sys

if "google.colab" in sys.modules:
    from google.colab import output
    from IPython import get_ipython

    # `%pip install ...`, written as a call so that it survives jupytext round trips
    get_ipython().run_line_magic("pip", {pip_args!r})
    output.enable_custom_widget_manager()  # sliders and progress bars as widgets

from lecture_utils import setup

DEVICE = setup(seed=0)"""


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def release() -> dict[str, str]:
    """The repository (``owner/name``) and release tag the badges and install cells point at."""
    config = _pyproject()["tool"]["lecture_utils"]
    return {"repository": config["repository"], "release_tag": config["release_tag"]}


def requirements(*, dev: bool = False) -> dict[str, Requirement]:
    """pyproject's ``[project.dependencies]`` (plus the ``dev`` extra) by canonical name."""
    project = _pyproject()["project"]
    specs = project["dependencies"] + (project["optional-dependencies"]["dev"] if dev else [])
    reqs = [Requirement(spec) for spec in specs]
    return {canonicalize_name(r.name): r for r in reqs if r.marker is None}


def colab_installs() -> list[str]:
    """The requirement strings the Colab set-up cell installs besides the course package.

    Each runtime dependency must be in ``COLAB_SHIPS`` or ``COLAB_INSTALLS``; the floors come from
    pyproject.toml (a name in ``COLAB_INSTALLS`` may also be from the ``dev`` extra, for a peer library
    a notebook imports).
    """
    unknown = sorted(set(requirements()) - set(COLAB_SHIPS) - set(COLAB_INSTALLS))
    if unknown:
        raise ValueError(f"pyproject dependencies {unknown}: add each to COLAB_SHIPS or COLAB_INSTALLS "
                         "in tools/colab_header.py (does Colab have it?)")
    everything = requirements(dev=True)
    return [str(everything[canonicalize_name(name)]) for name in COLAB_INSTALLS]


def badge_line(notebook: Path) -> str:
    """The "Open in Colab" badge of one notebook, pointing at the release tag."""
    r = release()
    url = (f"https://colab.research.google.com/github/{r['repository']}/blob/{r['release_tag']}"
           f"/notebooks/{notebook.name}")
    return (f'<a href="{url}" target="_parent">'
            '<img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>')


def version_line() -> str:
    """The line under the badge that says this is the version with solutions, and where students work."""
    config = _pyproject()["tool"]["lecture_utils"]
    return ("*Версия с решениями* (instructor version): для преподавателя и самостоятельной работы. "
            f"Задания сдают в студенческой версии: `{config['student_repository']}`, "
            f"тег `{config['student_release_tag']}` (`make release`).")


def pip_arguments() -> str:
    """What the set-up cell passes to the ``pip`` magic in Colab (``%pip <this>``)."""
    r = release()
    package = f"lecture-utils @ git+https://github.com/{r['repository']}@{r['release_tag']}"
    quoted = [f'"{spec}"' for spec in [package, *colab_installs()]]
    return " ".join(["install --quiet --no-deps", *quoted])


def setup_source() -> str:
    """The source of every notebook's set-up cell (cell 1)."""
    return SETUP_TEMPLATE.format(ships=", ".join(COLAB_SHIPS), pip_args=pip_arguments())


def header_problems(path: Path, *, fix: bool = False) -> list[str]:
    """What is wrong with one notebook's header (empty when it agrees); ``fix=True`` rewrites it."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    if len(nb.cells) < 2 or nb.cells[0].cell_type != "markdown" or nb.cells[1].cell_type != "code":
        return [f"{path.name}: must start with a markdown title cell and the set-up code cell"]
    lines = nb.cells[0].source.splitlines()
    badge = [i for i, line in enumerate(lines) if BADGE_MARK in line]
    if not lines or not lines[0].startswith("# "):
        problems.append(f"{path.name}: the first cell must start with a '# ' title")
    if not badge:
        problems.append(f"{path.name}: the first cell has no Colab badge line")
        lines.insert(1, badge_line(path))
    elif len(badge) > 1:
        problems.append(f"{path.name}: expected one Colab badge line in the first cell, found {len(badge)}")
    elif lines[badge[0]] != badge_line(path):
        problems.append(f"{path.name}: the Colab badge does not point at {release()}")
        lines[badge[0]] = badge_line(path)
    if version_line() not in lines:
        problems.append(f"{path.name}: the first cell does not say which version it is (version_line)")
        old = [i for i, line in enumerate(lines) if line.startswith("*Версия с решениями*")]
        for i in reversed(old):
            del lines[i - 1 if i > 0 and not lines[i - 1].strip() else i : i + 1]
        at = next(i for i, line in enumerate(lines) if BADGE_MARK in line)
        lines[at + 1 : at + 1] = ["", version_line()]
    if nb.cells[1].source != setup_source():
        problems.append(f"{path.name}: the set-up cell differs from tools/colab_header.py's template")
    if fix and problems:
        nb.cells[0].source = "\n".join(lines)
        nb.cells[1].source = setup_source()
        nbformat.write(nb, path)
    return problems


def notebooks() -> list[Path]:
    """The course notebooks, in order."""
    return sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def main(argv: list[str]) -> int:
    if argv not in (["--check"], ["--write"]):
        print("usage: python -m tools.colab_header --check|--write", file=sys.stderr)
        return 2
    problems = [p for nb in notebooks() for p in header_problems(nb, fix=argv[0] == "--write")]
    print("\n".join(problems) if problems else "every notebook header agrees with pyproject.toml")
    return 1 if problems and argv[0] == "--check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
