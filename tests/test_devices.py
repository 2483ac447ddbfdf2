"""Every tensor the package creates next to a model's tensors is created on their device.

A CPU-only machine cannot run CUDA, so this test reads the package's source instead: each call of a
torch tensor factory (``torch.ones``, ``torch.arange``, ...) must pass ``device=`` or sit in a function
listed in ``CPU_BY_DESIGN`` with the reason why a CPU tensor is right there. ``torch.ones(n)`` next to
a model on ``cuda`` (professor forcing's discriminator labels, once) fails only on a GPU; here it fails
this test. ``*_like`` factories and ``new_*`` methods inherit the device and are always fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lecture_utils"
FACTORIES = {"ones", "zeros", "full", "empty", "rand", "randn", "randint", "randperm", "arange", "tensor", "eye",
             "linspace", "as_tensor"}
DATA = "builds data on the CPU; callers move batches to the model's device"
CPU_BY_DESIGN = {
    "cells.__init__": "nn.Parameter storage, moved by Module.to()",
    "data/long_memory.adding_problem": DATA,
    "data/long_memory.delayed_recall": DATA,
    "data/numerals.make_batch": DATA,
    "data/ventilator.simulate_breaths": DATA,
    "data/ventilator.split_breaths": DATA,
    "data/ventilator.subset": DATA,
    "second_order.hessian_extreme_eigenvalues": "the Lanczos basis is kept on the CPU in float64; each vector is moved "
    "to the graph's device for its product",
    "models/esn._signs": "the echo-state network runs on the CPU in float64 by design",
    "models/esn.__init__": "the echo-state network runs on the CPU in float64 by design",
    "models/esn._unscaled_reservoir": "the echo-state network runs on the CPU in float64 by design",
    "models/esn.reset": "the echo-state network runs on the CPU in float64 by design",
    "models/esn.run": "the echo-state network runs on the CPU in float64 by design",
    "models/esn.generate": "the echo-state network runs on the CPU in float64 by design",
    "models/esn.free_run_errors": "the echo-state network runs on the CPU in float64 by design",
    "models/regressor.__init__": "registered buffers, moved by Module.to()",
    "models/regressor.train_regressor": "batch indices drawn by a CPU generator, the batches are moved to the device",
    "models/seq2seq.evaluate": "CPU accumulators; every addition is .cpu()'d first",
    "data/vocab.encode": DATA,
    "data/tagging.batch": DATA,
    "data/tagging.length_batches": "batch composition drawn by a CPU generator (plain indices)",
    "models/tagger.confusion_counts": "counts over Python lists of tags",
}


def factory_calls_without_device(source: str, module: str) -> dict[str, list[int]]:
    """``{"module.function": [line, ...]}`` for the tensor factories called without ``device=``."""
    found: dict[str, list[int]] = {}
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FACTORIES
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"
                    and not any(k.arg == "device" for k in node.keywords)):
                found.setdefault(f"{module}.{function.name}", []).append(node.lineno)
    return found


def package_calls() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix()
        for name, lines in factory_calls_without_device(path.read_text(encoding="utf-8"), module).items():
            found.setdefault(name, []).extend(lines)
    return found


def test_every_tensor_factory_names_its_device_or_is_cpu_by_design():
    unexplained = {name: lines for name, lines in package_calls().items() if name not in CPU_BY_DESIGN}
    assert not unexplained, (
        f"tensor factories without device= (pass device=<input>.device, use *_like, or list the function in "
        f"CPU_BY_DESIGN with the reason): {unexplained}"
    )


def test_the_cpu_by_design_list_has_no_stale_entries():
    stale = sorted(set(CPU_BY_DESIGN) - set(package_calls()))
    assert not stale, f"CPU_BY_DESIGN names functions that no longer create CPU tensors: {stale}"


def test_the_scan_catches_the_professor_forcing_label_bug():
    buggy = "def professor_forcing_loss(batch):\n    real, fake = torch.ones(len(batch)), torch.zeros(len(batch))\n"
    assert factory_calls_without_device(buggy, "models/seq2seq") == {"models/seq2seq.professor_forcing_loss": [2, 2]}
    fixed = ("def professor_forcing_loss(batch, lengths):\n"
             "    real = torch.ones(len(batch), device=lengths.device)\n    fake = torch.zeros_like(real)\n")
    assert factory_calls_without_device(fixed, "models/seq2seq") == {}
