"""The lecture's stacked (bi)directional LSTM regressor: shapes, Keras-like init, training, bad input."""

import pytest
import torch

from lecture_utils.data.ventilator import breath_features, simulate_breaths
from lecture_utils.models.regressor import (
    LECTURE_HIDDEN,
    StackedLSTMRegressor,
    count_parameters,
    keras_like_init_,
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


def test_keras_like_init_values():
    torch.manual_seed(0)
    model = StackedLSTMRegressor(4, (16, 8), head=6)
    for lstm in model.lstms:
        h = lstm.hidden_size
        for suffix in ("_l0", "_l0_reverse"):
            w_hh = getattr(lstm, "weight_hh" + suffix)  # (4h, h): orthonormal columns
            assert torch.allclose(w_hh.T @ w_hh, torch.eye(h), atol=1e-5)
            w_ih = getattr(lstm, "weight_ih" + suffix)
            bound = (6 / (w_ih.shape[0] + w_ih.shape[1])) ** 0.5  # Xavier-uniform
            assert w_ih.abs().max() <= bound and w_ih.abs().max() > 0.8 * bound
            b_ih, b_hh = getattr(lstm, "bias_ih" + suffix), getattr(lstm, "bias_hh" + suffix)
            assert torch.equal(b_hh, torch.zeros(4 * h))
            expected = torch.zeros(4 * h)
            expected[h : 2 * h] = 1  # forget gate (order i, f, g, o); total forget bias b_ih + b_hh = 1
            assert torch.equal(b_ih, expected)
    assert torch.equal(model.fc1.bias, torch.zeros(6)) and torch.equal(model.fc2.bias, torch.zeros(1))
    plain = StackedLSTMRegressor(4, (16, 8), head=6, init="torch")
    assert plain.lstms[0].bias_hh_l0.abs().max() > 0
    assert keras_like_init_(plain) is plain and torch.equal(plain.lstms[0].bias_hh_l0, torch.zeros(64))


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
    with pytest.raises(ValueError, match="init"):
        StackedLSTMRegressor(4, (4,), init="xavier")
    x, y, mask = torch.randn(4, 6, 5), torch.randn(4, 6), torch.ones(4, 6, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"y: expected shape \(breaths, steps\)=\(4, 6\)"):
        train_regressor(model, x, y[:, :5], mask, steps=1)
    with pytest.raises(ValueError, match="mask: expected dtype bool"):
        train_regressor(model, x, y, mask.float(), steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_regressor(model, x, y, mask, steps=0)
