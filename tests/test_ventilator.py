"""The ventilator simulator: physics, determinism, splits, features, metric and bad input."""

import math

import pytest
import torch

from lecture_utils.data.ventilator import (
    DT,
    FEATURE_NAMES,
    PEEP,
    breath_features,
    causal_oracle,
    inspiratory_mae,
    noise_floor,
    rc_step_baseline,
    simulate_breaths,
    split_breaths,
)


@pytest.fixture(scope="module")
def breaths():
    return simulate_breaths(400, seed=3)


@pytest.mark.parametrize("effort_sigma", [0.0, 3.0])
def test_noiseless_pressure_satisfies_the_lung_equation(effort_sigma):
    b = simulate_breaths(200, seed=1, noise_sigma=0.0, effort_sigma=effort_sigma)
    expected = PEEP + b.r * b.flow + b.volume / b.c - b.effort
    assert torch.allclose(b.pressure, expected, atol=1e-4)
    assert torch.equal(b.pressure, b.true_pressure)
    assert (b.effort == 0).all() == (effort_sigma == 0)
    # volume integrates the flow (mL = 1000 * L/s * s)
    assert torch.allclose(torch.cumsum(1000 * b.flow * DT, dim=1), b.volume, atol=1e-2)


def test_inspiration_and_expiration_phases(breaths):
    insp = breaths.inspiratory
    assert insp[:, :30].all() and not insp[:, 30:].any()
    assert (breaths.u_in[:, 30:] == 0).all()
    assert (breaths.u_in >= 0).all() and (breaths.u_in <= 100).all()
    # inflow during inspiration is the valve opening times the hidden gain
    expected = breaths.gain[:, None] * breaths.u_in[:, :30] / 100
    assert torch.allclose(breaths.flow[:, :30], expected, atol=1e-6)
    assert (simulate_breaths(100, seed=3, effort_sigma=0.0).flow[:, 30:] <= 0).all()  # without effort the lung empties
    assert set(breaths.r[:, 0].tolist()) == {5.0, 20.0, 50.0}
    assert set(breaths.c[:, 0].tolist()) == {10.0, 20.0, 50.0}
    assert 0.6 <= breaths.gain.min().item() and breaths.gain.max().item() <= 1.4


def test_noise_has_the_stated_sigma(breaths):
    noise = breaths.pressure - breaths.true_pressure
    assert abs(noise.std().item() - 0.5) < 0.02
    assert abs(noise.abs().mean().item() - noise_floor(0.5)) < 0.02
    assert math.isclose(noise_floor(1.0), math.sqrt(2 / math.pi))


def test_deterministic_by_seed():
    a, b, c = simulate_breaths(50, seed=7), simulate_breaths(50, seed=7), simulate_breaths(50, seed=8)
    assert torch.equal(a.pressure, b.pressure) and torch.equal(a.u_in, b.u_in)
    assert not torch.equal(a.pressure, c.pressure)


def test_controller_reading_the_noise_changes_only_the_inputs():
    clean = simulate_breaths(50, seed=2)
    leaky = simulate_breaths(50, seed=2, controller_sees_noise=True)
    assert torch.equal(clean.gain, leaky.gain)
    assert torch.equal(clean.u_in[:, 0], leaky.u_in[:, 0])  # nothing measured before the first step
    assert not torch.equal(clean.u_in, leaky.u_in)


