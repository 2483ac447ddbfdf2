"""The experiment of notebook 03 and ``benchmarks/bench_seq2seq.py``: one :class:`Seq2Seq` trained per
regime and seed on the same batches, evaluated at checkpoints, and the results as table rows."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from lecture_utils.data.numerals import Batch, batches
from lecture_utils.models.feeding import Regime
from lecture_utils.models.professor_forcing import BehaviourDiscriminator, professor_forcing_loss
from lecture_utils.models.seq2seq import Seq2Seq, evaluate, sequence_loss
from lecture_utils.repro import seed_everything
from lecture_utils.training import History, fit, linear_decay


@dataclass(frozen=True)
class ExperimentConfig:
    """Sizes and budget of one training run (the same for every regime).

    Adam with ``lr`` falling linearly to ``final_lr_fraction * lr`` at the last step, gradients clipped
    to ``clip_norm``. Professor forcing's adversarial weight grows linearly from 0 to
    ``adversarial_weight`` over the first half of the steps: while the free-running states are still
    noise, a full-strength adversarial gradient swamps the cross-entropy (with the clipping) and the
    model does not learn at all.
    """

    embed: int = 32
    hidden: int = 64
    batch_size: int = 64
    lr: float = 5e-3
    clip_norm: float = 1.0
    steps: int = 400
    eval_every: int = 100
    adversarial_weight: float = 0.1
    final_lr_fraction: float = 0.1

    def __post_init__(self) -> None:
        if min(self.embed, self.hidden, self.batch_size, self.steps, self.eval_every) < 1 or self.lr <= 0:
            raise ValueError("embed, hidden, batch_size, steps, eval_every, lr: expected positive values")
        if self.steps % self.eval_every:
            raise ValueError(f"steps={self.steps}: expected a multiple of eval_every={self.eval_every}")


@dataclass
class RegimeRun:
    """One trained model: its regime and seed, the training history, and evaluations by step.

    ``checkpoints[step]`` maps ``"test"`` and ``"long"`` to :func:`evaluate`'s result at that step;
    ``train_seconds`` is the CPU time of the training steps, evaluations excluded.
    """

    regime: Regime
    seed: int
    model: Seq2Seq
    history: History
    checkpoints: dict[int, dict[str, dict]]
    train_seconds: float


def train_regime(
    regime: Regime,
    numbers_train,
    eval_sets: dict,
    config: ExperimentConfig,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> RegimeRun:
    """Train a fresh :class:`Seq2Seq` with ``regime`` for ``config.steps`` batches and evaluate it on
    ``eval_sets`` (``{"test": numbers, "long": numbers}``) every ``config.eval_every`` steps.

    The seed fixes the initial weights, the batch order and the random choices of the regime, so every
    regime with the same seed sees the same batches in the same order.
    """
    seed_everything(seed)
    model = Seq2Seq(embed=config.embed, hidden=config.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    discriminator = disc_optimizer = None
    if regime.kind == "professor":
        discriminator = BehaviourDiscriminator(config.hidden).to(device)
        disc_optimizer = torch.optim.Adam(discriminator.parameters(), lr=config.lr)
    per_epoch = math.ceil(len(numbers_train) / config.batch_size)
    schedule = [
        b
        for epoch in range(math.ceil(config.steps / per_epoch))
        for b in batches(numbers_train, config.batch_size, seed=1000 * seed + epoch)
    ][: config.steps]
    generator = torch.Generator(device=device).manual_seed(seed)
    state = {"step": 0, "eval_seconds": 0.0}
    checkpoints: dict[int, dict[str, dict]] = {}

    def step_loss(batch: Batch) -> torch.Tensor:
        batch = batch.to(device)
        step, state["step"] = state["step"], state["step"] + 1
        if regime.kind == "professor":
            return professor_forcing_loss(
                model,
                discriminator,
                disc_optimizer,
                batch,
                config.adversarial_weight * min(1.0, 2 * step / config.steps),
            )
        prob = regime.teacher_prob_at(step)
        if regime.kind == "per_batch":
            prob = float(torch.rand((), generator=generator, device=device) < prob)
        out = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=prob, generator=generator)
        return sequence_loss(out.logits, batch.tgt)

    def run_eval() -> dict[str, float]:
        start = time.process_time()
        results = {name: evaluate(model, numbers) for name, numbers in eval_sets.items()}
        checkpoints[state["step"]] = results
        state["eval_seconds"] += time.process_time() - start
        return {f"{name}_{key}": float(r[key]) for name, r in results.items() for key in ("exact_match",)}

    start = time.process_time()
    # The learning rate falls linearly to final_lr_fraction * lr at the last step.
    decay = linear_decay(optimizer, config.steps, config.final_lr_fraction)
    history = fit(
        step_loss,
        schedule,
        optimizer,
        clip_norm=config.clip_norm,
        scheduler=decay,
        evaluate=run_eval,
        eval_every=config.eval_every,
        desc=f"{regime.name}, seed {seed}",
        progress=progress,
    )
    seconds = time.process_time() - start - state["eval_seconds"]
    return RegimeRun(regime, seed, model, history, checkpoints, seconds)


METRICS = ("exact_match", "token_accuracy", "teacher_forced_accuracy")


def results_table(runs: list[RegimeRun]) -> list[dict[str, float | str]]:
    """One row per run and checkpoint: regime, seed, step, train_seconds and test/long metrics."""
    return [
        {
            "regime": run.regime.name,
            "seed": run.seed,
            "step": step,
            "train_seconds": run.train_seconds,
            **{f"{name}_{key}": float(results[name][key]) for name in results for key in METRICS},
        }
        for run in runs
        for step, results in run.checkpoints.items()
    ]
