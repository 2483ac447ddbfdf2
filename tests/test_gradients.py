"""Truncated BPTT, gradient-norm probes, Hessian-vector products."""

import math

import pytest
import torch
from torch import nn

from lecture_utils.gradients import (
    detach_state,
    gradient_norms_through_time,
    hessian_vector_product,
    truncated_bptt,
)
from lecture_utils.models.long_memory import StackedRecurrent


class RecordingModel(nn.Module):
    """A StackedRecurrent that records each call's chunk length and whether its state is in a graph."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = StackedRecurrent("lstm", 2, 4, 1)
        self.calls: list[tuple[int, bool]] = []

    def forward(self, x, states=None):
        attached = states is not None and any(t.requires_grad for s in states for t in s)
        self.calls.append((x.shape[1], attached))
        return self.inner(x, states)


def mse(out, target):
    return nn.functional.mse_loss(out[..., 0], target)


def test_truncated_bptt_cuts_the_graph_every_k_steps():
    torch.manual_seed(0)
    model = RecordingModel()
    x, y = torch.randn(3, 23, 2), torch.randn(3, 23)
    history = truncated_bptt(model, x, y, mse, torch.optim.SGD(model.parameters(), lr=0.01), 5, epochs=2,
                             progress=False)
    assert [n for n, _ in model.calls] == [5, 5, 5, 5, 3] * 2
    assert not any(attached for _, attached in model.calls)  # every incoming state was detached
    assert len(history.steps) == 10


def test_truncated_bptt_carries_the_state_and_resets_it_each_epoch():
    torch.manual_seed(0)
    model = StackedRecurrent("gru", 2, 4, 1)
    seen = []
    original = model.forward
    model.forward = lambda x, states=None: (seen.append(states), original(x, states))[1]
    x, y = torch.randn(2, 8, 2), torch.randn(2, 8)
    truncated_bptt(model, x, y, mse, torch.optim.SGD(model.parameters(), lr=0.0), 4, epochs=2, progress=False)
    assert seen[0] is None and seen[2] is None  # each epoch starts from the zero state
    assert seen[1] is not None and seen[3] is not None  # the second chunk gets the first chunk's state
    # with lr = 0 the carried state is exactly the state after the first chunk
    assert torch.allclose(seen[1][0], original(x[:, :4])[1][0])


def gradient_after_one_step(model, x, y, k):
    torch.manual_seed(0)
    copy = StackedRecurrent("rnn", 2, 3, 1)
    copy.load_state_dict(model.state_dict())
    grads = {}

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            if not grads:
                grads.update({n: p.grad.clone() for n, p in copy.named_parameters()})
            return super().step(closure)

    truncated_bptt(copy, x, y, mse, Spy(copy.parameters(), lr=0.0), k, progress=False)
    return grads


def test_truncated_bptt_first_update_uses_exactly_the_first_window():
    torch.manual_seed(1)
    model = StackedRecurrent("rnn", 2, 3, 1)
    x, y = torch.randn(2, 12, 2), torch.randn(2, 12)
    # k = time: the first update is full BPTT over the whole sequence
    full = gradient_after_one_step(model, x, y, 12)
    model.zero_grad()
    mse(model(x)[0], y).backward()
    for name, p in model.named_parameters():
        assert torch.allclose(full[name], p.grad, atol=1e-6)
    # k = 4: the first update is the gradient of the first window's loss alone
    window = gradient_after_one_step(model, x, y, 4)
    model.zero_grad()
    mse(model(x[:, :4])[0], y[:, :4]).backward()
    for name, p in model.named_parameters():
        assert torch.allclose(window[name], p.grad, atol=1e-6)


def test_truncated_bptt_rejects_bad_arguments():
    model = StackedRecurrent("rnn", 2, 3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="k"):
        truncated_bptt(model, torch.randn(2, 5, 2), torch.randn(2, 5), mse, opt, 0)
    with pytest.raises(ValueError, match="y"):
        truncated_bptt(model, torch.randn(2, 5, 2), torch.randn(2, 4), mse, opt, 2)
    with pytest.raises(ValueError, match="x"):
        truncated_bptt(model, torch.randn(5), torch.randn(5), mse, opt, 2)


def test_detach_state_handles_nested_states():
    h = torch.randn(2, 3, requires_grad=True) * 2
    out = detach_state([(h, h + 1), None, h])
    assert isinstance(out, list) and isinstance(out[0], tuple) and out[1] is None
    assert not any(t.requires_grad for t in (out[0][0], out[0][1], out[2]))
    with pytest.raises(ValueError, match="state"):
        detach_state("hidden")


def test_gradient_norms_match_the_scalar_rnn_formula():
    # one unit: h_t = tanh(w_ih x_t + w_hh h_{t-1} + b); dL/dh_t = prod_{s>t} w_hh (1 - h_s^2) for L = h_T
    torch.manual_seed(0)
    layer = nn.RNN(1, 1, batch_first=True)
    x = torch.randn(1, 8, 1)
    norms = gradient_norms_through_time(layer, x, lambda h: h.sum())
    with torch.no_grad():
        h = layer(x)[0][0, :, 0]  # (8,)
    w = layer.weight_hh_l0.item()
    expected = [math.prod(abs(w * (1 - h[s].item() ** 2)) for s in range(t + 1, 8)) for t in range(8)]
    assert torch.allclose(norms, torch.tensor(expected), rtol=1e-4)


def test_gradient_norms_vanish_for_a_contracting_rnn_and_cover_lstm_state():
    torch.manual_seed(0)
    layer = nn.RNN(2, 16, batch_first=True)
    with torch.no_grad():
        layer.weight_hh_l0.mul_(0.3)
    norms = gradient_norms_through_time(layer, torch.randn(4, 30, 2), lambda h: h.sum(-1).mean())
    assert norms.shape == (30,) and norms[0] < 1e-6 * norms[-1]
    lstm = nn.LSTM(2, 5, batch_first=True)
    lstm_norms = gradient_norms_through_time(lstm, torch.randn(3, 6, 2), lambda h: h.sum(-1).mean())
    assert lstm_norms.shape == (6,) and (lstm_norms > 0).all()
    with pytest.raises(ValueError, match="one-layer"):
        two_layers = nn.RNN(2, 4, num_layers=2, batch_first=True)
        gradient_norms_through_time(two_layers, torch.randn(1, 3, 2), torch.sum)
    with pytest.raises(ValueError, match="input_size=2"):
        gradient_norms_through_time(layer, torch.randn(1, 3, 5), torch.sum)


def test_hessian_vector_product_matches_finite_differences():
    torch.manual_seed(0)
    model = StackedRecurrent("gru", 2, 5, 1).double()
    x, y = torch.randn(4, 6, 2, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    params = list(model.parameters())
    loss_fn = lambda: nn.functional.mse_loss(model(x)[0][:, -1, 0], y)
    v = [torch.randn_like(p) for p in params]
    hv = torch.cat([h.flatten() for h in hessian_vector_product(loss_fn, params, v)])

    def flat_gradient(shift):
        with torch.no_grad():
            for p, u in zip(params, v, strict=True):
                p.add_(shift * u)
        g = torch.cat([t.flatten() for t in torch.autograd.grad(loss_fn(), params)])
        with torch.no_grad():
            for p, u in zip(params, v, strict=True):
                p.sub_(shift * u)
        return g

    finite = (flat_gradient(1e-5) - flat_gradient(-1e-5)) / 2e-5
    assert torch.allclose(hv, finite, atol=1e-7, rtol=1e-5)


def test_hessian_of_a_quadratic():
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    theta = torch.randn(2, dtype=torch.float64, requires_grad=True)
    loss_fn = lambda: 0.5 * theta @ a @ theta  # Hessian = a
    v = torch.tensor([1.0, -2.0], dtype=torch.float64)
    assert torch.allclose(hessian_vector_product(loss_fn, [theta], [v])[0], a @ v)
    with pytest.raises(ValueError, match="vector"):
        hessian_vector_product(loss_fn, [theta], [torch.ones(3)])


def test_gradient_plots_and_radius_slider():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecture_utils.plots import plot_eigenvalues, plot_gradient_norms
    from lecture_utils.widgets import spectral_radius_slider

    ax = plot_gradient_norms({"a": torch.tensor([1e-3, 1e-1, 1.0]), "b": torch.zeros(3)})
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    ax = plot_eigenvalues({"rotation": torch.tensor([[0.0, -1.5], [1.5, 0.0]])})
    assert ax.collections[0].get_offsets().shape == (2, 2)  # two eigenvalues plotted
    with pytest.raises(ValueError, match="time"):
        plot_gradient_norms({"a": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="square"):
        plot_eigenvalues({"a": torch.zeros(2, 3)})
    widget = spectral_radius_slider(torch.randn(2, 5, 2), hidden_size=4)
    assert widget.children[0].value == 1.0
    with pytest.raises(ValueError, match="batch, time, features"):
        spectral_radius_slider(torch.randn(5, 2))
    plt.close("all")