def test_splits_are_disjoint_and_cover_everything(breaths):
    train, val, test = split_breaths(breaths, seed=0)
    assert (len(train), len(val), len(test)) == (320, 40, 40)
    keys = [set(map(tuple, part.pressure[:, :5].tolist())) for part in (train, val, test)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    assert sum(map(len, keys)) == len(breaths)
    again = split_breaths(breaths, seed=0)[2]
    assert torch.equal(again.pressure, test.pressure)


def test_features_shape_and_scale(breaths):
    x = breath_features(breaths)
    assert x.shape == (400, 80, len(FEATURE_NAMES))
    assert breath_features(breaths, cumulative=False).shape == (400, 80, 5)
    assert x.min() >= 0 and x[..., :5].max() <= 1
    assert torch.allclose(x[..., 5], torch.cumsum(breaths.u_in, 1) * DT / 100)


def test_metric_and_baseline(breaths):
    train, _, test = split_breaths(breaths)
    assert inspiratory_mae(test.true_pressure, test) == pytest.approx(
        (test.true_pressure - test.pressure)[:, :30].abs().mean().item()
    )
    # errors on expiratory steps are not scored
    shifted = test.pressure.clone()
    shifted[:, 30:] += 100
    assert inspiratory_mae(shifted, test) == 0.0
    baseline = inspiratory_mae(rc_step_baseline(train, test), test)
    assert noise_floor(0.5) * 4 < baseline < 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_breaths": 0}, "n_breaths: expected a positive int"),
        ({"n_breaths": 10, "n_steps": -1}, "n_steps: expected a positive int"),
        ({"n_breaths": 10, "noise_sigma": -0.1}, "noise_sigma: expected a non-negative"),
        ({"n_breaths": 10, "r_values": (5, 7)}, r"r_values: expected a non-empty subset of \(5, 20, 50\)"),
        ({"n_breaths": 10, "c_values": (30,)}, r"c_values: expected a non-empty subset of \(10, 20, 50\)"),
        ({"n_breaths": 10, "gain_range": (0.0, 1.0)}, "gain_range"),
        ({"n_breaths": 10, "effort_sigma": -1.0}, "effort_sigma: expected a non-negative"),
        ({"n_breaths": 10, "effort_correlation": 1.0}, r"effort_correlation: expected a number in \[0, 1\)"),
        ({"n_breaths": 10, "inspiratory_steps": 80}, "inspiratory_steps"),
    ],
)
def test_bad_simulator_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_breaths(**kwargs)


def test_bad_metric_and_split_input(breaths):
    with pytest.raises(ValueError, match=r"expected shape \(breaths, steps\)=\(400, 80\)"):
        inspiratory_mae(torch.zeros(400, 79), breaths)
    with pytest.raises(ValueError, match="fractions"):
        split_breaths(breaths, (0.5, 0.5, 0.0))
    with pytest.raises(ValueError, match="too few"):
        split_breaths(simulate_breaths(2), (0.8, 0.1, 0.1))
    with pytest.raises(ValueError, match="noise_sigma"):
        noise_floor(-1.0)


def test_breath_plots_draw_and_reject_bad_shapes(breaths):
    import matplotlib

    matplotlib.use("Agg")
    from lecture_utils.plots import plot_breath, plot_error_by_step

    ax = plot_breath(breaths.time[0], {"measured": breaths.pressure[0], "true": breaths.true_pressure[0]},
                     inspiration=breaths.inspiratory[0])
    assert len(ax.lines) == 2
    with pytest.raises(ValueError, match=r"traces\['true'\]: expected shape \(steps,\)=\(80,\)"):
        plot_breath(breaths.time[0], {"true": breaths.pressure[:2]})
    ax = plot_error_by_step({"a": torch.ones(30), "b": torch.full((30,), 2.0)}, floor=0.4)
    assert len(ax.lines) == 3  # two models and the floor
    with pytest.raises(ValueError, match=r"errors\['a'\]: expected a 1-D array"):
        plot_error_by_step({"a": torch.ones(3, 30)})


def test_expiration_empties_the_lung_through_both_resistances():
    """During expiration the volume decays by the factor 1 - dt / ((R + R_EXP) C) per step (C in L/cmH2O)."""
    from lecture_utils.data.ventilator import INSPIRATORY_STEPS, R_EXP

    b = simulate_breaths(300, seed=2, noise_sigma=0.0, effort_sigma=0.0)
    v = b.volume[:, INSPIRATORY_STEPS - 1 :].double()  # (breaths, expiratory steps + 1)
    tau = (b.r[:, 0].double() + R_EXP) * b.c[:, 0].double() / 1000.0  # s
    expected = v[:, :-1] * (1 - DT / tau)[:, None]
    assert torch.allclose(v[:, 1:], expected, rtol=1e-4, atol=1e-3)
    # without the expiratory valve the decay would differ by far more than the tolerance
    assert not torch.allclose(v[:, 1:], v[:, :-1] * (1 - DT / (b.r[:, 0].double() * b.c[:, 0] / 1000.0))[:, None],
                              rtol=1e-2, atol=1.0)


