"""Seeding, determinism, thread count, device choice and the notebooks' fast mode."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

FAST_ENV = "LECTURE_FAST"


def fast_mode() -> bool:
    """True when ``LECTURE_FAST=1``: notebooks shrink data and epochs (used by the grading self-checks).

    Exercises and their tests never change in fast mode; quality checks say they were skipped.
    """
    return os.environ.get(FAST_ENV, "0").strip().lower() in {"1", "true", "yes"}


def seed_everything(seed: int = 0, *, threads: int | None = 1, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) with one call.

    ``threads`` sets torch's intra-op thread count (``None`` leaves it alone). One thread is the
    default: the course's small models run as fast or faster on one thread on a 2-core machine, and
    results then do not depend on how many cores the machine has. ``deterministic`` asks torch for
    deterministic kernels where they exist (a warning, not an error, where they do not).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads: expected a positive int or None, got {threads!r}")
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (the legacy global generator students call np.random.* on)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def pick_device(prefer: str | None = None, *, verbose: bool = True) -> torch.device:
    """Choose CUDA, then Apple's MPS, then the CPU, and say which in one line.

    ``prefer`` forces a device ("cpu", "cuda", "mps"); asking for one that is absent is an error.
    """
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None:
        if prefer not in available:
            raise ValueError(f"prefer: expected one of {sorted(available)} or None, got {prefer!r}")
        if not available[prefer]:
            raise ValueError(f"prefer={prefer!r}: that device is not available on this machine")
        name = prefer
    else:
        name = next(n for n in ("cuda", "mps", "cpu") if available[n])
    device = torch.device(name)
    if verbose:
        detail = torch.cuda.get_device_name(0) if name == "cuda" else f"потоков: {torch.get_num_threads()}"
        print(f"Устройство: {name} ({detail})")
    return device


def setup(seed: int = 0, *, threads: int | None = 1) -> torch.device:
    """What each notebook's first code cell does: seed everything, pick the device, note fast mode.

    It also imports :mod:`lecture_utils.grading`, so that the comparisons the graded test cells use are
    captured before any student code runs (see that module).
    """
    import lecture_utils.grading  # noqa: F401  (imported for its side effect, first)

    seed_everything(seed, threads=threads)
    device = pick_device()
    if fast_mode():
        print(f"Быстрый режим ({FAST_ENV}=1): меньше данных и эпох, проверки качества пропускаются.")
    return device
