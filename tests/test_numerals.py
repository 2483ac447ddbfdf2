"""The Russian numeral generator: hand-checked cases, agreement, splits, batching and input validation."""

import numpy as np
import pytest
import torch

from lecture_utils.data.numerals import (
    MAX_NUMBER,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    batches,
    make_batch,
    make_splits,
    number_to_words,
    parse_number_text,
    sample_numbers,
    target_words,
)

KNOWN = {
    0: "ноль",
    1: "один",
    2: "два",
    10: "десять",
    11: "одиннадцать",
    14: "четырнадцать",
    19: "девятнадцать",
    20: "двадцать",
    21: "двадцать один",
    40: "сорок",
    90: "девяносто",
    100: "сто",
    101: "сто один",
    112: "сто двенадцать",
    200: "двести",
    345: "триста сорок пять",
    999: "девятьсот девяносто девять",
    1_000: "одна тысяча",
    1_001: "одна тысяча один",
    2_000: "две тысячи",
    2_026: "две тысячи двадцать шесть",
    4_000: "четыре тысячи",
    5_000: "пять тысяч",
    11_000: "одиннадцать тысяч",
    12_000: "двенадцать тысяч",
    21_000: "двадцать одна тысяча",
    22_000: "двадцать две тысячи",
    25_000: "двадцать пять тысяч",
    111_000: "сто одиннадцать тысяч",
    101_000: "сто одна тысяча",
    1_000_000: "один миллион",
    2_000_000: "два миллиона",
    5_000_000: "пять миллионов",
    11_000_000: "одиннадцать миллионов",
    21_000_000: "двадцать один миллион",
    23_000_000: "двадцать три миллиона",
    1_000_000_000: "один миллиард",
    3_000_000_000: "три миллиарда",
    12_000_000_000: "двенадцать миллиардов",
    1_001_001_001: "один миллиард один миллион одна тысяча один",
    2_002_002_002: "два миллиарда два миллиона две тысячи два",
    1_000_000_001: "один миллиард один",
    MAX_NUMBER: "девятьсот девяносто девять миллиардов девятьсот девяносто девять миллионов "
    "девятьсот девяносто девять тысяч девятьсот девяносто девять",
}


TEENS = {11: "одиннадцать", 12: "двенадцать", 13: "тринадцать", 14: "четырнадцать"}
SCALES = {1_000: "тысяч", 1_000_000: "миллионов", 1_000_000_000: "миллиардов"}


@pytest.mark.parametrize("teen", TEENS)
@pytest.mark.parametrize("scale", SCALES)
def test_eleven_to_fourteen_take_the_genitive_plural_before_every_scale_word(teen, scale):
    for hundreds in (0, 100, 300):  # 13 000, 113 000, 313 000 alike
        prefix = {0: [], 100: ["сто"], 300: ["триста"]}[hundreds]
        assert number_to_words((hundreds + teen) * scale) == [*prefix, TEENS[teen], SCALES[scale]]


@pytest.mark.parametrize(("n", "words"), KNOWN.items())
def test_known_cases(n, words):
    assert " ".join(number_to_words(n)) == words


def test_the_vocabulary_is_exactly_the_words_that_occur_once_each():
    scaled = [m * 1000**s for s in (1, 2, 3) for m in (1, 2, 5)]  # each scale word in its three forms
    produced = {w for n in [*range(1000), *scaled] for w in number_to_words(n)}
    assert sorted(target_words()) == sorted(produced)  # no word missing, none extra, none twice


def test_every_word_is_in_the_vocabulary():
    rng = np.random.default_rng(0)
    vocab = set(target_words())
    for n in rng.integers(0, MAX_NUMBER, size=2000).tolist():
        assert set(number_to_words(n)) <= vocab


@pytest.mark.parametrize("bad", [-1, MAX_NUMBER + 1, 1.5, "12", True])
def test_number_to_words_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="expected an int"):
        number_to_words(bad)


