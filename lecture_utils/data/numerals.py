"""Integers written in digits -> Russian cardinal numerals in words, a synthetic "translation" task.

Rules (0 <= n < 10**12): the number is read in groups of three digits (billions, millions, thousands,
units); a zero group is not read; 0 alone is "ноль". Each scale word agrees with its group:
тысяча (feminine: одна тысяча, две тысячи, пять тысяч), миллион / миллиард (masculine: один
миллион, два миллиона, пять миллионов); 11-14 always take the genitive plural (одиннадцать тысяч).
The full form "одна тысяча", "один миллион" is used, as when amounts are written out in documents.

Splits: :func:`make_splits` draws numbers of 1 to 12 digits (zeros are frequent, so whole groups
vanish and outputs of every length appear), keeps outputs of at most ``max_train_words`` words for
train/validation/test and puts the longer ones into a separate length-generalisation set. All four
sets are disjoint and depend only on the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lecture_utils.data.vocab import EOS_TOKEN, PAD_TOKEN, SOS_TOKEN, Vocab

MAX_NUMBER = 10**12 - 1
MAX_DIGITS = 12

_UNITS_MASC = ["", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"]
_UNITS_FEM = ["", "одна", "две", *_UNITS_MASC[3:]]
_TEENS = [
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
]
_TENS = [
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
]
_HUNDREDS = [
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
]
# (singular, paucal 2-4, genitive plural) and whether the scale word is feminine.
_SCALES = [
    (("", "", ""), False),
    (("тысяча", "тысячи", "тысяч"), True),
    (("миллион", "миллиона", "миллионов"), False),
    (("миллиард", "миллиарда", "миллиардов"), False),
]

# The specials of both vocabularies: <pad> = 0 (batches are padded with zeros), <sos> = 1, <eos> = 2.
SPECIALS = (PAD_TOKEN, SOS_TOKEN, EOS_TOKEN)


def _group_words(group: int, feminine: bool) -> list[str]:
    """Words of a number 1..999; ``feminine`` picks одна/две for the last digit."""
    hundreds, rest = divmod(group, 100)
    words = [_HUNDREDS[hundreds]] if hundreds else []
    if 10 <= rest <= 19:
        return [*words, _TEENS[rest - 10]]
    tens, units = divmod(rest, 10)
    if tens:
        words.append(_TENS[tens])
    if units:
        words.append((_UNITS_FEM if feminine else _UNITS_MASC)[units])
    return words


def _plural_form(group: int) -> int:
    """0: singular (1, 21, 101), 1: paucal (2-4, 22-24), 2: genitive plural (0, 5-20, 11-14, 25...)."""
    if 11 <= group % 100 <= 14:
        return 2
    last = group % 10
    return 0 if last == 1 else 1 if 2 <= last <= 4 else 2


def number_to_words(n: int) -> list[str]:
    """The Russian cardinal numeral for ``n`` as a list of words, e.g. 2026 -> [две, тысячи, двадцать, шесть]."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"n: expected an int in [0, {MAX_NUMBER}], got {n!r}")
    n = int(n)
    if n == 0:
        return ["ноль"]
    words: list[str] = []
    for scale in range(len(_SCALES) - 1, -1, -1):
        group = n // 1000**scale % 1000
        if group == 0:
            continue
        forms, feminine = _SCALES[scale]
        words += _group_words(group, feminine)
        if scale:
            words.append(forms[_plural_form(group)])
    return words


def target_words() -> list[str]:
    """Every word :func:`number_to_words` can produce, in a fixed order (the output vocabulary)."""
    words = ["ноль", *_UNITS_MASC[1:], *_UNITS_FEM[1:3], *_TEENS, *_TENS[2:], *_HUNDREDS[1:]]
    words += [w for forms, _ in _SCALES[1:] for w in forms]
    return words


SOURCE_VOCAB = Vocab(list("0123456789"), specials=SPECIALS)  # the ten digits
TARGET_VOCAB = Vocab(target_words(), specials=SPECIALS)  # the words of target_words()


def parse_number_text(text: str) -> str:
    """Validate user input and return its digits: spaces are allowed as separators ("2 026").

    Raises ``ValueError`` for an empty input, characters other than digits and spaces, a leading zero
    (other than "0" itself) or more than :data:`MAX_DIGITS` digits: the model was never trained on those.
    The message is in Russian: the translator widget shows it to the student.
    """
    if not isinstance(text, str):
        raise ValueError(f"text: нужна строка из цифр, получено {type(text).__name__}")
    digits = text.replace(" ", "")
    if not digits:
        raise ValueError("text: пустой ввод; нужно от 1 до 12 цифр, например '2026'")
    bad = sorted({c for c in digits if c not in "0123456789"})
    if bad:
        raise ValueError(f"text: допустимы только цифры 0-9 (и пробелы), получено {bad}")
    if len(digits) > MAX_DIGITS:
        raise ValueError(f"text: не больше {MAX_DIGITS} цифр (числа меньше 10**12), получено {len(digits)}")
    if len(digits) > 1 and digits[0] == "0":
        raise ValueError(f"text: без ведущих нулей, получено {digits!r}")
    return digits


