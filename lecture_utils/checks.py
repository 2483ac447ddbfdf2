"""The friendly check line the notebooks print after each claim, and input validation for the package."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lecture_utils.repro import fast_mode


class CheckFailed(AssertionError):
    """Raised by :func:`check` when a claim made in a notebook does not hold."""


def check(what: str, passed: bool, detail: str = "", *, quality: bool = False) -> None:
    """Print one line saying what was checked and that it passed, or raise :class:`CheckFailed`.

    The page speaks Russian: ``what`` is the claim in Russian, and the line reads ``[верно] <what> (<detail>)``.
    ``quality=True`` marks a claim about how well a model trained; in fast mode such a claim is not
    checked (the data and epochs are too small) and the line says so.
    """
    suffix = f" ({detail})" if detail else ""
    if quality and fast_mode():
        print(f"[пропущено в быстром режиме] {what}{suffix}")
        return
    if not passed:
        raise CheckFailed(f"Проверка не прошла: {what}{suffix}")
    print(f"[верно] {what}{suffix}")


def check_close(what: str, actual: torch.Tensor, expected: torch.Tensor, *, atol: float = 1e-6) -> None:
    """:func:`check` that two tensors agree to ``atol`` (max absolute difference), shapes included."""
    if actual.shape != expected.shape:
        raise CheckFailed(f"Проверка не прошла: {what} (форма {tuple(actual.shape)} != {tuple(expected.shape)})")
    diff = (actual.detach().double() - expected.detach().double()).abs().max().item() if actual.numel() else 0.0
    check(what, diff <= atol, f"макс. |разность| {'<=' if diff <= atol else '>'} {atol:g}")


def expect_tensor(
    x: object,
    name: str,
    shape: Sequence[int | None],
    dims: str,
    *,
    dtype: torch.dtype | Sequence[torch.dtype] | None = None,
) -> torch.Tensor:
    """Validate a public function's tensor argument; raise ``ValueError`` naming the expected shape.

    ``shape`` gives each dimension's size, ``None`` for any size; ``dims`` names them for the message,
    e.g. ``expect_tensor(x, "x", (None, None, 4), "(batch, time, features=4)")``.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of shape {dims}, got {type(x).__name__}")
    if x.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape, strict=False)):
        raise ValueError(f"{name}: expected shape {dims}, got {tuple(x.shape)}")
    if dtype is not None:
        allowed = (dtype,) if isinstance(dtype, torch.dtype) else tuple(dtype)
        if x.dtype not in allowed:
            names = " or ".join(str(d).replace("torch.", "") for d in allowed)
            raise ValueError(f"{name}: expected dtype {names}, got {str(x.dtype).replace('torch.', '')}")
    return x
