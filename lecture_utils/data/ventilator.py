"""A simulated mechanical ventilator: breaths of a single-compartment lung driven by a PI controller.

The physical model (our own, in the spirit of the 2021 "Ventilator Pressure Prediction" competition)::

    pressure = PEEP + R * flow + volume / C - effort          [cmH2O]

with airway resistance ``R`` in cmH2O/(L/s) drawn from {5, 20, 50}, lung compliance ``C`` in
mL/cmH2O drawn from {10, 20, 50}, ``flow`` in L/s, ``volume`` in mL above the resting volume,
``PEEP = 5`` cmH2O and ``effort`` the patient's own breathing effort in cmH2O (below). A breath has
``n_steps = 80`` steps of ``dt = 0.0375`` s (3 s in all):

* inspiration, the first ``inspiratory_steps = 30`` steps (``u_out = 0``): the inspiratory valve is
  open by ``u_in`` percent (0..100) and lets in ``flow = gain * Q_MAX * u_in / 100`` with
  ``Q_MAX = 1`` L/s; ``volume += 1000 * flow * dt``. ``u_in`` is set by a PI controller that tracks
  a target pressure drawn per breath, ``PEEP + U[10, 30]`` cmH2O:
  ``u_in[t] = clip(KP * e[t-1] + KI * dt * sum(e[:t]), 0, 100)`` with ``e = target - pressure_seen``
  read up to step ``t - 1`` (``KP = 0.5`` %/cmH2O, ``KI = 3`` %/(cmH2O s); the sum pauses while the
  valve is pinned at 0 or 100 % and the error pushes further, the usual anti-windup). The gains are
  low enough that ``u_in`` does not ring (alternate up and down from step to step) even at R = 50 and
  the largest gain; the price is a slow controller: the valve only lets air in, so at C = 10 the
  pressure overshoots the target by a few cmH2O, and at C = 50 it may not reach it within inspiration;
* expiration, the other steps (``u_out = 1``): ``u_in = 0``, the expiratory valve (resistance
  ``R_EXP = 5`` cmH2O/(L/s)) opens and the lung empties towards PEEP:
  ``flow = -(volume / C - effort) / (R + R_EXP)``.

Two per-breath factors are hidden from the inputs. ``gain``, the valve's flow gain, is drawn from
U[0.6, 1.4]. ``effort`` is a slowly varying random process per breath and step (an AR(1) process
with standard deviation ``effort_sigma = 3`` cmH2O and correlation ``effort_correlation = 0.9``
between neighbouring steps): no past input can tell its next change, but the controller reacts to
the pressure it causes one step later. So the present pressure is not a function of the past
inputs, while the next ``u_in`` reveals it (a model that reads the future inputs, a bidirectional
one, can know it; an online model cannot). ``effort_sigma = 0`` removes it.

The measured pressure is the true one plus Gaussian sensor noise of standard deviation
``noise_sigma`` cmH2O, so no model can reach a mean absolute error below
``noise_sigma * sqrt(2 / pi)`` (:func:`noise_floor`).

By default the controller reads a clean sensor (the true pressure). With
``controller_sees_noise=True`` it reacts to the noisy measurement, so each later ``u_in`` carries
the earlier measurement noise: a model that reads future inputs (bidirectional) can then predict
the noise itself, which is leakage, not skill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch

R_VALUES = (5, 20, 50)  # cmH2O / (L/s)
C_VALUES = (10, 20, 50)  # mL / cmH2O
PEEP = 5.0  # cmH2O
Q_MAX = 1.0  # L/s at u_in = 100 and gain 1
R_EXP = 5.0  # cmH2O / (L/s), expiratory valve
DT = 0.0375  # s per step
N_STEPS = 80
INSPIRATORY_STEPS = 30
KP, KI = 0.5, 3.0  # PI controller gains: % per cmH2O and % per (cmH2O * s); chosen so that it does not ring
EFFORT_SIGMA = 3.0  # cmH2O, standard deviation of the patient's effort
EFFORT_CORRELATION = 0.9  # per step: the effort changes slowly (about 10 steps, 0.4 s)
TARGET_RANGE = (10.0, 30.0)  # cmH2O above PEEP
GAIN_RANGE = (0.6, 1.4)
FEATURE_NAMES = ("R", "C", "u_in", "u_out", "time", "u_in_cumsum")
# The simulator's first version (no patient effort, a controller that rings at R = 50), on which notebook
# 04's experiments were run: ``simulate_breaths(n, seed, **VENTILATOR_V1)`` reproduces its breaths exactly.
VENTILATOR_V1 = {"effort_sigma": 0.0, "controller_gains": (1.0, 15.0)}


@dataclass(frozen=True)
class Breaths:
    """A batch of simulated breaths; every per-step field is a float32 tensor of shape ``(breaths, steps)``.

    ``r`` and ``c`` are the lung attributes (repeated over steps, as in the competition's table),
    ``u_in``/``u_out`` the inputs, ``time`` in seconds, ``pressure`` the noisy measurement (the
    target), ``true_pressure``, ``flow`` (L/s), ``volume`` (mL) and ``effort`` (cmH2O, hidden) the
    noiseless physics. ``gain``
    (the hidden valve gain) and ``target`` (the controller's set point, cmH2O) are per breath:
    shape ``(breaths,)``. ``noise_sigma`` is the sensor noise's standard deviation in cmH2O.
    """

    r: torch.Tensor
    c: torch.Tensor
    u_in: torch.Tensor
    u_out: torch.Tensor
    time: torch.Tensor
    pressure: torch.Tensor
    true_pressure: torch.Tensor
    flow: torch.Tensor
    volume: torch.Tensor
    effort: torch.Tensor
    gain: torch.Tensor
    target: torch.Tensor
    noise_sigma: float

    def __len__(self) -> int:
        return self.u_in.shape[0]

    def subset(self, index: torch.Tensor | np.ndarray | list[int]) -> Breaths:
        """The breaths at ``index`` (a 1-D integer index), all fields sliced alike."""
        index = torch.as_tensor(index, dtype=torch.long)
        if index.dim() != 1:
            raise ValueError(f"index: expected a 1-D index of breaths, got shape {tuple(index.shape)}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Breaths(**{k: v[index] if isinstance(v, torch.Tensor) else v for k, v in values.items()})

    def first_steps(self, n_steps: int) -> Breaths:
        """The same breaths cut to their first ``n_steps`` steps (per-step fields sliced, the rest kept)."""
        total = self.u_in.shape[1]
        if not isinstance(n_steps, int) or not 1 <= n_steps <= total:
            raise ValueError(f"n_steps: expected an int in [1, {total}], got {n_steps!r}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        per_step = lambda v: isinstance(v, torch.Tensor) and v.dim() == 2
        return Breaths(**{k: v[:, :n_steps] if per_step(v) else v for k, v in values.items()})

    @property
    def inspiratory(self) -> torch.Tensor:
        """Boolean mask ``(breaths, steps)``: the steps that are scored (``u_out == 0``)."""
        return self.u_out == 0


def simulate_breaths(
    n_breaths: int,
    seed: int = 0,
    *,
    noise_sigma: float = 0.5,
    n_steps: int = N_STEPS,
    inspiratory_steps: int = INSPIRATORY_STEPS,
    r_values: tuple[int, ...] = R_VALUES,
    c_values: tuple[int, ...] = C_VALUES,
    gain_range: tuple[float, float] = GAIN_RANGE,
    controller_sees_noise: bool = False,
    effort_sigma: float = EFFORT_SIGMA,
    effort_correlation: float = EFFORT_CORRELATION,
    controller_gains: tuple[float, float] = (KP, KI),
) -> Breaths:
    """Simulate ``n_breaths`` breaths, deterministically from ``seed`` (see the module docstring).

    ``r_values``/``c_values`` choose which of the lung attributes {5, 20, 50} x {10, 20, 50} occur
    (drawn uniformly per breath); ``gain_range = (1, 1)`` removes the hidden valve gain and
    ``effort_sigma = 0`` the patient's effort. ``controller_gains = (KP, KI)`` sets the PI gains;
    ``(1.0, 15.0)`` with ``effort_sigma=0`` gives this module's first version (its controller rings at
    R = 50), which notebook 04's experiments were run on.
    """
    sizes = {"n_breaths": n_breaths, "n_steps": n_steps, "inspiratory_steps": inspiratory_steps}
    for name, value in sizes.items():
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if inspiratory_steps >= n_steps:
        raise ValueError(f"inspiratory_steps: expected fewer than n_steps={n_steps}, got {inspiratory_steps}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    if not math.isfinite(noise_sigma) or noise_sigma < 0:
        raise ValueError(f"noise_sigma: expected a non-negative number of cmH2O, got {noise_sigma!r}")
    for name, values, allowed in (("r_values", r_values, R_VALUES), ("c_values", c_values, C_VALUES)):
        unknown = [v for v in values if v not in allowed]
        if not values or unknown:
            raise ValueError(f"{name}: expected a non-empty subset of {allowed}, got {tuple(values)!r}")
    if not math.isfinite(effort_sigma) or effort_sigma < 0:
        raise ValueError(f"effort_sigma: expected a non-negative number of cmH2O, got {effort_sigma!r}")
    if not 0 <= effort_correlation < 1:
        raise ValueError(f"effort_correlation: expected a number in [0, 1), got {effort_correlation!r}")
    kp, ki = controller_gains
    if not (math.isfinite(kp) and math.isfinite(ki) and kp >= 0 and ki >= 0):
        raise ValueError(f"controller_gains: expected two non-negative numbers (KP, KI), got {controller_gains!r}")
    low, high = gain_range
    if not 0 < low <= high:
        raise ValueError(f"gain_range: expected (low, high) with 0 < low <= high, got {gain_range!r}")

    rng = np.random.default_rng(seed)
    r = rng.choice(np.asarray(r_values, dtype=float), size=n_breaths)
    c = rng.choice(np.asarray(c_values, dtype=float), size=n_breaths)
    gain = rng.uniform(low, high, size=n_breaths)
    target = PEEP + rng.uniform(*TARGET_RANGE, size=n_breaths)
    noise = noise_sigma * rng.standard_normal((n_breaths, n_steps))
    # The patient's effort: a stationary AR(1) process, effort[t] = a * effort[t-1] + innovation.
    shocks = rng.standard_normal((n_breaths, n_steps))
    effort = np.zeros((n_breaths, n_steps))
    effort[:, 0] = effort_sigma * shocks[:, 0]
    innovation_sigma = effort_sigma * math.sqrt(1 - effort_correlation**2)
    for t in range(1, n_steps):
        effort[:, t] = effort_correlation * effort[:, t - 1] + innovation_sigma * shocks[:, t]

    u_in = np.zeros((n_breaths, n_steps))
    flow = np.zeros((n_breaths, n_steps))
    volume = np.zeros((n_breaths, n_steps))
    pressure = np.zeros((n_breaths, n_steps))
    seen = np.full(n_breaths, PEEP)  # the pressure the controller read at the previous step
    integral = np.zeros(n_breaths)
    v = np.zeros(n_breaths)
    for t in range(n_steps):
        if t < inspiratory_steps:
            error = target - seen  # (breaths,)
            trial = integral + error * DT
            u = np.clip(kp * error + ki * trial, 0.0, 100.0)
            # Anti-windup: the sum stops growing while the valve is pinned and the error pushes further.
            pinned = ((u >= 100.0) & (error > 0)) | ((u <= 0.0) & (error < 0))
            integral = np.where(pinned, integral, trial)
            q = gain * Q_MAX * u / 100.0
        else:
            u = np.zeros(n_breaths)
            q = -(v / c - effort[:, t]) / (r + R_EXP)
        v = v + 1000.0 * q * DT
        p = PEEP + r * q + v / c - effort[:, t]
        u_in[:, t], flow[:, t], volume[:, t], pressure[:, t] = u, q, v, p
        seen = p + noise[:, t] if controller_sees_noise else p

    steps = np.arange(n_steps)
    as_tensor = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float32)
    return Breaths(
        r=as_tensor(np.repeat(r[:, None], n_steps, axis=1)),
        c=as_tensor(np.repeat(c[:, None], n_steps, axis=1)),
        u_in=as_tensor(u_in),
        u_out=as_tensor(np.broadcast_to(steps >= inspiratory_steps, (n_breaths, n_steps))),
        time=as_tensor(np.broadcast_to(steps * DT, (n_breaths, n_steps))),
        pressure=as_tensor(pressure + noise),
        true_pressure=as_tensor(pressure),
        flow=as_tensor(flow),
        volume=as_tensor(volume),
        effort=as_tensor(effort),
        gain=as_tensor(gain),
        target=as_tensor(target),
        noise_sigma=float(noise_sigma),
    )


def split_breaths(
    breaths: Breaths, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[Breaths, Breaths, Breaths]:
    """Split by breath (never by step) into train, validation and test, shuffled with ``seed``."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions: expected three positive numbers that sum to 1, got {fractions!r}")
    n = len(breaths)
    order = torch.as_tensor(np.random.default_rng(seed).permutation(n))
    n_train, n_val = int(round(fractions[0] * n)), int(round(fractions[1] * n))
    if min(n_train, n_val, n - n_train - n_val) < 1:
        raise ValueError(f"breaths: {n} are too few to split by {fractions!r} with every part non-empty")
    parts = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    return tuple(breaths.subset(p) for p in parts)  # type: ignore[return-value]


