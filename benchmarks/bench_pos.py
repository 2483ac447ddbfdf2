"""Benchmark of the UPOS tagger (notebook 06) on UD English-EWT r2.16 and Russian-Taiga r2.7.

Protocol (the notebook's): per language, the splits of :func:`lecture_utils.data.ud.selection_splits`
(EWT: train / official dev / test; Taiga: train less 300 held-out sentences of the test set's collection
/ those 300 as validation / test). The BiLSTM + character-CNN tagger trains with the notebook's settings
(``TAGGER_CONFIGS``: sizes, learning rate, the epoch cap; early stopping on the validation set) and the
word handling the notebook keeps on validation (``KEPT``: EWT all words with word dropout, Taiga
``min_word_freq=2`` without word dropout), once per seed of ``SEEDS``. The lexicon of unambiguous words
(a word seen at least ``k`` times in training, always with one tag, gets that tag) is applied with the
``k`` of ``LEXICON_K`` that is best on validation (mean over the seeds), kept only if it beats the tagger
alone there. The ablation ``no_chars`` trains the same tagger without its character CNN
(``char_filters=0``, everything else as kept) on the same seeds: notebook 06 runs it on Taiga only (its CPU
budget), so EWT's is measured here. The test set is read once, after all training and choices. On the
same training split, two references:

- the most-frequent-tag baseline (:class:`lecture_utils.models.tagger.MostFrequentTag`);
- a classic non-neural peer, NLTK's averaged perceptron tagger (``nltk.tag.perceptron.PerceptronTagger``,
  its default 5 passes, features of the word, its affixes and the two previous tags), a benchmark-only
  dev dependency like reservoirpy for notebook 05.

Writes ``build/bench/pos.json`` with flat keys per language (prefix ``en_`` / ``ru_``): accuracy on all
test words, on words seen in training and on unseen (OOV) words for the tagger (``test_accuracy``,
``seen_accuracy``, ``oov_accuracy``: means over the seeds), the tagger with the lexicon
(``lexicon_test_accuracy`` ..., and ``lexicon_k``, 0 when validation keeps none), the baseline
(``baseline_*``) and the peer (``peer_*``); for the tagger with and without the lexicon the per-seed test
accuracy (``test_accuracy_seed0`` ...) and its range (``test_accuracy_seed_min`` / ``_seed_max``);
the ablation's ``no_chars_*`` keys (the same test keys, and its validation accuracy beside the tagger's:
``no_chars_validation_accuracy`` / ``validation_accuracy``, means with ``_seed_min`` / ``_seed_max``);
the epochs run and the best epoch per seed; training CPU seconds of the tagger (mean and max over seeds)
and the peer (``train_seconds``, ``train_seconds_max``, ``peer_train_seconds``); the tagger's inference
speed. Single-threaded; run from the repository root (``make bench``).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from lecture_utils import seed_everything
from lecture_utils.data.tagging import Encoders
from lecture_utils.data.ud import selection_splits
from lecture_utils.models.tagger import (
    TAGGER_CONFIGS,
    MostFrequentTag,
    accuracy,
    evaluate_tags,
    predict_tags,
    train_tagger,
    training_words,
    unambiguous_lexicon,
    with_lexicon,
)
from lecture_utils.training import best_epoch

OUT = Path("build/bench/pos.json")
SEEDS = (0, 1, 2)
LEXICON_K = (1, 2, 3, 5)
KEPT = {  # the word handling notebook 06 keeps for each language on validation: min_word_freq, overrides
    "en": (1, {}),
    "ru": (2, {"word_dropout": 0.0}),
}
ABLATION = {"no_chars_": {"char_filters": 0}}  # prefix -> what the ablated tagger changes from the kept one


def perceptron_peer(train: list, test_words: list) -> tuple[list[list[str]], float]:
    """NLTK's averaged perceptron trained on ``train``: its test tags and its training CPU seconds."""
    try:
        from nltk.tag.perceptron import PerceptronTagger
    except ImportError as error:  # a dev dependency: pip install -e ".[dev]"
        raise SystemExit(f"bench_pos needs nltk for the perceptron peer ({error}): pip install nltk") from error
    import random

    random.seed(0)  # the perceptron shuffles the training sentences with the global generator
    peer = PerceptronTagger(load=False)
    start = time.process_time()
    peer.train([list(zip(words, tags, strict=True)) for words, tags in train])
    seconds = time.process_time() - start
    return [[t for _, t in peer.tag(words)] for words in test_words], seconds


def choose_lexicon_k(train: list, validation: list, predicted: list[list[list[str]]]) -> int:
    """The ``k`` of ``LEXICON_K`` with the best mean validation accuracy over the seeds' predictions, or 0
    when no ``k`` beats the tagger alone (validation only)."""
    words = [w for w, _ in validation]

    def mean(runs: list[list[list[str]]]) -> float:
        return sum(accuracy(validation, p) for p in runs) / len(runs)

    scores = {k: mean([with_lexicon(words, p, unambiguous_lexicon(train, k)) for p in predicted]) for k in LEXICON_K}
    best = max(scores, key=scores.get)
    return best if scores[best] > mean(predicted) else 0


