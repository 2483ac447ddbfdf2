"""Benchmark series for reservoir computing: the Mackey-Glass attractor and NARMA10.

Both generators are our own, deterministic from their arguments (NARMA10 from a seed), and return
``float64`` NumPy arrays of shape ``(n_samples,)``.

Mackey-Glass (Mackey & Glass 1977), with the chaotic parameters used by Jaeger & Haas (2004)::

    dx/dt = beta * x(t - tau) / (1 + x(t - tau) ** n) - gamma * x(t),
    beta = 0.2, gamma = 0.1, n = 10, tau = 17.

It is integrated with the classical fourth-order Runge-Kutta method at step ``h = 0.1`` (so the delay
is exactly ``tau / h = 170`` steps); the delayed value half-way between two grid points, which RK4's
middle stages need, comes from four-point cubic interpolation, so the scheme stays fourth order. The
history before ``t = 0`` is the constant ``x0 = 1.2``. The solution is sampled every ``subsample = 10``
steps, i.e. once per time unit, as in Jaeger's ESN papers, after a transient of ``transient`` samples
is discarded.

NARMA10 (Atiya & Parlos 2000), the standard tenth-order definition::

    y(t + 1) = 0.3 y(t) + 0.05 y(t) * sum_{i=0..9} y(t - i) + 1.5 u(t - 9) u(t) + 0.1,
    u(t) ~ Uniform[0, 0.5] i.i.d.,  y(t) = 0 for t < 10.
"""

from __future__ import annotations

import numpy as np


def mackey_glass(
    n_samples: int,
    *,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    exponent: float = 10.0,
    h: float = 0.1,
    subsample: int = 10,
    x0: float = 1.2,
    transient: int = 500,
) -> np.ndarray:
    """Mackey-Glass series of ``n_samples`` points spaced ``h * subsample`` time units apart.

    ``tau / h`` must be a whole number of integration steps. Returns shape ``(n_samples,)``, float64.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples: expected a positive int, got {n_samples!r}")
    if h <= 0 or subsample < 1 or transient < 0:
        raise ValueError(f"expected h > 0, subsample >= 1, transient >= 0; got {h!r}, {subsample!r}, {transient!r}")
    delay = round(tau / h)
    if delay < 2 or abs(delay * h - tau) > 1e-9 * tau:
        raise ValueError(f"tau / h: expected a whole number of steps >= 2, got tau={tau!r}, h={h!r}")
    steps = (n_samples + transient) * subsample
    x = np.empty(delay + steps + 1)
    x[: delay + 1] = x0  # constant history on [-tau, 0]
    x_list = x.tolist()  # Python floats: a scalar loop is several times faster on lists than on arrays

    def rate(value: float, delayed: float) -> float:
        return beta * delayed / (1.0 + delayed**exponent) - gamma * value

    for i in range(delay, delay + steps):
        d0 = x_list[i - delay]  # x(t - tau)
        d1 = x_list[i - delay + 1]  # x(t + h - tau)
        before = x_list[i - delay - 1] if i - delay >= 1 else d0
        after = x_list[i - delay + 2]
        half = (-before + 9.0 * d0 + 9.0 * d1 - after) / 16.0  # x(t + h/2 - tau), cubic interpolation
        v = x_list[i]
        k1 = rate(v, d0)
        k2 = rate(v + 0.5 * h * k1, half)
        k3 = rate(v + 0.5 * h * k2, half)
        k4 = rate(v + h * k3, d1)
        x_list[i + 1] = v + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    series = np.asarray(x_list[delay + transient * subsample + subsample :: subsample])
    return series[:n_samples]


def narma10(n_samples: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """NARMA10: the i.i.d. input ``u`` and the target ``y``, both of shape ``(n_samples,)``, float64.

    The task for a model is to produce ``y(t)`` from the inputs ``u(0..t-1)``; ``y`` depends on the
    last ten inputs and outputs, which makes it a test of memory and nonlinearity together.
    """
    if n_samples < 11:
        raise ValueError(f"n_samples: expected an int >= 11 (the recursion looks 10 steps back), got {n_samples!r}")
    u = np.random.default_rng(seed).uniform(0.0, 0.5, size=n_samples)
    y = np.zeros(n_samples)
    for t in range(9, n_samples - 1):
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * y[t - 9 : t + 1].sum() + 1.5 * u[t - 9] * u[t] + 0.1
    return u, y


def scale_to_unit_range(series: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Map ``series`` linearly so that ``reference`` (default: the series itself) spans [-1, 1]."""
    series = np.asarray(series, dtype=np.float64)
    reference = series if reference is None else np.asarray(reference, dtype=np.float64)
    low, high = float(reference.min()), float(reference.max())
    if not high > low:
        raise ValueError("reference: expected a non-constant array (max > min)")
    return 2.0 * (series - low) / (high - low) - 1.0