def breath_features(breaths: Breaths, *, cumulative: bool = True) -> torch.Tensor:
    """Model inputs ``(breaths, steps, features)``, each scaled to about [0, 1]:

    ``R / 50``, ``C / 50``, ``u_in / 100``, ``u_out``, ``time / duration`` (3 s) and, with
    ``cumulative=True``, ``sum(u_in[:t+1]) * dt / 100`` in seconds (the volume the valve let in,
    up to the unknown gain and ``Q_MAX``: feature engineering the competition's best solutions used).
    """
    duration = N_STEPS * DT  # 3 s: a fixed scale, so a breath cut short keeps the same features
    columns = [breaths.r / 50, breaths.c / 50, breaths.u_in / 100, breaths.u_out, breaths.time / duration]
    if cumulative:
        columns.append(torch.cumsum(breaths.u_in, dim=1) * DT / 100)
    return torch.stack(columns, dim=-1)


def noise_floor(noise_sigma: float) -> float:
    """The smallest expected MAE against noisy targets: ``E|noise| = sigma * sqrt(2 / pi)`` cmH2O."""
    if not math.isfinite(noise_sigma) or noise_sigma < 0:
        raise ValueError(f"noise_sigma: expected a non-negative number, got {noise_sigma!r}")
    return noise_sigma * math.sqrt(2 / math.pi)