def train_runs(lang: str, variant: str, enc: Encoders, train: list, validation: list, overrides: dict
               ) -> list[tuple]:
    """One tagger per seed of ``SEEDS`` with the language's settings changed by ``overrides``: (model,
    history, training CPU seconds) each, early-stopped on ``validation``."""
    name = f"{lang} {variant}"
    runs = []
    for seed in SEEDS:
        start = time.process_time()
        model, history = train_tagger(enc, train, validation, replace(TAGGER_CONFIGS[lang], seed=seed, **overrides),
                                      desc=f"{name} seed {seed}", progress=False)
        runs.append((model, history, time.process_time() - start))
        curve = history.series("dev_accuracy")
        print(f"{name} seed {seed}: {len(curve)} epochs, validation accuracy per epoch "
              f"{[round(x, 4) for x in curve]}, {runs[-1][2]:.0f} s CPU", flush=True)
    return runs


def bench_language(lang: str) -> dict[str, float]:
    splits = selection_splits(lang)
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    known = training_words(train)
    test_words = [w for w, _ in test]
    min_word_freq, overrides = KEPT[lang]
    enc = Encoders.fit(train, min_word_freq=min_word_freq)
    runs = train_runs(lang, "kept", enc, train, validation, overrides)  # per seed: model, history, CPU seconds
    ablated = {prefix: train_runs(lang, prefix[:-1], enc, train, validation, {**overrides, **change})
               for prefix, change in ABLATION.items()}
    k = choose_lexicon_k(train, validation, [predict_tags(m, enc, [w for w, _ in validation]) for m, _, _ in runs])
    lexicon = unambiguous_lexicon(train, k) if k else {}
    # The test set, read once: after all training and choices.
    start = time.process_time()
    predicted = [predict_tags(m, enc, test_words) for m, _, _ in runs]
    infer_seconds = (time.process_time() - start) / len(runs)
    peer_predicted, peer_seconds = perceptron_peer(train, test_words)
    per_seed = {
        "": [evaluate_tags(test, p, known) for p in predicted],
        "lexicon_": [evaluate_tags(test, with_lexicon(test_words, p, lexicon), known) for p in predicted],
        **{prefix: [evaluate_tags(test, predict_tags(m, enc, test_words), known) for m, _, _ in ablated_runs]
           for prefix, ablated_runs in ablated.items()},
    }
    once = {
        "baseline_": evaluate_tags(test, MostFrequentTag(train).predict(test_words), known),
        "peer_": evaluate_tags(test, peer_predicted, known),
    }
    results: dict[str, float] = {}
    for prefix, reports in per_seed.items():
        for key in ("accuracy", "seen_accuracy", "oov_accuracy"):
            name = f"{prefix}test_accuracy" if key == "accuracy" else f"{prefix}{key}"
            results[name] = sum(r[key] for r in reports) / len(reports)
        values = [r["accuracy"] for r in reports]
        results[f"{prefix}test_accuracy_seed_min"] = min(values)
        results[f"{prefix}test_accuracy_seed_max"] = max(values)
        for seed, value in zip(SEEDS, values, strict=True):
            results[f"{prefix}test_accuracy_seed{seed}"] = value
    for prefix, report in once.items():
        results[f"{prefix}test_accuracy"] = report["accuracy"]
        results[f"{prefix}seen_accuracy"] = report["seen_accuracy"]
        results[f"{prefix}oov_accuracy"] = report["oov_accuracy"]
    for prefix, seed_runs in {"": runs, **ablated}.items():
        best_validation = [max(history.series("dev_accuracy")) for _, history, _ in seed_runs]
        results[f"{prefix}validation_accuracy"] = sum(best_validation) / len(best_validation)
        results[f"{prefix}validation_accuracy_seed_min"] = min(best_validation)
        results[f"{prefix}validation_accuracy_seed_max"] = max(best_validation)
    seconds = [s for _, _, s in runs]
    for seed, (_, history, _) in zip(SEEDS, runs, strict=True):
        curve = history.series("dev_accuracy")
        results[f"epochs_seed{seed}"] = float(len(curve))
        results[f"best_epoch_seed{seed}"] = float(best_epoch(curve))
        results[f"best_validation_accuracy_seed{seed}"] = max(curve)
    return {
        **results,
        "lexicon_k": float(k),
        "oov_share": once["baseline_"]["oov_share"],
        "epoch_cap": float(TAGGER_CONFIGS[lang].epochs),
        "train_seconds": sum(seconds) / len(seconds),
        "train_seconds_max": max(seconds),
        "peer_train_seconds": peer_seconds,
        "tokens_per_second_inference": sum(map(len, test_words)) / infer_seconds,
    }


def main() -> None:
    seed_everything(0, threads=1)
    results: dict[str, float] = {"torch_threads": float(torch.get_num_threads()), "seeds": float(len(SEEDS))}
    for lang in ("en", "ru"):
        for key, value in bench_language(lang).items():
            results[f"{lang}_{key}"] = round(value, 4)
        print(lang, {k: v for k, v in results.items() if k.startswith(lang)}, flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
