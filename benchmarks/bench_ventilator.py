"""Ventilator benchmark: notebook 02's comparison (baseline, unidirectional, bidirectional) and the speed
of the lecture's full model, written to build/bench/ventilator.json.

Run from the repository root with one torch thread (``make bench`` does both). Keys: ``bi_mae``,
``uni_mae``, ``baseline_mae``, ``noise_floor_mae`` (cmH2O, inspiratory test steps), their ratios to
the floor, ``train_seconds`` (CPU seconds of both trainings), the parameter counts, and
``full_model_ms_per_batch``: forward + backward of the lecture's [400, 300, 200, 100] model on a batch
of 32 breaths x 80 steps x 4 features, median of 5 after one warm-up, in CPU milliseconds of this one
thread (what the wall time is on an idle machine; wall time on a shared machine is longer and noisy,
so ``full_model_wall_ms_per_batch`` is recorded beside it).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from lecture_utils import seed_everything
from lecture_utils.data.ventilator import (
    breath_features,
    inspiratory_mae,
    noise_floor,
    rc_step_baseline,
    simulate_breaths,
    split_breaths,
)
from lecture_utils.models.regressor import (
    StackedLSTMRegressor,
    count_parameters,
    matched_unidirectional_hidden,
    predict,
    train_regressor,
)

# The notebook's CPU configuration (notebooks/02_bidirectional_regressor.ipynb, CONFIG).
N_BREATHS, NOISE_SIGMA, HIDDEN = 8000, 0.5, (64, 48, 32, 16)
STEPS, BATCH, LR, CLIP, SEED = 2400, 32, 3e-3, 1.0, 0
OUT = Path("build/bench/ventilator.json")


def train_and_score(hidden, bidirectional, x_train, train, x_test, test) -> tuple[float, int, float]:
    """Train one regressor as the notebook does; return (test MAE, parameters, CPU seconds)."""
    torch.manual_seed(SEED)
    model = StackedLSTMRegressor(x_train.shape[-1], hidden, bidirectional=bidirectional)
    start = time.process_time()
    train_regressor(model, x_train, train.pressure, train.inspiratory, steps=STEPS, batch_size=BATCH, lr=LR,
                    clip_norm=CLIP, seed=SEED, progress=False)
    seconds = time.process_time() - start
    return inspiratory_mae(predict(model, x_test), test), count_parameters(model), seconds


def full_model_ms_per_batch(repeats: int = 5) -> tuple[int, float, float]:
    """Parameters and median forward+backward CPU and wall milliseconds of the lecture's full model.

    The batch is 32 breaths x 80 steps x 4 features.
    """
    model = StackedLSTMRegressor(4)
    x, y = torch.randn(32, 80, 4), torch.randn(32, 80)
    cpu, wall = [], []
    for i in range(repeats + 1):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        (model(x) - y).abs().mean().backward()
        model.zero_grad(set_to_none=True)
        if i:  # the first run warms up
            cpu.append(1000 * (time.process_time() - start_cpu))
            wall.append(1000 * (time.perf_counter() - start_wall))
    return count_parameters(model), statistics.median(cpu), statistics.median(wall)


def main() -> None:
    seed_everything(SEED, threads=1)
    breaths = simulate_breaths(N_BREATHS, seed=SEED, noise_sigma=NOISE_SIGMA)
    train, _, test = split_breaths(breaths, seed=SEED)
    x_train, x_test = breath_features(train), breath_features(test)
    floor = noise_floor(NOISE_SIGMA)
    baseline = inspiratory_mae(rc_step_baseline(train, test), test)
    bi_mae, bi_params, bi_seconds = train_and_score(HIDDEN, True, x_train, train, x_test, test)
    uni_hidden = matched_unidirectional_hidden(HIDDEN, x_train.shape[-1])
    uni_mae, uni_params, uni_seconds = train_and_score(uni_hidden, False, x_train, train, x_test, test)
    full_params, full_ms, full_wall_ms = full_model_ms_per_batch()
    result = {
        "bi_mae": bi_mae,
        "uni_mae": uni_mae,
        "baseline_mae": baseline,
        "noise_floor_mae": floor,
        "bi_ratio": bi_mae / floor,
        "uni_ratio": uni_mae / floor,
        "baseline_ratio": baseline / floor,
        "train_seconds": bi_seconds + uni_seconds,
        "bi_train_seconds": bi_seconds,
        "uni_train_seconds": uni_seconds,
        "bi_params": bi_params,
        "uni_params": uni_params,
        "bi_hidden": list(HIDDEN),
        "uni_hidden": list(uni_hidden),
        "steps": STEPS,
        "batch_size": BATCH,
        "full_model_params": full_params,
        "full_model_ms_per_batch": full_ms,
        "full_model_wall_ms_per_batch": full_wall_ms,
        "torch_threads": torch.get_num_threads(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
