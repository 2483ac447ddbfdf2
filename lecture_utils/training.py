"""A small training loop with a ``tqdm.auto`` progress bar and a history of losses and metrics."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm


@dataclass
class History:
    """What :func:`fit` records: one row per optimisation step and one per evaluation.

    ``steps`` rows have ``step``, ``epoch``, ``loss`` and ``grad_norm`` (the norm before clipping);
    ``evals`` rows have ``step``, ``epoch`` and whatever the evaluation function returned.
    """

    steps: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def series(self, key: str) -> list[float]:
        """All recorded values of ``key`` in order, from the step rows or else the evaluation rows."""
        rows = self.steps if self.steps and key in self.steps[0] else self.evals
        if not rows or key not in rows[0]:
            known = sorted({*(self.steps[0] if self.steps else {}), *(self.evals[0] if self.evals else {})})
            raise KeyError(f"{key!r} was not recorded; recorded keys: {known}")
        return [row[key] for row in rows]

    def last(self, key: str) -> float:
        """The latest value of ``key``."""
        return self.series(key)[-1]

    def best(self, key: str, *, mode: str = "min") -> float:
        """The smallest (``mode="min"``) or largest (``mode="max"``) recorded value of ``key``."""
        if mode not in {"min", "max"}:
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        values = self.series(key)
        return min(values) if mode == "min" else max(values)


def fit(
    step_loss: Callable[[Any], torch.Tensor],
    batches: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int = 1,
    clip_norm: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    evaluate: Callable[[], dict[str, float]] | None = None,
    eval_every: int | None = None,
    stop_when: Callable[[History], bool] | None = None,
    desc: str = "train",
    progress: bool = True,
) -> History:
    """Train for ``epochs`` passes over ``batches`` and return the :class:`History`.

    ``step_loss(batch)`` computes the loss of one batch (the model is whatever it closes over);
    ``batches`` must be re-iterable (a list or a ``DataLoader``). Each step: zero the gradients,
    backpropagate, record the gradient norm, clip it to ``clip_norm`` if given, step the optimiser
    and the per-step ``scheduler``. ``evaluate()`` runs every ``eval_every`` steps (default: at the
    end of each epoch) under ``torch.no_grad()``; its numbers are recorded and shown on the bar.
    ``stop_when(history)`` is asked after each evaluation; ``True`` ends training there (early stopping).
    A non-finite loss stops training with a clear error instead of silently producing NaN weights.
    """
    if epochs < 1:
        raise ValueError(f"epochs: expected a positive int, got {epochs!r}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every: expected a positive int or None, got {eval_every!r}")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    try:
        per_epoch = len(batches)  # type: ignore[arg-type]
    except TypeError:
        per_epoch = None
    history = History()
    start = time.perf_counter()
    bar = tqdm(total=per_epoch * epochs if per_epoch else None, desc=desc, disable=not progress)
    step = 0

    def run_eval(epoch: int) -> bool:
        """Evaluate, record, and say whether to stop."""
        with torch.no_grad():
            metrics = evaluate()  # type: ignore[misc]
        history.evals.append({"step": step, "epoch": epoch, **metrics})
        bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
        return stop_when is not None and stop_when(history)

    stop = False
    for epoch in range(1, epochs + 1):
        for batch in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = step_loss(batch)
            value = loss.item()
            if not math.isfinite(value):
                bar.close()
                raise FloatingPointError(
                    f"loss became {value} at step {step + 1}: lower the learning rate or clip gradients "
                    "(clip_norm=...)"
                )
            loss.backward()
            # Returns the total norm before clipping; max_norm=inf only measures it.
            norm = torch.nn.utils.clip_grad_norm_(params, math.inf if clip_norm is None else clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            history.steps.append({"step": step, "epoch": epoch, "loss": value, "grad_norm": float(norm)})
            bar.update(1)
            if evaluate is not None and eval_every is not None and step % eval_every == 0:
                stop = run_eval(epoch)
                if stop:
                    break
        if not stop and evaluate is not None and eval_every is None:
            stop = run_eval(epoch)
        if stop:
            break
    bar.close()
    history.seconds = time.perf_counter() - start
    return history


def best_epoch(scores: Sequence[float]) -> int:
    """The epoch (1-based) of the highest score in ``scores`` (one per epoch); the earliest one on a tie."""
    if not scores:
        raise ValueError("scores: expected at least one epoch's score")
    return scores.index(max(scores)) + 1


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``with eval_mode(model):`` runs the block in eval mode (no dropout) and restores the previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def linear_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, final_fraction: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """A schedule whose learning rate falls linearly from its initial value to ``final_fraction`` of it at
    ``total_steps`` steps, and stays there after."""
    if total_steps < 1 or not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"expected total_steps >= 1 and final_fraction in [0, 1], got {total_steps}, {final_fraction}")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1 - (1 - final_fraction) * min(step / total_steps, 1.0)
    )
