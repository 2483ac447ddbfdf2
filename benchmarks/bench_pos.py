"""Benchmark of the UPOS tagger (notebook 06) on UD English-EWT r2.16 and Russian-Taiga r2.7.

Protocol (the notebook's): per language, the splits of :func:`lecture_utils.data.ud.selection_splits`
(EWT: train / official dev / test; Taiga: train less 300 held-out sentences of the test set's collection
/ those 300 as validation / test). The BiLSTM + character-CNN tagger trains with the notebook's settings
(``TAGGER_CONFIGS``, chosen on validation data only) and early stopping on the validation set; the test
set is read once, after training. On the same training split, two references:

- the most-frequent-tag baseline (:class:`lecture_utils.models.tagger.MostFrequentTag`);
- a classic non-neural peer, NLTK's averaged perceptron tagger (``nltk.tag.perceptron.PerceptronTagger``,
  its default 5 passes, features of the word, its affixes and the two previous tags), a benchmark-only
  dev dependency like reservoirpy for notebook 05.

Writes ``build/bench/pos.json`` with flat keys per language (prefix ``en_`` / ``ru_``): accuracy on all
test words, on words seen in training and on unseen (OOV) words for the tagger (``test_accuracy``,
``seen_accuracy``, ``oov_accuracy``), the baseline (``baseline_*``) and the peer (``peer_*``); training
CPU seconds of the tagger and the peer (``train_seconds``, ``peer_train_seconds``); the tagger's
inference speed. Single-threaded; run from the repository root (``make bench``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from lecture_utils import seed_everything
from lecture_utils.data.tagging import Encoders
from lecture_utils.data.ud import selection_splits
from lecture_utils.models.tagger import (
    TAGGER_CONFIGS,
    MostFrequentTag,
    evaluate_tags,
    predict_tags,
    train_tagger,
    training_words,
)

OUT = Path("build/bench/pos.json")


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


def bench_language(lang: str) -> dict[str, float]:
    splits = selection_splits(lang)
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    known = training_words(train)
    test_words = [w for w, _ in test]
    enc = Encoders.fit(train)
    start = time.process_time()
    model, history = train_tagger(enc, train, validation, TAGGER_CONFIGS[lang], desc=lang, progress=False)
    train_seconds = time.process_time() - start
    start = time.process_time()
    predicted = predict_tags(model, enc, test_words)
    infer_seconds = time.process_time() - start
    peer_predicted, peer_seconds = perceptron_peer(train, test_words)
    reports = {
        "": evaluate_tags(test, predicted, known),
        "baseline_": evaluate_tags(test, MostFrequentTag(train).predict(test_words), known),
        "peer_": evaluate_tags(test, peer_predicted, known),
    }
    results = {}
    for prefix, report in reports.items():
        results[f"{prefix}test_accuracy"] = report["accuracy"]
        results[f"{prefix}seen_accuracy"] = report["seen_accuracy"]
        results[f"{prefix}oov_accuracy"] = report["oov_accuracy"]
    return {
        **results,
        "oov_share": reports[""]["oov_share"],
        "best_validation_accuracy": history.best("dev_accuracy", mode="max"),
        "epochs": float(len(history.evals)),
        "train_seconds": train_seconds,
        "peer_train_seconds": peer_seconds,
        "tokens_per_second_inference": sum(map(len, test_words)) / infer_seconds,
    }


def main() -> None:
    seed_everything(0, threads=1)
    results: dict[str, float] = {"torch_threads": float(torch.get_num_threads())}
    for lang in ("en", "ru"):
        for key, value in bench_language(lang).items():
            results[f"{lang}_{key}"] = round(value, 4)
        print(lang, {k: v for k, v in results.items() if k.startswith(lang)}, flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
