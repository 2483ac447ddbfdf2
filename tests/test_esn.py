"""The echo-state network: exact spectral radius, echo-state property, ridge readout, seeds, errors."""


import numpy as np
import pytest
import torch

from lecture_utils.data.reservoir_tasks import mackey_glass, scale_to_unit_range
from lecture_utils.linalg import spectral_radius
from lecture_utils.models.esn import (
    EchoStateNetwork,
    _unscaled_reservoir,
    fit_and_free_run,
    free_run_errors,
    memory_capacity,
    nrmse,
    ridge_readout,
    ridge_readouts,
)


@pytest.fixture(scope="module")
def series() -> torch.Tensor:
    return torch.from_numpy(scale_to_unit_range(mackey_glass(1400)))[:, None]  # (time, 1), float64


@pytest.mark.parametrize("units", [50, 300, 1000])
def test_spectral_radius_is_exact(units):
    esn = EchoStateNetwork(1, units, spectral_radius=0.9, seed=units)
    for w in (esn.w_dense, esn.w.to_dense()):  # the float64 draw and the float32 CSR matrix in use
        rho = np.abs(np.linalg.eigvals(w.double().numpy())).max()  # independent of torch's solver
        assert abs(rho - 0.9) < 1e-6
    assert spectral_radius(esn.w) == pytest.approx(0.9, abs=1e-6)


def test_echo_state_property_and_its_loss():
    u = torch.rand(400, 1, generator=torch.Generator().manual_seed(0)) * 2 - 1  # (time, 1)

    def final_distance(radius: float) -> float:
        esn = EchoStateNetwork(
            1, 200, spectral_radius=radius, leak_rate=1.0, input_scaling=0.1, seed=1, dtype=torch.float64
        )
        esn.reset(torch.ones(200))
        a = esn.run(u)
        esn.reset(-torch.ones(200))
        b = esn.run(u)
        return float((a[-1] - b[-1]).norm())

    assert final_distance(0.8) < 1e-9  # the initial state is forgotten
    assert final_distance(3.0) > 1e-2  # a strongly expanding reservoir keeps its own dynamics


def test_ridge_readout_equals_least_squares():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 30, generator=g, dtype=torch.float64)
    y = (
        x @ torch.randn(30, 2, generator=g, dtype=torch.float64)
        + 0.1 * torch.randn(200, 2, generator=g, dtype=torch.float64)
        + 3
    )
    ridge = 0.5
    w, b = ridge_readout(x, y, ridge)
    # Reference: least squares on [X 1; sqrt(ridge) I 0] against [Y; 0] (the bias is not penalised).
    design = torch.cat(
        [
            torch.cat([x, torch.ones(200, 1, dtype=torch.float64)], 1),
            torch.cat([ridge**0.5 * torch.eye(30, dtype=torch.float64), torch.zeros(30, 1, dtype=torch.float64)], 1),
        ]
    )
    target = torch.cat([y, torch.zeros(30, 2, dtype=torch.float64)])
    solution = torch.linalg.lstsq(design, target).solution  # (31, 2)
    torch.testing.assert_close(w, solution[:30].T, atol=1e-10, rtol=0)
    torch.testing.assert_close(b, solution[30], atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="samples=200"):
        ridge_readout(x, y[:10], ridge)


def test_fit_predict_generate_and_determinism(series):
    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor, float]:
        esn = EchoStateNetwork(
            1,
            300,
            spectral_radius=1.1,
            leak_rate=1.0,
            input_scaling=0.5,
            bias_scaling=0.2,
            input_connectivity=1.0,
            ridge=1e-8,
            seed=seed,
            dtype=torch.float64,
        )
        esn.fit(series[:1000], series[1:1001], washout=100)
        free = esn.generate(100)  # continues right after the training data
        esn.reset()
        one_step = nrmse(esn.predict(series[1000:1300])[100:], series[1101:1301])  # after a 100-step washout
        return free, esn.w_out, one_step

    free, w_out, one_step = run(0)
    assert one_step < 0.01
    assert nrmse(free[:50], series[1001:1051]) < 0.05  # the free run follows the attractor
    again = run(0)
    torch.testing.assert_close(free, again[0], atol=0, rtol=0)
    torch.testing.assert_close(w_out, again[1], atol=0, rtol=0)
    assert not torch.equal(w_out, run(1)[1])


