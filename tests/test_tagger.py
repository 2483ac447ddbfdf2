"""The POS tagger: encoders and unknown words, padding and masks, the packed BiLSTM, word dropout, training."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from lecture_utils.data import tagging
from lecture_utils.data.vocab import PAD_TOKEN, UNK_TOKEN
from lecture_utils.models import tagger as tg

TRAIN = [
    (["The", "dog", "ate", "the", "apple", "."], ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]),
    (["Everybody", "read", "that", "book", "."], ["PRON", "VERB", "DET", "NOUN", "PUNCT"]),
    (["The", "cat", "ate", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
]


def test_encoders_lowercase_words_and_keep_case_in_characters():
    assert len(tagging.Encoders.fit(TRAIN).words) == 2 + 10  # by default every training word is kept
    enc = tagging.Encoders.fit(TRAIN, min_word_freq=2)
    assert set(enc.words.itos) == {PAD_TOKEN, UNK_TOKEN, "the", "ate", "."}
    assert enc.tags.itos == ["DET", "NOUN", "PRON", "PUNCT", "VERB"]
    spelled = enc.spell("Everybody")
    assert spelled[0] == enc.chars.stoi[tagging.BOW_TOKEN] and spelled[-1] == enc.chars.stoi[tagging.EOW_TOKEN]
    assert spelled[1] == enc.chars.stoi["E"] != enc.chars.stoi["e"]
    assert enc.spell("Zq")[1:3] == [enc.chars.unk_index] * 2  # characters never seen in training


def test_batch_padding_mask_and_distinct_forms():
    enc = tagging.Encoders.fit(TRAIN, min_word_freq=2)
    words = [["the", "The", "zebra"], ["the"]]
    batch = enc.batch(words, [["DET", "DET", "NOUN"], ["DET"]])
    assert batch.words.shape == batch.forms.shape == batch.mask.shape == (2, 3)
    assert batch.mask.tolist() == [[True, True, True], [True, False, False]]
    assert batch.lengths.tolist() == [3, 1] and len(batch) == 2  # len: sentences, not words
    assert batch.words[0].tolist() == [enc.words.stoi["the"], enc.words.stoi["the"], enc.words.unk_index]
    assert batch.words[1, 1:].tolist() == [0, 0]  # padding
    assert batch.chars.shape[0] == 3  # "the", "The", "zebra": each spelled once
    assert batch.forms[1, 0] == batch.forms[0, 0]
    assert batch.tags[0].tolist() == [enc.tags.stoi["DET"]] * 2 + [enc.tags.stoi["NOUN"]]
    with pytest.raises(ValueError, match="one tag per word"):
        enc.batch(words, [["DET"], ["DET"]])
    with pytest.raises(ValueError, match="non-empty"):
        enc.batch([[]])


def test_masked_loss_does_not_count_padding_the_model_gets_right():
    # predicted tags 0, 1 | 0, 0 with the second sentence's last position padded; gold there is 0, so a
    # loss that counts padding would see one more cheap position (masked accuracy: the notebook's exercise)
    scores = torch.tensor([[[3.0, 0.0], [0.0, 3.0]], [[3.0, 0.0], [3.0, 0.0]]])  # (2, 2, 2)
    tags = torch.tensor([[0, 0], [1, 0]])
    mask = torch.tensor([[True, True], [True, False]])
    real = torch.nn.functional.cross_entropy(scores[mask], tags[mask])
    assert torch.equal(tg.masked_cross_entropy(scores, tags, mask), real)
    everywhere = torch.nn.functional.cross_entropy(scores.flatten(0, 1), tags.flatten())
    assert not torch.allclose(tg.masked_cross_entropy(scores, tags, mask), everywhere)


def test_forward_is_embeddings_char_cnn_packed_bilstm_linear():
    """The model's forward written out step by step; padding never reaches either LSTM direction."""
    enc = tagging.Encoders.fit(TRAIN)
    torch.manual_seed(0)
    model = tg.BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), word_dim=6, char_dim=4, char_filters=3,
                            hidden=5).eval()
    batch = enc.batch([["The", "cat", "ate", "."], ["A", "dog"]])
    x = torch.cat([model.word_embed(batch.words), model.char_cnn(batch.chars)[batch.forms]], dim=2)  # (2, 4, 12)
    # each sentence alone through a bidirectional LSTM: no padding at all
    for b, n in enumerate(batch.lengths.tolist()):
        h, _ = model.lstm(x[b : b + 1, :n])  # (1, n, 10)
        expected = model.out(h)[0]
        assert (model(batch)[b, :n] - expected).abs().max() < 1e-6
    assert model.lstm.bidirectional and model.lstm.hidden_size == 5


