"""The lecture's stacked (bi)directional LSTM regressor: shapes, initialisation, scaling, training, bad input."""

import pytest
import torch

from lecture_utils.data.ventilator import breath_features, simulate_breaths
from lecture_utils.models.regressor import (
    LECTURE_HIDDEN,
    StackedLSTMRegressor,
    count_parameters,
    masked_l1,
    matched_unidirectional_hidden,
    predict,
    train_regressor,
)


def test_lecture_sizes_and_parameter_count():
    model = StackedLSTMRegressor(4)
    assert model.hidden == LECTURE_HIDDEN == (400, 300, 200, 100)
    # each layer reads 2 * hidden of the previous one; the head reads 2 * 100
    assert [lstm.input_size for lstm in model.lstms] == [4, 800, 600, 400]
    assert model.fc1.in_features == 200 and model.fc2.out_features == 1
    inputs = [4, 800, 600, 400]
    lstm_params = sum(2 * 4 * (h * (i + h) + 2 * h) for i, h in zip(inputs, LECTURE_HIDDEN, strict=True))
    assert count_parameters(model) == lstm_params + 200 * 50 + 50 + 50 + 1 == 5_638_901


@pytest.mark.parametrize("bidirectional", [True, False])
def test_output_shape(bidirectional):
    model = StackedLSTMRegressor(6, (8, 6), head=5, bidirectional=bidirectional)
    out = model(torch.randn(3, 11, 6))
    assert out.shape == (3, 11)
    assert model.lstms[1].input_size == (16 if bidirectional else 8)


def test_bidirectional_output_sees_the_future_and_unidirectional_does_not():
    x = torch.randn(2, 10, 3)
    later = x.clone()
    later[:, 7:] += 1.0  # change only the last steps
    for bidirectional, changed in ((True, True), (False, False)):
        model = StackedLSTMRegressor(3, (5, 4), head=4, bidirectional=bidirectional)
        early = (model(x)[:, :7] - model(later)[:, :7]).abs().max().item()
        assert (early > 1e-6) is changed


def test_init_lstm_is_applied_to_every_lstm_and_the_head_starts_as_in_the_lecture():
    seen = []

    def mark(lstm):
        seen.append(lstm)
        torch.nn.init.constant_(lstm.bias_hh_l0, 7.0)

    torch.manual_seed(0)
    model = StackedLSTMRegressor(4, (16, 8), head=6, init_lstm=mark)
    assert seen == list(model.lstms)
    assert all(torch.equal(lstm.bias_hh_l0, torch.full((4 * lstm.hidden_size,), 7.0)) for lstm in model.lstms)
    for linear in (model.fc1, model.fc2):  # Xavier-uniform weight, zero bias
        bound = (6 / sum(linear.weight.shape)) ** 0.5
        assert linear.weight.abs().max() <= bound
        assert torch.equal(linear.bias, torch.zeros_like(linear.bias))
    assert model.fc1.weight.abs().max() > 0.8 * (6 / 22) ** 0.5  # not PyTorch's smaller default
    torch.manual_seed(0)
    default = StackedLSTMRegressor(4, (16, 8), head=6)  # PyTorch's default LSTM init: U(+-1/sqrt(h))
    w = default.lstms[0].weight_hh_l0
    assert w.abs().max() <= 16**-0.5 and w.abs().max() > 0.9 * 16**-0.5


def test_inputs_are_standardised_with_the_training_statistics():
    model = StackedLSTMRegressor(2, (4,), head=3)
    x = torch.stack([torch.full((5, 7), 3.0), torch.arange(35.0).reshape(5, 7)], dim=-1)
    before = model(x)
    model.set_input_scale(x)
    assert torch.equal(model.input_mean, torch.tensor([3.0, 17.0]))
    assert model.input_scale[0] == 1.0  # a constant feature keeps scale 1
    assert torch.allclose(model.input_scale[1], x[..., 1].std())
    shifted = x * torch.tensor([1.0, 2.0]) + torch.tensor([0.0, 5.0])
    twin = StackedLSTMRegressor(2, (4,), head=3)
    twin.load_state_dict(model.state_dict())
    twin.set_input_scale(shifted)
    assert torch.allclose(twin(shifted), model(x), atol=1e-5)  # the network sees the same standardised numbers
    assert not torch.allclose(before, model(x))


def test_matched_unidirectional_hidden_has_about_as_many_parameters():
    bi = StackedLSTMRegressor(6, (64, 48, 32, 16))
    sizes = matched_unidirectional_hidden((64, 48, 32, 16), 6)
    uni = StackedLSTMRegressor(6, sizes, bidirectional=False)
    assert sizes[0] > 64 and sizes == tuple(sorted(sizes, reverse=True))
    assert abs(count_parameters(uni) / count_parameters(bi) - 1) < 0.02


def test_target_scale_and_predict():
    model = StackedLSTMRegressor(3, (4,), head=3)
    model.set_target_scale(torch.tensor([10.0, 20.0, 30.0]))
    assert model.target_mean.item() == 20.0 and model.target_scale.item() == 10.0
    x = torch.randn(5, 7, 3)
    model.train()
    assert torch.allclose(predict(model, x, batch_size=2), model(x).detach())
    assert model.training  # predict restores the mode


def test_masked_l1():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.zeros(2, 2)
    mask = torch.tensor([[True, False], [False, True]])
    assert masked_l1(pred, target, mask).item() == 2.5
    with pytest.raises(ValueError, match=r"same shape \(breaths, steps\)"):
        masked_l1(pred, target, mask[:1])


def test_training_lowers_the_loss_and_repeats_exactly():
    breaths = simulate_breaths(64, seed=0)
    x = breath_features(breaths)

    def run():
        torch.manual_seed(0)
        model = StackedLSTMRegressor(6, (8, 4), head=8)
        history = train_regressor(model, x, breaths.pressure, breaths.inspiratory, steps=40, batch_size=16)
        return model, history

    (model, history), (_, again) = run(), run()
    assert history.series("loss") == again.series("loss")
    losses = history.series("loss")
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5])
    short = train_regressor(model, x, breaths.pressure, breaths.inspiratory, steps=40, stop_after=7)
    assert len(short.steps) == 7


def test_bad_input():
    model = StackedLSTMRegressor(5, (4,), head=3)
    with pytest.raises(ValueError, match=r"expected shape \(batch, time, features=5\), got \(2, 3, 4\)"):
        model(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"\(batch, time, features=5\)"):
        model(torch.randn(3, 5))
    with pytest.raises(ValueError, match="input_size"):
        StackedLSTMRegressor(0)
    with pytest.raises(ValueError, match="hidden"):
        StackedLSTMRegressor(4, ())
    with pytest.raises(ValueError, match="init_lstm: expected a function"):
        StackedLSTMRegressor(4, (4,), init_lstm="keras")
    x, y, mask = torch.randn(4, 6, 5), torch.randn(4, 6), torch.ones(4, 6, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"y: expected shape \(breaths, steps\)=\(4, 6\)"):
        train_regressor(model, x, y[:, :5], mask, steps=1)
    with pytest.raises(ValueError, match="mask: expected dtype bool"):
        train_regressor(model, x, y, mask.float(), steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_regressor(model, x, y, mask, steps=0)
