"""What the tagger reads: vocabularies, word keys and padded batches with masks (built on the CPU).

Shapes: a batch of ``B`` sentences padded to ``T`` words has ``words``, ``forms``, ``tags`` and ``mask``
of shape ``(B, T)``; ``chars`` is ``(U, L)`` for the ``U`` distinct word forms of the batch (each
spelled once, between start and end markers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from lecture_utils.data.ud import Sentence
from lecture_utils.data.vocab import PAD_TOKEN, UNK_TOKEN, Vocab

BOW_TOKEN, EOW_TOKEN = "<w>", "</w>"  # a word's start and end markers in its spelling


def word_key(word: str) -> str:
    """How a word is looked up in the word vocabulary: lower case (the characters keep the case)."""
    return word.lower()


@dataclass
class Batch:
    """Padded tensors for ``B`` sentences of at most ``T`` words (see the module docstring)."""

    words: torch.Tensor  # (B, T) word-vocabulary indices, words.pad_index (0) at padding
    forms: torch.Tensor  # (B, T) row of each word's spelling in ``chars``
    chars: torch.Tensor  # (U, L) character indices of the U distinct forms, chars.pad_index (0) at padding
    tags: torch.Tensor  # (B, T) gold tag indices; 0 (a real tag: no padding entry) where unknown or padding
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
        characters = (c for ws, _ in train for w in ws for c in w)
        chars = Vocab.build(characters, specials=(PAD_TOKEN, UNK_TOKEN, BOW_TOKEN, EOW_TOKEN))
        tags = Vocab(sorted({t for _, ts in train for t in ts}), specials=())
        return cls(words, chars, tags)

    def spell(self, word: str) -> list[int]:
        """Character indices of ``word`` between the start and end markers, long words cut."""
        body = [self.chars.index(c) for c in word[: self.max_word_length]]
        return [self.chars.stoi[BOW_TOKEN], *body, self.chars.stoi[EOW_TOKEN]]

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
