"""The POS tagger: vocabularies and unknown words, padding and masks, the reversal trick, training."""

from __future__ import annotations

import pytest
import torch

from lecture_utils.data import tagging
from lecture_utils.models import tagger as tg

TRAIN = [
    (["The", "dog", "ate", "the", "apple", "."], ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]),
    (["Everybody", "read", "that", "book", "."], ["PRON", "VERB", "DET", "NOUN", "PUNCT"]),
    (["The", "cat", "ate", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
]


def test_vocab_frequency_cutoff_and_unknown_words():
    vocab = tagging.Vocab.build(["b", "a", "b", "c", "a", "b"], min_freq=2)
    assert vocab.itos == [tagging.PAD, tagging.UNK, "b", "a"]  # most frequent first, "c" (once) cut off
    assert vocab.encode(["a", "c", "zebra"]).tolist() == [3, 1, 1]
    assert "c" not in vocab and len(vocab) == 4
    tags = tagging.Vocab(["NOUN", "VERB"], specials=())
    with pytest.raises(ValueError, match="unknown token 'ADJ'"):
        tags.index("ADJ")
    with pytest.raises(ValueError, match="min_freq"):
        tagging.Vocab.build(["a"], min_freq=0)


def test_encoders_lowercase_words_and_keep_case_in_characters():
    enc = tagging.Encoders.fit(TRAIN, min_word_freq=2)
    assert set(enc.words.itos) == {tagging.PAD, tagging.UNK, "the", "ate", "."}
    assert enc.tags.itos == ["DET", "NOUN", "PRON", "PUNCT", "VERB"]
    spelled = enc.spell("Everybody")
    assert spelled[0] == enc.chars.stoi[tagging.BOW] and spelled[-1] == enc.chars.stoi[tagging.EOW]
    assert spelled[1] == enc.chars.stoi["E"] != enc.chars.stoi["e"]
    assert enc.spell("Zq")[1:3] == [enc.chars.unk_index] * 2  # characters never seen in training


def test_batch_padding_mask_and_distinct_forms():
    enc = tagging.Encoders.fit(TRAIN, min_word_freq=2)
    words = [["the", "The", "zebra"], ["the"]]
    batch = enc.batch(words, [["DET", "DET", "NOUN"], ["DET"]])
    assert batch.words.shape == batch.forms.shape == batch.mask.shape == (2, 3)
    assert batch.mask.tolist() == [[True, True, True], [True, False, False]]
    assert batch.lengths.tolist() == [3, 1]
    assert batch.words[0].tolist() == [enc.words.stoi["the"], enc.words.stoi["the"], enc.words.unk_index]
    assert batch.words[1, 1:].tolist() == [0, 0]  # padding
    assert batch.chars.shape[0] == 3  # "the", "The", "zebra": each spelled once
    assert batch.forms[1, 0] == batch.forms[0, 0]
    assert batch.tags[0].tolist() == [enc.tags.stoi["DET"]] * 2 + [enc.tags.stoi["NOUN"]]
    with pytest.raises(ValueError, match="one tag per word"):
        enc.batch(words, [["DET"], ["DET"]])
    with pytest.raises(ValueError, match="non-empty"):
        enc.batch([[]])


def test_masked_accuracy_ignores_padding():
    scores = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]]])  # (1, 3, 2): predicts 0, 1, 0
    tags = torch.tensor([[0, 0, 1]])
    mask = torch.tensor([[True, True, False]])
    assert tg.masked_accuracy(scores, tags, mask) == 0.5
    assert tg.masked_accuracy(scores, tags, torch.ones(1, 3, dtype=torch.bool)) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="dtype bool"):
        tg.masked_accuracy(scores, tags, mask.long())
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        tg.masked_accuracy(scores, tags[:, :2], mask)


