"""How long a dependency each recurrent cell learns on the adding problem within a fixed budget, over seeds.

Run from the repository root with one thread (``make bench`` does):
``python benchmarks/bench_long_memory.py``.
Writes ``build/bench/long_memory.json``.

Protocol: for each cell (``rnn``, ``lstm``, ``gru``; one layer of 32 units, LSTM forget bias 1), train
:func:`lecture_utils.models.long_memory.train_adding` for ``STEPS`` Adam steps (batch 64, lr 1e-2,
clipping at norm 1) from each of the ``SEEDS`` (a seed sets the initial weights and the data) at the
lags 10, 20, 40, 80, 160, 320. A run *solves* a lag when its test MSE on 1,000 fresh sequences is below
10% of the chance level 1/6. The sweep of a cell doubles the lag until the median seed fails (or
``MAX_LAG``). Recorded, as flat keys:

- ``<cell>_largest_lag_all_seeds``: the longest lag solved by every seed, with every shorter lag also
  solved by every seed (0 if none);
- ``<cell>_largest_lag_median``: the same for the median seed (at least half of the seeds solve it);
- ``<cell>_seconds_total``: CPU seconds (``time.process_time``) of all of the cell's runs;
- ``<cell>_runs``: every run's lag, seed, test MSE and CPU seconds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lecture_utils import seed_everything  # noqa: E402
from lecture_utils.data.long_memory import ADDING_CHANCE_MSE  # noqa: E402
from lecture_utils.models.long_memory import train_adding  # noqa: E402

STEPS = int(os.environ.get("BENCH_LONG_MEMORY_STEPS", "800"))
SEEDS = (0, 1, 2)
FIRST_LAG, MAX_LAG = 10, 320
CELLS = ("rnn", "lstm", "gru")


def sweep(cell: str) -> dict:
    """Double the lag until the median seed fails; the largest lag solved by all seeds and by the median."""
    lag, all_seeds, median, rows = FIRST_LAG, 0, 0, []
    all_so_far = True
    while lag <= MAX_LAG:
        solved = 0
        for seed in SEEDS:
            result = train_adding(cell, lag, steps=STEPS, seed=seed, progress=False)
            solved += result.solved
            rows.append({"lag": lag, "seed": seed, "test_mse": round(result.test_mse, 5), "solved": result.solved,
                         "seconds": round(result.seconds, 2)})
            print(f"{cell:>5} T={lag:<4} seed {seed}: test MSE {result.test_mse:.4f} "
                  f"({result.test_mse / ADDING_CHANCE_MSE:.3f} of chance) "
                  f"{'solved' if result.solved else 'not solved'} in {result.seconds:.1f} CPU s", flush=True)
        all_so_far = all_so_far and solved == len(SEEDS)
        if all_so_far:
            all_seeds = lag
        if 2 * solved < len(SEEDS):  # the median seed fails: longer lags are not tried
            break
        median = lag
        lag *= 2
    return {f"{cell}_largest_lag_all_seeds": all_seeds, f"{cell}_largest_lag_median": median,
            f"{cell}_seconds_total": round(sum(r["seconds"] for r in rows), 2), f"{cell}_runs": rows}


def main() -> None:
    seed_everything(0, threads=1)
    results = {"steps": STEPS, "batch": 64, "hidden": 32, "seeds": list(SEEDS), "max_lag": MAX_LAG,
               "solved_means": "test MSE < 0.1 * 1/6"}
    for cell in CELLS:
        results.update(sweep(cell))
    out = ROOT / "build" / "bench" / "long_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    summary = {k: v for k, v in results.items() if "largest_lag" in k}
    print("largest lag solved:", summary, f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
