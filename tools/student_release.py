"""The student tree that ``make release`` writes to ``build/release/``: publish it as the student repository.

A graded course publishes two repositories: this one (the source: solutions, hidden tests, for instructors
and self-study) and a student one, named with its tag in ``[tool.lecture_utils]`` of pyproject.toml
(``student_repository``, ``student_release_tag``). The tree holds, by construction, nothing private:

- ``notebooks/NN_*.ipynb``: nbgrader's student versions (solutions replaced by a stub, hidden tests and
  outputs removed), whose Colab badge and Colab install line point at the student repository at its tag,
  with a line saying which version they are;
- ``lecture_utils/``: the package (sources only), and a ``pyproject.toml`` so that the notebooks' install
  line (``pip install "lecture-utils @ git+https://github.com/<student repository>@<tag>"``) works;
- ``README.md``: a short student README in Russian (open in Colab or JupyterLab, what to hand in, how it
  is graded).

``tree_problems(tree)`` lists what would make the tree unpublishable (a badge pointing elsewhere or at a
missing file, an install line naming another repository, a solution or hidden-test marker, a reference
to ``build/nbgrader``); tests/test_student_release.py checks it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat

from tools import colab_header

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = "notebooks"
BADGE_URL = re.compile(r"https://colab\.research\.google\.com/github/([^/\s\"\\]+/[^/\s\"\\]+)/blob/([^/\s\"\\]+)/"
                       r"([^\s\"\\]+)")
INSTALL_URL = re.compile(r"git\+https://github\.com/([^@\s\"']+)@([^\s\"']+?)[\"']")
PRIVATE_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "build/nbgrader")
PIP_MAGIC = 'run_line_magic("pip"'
VERSION_LINE = ("*Версия для студентов* (student version): решения и скрытые тесты убраны; "
                "ответы впишите в ячейки с `NotImplementedError`.")


def student_release() -> dict[str, str]:
    """The student repository (``owner/name``) and its tag, from ``[tool.lecture_utils]``."""
    config = colab_header._pyproject()["tool"]["lecture_utils"]
    return {"repository": config["student_repository"], "release_tag": config["student_release_tag"]}


def badge_line(path_in_tree: str) -> str:
    """The "Open in Colab" badge of a file of the student tree, at the student repository's tag."""
    r = student_release()
    url = f"https://colab.research.google.com/github/{r['repository']}/blob/{r['release_tag']}/{path_in_tree}"
    return (f'<a href="{url}" target="_parent">'
            '<img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>')


def pip_arguments() -> str:
    """What the student notebooks' set-up cell passes to ``%pip`` in Colab: the student repository."""
    r = student_release()
    package = f"lecture-utils @ git+https://github.com/{r['repository']}@{r['release_tag']}"
    return " ".join(["install --quiet --no-deps", *(f'"{s}"' for s in [package, *colab_header.colab_installs()])])


def setup_source() -> str:
    """The student notebooks' set-up cell: the source notebooks' template, with the student install line."""
    return colab_header.SETUP_TEMPLATE.format(ships=", ".join(colab_header.COLAB_SHIPS), pip_args=pip_arguments())


def student_notebook(path: Path, name: str) -> nbformat.NotebookNode:
    """An nbgrader student version with its header pointing at the student repository."""
    nb = nbformat.read(path, as_version=4)
    lines = [line for line in nb.cells[0].source.splitlines() if line != colab_header.version_line()]
    badge = [i for i, line in enumerate(lines) if colab_header.BADGE_MARK in line]
    new = [badge_line(f"{NOTEBOOKS}/{name}"), "", VERSION_LINE]
    if badge:
        lines[badge[0]:badge[0] + 1] = new
    else:
        lines[1:1] = new
    nb.cells[0].source = "\n".join(lines)
    if len(nb.cells) > 1 and PIP_MAGIC in nb.cells[1].source:  # the Colab set-up cell (not in the fixtures)
        nb.cells[1].source = setup_source()
    return nb


def student_pyproject() -> str:
    """A pyproject.toml that installs the package from the student repository (no tools, no extras)."""
    project = colab_header._pyproject()["project"]
    deps = "".join(f"    {json.dumps(d)},\n" for d in project["dependencies"])
    return (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = {json.dumps(project["name"])}\nversion = {json.dumps(project["version"])}\n'
        f'description = {json.dumps(project["description"])}\nreadme = "README.md"\n'
        f'requires-python = {json.dumps(project["requires-python"])}\n'
        f'license = {{ text = {json.dumps(project["license"]["text"])} }}\ndependencies = [\n{deps}]\n\n'
        '[tool.setuptools.packages.find]\ninclude = ["lecture_utils*"]\n'
    )


