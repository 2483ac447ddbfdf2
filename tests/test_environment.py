"""pyproject.toml (floors), constraints.txt (exact pins) and environment.yml (conda) stay consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def project_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    return {canonicalize_name(r.name): r for r in reqs if r.marker is None}


def constraint_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(name)] = version
    return pins


def conda_pip_pins() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    return {canonicalize_name(m[1]): m[2] for m in re.finditer(r"^\s+- ([A-Za-z0-9_.-]+)==(\S+)$", text, re.M)}


def test_pyproject_keeps_floors_only():
    for name, req in project_requirements().items():
        assert not any(s.operator in {"==", "==="} for s in req.specifier), f"{name}: pyproject keeps floors, not pins"


def test_constraints_pin_every_dependency_and_satisfy_the_floors():
    pins = constraint_pins()
    for name, req in project_requirements().items():
        assert name in pins, f"{name} is in pyproject.toml but not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} violates {req}"


def test_torch_pin_is_the_cpu_build_release():
    assert constraint_pins()["torch"] == "2.13.0"


def test_environment_yml_lists_the_same_packages_at_the_same_pins():
    conda, pins = conda_pip_pins(), constraint_pins()
    assert set(conda) == set(project_requirements()), "environment.yml and pyproject.toml list different packages"
    mismatched = {n: (v, pins[n]) for n, v in conda.items() if pins[n] != v}
    assert not mismatched, f"environment.yml pins differ from constraints.txt: {mismatched}"


@pytest.mark.parametrize("name", ["numpy", "torch", "nbval", "jupyterlab"])
def test_the_project_venv_has_the_pinned_versions(name):
    import sys
    from importlib.metadata import version

    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in the project's .venv (make venv installs the pins there)")
    assert version(name).split("+")[0] == constraint_pins()[name]


def test_the_thread_and_numeric_path_settings_are_the_same_for_tests_lab_and_conda():
    from tools.lab_environment import KERNEL_ENV

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    run_env = dict(re.findall(r"(\w+)=(\S+)", re.search(r"^RUN_ENV := (.*)$", makefile, re.M)[1]))
    run_env.pop("PATH")
    assert run_env == KERNEL_ENV, "Makefile RUN_ENV and tools/lab_environment.KERNEL_ENV differ"
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    block = re.search(r"^variables:\n((?:  .*\n)+)", text, re.M)
    assert block, "environment.yml has no `variables:` block with the thread and numeric-path settings"
    conda = {k: v.strip('"') for k, v in re.findall(r"^  (\w+): (\S+)$", block[1], re.M)}
    assert conda == KERNEL_ENV, "environment.yml variables and KERNEL_ENV differ"


def test_the_course_kernel_carries_the_thread_settings(tmp_path):
    import json

    from tools.lab_environment import KERNEL_ENV, set_kernel_env

    spec = tmp_path / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": ["python"], "env": {"KEEP": "me"}}), encoding="utf-8")
    set_kernel_env(tmp_path)
    assert json.loads(spec.read_text(encoding="utf-8"))["env"] == {"KEEP": "me", **KERNEL_ENV}
    installed = ROOT / ".venv" / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    if installed.is_file():  # make venv has run: the registered kernel has them too
        assert json.loads(installed.read_text(encoding="utf-8")).get("env", {}).items() >= KERNEL_ENV.items()
