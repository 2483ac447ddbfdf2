"""Every notebook's header (title, Colab badge, set-up cell) and kernel agree with pyproject.toml.

The set-up cell is run here twice, with a stand-in IPython shell: once as on a laptop (it installs
nothing) and once with a stand-in ``google.colab`` module (it installs the course package and only what
Colab lacks, never torch).
"""

from __future__ import annotations

import ast
import shlex
import sys
import types
from pathlib import Path

import nbformat
import pytest
import torch
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
from tools import colab_header
from tools.execute_notebooks import KERNELSPEC

NOTEBOOKS = colab_header.notebooks()
# Import names a notebook or the package may use in Colab besides the standard library, the course
# package and pyproject's runtime dependencies: what Colab ships anyway.
COLAB_PREINSTALLED = {"IPython", "ipykernel", "scipy", "pandas", "google", "PIL"}
IMPORT_NAMES = {"pillow": "PIL"}


def write_notebook(path: Path, first: str, setup: str) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(first), nbformat.v4.new_code_cell(setup),
               nbformat.v4.new_code_cell("print(DEVICE)")]
    )
    nbformat.write(nb, path)
    return path


def run_setup_cell(monkeypatch, *, in_colab: bool) -> tuple[dict, list[tuple[str, str]], list[str]]:
    """Run the set-up cell as IPython would; return its namespace, the magics it ran, Colab calls."""
    magics: list[tuple[str, str]] = []
    colab_calls: list[str] = []
    shell = types.SimpleNamespace(run_line_magic=lambda name, line: magics.append((name, line)))
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    if in_colab:
        output = types.ModuleType("google.colab.output")
        output.enable_custom_widget_manager = lambda: colab_calls.append("enable_custom_widget_manager")
        colab = types.ModuleType("google.colab")
        colab.output = output
        monkeypatch.setitem(sys.modules, "google.colab", colab)
        monkeypatch.setitem(sys.modules, "google.colab.output", output)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(colab_header.setup_source())
    namespace: dict = {}
    exec(compile(code, "<set-up cell>", "exec"), namespace)
    return namespace, magics, colab_calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_header_agrees_with_pyproject(path):
    assert colab_header.header_problems(path) == [], "run: python -m tools.colab_header --write"


def test_check_command_reports_agreement(capsys):
    assert colab_header.main(["--check"]) == 0, capsys.readouterr().out
    assert colab_header.main(["--bogus"]) == 2


def test_badge_points_at_the_release_tag_of_the_repository():
    r = colab_header.release()
    line = colab_header.badge_line(Path("notebooks/05_echo_state_networks.ipynb"))
    expected = (f"https://colab.research.google.com/github/{r['repository']}/blob/{r['release_tag']}"
                "/notebooks/05_echo_state_networks.ipynb")
    assert f'href="{expected}"' in line and "colab-badge.svg" in line


def test_check_finds_a_stale_header_and_write_fixes_it(tmp_path):
    stale = write_notebook(
        tmp_path / "07_demo.ipynb",
        "# 07. Demo\n" + colab_header.badge_line(Path("07_demo.ipynb")).replace(
            colab_header.release()["release_tag"], "v0.0.1") + "\nMore text.",
        colab_header.setup_source().replace("seed=0", "seed=1"),
    )
    problems = colab_header.header_problems(stale)
    assert len(problems) == 3 and "badge" in problems[0] and "which version" in problems[1]
    assert "set-up cell" in problems[2]
    assert colab_header.header_problems(stale, fix=True) == problems
    assert colab_header.header_problems(stale) == []
    nb = nbformat.read(stale, as_version=4)
    assert nb.cells[0].source.splitlines() == [
        "# 07. Demo", colab_header.badge_line(Path("07_demo.ipynb")), "", colab_header.version_line(), "More text."
    ]
    assert nb.cells[2].source == "print(DEVICE)"


def test_write_adds_a_missing_badge_and_check_rejects_a_missing_title(tmp_path):
    bare = write_notebook(tmp_path / "08_bare.ipynb", "# 08. Bare", colab_header.setup_source())
    problems = colab_header.header_problems(bare, fix=True)
    assert problems == [f"{bare.name}: the first cell has no Colab badge line",
                        f"{bare.name}: the first cell does not say which version it is (version_line)"]
    assert nbformat.read(bare, as_version=4).cells[0].source.splitlines()[1:] == [
        colab_header.badge_line(bare), "", colab_header.version_line()]
    untitled = write_notebook(tmp_path / "09_untitled.ipynb", "Demo\n" + colab_header.badge_line(bare),
                              colab_header.setup_source())
    assert any("title" in p for p in colab_header.header_problems(untitled))


