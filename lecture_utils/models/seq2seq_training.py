"""The experiment of notebook 03 and ``benchmarks/bench_seq2seq.py``: one :class:`Seq2Seq` trained per
regime and seed on the same batches, evaluated at checkpoints, and the results as table rows."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lecture_utils.data.numerals import Batch, batches
from lecture_utils.models.feeding import Regime
from lecture_utils.models.professor_forcing import BehaviourDiscriminator, professor_forcing_loss
from lecture_utils.models.seq2seq import INJECTIONS, Seq2Seq, evaluate, recovery_after_error, sequence_loss
from lecture_utils.repro import seed_everything
from lecture_utils.training import History, fit, linear_decay


@dataclass(frozen=True)
class ExperimentConfig:
    """Sizes and budget of one training run (the same for every regime).

    Adam with ``lr`` falling linearly to ``final_lr_fraction * lr`` at the last step, gradients clipped
    to ``clip_norm``; professor forcing's discriminator: Adam at ``lr``.
    """

    embed: int = 32
    hidden: int = 64
    batch_size: int = 64
    lr: float = 5e-3
    clip_norm: float = 1.0
    steps: int = 400
    eval_every: int = 100
    final_lr_fraction: float = 0.1

    def __post_init__(self) -> None:
        if min(self.embed, self.hidden, self.batch_size, self.steps, self.eval_every) < 1 or self.lr <= 0:
            raise ValueError("embed, hidden, batch_size, steps, eval_every, lr: expected positive values")
        if self.steps % self.eval_every:
            raise ValueError(f"steps={self.steps}: expected a multiple of eval_every={self.eval_every}")


@dataclass
class RegimeRun:
    """One trained model: its regime and seed, the training history, and evaluations by step.

    ``checkpoints[step]`` maps each evaluation set's name (``"test"``, ``"long"``, ...) to
    :func:`evaluate`'s result at that step; ``recovery``: :func:`recovery_after_error` of the final model
    on the ``recovery_set``; ``discriminator_log``: professor forcing's per-step log (see
    :func:`professor_forcing_loss`, plus ``adversarial_weight``), empty for the other regimes;
    ``train_seconds`` is the CPU time of the training steps, evaluations excluded.
    """

    regime: Regime
    seed: int
    model: Seq2Seq
    history: History
    checkpoints: dict[int, dict[str, dict]]
    train_seconds: float
    recovery: dict = field(default_factory=dict)
    discriminator_log: list[dict[str, float]] = field(default_factory=list)
    discriminator: BehaviourDiscriminator | None = None


LossFn = Callable[[Seq2Seq, Batch, float, str, torch.Generator], torch.Tensor]


def package_loss(model: Seq2Seq, batch: Batch, teacher_prob: float, coin: str, generator: torch.Generator):
    """The training loss of one batch with the feeding rule (``teacher_prob``, ``coin``): the batched
    :meth:`Seq2Seq.forward` and :func:`sequence_loss`. Notebook 03 writes the same loop out on its page."""
    out = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=teacher_prob, generator=generator, coin=coin)
    return sequence_loss(out.logits, batch.tgt)


def train_regime(
    regime: Regime,
    numbers_train,
    eval_sets: dict,
    config: ExperimentConfig,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    progress: bool = True,
    loss_fn: LossFn = package_loss,
    recovery_set=None,
) -> RegimeRun:
    """Train a fresh :class:`Seq2Seq` with ``regime`` for ``config.steps`` batches and evaluate it on
    ``eval_sets`` (``{"test": numbers, "long": numbers}``) every ``config.eval_every`` steps.

    The seed fixes the initial weights, the batch order and the random choices of the regime, so every
    regime with the same seed sees the same batches in the same order. ``loss_fn(model, batch,
    teacher_prob, coin, generator)`` is the loss of one batch for the non-professor regimes (default:
    :func:`package_loss`). With ``recovery_set``, the final model's :func:`recovery_after_error` on it
    (seed 0) is stored in ``recovery``.
    """
    seed_everything(seed)
    model = Seq2Seq(embed=config.embed, hidden=config.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
    discriminator = disc_optimizer = None
    if regime.kind == "professor":
        discriminator = BehaviourDiscriminator(config.hidden).to(device)
        disc_optimizer = torch.optim.Adam(discriminator.parameters(), lr=config.lr, fused=True)
    per_epoch = math.ceil(len(numbers_train) / config.batch_size)
    schedule = [
        b
        for epoch in range(math.ceil(config.steps / per_epoch))
        for b in batches(numbers_train, config.batch_size, seed=1000 * seed + epoch)
    ][: config.steps]
    generator = torch.Generator(device=device).manual_seed(seed)
    state = {"step": 0, "eval_seconds": 0.0}
    checkpoints: dict[int, dict[str, dict]] = {}
    disc_log: list[dict[str, float]] = []

    def step_loss(batch: Batch) -> torch.Tensor:
        batch = batch.to(device)
        step, state["step"] = state["step"], state["step"] + 1
        if regime.kind == "professor":
            entry: dict[str, float] = {}
            loss = professor_forcing_loss(
                model, discriminator, disc_optimizer, batch, regime.adversarial_weight, log=entry,
                temperature=regime.temperature, generator=generator,
            )
            disc_log.append(entry)
            return loss
        return loss_fn(model, batch, regime.teacher_prob_at(step), regime.coin, generator)

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
    recovery = recovery_after_error(model, recovery_set) if recovery_set is not None else {}
    return RegimeRun(regime, seed, model, history, checkpoints, seconds, recovery, disc_log, discriminator)


METRICS = ("exact_match", "token_accuracy", "teacher_forced_accuracy")


def discriminator_accuracy(run: RegimeRun, step: int | None = None, window: int = 10) -> float:
    """Professor forcing: the discriminator's mean accuracy over the ``window`` training steps that end with
    step ``step`` (counted from 1; ``None``: the last), each batch judged before the discriminator learns
    from it."""
    if not run.discriminator_log:
        raise ValueError(f"run {run.regime.name!r}: expected a professor-forcing run with a discriminator log")
    end = len(run.discriminator_log) if step is None else step
    if not 1 <= end <= len(run.discriminator_log) or window < 1:
        raise ValueError(f"step: expected 1..{len(run.discriminator_log)} and a positive window, got {step}, {window}")
    tail = run.discriminator_log[max(0, end - window) : end]
    return sum(entry["discriminator_accuracy"] for entry in tail) / len(tail)


def results_table(runs: list[RegimeRun]) -> list[dict[str, float | str]]:
    """One row per run and checkpoint: regime, seed, step, train_seconds, the metrics of each evaluation
    set, and at the last checkpoint ``recovered_uniform``, ``recovered_plausible`` and ``clean``
    (:func:`recovery_after_error`) and, for professor forcing, ``discriminator_accuracy`` over the last 10
    steps (:func:`discriminator_accuracy`)."""
    rows = []
    for run in runs:
        last = max(run.checkpoints)
        for step, results in run.checkpoints.items():
            row = {
                "regime": run.regime.name,
                "seed": run.seed,
                "step": step,
                "train_seconds": run.train_seconds,
                **{f"{name}_{key}": float(results[name][key]) for name in results for key in METRICS},
            }
            if step == last and run.recovery:
                row.update({f"recovered_{kind}": run.recovery[kind] for kind in INJECTIONS})
                row["clean"] = run.recovery["clean"]
            if step == last and run.discriminator_log:
                row["discriminator_accuracy"] = discriminator_accuracy(run)
            rows.append(row)
    return rows
