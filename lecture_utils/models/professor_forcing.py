"""Professor forcing (Lamb et al., 2016): a discriminator tells teacher-forced hidden-state sequences from
free-running ones, and the model is trained to fool it, so that its free-running dynamics look like the
teacher-forced ones.

The free-running run reads the model's own words: sampled from its output distribution at a temperature, as
Lamb et al. do, or its argmax (the control: wherever the greedy word is right, the two runs read the same
words, so their states are identical and no discriminator can tell them apart). :func:`state_gap` measures
how far the two runs' states are where they can differ."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils.checks import expect_tensor
from lecture_utils.data.numerals import Batch, make_batch
from lecture_utils.models.seq2seq import PAD, Seq2Seq, sequence_loss
from lecture_utils.training import eval_mode


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
    *,
    temperature: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One professor-forcing step: update the discriminator, return the model's loss to minimise.

    The model's loss is the teacher-forced cross-entropy plus ``adversarial_weight`` times the loss of
    making the discriminator call its free-running hidden states teacher-forced. The free-running run
    reads the model's argmax (``temperature=None``) or words sampled at ``temperature`` with ``generator``.
    With ``adversarial_weight`` 0 the model's loss is the cross-entropy alone and the free-running run is
    made without a graph: the model then learns exactly as with teacher forcing, the discriminator watches.
    ``log``, if given, receives ``discriminator_loss``, ``discriminator_accuracy`` (its share of right calls
    on this batch's teacher-forced and free-running sequences, before its update; a logit of exactly 0
    counts as wrong), ``cross_entropy`` and, with a positive weight, ``fool_loss``.
    """
    teacher = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0)
    adversarial = adversarial_weight != 0
    with torch.set_grad_enabled(torch.is_grad_enabled() and adversarial):
        free = model(
            batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0, temperature=temperature, generator=generator
        )
    lengths = (batch.tgt != PAD).sum(dim=1)  # (batch,)
    real = torch.ones(len(batch), device=lengths.device)  # the discriminator's labels, on the model's device
    fake = torch.zeros_like(real)
    both = torch.cat([teacher.states, free.states]).detach()  # (2 * batch, steps, hidden): one call, one graph
    teacher_scores, free_scores = discriminator(both, lengths.repeat(2)).chunk(2)  # logits of "teacher-forced"
    disc_loss = F.binary_cross_entropy_with_logits(teacher_scores, real) + F.binary_cross_entropy_with_logits(
        free_scores, fake
    )
    disc_optimizer.zero_grad(set_to_none=True)
    disc_loss.backward()
    disc_optimizer.step()
    cross_entropy = sequence_loss(teacher.logits, batch.tgt)
    if log is not None:
        right = (teacher_scores > 0).float().mean() + (free_scores < 0).float().mean()
        log.update(
            discriminator_loss=float(disc_loss.detach()),
            discriminator_accuracy=float(right) / 2,
            cross_entropy=float(cross_entropy.detach()),
        )
    if not adversarial:
        return cross_entropy
    fool = F.binary_cross_entropy_with_logits(discriminator(free.states, lengths), real)
    if log is not None:
        log["fool_loss"] = float(fool.detach())
    return cross_entropy + adversarial_weight * fool


@torch.no_grad()
def state_gap(
    model: Seq2Seq, numbers, *, temperature: float | None = 1.0, seed: int = 0, batch_size: int = 1024
) -> dict[str, float | torch.Tensor]:
    """How far free-running hidden states are from teacher-forced ones, where they can differ.

    Each number is decoded for its target's length twice: reading the true previous words, and reading
    words sampled from the model at ``temperature`` (a generator seeded with ``seed``; the draws depend on
    ``batch_size`` too) or, with ``temperature=None``, its argmax. Both runs read ``<sos>`` first, and as
    long as they have read the same words their states are equal; from the first step after the model's own
    word differs from the true one they can differ.
    Returns ``diverged``: the share of real target positions where they can differ; ``distance``: the mean
    Euclidean distance between the two states over those positions; ``position_distance`` and
    ``position_count`` (diverged positions) per output position.
    """
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    total = diverged = 0
    sums, counts = torch.zeros(0, device="cpu"), torch.zeros(0, device="cpu")  # CPU accumulators
    with eval_mode(model):
        for i in range(0, len(numbers), batch_size):
            batch = make_batch(numbers[i : i + batch_size]).to(device)
            teacher = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0)
            free = model(
                batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0, temperature=temperature, generator=generator
            )
            real = batch.tgt != PAD  # (batch, tgt_len)
            apart = (free.inputs != teacher.inputs).cumsum(dim=1).gt(0) & real  # read a word of its own by step t
            gap = (free.states - teacher.states).norm(dim=2)  # (batch, tgt_len)
            total += int(real.sum())
            diverged += int(apart.sum())
            width = batch.tgt.shape[1]
            if width > len(sums):
                sums, counts = F.pad(sums, (0, width - len(sums))), F.pad(counts, (0, width - len(counts)))
            sums[:width] += (gap * apart).sum(0).cpu()
            counts[:width] += apart.sum(0).cpu().float()
    return {
        "diverged": diverged / total,
        "distance": float(sums.sum() / max(diverged, 1)),
        "position_distance": sums / counts.clamp(min=1),
        "position_count": counts,
    }