def test_controller_is_the_documented_pi_law_with_anti_windup():
    """u_in re-derived from the recorded pressures with the docstring's PI law; the sum pauses while pinned."""
    from lecture_utils.data.ventilator import INSPIRATORY_STEPS, KI, KP

    # a strong effort (10 cmH2O) pushes the pressure far enough for the valve to pin at 0 or 100 %
    b = simulate_breaths(300, seed=4, noise_sigma=0.0, effort_sigma=10.0)
    p, target = b.true_pressure.double(), b.target.double()
    integral = torch.zeros(len(b), dtype=torch.float64)
    seen = torch.full((len(b),), PEEP, dtype=torch.float64)
    pinned_somewhere = torch.zeros(len(b), dtype=torch.bool)
    for t in range(INSPIRATORY_STEPS):
        error = target - seen
        trial = integral + error * DT
        u = (KP * error + KI * trial).clamp(0.0, 100.0)
        pinned = ((u >= 100.0) & (error > 0)) | ((u <= 0.0) & (error < 0))
        pinned_somewhere |= pinned
        integral = torch.where(pinned, integral, trial)
        assert torch.allclose(b.u_in[:, t].double(), u, atol=1e-3), f"step {t}"
        seen = p[:, t]
    assert pinned_somewhere.sum() >= 10, "the check needs breaths whose valve is pinned (where anti-windup acts)"


def test_effort_is_a_slow_ar1_process_with_the_stated_spread():
    """Stationary: std effort_sigma at every step; neighbouring steps correlate by effort_correlation."""
    b = simulate_breaths(4000, seed=5, effort_sigma=2.0, effort_correlation=0.8)
    e = b.effort.double()
    assert abs(e[:, 0].std().item() - 2.0) < 0.1 and abs(e[:, -1].std().item() - 2.0) < 0.1
    lag1 = torch.corrcoef(torch.stack([e[:, 10:60].flatten(), e[:, 11:61].flatten()]))[0, 1].item()
    lag5 = torch.corrcoef(torch.stack([e[:, 10:60].flatten(), e[:, 15:65].flatten()]))[0, 1].item()
    assert abs(lag1 - 0.8) < 0.02 and abs(lag5 - 0.8**5) < 0.03
    # the innovation of one step is what no past input can tell: its spread is sigma * sqrt(1 - a^2)
    innovation = e[:, 1:] - 0.8 * e[:, :-1]
    assert abs(innovation.std().item() - 2.0 * math.sqrt(1 - 0.8**2)) < 0.05


def test_the_next_input_reveals_the_present_true_pressure():
    """A clean-sensor controller: u_in[t + 1] and the past inputs give p[t] exactly (where the valve is not pinned)."""
    from lecture_utils.data.ventilator import INSPIRATORY_STEPS, KI, KP

    b = simulate_breaths(300, seed=6, noise_sigma=0.5)
    u = b.u_in.double()
    target = PEEP + u[:, 0] / (KP + KI * DT)  # u_in[0] = (KP + KI dt)(target - PEEP)
    assert torch.allclose(target, b.target.double(), atol=1e-3)
    integral = (target - PEEP) * DT
    for t in range(INSPIRATORY_STEPS - 1):
        free = (u[:, t + 1] > 0) & (u[:, t + 1] < 100)
        error = (u[:, t + 1] - KI * integral) / (KP + KI * DT)  # u[t+1] = KP e + KI (integral + e dt)
        assert torch.allclose((target - error)[free], b.true_pressure[free, t].double(), atol=2e-3), f"step {t}"
        assert free.float().mean() > 0.5
        integral = torch.where(free, integral + error * DT, integral)  # pinned breaths are not followed further
        b_free = free
    assert b_free.any()


