"""Assertions for the notebooks' graded test cells, safe from a solution that monkeypatches.

The comparison functions are captured when this module is first imported (in each notebook's set-up
cell, before any student code runs), so a solution that later replaces ``torch.allclose``,
``numpy.testing`` or ``builtins`` functions does not change what these assertions compute.
"""

from __future__ import annotations

import builtins
import math

import numpy as np
import torch

_allclose = torch.allclose
_is_tensor = torch.is_tensor
_np_allclose = np.allclose
_asarray = np.asarray
_isinstance = builtins.isinstance
_len = builtins.len
_tuple = builtins.tuple
_isfinite = math.isfinite


class GradingError(AssertionError):
    """A graded test found the answer wrong; the message says what was expected."""


def assert_close(actual: object, expected: object, what: str, *, atol: float = 1e-6, rtol: float = 1e-5) -> None:
    """Fail unless ``actual`` matches ``expected`` (tensor, array or number) in shape and value."""
    if _is_tensor(expected):
        if not _is_tensor(actual):
            raise GradingError(f"{what}: expected a torch.Tensor, got {type(actual).__name__}")
        if _tuple(actual.shape) != _tuple(expected.shape):
            raise GradingError(f"{what}: expected shape {_tuple(expected.shape)}, got {_tuple(actual.shape)}")
        ok = _allclose(actual.detach().double().cpu(), expected.detach().double().cpu(), rtol=rtol, atol=atol)
    else:
        a, e = _asarray(actual, dtype=float), _asarray(expected, dtype=float)
        if a.shape != e.shape:
            raise GradingError(f"{what}: expected shape {e.shape}, got {a.shape}")
        ok = bool(_np_allclose(a, e, rtol=rtol, atol=atol))
    if ok is not True:
        raise GradingError(f"{what}: values differ from the expected ones (atol={atol:g}, rtol={rtol:g})")


def assert_true(condition: object, what: str) -> None:
    """Fail with ``what`` unless ``condition`` is exactly ``True`` (a bool or a one-element bool tensor)."""
    if _is_tensor(condition):
        condition = bool(condition.item()) if condition.numel() == 1 else None
    if condition is not True and not (_isinstance(condition, np.bool_) and bool(condition)):
        raise GradingError(what)
