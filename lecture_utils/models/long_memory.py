"""A stacked recurrent network with a linear read-out, and the lag sweep of the long-memory notebook.

:class:`StackedRecurrent` is ``num_layers`` separate ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` layers (so
that a residual connection ``h = h + layer(h)`` can go around each one), dropout between layers and a
linear read-out at every step. :func:`train_adding` trains one on the adding problem with a fixed
number of Adam steps; the notebook and ``benchmarks/bench_long_memory.py`` both use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from lecture_utils.checks import expect_tensor
from lecture_utils.data.long_memory import ADDING_CHANCE_MSE, adding_problem
from lecture_utils.models.init import set_forget_gate_bias
from lecture_utils.training import History, fit

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
State = list  # one entry per layer: a tensor (RNN, GRU) or an (h, c) tuple (LSTM), or None


class StackedRecurrent(nn.Module):
    """``x`` ``(batch, time, input_size)`` -> ``(outputs (batch, time, output_size), states)``.

    ``residual=True`` adds each layer's input to its output (``h_l = h_{l-1} + layer_l(h_{l-1})``); it
    needs the input projected to ``hidden_size`` first (``nn.Linear(input_size, hidden_size)``).
    ``project`` says whether that projection is there; by default it is exactly when ``residual`` is.
    ``project=True`` with ``residual=False`` gives the plain stack the same projection, so that a plain
    and a residual stack differ only in the skip connections (the projection alone is a linear path from
    the input to the read-out when ``residual=True``). LSTM forget-gate biases start at 1
    (the lecture's Keras-like initialisation, :func:`lecture_utils.models.init.set_forget_gate_bias`), which
    keeps the cell state from being forgotten at the start.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        *,
        num_layers: int = 1,
        residual: bool = False,
        project: bool | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {cell!r}")
        if min(input_size, hidden_size, output_size, num_layers) < 1:
            sizes = (input_size, hidden_size, output_size, num_layers)
            raise ValueError(f"sizes (input, hidden, output, layers): expected positive ints, got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        project = residual if project is None else project
        if residual and not project:
            raise ValueError("residual=True needs project=True (the skip adds hidden-sized vectors)")
        self.cell, self.input_size, self.residual = cell, input_size, residual
        self.project = nn.Linear(input_size, hidden_size) if project else None
        first = hidden_size if project else input_size
        self.layers = nn.ModuleList(
            CELLS[cell](first if i == 0 else hidden_size, hidden_size, batch_first=True)
            for i in range(num_layers)
        )
        self.drop = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden_size, output_size)
        if cell == "lstm":
            for layer in self.layers:
                set_forget_gate_bias(layer, 1.0)

    def forward(self, x: torch.Tensor, states: State | None = None) -> tuple[torch.Tensor, State]:
        expect_tensor(x, "x", (None, None, self.input_size), f"(batch, time, input_size={self.input_size})")
        states = [None] * len(self.layers) if states is None else states
        if len(states) != len(self.layers):
            raise ValueError(f"states: expected a list of {len(self.layers)} layer states, got {len(states)}")
        h = self.project(x) if self.project is not None else x  # (batch, time, hidden or input)
        new_states = []
        for i, (layer, state) in enumerate(zip(self.layers, states, strict=True)):
            out, state = layer(h if i == 0 else self.drop(h), state)  # (batch, time, hidden)
            h = h + out if self.residual else out
            new_states.append(state)
        return self.readout(self.drop(h)), new_states  # (batch, time, output_size)


@dataclass
class AddingResult:
    """One training run on the adding problem: test MSE, its ratio to chance, steps and CPU seconds."""

    cell: str
    lag: int
    test_mse: float
    steps: int
    seconds: float
    history: History

    @property
    def solved(self) -> bool:
        """Test MSE below 10% of the chance level 1/6 (about 0.017)."""
        return self.test_mse < 0.1 * ADDING_CHANCE_MSE


def train_adding(
    cell: str,
    lag: int,
    *,
    steps: int = 400,
    batch: int = 64,
    hidden_size: int = 32,
    lr: float = 1e-2,
    clip_norm: float | None = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> AddingResult:
    """Train ``StackedRecurrent(cell)`` for ``steps`` Adam steps on fresh adding batches of length ``lag``.

    The loss is the MSE of the read-out at the last step; the test set is 1,000 sequences from another
    seed. ``seconds`` is the CPU time of this process (``time.process_time``), not wall time.
    """
    torch.manual_seed(seed)
    model = StackedRecurrent(cell, 2, hidden_size)
    x, y = adding_problem(steps * batch, lag, seed=seed + 1)  # (steps * batch, lag, 2), (steps * batch,)
    batches = list(zip(x.split(batch), y.split(batch), strict=True))
    x_test, y_test = adding_problem(1000, lag, seed=seed + 10_000)

    def step_loss(b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        out, _ = model(b[0])  # (batch, lag, 1)
        return nn.functional.mse_loss(out[:, -1, 0], b[1])

    start = time.process_time()
    history = fit(step_loss, batches, torch.optim.Adam(model.parameters(), lr=lr, fused=True), clip_norm=clip_norm,
                  desc=f"{cell} T={lag}", progress=progress)
    with torch.no_grad():
        test_mse = nn.functional.mse_loss(model(x_test)[0][:, -1, 0], y_test).item()
    return AddingResult(cell, lag, test_mse, steps, time.process_time() - start, history)
