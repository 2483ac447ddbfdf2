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
from lecture_utils.data.numerals import (
    MAX_DIGITS,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    make_batch,
    number_to_words,
    parse_number_text,
)
from lecture_utils.models.feeding import choose_next_input, draw_coins
from lecture_utils.training import eval_mode

# TARGET_VOCAB's ids of <pad>, <sos> and <eos> (ints; the strings are lecture_utils.data.vocab.*_TOKEN).
PAD, SOS, EOS = TARGET_VOCAB.pad_index, TARGET_VOCAB.sos_index, TARGET_VOCAB.eos_index


@dataclass
class DecoderOutput:
    """What a decoder run returns: ``logits`` (batch, steps, vocab), ``states`` (batch, steps, hidden),
    ``attention`` (batch, steps, src_len), ``tokens`` (batch, steps), the words it predicted (argmax), and
    ``inputs`` (batch, steps), the word each step read (``<sos>`` first)."""

    logits: torch.Tensor
    states: torch.Tensor
    attention: torch.Tensor
    tokens: torch.Tensor
    inputs: torch.Tensor


def sample_words(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """One word per row (batch,) drawn from ``softmax(logits / temperature)`` (logits (batch, vocab)), no gradient."""
    if not temperature > 0:
        raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
    probs = (logits.detach() / temperature).softmax(dim=1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


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
        temperature: float | None = None,
    ) -> DecoderOutput:
        """Run the decoder for ``tgt_len`` steps; each step reads the true or the model's own previous word.

        ``coin``: the true word is chosen with ``teacher_prob`` per example and step (``"token"``), once
        per sequence (``"sequence"``) or once per batch (``"batch"``), see :func:`draw_coins`. The model's
        own word is its argmax (``temperature=None``) or a word sampled from ``softmax(logits / temperature)``
        with ``generator`` (:func:`sample_words`; at each step the sample is drawn before the step's coin).
        """
        expect_tensor(tgt, "tgt", (src.shape[0], None), f"(batch={src.shape[0]}, tgt_len)", dtype=torch.long)
        if temperature is not None and not temperature > 0:
            raise ValueError(f"temperature: expected None or a positive number, got {temperature!r}")
        coins = draw_coins(src.shape[0], teacher_prob, coin, generator, src.device)  # None or (batch,)
        memory, mask, h = self.encode(src, src_lengths)
        feed = h.new_zeros(h.shape)
        prev = torch.full((src.shape[0],), SOS, dtype=torch.long, device=src.device)  # (batch,)
        logits, states, attns, tokens, inputs = [], [], [], [], []
        for t in range(tgt.shape[1]):
            inputs.append(prev)
            step_logits, h, feed, attn = self.step(prev, h, feed, memory, mask)
            predicted = step_logits.argmax(dim=1)  # (batch,)
            own = predicted if temperature is None else sample_words(step_logits, temperature, generator)
            logits.append(step_logits)
            states.append(h)
            attns.append(attn)
            tokens.append(predicted)
            if coins is None:
                prev = choose_next_input(tgt[:, t], own, teacher_prob, generator)
            else:
                prev = torch.where(coins, tgt[:, t], own.detach())
        return DecoderOutput(*(torch.stack(x, 1) for x in (logits, states, attns, tokens, inputs)))

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
    the true words before ``j``, the model's own most likely wrong word in place of word ``j``
    (:func:`plausible_errors`) and then its own words (:func:`decode_after_injection`); ``j`` must be below
    the answer's word count.
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
            positions = torch.tensor([inject_at], device=device)
            wrong = plausible_errors(model, src, lengths, tgt, positions)
            tgt = F.pad(tgt, (0, max(0, max_len - tgt.shape[1])), value=PAD)  # room for longer outputs
            tokens, attention = _injected_decode(model, src, lengths, tgt, positions, wrong)
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
N_WORDS = len(TARGET_VOCAB) - FIRST_WORD_ID  # the words an injection may use


def draw_injections(numbers, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Where to inject a wrong word and which, per number: ``(positions (n,), wrong (n,))``.

    Drawn once for the whole list with ``seed``, number by number, so they depend neither on the model nor on
    how the numbers are later cut into batches. ``positions[i]`` is a word position of number ``i`` (uniform
    over its words), ``wrong[i]`` a word id drawn uniformly among the other :data:`N_WORDS` - 1 words.
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    words = [number_to_words(int(n)) for n in numbers]
    n_words = torch.tensor([len(w) for w in words], device="cpu")
    positions = (torch.rand(len(words), generator=generator, device="cpu") * n_words).long()  # j in [0, n_words)
    true_word = torch.tensor(
        [TARGET_VOCAB.stoi[w[j]] for w, j in zip(words, positions.tolist(), strict=True)], device="cpu"
    )
    offset = torch.randint(1, N_WORDS, (len(words),), generator=generator, device="cpu")  # never 0: never the true word
    return positions, FIRST_WORD_ID + (true_word - FIRST_WORD_ID + offset) % N_WORDS


@torch.no_grad()
def plausible_errors(
    model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor, tgt: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """The model's own most likely wrong word at each example's position ``j``, (batch,): the word (not
    ``<pad>``, ``<sos>``, ``<eos>``, not the true ``tgt[j]``) with the highest logit at decoder step ``j``,
    the decoder having read the true words before ``j`` (its second choice wherever its first is right)."""
    expect_tensor(positions, "positions", (src.shape[0],), f"(batch={src.shape[0]},)", dtype=torch.long)
    logits = model(src, src_lengths, tgt, teacher_prob=1.0).logits  # (batch, tgt_len, vocab)
    rows = torch.arange(src.shape[0], device=src.device)
    at_j = logits[rows, positions].clone()  # (batch, vocab)
    at_j[:, :FIRST_WORD_ID] = float("-inf")
    at_j[rows, tgt[rows, positions]] = float("-inf")
    return at_j.argmax(dim=1)


INJECTIONS = ("uniform", "plausible")


@torch.no_grad()
def recovery_after_error(
    model: Seq2Seq, numbers, *, seed: int = 0, batch_size: int = 1024
) -> dict[str, float | torch.Tensor]:
    """Exposure bias measured directly: feed one wrong word and see whether the model gets back on track.

    For each number a word position ``j`` is drawn with ``seed`` (:func:`draw_injections`, the same for every
    model and every ``batch_size``). The decoder reads the true words before ``j``, a wrong word at ``j``
    and then its own predictions (:func:`decode_after_injection`); it has recovered when every output after
    ``j`` (the remaining words and ``<eos>``) is right. The wrong word is ``"uniform"`` (drawn with the
    position: robustness to random corruption) or ``"plausible"`` (the model's own most likely wrong word,
    :func:`plausible_errors`: an error it would make). Returns the share of recovered numbers per kind,
    ``clean`` (the true word at ``j``: the model's own accuracy on those suffixes), and per position ``j``:
    ``position_uniform`` / ``position_plausible`` (the shares) and ``position_count`` (the numbers).
    """
    all_positions, all_uniform = draw_injections(numbers, seed)
    device = next(model.parameters()).device
    right: dict[str, list[bool]] = {"uniform": [], "plausible": [], "clean": []}
    with eval_mode(model):
        for i in range(0, len(numbers), batch_size):
            batch = make_batch(numbers[i : i + batch_size]).to(device)
            positions = all_positions[i : i + batch_size].to(device)
            wrong = {
                "uniform": all_uniform[i : i + batch_size].to(device),
                "plausible": plausible_errors(model, batch.src, batch.src_lengths, batch.tgt, positions),
                "clean": None,
            }
            targets = batch.tgt.tolist()
            ends = (batch.tgt != PAD).sum(1).tolist()  # words + <eos> per number
            for kind, injected in wrong.items():
                tokens = decode_after_injection(model, batch.src, batch.src_lengths, batch.tgt, positions, injected)
                for out, tgt, j, end in zip(tokens.tolist(), targets, positions.tolist(), ends, strict=True):
                    right[kind].append(out[j + 1 : end] == tgt[j + 1 : end])
    width = int(all_positions.max()) + 1
    counts = torch.bincount(all_positions, minlength=width).float()
    result: dict[str, float | torch.Tensor] = {kind: sum(hits) / len(numbers) for kind, hits in right.items()}
    for kind in INJECTIONS:
        judged = torch.tensor(right[kind], dtype=torch.float, device="cpu")
        hits = torch.bincount(all_positions, weights=judged, minlength=width)
        result[f"position_{kind}"] = hits / counts.clamp(min=1)
    result["position_count"] = counts
    return result
