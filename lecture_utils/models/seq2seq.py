"""An encoder-decoder (GRU + attention) and the ways to feed its decoder during training.

The encoder is a bidirectional GRU over the digits (packed, so padding never enters it). The decoder is
a GRU cell with Luong attention and input feeding: at step ``t`` it reads the previous word and the
previous attentional vector, attends over the encoder outputs (padding masked) and predicts a word.

Training regimes (what the decoder reads as "the previous word"):

- teacher forcing: always the true word (``teacher_prob=1``);
- free running: always its own greedy prediction (``teacher_prob=0``);
- a fixed mixture, or scheduled sampling (Bengio et al., 2015) with ``teacher_prob`` decaying over
  training (:func:`inverse_sigmoid_decay`), decided per example and step (:func:`choose_next_input`);
- professor forcing (Lamb et al., 2016): a discriminator (:class:`BehaviourDiscriminator`) learns to
  tell teacher-forced hidden-state sequences from free-running ones, and the model is trained to fool
  it, so that its free-running dynamics look like the teacher-forced ones (:func:`professor_forcing_loss`).

Shapes: ``src`` (batch, src_len) digit ids, ``src_lengths`` (batch,), ``tgt`` (batch, tgt_len) word ids
ending in ``<eos>`` and padded with 0.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils.checks import expect_tensor
from lecture_utils.data.numerals import (
    MAX_DIGITS,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    Batch,
    batches,
    make_batch,
    parse_number_text,
)
from lecture_utils.repro import seed_everything
from lecture_utils.training import History, fit

PAD, SOS, EOS = TARGET_VOCAB.pad, TARGET_VOCAB.sos, TARGET_VOCAB.eos


@dataclass
class DecoderOutput:
    """What a decoder run returns: ``logits`` (batch, steps, vocab), ``states`` (batch, steps, hidden),
    ``attention`` (batch, steps, src_len) and ``tokens`` (batch, steps), the words it predicted."""

    logits: torch.Tensor
    states: torch.Tensor
    attention: torch.Tensor
    tokens: torch.Tensor


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


class Seq2Seq(nn.Module):
    """Digits -> words: bidirectional GRU encoder, GRU-cell decoder with attention and input feeding."""

    def __init__(
        self,
        src_vocab: int = len(SOURCE_VOCAB),
        tgt_vocab: int = len(TARGET_VOCAB),
        embed: int = 32,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        if min(src_vocab, tgt_vocab, embed, hidden) < 1:
            raise ValueError("src_vocab, tgt_vocab, embed, hidden: expected positive ints")
        self.hidden, self.tgt_vocab = hidden, tgt_vocab
        self.src_embed = nn.Embedding(src_vocab, embed, padding_idx=0)
        self.place_embed = nn.Embedding(MAX_DIGITS, embed)  # the digit's place value, counted from the right
        self.encoder = nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        self.memory_proj = nn.Linear(2 * hidden, hidden)  # encoder outputs -> attention keys/values
        self.bridge = nn.Linear(2 * hidden, hidden)  # final encoder states -> first decoder state
        self.tgt_embed = nn.Embedding(tgt_vocab, embed, padding_idx=PAD)
        self.cell = nn.GRUCell(embed + hidden, hidden)  # input: previous word and attentional vector
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, tgt_vocab)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(memory (batch, src_len, hidden), mask (batch, src_len) True on digits, h0 (batch, hidden))``."""
        expect_tensor(src, "src", (None, None), "(batch, src_len)", dtype=torch.long)
        expect_tensor(src_lengths, "src_lengths", (src.shape[0],), f"(batch={src.shape[0]},)", dtype=torch.long)
        if src.numel() == 0 or int(src_lengths.min()) < 1 or int(src_lengths.max()) > src.shape[1]:
            raise ValueError(f"src_lengths: expected every length in [1, src_len={src.shape[1]}]")
        if int(src.max()) >= self.src_embed.num_embeddings or int(src.min()) < 0:
            raise ValueError(f"src: expected ids in [0, {self.src_embed.num_embeddings}), got {int(src.max())}")
        positions = torch.arange(src.shape[1], device=src.device)[None, :]  # (1, src_len)
        place = (src_lengths[:, None] - 1 - positions).clamp(min=0)  # (batch, src_len): 0 for units, 3 for thousands
        embedded = self.src_embed(src) + self.place_embed(place)  # (batch, src_len, embed)
        packed = nn.utils.rnn.pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, h_n = self.encoder(packed)  # h_n: (2, batch, hidden), the last real step of each direction
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths[:, None]  # (batch, src_len)
        h0 = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))  # (batch, hidden)
        return self.memory_proj(outputs), mask, h0

    def step(
        self,
        prev: torch.Tensor,
        h: torch.Tensor,
        feed: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step.

        Returns ``(logits (batch, vocab), h (batch, hidden), feed (batch, hidden), attn (batch, src_len))``.
        """
        h = self.cell(torch.cat([self.tgt_embed(prev), feed], dim=1), h)  # (batch, hidden)
        scores = torch.bmm(memory, h.unsqueeze(2)).squeeze(2)  # (batch, src_len)
        attn = scores.masked_fill(~mask, float("-inf")).softmax(dim=1)  # padding gets weight 0
        context = torch.bmm(attn.unsqueeze(1), memory).squeeze(1)  # (batch, hidden)
        feed = torch.tanh(self.combine(torch.cat([h, context], dim=1)))  # the attentional vector
        return self.out(feed), h, feed, attn

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor,
        tgt: torch.Tensor,
        teacher_prob: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> DecoderOutput:
        """Run the decoder for ``tgt_len`` steps; each step reads the true or the predicted previous word."""
        expect_tensor(tgt, "tgt", (src.shape[0], None), f"(batch={src.shape[0]}, tgt_len)", dtype=torch.long)
        memory, mask, h = self.encode(src, src_lengths)
        feed = h.new_zeros(h.shape)
        prev = torch.full((src.shape[0],), SOS, dtype=torch.long, device=src.device)  # (batch,)
        logits, states, attns, tokens = [], [], [], []
        for t in range(tgt.shape[1]):
            step_logits, h, feed, attn = self.step(prev, h, feed, memory, mask)
            predicted = step_logits.argmax(dim=1)  # (batch,)
            logits.append(step_logits)
            states.append(h)
            attns.append(attn)
            tokens.append(predicted)
            prev = choose_next_input(tgt[:, t], predicted, teacher_prob, generator)
        return DecoderOutput(
            torch.stack(logits, 1), torch.stack(states, 1), torch.stack(attns, 1), torch.stack(tokens, 1)
        )

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int = 20
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding: ``(tokens (batch, steps), attention (batch, steps, src_len))``, steps <= max_len.

        Each sequence stops at its first ``<eos>`` (later positions are ``<pad>``); the loop ends when
        every sequence has stopped or after ``max_len`` steps.
        """
        if max_len < 1:
            raise ValueError(f"max_len: expected a positive int, got {max_len!r}")
        memory, mask, h = self.encode(src, src_lengths)
        feed = h.new_zeros(h.shape)
        prev = torch.full((src.shape[0],), SOS, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        tokens, attns = [], []
        for _ in range(max_len):
            logits, h, feed, attn = self.step(prev, h, feed, memory, mask)
            prev = logits.argmax(dim=1).masked_fill(done, PAD)  # finished sequences emit padding
            tokens.append(prev)
            attns.append(attn)
            done = done | (prev == EOS)
            if bool(done.all()):
                break
        return torch.stack(tokens, 1), torch.stack(attns, 1)


def sequence_loss(logits: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real target tokens (``<eos>`` included, ``<pad>`` ignored)."""
    expect_tensor(logits, "logits", (None, None, None), "(batch, tgt_len, vocab)")
    expect_tensor(tgt, "tgt", tuple(logits.shape[:2]), f"(batch, tgt_len)={tuple(logits.shape[:2])}")
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD)


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
) -> torch.Tensor:
    """One professor-forcing step: update the discriminator, return the model's loss to minimise.

    The model's loss is the teacher-forced cross-entropy plus ``adversarial_weight`` times the loss of
    making the discriminator call its free-running hidden states teacher-forced.
    """
    teacher = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0)
    free = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0)
    lengths = (batch.tgt != PAD).sum(dim=1)  # (batch,)
    real = torch.ones(len(batch), device=lengths.device)  # the discriminator's labels, on the model's device
    fake = torch.zeros_like(real)
    disc_loss = F.binary_cross_entropy_with_logits(
        discriminator(teacher.states.detach(), lengths), real
    ) + F.binary_cross_entropy_with_logits(discriminator(free.states.detach(), lengths), fake)
    disc_optimizer.zero_grad(set_to_none=True)
    disc_loss.backward()
    disc_optimizer.step()
    fool = F.binary_cross_entropy_with_logits(discriminator(free.states, lengths), real)
    return sequence_loss(teacher.logits, batch.tgt) + adversarial_weight * fool


@torch.no_grad()
def evaluate(model: Seq2Seq, numbers, *, batch_size: int = 1024) -> dict[str, float | torch.Tensor]:
    """Greedy and teacher-forced accuracy of ``model`` on ``numbers``.

    Returns ``exact_match`` (the whole greedy output equals the target, ``<eos>`` included),
    ``token_accuracy`` (greedy token equals the target token at the same position, over real target
    positions), ``teacher_forced_accuracy`` (the same with the true previous words fed) and
    ``position_accuracy`` / ``position_count``: greedy token accuracy and the number of targets per
    output position (tensors of length max target length).
    """
    was_training = model.training
    model.eval()
    exact = correct = forced = total = 0
    by_position = torch.zeros(0)
    counts = torch.zeros(0)
    for i in range(0, len(numbers), batch_size):
        batch = make_batch(numbers[i : i + batch_size]).to(next(model.parameters()).device)
        real = batch.tgt != PAD  # (batch, tgt_len)
        tokens, _ = model.greedy_decode(batch.src, batch.src_lengths, max_len=batch.tgt.shape[1] + 1)
        width = batch.tgt.shape[1]
        tokens = F.pad(tokens, (0, max(0, width - tokens.shape[1])), value=PAD)[:, :width]  # (batch, tgt_len)
        hits = (tokens == batch.tgt) & real
        exact += int((hits.sum(1) == real.sum(1)).sum())
        correct += int(hits.sum())
        total += int(real.sum())
        teacher = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0)
        forced += int(((teacher.tokens == batch.tgt) & real).sum())
        grow = width - len(by_position)
        if grow > 0:
            by_position, counts = F.pad(by_position, (0, grow)), F.pad(counts, (0, grow))
        by_position[:width] += hits.sum(0).cpu().float()
        counts[:width] += real.sum(0).cpu().float()
    model.train(was_training)
    return {
        "exact_match": exact / len(numbers),
        "token_accuracy": correct / total,
        "teacher_forced_accuracy": forced / total,
        "position_accuracy": by_position / counts.clamp(min=1),
        "position_count": counts,
    }


@torch.no_grad()
def translate(model: Seq2Seq, text: str, *, max_len: int = 20) -> tuple[list[str], torch.Tensor, str]:
    """Translate user input such as ``"2 026"``: ``(words, attention (steps, digits), digits)``.

    Bad input (empty, non-digits, leading zeros, more than 12 digits) raises a ``ValueError`` that says
    what is allowed, before anything reaches the model.
    """
    digits = parse_number_text(text)
    device = next(model.parameters()).device
    src = torch.tensor([[SOURCE_VOCAB.stoi[c] for c in digits]], device=device)  # (1, digits)
    was_training = model.training
    model.eval()
    tokens, attention = model.greedy_decode(src, torch.tensor([len(digits)], device=device), max_len=max_len)
    model.train(was_training)
    words = TARGET_VOCAB.decode(tokens[0])
    return words, attention[0, : len(words) + 1].cpu(), digits


# --- The training regimes compared in notebook 03 and benchmarks/bench_seq2seq.py -----------------------

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
    decay = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 1 - (1 - config.final_lr_fraction) * s / config.steps
    )
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


def seed_values(table: list[dict], regime: str, column: str, step: int) -> list[float]:
    """The per-seed values of ``column`` for ``regime`` at ``step`` (rows of :func:`results_table`)."""
    if table and column not in table[0]:
        raise ValueError(f"column: expected one of {sorted(table[0])}, got {column!r}")
    return [float(row[column]) for row in table if row["regime"] == regime and row["step"] == step]


def seed_summary(table: list[dict], column: str, step: int) -> dict[str, dict[str, float]]:
    """Per regime (in table order): mean, min, max and spread (max - min over seeds) of ``column`` at ``step``."""
    summary = {}
    for regime in dict.fromkeys(row["regime"] for row in table):
        values = seed_values(table, regime, column, step)
        if values:
            summary[regime] = {
                "mean": sum(values) / len(values),
                "min": min(values),
                "max": max(values),
                "spread": max(values) - min(values),
            }
    return summary


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    """:func:`seed_summary` as an aligned text table with 3 decimals."""
    lines = [f"{'regime':<20}{'mean':>8}{'min':>8}{'max':>8}{'spread':>8}"]
    lines += [
        f"{regime:<20}" + "".join(f"{row[k]:>8.3f}" for k in ("mean", "min", "max", "spread"))
        for regime, row in summary.items()
    ]
    return "\n".join(lines)


def separated(a, b) -> bool:
    """True when two sets of per-seed values do not overlap: every value of one beats every value of the other."""
    return bool(min(a) > max(b) or min(b) > max(a))