def test_controller_does_not_ring_and_moves_towards_its_target():
    """Without effort and noise: u_in never flips direction on 4 steps in a row; late pressure near the target."""
    b = simulate_breaths(3000, seed=7, noise_sigma=0.0, effort_sigma=0.0)
    du = torch.diff(b.u_in[:, :12], dim=1)
    flips = (torch.sign(du[:, 1:]) * torch.sign(du[:, :-1]) < 0).int()  # (breaths, 10)
    run = flips[:, :-3] * flips[:, 1:-2] * flips[:, 2:-1] * flips[:, 3:]
    assert not run.any(), "u_in alternates up and down (the controller rings)"
    late = (b.true_pressure[:, 20:30] - b.target[:, None]).abs().mean(1)
    start = b.target - PEEP
    for c in (10.0, 20.0):
        rows = b.c[:, 0] == c
        assert (late[rows] / start[rows]).mean() < 0.5, f"C={c}: the controller does not approach its target"


def test_first_steps_cuts_every_per_step_field_and_keeps_the_rest(breaths):
    cut = breaths.first_steps(32)
    assert cut.pressure.shape == cut.u_in.shape == cut.effort.shape == (400, 32)
    assert torch.equal(cut.pressure, breaths.pressure[:, :32]) and torch.equal(cut.r, breaths.r[:, :32])
    assert torch.equal(cut.gain, breaths.gain) and cut.noise_sigma == breaths.noise_sigma
    assert torch.equal(breath_features(cut), breath_features(breaths)[:, :32])  # features are causal in time
    with pytest.raises(ValueError, match=r"n_steps: expected an int in \[1, 80\]"):
        breaths.first_steps(81)


def test_during_expiration_the_effort_drives_flow_through_both_resistances():
    """q[t] = -(V[t-1] / C - effort[t]) / (R + R_EXP) on every expiratory step (C in mL/cmH2O)."""
    from lecture_utils.data.ventilator import INSPIRATORY_STEPS, R_EXP

    b = simulate_breaths(200, seed=8, noise_sigma=0.0, effort_sigma=3.0)
    v_before = b.volume[:, INSPIRATORY_STEPS - 1 : -1].double()
    expected = -(v_before / b.c[:, INSPIRATORY_STEPS:] - b.effort[:, INSPIRATORY_STEPS:]) / (b.r[:, 30:] + R_EXP)
    assert torch.allclose(b.flow[:, INSPIRATORY_STEPS:].double(), expected, atol=1e-5)
    assert (b.flow[:, INSPIRATORY_STEPS:] > 0).any(), "a strong enough effort draws air in during expiration"


def test_first_version_has_no_effort_and_the_old_gains():
    """VENTILATOR_V1 (notebook 04's data): no effort, u_in[0] = (1 + 15 dt)(target - PEEP), and it rings at R = 50."""
    from lecture_utils.data.ventilator import VENTILATOR_V1

    b = simulate_breaths(400, seed=0, noise_sigma=0.0, **VENTILATOR_V1)
    assert (b.effort == 0).all()
    assert torch.allclose(b.u_in[:, 0], (1 + 15 * DT) * (b.target - PEEP), atol=1e-4)
    du = torch.diff(b.u_in[b.r[:, 0] == 50, :12], dim=1)
    assert ((torch.sign(du[:, 1:]) * torch.sign(du[:, :-1])) < 0).float().mean() > 0.5
    with pytest.raises(ValueError, match="controller_gains"):
        simulate_breaths(10, controller_gains=(-1.0, 15.0))


def test_causal_oracle_misses_only_the_efforts_new_push():
    """Its error from step 1 on is the effort's innovation: spread sigma * sqrt(1 - 0.9^2), no memory from one
    step to the next; the right correlation beats a wrong one; without effort it is the true pressure."""
    b = simulate_breaths(2000, seed=8)
    error = (b.true_pressure - causal_oracle(b))[:, 1:]  # (breaths, steps - 1)
    assert error.std().item() == pytest.approx(3.0 * math.sqrt(1 - 0.9**2), rel=0.03)
    lag1 = torch.corrcoef(torch.stack([error[:, 1:].flatten(), error[:, :-1].flatten()]))[0, 1]
    assert abs(lag1.item()) < 0.02
    mae = {rho: (b.true_pressure - causal_oracle(b, rho)).abs().mean().item() for rho in (0.0, 0.8, 0.9, 0.99)}
    assert mae[0.9] == min(mae.values())
    calm = simulate_breaths(20, seed=8, effort_sigma=0.0)
    assert torch.equal(causal_oracle(calm), calm.true_pressure)
    with pytest.raises(ValueError, match="effort_correlation"):
        causal_oracle(b, 1.0)


