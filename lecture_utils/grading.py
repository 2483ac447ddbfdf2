"""Assertions for the notebooks' graded test cells, and the guard the grader runs around them.

The test cells call :func:`assert_close` and :func:`assert_true`. Every function they compute with is
a C built-in captured when this module is first imported (before any student code runs), and tensors
are compared with ``__torch_function__`` overrides disabled, so a solution that later replaces
``torch.allclose``, ``numpy.testing``, ``numpy.asarray`` or ``builtins`` functions, or returns a tensor
subclass that overrides comparisons, does not change what these assertions compute.

:func:`call_without_autograd` runs a function written as a backward pass by hand and fails when it
reached autograd in any form (``torch.autograd``, ``torch.func``, ``.backward()``, the engine itself),
however it got hold of it; what it watches with is captured at import too.

:class:`Guard` is what ``tools/autograde.py`` installs as the first cell of a graded notebook: it
records the comparison helpers, builtins and IPython's execution hooks, and before each test cell
puts back whatever the submission replaced and prints what it restored, so the grader can report it.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Callable

import numpy as np
import numpy.testing
import torch
import torch.testing

_allclose = torch.allclose
_as_tensor = torch.as_tensor
_is_tensor = torch.is_tensor
_asarray = np.asarray
_float64 = torch.float64
_no_overrides = torch._C.DisableTorchFunction
_detach = torch.Tensor.detach
_to = torch.Tensor.to
_numel = torch.Tensor.numel
_item = torch.Tensor.item
_shape = torch.Tensor.shape.__get__
_tuple = builtins.tuple
_type = builtins.type
_str = builtins.str
_float = builtins.float
_np_bool = np.bool_
_getattr = builtins.getattr
_setprofile, _getprofile = sys.setprofile, sys.getprofile
_realpath = os.path.realpath


class GradingError(AssertionError):
    """A graded test found the answer wrong; the message says what was expected."""


def _check_arguments(what: object, atol: object, rtol: object) -> None:
    if _type(what) is not _str or not what:
        raise ValueError(f"what: expected a non-empty str describing the checked value, got {what!r}")
    for name, value in (("atol", atol), ("rtol", rtol)):
        if _type(value) not in (int, _float) or not value >= 0:
            raise ValueError(f"{name}: expected a non-negative number, got {value!r}")


def _as_float64(value: object, what: str) -> torch.Tensor:
    """A plain float64 CPU tensor holding ``value`` (tensor, array or number), overrides disabled."""
    with _no_overrides():
        if _is_tensor(value):
            return _to(_detach(value), device="cpu", dtype=_float64)
        try:
            return _as_tensor(_asarray(value, dtype="float64"))
        except (TypeError, ValueError) as error:
            raise GradingError(f"{what}: expected numbers, got {_type(value).__name__} ({error})") from None


def assert_close(
    actual: object, expected: object, what: str, *, atol: float = 1e-6, rtol: float = 1e-5
) -> None:
    """Fail unless ``actual`` matches ``expected`` (tensor, array or number) in type, shape and value.

    A tensor is expected as a tensor; values agree when ``|actual - expected| <= atol + rtol * |expected|``
    elementwise (NaN never agrees). Raises :class:`GradingError` saying what differs.
    """
    _check_arguments(what, atol, rtol)
    if _is_tensor(expected) and not _is_tensor(actual):
        raise GradingError(f"{what}: expected a torch.Tensor, got {_type(actual).__name__}")
    a, e = _as_float64(actual, what), _as_float64(expected, what)
    with _no_overrides():
        a_shape, e_shape = _tuple(_shape(a)), _tuple(_shape(e))
        if a_shape != e_shape:
            raise GradingError(f"{what}: expected shape {e_shape}, got {a_shape}")
        ok = _allclose(a, e, rtol=rtol, atol=atol)
    if ok is not True:
        raise GradingError(f"{what}: values differ from the expected ones (atol={atol:g}, rtol={rtol:g})")


def assert_true(condition: object, what: str) -> None:
    """Fail with ``what`` unless ``condition`` is exactly ``True``.

    Accepted: the bool ``True``, a NumPy ``True`` or a one-element bool tensor holding ``True``; anything
    else (a non-empty list, a number, a tensor of several elements) is an error, never "truthy".
    """
    _check_arguments(what, 0, 0)
    if _is_tensor(condition):
        with _no_overrides():
            plain = _detach(condition)
            condition = _item(plain) if _numel(plain) == 1 and plain.dtype == torch.bool else None
    if _type(condition) is _np_bool:
        condition = condition.item()
    if condition is not True:
        raise GradingError(what)


# ----------------------------------------------------------------------------------------------------
# A backward pass by hand: the function runs under a profile hook that records every route into autograd.

_TORCH_DIR = _realpath(os.path.dirname(torch.__file__)) + os.sep
# Python code of reverse and forward mode, functional transforms (torch.func) and Tensor.backward's target
_AUTOGRAD_FOLDERS = tuple(_TORCH_DIR + folder + os.sep for folder in ("autograd", "_functorch", "func"))
# no_grad / enable_grad / inference_mode only switch a mode: they compute no gradient
_MODE_SWITCHES = _TORCH_DIR + os.path.join("autograd", "grad_mode.py")
# C functions that differentiate without passing through that Python code: the engine, dual numbers,
# functorch's transform levels
_AUTOGRAD_BUILTINS = frozenset({"run_backward", "_make_dual", "_unpack_dual", "_enter_dual_level",
                                "_exit_dual_level", "_grad_increment_nesting", "_jvp_increment_nesting"})
# C functions that would take the work out of the hook's sight: another profile or trace hook, another
# thread (hooks are per thread), another process
_ESCAPES = frozenset({"setprofile", "settrace", "setprofile_all_threads", "settrace_all_threads",
                      "start_new_thread", "start_joinable_thread", "fork", "forkpty", "fork_exec", "posix_spawn",
                      "posix_spawnp"})


def _autograd_code(filename: str, cache: dict[str, bool]) -> bool:
    """True for a Python source file of torch's autograd or functorch (the mode switches excepted)."""
    found = cache.get(filename)
    if found is None:
        path = _realpath(filename)
        found = cache[filename] = path.startswith(_AUTOGRAD_FOLDERS) and path != _MODE_SWITCHES
    return found


