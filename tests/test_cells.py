"""The from-scratch cells against PyTorch's, their input checks, unroll, and the LSTM trace helpers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from lecture_utils.cells import (
    ScratchGRUCell,
    ScratchLSTMCell,
    ScratchRNNCell,
    gradient_norms_by_lag,
    lstm_gate_trace,
    unroll,
)
from lecture_utils.plots import lstm_step_table, plot_gate_trace, plot_lstm_step
from lecture_utils.widgets import lstm_time_slider

PAIRS = {
    "rnn": (ScratchRNNCell, nn.RNNCell, nn.RNN),
    "lstm": (ScratchLSTMCell, nn.LSTMCell, nn.LSTM),
    "gru": (ScratchGRUCell, nn.GRUCell, nn.GRU),
}
SIZES = [(1, 1, 1), (3, 5, 4), (7, 2, 9)]  # (batch, input, hidden)


def _pair(kind: str, n_in: int, n_hidden: int, *, dtype=torch.float32) -> tuple[nn.Module, nn.Module]:
    """A scratch cell and PyTorch's cell with the same (non-default, far from zero) weights."""
    scratch_cls, torch_cls, _ = PAIRS[kind]
    theirs = torch_cls(n_in, n_hidden).to(dtype)
    with torch.no_grad():
        for p in theirs.parameters():  # larger than the default init: saturated gates expose order bugs
            p.uniform_(-1.5, 1.5)
    ours = scratch_cls(n_in, n_hidden).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _state(kind: str, batch: int, n_hidden: int, *, dtype=torch.float32):
    h = torch.randn(batch, n_hidden, dtype=dtype)
    return (h, 2 * torch.randn(batch, n_hidden, dtype=dtype)) if kind == "lstm" else h


def _flat(out) -> torch.Tensor:
    return torch.cat(out, dim=1) if isinstance(out, tuple) else out


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize(("batch", "n_in", "n_hidden"), SIZES)
def test_forward_matches_torch_float32(kind, batch, n_in, n_hidden):
    torch.manual_seed(0)
    ours, theirs = _pair(kind, n_in, n_hidden)
    x, state = torch.randn(batch, n_in), _state(kind, batch, n_hidden)
    assert torch.allclose(_flat(ours(x, state)), _flat(theirs(x, state)), atol=1e-6, rtol=0)
    assert torch.allclose(_flat(ours(x)), _flat(theirs(x)), atol=1e-6, rtol=0)  # zero initial state


@pytest.mark.parametrize("kind", PAIRS)
def test_gradients_match_torch(kind):
    torch.manual_seed(1)
    ours, theirs = _pair(kind, 4, 6)
    x = torch.randn(5, 4)
    state = _state(kind, 5, 6)
    states = [tuple(s.clone().requires_grad_(True) for s in state) if kind == "lstm"
              else state.clone().requires_grad_(True) for _ in range(2)]
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    for cell, x_, s_ in zip((ours, theirs), xs, states, strict=True):
        _flat(cell(x_, s_)).sin().sum().backward()  # sin: each output gets its own upstream gradient
    assert torch.allclose(xs[0].grad, xs[1].grad, atol=1e-5, rtol=0)
    for s0, s1 in zip(*(s if isinstance(s, tuple) else (s,) for s in states), strict=True):
        assert torch.allclose(s0.grad, s1.grad, atol=1e-5, rtol=0)
    for (name, p0), p1 in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(p0.grad, p1.grad, atol=1e-5, rtol=0), name


@pytest.mark.parametrize("kind", PAIRS)
def test_gradcheck_float64(kind):
    torch.manual_seed(2)
    cell = PAIRS[kind][0](3, 4).double()
    names = [name for name, _ in cell.named_parameters()]
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)

    def step(x, h, c, *weights):
        out = torch.func.functional_call(cell, dict(zip(names, weights, strict=True)),
                                         (x, (h, c) if kind == "lstm" else h))
        return _flat(out)

    weights = tuple(p.detach().requires_grad_(True) for p in cell.parameters())
    assert torch.autograd.gradcheck(step, (x, h, c, *weights))


def test_parameter_layout_matches_torch():
    for kind, (scratch_cls, torch_cls, _) in PAIRS.items():
        ours, theirs = scratch_cls(3, 5), torch_cls(3, 5)
        assert {n: tuple(p.shape) for n, p in ours.named_parameters()} == {
            n: tuple(p.shape) for n, p in theirs.named_parameters()
        }, kind