def test_splits_are_deterministic_and_disjoint():
    a = make_splits(500, 50, 100, 80, max_train_words=9, seed=3)
    b = make_splits(500, 50, 100, 80, max_train_words=9, seed=3)
    c = make_splits(500, 50, 100, 80, max_train_words=9, seed=4)
    for name in ("train", "val", "test", "long"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.train, c.train)
    parts = [set(a.train.tolist()), set(a.val.tolist()), set(a.test.tolist()), set(a.long.tolist())]
    assert [len(p) for p in parts] == [500, 50, 100, 80]
    assert len(set().union(*parts)) == sum(map(len, parts))
    assert max(len(number_to_words(int(n))) for n in a.train) <= 9
    assert min(len(number_to_words(int(n))) for n in a.long) >= 10


def test_make_splits_rejects_bad_sizes():
    with pytest.raises(ValueError, match="positive"):
        make_splits(0, 1, 1, 1)
    with pytest.raises(ValueError, match="max_train_words"):
        make_splits(1, 1, 1, 1, max_train_words=15)


def test_batch_padding_and_eos():
    batch = make_batch([7, 2_026])
    assert batch.src.shape == (2, 4) and batch.src_lengths.tolist() == [1, 4]
    assert batch.src[0, 1:].tolist() == [SOURCE_VOCAB.pad_index] * 3
    assert TARGET_VOCAB.decode(batch.tgt[1]) == ["две", "тысячи", "двадцать", "шесть"]
    assert batch.tgt[0].tolist()[:2] == [TARGET_VOCAB.stoi["семь"], TARGET_VOCAB.eos_index]
    assert batch.tgt[0, 2:].eq(TARGET_VOCAB.pad_index).all()
    assert isinstance(batch.tgt, torch.Tensor) and batch.tgt.dtype == torch.long


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "пустой ввод"), ("   ", "пустой ввод"), ("12a", "только цифры"), ("1X2", "только цифры"),
     ("0012", "ведущих нулей"), ("01", "ведущих нулей"),
     ("1" * 13, "не больше 12"), (12, "нужна строка")],
)
def test_parse_number_text_rejects_bad_input(text, message):
    with pytest.raises(ValueError, match=message):
        parse_number_text(text)


def test_parse_number_text_accepts_spaces_and_zero():
    assert parse_number_text("2 026") == "2026"
    assert parse_number_text("0") == "0"
    assert parse_number_text("9" * 12) == "9" * 12  # the largest number the model knows: 12 digits


def test_sample_numbers_draw_every_length_every_leading_digit_and_zeros_at_their_rate():
    numbers = sample_numbers(24_000, np.random.default_rng(0), zero_prob=0.35)
    texts = [str(n) for n in numbers.tolist()]
    lengths = np.bincount([len(t) for t in texts], minlength=13)[1:]  # count per number of digits, 1..12
    assert len(lengths) == 12 and lengths.min() > 0.85 * 2000 and lengths.max() < 1.15 * 2000
    assert {t[0] for t in texts} == set("123456789")
    rest = "".join(t[1:] for t in texts)
    assert rest.count("0") / len(rest) == pytest.approx(0.35, abs=0.01)
    nonzero = [rest.count(d) / len(rest) for d in "123456789"]  # the other 65 %, spread evenly over 1-9
    assert min(nonzero) > 0.06 and max(nonzero) < 0.085


def test_batches_cover_every_number_once_in_batches_of_the_given_size():
    numbers = np.arange(1, 12)
    cut = batches(numbers, 4, seed=0)
    assert [len(b) for b in cut] == [4, 4, 3]
    seen = sorted(int(parse_number_text("".join(SOURCE_VOCAB.itos[i] for i in row[:length].tolist())))
                  for b in cut for row, length in zip(b.src, b.src_lengths, strict=True))
    assert seen == list(range(1, 12))
    assert [len(b) for b in batches(numbers, 1, seed=0)] == [1] * 11


@pytest.mark.parametrize("sizes", [(0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)])
def test_every_split_must_be_non_empty(sizes):
    with pytest.raises(ValueError, match="positive"):
        make_splits(*sizes)


def test_splits_keep_drawing_until_the_rare_short_numbers_suffice():
    """One-word outputs are rare among drawn numbers: the splits keep drawing until there are enough."""
    s = make_splits(5, 3, 3, 2, max_train_words=1, seed=0)
    assert [len(s.train), len(s.val), len(s.test), len(s.long)] == [5, 3, 3, 2] and s.max_train_words == 1
    assert all(len(number_to_words(int(n))) == 1 for n in [*s.train, *s.val, *s.test])