def student_readme(names: list[str]) -> str:
    """The student README (Russian): where to open the notebooks, what to hand in, how it is graded."""
    r = student_release()
    rows = "\n".join(f"| `{name}` | {badge_line(f'{NOTEBOOKS}/{name}')} |" for name in names)
    return f"""# Лекция 6 «RNN-сети»: тетради с заданиями

Версия для студентов ({r['repository']}, тег `{r['release_tag']}`): в тетрадях нет решений, упражнения
ждут ваших ответов.

## Как открыть
**В Colab** — нажмите на значок тетради. Первая ячейка кода сама установит пакет курса `lecture_utils`
из этого репозитория (torch в Colab уже есть и не переустанавливается). GPU не обязателен.

| тетрадь | Colab |
|---|---|
{rows}

**В JupyterLab на своём компьютере** (Python 3.10+):
```
git clone https://github.com/{r['repository']} && cd {r['repository'].split('/')[1]} && git checkout {r['release_tag']}
python -m venv .venv && . .venv/bin/activate
pip install torch --index-url https://download.pytorch.org/whl/cpu   # или ваш torch с CUDA
pip install -e . jupyterlab
jupyter lab notebooks
```

## Что делать и что сдавать
- Каждое упражнение — ячейка с `raise NotImplementedError("Exercise not solved yet: ...")`: замените эту
  строку своим кодом. Ячейка сразу после неё — тесты (видимые); запустите её, чтобы проверить себя.
- Не меняйте и не удаляйте ячейки с тестами и не переименовывайте тетради.
- Сдайте файлы `NN_*.ipynb` с вашими ответами (как сказано в курсе: одна папка или архив с вашим именем).

## Как проверяется
- Автоматически (nbgrader): тетрадь выполняется сверху вниз в быстром режиме (`LECTURE_FAST=1`: меньше
  данных и эпох; упражнения и тесты те же), в изолированном ядре без сети.
- Каждая ячейка тестов даёт свои баллы целиком или ноль. Кроме видимых проверок в ней есть скрытые —
  решение должно быть верным, а не подогнанным под видимые примеры.
- Ячейка, которая работает дольше 10 минут, прерывается; остальные упражнения проверяются дальше.
- Изменённая ячейка тестов заменяется исходной; удалённая даёт ноль.
- Вы получите ту же тетрадь, выполненную, с таблицей баллов и сообщением об ошибке каждого
  непрошедшего теста.
"""


def write_tree(released: list[Path], target: Path) -> list[Path]:
    """Write the student tree to ``target`` (emptied first) from nbgrader's student versions; return its
    notebooks."""
    shutil.rmtree(target, ignore_errors=True)
    (target / NOTEBOOKS).mkdir(parents=True)
    written = []
    for path in released:
        out = target / NOTEBOOKS / path.name
        nbformat.write(student_notebook(path, path.name), out)
        written.append(out)
    shutil.copytree(ROOT / "lecture_utils", target / "lecture_utils",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    (target / "pyproject.toml").write_text(student_pyproject(), encoding="utf-8")
    (target / "README.md").write_text(student_readme([p.name for p in released]), encoding="utf-8")
    return written


def hidden_test_lines(references: list[nbformat.NotebookNode], min_chars: int = 12) -> set[str]:
    """The lines of the reference notebooks' hidden tests that appear nowhere else: not outside the hidden
    regions of the notebooks, not in the package (``with torch.no_grad():`` is no secret)."""
    hidden, visible = set(), set()
    for nb in references:
        for cell in nb.cells:
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line:
                    inside = False
                else:
                    (hidden if inside else visible).add(line.strip())
    for path in (ROOT / "lecture_utils").rglob("*.py"):
        visible.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in hidden - visible if len(line) >= min_chars}


def tree_problems(tree: Path, references: list[nbformat.NotebookNode]) -> list[str]:
    """Why ``tree`` could not be published as the student repository (empty when it can)."""
    r = student_release()
    problems = []
    secrets = hidden_test_lines(references)
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    for path in files:
        rel = path.relative_to(tree).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        problems += [f"{rel}: contains {m!r}" for m in PRIVATE_MARKERS if m in text]
        if path.suffix == ".ipynb":
            lines = {ln.strip() for c in nbformat.reads(text, as_version=4).cells for ln in c.source.splitlines()}
        else:
            lines = {ln.strip() for ln in text.splitlines()}
        problems += [f"{rel}: contains the hidden test line {s!r}" for s in sorted(secrets & lines)]
        for repository, tag, target in BADGE_URL.findall(text):
            if (repository, tag) != (r["repository"], r["release_tag"]):
                problems.append(f"{rel}: a badge points at {repository}@{tag}, "
                                f"not {r['repository']}@{r['release_tag']}")
            if not (tree / target).is_file():
                problems.append(f"{rel}: a badge points at {target}, not a file of the tree")
    notebooks = sorted((tree / NOTEBOOKS).glob("*.ipynb"))
    if not notebooks:
        problems.append(f"{NOTEBOOKS}/: no notebooks")
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if not BADGE_URL.search(nb.cells[0].source):
            problems.append(f"{path.name}: no Colab badge")
        installs = [found for c in nb.cells for found in INSTALL_URL.findall(c.source)]
        if any(PIP_MAGIC in c.source for c in nb.cells) and installs != [(r["repository"], r["release_tag"])]:
            problems.append(f"{path.name}: the install line names {installs}, not {r['repository']}@{r['release_tag']}")
    for needed in ("README.md", "pyproject.toml", "lecture_utils/__init__.py"):
        if not (tree / needed).is_file():
            problems.append(f"{needed}: missing")
    return problems
