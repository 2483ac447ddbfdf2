"""Is the numeric path pinned? A short training whose weights are hashed under several instruction-set settings.

PyTorch, MKL, oneDNN, OpenBLAS and NumPy choose their CPU kernels by the instruction set they find, and a
different summation order changes the last bits, which training amplifies. ``tools.lab_environment.NUMERIC_ENV``
pins every one of them to AVX2; this module shows what that changes:

    python -m tools.numeric_path          # one line per setting: the kernels torch chose and the two hashes

The probe trains an LSTM, a GRU and a linear layer (forward and backward, cross-entropy, 40 steps of fused Adam)
and hashes the weights with a torch linear solve and exponential (MKL's LAPACK and vector math) ("torch"), then
hashes a NumPy matrix product, exponential and linear solve ("numpy").
Each setting runs in a fresh interpreter, because the libraries read their variables once, at start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from tools.lab_environment import NUMERIC_ENV, THREAD_ENV


def probe() -> dict[str, str]:
    """Run the short training in this process; the CPU capability torch chose and the two hashes."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(16, 24, batch_first=True, bidirectional=True)  # oneDNN's recurrent kernels
    gru = torch.nn.GRU(48, 16, batch_first=True)  # ATen's kernels around MKL's matrix products
    head = torch.nn.Linear(16, 5)
    params = [*lstm.parameters(), *gru.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2, fused=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 30, 16, generator=g)  # (batch, time, features)
    y = torch.randint(0, 5, (8, 30), generator=g)  # (batch, time) classes
    for _ in range(40):
        optimizer.zero_grad()
        logits = head(gru(lstm(x)[0])[0])  # (batch, time, classes)
        torch.nn.functional.cross_entropy(logits.reshape(-1, 5), y.reshape(-1)).backward()
        optimizer.step()
    a = torch.randn(300, 257, generator=g)
    solved = torch.linalg.solve(a.T @ a + torch.eye(257), a.T[:, :5])  # (257, 5)
    weights = b"".join(t.detach().numpy().tobytes() for t in (*params, solved, a.exp()))

    a = np.random.default_rng(0).standard_normal((300, 200))
    gram = a.T @ a  # OpenBLAS
    arrays = (gram, np.exp(a), np.linalg.solve(gram + np.eye(200), a.T[:, :5]))  # NumPy's own SIMD, LAPACK
    return {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "torch": hashlib.sha256(weights).hexdigest()[:16],
        "numpy": hashlib.sha256(b"".join(v.tobytes() for v in arrays)).hexdigest()[:16],
    }


def probe_under(env: dict[str, str]) -> dict[str, str]:
    """:func:`probe` in a fresh interpreter whose environment is exactly ``env``."""
    code = "import json; from tools.numeric_path import probe; print(json.dumps(probe()))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def base_env() -> dict[str, str]:
    """This process's environment without any of the numeric-path variables, with the thread settings."""
    return {**{k: v for k, v in os.environ.items() if k not in NUMERIC_ENV}, **THREAD_ENV}


def settings() -> dict[str, dict[str, str]]:
    """The settings compared: native, pinned, pinned with ATen at its lowest level, and each variable left out."""
    native = base_env()
    pinned = {**native, **NUMERIC_ENV}
    table = {"native": native, "pinned": pinned, "pinned, ATEN_CPU_CAPABILITY=default": {**pinned,
             "ATEN_CPU_CAPABILITY": "default"}}
    for name in NUMERIC_ENV:
        table[f"pinned without {name}"] = {k: v for k, v in pinned.items() if k != name}
    return table


if __name__ == "__main__":
    for label, env in settings().items():
        result = probe_under(env)
        print(f"{label:<48} {result['capability']:<8} torch {result['torch']}  numpy {result['numpy']}")
