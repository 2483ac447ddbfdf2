"""Re-execute notebooks in place so that the committed outputs are what the code produces.

Usage: ``python -m tools.execute_notebooks notebooks/01_*.ipynb ...``. Each notebook is first
normalised (its Colab header rewritten from pyproject.toml by ``tools.colab_header``, authoring metadata
such as jupytext's removed, the ``python3`` kernel set), then run top to bottom on a fresh kernel from
the ``notebooks/`` folder, with the thread and numeric-path settings of ``tools.lab_environment.KERNEL_ENV``
(also when it is run without ``make execute``), and written back. Prints the wall time of each.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tools.colab_header import header_problems
from tools.lab_environment import KERNEL_ENV

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (RNN lecture)", "language": "python"}
CELL_TIMEOUT_SECONDS = 1800


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop authoring-tool metadata and set the kernel every notebook uses."""
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("lines_to_next_cell", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def execute(path: Path) -> float:
    """Normalise and execute one notebook in place; return the seconds it took."""
    if path.name[:2].isdigit():
        header_problems(path, fix=True)
    nb = normalize(nbformat.read(path, as_version=4))
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    finally:
        nbformat.write(nb, path)  # keep what ran, so a failure can be read in the notebook
    return time.perf_counter() - start


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python -m tools.execute_notebooks NOTEBOOK.ipynb ...", file=sys.stderr)
        return 2
    os.environ.update(KERNEL_ENV)  # the kernels inherit this process's environment
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
