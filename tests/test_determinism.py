"""The same outputs on every x86-64 machine: the numeric path that `make test` gives the notebooks is pinned.

PyTorch (ATen), MKL, oneDNN, OpenBLAS and NumPy pick their kernels by the CPU's instruction set, and training
amplifies the last bits (a 40-step training ends with other weights). ``tools.lab_environment.NUMERIC_ENV``
pins each of them to AVX2; ``tools.numeric_path`` hashes a short training under several settings.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import pytest

from tools.lab_environment import KERNEL_ENV, NUMERIC_ENV
from tools.numeric_path import base_env, probe_under

ROOT = Path(__file__).resolve().parents[1]
X86 = platform.machine().lower() in {"x86_64", "amd64"}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    found = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    return set(found[1].split()) if found else set()


def test_make_test_gives_the_notebooks_the_pinned_path():
    """nbval starts each notebook's kernel with this process's environment: it must carry every setting."""
    missing = {k: v for k, v in KERNEL_ENV.items() if os.environ.get(k) != v}
    assert not missing, f"not pinned in this environment (run the tests through `make test`): {missing}"


@pytest.mark.skipif(not X86, reason="the pinned instruction set is x86-64's AVX2")
def test_pinned_training_repeats_and_a_lower_level_changes_it():
    pinned = {**base_env(), **NUMERIC_ENV}
    first, again = probe_under(pinned), probe_under(pinned)
    assert first["capability"] == "AVX2"
    assert first == again, "the pinned training is not repeatable on one machine"
    lower = probe_under({**pinned, "ATEN_CPU_CAPABILITY": "default"})
    assert lower["capability"] == "DEFAULT"
    # another instruction set gives other weights: the comparison of notebooks' outputs can fail without the pin
    assert lower["torch"] != first["torch"]


@pytest.mark.skipif("avx512f" not in cpu_flags(), reason="the CPU has no more than AVX2: native is the pinned level")
def test_on_a_cpu_with_avx512_native_and_pinned_differ():
    native, pinned = probe_under(base_env()), probe_under({**base_env(), **NUMERIC_ENV})
    assert native["capability"] != "AVX2"
    assert native["torch"] != pinned["torch"]


SOURCES = [*ROOT.glob("lecture_utils/**/*.py"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("notebooks/*.ipynb")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_adam_is_fused(path):
    """Unfused Adam takes its square root from MKL's vector math, whose last bit differs between CPUs even with
    the pinned path; the fused kernel computes it exactly (README, "Speed and determinism")."""
    text = path.read_text(encoding="utf-8").replace('\\"', '"').replace("\\n", "\n")
    for call in re.finditer(r"optim\.Adam\(((?:[^()]|\([^()]*\))*)\)", text):
        assert "fused=True" in call[1], f"{path.name}: Adam without fused=True: {call[0][:80]!r}"