def test_ablations_word_only_and_spelling_only():
    enc = tagging.Encoders.fit(TRAIN)
    batch = enc.batch([["The", "cat"]])
    words_only = tg.BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), char_filters=0, hidden=4)
    spelling_only = tg.BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), word_dim=0, hidden=4)
    assert words_only.char_cnn is None and words_only.lstm.input_size == 100
    assert spelling_only.word_embed is None and spelling_only.lstm.input_size == 128
    assert words_only(batch).shape == spelling_only(batch).shape == (1, 2, len(enc.tags))
    with pytest.raises(ValueError, match="not both 0"):
        tg.BiLSTMTagger(5, 5, 5, word_dim=0, char_filters=0)


def test_word_dropout_shows_real_words_as_unk_during_training_only(monkeypatch):
    seen = []
    forward = tg.BiLSTMTagger.forward

    def recording(self, batch):
        if self.training:
            seen.append((batch.words.clone(), batch.mask.clone()))
        return forward(self, batch)

    monkeypatch.setattr(tg.BiLSTMTagger, "forward", recording)
    train = TRAIN * 40
    enc = tagging.Encoders.fit(train)
    config = tg.TrainConfig(epochs=2, batch_size=8, hidden=4, word_dropout=0.3, patience=5)
    tg.train_tagger(enc, train, TRAIN, config, progress=False)
    unk = torch.cat([(w == enc.words.unk_index)[m] for w, m in seen])
    assert 0.22 < unk.float().mean().item() < 0.38  # every training word is in the vocabulary: all <unk> are drops
    assert all((w[~m] == 0).all() for w, m in seen)  # padding stays <pad>
    with pytest.raises(ValueError, match="word_dropout"):
        tg.train_tagger(enc, train, TRAIN, tg.TrainConfig(word_dropout=1.0), progress=False)


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
    config = tg.TrainConfig(epochs=6, batch_size=8, lr=1e-2, hidden=16, patience=2, dropout=0.0, word_dropout=0.0)
    model, history = tg.train_tagger(enc, train, TRAIN, config, progress=False)
    dev = history.series("dev_accuracy")
    predicted = tg.predict_tags(model, enc, [w for w, _ in TRAIN])
    assert tg.accuracy(TRAIN, predicted) == max(dev) == 1.0
    assert len(history.steps) <= 6 * 8 and len(dev) == len({r["step"] for r in history.evals})


def test_early_stopping_ends_training_and_finishes_the_bar(record_bars):
    bars = record_bars(tg)
    enc = tagging.Encoders.fit(TRAIN)
    config = tg.TrainConfig(epochs=30, batch_size=1, lr=0.0, final_lr_fraction=1.0, hidden=4, patience=2)
    _, history = tg.train_tagger(enc, TRAIN, TRAIN, config, desc="toy")
    assert len(history.evals) == 3  # the first epoch sets the best; two more without improvement
    assert len(history.steps) == 3 * len(TRAIN)
    assert bars[0].n == bars[0].total == 9  # closed full, at the step reached, not as a failed 9/90
    assert "early stop after epoch 3" in bars[0].desc


def test_early_stopping_counts_epochs_since_the_best_and_restores_the_best_weights(monkeypatch):
    """Scripted validation scores: best at epoch 3; epoch 5 ties it (not a new best); patience 3 ends
    training after epoch 6, and the returned model has epoch 3's weights, not the last ones."""
    scripted = iter([0.5, 0.4, 0.6, 0.55, 0.6, 0.59, 0.9, 0.95])
    weights = []  # the model's weights at each evaluation
    predict = tg.predict_tags

    def recording_predict(model, enc, sentences, batch_size=256):
        weights.append(copy.deepcopy(model.state_dict()))
        return predict(model, enc, sentences, batch_size)

    monkeypatch.setattr(tg, "predict_tags", recording_predict)
    monkeypatch.setattr(tg, "accuracy", lambda gold, predicted: next(scripted))
    enc = tagging.Encoders.fit(TRAIN)
    config = tg.TrainConfig(epochs=10, batch_size=1, lr=0.05, hidden=4, patience=3)
    model, history = tg.train_tagger(enc, TRAIN, TRAIN, config, progress=False)
    assert history.series("dev_accuracy") == [0.5, 0.4, 0.6, 0.55, 0.6, 0.59]
    restored, best, last = model.state_dict(), weights[2], weights[-1]
    assert all(torch.equal(restored[k], best[k]) for k in best)
    assert any(not torch.equal(best[k], last[k]) for k in best)  # training moved on after the best epoch


