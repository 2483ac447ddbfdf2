"""A part-of-speech tagger for real corpora: a BiLSTM with a character CNN, training with word dropout, a
best-on-validation checkpoint and early stopping, evaluation (all, seen and unseen words), a baseline and a
lexicon of unambiguous words.
Its inputs (vocabularies, padded batches with masks) are built by :mod:`lecture_utils.data.tagging`.

Three lines without Jupyter::

    enc = Encoders.fit(train)                       # train = [(words, tags), ...], e.g. from load_ud
    model, history = train_tagger(enc, train, dev)  # BiLSTMTagger, History (dev: the validation set)
    evaluate_tags(test, predict_tags(model, enc, [w for w, _ in test]), training_words(train))

The model returns tag scores ``(B, T, n_tags)`` for a batch of ``B`` sentences padded to ``T`` words.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tqdm.auto import tqdm

from lecture_utils.checks import expect_tensor
from lecture_utils.data.tagging import Batch, Encoders, EpochBatches, word_key
from lecture_utils.data.ud import Sentence
from lecture_utils.data.vocab import UNK_TOKEN
from lecture_utils.training import History, best_epoch, eval_mode, fit, linear_decay


class CharCNN(nn.Module):
    """A word's spelling -> one vector: character embeddings, convolutions of each width, max over positions.

    With the end marker, a width-5 filter sees a four-letter ending such as "-ого" or "-ing".
    """

    def __init__(self, n_chars: int, char_dim: int = 32, filters: int = 64, widths: Sequence[int] = (3, 5)) -> None:
        super().__init__()
        if filters < 1 or not widths or any(w < 1 or w % 2 == 0 for w in widths):
            raise ValueError(f"filters, widths: expected a positive int and odd widths, got {filters}, {widths}")
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(char_dim, filters, w, padding=w // 2) for w in widths)
        self.out_dim = filters * len(widths)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        expect_tensor(chars, "chars", (None, None), "(forms, characters)", dtype=torch.long)
        x = self.embed(chars).transpose(1, 2)  # (U, char_dim, L)
        padding = (chars == 0)[:, None, :]  # (U, 1, L): 0 is the character vocabulary's pad_index
        # Padding never wins the max over positions.
        pooled = [conv(x).masked_fill(padding, float("-inf")).max(dim=2).values for conv in self.convs]
        return torch.tanh(torch.cat(pooled, dim=1))  # (U, filters * len(widths))


class BiLSTMTagger(nn.Module):
    """Word embedding + character CNN -> bidirectional LSTM -> linear layer: a score per tag and word.

    ``char_filters`` per convolution width; ``0`` leaves the character CNN out (a words-only tagger);
    ``word_dim=0`` leaves the word embedding out (a spelling-only tagger). The LSTM reads packed
    sequences (:func:`torch.nn.utils.rnn.pack_padded_sequence`), so neither direction reads padding.
    Index 0 of the word and character vocabularies is ``<pad>`` (their ``pad_index``, a zero embedding);
    the tag vocabulary has no padding entry: tag 0 is a real tag, and padded positions are masked instead.
    """

    def __init__(
        self,
        n_words: int,
        n_chars: int,
        n_tags: int,
        *,
        word_dim: int = 100,
        char_dim: int = 32,
        char_filters: int = 64,
        hidden: int = 128,
        dropout: float = 0.4,
    ) -> None:
        super().__init__()
        if char_filters < 0 or word_dim < 0 or char_filters == word_dim == 0:
            raise ValueError(f"word_dim, char_filters: expected non-negative ints, not both 0, got {word_dim!r}, "
                             f"{char_filters!r}")
        self.word_embed = nn.Embedding(n_words, word_dim, padding_idx=0) if word_dim else None
        self.char_cnn = CharCNN(n_chars, char_dim, char_filters) if char_filters else None
        size = word_dim + (self.char_cnn.out_dim if self.char_cnn is not None else 0)
        self.lstm = nn.LSTM(size, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_tags)

    def features(self, batch: Batch) -> torch.Tensor:
        """What the LSTM reads at each word: ``(B, T, word_dim + char features)``."""
        expect_tensor(batch.words, "batch.words", (None, None), "(batch, time)", dtype=torch.long)
        parts = []
        if self.word_embed is not None:
            parts.append(self.word_embed(batch.words))  # (B, T, word_dim)
        if self.char_cnn is not None:
            parts.append(self.char_cnn(batch.chars)[batch.forms])  # (B, T, char features)
        return torch.cat(parts, dim=2)

    def forward(self, batch: Batch) -> torch.Tensor:
        x = self.dropout(self.features(batch))  # (B, T, D)
        packed = pack_padded_sequence(x, batch.lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])  # (B, T, 2H)
        return self.out(self.dropout(h))  # (B, T, n_tags)


def masked_cross_entropy(scores: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real words only (``mask`` True): the training loss of the tagger.

    The tag vocabulary has no padding entry, so a padded position's gold id 0 is a real tag: counting
    it would teach the model to predict that tag wherever a batch is padded.
    """
    expect_tensor(scores, "scores", (None, None, None), "(batch, time, n_tags)")
    expect_tensor(mask, "mask", tuple(scores.shape[:2]), f"(batch, time) = {tuple(scores.shape[:2])}",
                  dtype=torch.bool)
    return F.cross_entropy(scores[mask], tags[mask])


