"""The forget-gate bias initialiser: the right slice of PyTorch's gate order, in every layer and direction."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lecture_utils.models.init import set_forget_gate_bias


def _cell_after_one_step(lstm: nn.LSTM, c0: float) -> torch.Tensor:
    """c_1 of every layer and direction after one step from c_0 = ``c0`` with all weights zero."""
    layers = lstm.num_layers * (2 if lstm.bidirectional else 1)
    h0 = torch.zeros(layers, 1, lstm.hidden_size)
    _, (_, c1) = lstm(torch.zeros(1, 1, lstm.input_size), (h0, torch.full_like(h0, c0)))
    return c1


@pytest.mark.parametrize("value, expected", [(50.0, 2.0), (-50.0, 0.0)])
def test_the_forget_gate_alone_decides_what_the_cell_keeps(value, expected):
    # all weights and other biases zero: i = o = sigma(0) = 0.5 and g = tanh(0) = 0, so c_1 = f * c_0.
    # A wrong slice gives f = 0.5 (c_1 = 1): setting the input gate, the candidate (c_1 = 0.5 * 2 + 0.5 * 1
    # = 1.5 for value 50) or the output gate is caught, and so is a bias_hh that is not zeroed.
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            p.zero_()
            if name.startswith("bias_hh"):
                p[3:6] = 7.0  # a stale forget bias in bias_hh: the helper must zero it
    assert set_forget_gate_bias(lstm, value) is lstm
    torch.testing.assert_close(_cell_after_one_step(lstm, 2.0), torch.full((4, 1, 3), expected), atol=1e-6, rtol=0)


def test_total_forget_bias_is_the_value_and_other_gates_are_untouched():
    torch.manual_seed(1)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in lstm.named_parameters()}
    set_forget_gate_bias(lstm, 1.0)
    for suffix in ("_l0", "_l1", "_l0_reverse", "_l1_reverse"):
        ih, hh = getattr(lstm, "bias_ih" + suffix), getattr(lstm, "bias_hh" + suffix)
        assert torch.equal(ih[4:8] + hh[4:8], torch.ones(4))  # rows H:2H, the forget gate
        for name, p in (("bias_ih", ih), ("bias_hh", hh)):
            rows = torch.cat([p[:4], p[8:]])
            assert torch.equal(rows, torch.cat([before[name + suffix][:4], before[name + suffix][8:]]))
    assert all(torch.equal(p, before[name]) for name, p in lstm.named_parameters() if name.startswith("weight"))


def test_refuses_what_has_no_forget_gate_bias():
    with pytest.raises(ValueError, match="bias=False"):
        set_forget_gate_bias(nn.LSTM(2, 3, bias=False))
    with pytest.raises(TypeError, match="GRU"):
        set_forget_gate_bias(nn.GRU(2, 3))
