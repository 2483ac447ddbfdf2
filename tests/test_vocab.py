"""The one vocabulary of numerals and tagging: specials first, unknown tokens, decoding, the id names."""

from __future__ import annotations

import pytest
import torch

from lecture_utils.data import numerals, tagging
from lecture_utils.data.vocab import EOS_TOKEN, PAD_TOKEN, SOS_TOKEN, UNK_TOKEN, Vocab
from lecture_utils.models import seq2seq


def test_frequency_cutoff_and_unknown_words():
    vocab = Vocab.build(["b", "a", "b", "c", "a", "b", "a", "d", "d"], min_freq=2)
    assert vocab.itos == [PAD_TOKEN, UNK_TOKEN, "a", "b", "d"]  # most frequent first, ties alphabetically; "c" cut
    assert vocab.encode(["a", "c", "zebra"]).tolist() == [2, 1, 1]
    assert "c" not in vocab and "d" in vocab and len(vocab) == 5
    assert vocab.encode([]).dtype == torch.long  # an empty sentence still gives indices, not floats
    assert (vocab.pad_index, vocab.unk_index, vocab.sos_index, vocab.eos_index) == (0, 1, None, None)
    assert Vocab.build(["a", "b", "a"]).itos == [PAD_TOKEN, UNK_TOKEN, "a", "b"]  # min_freq=1 keeps every token
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(["a"], min_freq=0)


def test_without_unk_an_unknown_token_is_an_error_and_index_0_is_a_real_token():
    tags = Vocab(["NOUN", "VERB"], specials=())
    assert tags.index("NOUN") == 0 and tags.pad_index is None and tags.unk_index is None
    with pytest.raises(ValueError, match="unknown token 'ADJ'"):
        tags.index("ADJ")


@pytest.mark.parametrize("tokens, specials", [(["a", "a"], ()), (["a", PAD_TOKEN], (PAD_TOKEN,)), ([], ("x", "x"))])
def test_duplicates_and_specials_among_the_tokens_are_refused(tokens, specials):
    with pytest.raises(ValueError, match="distinct tokens"):
        Vocab(tokens, specials=specials)


def test_decode_stops_at_eos_and_skips_pad_and_sos():
    vocab = Vocab(["x", "y"], specials=(PAD_TOKEN, SOS_TOKEN, EOS_TOKEN))
    x, y = vocab.index("x"), vocab.index("y")
    assert vocab.decode([vocab.sos_index, x, vocab.pad_index, y, vocab.eos_index, x]) == ["x", "y"]
    assert vocab.decode(torch.tensor([y, x])) == ["y", "x"]  # no <eos>: everything
    assert vocab.decode(torch.tensor([vocab.sos_index, x, vocab.pad_index, vocab.eos_index, y])) == ["x"]
    tags = Vocab(["NOUN", "VERB"], specials=())
    assert tags.decode([0, 1, 0]) == ["NOUN", "VERB", "NOUN"]  # no specials: id 0 is a real tag


def test_one_class_and_one_naming_scheme_across_the_tasks():
    assert isinstance(numerals.TARGET_VOCAB, Vocab) and isinstance(tagging.Encoders.fit([(["a"], ["X"])]).words, Vocab)
    target = numerals.TARGET_VOCAB
    assert target.itos[:3] == [PAD_TOKEN, SOS_TOKEN, EOS_TOKEN] and target.unk_index is None
    ids = (target.pad_index, target.sos_index, target.eos_index)
    assert (seq2seq.PAD, seq2seq.SOS, seq2seq.EOS) == ids == (0, 1, 2)
    enc = tagging.Encoders.fit([(["a"], ["X"])])
    assert enc.words.pad_index == enc.chars.pad_index == 0  # batches are padded with zeros