def test_default_init_is_pytorchs_uniform_range():
    torch.manual_seed(3)
    cell = ScratchLSTMCell(10, 100)
    bound = 100 ** -0.5
    for p in cell.parameters():
        assert p.abs().max() <= bound and p.abs().max() > 0.9 * bound


@pytest.mark.parametrize("kind", PAIRS)
def test_bad_inputs_name_the_expected_shape(kind):
    cell = PAIRS[kind][0](3, 4)
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, input_size=3\), got \(2, 5\)"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, input_size=3\), got \(3,\)"):
        cell(torch.randn(3))
    with pytest.raises(ValueError, match=r"x: expected a torch.Tensor of shape \(batch, input_size=3\)"):
        cell([[1.0, 2.0, 3.0]])
    bad_h = torch.randn(2, 5)
    state = (bad_h, torch.randn(2, 4)) if kind == "lstm" else bad_h
    with pytest.raises(ValueError, match=r"h: expected shape \(batch=2, hidden_size=4\), got \(2, 5\)"):
        cell(torch.randn(2, 3), state)


def test_lstm_state_checks():
    cell = ScratchLSTMCell(3, 4)
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"c: expected shape \(batch=2, hidden_size=4\), got \(1, 4\)"):
        cell(x, (torch.randn(2, 4), torch.randn(1, 4)))
    with pytest.raises(ValueError, match=r"state: expected a tuple \(h, c\)"):
        cell(x, torch.randn(2, 4))


def test_constructor_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match="expected positive ints, got 0, 4"):
        ScratchRNNCell(0, 4)
    with pytest.raises(ValueError, match="expected positive ints, got 3, 2.5"):
        ScratchLSTMCell(3, 2.5)


@pytest.mark.parametrize("kind", PAIRS)
def test_unroll_matches_torch_sequence_modules(kind):
    torch.manual_seed(4)
    ours, theirs = _pair(kind, 3, 5)
    layer = PAIRS[kind][2](3, 5, batch_first=True)
    layer.load_state_dict({f"{name}_l0": p for name, p in theirs.state_dict().items()})
    x = torch.randn(4, 9, 3)  # (batch, time, input)
    state = _state(kind, 4, 5)
    outputs, final = unroll(ours, x, state)
    initial = tuple(s.unsqueeze(0) for s in state) if kind == "lstm" else state.unsqueeze(0)
    expected, expected_final = layer(x, initial)
    assert outputs.shape == (4, 9, 5)
    # One step agrees to 1e-6 (above); nine steps with large weights accumulate float32 rounding.
    assert torch.allclose(outputs, expected, atol=1e-5, rtol=0)
    final, expected_final = _flat(final), _flat(tuple(s[0] for s in expected_final) if kind == "lstm"
                                               else expected_final[0])
    assert torch.allclose(final, expected_final, atol=1e-5, rtol=0)
    torch_outputs, _ = unroll(theirs, x, state)  # PyTorch's own cells work too
    assert torch.allclose(torch_outputs, expected, atol=1e-6, rtol=0)


def test_unroll_backpropagates_through_time():
    torch.manual_seed(5)
    cell = ScratchRNNCell(2, 3)
    x = torch.randn(1, 6, 2, requires_grad=True)
    outputs, _ = unroll(cell, x)
    outputs[:, -1].sum().backward()
    assert (x.grad[0].abs().sum(dim=1) > 0).all()  # the last output depends on every earlier input


def test_unroll_rejects_bad_sequences():
    cell = ScratchGRUCell(3, 4)
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, time, input_size=3\), got \(2, 3\)"):
        unroll(cell, torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"input_size=3\), got \(2, 5, 4\)"):
        unroll(cell, torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"time >= 1"):
        unroll(cell, torch.randn(2, 0, 3))


def test_gradient_norms_by_lag_matches_a_direct_jacobian():
    torch.manual_seed(6)
    cell = ScratchRNNCell(2, 3)
    x = torch.randn(4, 5, 2)  # (batch, time, input)
    norms = gradient_norms_by_lag(cell, x)
    assert norms.shape == (5,)
    expected = []
    for t in range(5):  # d sum(h_T) / d x_t per sequence, one sequence at a time
        per_sequence = []
        for b in range(4):
            x_b = x[b : b + 1].clone().requires_grad_(True)
            outputs, _ = unroll(cell, x_b)
            (grad,) = torch.autograd.grad(outputs[0, -1].sum(), x_b)
            per_sequence.append(grad[0, t].norm())
        expected.append(torch.stack(per_sequence).mean())
    assert torch.allclose(norms, torch.stack(expected).flip(0), atol=1e-6, rtol=1e-5)