def call_without_autograd(function: Callable[..., object], *args: object, what: str) -> object:
    """``function(*args)``, failing with :class:`GradingError` if the call used autograd in any form.

    Every Python function and C function the call reaches is watched (``sys.setprofile``, this thread):
    code from ``torch/autograd``, ``torch/_functorch`` or ``torch/func`` (``torch.autograd.grad``,
    ``torch.autograd.functional.*``, ``torch.func.vjp``/``grad``/``jacrev``/``jvp``, ``Tensor.backward``),
    the engine's ``run_backward`` and dual numbers called directly, and what would hide the rest (another
    profile or trace hook, a thread, a process). How ``function`` got hold of them does not matter: an
    alias imported before the call is the same code. Returns the result; ``what`` names the function
    in the message.
    """
    _check_arguments(what, 0, 0)
    found: list[str] = []
    cache: dict[str, bool] = {}

    def watch(frame, event, arg):
        code = frame.f_code
        if event == "call" and _autograd_code(code.co_filename, cache):
            where = _realpath(code.co_filename)[len(_TORCH_DIR) :]
            found.append(f"torch/{where}: {_getattr(code, 'co_qualname', code.co_name)}")
        elif event == "c_call" and code is not _this_code:
            name = _getattr(arg, "__name__", "")
            if name in _AUTOGRAD_BUILTINS or name in _ESCAPES:
                found.append(f"{name} (C)")

    previous = _getprofile()
    _setprofile(watch)
    try:
        result = function(*args)
    finally:
        switched_off = _getprofile() is not watch
        _setprofile(previous)
    if switched_off:
        found.append("the watch itself was switched off")
    if found:
        uses = list(dict.fromkeys(found))  # the first is where the call entered autograd
        more = f" and {len(uses) - 2} more" if len(uses) > 2 else ""
        raise GradingError(f"{what}: used autograd or hid its work from the check ({', '.join(uses[:2])}{more}); "
                           "compute the gradients by hand, from the formulas of the forward pass")
    return result


_this_code = call_without_autograd.__code__


# ----------------------------------------------------------------------------------------------------
# The grader's guard (see tools/autograde.py): installed before any notebook code, run before each test.

_PROTECTED_MODULES = ("builtins", "math", "numpy", "numpy.testing", "torch", "torch.testing",
                      "torch.nn.functional", __name__)
_PROTECTED_CLASSES = (torch.Tensor,)
_HELPERS = ("assert_close", "assert_true", "call_without_autograd")
_HOOK_LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
_SHELL_METHODS = ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "showtraceback",
                  "_showtraceback", "showsyntaxerror", "transform_cell")
# IPython's output history, and the input functions ipykernel rebinds for every cell it runs
_IGNORED_BUILTINS = {"_", "__", "___", "input", "raw_input", "getpass"}
# Code from these folders is a library's, not the submission's (cells compile to files in a temp folder).
_LIBRARY_ROOTS = tuple(sorted({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix,
                                                                        os.path.dirname(__file__))}))