def inspiratory_mae(prediction: torch.Tensor, breaths: Breaths) -> float:
    """Mean absolute error over inspiratory steps (``u_out == 0``) only, as the competition scored it."""
    if not isinstance(prediction, torch.Tensor) or prediction.shape != breaths.pressure.shape:
        shape = tuple(prediction.shape) if isinstance(prediction, torch.Tensor) else type(prediction).__name__
        expected = tuple(breaths.pressure.shape)
        raise ValueError(f"prediction: expected shape (breaths, steps)={expected}, got {shape}")
    mask = breaths.inspiratory
    return (prediction.detach().float().cpu() - breaths.pressure)[mask].abs().mean().item()


def causal_oracle(breaths: Breaths, effort_correlation: float = EFFORT_CORRELATION) -> torch.Tensor:
    """The best online estimate of the true pressure ``(breaths, steps)``, from hidden physics: a model that
    knew everything up to step ``t-1`` (the patient's effort included) still misses the effort's new push
    at ``t``, whose expectation is 0. Its estimate is ``true_pressure + effort - effort_correlation *
    effort[t-1]`` (the effort before the first step taken as 0); its error is exactly that push."""
    if not 0 <= effort_correlation < 1:
        raise ValueError(f"effort_correlation: expected a number in [0, 1), got {effort_correlation!r}")
    previous = torch.cat([torch.zeros_like(breaths.effort[:, :1]), breaths.effort[:, :-1]], dim=1)  # e[t-1]
    return breaths.true_pressure + breaths.effort - effort_correlation * previous


def rc_step_baseline(train: Breaths, breaths: Breaths) -> torch.Tensor:
    """Baseline prediction ``(breaths, steps)``: the training mean pressure for the same (R, C) and step."""
    prediction = torch.empty_like(breaths.pressure)
    for r in R_VALUES:
        for c in C_VALUES:
            rows = (breaths.r[:, 0] == r) & (breaths.c[:, 0] == c)
            if not rows.any():
                continue
            seen = (train.r[:, 0] == r) & (train.c[:, 0] == c)
            if not seen.any():
                raise ValueError(f"train: has no breath with R={r}, C={c}, which breaths need")
            prediction[rows] = train.pressure[seen].mean(dim=0)
    return prediction