def test_gradient_norms_vanish_for_a_contracting_rnn():
    torch.manual_seed(7)
    cell = ScratchRNNCell(2, 8)
    with torch.no_grad():
        cell.weight_hh.mul_(0.5)
    norms = gradient_norms_by_lag(cell, torch.randn(16, 30, 2))
    assert norms[29] < 1e-4 * norms[0]


def test_lstm_gate_trace_is_consistent_with_the_equations_and_nn_lstm():
    torch.manual_seed(8)
    cell = ScratchLSTMCell(2, 4)
    x = torch.randn(3, 7, 2)
    trace = lstm_gate_trace(cell, x)
    assert set(trace) == {"i", "f", "g", "o", "c", "h"}
    assert all(v.shape == (3, 7, 4) and not v.requires_grad for v in trace.values())
    c_old = torch.cat([torch.zeros(3, 1, 4), trace["c"][:, :-1]], dim=1)
    assert torch.allclose(trace["c"], trace["f"] * c_old + trace["i"] * trace["g"], atol=1e-6)
    assert torch.allclose(trace["h"], trace["o"] * torch.tanh(trace["c"]), atol=1e-6)
    layer = nn.LSTM(2, 4, batch_first=True)
    layer.load_state_dict({f"{name}_l0": p for name, p in cell.state_dict().items()})
    out, (h, c) = layer(x)
    assert torch.allclose(trace["h"], out, atol=1e-6)
    assert torch.allclose(trace["c"][:, -1], c[0], atol=1e-6)


def test_lstm_gate_trace_rejects_bad_arguments():
    with pytest.raises(ValueError, match="expected a ScratchLSTMCell, got ScratchGRUCell"):
        lstm_gate_trace(ScratchGRUCell(2, 3), torch.randn(1, 4, 2))
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, time, input_size=2\)"):
        lstm_gate_trace(ScratchLSTMCell(2, 3), torch.randn(4, 2))


@pytest.fixture
def small_trace():
    torch.manual_seed(9)
    x = torch.randn(2, 6, 2)  # (batch, time, features)
    return lstm_gate_trace(ScratchLSTMCell(2, 5), x), x


def test_lstm_step_table_rows(small_trace):
    trace, x = small_trace
    table = lstm_step_table(trace, x, 0, sample=1, units=[4, 0])
    assert table.shape == (7, 2)
    assert (table[1] == 0).all()  # the old cell state before the first step
    assert torch.allclose(torch.as_tensor(table[4]), trace["c"][1, 0, [4, 0]])
    later = lstm_step_table(trace, x, 3)
    assert torch.allclose(torch.as_tensor(later[1]), trace["c"][0, 2])
    assert torch.allclose(torch.as_tensor(later[6]), trace["h"][0, 3])


def test_lstm_step_display_rejects_bad_arguments(small_trace):
    trace, x = small_trace
    with pytest.raises(ValueError, match=r"t: expected 0 <= t < time=6, got 6"):
        lstm_step_table(trace, x, 6)
    with pytest.raises(ValueError, match=r"inputs: expected a tensor of shape \(batch=2, time=6, features\)"):
        lstm_step_table(trace, x[:, :4], 0)
    with pytest.raises(ValueError, match=r"units: expected unit indices in \[0, 5\)"):
        lstm_step_table(trace, x, 0, units=[5])
    with pytest.raises(ValueError, match=r"sample: expected 0 <= sample < batch=2"):
        plot_gate_trace(trace, sample=2)
    with pytest.raises(ValueError, match="missing \\['c'\\]"):
        plot_gate_trace({k: v for k, v in trace.items() if k != "c"})
    with pytest.raises(ValueError, match="input_labels: expected 2 labels"):
        plot_lstm_step(trace, x, 0, input_labels=["only one"])
    with pytest.raises(ValueError, match="input_labels: expected 2 labels"):
        lstm_time_slider(trace, x, input_labels=["a", "b", "c"])


def test_plots_and_slider_build(small_trace):
    trace, x = small_trace
    fig = plot_gate_trace(trace, keys=("i", "f", "c", "h"), marks=[2])
    assert len([ax for ax in fig.axes if ax.get_visible() and ax.get_title()]) == 4
    fig = plot_lstm_step(trace, x, 2, input_labels=["value", "marker"], units=[1, 3])
    assert fig.axes[1].get_xticklabels()[0].get_text() == "1"
    plt.close("all")
    widget = lstm_time_slider(trace, x)
    slider = widget.children[0]
    assert (slider.min, slider.max, slider.value) == (0, 5, 0)
