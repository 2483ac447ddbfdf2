"""The student tree ``make release`` writes (tools/student_release.py): publishable as is, and the student path
through it works end to end.

- The tree of the course notebooks: every badge resolves to a file of the tree at the student repository
  and tag of ``[tool.lecture_utils]``, every install line names the student repository, and no solution
  marker, hidden-test line or ``build/nbgrader`` path is anywhere in it.
- The student path, as far as this machine allows: a fresh virtual environment that already has what
  Colab has (torch, numpy, matplotlib, ipykernel, ...; here linked from the project's environment) but not
  the course package; the tree served as a local git repository tagged with the student tag (git's
  ``insteadOf`` maps the GitHub URL onto it); the notebooks' own install command run in that
  environment; then each student notebook executed top to bottom in fast mode in a kernel of that
  environment, outside the repository: with the reference answers filled in every cell runs; with the
  blank answers each notebook stops at its first exercise with the "Exercise not solved yet" message.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tools import colab_header, sandbox, student_release
from tools.assignments import reference_notebooks, release
from tools.autograde import is_test, nbgrader_meta

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks"
NOT_SOLVED = "Exercise not solved yet"
# Colab's environment lacks these (the install line adds them): not linked into the fresh environment
NOT_IN_COLAB = re.compile(r"^(__editable__.*lecture_utils.*|lecture_utils.*|_*lecture_utils.*\.pth)$", re.I)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("student")
    release(SOURCE, tmp / "build")
    return tmp / "build" / "release"


@pytest.mark.grading
def test_student_tree_is_publishable(tree: Path) -> None:
    references = list(reference_notebooks(SOURCE).values())
    assert student_release.tree_problems(tree, references) == []
    names = sorted(p.name for p in SOURCE.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.name for p in (tree / "notebooks").glob("*.ipynb")) == names
    r = student_release.student_release()
    readme = (tree / "README.md").read_text(encoding="utf-8")
    for name in names:  # the README's badges: one per notebook, at the student repository and tag
        assert f"github/{r['repository']}/blob/{r['release_tag']}/notebooks/{name}" in readme
    assert not list(tree.rglob("__pycache__")) and not (tree / "build").exists()
    for path in (tree / "notebooks").glob("*.ipynb"):  # each has the set-up cell with the install line
        header = nbformat.read(path, as_version=4).cells[0].source
        assert student_release.VERSION_LINE in header and colab_header.version_line() not in header, path.name
        setup = nbformat.read(path, as_version=4).cells[1].source
        assert f"git+https://github.com/{r['repository']}@{r['release_tag']}" in setup, path.name


@pytest.mark.grading
def test_tree_problems_catch_a_leak(tmp_path: Path) -> None:
    """The check itself: a solution marker, a hidden-test line, a badge to the source repository."""
    release(ROOT / "tests" / "grading" / "source", tmp_path)
    tree = tmp_path / "release"
    references = list(reference_notebooks(ROOT / "tests" / "grading" / "source").values())
    assert student_release.tree_problems(tree, references) == []
    (tree / "notes.md").write_text("### BEGIN SOLUTION\n", encoding="utf-8")
    (tree / "lecture_utils" / "leak.py").write_text(
        'assert_close(square(torch.zeros(2, 3)), torch.zeros(2, 3), "square of zeros (2, 3)")\n', encoding="utf-8")
    nb = nbformat.read(tree / "notebooks" / "01_fixture.ipynb", as_version=4)
    nb.cells[0].source += "\nhttps://colab.research.google.com/github/dl-course-ru/lecture06-rnn/blob/v0.1.0/notebooks/x.ipynb"
    nbformat.write(nb, tree / "notebooks" / "01_fixture.ipynb")
    problems = "\n".join(student_release.tree_problems(tree, references))
    assert "notes.md: contains 'BEGIN SOLUTION'" in problems
    assert "lecture_utils/leak.py: contains the hidden test line" in problems
    assert "a badge points at dl-course-ru/lecture06-rnn@v0.1.0" in problems
    assert "a badge points at notebooks/x.ipynb, not a file of the tree" in problems


# ---------------------------------------------------------------------------- the student path, end to end

def colab_like_environment(target: Path) -> Path:
    """A fresh virtual environment with the project's packages (pip and setuptools among them) but not the
    course package, as Colab has."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(target)], check=True, timeout=300)
    python = target / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    ours = Path(next(p for p in sys.path if p.endswith("site-packages")))
    colab = target / "colab-packages"
    colab.mkdir()
    for entry in ours.iterdir():
        if not NOT_IN_COLAB.match(entry.name) and not (site / entry.name).exists():
            (colab / entry.name).symlink_to(entry)
    (site / "colab_packages.pth").write_text(f"{colab}\n", encoding="utf-8")
    return python