@torch.no_grad()
def predict_tags(model: BiLSTMTagger, enc: Encoders, sentences: Sequence[Sequence[str]],
                 batch_size: int = 256) -> list[list[str]]:
    """The predicted tag of each word of each sentence, in the input order (in eval mode; the model's mode
    is restored afterwards)."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    predicted: list[list[str]] = [[] for _ in sentences]
    with eval_mode(model):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = enc.batch([sentences[i] for i in idx])
            best = model(batch).argmax(dim=2)  # (B, T)
            for row, i in enumerate(idx):
                predicted[i] = [enc.tags.itos[j] for j in best[row, : len(sentences[i])].tolist()]
    return predicted


def accuracy(gold: Sequence[Sentence], predicted: Sequence[Sequence[str]]) -> float:
    """Share of words whose predicted tag equals the gold one (all sentences together)."""
    pairs = _aligned(gold, predicted)
    return sum(g == p for _, g, p in pairs) / len(pairs)


def _aligned(gold: Sequence[Sentence], predicted: Sequence[Sequence[str]]) -> list[tuple[str, str, str]]:
    if len(gold) != len(predicted) or any(len(g[0]) != len(p) for g, p in zip(gold, predicted, strict=True)):
        raise ValueError("predicted: expected one tag per word of each gold sentence")
    if not gold:
        raise ValueError("gold: expected at least one sentence")
    return [
        (w, g, p)
        for (words, tags), pred in zip(gold, predicted, strict=True)
        for w, g, p in zip(words, tags, pred, strict=True)
    ]


def training_words(train: Sequence[Sentence]) -> set[str]:
    """Every lower-cased word form of the training sentences (what "in vocabulary" means for OOV)."""
    return {word_key(w) for words, _ in train for w in words}


def evaluate_tags(gold: Sequence[Sentence], predicted: Sequence[Sequence[str]], known: set[str]
                  ) -> dict[str, float]:
    """Accuracy on all words, on words seen in training (lower-cased form in ``known``, see
    :func:`training_words`), on out-of-vocabulary ones (the rest) and the share of the latter."""
    pairs = _aligned(gold, predicted)
    seen = [(g, p) for w, g, p in pairs if word_key(w) in known]
    oov = [(g, p) for w, g, p in pairs if word_key(w) not in known]
    return {
        "accuracy": sum(g == p for _, g, p in pairs) / len(pairs),
        "seen_accuracy": sum(g == p for g, p in seen) / len(seen) if seen else float("nan"),
        "oov_accuracy": sum(g == p for g, p in oov) / len(oov) if oov else float("nan"),
        "oov_share": len(oov) / len(pairs),
    }


class MostFrequentTag:
    """The baseline: each training word form gets its most frequent training tag (exact form, then
    lower case); an unseen word gets the most frequent tag overall."""

    def __init__(self, train: Sequence[Sentence]) -> None:
        if not train:
            raise ValueError("train: expected a non-empty list of (words, tags) sentences")
        exact: dict[str, Counter[str]] = {}
        lower: dict[str, Counter[str]] = {}
        for words, tags in train:
            for w, t in zip(words, tags, strict=True):
                exact.setdefault(w, Counter())[t] += 1
                lower.setdefault(word_key(w), Counter())[t] += 1
        self.exact = {w: c.most_common(1)[0][0] for w, c in exact.items()}
        self.lower = {w: c.most_common(1)[0][0] for w, c in lower.items()}
        self.default = Counter(t for _, tags in train for t in tags).most_common(1)[0][0]

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The baseline's tag for every word of every sentence."""
        return [[self.exact.get(w) or self.lower.get(word_key(w), self.default) for w in s]
                for s in sentences]