@dataclass(frozen=True)
class Batch:
    """A padded batch: ``src`` (batch, src_len) digits, ``src_lengths`` (batch,), ``tgt`` (batch, tgt_len).

    ``tgt`` holds the words followed by ``<eos>`` and right-padded with ``<pad>`` (index 0); the decoder
    input is ``<sos>`` followed by ``tgt`` shifted right, built by the model.
    """

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt: torch.Tensor

    def __len__(self) -> int:
        return self.src.shape[0]

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.src.to(device), self.src_lengths.to(device), self.tgt.to(device))


def make_batch(numbers: list[int] | np.ndarray) -> Batch:
    """Encode numbers as a padded :class:`Batch` (digits in, words + ``<eos>`` out)."""
    numbers = [int(n) for n in numbers]
    if not numbers:
        raise ValueError("numbers: expected at least one number")
    sources = [[SOURCE_VOCAB.stoi[c] for c in str(n)] for n in numbers]
    targets = [[TARGET_VOCAB.stoi[w] for w in number_to_words(n)] + [TARGET_VOCAB.eos_index] for n in numbers]
    src = torch.zeros(len(numbers), max(map(len, sources)), dtype=torch.long)
    tgt = torch.zeros(len(numbers), max(map(len, targets)), dtype=torch.long)
    for i, (s, t) in enumerate(zip(sources, targets, strict=True)):
        src[i, : len(s)] = torch.tensor(s)
        tgt[i, : len(t)] = torch.tensor(t)
    return Batch(src, torch.tensor([len(s) for s in sources]), tgt)


def batches(numbers: np.ndarray, batch_size: int, *, seed: int) -> list[Batch]:
    """Shuffle ``numbers`` with ``seed`` and cut them into padded batches (the last may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    order = np.random.default_rng(seed).permutation(len(numbers))
    return [make_batch(numbers[order[i : i + batch_size]]) for i in range(0, len(numbers), batch_size)]


@dataclass(frozen=True)
class NumeralSplits:
    """Disjoint sets of numbers: train/val/test (outputs of at most ``max_train_words`` words) and long."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    long: np.ndarray
    max_train_words: int


def sample_numbers(count: int, rng: np.random.Generator, *, zero_prob: float = 0.35) -> np.ndarray:
    """``count`` numbers with a uniform number of digits (1-12); each non-leading digit is 0 with ``zero_prob``."""
    digits = rng.integers(1, MAX_DIGITS + 1, size=count)
    values = rng.integers(1, 10, size=(count, MAX_DIGITS))  # (count, 12)
    values[:, 1:] *= rng.random((count, MAX_DIGITS - 1)) >= zero_prob
    powers = 10 ** np.arange(MAX_DIGITS - 1, -1, -1, dtype=np.int64)  # most significant first
    out = np.empty(count, dtype=np.int64)
    for i, d in enumerate(digits):
        out[i] = values[i, :d] @ powers[-d:]
    return out


def make_splits(
    n_train: int, n_val: int, n_test: int, n_long: int, *, max_train_words: int = 9, seed: int = 0
) -> NumeralSplits:
    """Draw disjoint splits deterministically from ``seed`` (see the module docstring)."""
    if min(n_train, n_val, n_test, n_long) < 1:
        raise ValueError("n_train, n_val, n_test, n_long: expected positive ints")
    if not 1 <= max_train_words < 15:
        raise ValueError(
            f"max_train_words: expected 1..14 (outputs have at most 15 words), got {max_train_words}"
        )
    rng = np.random.default_rng(seed)
    short: dict[int, None] = {}  # insertion-ordered set
    long: dict[int, None] = {}
    n_short = n_train + n_val + n_test
    for _ in range(1000):
        for n in sample_numbers(4 * (n_short + n_long), rng).tolist():
            target = short if len(number_to_words(n)) <= max_train_words else long
            target.setdefault(n, None)
        if len(short) >= n_short and len(long) >= n_long:
            break
    else:  # pragma: no cover - only with absurd sizes
        raise ValueError("could not draw enough distinct numbers; ask for fewer")
    pool = np.array(list(short)[:n_short], dtype=np.int64)
    return NumeralSplits(
        train=pool[:n_train],
        val=pool[n_train : n_train + n_val],
        test=pool[n_train + n_val :],
        long=np.array(list(long)[:n_long], dtype=np.int64),
        max_train_words=max_train_words,
    )