def test_learning_rate_starts_at_lr_and_falls_linearly_to_its_final_fraction_at_the_cap(monkeypatch):
    rates = []

    class RecordingAdam(torch.optim.Adam):
        def step(self, closure=None):
            rates.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    enc = tagging.Encoders.fit(TRAIN)
    config = tg.TrainConfig(epochs=4, batch_size=1, lr=0.02, final_lr_fraction=0.25, hidden=4, patience=10)
    tg.train_tagger(enc, TRAIN, TRAIN, config, progress=False)
    total = 4 * len(TRAIN)
    assert rates == pytest.approx([0.02 * (1 - 0.75 * step / total) for step in range(total)])


def test_batches_follow_the_seed_and_word_dropout_does_not_depend_on_the_models_dropout(monkeypatch):
    """The batches of seed s are EpochBatches(seed=s)'s; the words dropped are the same whether the model's
    own dropout is on or off (word dropout draws from its own generator, so an ablation of the model's
    dropout changes one thing)."""
    seen = []
    forward = tg.BiLSTMTagger.forward

    def recording(self, batch):
        if self.training:
            seen.append(batch.words.clone())
        return forward(self, batch)

    monkeypatch.setattr(tg.BiLSTMTagger, "forward", recording)
    train = TRAIN * 6
    enc = tagging.Encoders.fit(train)
    config = tg.TrainConfig(epochs=2, batch_size=4, hidden=4, word_dropout=0.0, dropout=0.0, patience=5, seed=3)
    tg.train_tagger(enc, train, TRAIN, config, progress=False)
    batches = tagging.EpochBatches(enc, train, 4, seed=3)
    expected = [b.words for _ in range(2) for b in batches]  # two epochs: new batches each time
    assert len(seen) == len(expected) and all(torch.equal(a, b) for a, b in zip(seen, expected, strict=True))
    dropped = {}
    for dropout in (0.0, 0.5):
        seen.clear()
        tg.train_tagger(enc, train, TRAIN, tg.TrainConfig(epochs=2, batch_size=4, hidden=4, word_dropout=0.3,
                                                          dropout=dropout, patience=5, seed=3), progress=False)
        dropped[dropout] = [w == enc.words.unk_index for w in seen]
    assert any(d.any() for d in dropped[0.0])
    assert all(torch.equal(a, b) for a, b in zip(dropped[0.0], dropped[0.5], strict=True))