def test_noise_and_output_feedback(series):
    esn = EchoStateNetwork(1, 100, feedback_scaling=0.3, noise=1e-4, seed=0)
    esn.fit(series[:600], series[1:601], washout=100)
    with pytest.raises(ValueError, match="teacher"):
        esn.predict(series[600:700])
    prediction = esn.predict(series[600:700], teacher=series[601:701])
    assert nrmse(prediction, series[601:701]) < 0.1
    assert esn.generate(20).shape == (20, 1)


def test_free_run_errors(series):
    esn = EchoStateNetwork(1, 100, seed=0).fit(series[:600], series[1:601])
    errors = free_run_errors(esn, series, [700, 900], horizon=84, warmup=100)
    assert errors.shape == (2, 84) and np.all(errors >= 0)
    with pytest.raises(ValueError, match="starts"):
        free_run_errors(esn, series, [50])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spectral_radius": 0.0}, "spectral_radius"),
        ({"spectral_radius": -1.0}, "spectral_radius"),
        ({"leak_rate": 0.0}, r"leak_rate: expected a float in \(0, 1\]"),
        ({"leak_rate": 1.5}, "leak_rate"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EchoStateNetwork(1, 10, **kwargs)


def test_bad_inputs_and_order(series):
    esn = EchoStateNetwork(1, 20, seed=0)
    with pytest.raises(ValueError, match="before a free run"):
        esn.generate(10)
    with pytest.raises(ValueError, match="call fit"):
        esn.predict(series[:10])
    with pytest.raises(ValueError, match=r"input_size=1"):
        esn.fit(torch.zeros(50, 2), torch.zeros(50, 1))
    with pytest.raises(ValueError, match=r"time=50"):
        esn.fit(torch.zeros(50, 1), torch.zeros(40, 1))
    with pytest.raises(ValueError, match="input_size == output_size"):
        EchoStateNetwork(2, 20, output_size=1).fit(torch.zeros(50, 2), torch.zeros(50, 1), washout=10).generate(5)


def test_same_weights_as_reservoirpy(series):
    reservoirpy_nodes = pytest.importorskip("reservoirpy.nodes")
    reservoir = reservoirpy_nodes.Reservoir(100, lr=0.3, sr=0.99, seed=0)
    model = reservoir >> reservoirpy_nodes.Ridge(ridge=1e-4)
    u, y = series[:800].numpy(), series[1:801].numpy()
    model.fit(u, y, warmup=100)
    theirs = model.run(series[800:1000].numpy())
    ours = EchoStateNetwork(
        1,
        100,
        leak_rate=0.3,
        ridge=1e-4,
        dtype=torch.float64,
        weights=(
            reservoir.W.toarray(),
            np.asarray(reservoir.Win.todense()),
            np.zeros(100),
            np.zeros((100, 1)),
        ),
    )
    ours.fit(series[:800], series[1:801], washout=100)
    np.testing.assert_allclose(ours.predict(series[800:1000]).numpy(), theirs, atol=1e-8)


def test_nrmse_definition():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert nrmse(torch.full((4,), 2.5), target) == pytest.approx(1.0)  # the mean predictor scores 1
    assert nrmse(target, target) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        nrmse(target[:3], target)


def test_memory_capacity_bound_and_ring_reservoir():
    units = 20
    base = EchoStateNetwork.random_weights(
        1,
        units,
        1,
        spectral_radius=0.9,
        input_scaling=1e-3,
        bias_scaling=0.0,
        feedback_scaling=0.0,
        connectivity=0.1,
        input_connectivity=1.0,
        seed=0,
    )
    ring = 0.8 * torch.roll(torch.eye(units, dtype=torch.float64), 1, 0)  # a cycle: nearly linear memory
    esn = EchoStateNetwork(1, units, leak_rate=1.0, ridge=1e-14, dtype=torch.float64, weights=(ring, *base[1:]))
    capacity = memory_capacity(esn, max_delay=2 * units, steps=3000)
    assert capacity.shape == (2 * units,) and np.all((capacity >= 0) & (capacity <= 1))
    assert 0.8 * units < capacity.sum() <= units + 0.5  # close to the bound N, never (much) above it
    saturated = EchoStateNetwork(1, units, input_scaling=3.0, input_connectivity=1.0, leak_rate=1.0, seed=0)
    assert memory_capacity(saturated, max_delay=2 * units, steps=3000).sum() < 0.5 * units
    with pytest.raises(ValueError, match="no output feedback"):
        memory_capacity(EchoStateNetwork(1, 10, feedback_scaling=0.5), max_delay=5)


def test_fit_and_free_run(series):
    free = fit_and_free_run(
        series,
        train=1000,
        horizon=60,
        units=200,
        spectral_radius=1.1,
        leak_rate=1.0,
        input_scaling=0.5,
        bias_scaling=0.5,
        input_connectivity=1.0,
        ridge=1e-8,
        dtype=torch.float64,
    )
    assert free.shape == (60, 1)
    assert nrmse(free[:40], series[1001:1041]) < 0.05
    with pytest.raises(ValueError, match="train"):
        fit_and_free_run(series, train=50, horizon=10, units=20)


def test_plot_free_run_and_widget(series):
    import matplotlib

    matplotlib.use("Agg")
    from lecture_utils.plots import plot_free_run
    from lecture_utils.widgets import esn_free_run_explorer

    ax = plot_free_run(series[:50], series[1:51], mark=10, title="t")
    assert len(ax.lines) == 3  # truth, free run, the mark
    with pytest.raises(ValueError, match="same length"):
        plot_free_run(series[:50], series[:40])
    with pytest.raises(ValueError, match=r"\(time,\) or \(time, 1\)"):
        plot_free_run(torch.zeros(5, 2), torch.zeros(5, 2))
    widget = esn_free_run_explorer(series, train=600, horizon=50, units=50, seed=0)
    # three sliders (spectral radius, leak rate, input scaling) starting at the free-run settings
    assert [c.value for c in widget.children[:3]] == [1.1, 1.0, 0.5]
    with pytest.raises(ValueError, match="horizon"):
        esn_free_run_explorer(series, train=1300, horizon=500)


@pytest.mark.parametrize("leak_rate", [0.3, 1.0])
def test_numpy_dense_loop_equals_the_torch_sparse_loop(series, leak_rate):
    dense = EchoStateNetwork(1, 60, leak_rate=leak_rate, bias_scaling=0.2, seed=4, dtype=torch.float64)
    sparse = EchoStateNetwork(1, 60, leak_rate=leak_rate, bias_scaling=0.2, seed=4, dtype=torch.float64)
    assert dense.dense
    sparse.dense, sparse.w = False, EchoStateNetwork._csr(sparse.w_dense)  # force the torch CSR loop
    a, b = dense.run(series[:300]), sparse.run(series[:300])
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    torch.testing.assert_close(dense.state, b[-1], atol=1e-12, rtol=0)  # the state carries over
    torch.testing.assert_close(dense.run(series[300:310]), sparse.run(series[300:310]), atol=1e-12, rtol=0)


@pytest.mark.parametrize("where", ["inputs", "targets"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_fit_rejects_non_finite_values(series, where, bad):
    inputs, targets = series[:400].clone(), series[1:401].clone()
    (inputs if where == "inputs" else targets)[137, 0] = bad
    esn = EchoStateNetwork(1, 30, seed=0)
    with pytest.raises(ValueError, match=rf"{where}: expected finite values, found NaN or infinity at step 137"):
        esn.fit(inputs, targets, washout=50)
    assert not esn.is_fitted  # nothing half-trained is left behind


def test_ridge_readout_rejects_non_finite_states():
    states = torch.zeros(20, 3)
    states[5, 1] = float("nan")
    with pytest.raises(ValueError, match="states: expected finite values.*step 5"):
        ridge_readout(states, torch.zeros(20, 1), 1e-3)
    with pytest.raises(ValueError, match="inputs: expected finite values"):
        EchoStateNetwork(1, 10, seed=0).run(torch.tensor([[0.0], [float("-inf")]]))


def test_ridge_readout_rejects_non_finite_targets_and_solves_a_singular_unpenalised_problem():
    targets = torch.zeros(20, 1)
    targets[3, 0] = float("inf")
    with pytest.raises(ValueError, match="targets: expected finite values.*step 3"):
        ridge_readout(torch.randn(20, 3), targets, 1e-3)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 1, generator=g, dtype=torch.float64).repeat(1, 2)  # two equal columns: X^T X is singular
    y = 2 * x[:, :1] + 1
    w, b = ridge_readout(x, y, 0.0)  # ridge 0 is allowed; the Cholesky fails, least squares takes over
    torch.testing.assert_close(x @ w.T + b, y, atol=1e-9, rtol=0)


def test_free_run_errors_compare_each_prediction_with_the_next_true_value():
    """On a sine the fitted ESN continues almost exactly: near-zero errors when aligned, about the step's
    change (the sine's slope) when compared with the series shifted by one step."""
    t = torch.arange(1200, dtype=torch.float64)[:, None]
    sine = torch.sin(2 * torch.pi * t / 25)  # (1200, 1): one period every 25 steps
    esn = EchoStateNetwork(1, 100, seed=0, leak_rate=1.0, input_connectivity=1.0, dtype=torch.float64,
                           ridge=1e-10).fit(sine[:800], sine[1:801], washout=100)
    errors = free_run_errors(esn, sine, [900, 1000], horizon=20, warmup=100)
    assert errors.max() < 0.02
    shifted = np.abs(np.sin(2 * np.pi * np.arange(1, 21) / 25) - np.sin(2 * np.pi * np.arange(20) / 25))
    assert shifted.mean() / float(sine.std()) > 0.2  # what a one-step misalignment would cost


# ---- contracts the mutation run (make mutate) found untested ---------------------------------------------------


def _sine(steps: int = 400) -> torch.Tensor:
    return 3.0 * torch.sin(torch.arange(steps, dtype=torch.float64) * 0.2)[:, None]  # (time, 1), std != 1


def _fitted(feedback: float = 0.0, units: int = 40) -> EchoStateNetwork:
    esn = EchoStateNetwork(1, units, spectral_radius=0.9, input_scaling=0.3, feedback_scaling=feedback, seed=3,
                           dtype=torch.float64)
    series = _sine()
    return esn.fit(series[:300], series[1:301], washout=50)


@pytest.mark.parametrize("units", [40, 500])  # a dense W and a sparse one (above DENSE_UP_TO)
@pytest.mark.parametrize("feedback", [0.0, 0.5])
def test_free_run_errors_are_the_documented_free_runs(feedback, units):
    """All runs go at once in free_run_errors; each is the loop of predict and generate, summed in another order."""
    series, esn = _sine(), _fitted(feedback, units)
    got = free_run_errors(esn, series, [30, 200], horizon=5, warmup=30)
    for i, s in enumerate([30, 200]):
        esn.reset()
        esn.predict(series[s - 30 : s], teacher=series[s - 30 + 1 : s + 1] if feedback else None)
        free = esn.generate(5, first_input=series[s])  # (5, 1), from the true value at s
        expected = (free - series[s + 1 : s + 6]).abs().squeeze(1) / series.std()
        np.testing.assert_allclose(got[i], expected.numpy(), rtol=0, atol=1e-12)


def test_free_run_errors_defaults_and_limits():
    series, esn = _sine(), _fitted()
    assert free_run_errors(esn, series, [100]).shape == (1, 84)  # warmup 100, horizon 84 (Jaeger & Haas' step 84)
    last = series.shape[0] - 5 - 1
    assert free_run_errors(esn, series, [1, last], horizon=5, warmup=1).shape == (2, 5)
    assert free_run_errors(esn, series, [10], horizon=1, warmup=10).shape == (1, 1)
    for starts, horizon, warmup in [([last + 1], 5, 1), ([9], 5, 10), ([10], 0, 10), ([10], 5, 0)]:
        with pytest.raises(ValueError):
            free_run_errors(esn, series, starts, horizon=horizon, warmup=warmup)


def test_nrmse_of_arrays_and_trainable_tensors_and_a_constant_target():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    assert nrmse(np.full(4, 1.5), t) == pytest.approx(1.0)  # the mean scores 1
    assert nrmse(torch.tensor(t, requires_grad=True), torch.from_numpy(t)) == 0.0
    with pytest.raises(ValueError, match="non-constant"):
        nrmse(t, np.zeros(4))


def _silent(units: int = 6, **kwargs) -> EchoStateNetwork:
    """An ESN whose weights are all zero: its states are tanh of the noise alone (leak rate 1)."""
    zeros = (torch.zeros(units, units), torch.zeros(units, 1), torch.zeros(units), torch.zeros(units, 1))
    return EchoStateNetwork(1, units, leak_rate=1.0, weights=zeros, dtype=torch.float64, **kwargs)


def test_noise_is_uniform_in_its_amplitude_new_at_each_step_and_unit_and_repeatable():
    drawn = torch.atanh(_silent(seed=5).run(torch.zeros(2000, 1), noise=0.5))  # (time, units)
    assert drawn.abs().max() <= 0.5 and drawn.max() > 0.49 and drawn.min() < -0.49
    assert abs(float(drawn.mean())) < 0.02 and float(drawn.std()) == pytest.approx(0.5 / 3**0.5, rel=0.05)
    assert not torch.equal(drawn[0], drawn[1]) and not torch.equal(drawn[:, 0], drawn[:, 1])
    assert torch.equal(torch.atanh(_silent(seed=5).run(torch.zeros(2000, 1), noise=0.5)), drawn)
    assert torch.equal(_silent(seed=5).run(torch.zeros(5, 1)), torch.zeros(5, 6))  # noise 0: nothing


def test_fit_uses_the_network_noise():
    series = _sine()
    quiet, noisy = (EchoStateNetwork(1, 30, noise=n, seed=1, dtype=torch.float64) for n in (0.0, 0.1))
    quiet.fit(series[:300], series[1:301]), noisy.fit(series[:300], series[1:301])
    assert not torch.allclose(quiet.w_out, noisy.w_out)


def test_predict_and_generate_continue_where_they_left_off():
    series, esn = _sine(), _fitted()
    esn.reset()
    out = esn.predict(series[:20])
    after_predict = esn.generate(3)
    esn.reset()
    esn.predict(series[:20])
    assert torch.equal(esn.generate(3, first_input=out[-1]), after_predict)  # the last output is the next input
    esn.reset()
    esn.predict(series[:20], teacher=series[1:21])
    with_teacher = esn.generate(3)
    esn.reset()
    esn.predict(series[:20])
    assert torch.equal(esn.generate(3, first_input=series[20]), with_teacher)  # a teacher's last value wins
    esn.reset()
    esn.predict(series[:20])
    assert not torch.equal(esn.generate(3, first_input=torch.tensor([0.7], dtype=torch.float64)), after_predict)
    esn.reset()
    esn.predict(series[:20])
    whole = esn.generate(7)
    esn.reset()
    esn.predict(series[:20])
    assert torch.equal(torch.cat([esn.generate(4), esn.generate(3)]), whole)  # state and last output carried on
    assert esn.generate(0).shape == (0, 1)
    before = esn.last_output.clone()
    assert esn.predict(series[:0]).shape == (0, 1) and torch.equal(esn.last_output, before)


def test_fit_washout_default_and_limits():
    series = _sine()
    default = EchoStateNetwork(1, 30, seed=2, dtype=torch.float64).fit(series[:200], series[1:201])
    explicit = EchoStateNetwork(1, 30, seed=2, dtype=torch.float64).fit(series[:200], series[1:201], washout=100)
    assert torch.equal(default.w_out, explicit.w_out)
    EchoStateNetwork(1, 30, seed=2).fit(series[:200], series[1:201], washout=0)  # no washout is allowed
    with pytest.raises(ValueError, match="washout"):
        EchoStateNetwork(1, 30, seed=2).fit(series[:200], series[1:201], washout=200)


def test_fit_and_free_run_passes_its_settings_and_checks_its_limits():
    series = _sine()
    got = fit_and_free_run(series, train=150, horizon=4, units=30, washout=50, seed=7, spectral_radius=0.5)
    esn = EchoStateNetwork(1, 30, seed=7, spectral_radius=0.5)
    esn.fit(series[:150], series[1:151], washout=50)
    assert torch.equal(got, esn.generate(4))
    assert torch.equal(fit_and_free_run(series, train=150, horizon=4, units=30),
                       fit_and_free_run(series, train=150, horizon=4, units=30, washout=100))
    n = series.shape[0]
    for train in (101, n - 2):
        assert fit_and_free_run(series, train=train, horizon=1, units=10).shape == (1, 1)
    for train in (100, n - 1):
        with pytest.raises(ValueError, match="train"):
            fit_and_free_run(series, train=train, horizon=1, units=10)


def test_memory_capacity_defaults_length_and_limits():
    esn = EchoStateNetwork(1, 20, spectral_radius=0.9, input_scaling=0.1, input_connectivity=1.0, seed=0)
    mc = memory_capacity(esn, max_delay=3)
    assert mc.shape == (3,) and mc[0] > 0.8  # one value per delay 1..3; the last input is well remembered
    np.testing.assert_array_equal(mc, memory_capacity(esn, max_delay=3, steps=4000, washout=200, seed=0))
    assert memory_capacity(esn, max_delay=1, steps=2 * (10 + 1) + 1, washout=10).shape == (1,)
    for max_delay, steps in [(0, 4000), (2, 2 * (10 + 2))]:
        with pytest.raises(ValueError, match="max_delay"):
            memory_capacity(esn, max_delay=max_delay, steps=steps, washout=10)


# ---- the pieces of notebook 05's search: several ridges from one Gram matrix, several readouts from one warm-up --


def test_ridge_readouts_solve_each_penalty_like_least_squares():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(120, 8, generator=g, dtype=torch.float64)
    noise = 0.3 * torch.randn(120, 1, generator=g, dtype=torch.float64)
    y = x @ torch.randn(8, 1, generator=g, dtype=torch.float64) + noise - 2
    ridges = [0.0, 0.7, 40.0]
    solutions = ridge_readouts(x, y, ridges)
    assert len(solutions) == 3
    for ridge, (w, b) in zip(ridges, solutions, strict=True):
        design = torch.cat([torch.cat([x, torch.ones(120, 1, dtype=torch.float64)], 1),
                            torch.cat([ridge**0.5 * torch.eye(8, dtype=torch.float64),
                                       torch.zeros(8, 1, dtype=torch.float64)], 1)])
        reference = torch.linalg.lstsq(design, torch.cat([y, torch.zeros(8, 1, dtype=torch.float64)])).solution
        torch.testing.assert_close(w, reference[:8].T, atol=1e-10, rtol=0)
        torch.testing.assert_close(b, reference[8], atol=1e-10, rtol=0)
    assert solutions[2][0].norm() < solutions[1][0].norm() < solutions[0][0].norm()  # a larger penalty shrinks W_out
    for bad in ([], [1e-3, -1e-3]):
        with pytest.raises(ValueError, match="ridge"):
            ridge_readouts(x, y, bad)


@pytest.mark.parametrize("feedback", [0.0, 0.5])
def test_free_run_errors_score_several_readouts_from_the_same_warm_up(feedback):
    series, esn = _sine(), _fitted(feedback)
    own = (esn.w_out.clone(), esn.b_out.clone())
    other = (0.9 * esn.w_out.double(), esn.b_out.double() + 0.01)
    both = free_run_errors(esn, series, [40, 150, 260], horizon=6, warmup=30, readouts=[own, other])
    assert both.shape == (2, 3, 6)
    assert torch.equal(esn.w_out, own[0]) and torch.equal(esn.b_out, own[1])  # the network's readout is kept
    np.testing.assert_allclose(both[0], free_run_errors(esn, series, [40, 150, 260], horizon=6, warmup=30),
                               rtol=0, atol=1e-12)
    esn.w_out, esn.b_out = other[0].to(esn.dtype), other[1].to(esn.dtype)
    np.testing.assert_allclose(both[1], free_run_errors(esn, series, [40, 150, 260], horizon=6, warmup=30),
                               rtol=0, atol=1e-12)
    assert not np.allclose(both[0], both[1])


def test_free_run_errors_need_a_readout():
    series = _sine()
    unfitted = EchoStateNetwork(1, 40, spectral_radius=0.9, input_scaling=0.3, seed=3, dtype=torch.float64)
    with pytest.raises(ValueError, match="not trained"):
        free_run_errors(unfitted, series, [100], horizon=5, warmup=30)
    with pytest.raises(ValueError, match="readouts"):
        free_run_errors(unfitted, series, [100], horizon=5, warmup=30, readouts=[])
    fitted = _fitted()
    readout = (fitted.w_out, fitted.b_out)
    got = free_run_errors(unfitted, series, [100], horizon=5, warmup=30, readouts=[readout])  # no fit needed
    np.testing.assert_allclose(got[0], free_run_errors(fitted, series, [100], horizon=5, warmup=30), rtol=1e-12)
    assert not unfitted.is_fitted


def test_a_reservoir_drawn_again_reuses_its_eigenvalues(monkeypatch):
    import lecture_utils.models.esn as esn_module

    calls = []
    real = esn_module._spectral_radius
    monkeypatch.setattr(esn_module, "_spectral_radius", lambda w: calls.append(1) or real(w))
    _unscaled_reservoir.cache_clear()
    kwargs = {"input_scaling": 0.5, "bias_scaling": 0.2, "feedback_scaling": 0.0, "connectivity": 0.2,
              "input_connectivity": 0.5, "seed": 11}
    small = EchoStateNetwork.random_weights(1, 30, 1, spectral_radius=0.5, **kwargs)
    large = EchoStateNetwork.random_weights(1, 30, 1, spectral_radius=1.5, **kwargs)
    assert len(calls) == 1  # the second draw of seed 11 reused the first one's eigenvalues
    assert spectral_radius(small[0]) == pytest.approx(0.5, abs=1e-12)
    assert spectral_radius(large[0]) == pytest.approx(1.5, abs=1e-12)  # the cached draw was not scaled in place
    torch.testing.assert_close(large[0], 3 * small[0], rtol=1e-15, atol=0)
    for a, b in zip(small[1:], large[1:], strict=True):  # the input and bias weights follow W in the seed's stream
        assert torch.equal(a, b)
    other = EchoStateNetwork.random_weights(1, 30, 1, spectral_radius=0.5, **{**kwargs, "seed": 12})
    assert len(calls) == 2 and not torch.equal(other[0], small[0])



def test_free_run_errors_of_a_float32_network_are_measured_against_the_float64_series():
    """A constant readout predicts exactly 0.5 at every step: the errors are |0.5 - series| / std in float64,
    not against the series rounded to the network's float32."""
    series = _sine() + 1e-3 / 3  # values that float32 cannot hold exactly
    esn = EchoStateNetwork(1, 40, spectral_radius=0.9, input_scaling=0.3, seed=3, dtype=torch.float32)
    constant = (torch.zeros(1, 40), torch.tensor([0.5]))
    got = free_run_errors(esn, series, [100, 250], horizon=7, warmup=30, readouts=[constant])[0]
    for i, s in enumerate([100, 250]):
        expected = (0.5 - series[s + 1 : s + 8, 0]).abs() / series.std()
        np.testing.assert_allclose(got[i], expected.numpy(), rtol=0, atol=1e-15)