def _library_code(value: object) -> bool:
    """True for a Python function (or method) whose code lives in an installed library or in this package."""
    code = getattr(getattr(value, "__func__", value), "__code__", None)
    return code is not None and os.path.realpath(code.co_filename).startswith(_LIBRARY_ROOTS)


def _library_wrapper(new: object, old: object) -> bool:
    """True when a library replaced ``old`` by its own wrapper of it (as ``torch._dynamo`` does)."""
    inner = new
    for _ in range(8):
        inner = getattr(inner, "__wrapped__", None)
        if inner is old:
            return _library_code(new)
        if inner is None:
            return False
    return False


class Guard:
    """Snapshot of what graded tests rely on; :meth:`check` restores it and reports what changed."""

    def __init__(self, shell: object) -> None:
        import math  # noqa: F401  (a protected module: make sure it is loaded before the snapshot)

        self._shell = shell
        self._modules = {name: sys.modules[name] for name in _PROTECTED_MODULES}
        self._module_dicts = {name: dict(vars(module)) for name, module in self._modules.items()}
        self._class_dicts = {cls: dict(vars(cls)) for cls in _PROTECTED_CLASSES}
        self._helpers = {name: self._module_dicts[__name__][name] for name in _HELPERS}
        self._hooks = {name: list(getattr(shell, name)) for name in _HOOK_LISTS}
        self._events = {name: list(callbacks) for name, callbacks in shell.events.callbacks.items()}
        self._custom_exceptions = shell.custom_exceptions
        self._shell_methods = {name: vars(shell).get(name) for name in _SHELL_METHODS}
        self._sys_hooks = {"displayhook": sys.displayhook, "stdout": sys.stdout, "stderr": sys.stderr}
        self._setattr, self._delattr, self._vars = builtins.setattr, builtins.delattr, builtins.vars
        self._print = builtins.print

    def _restore_namespace(self, label: str, target: object, saved: dict[str, object],
                           setter: Callable[[str, object], None]) -> list[str]:
        current = self._vars(target)
        changed = []
        for name, value in saved.items():
            now = current.get(name, saved)
            if now is value or (label == "builtins" and name in _IGNORED_BUILTINS):
                continue
            if now is not saved and _library_wrapper(now, value):
                saved[name] = now  # a library's own wrapper: the new normal
                continue
            setter(name, value)
            changed.append(f"{label}.{name}")
        return changed

    def _restore(self) -> list[str]:
        changed = []
        for name, module in self._modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
            changed += self._restore_namespace(name, module, self._module_dicts[name],
                                               lambda k, v, m=module: self._vars(m).__setitem__(k, v))
        for cls, saved in self._class_dicts.items():
            changed += self._restore_namespace(cls.__name__, cls, saved,
                                               lambda k, v, c=cls: self._setattr(c, k, v))
        user_ns = self._shell.user_ns
        for name, helper in self._helpers.items():
            if name in user_ns and user_ns[name] is not helper:
                user_ns[name] = helper
                changed.append(name)
        for name, saved_list in self._hooks.items():
            hooks = getattr(self._shell, name)
            if hooks != saved_list:
                hooks[:] = saved_list
                changed.append(f"IPython {name}")
        for name, callbacks in self._shell.events.callbacks.items():
            # libraries register and unregister callbacks (matplotlib's inline backend): only added
            # callbacks defined by the submission are removed
            added = [cb for cb in callbacks if cb not in self._events.get(name, []) and not _library_code(cb)]
            if added:
                callbacks[:] = [cb for cb in callbacks if cb not in added]
                changed.append(f"IPython event {name}")
        if self._shell.custom_exceptions != self._custom_exceptions:
            self._shell.set_custom_exc((), None)
            changed.append("IPython custom exception handler")
        for name, saved in self._shell_methods.items():
            if self._vars(self._shell).get(name) is not saved:
                if saved is None:
                    self._delattr(self._shell, name)
                else:
                    self._setattr(self._shell, name, saved)
                changed.append(f"IPython shell.{name}")
        for name, value in self._sys_hooks.items():
            if getattr(sys, name) is not value:
                self._setattr(sys, name, value)
                changed.append(f"sys.{name}")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            sys.settrace(None)
            sys.setprofile(None)
            changed.append("sys.settrace/setprofile")
        return changed

    def check(self, nonce: str) -> None:
        """Restore everything the snapshot holds and print one line the grader reads back."""
        changed = self._restore()
        self._print(f"[grading guard {nonce}] " + ("restored: " + ", ".join(changed) if changed else "ok"))


def install_guard() -> Guard:
    """The guard for the running IPython kernel (the grader's first cell calls this)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("install_guard: expected to run inside an IPython kernel")
    return Guard(shell)
