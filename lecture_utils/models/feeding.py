"""How a seq2seq decoder is fed during training: the true previous word, its own prediction, or a mix.

- :func:`choose_next_input`: the rule of one decoder step, per example (a coin with ``teacher_prob``);
- :func:`inverse_sigmoid_decay`: scheduled sampling's probability of the true word over training
  (Bengio et al., 2015), :func:`decay_k_for_midpoint` its parameter;
- :class:`Regime`: one named training regime of notebook 03 (:func:`standard_regimes` lists them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def choose_next_input(
    true_tokens: torch.Tensor,
    predicted_tokens: torch.Tensor,
    teacher_prob: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """The decoder's next input, per example: the true token with probability ``teacher_prob``, else its own.

    ``teacher_prob`` 1 and 0 draw no random numbers (pure teacher forcing and free running). The
    prediction is detached: gradients do not flow through the choice of a discrete token.
    """
    if not 0.0 <= teacher_prob <= 1.0:
        raise ValueError(f"teacher_prob: expected a probability in [0, 1], got {teacher_prob!r}")
    if true_tokens.shape != predicted_tokens.shape:
        raise ValueError(
            f"true_tokens and predicted_tokens: expected the same shape (batch,), got "
            f"{tuple(true_tokens.shape)} and {tuple(predicted_tokens.shape)}"
        )
    if teacher_prob == 1.0:
        return true_tokens
    if teacher_prob == 0.0:
        return predicted_tokens.detach()
    coin = torch.rand(true_tokens.shape, generator=generator, device=true_tokens.device) < teacher_prob
    return torch.where(coin, true_tokens, predicted_tokens.detach())


def inverse_sigmoid_decay(step: int, k: float) -> float:
    """Bengio et al. (2015): the teacher-forcing probability ``k / (k + exp(step / k))``, k >= 1.

    It starts near 1, is 0.5 at ``step = k ln k`` and falls towards 0 afterwards.
    """
    if k < 1:
        raise ValueError(f"k: expected k >= 1, got {k!r}")
    return k / (k + math.exp(min(step / k, 700.0)))


REGIME_KINDS = ("ratio", "per_batch", "scheduled", "professor")


@dataclass(frozen=True)
class Regime:
    """How the decoder is fed during training.

    ``kind``: ``"ratio"`` feeds the true word with probability ``teacher_prob`` per example and step (1:
    teacher forcing, 0: free running); ``"per_batch"`` is the lecture's rule: one coin per batch decides
    teacher forcing for the whole batch; ``"scheduled"`` is scheduled sampling with
    :func:`inverse_sigmoid_decay` (``decay_k``); ``"professor"`` is professor forcing.
    """

    name: str
    kind: str
    teacher_prob: float = 1.0
    decay_k: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in REGIME_KINDS:
            raise ValueError(f"kind: expected one of {REGIME_KINDS}, got {self.kind!r}")
        if not 0.0 <= self.teacher_prob <= 1.0:
            raise ValueError(f"teacher_prob: expected a probability in [0, 1], got {self.teacher_prob!r}")

    def teacher_prob_at(self, step: int) -> float:
        """The probability of feeding the true word at optimisation step ``step`` (0-based)."""
        return inverse_sigmoid_decay(step, self.decay_k) if self.kind == "scheduled" else self.teacher_prob


def decay_k_for_midpoint(midpoint: float) -> float:
    """The ``k`` for which :func:`inverse_sigmoid_decay` is 0.5 at ``midpoint`` steps (``k ln k = midpoint``)."""
    if midpoint <= 0:
        raise ValueError(f"midpoint: expected a positive number of steps, got {midpoint!r}")
    lo, hi = 1.0, max(2.0, midpoint)
    for _ in range(100):  # bisection: k ln k is increasing for k >= 1
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid * math.log(mid) < midpoint else (lo, mid)
    return (lo + hi) / 2


def standard_regimes(steps: int) -> list[Regime]:
    """The five regimes of the notebook; scheduled sampling reaches probability 0.5 halfway through ``steps``."""
    return [
        Regime("teacher_forcing", "ratio", 1.0),
        Regime("free_running", "ratio", 0.0),
        Regime("fixed_ratio", "per_batch", 0.5),
        Regime("scheduled_sampling", "scheduled", decay_k=decay_k_for_midpoint(steps / 2)),
        Regime("professor_forcing", "professor"),
    ]
