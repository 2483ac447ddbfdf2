"""Unit tests of the package core: seeding, device choice, checks, validation, the fit loop, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from torch import nn

from lecture_utils import CheckFailed, History, check, check_close, fit, pick_device, seed_everything, setup
from lecture_utils.checks import expect_tensor
from lecture_utils.plots import heatmap, plot_history


def draw() -> tuple[float, float, torch.Tensor]:
    import random

    return random.random(), float(np.random.rand()), torch.randn(3)  # noqa: NPY002


def test_seed_everything_makes_python_numpy_and_torch_repeatable():
    seed_everything(3)
    a = draw()
    seed_everything(3)
    b = draw()
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])
    seed_everything(4)
    assert not torch.equal(draw()[2], a[2])


def test_seed_everything_sets_threads_and_rejects_bad_values():
    seed_everything(0, threads=1)
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)
    with pytest.raises(ValueError, match="positive int"):
        seed_everything(0, threads=0)


def test_pick_device_prefers_what_exists_and_says_so(capsys):
    device = pick_device()
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert device.type == expected
    assert capsys.readouterr().out.startswith(f"Устройство: {expected} (")
    assert pick_device("cpu", verbose=False).type == "cpu"
    with pytest.raises(ValueError, match="expected one of"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")


def test_setup_reports_fast_mode(monkeypatch, capsys):
    monkeypatch.setenv("LECTURE_FAST", "1")
    setup(seed=1)
    assert "Быстрый режим" in capsys.readouterr().out
    monkeypatch.setenv("LECTURE_FAST", "0")
    setup(seed=1)
    assert "Быстрый режим" not in capsys.readouterr().out


def test_check_prints_one_line_or_raises(capsys):
    check("two plus two", 2 + 2 == 4, "exact")
    assert capsys.readouterr().out == "[верно] two plus two (exact)\n"
    with pytest.raises(CheckFailed, match="Проверка не прошла: wrong sum"):
        check("wrong sum", 2 + 2 == 5)


def test_quality_checks_are_skipped_only_in_fast_mode(monkeypatch, capsys):
    monkeypatch.setenv("LECTURE_FAST", "1")
    check("accuracy above 95%", False, quality=True)
    assert capsys.readouterr().out.startswith("[пропущено в быстром режиме] accuracy above 95%")
    monkeypatch.setenv("LECTURE_FAST", "0")
    with pytest.raises(CheckFailed):
        check("accuracy above 95%", False, quality=True)


def test_check_close_compares_values_and_shapes(capsys):
    check_close("same", torch.ones(2), torch.ones(2) + 1e-8)
    assert "[верно] same (макс. |разность| <= 1e-06)" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="> 1e-06"):
        check_close("different", torch.ones(2), torch.zeros(2))
    with pytest.raises(CheckFailed, match="форма"):
        check_close("shapes", torch.ones(2), torch.ones(3))


def test_expect_tensor_names_the_expected_shape_and_dtype():
    x = torch.zeros(2, 5, 4)
    assert expect_tensor(x, "x", (None, None, 4), "(batch, time, 4)") is x
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, time, 3\), got \(2, 5, 4\)"):
        expect_tensor(x, "x", (None, None, 3), "(batch, time, 3)")
    with pytest.raises(ValueError, match="expected shape"):
        expect_tensor(torch.zeros(2, 4), "x", (None, None, 4), "(batch, time, 4)")
    with pytest.raises(ValueError, match="expected dtype int64, got float32"):
        expect_tensor(x, "x", (None, None, 4), "(batch, time, 4)", dtype=torch.int64)
    with pytest.raises(ValueError, match="expected a torch.Tensor"):
        expect_tensor([1, 2], "x", (None,), "(n,)")


def regression_problem():
    seed_everything(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
    model = nn.Linear(3, 1)
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]

    def step_loss(batch):
        xb, yb = batch
        return nn.functional.mse_loss(model(xb).squeeze(1), yb)

    return model, batches, step_loss, (x, y)


def test_fit_trains_records_history_and_evaluates():
    model, batches, step_loss, (x, y) = regression_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    evals = []

    def evaluate():
        evals.append(torch.is_grad_enabled())
        return {"mse": nn.functional.mse_loss(model(x).squeeze(1), y).item()}

    history = fit(step_loss, batches, opt, epochs=20, evaluate=evaluate, progress=False)
    assert len(history.steps) == 80 and len(history.evals) == 20
    assert history.steps[-1]["epoch"] == 20 and history.steps[-1]["step"] == 80
    assert history.last("mse") < 1e-3 < history.series("mse")[0]
    mse = [row["mse"] for row in history.evals]  # read off the rows, not through series()
    assert history.series("mse") == mse
    assert history.best("mse") == sorted(mse)[0] and history.best("mse") != mse[0]
    losses = [row["loss"] for row in history.steps]
    assert history.best("loss", mode="max") == sorted(losses)[-1] != history.best("loss")
    assert evals and not any(evals), "evaluate() must run under torch.no_grad()"
    assert history.seconds > 0
    with pytest.raises(KeyError, match="recorded keys"):
        history.series("accuracy")
    with pytest.raises(ValueError, match="'min' or 'max'"):
        history.best("mse", mode="median")


def test_history_series_reads_steps_or_evaluations_and_names_what_was_recorded():
    one_step = History(steps=[{"step": 1, "loss": 0.5}], evals=[{"step": 1, "acc": 0.9}])
    assert one_step.series("loss") == [0.5] and one_step.series("acc") == [0.9]  # a single row is enough
    history = History(steps=[{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}], evals=[{"step": 2, "acc": 0.75}])
    assert history.last("loss") == 0.25 and history.last("acc") == 0.75
    with pytest.raises(KeyError, match=r"'f1' was not recorded; recorded keys: \['acc', 'loss', 'step'\]"):
        history.series("f1")
    with pytest.raises(KeyError, match=r"recorded keys: \['acc', 'step'\]"):
        History(evals=[{"step": 1, "acc": 0.9}, {"step": 2, "acc": 0.8}]).series("loss")  # no step rows
    with pytest.raises(KeyError, match=r"recorded keys: \['loss', 'step'\]"):
        History(steps=[{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]).series("acc")  # no evaluations


def test_fit_eval_every_and_clipping_bound_the_update():
    model, batches, step_loss, _ = regression_problem()
    before = model.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    history = fit(step_loss, batches[:1], opt, clip_norm=1e-3, evaluate=lambda: {"z": 0.0}, eval_every=1,
                  progress=False)
    assert len(history.evals) == 1
    assert history.steps[0]["grad_norm"] > 1e-3  # recorded before clipping
    assert (model.weight.detach() - before).norm() <= 1e-3 + 1e-7  # the update was clipped


@pytest.mark.parametrize("eval_every", [None, 2])
def test_fit_stop_when_ends_training_after_that_evaluation(eval_every):
    model, batches, step_loss, _ = regression_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(step_loss, batches, opt, epochs=10, evaluate=lambda: {"z": 0.0}, eval_every=eval_every,
                  stop_when=lambda h: len(h.evals) == 3, progress=False)
    assert len(history.evals) == 3
    assert len(history.steps) == (12 if eval_every is None else 6)


def test_fit_stops_with_a_clear_error_on_a_non_finite_loss():
    model, batches, _, _ = regression_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="clip_norm"):
        fit(lambda batch: torch.tensor(float("nan"), requires_grad=True), batches, opt, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(lambda batch: torch.tensor(0.0), batches, opt, epochs=0)


def test_plot_helpers_draw_and_validate():
    history = History(steps=[{"step": i, "loss": 1.0 / i} for i in range(1, 11)])
    ax = plot_history({"a": history, "b": history}, smooth=3)
    assert len(ax.lines) == 2 and len(ax.lines[0].get_xdata()) == 8
    ax = heatmap(np.eye(3), xlabels=list("abc"), ylabels=list("xyz"), annotate=True)
    assert len(ax.texts) == 9
    with pytest.raises(ValueError, match="2-D"):
        heatmap(np.zeros(3))
    with pytest.raises(ValueError, match="xlabels: expected 3"):
        heatmap(np.eye(3), xlabels=["a"])
    with pytest.raises(ValueError, match="smooth"):
        plot_history(history, smooth=0)


def test_eval_mode_restores_the_previous_mode_even_after_an_error():
    from lecture_utils.training import eval_mode

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with eval_mode(model):
        assert not model.training and not model[1].training
    assert model.training
    model.eval()
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("inside")
    assert not model.training


def test_linear_decay_reaches_the_final_fraction_and_stays():
    from lecture_utils.training import linear_decay

    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = linear_decay(optimizer, total_steps=4, final_fraction=0.2)
    rates = []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.2])
    with pytest.raises(ValueError, match="final_fraction"):
        linear_decay(optimizer, total_steps=4, final_fraction=1.5)


def test_best_epoch_is_one_based_and_keeps_the_earliest_of_a_tie():
    from lecture_utils.training import best_epoch

    assert best_epoch([0.5]) == 1
    assert best_epoch([0.5, 0.7, 0.6]) == 2
    assert best_epoch([0.5, 0.7, 0.7, 0.2]) == 2  # a later equal score is not a new best
    with pytest.raises(ValueError, match="at least one"):
        best_epoch([])


def test_fit_records_each_evaluations_epoch_its_own_time_and_shows_its_progress(record_bars):
    import time as clock

    from lecture_utils import training

    bars = record_bars(training)
    model, batches, step_loss, _ = regression_problem()  # 4 batches per epoch
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    start = clock.perf_counter()
    history = fit(step_loss, batches, opt, epochs=3, evaluate=lambda: {"z": 0.0}, eval_every=3, desc="probe")
    elapsed = clock.perf_counter() - start
    assert [(row["step"], row["epoch"]) for row in history.evals] == [(3, 1), (6, 2), (9, 3), (12, 3)]
    assert 0 < history.seconds <= elapsed
    assert (bars[0].total, bars[0].n, bars[0].desc) == (12, 12, "probe")


def test_linear_decay_accepts_one_step_and_a_final_fraction_of_zero():
    from lecture_utils.training import linear_decay

    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = linear_decay(optimizer, total_steps=1, final_fraction=0.0)
    optimizer.step()
    schedule.step()
    assert optimizer.param_groups[0]["lr"] == 0.0
