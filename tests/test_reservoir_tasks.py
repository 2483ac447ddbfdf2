"""Mackey-Glass and NARMA10 generators: definitions, determinism, integration accuracy, errors."""

import numpy as np
import pytest

from lecture_utils.data.reservoir_tasks import mackey_glass, narma10, scale_to_unit_range


def test_mackey_glass_shape_range_and_determinism():
    x = mackey_glass(1000)
    assert x.shape == (1000,) and x.dtype == np.float64
    assert 0.2 < x.min() < 0.6 and 1.1 < x.max() < 1.5  # the chaotic attractor's known range
    np.testing.assert_array_equal(x, mackey_glass(1000))


def test_mackey_glass_satisfies_the_delay_equation():
    # Sampled every 0.1 time units (subsample=1): centred differences match the right-hand side.
    x = mackey_glass(3000, subsample=1)
    h, delay = 0.1, 170
    t = np.arange(delay + 1, len(x) - 1)
    derivative = (x[t + 1] - x[t - 1]) / (2 * h)
    rhs = 0.2 * x[t - delay] / (1 + x[t - delay] ** 10) - 0.1 * x[t]
    assert np.abs(derivative - rhs).max() < 1e-3


def test_mackey_glass_step_is_converged():
    # Halving the integration step changes the first samples by far less than the signal's spread.
    coarse = mackey_glass(100, transient=0)
    fine = mackey_glass(100, h=0.05, subsample=20, transient=0)
    assert np.abs(coarse - fine).max() < 1e-3 * coarse.std() * 10


def test_mackey_glass_rejects_bad_arguments():
    with pytest.raises(ValueError, match="whole number"):
        mackey_glass(10, h=0.3)
    with pytest.raises(ValueError, match="n_samples"):
        mackey_glass(0)


def test_narma10_follows_the_standard_recursion():
    u, y = narma10(500, seed=3)
    assert u.shape == y.shape == (500,) and 0 <= u.min() and u.max() <= 0.5
    for t in range(10, 499):
        expected = 0.3 * y[t] + 0.05 * y[t] * y[t - 9 : t + 1].sum() + 1.5 * u[t - 9] * u[t] + 0.1
        assert y[t + 1] == pytest.approx(expected)
    assert np.all(y[:10] == 0)


def test_narma10_seeds():
    np.testing.assert_array_equal(narma10(100, seed=1)[1], narma10(100, seed=1)[1])
    assert not np.allclose(narma10(100, seed=1)[0], narma10(100, seed=2)[0])
    with pytest.raises(ValueError, match=">= 11"):
        narma10(5)


def test_scale_to_unit_range():
    x = np.array([2.0, 4.0, 3.0])
    np.testing.assert_allclose(scale_to_unit_range(x), [-1.0, 1.0, 0.0])
    np.testing.assert_allclose(scale_to_unit_range(np.array([6.0]), reference=x), [3.0])
    with pytest.raises(ValueError, match="non-constant"):
        scale_to_unit_range(np.ones(3))
