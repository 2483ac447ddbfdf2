"""Ventilator benchmark: notebook 02's comparison (baseline, unidirectional, bidirectional over its three
seeds, the causal limit) and the speed of the lecture's full model, written to build/bench/ventilator.json.

Run from the repository root with one torch thread (``make bench`` does both). Keys: ``bi_mae``,
``uni_mae`` (means over the seeds), ``bi_mae_seed_range``, ``uni_mae_seed_range`` ([min, max]),
``bi_mae_per_seed``, ``uni_mae_per_seed``, ``baseline_mae``, ``causal_estimate_mae`` (the oracle that
knows everything up to the previous step: the limit of any online model), ``noise_floor_mae`` (all cmH2O,
inspiratory test steps), their ratios to the floor, ``train_seconds`` (CPU seconds of all
trainings), the parameter counts, and
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
from torch import nn

from lecture_utils import seed_everything
from lecture_utils.data.ventilator import (
    breath_features,
    causal_oracle,
    inspiratory_mae,
    noise_floor,
    rc_step_baseline,
    simulate_breaths,
    split_breaths,
)
from lecture_utils.models.init import set_forget_gate_bias
from lecture_utils.models.regressor import (
    StackedLSTMRegressor,
    count_parameters,
    matched_unidirectional_hidden,
    predict,
    train_regressor,
)

# The notebook's CPU configuration (notebooks/02_bidirectional_regressor.ipynb, CONFIG).
N_BREATHS, NOISE_SIGMA, WINDOW, HIDDEN = 8000, 0.5, 32, (64, 48, 32, 16)
STEPS, BATCH, LR, CLIP, DATA_SEED, SEEDS = 2000, 32, 3e-3, 1.0, 0, (0, 1, 2)
OUT = Path("build/bench/ventilator.json")


def keras_init_lstm_(lstm: nn.LSTM) -> None:
    """The reference answer of notebook 02's exercise 2 (the package does not ship it, so that the
    exercise cannot be imported): Xavier input weights, orthogonal recurrent ones, zero biases but a
    total forget-gate bias of 1."""
    for name, p in lstm.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(p)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(p)
        else:
            nn.init.zeros_(p)
    set_forget_gate_bias(lstm, 1.0)


def train_and_score(hidden, bidirectional, seed, x_train, train, x_test, test) -> tuple[float, int, float]:
    """Train one regressor as the notebook does; return (test MAE, parameters, CPU seconds)."""
    torch.manual_seed(seed)
    model = StackedLSTMRegressor(x_train.shape[-1], hidden, bidirectional=bidirectional, init_lstm=keras_init_lstm_)
    start = time.process_time()
    train_regressor(model, x_train, train.pressure, train.inspiratory, steps=STEPS, batch_size=BATCH, lr=LR,
                    clip_norm=CLIP, seed=seed, progress=False)
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
    seed_everything(DATA_SEED, threads=1)
    breaths = simulate_breaths(N_BREATHS, seed=DATA_SEED, noise_sigma=NOISE_SIGMA)
    train, _, test = (b.first_steps(WINDOW) for b in split_breaths(breaths, seed=DATA_SEED))
    x_train, x_test = breath_features(train), breath_features(test)
    floor = noise_floor(NOISE_SIGMA)
    baseline = inspiratory_mae(rc_step_baseline(train, test), test)
    uni_hidden = matched_unidirectional_hidden(HIDDEN, x_train.shape[-1])
    runs = {
        name: [train_and_score(hidden, name == "bi", seed, x_train, train, x_test, test) for seed in SEEDS]
        for name, hidden in (("bi", HIDDEN), ("uni", uni_hidden))
    }
    mae = {name: [r[0] for r in rs] for name, rs in runs.items()}
    full_params, full_ms, full_wall_ms = full_model_ms_per_batch()
    result = {
        "bi_mae": statistics.mean(mae["bi"]),
        "uni_mae": statistics.mean(mae["uni"]),
        "bi_mae_seed_range": [min(mae["bi"]), max(mae["bi"])],
        "uni_mae_seed_range": [min(mae["uni"]), max(mae["uni"])],
        "bi_mae_per_seed": mae["bi"],
        "uni_mae_per_seed": mae["uni"],
        "baseline_mae": baseline,
        "causal_estimate_mae": inspiratory_mae(causal_oracle(test), test),
        "noise_floor_mae": floor,
        "bi_ratio": statistics.mean(mae["bi"]) / floor,
        "uni_ratio": statistics.mean(mae["uni"]) / floor,
        "baseline_ratio": baseline / floor,
        "train_seconds": sum(r[2] for rs in runs.values() for r in rs),
        "bi_params": runs["bi"][0][1],
        "uni_params": runs["uni"][0][1],
        "bi_hidden": list(HIDDEN),
        "uni_hidden": list(uni_hidden),
        "seeds": list(SEEDS),
        "steps": STEPS,
        "batch_size": BATCH,
        "window": WINDOW,
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