def test_evaluation_baseline_confusion_and_errors():
    gold = [(["the", "Zebra", "runs"], ["DET", "NOUN", "VERB"])]
    predicted = [["DET", "PROPN", "NOUN"]]
    report = tg.evaluate_tags(gold, predicted, tg.training_words(TRAIN))
    assert report == {"accuracy": pytest.approx(1 / 3), "seen_accuracy": 1.0, "oov_accuracy": 0.0,
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
    shown = tg.tag_text_top(model, enc, "The zebra", k=2)
    assert shown[0][0] == "The" and shown[1][0] == "zebra <unk>"  # unknown words are marked
    tags = [part.split() for part in shown[1][1].split(" · ")]
    assert len(tags) == 2 and all(t in enc.tags.itos for t, _ in tags)
    assert float(tags[0][1]) >= float(tags[1][1])
    probs = tg.top_tags(model, enc, ["The", "zebra"], k=len(enc.tags))
    assert all(abs(sum(p for _, p in word) - 1) < 1e-5 for word in probs)
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


# ---- contracts the mutation run (make mutate) found untested ---------------------------------------------------


def test_baseline_takes_the_majority_tag_of_the_exact_form_then_the_lower_case_then_the_overall_one():
    train = [
        (["the", "run"], ["DET", "NOUN"]),
        (["we", "run"], ["PRON", "VERB"]),
        (["they", "run"], ["PRON", "VERB"]),
        (["Apple", "sells", "runs"], ["PROPN", "VERB", "VERB"]),
        (["an", "apple", "apple"], ["DET", "NOUN", "NOUN"]),
    ]
    baseline = tg.MostFrequentTag(train)
    # run: VERB 2 : NOUN 1; Apple exactly: PROPN; APPLE via lower case: NOUN 2 : PROPN 1; unseen: VERB (4 of 13)
    assert baseline.predict([["run", "Apple", "APPLE", "zebra"]]) == [["VERB", "PROPN", "NOUN", "VERB"]]
    with pytest.raises(ValueError):
        tg.MostFrequentTag([(["a", "b"], ["X"])])  # one tag short


def test_evaluate_tags_splits_seen_and_unseen_words_and_gives_nan_for_an_empty_part():
    gold = [(["a", "b", "c", "d"], ["X", "X", "Y", "Y"])]
    scores = tg.evaluate_tags(gold, [["X", "Y", "Y", "Y"]], known={"a", "b", "c"})
    assert scores == {"accuracy": 0.75, "seen_accuracy": 2 / 3, "oov_accuracy": 1.0, "oov_share": 0.25}
    all_seen = tg.evaluate_tags(gold, [["X", "X", "Y", "X"]], known={"a", "b", "c", "d"})
    assert all_seen["seen_accuracy"] == 0.75 and all_seen["oov_accuracy"] != all_seen["oov_accuracy"]  # NaN
    none_seen = tg.evaluate_tags(gold, [["X", "X", "Y", "X"]], known=set())
    assert none_seen["oov_accuracy"] == 0.75 and none_seen["seen_accuracy"] != none_seen["seen_accuracy"]


def test_confusion_counts_and_common_errors_count_repeats_and_rank_by_count():
    gold = [(["a", "b", "c", "d", "e", "f"], ["N", "N", "N", "V", "V", "A"])]
    predicted = [["V", "V", "N", "N", "A", "V"]]
    counts = tg.confusion_counts(gold, predicted, ["A", "N", "V"])
    assert counts.dtype == torch.long
    assert counts.tolist() == [[0, 0, 1], [0, 1, 2], [1, 1, 0]]  # row gold, column predicted
    errors = tg.common_errors(gold, predicted)
    assert errors[0] == ("N", "V", 2, ["a", "b"])  # the most frequent confusion first
    assert [e[:3] for e in errors[1:]] == [("A", "V", 1), ("V", "A", 1), ("V", "N", 1)]  # ties by (gold, predicted)
    many = [([f"w{i}" for i in range(10)], [f"T{i}" for i in range(10)])]
    wrong = [[f"T{(i + 1) % 10}" for i in range(10)]]
    assert len(tg.common_errors(many, wrong)) == 8  # top 8 by default
    same = [([f"w{i}" for i in range(6)] * 2, ["N"] * 12)]
    (only,) = tg.common_errors(same, [["V"] * 12])
    assert only[2] == 12 and only[3] == ["w0", "w1", "w2", "w3"]  # 4 examples by default, most frequent first


def test_train_config_builds_the_model_it_describes():
    enc = tagging.Encoders.fit(TRAIN)
    config = tg.TrainConfig(word_dim=5, char_filters=3, hidden=7, dropout=0.25)
    model = config.model(enc)
    assert model.word_embed.embedding_dim == 5 and model.lstm.hidden_size == 7 and model.dropout.p == 0.25
    assert all(conv.out_channels == 3 for conv in model.char_cnn.convs)


def test_length_batches_group_similar_lengths_and_draw_only_from_their_generator():
    """Sorted by length plus noise in [0, 2): of two batches, one holds only sentences shorter than every
    sentence of the other plus 2; equal lengths are shuffled anew each epoch; the global RNG is not used."""
    lengths = torch.randint(1, 40, (2000,), generator=torch.Generator().manual_seed(0)).tolist()
    generator = torch.Generator().manual_seed(5)
    batches = tagging.length_batches(lengths, 16, generator)
    assert sorted(i for b in batches for i in b) == list(range(2000))
    spans = [(min(lengths[i] for i in b), max(lengths[i] for i in b)) for b in batches]
    assert all(hi_x < lo_y + 2 or hi_y < lo_x + 2
               for x, (lo_x, hi_x) in enumerate(spans) for lo_y, hi_y in spans[x + 1:])
    same = [5] * 64  # equal lengths: which sentences share a batch changes from epoch to epoch
    assert ({frozenset(b) for b in tagging.length_batches(same, 8, generator)}
            != {frozenset(b) for b in tagging.length_batches(same, 8, generator)})
    torch.manual_seed(0)
    first = tagging.length_batches(lengths, 16, torch.Generator().manual_seed(5))
    torch.manual_seed(1)
    assert tagging.length_batches(lengths, 16, torch.Generator().manual_seed(5)) == first == batches


def test_a_gold_tag_never_seen_in_training_becomes_tag_0_and_stays_a_real_word():
    enc = tagging.Encoders.fit(TRAIN)
    batch = enc.batch([["the", "dog"]], [["DET", "SYM"]])  # SYM is not a training tag
    assert batch.tags.tolist() == [[enc.tags.stoi["DET"], 0]] and batch.mask.tolist() == [[True, True]]


def test_lexicon_keeps_words_always_seen_with_one_tag_at_least_k_times_and_overrides_only_them():
    train = [(["The", "run", "the"], ["DET", "NOUN", "DET"]), (["the", "Dog", "run"], ["DET", "NOUN", "VERB"])]
    assert tg.unambiguous_lexicon(train, 1) == {"the": "DET", "dog": "NOUN"}  # "run" has two tags
    assert tg.unambiguous_lexicon(train, 3) == {"the": "DET"}
    assert tg.unambiguous_lexicon(train, 4) == {}
    predicted = tg.with_lexicon([["THE", "run", "cat"]], [["X", "Y", "Z"]], tg.unambiguous_lexicon(train, 1))
    assert predicted == [["DET", "Y", "Z"]]
    with pytest.raises(ValueError, match="k"):
        tg.unambiguous_lexicon(train, 0)
    with pytest.raises(ValueError):  # misaligned: a tag short
        tg.unambiguous_lexicon([(["the", "dog"], ["DET"])], 1)
    for sentences, tags in (([["the", "dog"]], [["X"]]), ([["the"], ["dog"]], [["X"]])):
        with pytest.raises(ValueError):  # predictions that do not line up with the words
            tg.with_lexicon(sentences, tags, {})


def test_the_padding_word_has_a_zero_embedding_that_training_never_moves():
    enc = tagging.Encoders.fit(TRAIN)
    torch.manual_seed(0)
    model = tg.BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), word_dim=8, char_filters=4, hidden=8)
    batch = enc.batch([["The", "dog", "ate", "the", "apple", "."], ["The", "cat"]])
    tg.masked_cross_entropy(model(batch), batch.tags, batch.mask).backward()
    assert (model.word_embed.weight[enc.words.pad_index] == 0).all()
    assert (model.word_embed.weight.grad[enc.words.pad_index] == 0).all()


