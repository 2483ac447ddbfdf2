"""Keep every notebook's Colab badge and set-up cell in line with ``[tool.lecture_utils]`` in pyproject.toml.

Each notebook starts with a markdown cell (title, then the "Open in Colab" badge line) and the set-up
code cell below, identical in every notebook. ``--check`` (used by the tests) lists notebooks that
disagree; ``--write`` rewrites them. Usage: ``python -m tools.colab_header --check|--write``.
"""

from __future__ import annotations

import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BADGE_MARK = "colab.research.google.com/github/"
SETUP_TEMPLATE = """\
# Set-up, the same in every notebook. In Colab: install the course package (torch stays Colab's own).
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "lecture-utils @ git+https://github.com/{repository}@{release_tag}"
    from google.colab import output

    output.enable_custom_widget_manager()  # ipywidgets 8 (sliders, progress bars) in Colab

from lecture_utils import setup

DEVICE = setup(seed=0)"""


def release() -> dict[str, str]:
    """The repository (``owner/name``) and release tag the badges and install cells point at."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["lecture_utils"]
    return {"repository": config["repository"], "release_tag": config["release_tag"]}


def badge_line(notebook: Path) -> str:
    r = release()
    url = f"https://colab.research.google.com/github/{r['repository']}/blob/{r['release_tag']}/notebooks/{notebook.name}"
    return (f'<a href="{url}" target="_parent">'
            '<img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>')


def setup_source() -> str:
    return SETUP_TEMPLATE.format(**release())


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
    if len(badge) != 1:
        problems.append(f"{path.name}: expected exactly one Colab badge line in the first cell, found {len(badge)}")
    elif lines[badge[0]] != badge_line(path):
        problems.append(f"{path.name}: the Colab badge does not point at {release()}")
        lines[badge[0]] = badge_line(path)
    if nb.cells[1].source != setup_source():
        problems.append(f"{path.name}: the set-up cell differs from tools/colab_header.py's template")
    if fix and problems:
        nb.cells[0].source = "\n".join(lines)
        nb.cells[1].source = setup_source()
        nbformat.write(nb, path)
    return problems


def main(argv: list[str]) -> int:
    if argv not in (["--check"], ["--write"]):
        print("usage: python -m tools.colab_header --check|--write", file=sys.stderr)
        return 2
    problems = [p for nb in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
                for p in header_problems(nb, fix=argv[0] == "--write")]
    print("\n".join(problems) if problems else "every notebook header agrees with pyproject.toml")
    return 1 if problems and argv[0] == "--check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
