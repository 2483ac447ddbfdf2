"""How a seq2seq decoder is fed during training: the true previous word, its own prediction, or a mix.

- :func:`choose_next_input`: the rule of one decoder step (a coin with ``teacher_prob`` per example and
  step, or a coin drawn once per sequence or per batch: :func:`draw_coins`);
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


COINS = ("token", "sequence", "batch")


def draw_coins(
    batch_size: int,
    teacher_prob: float,
    coin: str,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
) -> torch.Tensor | None:
    """The coins drawn before the decoder loop: ``None`` for ``coin="token"`` (drawn at every step by
    :func:`choose_next_input`), else a bool (batch,) tensor, True where the true words are fed.

    ``"sequence"`` (the lecture's rule, with its batch of one example): one coin per sequence;
    ``"batch"``: one coin for the whole batch. ``teacher_prob`` 0 and 1 draw nothing.
    """
    if coin not in COINS:
        raise ValueError(f"coin: expected one of {COINS}, got {coin!r}")
    if coin == "token":
        return None
    if teacher_prob in (0.0, 1.0):
        return torch.full((batch_size,), teacher_prob == 1.0, dtype=torch.bool, device=device)
    shape = (batch_size,) if coin == "sequence" else ()
    return (torch.rand(shape, generator=generator, device=device) < teacher_prob).expand(batch_size)


def inverse_sigmoid_decay(step: int, k: float) -> float:
    """Bengio et al. (2015): the teacher-forcing probability ``k / (k + exp(step / k))``, k >= 1.

    It starts near 1, is 0.5 at ``step = k ln k`` and falls towards 0 afterwards.
    """
    if k < 1:
        raise ValueError(f"k: expected k >= 1, got {k!r}")
    return k / (k + math.exp(min(step / k, 700.0)))


REGIME_KINDS = ("ratio", "scheduled", "professor")


@dataclass(frozen=True)
class Regime:
    """How the decoder is fed during training.

    ``kind``: ``"ratio"`` feeds the true word with probability ``teacher_prob`` (1: teacher forcing, 0:
    free running), with a coin per example and step (``coin="token"``), per sequence (``"sequence"``,
    the lecture's rule) or per batch (``"batch"``); ``"scheduled"`` is scheduled sampling with
    :func:`inverse_sigmoid_decay` (``decay_k``), a coin per example and step that feeds the model's
    argmax otherwise (Bengio et al. sample from the model's distribution instead);
    ``"professor"`` is professor forcing with ``adversarial_weight`` from the first step (0: the model learns
    as with teacher forcing, the discriminator only watches), its free-running run reading the model's argmax
    (``temperature=None``) or words sampled at ``temperature``.
    """

    name: str
    kind: str
    teacher_prob: float = 1.0
    decay_k: float = 1.0
    coin: str = "token"
    adversarial_weight: float = 0.0
    temperature: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in REGIME_KINDS:
            raise ValueError(f"kind: expected one of {REGIME_KINDS}, got {self.kind!r}")
        if self.coin not in COINS:
            raise ValueError(f"coin: expected one of {COINS}, got {self.coin!r}")
        if not 0.0 <= self.teacher_prob <= 1.0:
            raise ValueError(f"teacher_prob: expected a probability in [0, 1], got {self.teacher_prob!r}")
        if self.adversarial_weight < 0 or (self.adversarial_weight and self.kind != "professor"):
            raise ValueError(f"adversarial_weight: >= 0, for professor forcing only, got {self.adversarial_weight!r}")
        if self.temperature is not None and not (self.kind == "professor" and self.temperature > 0):
            raise ValueError(f"temperature: a positive number for professor forcing only, got {self.temperature!r}")

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


def standard_regimes(steps: int, adversarial_weight: float, temperature: float = 1.0) -> list[Regime]:
    """The regimes of notebook 03; scheduled sampling reaches probability 0.5 halfway through ``steps``.

    ``teacher_forcing`` is trained as professor forcing with weight 0 and a discriminator that watches
    free-running runs with sampled words (``temperature``): the model learns exactly as with teacher forcing;
    ``teacher_forcing_argmax_watch`` is the same model watched by a discriminator of argmax runs.
    ``lecture_coin`` is the lecture's rule as written (batch size 1, a coin with 0.5 per sequence).
    ``professor_argmax`` / ``professor_sampled``: professor forcing with ``adversarial_weight`` whose
    free-running run reads the argmax / words sampled at ``temperature``.
    """
    return [
        Regime("teacher_forcing", "professor", temperature=temperature),
        Regime("teacher_forcing_argmax_watch", "professor"),
        Regime("free_running", "ratio", 0.0),
        Regime("lecture_coin", "ratio", 0.5, coin="sequence"),
        Regime("scheduled_sampling", "scheduled", decay_k=decay_k_for_midpoint(steps / 2)),
        Regime("professor_argmax", "professor", adversarial_weight=adversarial_weight),
        Regime("professor_sampled", "professor", adversarial_weight=adversarial_weight, temperature=temperature),
    ]