def test_smallest_valid_sizes_and_each_invalid_one():
    assert tg.CharCNN(5, char_dim=2, filters=1, widths=(1,))(torch.tensor([[2, 3, 0]])).shape == (1, 1)
    for bad in ({"filters": 0}, {"widths": ()}, {"widths": (-1,)}):
        with pytest.raises(ValueError, match="filters, widths"):
            tg.CharCNN(5, **bad)
    for bad in ({"char_filters": -1}, {"word_dim": -1}, {"word_dim": 0, "char_filters": 0}):
        with pytest.raises(ValueError, match="word_dim, char_filters"):
            tg.BiLSTMTagger(5, 5, 5, **bad)


def test_the_loss_refuses_a_mask_that_is_not_boolean():
    """An integer mask would index positions 0 and 1 instead of selecting the real words."""
    scores, tags = torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert tg.masked_cross_entropy(scores, tags, mask).item() == pytest.approx(math.log(4))
    with pytest.raises(ValueError, match="bool"):
        tg.masked_cross_entropy(scores, tags, mask.long())


def test_the_widget_shows_two_tags_per_word_by_default():
    enc = tagging.Encoders.fit(TRAIN)
    torch.manual_seed(0)
    model = tg.BiLSTMTagger(len(enc.words), len(enc.chars), len(enc.tags), word_dim=8, char_filters=4, hidden=8)
    shown = tg.tag_text_top(model, enc, "The zebra ate")
    assert [w for w, _ in shown] == ["The", "zebra <unk>", "ate"]
    assert all(text.count("·") == 1 for _, text in shown)