def test_setup_cell_is_plain_python_that_survives_jupytext():
    source = colab_header.setup_source()
    assert TransformerManager().transform_cell(source) == source + "\n", "no %magic lines: jupytext comments them"
    ast.parse(source)


def test_outside_colab_the_setup_cell_installs_nothing(monkeypatch, capsys):
    namespace, magics, colab_calls = run_setup_cell(monkeypatch, in_colab=False)
    assert magics == [] and colab_calls == []
    assert namespace["DEVICE"] == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert capsys.readouterr().out.startswith("Устройство: ")


def test_in_colab_the_setup_cell_installs_the_package_and_never_torch(monkeypatch):
    namespace, magics, colab_calls = run_setup_cell(monkeypatch, in_colab=True)
    assert colab_calls == ["enable_custom_widget_manager"]
    assert [name for name, _ in magics] == ["pip"]
    args = shlex.split(magics[0][1])
    assert args[:3] == ["install", "--quiet", "--no-deps"], "pip must leave Colab's own packages alone"
    assert not {"-U", "--upgrade", "--force-reinstall", "-r", "-c"} & set(args)
    installed = {canonicalize_name(Requirement(spec).name): Requirement(spec) for spec in args[3:]}
    assert "torch" not in installed, "the Colab set-up cell must never install torch"
    assert not set(installed) & set(colab_header.COLAB_SHIPS)
    r = colab_header.release()
    assert str(installed["lecture-utils"].url) == f"git+https://github.com/{r['repository']}@{r['release_tag']}"
    assert set(installed) == {"lecture-utils", *map(canonicalize_name, colab_header.COLAB_INSTALLS)}
    assert isinstance(namespace["DEVICE"], torch.device)


def test_every_runtime_dependency_is_either_shipped_by_colab_or_installed():
    runtime = set(colab_header.requirements())
    ships, installs = set(colab_header.COLAB_SHIPS), set(map(canonicalize_name, colab_header.COLAB_INSTALLS))
    assert not ships & installs
    assert runtime <= ships | installs
    assert ships <= runtime, "COLAB_SHIPS names a package the project does not depend on"
    for spec in colab_header.colab_installs():
        assert Requirement(spec).specifier, f"{spec}: keep pyproject's floor in the Colab install"


def imported_modules(source: str) -> set[str]:
    tree = ast.parse(TransformerManager().transform_cell(source))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def available_in_colab() -> set[str]:
    deps = set(colab_header.COLAB_SHIPS) | set(colab_header.COLAB_INSTALLS)
    return ({IMPORT_NAMES.get(d, d.replace("-", "_")) for d in deps} | set(sys.stdlib_module_names)
            | COLAB_PREINSTALLED | {"lecture_utils"})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_only_what_colab_has_after_the_setup_cell(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    missing = set().union(*(imported_modules(c.source) for c in cells)) - available_in_colab()
    assert not missing, (f"{path.name} imports {sorted(missing)}, which Colab lacks: add to COLAB_INSTALLS "
                         "in tools/colab_header.py (and pyproject.toml) or drop the import")


def test_the_package_imports_only_what_colab_has():
    missing = {}
    for module in sorted((ROOT / "lecture_utils").rglob("*.py")):
        extra = imported_modules(module.read_text(encoding="utf-8")) - available_in_colab()
        if extra:
            missing[str(module.relative_to(ROOT))] = sorted(extra)
    assert not missing, f"package modules import what Colab lacks: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_selects_the_course_kernel(path):
    kernelspec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
    assert kernelspec == KERNELSPEC, f"{path.name}: re-run make execute (it sets the course kernel)"


def test_the_venv_kernel_is_the_course_kernel_and_runs_the_venv_python():
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNELSPEC["name"])
    except NoSuchKernel:
        pytest.fail("no 'python3' kernel: run make venv (it installs the course kernel into .venv)")
    assert spec.display_name == KERNELSPEC["display_name"], "run make venv (ipykernel install --sys-prefix)"
    assert Path(spec.argv[0]).parent == Path(sys.executable).parent, f"the kernel runs {spec.argv[0]}"
