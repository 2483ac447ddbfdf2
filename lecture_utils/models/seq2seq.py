"""An encoder-decoder (GRU + attention) that turns digits into Russian number words.

The encoder is a bidirectional GRU over the digits (packed, so padding never enters it). The decoder is
a GRU cell with Luong attention and input feeding: at step ``t`` it reads the previous word and the
previous attentional vector, attends over the encoder outputs (padding masked) and predicts a word.
Which previous word it reads during training (the true one, its own, or a coin between them) is the
subject of notebook 03: :mod:`lecture_utils.models.feeding`; professor forcing:
:mod:`lecture_utils.models.professor_forcing`; the experiment: :mod:`lecture_utils.models.seq2seq_training`.

Shapes: ``src`` (batch, src_len) digit ids, ``src_lengths`` (batch,), ``tgt`` (batch, tgt_len) word ids
ending in ``<eos>`` and padded with 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils.checks import expect_tensor
from lecture_utils.data.numerals import MAX_DIGITS, SOURCE_VOCAB, TARGET_VOCAB, make_batch, parse_number_text
from lecture_utils.models.feeding import choose_next_input, draw_coins
from lecture_utils.training import eval_mode

# TARGET_VOCAB's ids of <pad>, <sos> and <eos> (ints; the strings are lecture_utils.data.vocab.*_TOKEN).
PAD, SOS, EOS = TARGET_VOCAB.pad_index, TARGET_VOCAB.sos_index, TARGET_VOCAB.eos_index


@dataclass
class DecoderOutput:
    """What a decoder run returns: ``logits`` (batch, steps, vocab), ``states`` (batch, steps, hidden),
    ``attention`` (batch, steps, src_len) and ``tokens`` (batch, steps), the words it predicted."""

    logits: torch.Tensor
    states: torch.Tensor
    attention: torch.Tensor
    tokens: torch.Tensor


def digit_places(src_lengths: torch.Tensor, src_len: int) -> torch.Tensor:
    """Each digit's place value counted from the right, ``(batch, src_len)``: 0 for units, 3 for thousands
    (padding positions get 0; the encoder masks them anyway)."""
    positions = torch.arange(src_len, device=src_lengths.device)[None, :]  # (1, src_len)
    return (src_lengths[:, None] - 1 - positions).clamp(min=0)


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
        place = digit_places(src_lengths, src.shape[1])  # (batch, src_len)
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
        coin: str = "token",
    ) -> DecoderOutput:
        """Run the decoder for ``tgt_len`` steps; each step reads the true or the predicted previous word.

        ``coin``: the true word is chosen with ``teacher_prob`` per example and step (``"token"``), once
        per sequence (``"sequence"``) or once per batch (``"batch"``), see :func:`draw_coins`.
        """
        expect_tensor(tgt, "tgt", (src.shape[0], None), f"(batch={src.shape[0]}, tgt_len)", dtype=torch.long)
        coins = draw_coins(src.shape[0], teacher_prob, coin, generator, src.device)  # None or (batch,)
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
            if coins is None:
                prev = choose_next_input(tgt[:, t], predicted, teacher_prob, generator)
            else:
                prev = torch.where(coins, tgt[:, t], predicted.detach())
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


@torch.no_grad()
def evaluate(model: Seq2Seq, numbers, *, batch_size: int = 1024) -> dict[str, float | torch.Tensor]:
    """Greedy and teacher-forced accuracy of ``model`` on ``numbers``.

    Returns ``exact_match`` (the whole greedy output equals the target, ``<eos>`` included),
    ``token_accuracy`` (greedy token equals the target token at the same position, over real target
    positions), ``teacher_forced_accuracy`` (the same with the true previous words fed) and
    ``position_accuracy`` / ``position_count``: greedy token accuracy and the number of targets per
    output position (tensors of length max target length).
    """
    exact = correct = forced = total = 0
    by_position, counts = torch.zeros(0), torch.zeros(0)
    with eval_mode(model):
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
    return {
        "exact_match": exact / len(numbers),
        "token_accuracy": correct / total,
        "teacher_forced_accuracy": forced / total,
        "position_accuracy": by_position / counts.clamp(min=1),
        "position_count": counts,
    }


@torch.no_grad()
def translate(
    model: Seq2Seq, text: str, *, max_len: int = 20, inject_at: int | None = None
) -> tuple[list[str], torch.Tensor, str]:
    """Translate user input such as ``"2 026"``: ``(words, attention (steps, digits), digits)``.

    Bad input (empty, non-digits, leading zeros, more than 12 digits) raises a ``ValueError`` that says
    what is allowed, before anything reaches the model. With ``inject_at = j`` (0-based) the decoder reads
    the true words before ``j``, a wrong word (the next word of the vocabulary) in place of word ``j`` and
    then its own words (:func:`decode_after_injection`); ``j`` must be below the answer's word count.
    """
    digits = parse_number_text(text)
    device = next(model.parameters()).device
    src = torch.tensor([[SOURCE_VOCAB.stoi[c] for c in digits]], device=device)  # (1, digits)
    lengths = torch.tensor([len(digits)], device=device)
    with eval_mode(model):
        if inject_at is None:
            tokens, attention = model.greedy_decode(src, lengths, max_len=max_len)
        else:
            tgt = make_batch([int(digits)]).tgt.to(device)  # (1, words + 1)
            n_words = tgt.shape[1] - 1
            if not 0 <= inject_at < n_words:
                raise ValueError(f"inject_at: expected a word position in [0, {n_words}), got {inject_at!r}")
            true_word = int(tgt[0, inject_at])
            wrong = FIRST_WORD_ID + (true_word - FIRST_WORD_ID + 1) % (model.tgt_vocab - FIRST_WORD_ID)
            positions = torch.tensor([inject_at], device=device)
            tgt = F.pad(tgt, (0, max(0, max_len - tgt.shape[1])), value=PAD)  # room for longer outputs
            tokens, attention = _injected_decode(
                model, src, lengths, tgt, positions, torch.tensor([wrong], device=device)
            )
    words = TARGET_VOCAB.decode(tokens[0])
    return words, attention[0, : len(words) + 1].cpu(), digits


@torch.no_grad()
def decode_after_injection(
    model: Seq2Seq,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    tgt: torch.Tensor,
    positions: torch.Tensor,
    wrong: torch.Tensor | None,
) -> torch.Tensor:
    """Tokens (batch, tgt_len) of a decoder that reads the true words before ``positions`` (batch,), then
    ``wrong`` (batch,) in place of the true word at that position (``None``: the true word), then its own
    greedy predictions.

    Step ``t`` reads ``<sos>`` (t = 0), the true word ``tgt[t - 1]`` (t - 1 < j), the injected word
    (t - 1 = j) or its own prediction of step ``t - 1`` (t - 1 > j); the outputs at steps after ``j``
    show whether it gets back on track.
    """
    return _injected_decode(model, src, src_lengths, tgt, positions, wrong)[0]


def _injected_decode(model, src, src_lengths, tgt, positions, wrong):
    """:func:`decode_after_injection` with the attention: ``(tokens, attention (batch, tgt_len, src_len))``."""
    expect_tensor(positions, "positions", (src.shape[0],), f"(batch={src.shape[0]},)", dtype=torch.long)
    memory, mask, h = model.encode(src, src_lengths)
    feed = h.new_zeros(h.shape)
    prev = torch.full((src.shape[0],), SOS, dtype=torch.long, device=src.device)
    tokens, attns = [], []
    for t in range(tgt.shape[1]):
        logits, h, feed, attn = model.step(prev, h, feed, memory, mask)
        predicted = logits.argmax(dim=1)  # (batch,)
        tokens.append(predicted)
        attns.append(attn)
        injected = tgt[:, t] if wrong is None else wrong
        prev = torch.where(t < positions, tgt[:, t], torch.where(t == positions, injected, predicted))
    return torch.stack(tokens, 1), torch.stack(attns, 1)


FIRST_WORD_ID = max(PAD, SOS, EOS) + 1  # ids below are <pad>, <sos>, <eos>


@torch.no_grad()
def recovery_after_error(
    model: Seq2Seq, numbers, *, seed: int = 0, batch_size: int = 1024
) -> dict[str, float | torch.Tensor]:
    """Exposure bias measured directly: feed one wrong word and see whether the model gets back on track.

    For each number, a position ``j`` among its words and a wrong word (not the true one) are drawn with
    ``seed`` (the same for every model). The decoder reads the true words before ``j``, the wrong word
    at ``j`` and then its own predictions (:func:`decode_after_injection`). ``recovered``: the share of
    numbers whose every output after ``j`` (the remaining words and ``<eos>``) is right; ``clean``: the
    same with the true word at ``j`` (the model's own error rate on those suffixes, for comparison);
    ``position_recovered`` / ``position_count``: ``recovered`` and the number of cases per ``j``.
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)  # the draws are on the CPU for every model
    device = next(model.parameters()).device
    recovered = clean = 0
    by_position, counts = torch.zeros(0, device="cpu"), torch.zeros(0, device="cpu")
    with eval_mode(model):
        for i in range(0, len(numbers), batch_size):
            batch = make_batch(numbers[i : i + batch_size])
            n_words = (batch.tgt != PAD).sum(1) - 1  # (batch,) words before <eos>
            positions = (
                torch.rand(len(batch), generator=generator, device="cpu") * n_words
            ).long()  # j in [0, n_words)
            true_word = batch.tgt.gather(1, positions[:, None]).squeeze(1)
            offset = torch.randint(1, model.tgt_vocab - FIRST_WORD_ID, (len(batch),), generator=generator, device="cpu")
            wrong = FIRST_WORD_ID + (true_word - FIRST_WORD_ID + offset) % (model.tgt_vocab - FIRST_WORD_ID)
            batch, positions, wrong = batch.to(device), positions.to(device), wrong.to(device)
            steps = torch.arange(batch.tgt.shape[1], device=device)[None, :]  # (1, tgt_len)
            judged = (steps > positions[:, None]) & (batch.tgt != PAD)  # (batch, tgt_len): after j, real
            for injected, into in ((wrong, "recovered"), (None, "clean")):
                tokens = decode_after_injection(model, batch.src, batch.src_lengths, batch.tgt, positions, injected)
                right = ((tokens == batch.tgt) | ~judged).all(1).cpu()  # (batch,)
                if into == "recovered":
                    recovered += int(right.sum())
                    width = int(n_words.max())
                    if width > len(by_position):
                        grow = width - len(by_position)
                        by_position, counts = F.pad(by_position, (0, grow)), F.pad(counts, (0, grow))
                    by_position.index_add_(0, positions.cpu(), right.float())
                    counts.index_add_(0, positions.cpu(), torch.ones(len(batch), device="cpu"))
                else:
                    clean += int(right.sum())
    return {
        "recovered": recovered / len(numbers),
        "clean": clean / len(numbers),
        "position_recovered": by_position / counts.clamp(min=1),
        "position_count": counts,
    }