def test_baseline_is_the_training_mean_for_the_same_r_c_and_step():
    """Pressures made a known function of (R, C, step): the baseline must give that function back exactly."""
    import dataclasses

    def known(b):
        steps = torch.arange(b.pressure.shape[1], dtype=torch.float32)
        return dataclasses.replace(b, pressure=1000 * b.r + 10 * b.c + steps)

    train, test = known(simulate_breaths(300, seed=1)), known(simulate_breaths(60, seed=2))
    assert torch.allclose(rc_step_baseline(train, test), test.pressure)


def test_features_are_the_documented_columns_and_scales(breaths):
    x = breath_features(breaths)  # (breaths, steps, 6)
    columns = [breaths.r / 50, breaths.c / 50, breaths.u_in / 100, breaths.u_out, breaths.time / 3.0,
               torch.cumsum(breaths.u_in, dim=1) * DT / 100]
    assert all(torch.allclose(x[..., i], col) for i, col in enumerate(columns))
    assert torch.allclose(breaths.time[0], torch.arange(80) * DT)  # seconds since the breath began
    assert breaths.noise_sigma == 0.5


def test_split_sizes_follow_each_fraction_and_allow_a_part_of_one():
    b = simulate_breaths(100, seed=0)
    assert [len(p) for p in split_breaths(b, (0.6, 0.3, 0.1))] == [60, 30, 10]
    assert [len(p) for p in split_breaths(b, (0.98, 0.01, 0.01))] == [98, 1, 1]
    with pytest.raises(ValueError, match="too few"):
        split_breaths(b, (0.995, 0.004, 0.001))


def test_effort_starts_stationary_and_targets_cover_their_range():
    """Every step's effort, the first included, has spread sigma, and steps 0 and 1 correlate like any two
    neighbours; the targets spread over PEEP + (10, 30) cmH2O."""
    b = simulate_breaths(4000, seed=5, effort_sigma=3.0)
    spread = b.effort.std(dim=0)  # (steps,)
    assert ((spread > 2.8) & (spread < 3.2)).all()
    first = torch.corrcoef(torch.stack([b.effort[:, 0], b.effort[:, 1]]))[0, 1].item()
    assert first == pytest.approx(0.9, abs=0.02)
    assert PEEP + 10 <= b.target.min().item() < PEEP + 11 and PEEP + 29 < b.target.max().item() <= PEEP + 30


def test_a_leaky_controller_reads_the_measured_pressure():
    """With controller_sees_noise, inverting the PI law at step 1 gives back the measured (noisy) pressure of
    step 0, not the true one."""
    from lecture_utils.data.ventilator import KI, KP

    b = simulate_breaths(300, seed=6, noise_sigma=2.0, controller_sees_noise=True)
    u, target = b.u_in.double(), b.target.double()
    integral = (target - PEEP) * DT
    free = (u[:, 1] > 0) & (u[:, 1] < 100)
    error = (u[:, 1] - KI * integral) / (KP + KI * DT)
    assert free.float().mean() > 0.5
    assert torch.allclose((target - error)[free], b.pressure[free, 0].double(), atol=2e-3)


def test_the_smallest_valid_settings_are_accepted():
    b = simulate_breaths(1, n_steps=2, inspiratory_steps=1, effort_correlation=0.0, controller_gains=(0.0, 0.0),
                         gain_range=(1.0, 1.0))
    assert (b.u_in == 0).all()  # no gain, no opening
    assert b.first_steps(1).u_in.shape == (1, 1) and b.first_steps(2).u_in.shape == (1, 2)