def test_masked_accuracy_and_loss_do_not_count_padding_the_model_gets_right():
    # predicted tags 0, 1 | 0, 0 with the second sentence's last position padded; gold there is 0, so a
    # metric that counts padding would see one more right answer, a loss one more cheap position
    scores = torch.tensor([[[3.0, 0.0], [0.0, 3.0]], [[3.0, 0.0], [3.0, 0.0]]])  # (2, 2, 2)
    tags = torch.tensor([[0, 0], [1, 0]])
    mask = torch.tensor([[True, True], [True, False]])
    assert tg.masked_accuracy(scores, tags, mask) == pytest.approx(1 / 3)
    real = torch.nn.functional.cross_entropy(scores[mask], tags[mask])
    assert torch.equal(tg.masked_cross_entropy(scores, tags, mask), real)
    everywhere = torch.nn.functional.cross_entropy(scores.flatten(0, 1), tags.flatten())
    assert not torch.allclose(tg.masked_cross_entropy(scores, tags, mask), everywhere)


def test_reverse_padded_matches_a_packed_bidirectional_lstm():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4)  # (B, T, D)
    lengths = torch.tensor([5, 2, 3])
    rev = tg.reverse_padded(x, lengths)
    assert torch.equal(rev[1, :2], x[1, [1, 0]]) and torch.equal(rev[1, 2:], x[1, 2:])
    assert torch.equal(tg.reverse_padded(rev, lengths), x)
    bi = torch.nn.LSTM(4, 6, batch_first=True, bidirectional=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    reference, _ = torch.nn.utils.rnn.pad_packed_sequence(bi(packed)[0], batch_first=True)  # (B, T, 12)
    back = torch.nn.LSTM(4, 6, batch_first=True)
    back.load_state_dict({k.replace("_reverse", ""): v for k, v in bi.state_dict().items() if "reverse" in k})
    ours = tg.reverse_padded(back(rev)[0], lengths)
    mask = torch.arange(5)[None, :] < lengths[:, None]
    assert (ours[mask] - reference[..., 6:][mask]).abs().max() < 1e-6
    with pytest.raises(ValueError, match="lengths"):
        tg.reverse_padded(x, torch.tensor([6, 1, 1]))


def test_padding_does_not_change_a_sentences_scores():
    """A sentence scored alone and next to a longer one gets the same scores at its real words."""
    enc = tagging.Encoders.fit(TRAIN)
    torch.manual_seed(0)
    model = tg.BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), hidden=8).eval()
    alone = model(enc.batch([["the", "cat"]]))  # (1, 2, n_tags)
    padded = model(enc.batch([["the", "cat"], ["The", "dog", "ate", "the", "apple"]]))  # (2, 5, n_tags)
    assert (alone[0] - padded[0, :2]).abs().max() < 1e-6


def test_training_learns_a_toy_corpus_and_keeps_the_best_epoch():
    train = TRAIN * 20
    enc = tagging.Encoders.fit(train)
    config = tg.TrainConfig(epochs=6, batch_size=8, lr=1e-2, hidden=16, patience=2, dropout=0.0)
    model, history = tg.train_tagger(enc, train, TRAIN, config, progress=False)
    dev = history.series("dev_accuracy")
    predicted = tg.predict_tags(model, enc, [w for w, _ in TRAIN])
    assert tg.accuracy(TRAIN, predicted) == max(dev) == 1.0
    assert len(history.steps) <= 6 * 8 and len(dev) == len({r["step"] for r in history.evals})


def test_early_stopping_ends_training():
    enc = tagging.Encoders.fit(TRAIN)
    config = tg.TrainConfig(epochs=30, batch_size=1, lr=0.0, final_lr_fraction=1.0, hidden=4, patience=2)
    _, history = tg.train_tagger(enc, TRAIN, TRAIN, config, progress=False)
    assert len(history.evals) == 3  # the first epoch sets the best; two more without improvement
    assert len(history.steps) == 3 * len(TRAIN)


