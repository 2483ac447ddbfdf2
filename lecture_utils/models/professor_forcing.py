"""Professor forcing (Lamb et al., 2016): a discriminator tells teacher-forced hidden-state sequences from
free-running ones, and the model is trained to fool it, so that its free-running dynamics look like the
teacher-forced ones."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils.checks import expect_tensor
from lecture_utils.data.numerals import Batch
from lecture_utils.models.seq2seq import PAD, Seq2Seq, sequence_loss


class BehaviourDiscriminator(nn.Module):
    """Professor forcing's discriminator: a GRU over decoder hidden states -> P(teacher-forced).

    It reads each sequence up to its own length (the output at the last real step), so padding does not
    matter; Lamb et al. (2016) use a bidirectional RNN, a one-way GRU keeps it compact.
    """

    def __init__(self, hidden: int, size: int = 64) -> None:
        super().__init__()
        self.rnn = nn.GRU(hidden, size, batch_first=True)
        self.head = nn.Sequential(nn.Linear(size, size), nn.ReLU(), nn.Linear(size, 1))

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (batch,) that each ``states`` (batch, steps, hidden) sequence was teacher-forced."""
        expect_tensor(
            states,
            "states",
            (None, None, self.rnn.input_size),
            f"(batch, steps, hidden={self.rnn.input_size})",
        )
        outputs, _ = self.rnn(states)  # (batch, steps, size)
        last = outputs[torch.arange(states.shape[0], device=states.device), lengths - 1]  # (batch, size)
        return self.head(last).squeeze(1)


def professor_forcing_loss(
    model: Seq2Seq,
    discriminator: BehaviourDiscriminator,
    disc_optimizer: torch.optim.Optimizer,
    batch: Batch,
    adversarial_weight: float = 1.0,
    log: dict[str, float] | None = None,
) -> torch.Tensor:
    """One professor-forcing step: update the discriminator, return the model's loss to minimise.

    The model's loss is the teacher-forced cross-entropy plus ``adversarial_weight`` times the loss of
    making the discriminator call its free-running hidden states teacher-forced. ``log``, if given,
    receives ``discriminator_loss``, ``discriminator_accuracy`` (its share of right calls on this batch's
    teacher-forced and free-running sequences, before its update; a logit of exactly 0 counts as wrong),
    ``fool_loss`` and ``cross_entropy``.
    """
    teacher = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0)
    free = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0)
    lengths = (batch.tgt != PAD).sum(dim=1)  # (batch,)
    real = torch.ones(len(batch), device=lengths.device)  # the discriminator's labels, on the model's device
    fake = torch.zeros_like(real)
    teacher_scores = discriminator(teacher.states.detach(), lengths)  # (batch,) logits of "teacher-forced"
    free_scores = discriminator(free.states.detach(), lengths)
    disc_loss = F.binary_cross_entropy_with_logits(teacher_scores, real) + F.binary_cross_entropy_with_logits(
        free_scores, fake
    )
    disc_optimizer.zero_grad(set_to_none=True)
    disc_loss.backward()
    disc_optimizer.step()
    fool = F.binary_cross_entropy_with_logits(discriminator(free.states, lengths), real)
    cross_entropy = sequence_loss(teacher.logits, batch.tgt)
    if log is not None:
        right = (teacher_scores > 0).float().mean() + (free_scores < 0).float().mean()
        log.update(
            discriminator_loss=float(disc_loss.detach()),
            discriminator_accuracy=float(right) / 2,
            fool_loss=float(fool.detach()),
            cross_entropy=float(cross_entropy.detach()),
        )
    return cross_entropy + adversarial_weight * fool