def unambiguous_lexicon(train: Sequence[Sentence], k: int) -> dict[str, str]:
    """Words (lower-cased) seen at least ``k`` times in ``train``, always with one tag -> that tag."""
    if k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    tags_of: dict[str, Counter[str]] = {}
    for words, tags in train:
        for w, t in zip(words, tags, strict=True):
            tags_of.setdefault(word_key(w), Counter())[t] += 1
    return {w: next(iter(c)) for w, c in tags_of.items() if len(c) == 1 and sum(c.values()) >= k}


def with_lexicon(sentences: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], lexicon: dict[str, str]
                 ) -> list[list[str]]:
    """The lexicon's tag where it has the word (lower-cased), the predicted tag elsewhere."""
    return [[lexicon.get(word_key(w), p) for w, p in zip(words, tags, strict=True)]
            for words, tags in zip(sentences, predicted, strict=True)]


def confusion_counts(gold: Sequence[Sentence], predicted: Sequence[Sequence[str]], tags: Sequence[str]
                     ) -> torch.Tensor:
    """``(n_tags, n_tags)`` counts: row = gold tag, column = predicted tag, in the order of ``tags``."""
    index = {t: i for i, t in enumerate(tags)}
    counts = torch.zeros(len(tags), len(tags), dtype=torch.long)
    for _, g, p in _aligned(gold, predicted):
        counts[index[g], index[p]] += 1
    return counts


def common_errors(gold: Sequence[Sentence], predicted: Sequence[Sequence[str]], top: int = 8,
                  examples: int = 4) -> list[tuple[str, str, int, list[str]]]:
    """The ``top`` most frequent (gold, predicted) confusions with their count and example words."""
    errors: dict[tuple[str, str], Counter[str]] = {}
    for w, g, p in _aligned(gold, predicted):
        if g != p:
            errors.setdefault((g, p), Counter())[w] += 1
    ranked = sorted(errors.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:top]
    return [(g, p, sum(c.values()), [w for w, _ in c.most_common(examples)]) for (g, p), c in ranked]


