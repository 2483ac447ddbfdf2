"""Benchmark of the UPOS tagger (notebook 06) on UD English-EWT r2.16 and Russian-Taiga r2.7.

Trains the notebook's BiLSTM + character-CNN tagger for each language with the notebook's settings,
on one thread, and writes ``build/bench/pos.json`` with flat keys per language (``en_test_accuracy``,
``ru_oov_accuracy``, ...): test accuracy, accuracy on out-of-vocabulary words, the most-frequent-tag
baseline, training CPU seconds and inference speed. Run from the repository root (``make bench``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from lecture_utils import seed_everything
from lecture_utils.data.tagging import Encoders
from lecture_utils.data.ud import load_ud
from lecture_utils.models.tagger import (
    TAGGER_CONFIGS,
    MostFrequentTag,
    evaluate_tags,
    predict_tags,
    train_tagger,
    training_words,
)

OUT = Path("build/bench/pos.json")


def bench_language(lang: str) -> dict[str, float]:
    train, dev, test = (load_ud(lang, split) for split in ("train", "dev", "test"))
    known = training_words(train)
    test_words = [w for w, _ in test]
    baseline = evaluate_tags(test, MostFrequentTag(train).predict(test_words), known)
    enc = Encoders.fit(train)
    start = time.process_time()
    model, history = train_tagger(enc, train, dev, TAGGER_CONFIGS[lang], desc=lang, progress=False)
    train_seconds = time.process_time() - start
    start = time.process_time()
    predicted = predict_tags(model, enc, test_words)
    infer_seconds = time.process_time() - start
    report = evaluate_tags(test, predicted, known)
    return {
        "test_accuracy": report["accuracy"],
        "oov_accuracy": report["oov_accuracy"],
        "oov_share": report["oov_share"],
        "baseline_accuracy": baseline["accuracy"],
        "baseline_oov_accuracy": baseline["oov_accuracy"],
        "best_dev_accuracy": history.best("dev_accuracy", mode="max"),
        "epochs": float(len(history.evals)),
        "train_seconds": train_seconds,
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
