"""What `make venv` writes into the virtual environment for JupyterLab.

- The course kernel (``python3``, "Python 3 (RNN lecture)") gets the same thread and numeric-path settings as
  the tests (``KERNEL_ENV``): a notebook opened through ``make lab`` runs exactly as ``make test`` runs it.
- Settings overrides: no news or update pop-ups.

Usage: ``python -m tools.lab_environment VENV`` (after ``ipykernel install --sys-prefix --name python3``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# One torch/BLAS thread, and idle OpenMP threads that sleep instead of spinning (README, "Speed and determinism").
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
# The numeric path pinned to AVX2, which every current x86-64 CPU has, so that a CPU with AVX-512 computes the
# same bits as one without (README, "Speed and determinism"; `python -m tools.numeric_path` shows each one's effect):
# ATen's kernels (log_softmax, GRU cells and other pointwise and reduction loops), MKL's code path (matrix products,
# linear solves, vector math), oneDNN's (the LSTM, convolutions), OpenBLAS's (NumPy's and SciPy's matrix products)
# and NumPy's own SIMD loops (exp, log...). Each is read once, when its library starts.
NUMERIC_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL,AVX512_SPR",
}
# The Makefile's RUN_ENV and environment.yml's `variables` carry the same; a test keeps them equal.
KERNEL_ENV = {**THREAD_ENV, **NUMERIC_ENV}
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def write_overrides(venv: Path) -> Path:
    """Create ``<venv>/share/jupyter/lab/settings/overrides.json`` and return its path."""
    path = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OVERRIDES, indent=2) + "\n", encoding="utf-8")
    return path


def set_kernel_env(venv: Path, kernel: str = "python3") -> Path:
    """Add ``KERNEL_ENV`` to the ``env`` of the kernel spec ``<venv>/share/jupyter/kernels/<kernel>``."""
    path = venv / "share" / "jupyter" / "kernels" / kernel / "kernel.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: install the kernel first (ipykernel install --sys-prefix --name {kernel})")
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec["env"] = {**spec.get("env", {}), **KERNEL_ENV}
    path.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tools.lab_environment VENV")
    set_kernel_env(Path(sys.argv[1]))
    write_overrides(Path(sys.argv[1]))