def serve_as_git(tree: Path, repo: Path, gitconfig: Path) -> dict[str, str]:
    """The tree as a local git repository tagged like the student release; the env that maps GitHub to it."""
    r = student_release.student_release()
    shutil.copytree(tree, repo)
    env = dict(os.environ, GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    gitconfig.write_text(f'[url "file://{repo}"]\n\tinsteadOf = https://github.com/{r["repository"]}\n'
                         '[init]\n\tdefaultBranch = main\n', encoding="utf-8")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "student release"],
                    ["tag", r["release_tag"]]):
        subprocess.run(["git", *command], cwd=repo, env=env, check=True, capture_output=True, timeout=120)
    return env


def install_command(notebook: nbformat.NotebookNode) -> list[str]:
    """The notebook's own ``%pip`` arguments, read from its set-up cell."""
    call = re.search(r'run_line_magic\("pip", (.+)\)\n', notebook.cells[1].source)
    assert call, notebook.cells[1].source
    return shlex.split(ast.literal_eval(call.group(1)))


def fill_answers(student: nbformat.NotebookNode, reference: nbformat.NotebookNode) -> nbformat.NotebookNode:
    solutions = {nbgrader_meta(c)["grade_id"]: c.source for c in reference.cells if nbgrader_meta(c).get("solution")}
    for cell in student.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in solutions and nbgrader_meta(cell).get("solution"):
            cell.source = "\n".join(line for line in solutions[grade_id].splitlines()
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return student


async def run_notebook(nb: nbformat.NotebookNode, python: Path, cwd: Path, env: dict[str, str]) -> None:
    specs = sandbox.SandboxSpecs([str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    km = AsyncKernelManager(kernel_name="student", kernel_spec_manager=specs)
    client = NotebookClient(nb, km=km, timeout=300, startup_timeout=120, resources={"metadata": {"path": str(cwd)}})
    await client.async_execute(env=env, cwd=str(cwd))


@pytest.mark.grading
def test_student_path_end_to_end(tree: Path, tmp_path: Path) -> None:
    r = student_release.student_release()
    python = colab_like_environment(tmp_path / "venv")
    env = serve_as_git(tree, tmp_path / "repo", tmp_path / "gitconfig")
    notebooks = sorted((tree / "notebooks").glob("*.ipynb"))
    command = install_command(nbformat.read(notebooks[0], as_version=4))
    assert f"lecture-utils @ git+https://github.com/{r['repository']}@{r['release_tag']}" in command
    pip_env = dict(env, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_BUILD_ISOLATION="0")
    done = subprocess.run([str(python), "-m", "pip", *command], env=pip_env, capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import lecture_utils; print(lecture_utils.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # installed from the student repository

    work = tmp_path / "work"
    work.mkdir()
    kernel_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    kernel_env.update(LECTURE_FAST="1", OMP_NUM_THREADS="1", PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}")
    if sandbox.data_dir() is not None:
        kernel_env["LECTURE_DATA_DIR"] = str(sandbox.data_dir())
    references = reference_notebooks(SOURCE)
    filled, blank = [], []
    for path in notebooks:
        filled.append(fill_answers(nbformat.read(path, as_version=4), references[path.name]))
        blank.append(nbformat.read(path, as_version=4))

    async def both() -> list:
        gate = asyncio.Semaphore(2)

        async def one(nb: nbformat.NotebookNode) -> Exception | None:
            async with gate:
                try:
                    await run_notebook(nb, python, work, kernel_env)
                except CellExecutionError as error:
                    return error
            return None

        return await asyncio.gather(*(one(nb) for nb in [*filled, *blank]))

    outcomes = asyncio.run(both())
    for path, outcome in zip(notebooks, outcomes[:len(notebooks)], strict=True):
        assert outcome is None, (path.name, str(outcome)[-1500:])
    for path, nb, outcome in zip(notebooks, blank, outcomes[len(notebooks):], strict=True):
        assert isinstance(outcome, CellExecutionError), path.name
        failed = next(i for i, c in enumerate(nb.cells) if "raises-exception" not in c.metadata.get("tags", [])
                      and any(o.output_type == "error" for o in c.get("outputs", [])))
        error = next(o for o in nb.cells[failed].outputs if o.output_type == "error")
        first_test = next(i for i, c in enumerate(nb.cells) if is_test(c))
        assert error.ename == "NotImplementedError" and NOT_SOLVED in error.evalue, (path.name, error.ename)
        assert failed <= first_test, (path.name, failed, first_test)
