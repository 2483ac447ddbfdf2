"""What the tagger reads: vocabularies, word keys and padded batches with masks (built on the CPU).

Shapes: a batch of ``B`` sentences padded to ``T`` words has ``words``, ``forms``, ``tags`` and ``mask``
of shape ``(B, T)``; ``chars`` is ``(U, L)`` for the ``U`` distinct word forms of the batch (each
spelled once, between start and end markers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from lecture_utils.data.ud import Sentence

PAD, UNK, BOW, EOW = "<pad>", "<unk>", "<w>", "</w>"


class Vocab:
    """Token <-> index. The first ``specials`` come first (by default ``<pad>`` at 0 and ``<unk>`` at 1;
    the tag vocabulary has none, so there index 0 is a real tag); unknown tokens map to ``<unk>`` if present."""

    def __init__(self, tokens: Iterable[str], *, specials: Sequence[str] = (PAD, UNK)) -> None:
        self.itos: list[str] = list(specials)
        self.itos += [t for t in dict.fromkeys(tokens) if t not in set(specials)]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.unk_index = self.stoi.get(UNK)

    @classmethod
    def build(
        cls, tokens: Iterable[str], *, min_freq: int = 1, specials: Sequence[str] = (PAD, UNK)
    ) -> Vocab:
        """The tokens seen at least ``min_freq`` times, most frequent first (ties alphabetically)."""
        if min_freq < 1:
            raise ValueError(f"min_freq: expected a positive int, got {min_freq!r}")
        counts = Counter(tokens)
        kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        return cls(kept, specials=specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def index(self, token: str) -> int:
        """The token's index; ``<unk>``'s for an unknown token, a ValueError if there is no ``<unk>``."""
        i = self.stoi.get(token, self.unk_index)
        if i is None:
            raise ValueError(f"unknown token {token!r}; expected one of {self.itos[:20]}")
        return i

    def encode(self, tokens: Sequence[str]) -> torch.Tensor:
        """Indices of ``tokens`` as a ``(len(tokens),)`` long tensor."""
        return torch.tensor([self.index(t) for t in tokens], dtype=torch.long)


def word_key(word: str) -> str:
    """How a word is looked up in the word vocabulary: lower case (the characters keep the case)."""
    return word.lower()


@dataclass
class Batch:
    """Padded tensors for ``B`` sentences of at most ``T`` words (see the module docstring)."""

    words: torch.Tensor  # (B, T) word-vocabulary indices, PAD = 0
    forms: torch.Tensor  # (B, T) row of each word's spelling in ``chars``
    chars: torch.Tensor  # (U, L) character indices of the U distinct forms, PAD = 0
    tags: torch.Tensor  # (B, T) gold tag indices (0 where unknown or padding)
    mask: torch.Tensor  # (B, T) True at real words
    lengths: torch.Tensor  # (B,) sentence lengths

    def __len__(self) -> int:
        return int(self.words.shape[0])


@dataclass
class Encoders:
    """The word, character and tag vocabularies, fitted on the training sentences only."""

    words: Vocab
    chars: Vocab
    tags: Vocab
    max_word_length: int = 30

    @classmethod
    def fit(cls, train: Sequence[Sentence], *, min_word_freq: int = 1) -> Encoders:
        """Words (lower-cased) seen at least ``min_word_freq`` times; all characters and tags of ``train``."""
        if not train:
            raise ValueError("train: expected a non-empty list of (words, tags) sentences")
        words = Vocab.build((word_key(w) for ws, _ in train for w in ws), min_freq=min_word_freq)
        chars = Vocab.build((c for ws, _ in train for w in ws for c in w), specials=(PAD, UNK, BOW, EOW))
        tags = Vocab(sorted({t for _, ts in train for t in ts}), specials=())
        return cls(words, chars, tags)

    def spell(self, word: str) -> list[int]:
        """Character indices of ``word`` between the start and end markers, long words cut."""
        body = [self.chars.index(c) for c in word[: self.max_word_length]]
        return [self.chars.stoi[BOW], *body, self.chars.stoi[EOW]]

    def batch(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]] | None = None) -> Batch:
        """Pad ``sentences`` (lists of words) and their ``tags`` (optional) into one :class:`Batch`."""
        if not sentences or any(len(s) == 0 for s in sentences):
            raise ValueError("sentences: expected a non-empty list of non-empty word lists")
        if tags is not None and [len(t) for t in tags] != [len(s) for s in sentences]:
            raise ValueError("tags: expected one tag per word of each sentence")
        lengths = torch.tensor([len(s) for s in sentences])
        size = (len(sentences), int(lengths.max()))
        words = torch.zeros(size, dtype=torch.long)
        forms = torch.zeros(size, dtype=torch.long)
        gold = torch.zeros(size, dtype=torch.long)
        distinct: dict[str, int] = {}
        for b, sentence in enumerate(sentences):
            words[b, : len(sentence)] = torch.tensor([self.words.index(word_key(w)) for w in sentence])
            rows = [distinct.setdefault(w, len(distinct)) for w in sentence]
            forms[b, : len(sentence)] = torch.tensor(rows)
            if tags is not None:
                gold[b, : len(sentence)] = torch.tensor([self.tags.stoi.get(t, 0) for t in tags[b]])
        spellings = [self.spell(w) for w in distinct]
        chars = torch.zeros(len(spellings), max(map(len, spellings)), dtype=torch.long)
        for u, spelling in enumerate(spellings):
            chars[u, : len(spelling)] = torch.tensor(spelling)
        mask = torch.arange(size[1])[None, :] < lengths[:, None]
        return Batch(words, forms, chars, gold, mask, lengths)


def length_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Indices grouped into batches of similar length (little padding), in a random order.

    Sentences are sorted by length plus uniform noise in [0, 2), so batches differ from epoch to epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    keys = torch.tensor(lengths, dtype=torch.float) + 2 * torch.rand(len(lengths), generator=generator)
    order = keys.argsort().tolist()
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]


class EpochBatches:
    """Re-iterable training batches for :func:`lecture_utils.fit`: new length-sorted batches each epoch."""

    def __init__(self, enc: Encoders, sentences: Sequence[Sentence], batch_size: int, seed: int = 0) -> None:
        self.enc, self.sentences, self.batch_size = enc, sentences, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.sentences) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        for idx in length_batches([len(w) for w, _ in self.sentences], self.batch_size, self.generator):
            chosen = [self.sentences[i] for i in idx]
            yield self.enc.batch([w for w, _ in chosen], [t for _, t in chosen])
