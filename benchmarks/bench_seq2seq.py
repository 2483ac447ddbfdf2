"""Seq2seq on numbers -> Russian words: seven ways to feed the decoder, five seeds, one budget each.

Run from the repository root with one thread (``make bench`` does): ``python benchmarks/bench_seq2seq.py``.
Writes ``build/bench/seq2seq.json`` with flat keys ``<regime>_<measure>``.

Protocol (the same as notebook 03): splits from ``make_splits(20000, 1000, 2000, 1000, max_train_words=9,
seed=0)``; the setting notebook 03 chooses on validation (``SETTING``: GRU + attention, hidden 32, 400 batches
of 64, Adam 5e-3 decaying linearly to 10%) and its weight of the adversarial term (``ADVERSARIAL_WEIGHT``, from
the first step; sampled free-running words at temperature 1); seeds 0-4, each fixing the initial weights, the
batch order and the regime's random draws. The regimes of :func:`standard_regimes`, under these names:
``teacher_forcing`` (trained as professor forcing with weight 0, watched by a discriminator of sampled
free-running runs), ``professor_forcing_argmax_w0`` (the same model, watched by a discriminator of argmax
runs), ``free_running``, ``lecture_coin``, ``scheduled_sampling``, ``professor_forcing_argmax`` and
``professor_forcing_sampled`` (the adversarial weight, free-running words argmax / sampled).
- ``*_exact_match`` / ``*_token_accuracy``: mean over the seeds, greedy decoding, in-range test set;
- ``*_long_exact_match``: mean over the seeds on outputs of 10-15 words (training has at most 9);
- ``*_exact_match_seed_spread`` / ``*_long_exact_match_seed_spread``: max - min over the seeds;
- ``*_early_exact_match``: mean exact match after the first ``eval_every`` (100) batches;
- ``*_recovery_plausible`` / ``*_recovery_uniform``: mean over the seeds of :func:`recovery_after_error` on the
  test set (one wrong word fed at a position drawn per number: the model's own most likely wrong word, or a
  uniformly drawn one; the share of outputs right afterwards), ``*_recovery_plausible_seed_spread`` its
  max - min, ``*_clean_suffix`` the same suffixes without the wrong word;
- for the runs with a discriminator: ``*_discriminator_accuracy_step{20,50,100}`` and
  ``*_discriminator_accuracy_final`` (mean over the seeds of its accuracy over the 10 training steps that end
  there, each batch judged before the discriminator learns from it), and :func:`state_gap` on the test set
  with sampled free-running words (temperature 1): ``*_state_diverged`` (the share of positions where the two
  runs can differ) and ``*_state_distance`` (the mean distance of the hidden states there);
- ``*_train_seconds``: mean CPU seconds of one run's training steps (``time.process_time``, evaluation
  excluded, one thread).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lecture_utils.data.numerals import make_splits  # noqa: E402
from lecture_utils.models.feeding import standard_regimes  # noqa: E402
from lecture_utils.models.professor_forcing import state_gap  # noqa: E402
from lecture_utils.models.seq2seq_training import (  # noqa: E402
    ExperimentConfig,
    discriminator_accuracy,
    results_table,
    train_regime,
)
from lecture_utils.seed_stats import seed_summary  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
SETTING = ExperimentConfig(embed=16, hidden=32, steps=400)  # notebook 03, section 7
ADVERSARIAL_WEIGHT = 0.1  # notebook 03, section 8
TEMPERATURE = 1.0
NAMES = {
    "teacher_forcing_argmax_watch": "professor_forcing_argmax_w0",
    "professor_argmax": "professor_forcing_argmax",
    "professor_sampled": "professor_forcing_sampled",
}


def mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4)


def main() -> dict[str, float]:
    splits = make_splits(20_000, 1_000, 2_000, 1_000, max_train_words=9, seed=0)
    eval_sets = {"test": splits.test, "long": splits.long}
    regimes = standard_regimes(SETTING.steps, ADVERSARIAL_WEIGHT, TEMPERATURE)
    runs = [
        train_regime(regime, splits.train, eval_sets, SETTING, seed=seed, progress=False, recovery_set=splits.test)
        for regime in regimes
        for seed in SEEDS
    ]
    table = results_table(runs)
    final, early = SETTING.steps, SETTING.eval_every
    summaries = {
        "exact_match": seed_summary(table, "test_exact_match", final),
        "token_accuracy": seed_summary(table, "test_token_accuracy", final),
        "long_exact_match": seed_summary(table, "long_exact_match", final),
        "early_exact_match": seed_summary(table, "test_exact_match", early),
        "train_seconds": seed_summary(table, "train_seconds", final),
        "recovery_plausible": seed_summary(table, "recovered_plausible", final),
        "recovery_uniform": seed_summary(table, "recovered_uniform", final),
        "clean_suffix": seed_summary(table, "clean", final),
    }
    result: dict[str, float] = {}
    for regime in regimes:
        name = NAMES.get(regime.name, regime.name)
        for key, summary in summaries.items():
            result[f"{name}_{key}"] = round(summary[regime.name]["mean"], 4)
        for key in ("exact_match", "long_exact_match", "recovery_plausible"):
            result[f"{name}_{key}_seed_spread"] = round(summaries[key][regime.name]["spread"], 4)
        watched = [run for run in runs if run.regime == regime and run.discriminator_log]
        if not watched:
            continue
        for step in (20, 50, 100):
            accuracy = [discriminator_accuracy(r, step) for r in watched]
            result[f"{name}_discriminator_accuracy_step{step}"] = mean(accuracy)
        result[f"{name}_discriminator_accuracy_final"] = mean([discriminator_accuracy(r) for r in watched])
        gaps = [state_gap(r.model, splits.test, temperature=TEMPERATURE) for r in watched]
        result[f"{name}_state_diverged"] = mean([g["diverged"] for g in gaps])
        result[f"{name}_state_distance"] = mean([g["distance"] for g in gaps])
    return result


if __name__ == "__main__":
    out = ROOT / "build" / "bench" / "seq2seq.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = main()
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))