@dataclass
class TrainConfig:
    """Training settings of :func:`train_tagger` and the model's sizes (see :class:`BiLSTMTagger`).

    ``epochs`` is a cap: training stops earlier after ``patience`` epochs without a new best
    validation accuracy. ``word_dropout``: the probability that a training word is shown as ``<unk>``.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-3
    final_lr_fraction: float = 0.1
    patience: int = 3
    dropout: float = 0.4
    word_dropout: float = 0.1
    word_dim: int = 64
    char_filters: int = 32
    hidden: int = 64
    seed: int = 0

    def model(self, enc: Encoders) -> BiLSTMTagger:
        """A fresh model of these sizes for the vocabularies ``enc``."""
        return BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), word_dim=self.word_dim,
                            char_filters=self.char_filters, hidden=self.hidden, dropout=self.dropout)


TAGGER_CONFIGS = {
    "en": TrainConfig(epochs=16),
    "ru": TrainConfig(epochs=10),
}
"""The settings the notebook and ``benchmarks/bench_pos.py`` use for English-EWT and Russian-Taiga:
sizes, learning rate and batch size chosen on Taiga's validation set (a smaller, faster model with a
larger step reached a higher validation accuracy than 100/2x64/128 at lr 2e-3 in fewer CPU seconds).
EWT's cap of 16 epochs is what about 5 CPU minutes of one thread allow (about 16 s per epoch); on the
official EWT dev set, with seed 0, early stopping (patience 3) ended training at epoch 13, best at
epoch 10 (dev accuracy 0.9454, against 0.9361 at the former cap of 6, best at its last epoch); with seeds 1
and 2 (``benchmarks/bench_pos.py``) training reached the cap with its best at epoch 16 (0.9452, 0.9453), so
the cap binds there, by less than 0.001 per epoch at the end. Taiga's cap of 10 epochs keeps each of its runs
under a minute of CPU."""


def train_tagger(enc: Encoders, train: Sequence[Sentence], dev: Sequence[Sentence],
                 config: TrainConfig | None = None, *, desc: str = "train", progress: bool = True
                 ) -> tuple[BiLSTMTagger, History]:
    """Train a :class:`BiLSTMTagger` with Adam and a linearly decaying learning rate.

    ``dev`` is the validation set: its accuracy is measured after each epoch (``dev_accuracy`` in the
    history); the weights of the best epoch are restored at the end, and training stops after
    ``patience`` epochs without a new best. The progress bar counts steps up to the epoch cap; after
    early stopping it is closed at the step reached, as a finished bar that names the stop.
    """
    config = config or TrainConfig()
    if not 0.0 <= config.word_dropout < 1.0:
        raise ValueError(f"word_dropout: expected a probability in [0, 1), got {config.word_dropout!r}")
    if not dev:
        raise ValueError("dev: expected a non-empty list of (words, tags) sentences")
    torch.manual_seed(config.seed)
    model = config.model(enc)
    batches = EpochBatches(enc, train, config.batch_size, seed=config.seed)
    total = config.epochs * len(batches)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
    scheduler = linear_decay(optimizer, total, config.final_lr_fraction)
    generator = torch.Generator().manual_seed(config.seed + 1)  # word dropout's draws
    dev_words = [w for w, _ in dev]
    scores: list[float] = []  # validation accuracy after each epoch
    best_weights: dict[str, torch.Tensor] = {}  # a copy of the model's weights at the best epoch so far
    bar = tqdm(total=total, desc=desc, disable=not progress)

    def step_loss(batch: Batch) -> torch.Tensor:
        model.train()
        bar.update(1)
        if config.word_dropout > 0:  # word dropout: each real word shown as <unk> with this probability
            noise = torch.rand(batch.words.shape, generator=generator, device=batch.words.device)  # (B, T)
            drop = (noise < config.word_dropout) & batch.mask
            batch = dataclasses.replace(batch, words=batch.words.masked_fill(drop, enc.words.unk_index))
        return masked_cross_entropy(model(batch), batch.tags, batch.mask)

    def evaluate() -> dict[str, float]:
        nonlocal best_weights
        scores.append(accuracy(dev, predict_tags(model, enc, dev_words, batch_size=512)))
        if best_epoch(scores) == len(scores):  # a new best (a tie keeps the earlier epoch)
            best_weights = copy.deepcopy(model.state_dict())
        bar.set_postfix(dev_accuracy=f"{scores[-1]:.4f}", best_epoch=best_epoch(scores), refresh=False)
        return {"dev_accuracy": scores[-1]}

    try:
        history = fit(step_loss, batches, optimizer, epochs=config.epochs, scheduler=scheduler,
                      evaluate=evaluate, stop_when=lambda _: len(scores) - best_epoch(scores) >= config.patience,
                      desc=desc, progress=False)
    finally:
        if 0 < bar.n < total:  # early stopping: the bar ends full where training ended, not as a failed run
            bar.total = bar.n
            if hasattr(bar, "container"):  # the Jupyter widget keeps its own maximum
                bar.container.children[1].max = bar.n
            bar.set_description(f"{desc}: early stop after epoch {len(scores)}", refresh=False)
        bar.close()
    model.load_state_dict(best_weights)
    model.eval()
    return model, history


_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+(?:[-.]\w+)*|[^\w\s]", re.IGNORECASE)


def tokenize(text: str) -> list[str]:
    """Split raw text into words roughly as UD does (punctuation apart, English ``n't``/``'s`` apart)."""
    if not isinstance(text, str):
        raise ValueError(f"text: expected a str, got {type(text).__name__}")
    return _TOKEN.findall(text)


def tag_text(model: BiLSTMTagger, enc: Encoders, text: str) -> list[tuple[str, str]]:
    """``[(word, tag), ...]`` for a raw sentence (empty for text without words)."""
    words = tokenize(text)
    return list(zip(words, predict_tags(model, enc, [words])[0], strict=True)) if words else []


@torch.no_grad()
def top_tags(model: BiLSTMTagger, enc: Encoders, words: Sequence[str], k: int = 2
             ) -> list[list[tuple[str, float]]]:
    """For each word of one sentence, its ``k`` most probable tags with their probabilities."""
    if not words:
        return []
    with eval_mode(model):
        probs = model(enc.batch([list(words)]))[0].softmax(dim=1)  # (T, n_tags)
    best = probs.topk(min(k, probs.shape[1]), dim=1)
    return [[(enc.tags.itos[i], p) for i, p in zip(idx, val, strict=True)]
            for idx, val in zip(best.indices.tolist(), best.values.tolist(), strict=True)]


def tag_text_top(model: BiLSTMTagger, enc: Encoders, text: str, k: int = 2) -> list[tuple[str, str]]:
    """``[(word, "TAG 0.93 · TAG2 0.05"), ...]`` for the text-tagging widget; a word outside the
    vocabulary (it reaches the model as ``<unk>``) is shown as ``word <unk>``."""
    words = tokenize(text)
    shown = []
    for w, tags in zip(words, top_tags(model, enc, words, k), strict=True):
        marked = w if word_key(w) in enc.words else f"{w} {UNK_TOKEN}"
        shown.append((marked, " · ".join(f"{t} {p:.2f}" for t, p in tags)))
    return shown