def test_evaluation_baseline_confusion_and_errors():
    gold = [(["the", "Zebra", "runs"], ["DET", "NOUN", "VERB"])]
    predicted = [["DET", "PROPN", "NOUN"]]
    report = tg.evaluate_tags(gold, predicted, tg.training_words(TRAIN))
    assert report == {"accuracy": pytest.approx(1 / 3), "oov_accuracy": 0.0,
                      "oov_share": pytest.approx(2 / 3)}
    tags = ["DET", "NOUN", "PROPN", "VERB"]
    counts = tg.confusion_counts(gold, predicted, tags)
    assert counts.sum() == 3 and counts[1, 2] == 1 and counts[3, 1] == 1 and counts[0, 0] == 1
    errors = tg.common_errors(gold, predicted)
    assert errors == [("NOUN", "PROPN", 1, ["Zebra"]), ("VERB", "NOUN", 1, ["runs"])]
    baseline = tg.MostFrequentTag(TRAIN)
    assert baseline.default == "DET"  # DET and NOUN both 4 times: the first seen wins
    assert baseline.predict([["THE", "dog", "zebra"]]) == [["DET", "NOUN", "DET"]]
    with pytest.raises(ValueError, match="one tag per word"):
        tg.accuracy(gold, [["DET"]])


def test_tokenize_and_tag_text():
    words = ["I", "do", "n't", "like", "it", ",", "Sue", "'s", "cat", "."]
    assert tg.tokenize("I don't like it, Sue's cat.") == words
    assert tg.tokenize("Мама мыла раму.") == ["Мама", "мыла", "раму", "."]
    enc = tagging.Encoders.fit(TRAIN)
    model = tg.BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), hidden=4)
    tagged = tg.tag_text(model, enc, "The dog ate.")
    assert [w for w, _ in tagged] == ["The", "dog", "ate", "."] and all(t in enc.tags.itos for _, t in tagged)
    assert tg.tag_text(model, enc, "   ") == []
    with pytest.raises(ValueError, match="str"):
        tg.tokenize(None)


def test_tagging_widget_shows_the_tags_of_the_typed_text():
    from lecture_utils.widgets import tagged_html, text_tagger

    assert tagged_html([("a<b", "X")]).count("a&lt;b") == 1 and "<b style" in tagged_html([("a", "X")])
    assert tagged_html([]) == "<i>no words</i>"
    with pytest.raises(ValueError, match="word, tag"):
        tagged_html(["word"])
    fake = {"upper": lambda text: [(w, w.upper()) for w in text.split()],
            "len": lambda text: [(text, str(len(text)))]}
    box = text_tagger(fake, examples={"upper": "a b", "len": "abc"})
    language, text, shown = box.children
    assert "A</b>" in shown.value and "B</b>" in shown.value
    text.value = "zed"
    assert "ZED</b>" in shown.value
    language.value = "len"  # switching the language loads its example sentence
    assert text.value == "abc" and ">3</b>" in shown.value
    with pytest.raises(ValueError, match="taggers"):
        text_tagger({})


def test_char_cnn_widths_and_padding():
    cnn = tg.CharCNN(10, char_dim=4, filters=3, widths=(3, 5))
    chars = torch.tensor([[2, 5, 6, 3, 0, 0], [2, 5, 6, 3, 0, 0]])  # (U=2, L=6), the same word twice
    longer = torch.cat([chars, torch.zeros(2, 4, dtype=torch.long)], dim=1)  # more padding
    assert cnn(chars).shape == (2, 6)
    assert torch.allclose(cnn(chars), cnn(longer))  # padding never changes the vector
    with pytest.raises(ValueError, match="odd widths"):
        tg.CharCNN(10, widths=(4,))
    with pytest.raises(ValueError, match="dtype int64"):
        cnn(chars.float())
    with pytest.raises(ValueError, match=r"\(forms, characters\)"):
        cnn(chars[0])
