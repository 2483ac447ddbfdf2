"""Initialisation helpers shared by the models (one place for each rule).

:func:`set_forget_gate_bias`: an LSTM's forget-gate bias, the Keras-like ``unit_forget_bias`` that the
lecture uses (notebooks 02 and 04).
"""

from __future__ import annotations

import torch
from torch import nn


def set_forget_gate_bias(lstm: nn.LSTM, value: float = 1.0) -> nn.LSTM:
    """Give every forget gate of ``lstm`` (all layers and directions) a total bias of ``value``, in place.

    PyTorch stacks an LSTM's four gates in the order input, forget, cell candidate, output (i, f, g, o):
    rows ``0:H``, ``H:2H``, ``2H:3H`` and ``3H:4H`` of each bias vector, ``H = hidden_size``. Each layer
    and direction has two bias vectors, ``bias_ih`` and ``bias_hh``, and the gate sees their sum. So the
    forget rows ``H:2H`` of ``bias_ih`` are set to ``value`` and those of ``bias_hh`` to 0: the forget
    gate's total bias is exactly ``value`` (sigma(1) = 0.73 for the default, so the cell state is mostly
    kept at the start of training). The other gates' biases are left as they are. Returns ``lstm``.
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"lstm: expected a torch.nn.LSTM, got {type(lstm).__name__}")
    if not lstm.bias:
        raise ValueError("lstm: built with bias=False, so it has no forget-gate bias to set")
    h = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias_ih"):
                p[h : 2 * h].fill_(value)
            elif name.startswith("bias_hh"):
                p[h : 2 * h].zero_()
    return lstm
