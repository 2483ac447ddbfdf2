"""One token <-> index vocabulary for every task of the package (numerals and tagging).

Naming scheme, the same everywhere:

- the special tokens are strings named ``*_TOKEN``: :data:`PAD_TOKEN` ``"<pad>"``, :data:`UNK_TOKEN`
  ``"<unk>"``, :data:`SOS_TOKEN` ``"<sos>"``, :data:`EOS_TOKEN` ``"<eos>"``;
- their ids in a given vocabulary are its attributes ``pad_index``, ``unk_index``, ``sos_index`` and
  ``eos_index`` (``None`` where the vocabulary has no such token, as the tag vocabulary has no padding
  entry: there index 0 is a real tag);
- a task that always uses one vocabulary may name those ids once at module level without a suffix:
  ``lecture_utils.models.seq2seq.PAD``, ``SOS`` and ``EOS`` are ``TARGET_VOCAB``'s ids (ints), never strings.

The specials come first, in the order given (``<pad>`` first, so that its id is 0 wherever it is present
and ``torch.zeros`` pads a batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

PAD_TOKEN, UNK_TOKEN, SOS_TOKEN, EOS_TOKEN = "<pad>", "<unk>", "<sos>", "<eos>"


class Vocab:
    """Token <-> index maps: ``specials`` first (by default ``<pad>`` = 0 and ``<unk>`` = 1), then ``tokens``.

    ``tokens`` must be distinct and must not repeat a special (a ValueError otherwise). :meth:`index`
    maps an unknown token to ``<unk>`` when the vocabulary has one and raises a ValueError when it has not.
    """

    def __init__(self, tokens: Iterable[str], *, specials: Sequence[str] = (PAD_TOKEN, UNK_TOKEN)) -> None:
        tokens, specials = list(tokens), list(specials)
        if len(set(tokens)) != len(tokens) or len(set(specials)) != len(specials) or set(tokens) & set(specials):
            raise ValueError("tokens: expected distinct tokens, none of them one of the specials")
        self.itos: list[str] = [*specials, *tokens]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.pad_index = self.stoi.get(PAD_TOKEN)
        self.unk_index = self.stoi.get(UNK_TOKEN)
        self.sos_index = self.stoi.get(SOS_TOKEN)
        self.eos_index = self.stoi.get(EOS_TOKEN)

    @classmethod
    def build(
        cls, tokens: Iterable[str], *, min_freq: int = 1, specials: Sequence[str] = (PAD_TOKEN, UNK_TOKEN)
    ) -> Vocab:
        """The tokens seen at least ``min_freq`` times, most frequent first (ties alphabetically)."""
        if min_freq < 1:
            raise ValueError(f"min_freq: expected a positive int, got {min_freq!r}")
        counts = Counter(tokens)
        kept = sorted((t for t, n in counts.items() if n >= min_freq and t not in specials), key=lambda t: (-counts[t], t))
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

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Tokens up to (not including) the first ``<eos>``; ``<pad>`` and ``<sos>`` are skipped."""
        skipped = {self.pad_index, self.sos_index} - {None}
        out = []
        for i in ids.tolist() if isinstance(ids, torch.Tensor) else ids:
            if i == self.eos_index:
                break
            if i not in skipped:
                out.append(self.itos[i])
        return out
