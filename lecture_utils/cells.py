"""RNN, LSTM and GRU cells written from scratch, with PyTorch's parameter layout.

Each cell keeps ``weight_ih``, ``weight_hh``, ``bias_ih`` and ``bias_hh`` with the same shapes and gate
order as ``nn.RNNCell`` / ``nn.LSTMCell`` (i, f, g, o) / ``nn.GRUCell`` (r, z, n), so
``cell.load_state_dict(torch_cell.state_dict())`` gives both the same weights. As in the lecture, the RNN
and LSTM cells concatenate the input with the previous state and multiply by one matrix ``[W_ih | W_hh]``;
the GRU keeps the two products apart, because its reset gate scales only the state's part.

Shapes: ``x`` is ``(batch, input_size)``, states are ``(batch, hidden_size)``; :func:`unroll` takes
``(batch, time, input_size)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lecture_utils.checks import expect_tensor

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class _ScratchCell(nn.Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if not all(isinstance(n, int) and n >= 1 for n in (input_size, hidden_size)):
            raise ValueError(
                f"input_size and hidden_size: expected positive ints, got {input_size}, {hidden_size}"
            )
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = _GATES[self.kind] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(rows))
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) for every tensor
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _state(self, x: torch.Tensor, h: torch.Tensor | None, name: str = "h") -> torch.Tensor:
        """Validate ``x`` and a state (zeros when ``None``); return the state."""
        expect_tensor(x, "x", (None, self.input_size), f"(batch, input_size={self.input_size})")
        if h is None:
            return self.zero_state(x.shape[0])
        dims = f"(batch={x.shape[0]}, hidden_size={self.hidden_size})"
        return expect_tensor(h, name, (x.shape[0], self.hidden_size), dims)

    def zero_state(self, batch: int) -> torch.Tensor:
        """A ``(batch, hidden_size)`` state of zeros, the usual initial state."""
        return self.weight_hh.new_zeros(batch, self.hidden_size)


class ScratchRNNCell(_ScratchCell):
    """``h' = tanh([W_ih | W_hh] @ [x; h] + b_ih + b_hh)``: the lecture's RNN module."""

    kind = "rnn"

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._state(x, h)
        xh = torch.cat([x, h], dim=1)  # (batch, input + hidden)
        w = torch.cat([self.weight_ih, self.weight_hh], dim=1)  # (hidden, input + hidden)
        return torch.tanh(xh @ w.T + self.bias_ih + self.bias_hh)


class ScratchLSTMCell(_ScratchCell):
    """LSTM with the forget, input, cell-update and output gates; :meth:`step` also returns the gates."""

    kind = "lstm"

    def step(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]:
        """One time step: ``((h', c'), gates)`` with gates ``i, f, g, o`` each ``(batch, hidden)``."""
        if state is not None and not (isinstance(state, tuple) and len(state) == 2):
            raise ValueError("state: expected a tuple (h, c) of (batch, hidden_size) tensors or None")
        h, c = (None, None) if state is None else state
        h, c = self._state(x, h, "h"), self._state(x, c, "c")
        xh = torch.cat([x, h], dim=1)
        w = torch.cat([self.weight_ih, self.weight_hh], dim=1)
        z_i, z_f, z_g, z_o = (xh @ w.T + self.bias_ih + self.bias_hh).chunk(4, dim=1)
        gates = {
            "i": torch.sigmoid(z_i),  # input gate: how much of the new content to write
            "f": torch.sigmoid(z_f),  # forget gate: how much of the old cell state to keep
            "g": torch.tanh(z_g),  # cell update: the candidate content
            "o": torch.sigmoid(z_o),  # output gate: how much of the cell state to show as h
        }
        c_next = gates["f"] * c + gates["i"] * gates["g"]  # keep part of the old memory, add new content
        h_next = gates["o"] * torch.tanh(c_next)
        return (h_next, c_next), gates

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.step(x, state)[0]


class ScratchGRUCell(_ScratchCell):
    """GRU: reset and update gates, one state vector (no separate cell state, no output gate)."""

    kind = "gru"

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._state(x, h)
        gx = x @ self.weight_ih.T + self.bias_ih  # (batch, 3 * hidden): r, z, n parts from the input
        gh = h @ self.weight_hh.T + self.bias_hh  # the same from the state
        x_r, x_z, x_n = gx.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)  # the reset gate scales the state's contribution
        return (1 - z) * n + z * h


State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def unroll(cell: nn.Module, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
    """Run ``cell`` over ``x`` of shape ``(batch, time, input)``; return ``(outputs, final_state)``.

    ``outputs`` is ``(batch, time, hidden)``: the hidden state after each step. This is the unrolled
    graph of the lecture; autograd differentiates through every step (backpropagation through time).
    ``cell`` is a scratch cell or ``nn.RNNCell`` / ``nn.LSTMCell`` / ``nn.GRUCell``; ``state`` is the
    initial state (``h``, or ``(h, c)`` for an LSTM), zeros when ``None``.
    """
    size = getattr(cell, "input_size", None)
    expect_tensor(x, "x", (None, None, size), f"(batch, time, input_size={size})")
    if x.shape[1] == 0:
        raise ValueError(f"x: expected (batch, time >= 1, input_size), got {tuple(x.shape)}")
    outputs = []
    for x_t in x.unbind(1):  # unbind is much faster in backward than x[:, t] indexing
        state = cell(x_t, state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(outputs, dim=1), state


def gradient_norms_by_lag(cell: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """How strongly the last output depends on each earlier input: a ``(time,)`` tensor indexed by lag.

    Element ``k`` is ``||d sum(h_T) / d x_{T-1-k}||`` (the gradient of the last hidden state, summed
    over its units, with respect to the input ``k`` steps before the end), averaged over the batch.
    ``x`` is ``(batch, time, input_size)``; ``cell`` is any cell :func:`unroll` accepts. A vanilla RNN's
    values fall geometrically with the lag: the forgetting (vanishing-gradient) problem.
    """
    x = x.detach().clone().requires_grad_(True)
    outputs, _ = unroll(cell, x)  # (batch, time, hidden)
    (grad,) = torch.autograd.grad(outputs[:, -1].sum(), x)  # (batch, time, input)
    return grad.norm(dim=2).mean(dim=0).flip(0)  # (time,), lag 0 first


def lstm_gate_trace(cell: ScratchLSTMCell, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run an LSTM cell over ``x`` ``(batch, time, input_size)`` and record what happens at each step.

    Returns a dict with the gates ``i``, ``f``, ``g``, ``o`` and the states ``c``, ``h`` (after the
    step), each ``(batch, time, hidden)``, computed without gradients.
    """
    if not isinstance(cell, ScratchLSTMCell):
        raise ValueError(f"cell: expected a ScratchLSTMCell, got {type(cell).__name__}")
    expect_tensor(x, "x", (None, None, cell.input_size), f"(batch, time, input_size={cell.input_size})")
    rows: dict[str, list[torch.Tensor]] = {key: [] for key in ("i", "f", "g", "o", "c", "h")}
    state = None
    with torch.no_grad():
        for x_t in x.unbind(1):
            state, gates = cell.step(x_t, state)
            for key, value in {**gates, "h": state[0], "c": state[1]}.items():
                rows[key].append(value)
    return {key: torch.stack(values, dim=1) for key, values in rows.items()}
